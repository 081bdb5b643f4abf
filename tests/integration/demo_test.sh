#!/usr/bin/env bash
# `./ctl.sh demo` (the main job) on its own address range: starts N nodes, waits until they form a
# cluster, prints the members table and the URLs, and stops every node on exit: after --for, and
# also when it is interrupted. The cluster is keyed by default (issue 20): the first demo generates
# SPORE_CLUSTER_KEY into .env (0600, never printed) and later ones reuse it; a datagram without a
# tag is refused; the CLI commands the demo prints work against it; --open is open mode.
source "$(dirname "$0")/lib.sh"
it_init 109

base="$IT_NET.2"
dir="$IT_TMP/demo"
out="$IT_TMP/demo.out"
# The .env the demo reads and writes: never the repository's (dotenv_file, tools/ctl/dotenv.sh).
export SPORE_ENV_FILE="$IT_TMP/env"
unset SPORE_CLUSTER_KEY
printf 'API_NODE=%s\n' "$base" >"$SPORE_ENV_FILE"
chmod 644 "$SPORE_ENV_FILE"
demo=("$IT_ROOT/ctl.sh" demo --nodes 3 --profile fast --for 2 --base-ip "$base" --http-port "$IT_HTTP_PORT"
  --udp-port "$IT_UDP_PORT" --dir "$dir")
"${demo[@]}" >"$out" 2>&1 || { cat "$out" >&2; it_fail "ctl.sh demo failed"; }
cat "$out" >&2

grep -q "cluster formed: demo-1 sees all 3 nodes ACTIVE" "$out" || it_fail "no 'cluster formed' line"
grep -q "web dashboard: http://127\." "$out" || it_fail "no web dashboard URL in the demo output"
for k in 1 2 3; do
  grep -q "^demo-$k.*ACTIVE" "$out" || grep -q "^demo-$k\*.*ACTIVE" "$out" || it_fail "table lacks demo-$k ACTIVE"
  grep -q "http://$IT_NET.$((k + 1)):$IT_HTTP_PORT/api/cluster/members" "$out" || it_fail "no URL for demo-$k"
  [ -f "$dir/node-$k.log" ] || it_fail "no log for node $k"
done
grep -q "3 members: 3 active" "$out" || it_fail "table summary missing"
grep -q "all 3 node(s) stopped" "$out" || it_fail "the demo did not report stopping its nodes"
for k in 1 2 3; do
  ! curl -s -o /dev/null --max-time 1 "http://$IT_NET.$((k + 1)):$IT_HTTP_PORT/api/node/status" ||
    it_fail "node $k still answers after the demo ended"
done
[ ! -f "$dir/pids" ] || it_fail "pids file left behind"

# ---- keyed by default: a key generated into .env, 0600, kept; never printed in full
key="$(sed -n 's/^SPORE_CLUSTER_KEY=//p' "$SPORE_ENV_FILE")"
[[ "$key" =~ ^[0-9a-f]{64}$ ]] || it_fail "no generated SPORE_CLUSTER_KEY in .env: $(cat "$SPORE_ENV_FILE")"
[ "$(stat -c %a "$SPORE_ENV_FILE")" = 600 ] || it_fail ".env is mode $(stat -c %a "$SPORE_ENV_FILE") after the key went in, expected 600"
grep -q "^API_NODE=$base$" "$SPORE_ENV_FILE" || it_fail "the .env lost its other settings: $(cat "$SPORE_ENV_FILE")"
! grep -qF "$key" "$out" || it_fail "the demo printed the cluster key"
grep -qF "generated into $SPORE_ENV_FILE" "$out" || it_fail "the demo did not say where the new key went"
grep -q '^cluster: *keyed' "$out" || it_fail "the demo did not say the cluster is keyed"
grep -q "discover --udp-port $IT_UDP_PORT --cluster-key-file " "$out" || it_fail "the printed discover command lacks the key file"

# Interrupted (SIGINT to the demo, as Ctrl-C would): still stops every node. Deliberately on the
# same addresses right after the first run: starting the demo again at once must work.
# Job control on: a background job of a script would otherwise start with SIGINT ignored.
set -m
"$IT_ROOT/ctl.sh" demo --nodes 2 --profile fast --base-ip "$base" --http-port "$IT_HTTP_PORT" \
  --udp-port "$IT_UDP_PORT" --dir "$dir" >"$out" 2>&1 &
