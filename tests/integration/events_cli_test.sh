#!/usr/bin/env bash
# `spore events publish` and `spore events watch` against a 3-node loopback cluster: a watcher on
# node 2 gets three events published on node 1 in order with the right sender (one payload read
# from stdin, with a byte that is not printable); a wrong token fails with exit 1 and auth_invalid;
# a bad or reserved topic exits 2 before any traffic; --timeout with --count exits 1 when too few
# came; killing node 3 shows node_inactive to a watcher of node 2, and a watcher of node 3 says
# the stream is lost, reconnects when node 3 is back, and exits 0 on SIGTERM. ./ctl.sh forwards
# the verb. Skipped (77) while the nodes do not serve GET /api/cluster/events/stream.
source "$(dirname "$0")/lib.sh"
it_init 176

start_node 1
# A node without the events API answers 404: skip rather than fail (the CLI alone is unit-tested).
code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$(it_url 1)/api/cluster/events/stream" || true)"
if [ "$code" = 404 ]; then
  log "SKIP: node 1 does not serve GET /api/cluster/events/stream (404)"
  exit 77
fi
start_node 2
start_node 3
wait_until "3 nodes converge" 60 converged 1 2 3

addr() { printf '%s:%s' "$(it_ip "$1")" "$IT_HTTP_PORT"; }
token1="$(node_dir 1)/api_token"
[ -s "$token1" ] || it_fail "node 1 has no API token file at $token1"

# watch_in_background NAME ARGS...: starts `spore ARGS` with stdout in NAME.out, stderr in NAME.err;
# its pid in WATCH_PID.
watch_in_background() {
  local name="$1"
  shift
  "$SPORE" "$@" >"$IT_TMP/$name.out" 2>"$IT_TMP/$name.err" &
  WATCH_PID=$!
  IT_EXTRA_PIDS+=("$WATCH_PID")
}
# The CLI says so on stderr once the stream is open; events published before are not shown.
stream_open() { grep -q "^watching cluster events at " "$IT_TMP/$1.err"; }

# wait_exit PID LIMIT_S: waits for PID to exit; its status in WAIT_RC.
wait_exit() {
  local pid="$1" deadline=$((SECONDS + $2))
  while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || it_fail "process $pid did not exit within $2 s"
    sleep 0.1
  done
  WAIT_RC=0
  wait "$pid" 2>/dev/null || WAIT_RC=$?
}

# ---- help
expect_rc 0 "$SPORE" events --help
grep -q "publish" <<<"$OUT" && grep -q "watch" <<<"$OUT" || it_fail "events --help: $OUT"
expect_rc 0 "$SPORE" events publish --help
grep -q "Examples:" <<<"$OUT" || it_fail "events publish --help has no examples: $OUT"
expect_rc 0 "$SPORE" events watch --help
expect_rc 2 "$SPORE" events

# ---- three events from node 1 reach a watcher of node 2, in order, with the sender
watch_in_background w2 --node "$(addr 2)" events watch --topic itest --count 3 --json --timeout 60
w2="$WATCH_PID"
wait_until "the watcher of node 2 has its stream open" 20 stream_open w2
expect_rc 0 "$SPORE" --node "$(addr 1)" events publish itest one --token-file "$token1"
grep -Eq "^published itest seq [0-9]+ on n1 \(node [0-9]+, epoch [0-9]+\)$" <<<"$OUT" || it_fail "publish line: $OUT"
expect_rc 0 env SPORE_TOKEN="$(token_of 1)" "$SPORE" --node "$(addr 1)" events publish itest two --json
jq -e '.status == "published" and .topic == "itest" and .sizeBytes == 3 and (.nodeId | type == "number")' <<<"$OUT" >/dev/null ||
  it_fail "publish --json: $OUT"
set +e
OUT="$(printf 'thr\001ee' | "$SPORE" --node "$(addr 1)" events publish itest - --token-file "$token1" 2>&1)"
rc=$?
set -e
[ "$rc" -eq 0 ] || it_fail "publish from stdin exited $rc: $OUT"
wait_exit "$w2" 60
[ "$WAIT_RC" -eq 0 ] || it_fail "watch --count 3 exited $WAIT_RC; stderr: $(cat "$IT_TMP/w2.err")"
[ "$(wc -l <"$IT_TMP/w2.out")" -eq 3 ] || it_fail "watch --count 3 printed: $(cat "$IT_TMP/w2.out")"
got="$(jq -c '[.event, .topic, .hostname, .data]' "$IT_TMP/w2.out" | paste -sd ' ')"
want='["itest","itest","n1","one"] ["itest","itest","n1","two"] ["itest","itest","n1","thr\u0001ee"]'
[ "$got" = "$want" ] || it_fail "events seen by node 2's watcher: $got, expected $want"
jq -se '[.[].seq] as $s | $s[0] < $s[1] and $s[1] < $s[2] and ([.[].id | type] | unique == ["string"])' \
  "$IT_TMP/w2.out" >/dev/null || it_fail "seq not increasing or id missing: $(cat "$IT_TMP/w2.out")"
