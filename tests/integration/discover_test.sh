#!/usr/bin/env bash
# `spore discover` lists the running nodes without being told any address: node id, hostname,
# ip, http and udp port, as the nodes themselves report them. The nodes run the default (LAN)
# profile, so they announce only every 10 s: discover must ask (DISCOVER, docs/protocol.md §4.13)
# to list all three within its default 2 s wait, every run (issue 21: listening alone found 2, 1
# and 2 of 3 in three runs). The request goes to loopback's broadcast only (--target), so the test
# sends nothing off this host; everything else is the default.
source "$(dirname "$0")/lib.sh"
it_init 107
unset SPORE_CLUSTER_KEY SPORE_ENV_FILE  # an open cluster: discover must not find a key elsewhere
IT_NODE_ARGS=()  # the default profile, as a user runs it

for k in 1 2 3; do start_node "$k"; done
wait_until "3 nodes converge" 60 converged 1 2 3
members="$(members_of 1)"
here=(--udp-port "$IT_UDP_PORT" --target 127.255.255.255 --listen 127.255.255.255)

# Two default runs: every node listed each time, with the details it announces.
for run in 1 2; do
  out="$("$SPORE" discover "${here[@]}" --json)" || it_fail "spore discover (run $run) failed"
  [ "$(jq '.nodes | length' <<<"$out")" -eq 3 ] || it_fail "run $run lists $(jq -c '[.nodes[].hostname]' <<<"$out")"
  for k in 1 2 3; do
    d="$(jq -c --arg h "n$k" '.nodes[] | select(.hostname == $h)' <<<"$out")"
    [ -n "$d" ] || it_fail "discover did not list n$k"
    id="$(jq --arg h "n$k" '.members[] | select(.hostname == $h) | .nodeId' <<<"$members")"
    jq -e --arg ip "$(it_ip "$k")" --argjson http "$IT_HTTP_PORT" --argjson udp "$IT_UDP_PORT" --argjson id "$id" \
      '(.ip == $ip) and (.httpPort == $http) and (.udpPort == $udp) and (.nodeId == $id)
       and (.url == "http://\($ip):\($http)")' <<<"$d" >/dev/null || it_fail "discover's entry for n$k is wrong: $d"
  done
done

# The table for people has a header and one row per node (--expect: done once all 3 answered).
table="$("$SPORE" discover "${here[@]}" --expect 3)" || it_fail "spore discover (table) failed"
head -n1 <<<"$table" | grep -q "HOSTNAME" || it_fail "discover table has no header: $table"
for k in 1 2 3; do grep -q "n$k .*$(it_ip "$k")" <<<"$table" || it_fail "discover table lacks n$k: $table"; done

# Nothing on another port: exit 1 with a message.
set +e
msg="$("$SPORE" discover --udp-port $((IT_UDP_PORT + 1000)) --target 127.255.255.255 --listen 127.255.255.255 \
  --timeout 0.5 2>&1)"
rc=$?
set -e
[ "$rc" -eq 1 ] || it_fail "discover on an empty port exited $rc, expected 1"
grep -q "no SPORE node heard" <<<"$msg" || it_fail "discover on an empty port said: $msg"

# Asking admits nobody: each node still lists exactly the 3 nodes, all converged.
converged 1 2 3 || it_fail "the cluster lost members while spore discover asked"
for k in 1 2 3; do
  n="$(members_of "$k" | jq '.members | length')"
  [ "$n" -eq 3 ] || it_fail "node $k lists $n members after discover, expected 3"
done
log "discover lists the 3 nodes with the right details"

# Issue 21 F4: a broadcast ANNOUNCE proves no freshness (a replay of a stopped node's verifies as well
# as a new one): asking lists only the answers addressed to its run; --passive lists the broadcast,
# marked so. The "ghost" is a forged broadcast every 0.1 s from a peer that is no node.
PEER="$(dirname "$0")/discover_peer.py"
python3 "$PEER" ghost "$(it_ip 8)" "$IT_UDP_PORT" 6 &
IT_EXTRA_PIDS+=("$!")
sleep 0.3
out="$("$SPORE" discover "${here[@]}" --json --timeout 1)" || it_fail "spore discover beside a ghost failed"
jq -e '(.nodes | length) == 3 and all(.nodes[]; .heardBy == "answer")' <<<"$out" >/dev/null ||
  it_fail "asking listed a broadcast ANNOUNCE: $(jq -c '[.nodes[] | [.hostname, .heardBy]]' <<<"$out")"
out="$("$SPORE" discover "${here[@]}" --passive --json --timeout 1)" || it_fail "spore discover --passive failed"
jq -e '.nodes[] | select(.hostname == "ghost") | .heardBy == "broadcast"' <<<"$out" >/dev/null ||
  it_fail "--passive did not mark the broadcast row: $(jq -c '[.nodes[] | [.hostname, .heardBy]]' <<<"$out")"

# Issue 21 F3: a peer answers with forged ANNOUNCEs, a new node id each, as fast as it can for 20 s:
# the CLI still stops at its timeout (before, it read until the socket ran dry: 41 s under a 40 s
# flood) and lists at most 4,096 nodes, saying that it heard more. Only the peer is asked.
python3 "$PEER" flood "$(it_ip 9)" "$IT_UDP_PORT" 20 >"$IT_TMP/flood.out" &
flood=$!
IT_EXTRA_PIDS+=("$flood")
sleep 0.3
"$SPORE" discover --udp-port "$IT_UDP_PORT" --target "$(it_ip 9)" --listen 127.255.255.255 --timeout 1 \
  >"$IT_TMP/flood.table" 2>"$IT_TMP/flood.err" || it_fail "spore discover under a flood failed: $(cat "$IT_TMP/flood.err")"
kill -0 "$flood" 2>/dev/null || it_fail "spore discover returned only after the 20 s flood ended"
kill "$flood"
rows=$(($(wc -l <"$IT_TMP/flood.table") - 1))
[ "$rows" -ge 1 ] && [ "$rows" -le 4096 ] || it_fail "spore discover under a flood listed $rows nodes"
[ "$rows" -lt 4096 ] || grep -q "heard and ignored" "$IT_TMP/flood.err" ||
  it_fail "4096 rows and no word of the rest: $(cat "$IT_TMP/flood.err")"
log "discover: broadcasts only with --passive, marked; a flood of forged answers bounded ($rows rows)"