demo_pid=$!
set +m
IT_EXTRA_PIDS+=("$demo_pid")
wait_until "the interactive demo runs" 60 grep -q "press Ctrl-C" "$out"
pids="$(cat "$dir/pids")"
[ "$(sed -n 's/^SPORE_CLUSTER_KEY=//p' "$SPORE_ENV_FILE")" = "$key" ] || it_fail "the second demo did not reuse the key"
grep -q "cluster key: ${key:0:4}\.\.\. (32 bytes) from $SPORE_ENV_FILE" "$out" || it_fail "no 'key from .env' line: $(cat "$out")"
url1="http://$base:$IT_HTTP_PORT"
[ "$(curl -sf "$url1/api/node/status" | jq -r .clusterAuth)" = keyed ] || it_fail "demo-1's clusterAuth is not keyed"
# The commands the demo printed, as printed (REST does not need the cluster key; discover does).
while read -r cmd; do
  # shellcheck disable=SC2086  # the printed command line, split as a shell would
  (cd "$IT_ROOT" && timeout 20 $cmd >"$IT_TMP/cmd.out" 2>&1) || it_fail "printed command failed: $cmd: $(cat "$IT_TMP/cmd.out")"
done < <(sed -n 's/^\(try:\)\? *\(\S*spore \(--node \S* cluster members\|discover\) .*\)/\2/p' "$out" | sed 's/ --watch 1$//')
grep -q "demo-2" "$IT_TMP/cmd.out" || it_fail "the printed discover command found no demo node: $(cat "$IT_TMP/cmd.out")"
# A node without the key (open mode) on the same UDP port: its untagged datagrams are refused.
mkdir -m 700 "$IT_TMP/stranger"
spawn_spored new_log="$IT_TMP/stranger.log" bin="$SPORED" hostname=stranger bind="$IT_NET.9" \
  http_port="$IT_HTTP_PORT" udp_port="$IT_UDP_PORT" state_dir="$IT_TMP/stranger" profile=fast
IT_EXTRA_PIDS+=("$SPAWN_PID")
refused() { curl -sf "$url1/metrics" | awk '/^spore_datagrams_rejected_total\{reason="auth_required"\}/ { n = $2 } END { exit !(n > 0) }'; }
wait_until "demo-1 refuses the stranger's untagged datagrams (auth_required)" 30 refused
curl -sf "$url1/api/cluster/members" | jq -e '[.members[] | select(.hostname == "stranger")] | length == 0' >/dev/null ||
  it_fail "the keyed demo admitted a node without the key"
kill "$SPAWN_PID"
restart="$(sed -n 's/^ *\(\S*spore --node \S* node restart --token-file \S*\)$/\1/p' "$out")"
[ -n "$restart" ] || it_fail "the demo printed no node restart command"
# shellcheck disable=SC2086  # the printed command line, split as a shell would
(cd "$IT_ROOT" && timeout 20 $restart >"$IT_TMP/cmd.out" 2>&1) || it_fail "printed command failed: $restart: $(cat "$IT_TMP/cmd.out")"
kill -INT "$demo_pid"
wait_until "the demo exits after SIGINT" 30 bash -c "! kill -0 $demo_pid 2>/dev/null"
for pid in $pids; do
  ! kill -0 "$pid" 2>/dev/null || it_fail "node pid $pid still running after the demo was interrupted"
done
grep -q "stopped" "$out" || it_fail "interrupted demo did not report stopping: $(cat "$out")"

# ---- --open: the explicit opt-out, said so in the output and the status; the .env keeps its key
"${demo[@]}" --open >"$out" 2>&1 &
demo_pid=$!
IT_EXTRA_PIDS+=("$demo_pid")
wait_until "the open demo runs" 60 grep -q "running for" "$out"
[ "$(curl -sf "$url1/api/node/status" | jq -r .clusterAuth)" = open ] || it_fail "--open: clusterAuth is not open"
wait "$demo_pid" || { cat "$out" >&2; it_fail "ctl.sh demo --open failed"; }
grep -q '^cluster: *OPEN mode' "$out" || it_fail "--open: no OPEN mode line: $(cat "$out")"
[ ! -e "$dir/cluster.key" ] || it_fail "--open left a key file for the nodes"
[ "$(sed -n 's/^SPORE_CLUSTER_KEY=//p' "$SPORE_ENV_FILE")" = "$key" ] || it_fail "--open changed the .env's key"

# Bad arguments: exit 2 and a message.
set +e
msg="$("$IT_ROOT/ctl.sh" demo --nodes zero 2>&1)"
rc=$?
set -e
[ "$rc" -eq 2 ] || it_fail "ctl.sh demo --nodes zero exited $rc, expected 2"
grep -q -- "--nodes" <<<"$msg" || it_fail "bad-argument message: $msg"
log "demo: keyed by default (key generated once into .env, reused, never printed; untagged datagrams refused; printed commands work), --open is open, formed, printed, stopped cleanly (also on SIGINT)"