log "node 2's watcher got the three events of node 1 in order"

# ---- errors: a wrong token (exit 1, the node's code), bad topics (exit 2, nothing sent)
expect_rc 1 "$SPORE" --node "$(addr 1)" events publish itest x --token not-the-token
grep -q "not sent: it did not prove it holds the API token" <<<"$OUT" || it_fail "wrong token message: $OUT"
expect_rc 1 "$SPORE" --node "$(addr 1)" events publish itest x --token not-the-token --bearer
grep -q "auth_invalid" <<<"$OUT" || it_fail "wrong bearer token message: $OUT"
for topic in "a b" "node_x" "ota_x" "*" "" "$(printf 'a%.0s' {1..32})"; do
  # An address nobody serves: a request would fail with 1, so 2 proves nothing was sent.
  expect_rc 2 "$SPORE" --node "$(it_ip 9):$IT_HTTP_PORT" events publish "$topic" x --token t
done
expect_rc 2 "$SPORE" --node "$(it_ip 9):$IT_HTTP_PORT" events watch --topic "a b"
expect_rc 2 "$SPORE" --node "$(addr 1)" events publish itest
head -c 300 /dev/zero >"$IT_TMP/big.bin"
expect_rc 2 "$SPORE" --node "$(addr 1)" events publish itest --file "$IT_TMP/big.bin" --token-file "$token1"
expect_rc 1 "$SPORE" --node "$(addr 1)" events watch --topic quiet --count 1 --timeout 1
expect_rc 0 "$SPORE" --node "$(addr 1)" events watch --topic quiet --timeout 1
expect_rc 1 "$SPORE" --node "$(it_ip 9):$IT_HTTP_PORT" --http-timeout 2 events watch
grep -q "cannot reach the node" <<<"$OUT" || it_fail "unreachable watch: $OUT"
log "errors and exit codes as specified"

# ---- ./ctl.sh forwards the verb
expect_rc 0 env SPORE="$SPORE" "$IT_ROOT/ctl.sh" events publish itest viactl --node "$(addr 1)" --token-file "$token1"
grep -q "^published itest" <<<"$OUT" || it_fail "./ctl.sh events publish: $OUT"

# ---- membership events: node 3 killed -> node_inactive at node 2; node 3's watcher reconnects
watch_in_background n2 --node "$(addr 2)" events watch --json
wn2="$WATCH_PID"
watch_in_background n3 --node "$(addr 3)" events watch
wn3="$WATCH_PID"
wait_until "the watcher of node 2 has its stream open" 20 stream_open n2
wait_until "the watcher of node 3 has its stream open" 20 stream_open n3
stop_node 3 KILL
inactive_seen() { jq -e 'select(.event == "node_inactive" and .hostname == "n3" and .status == "INACTIVE" and (.id | type) == "string")' "$IT_TMP/n2.out" >/dev/null 2>&1; }
wait_until "node 2's watcher shows node_inactive for n3" 40 inactive_seen
lost_said() { grep -q "event stream from $(addr 3) lost" "$IT_TMP/n3.err"; }
wait_until "node 3's watcher says its stream is lost" 60 lost_said
kill -0 "$wn3" 2>/dev/null || it_fail "node 3's watcher exited when its stream dropped: $(cat "$IT_TMP/n3.err")"
start_node 3
reconnected() { grep -q "reconnected to $(addr 3)" "$IT_TMP/n3.err"; }
wait_until "node 3's watcher reconnects" 60 reconnected
expect_rc 0 "$SPORE" --node "$(addr 3)" events publish itest back --token-file "$(node_dir 3)/api_token"
back_seen() { grep -Eq "^[0-9]{2}:[0-9]{2}:[0-9]{2}  n3 +itest +back$" "$IT_TMP/n3.out"; }
wait_until "node 3's watcher prints the event after reconnecting" 20 back_seen
for pid in "$wn2" "$wn3"; do
  kill -TERM "$pid"
  wait_exit "$pid" 10
  [ "$WAIT_RC" -eq 0 ] || it_fail "a watcher exited $WAIT_RC on SIGTERM"
done
log "node_inactive seen, the dropped stream reconnected, watchers stopped cleanly"
for k in 1 2 3; do node_alive "$k" || it_fail "node $k died"; done
