#!/usr/bin/env bash
# Cluster events over HTTP on a 3-node loopback cluster (docs/events.md, "REST and SSE"):
# POST /api/cluster/events on two nodes reaches the SSE stream GET /api/cluster/events/stream of
# every node, each event once and in publish order per sender; a topic filter holds; bad requests
# get 401 / 400 / 413 and publish nothing; a SIGKILLed node shows up as node_inactive on the
# streams; SIGTERM ends a node whose stream is open.
source "$(dirname "$0")/lib.sh"
it_init 171

start_node 1
start_node 2
start_node 3
wait_until "3 nodes converge" 60 converged 1 2 3
for k in 1 2 3; do
  curl -sf "$(it_url "$k")/api/node/status" |
    jq -e '[.api[] | select((.uri == "/api/cluster/events" and .method == "POST") or (.uri == "/api/cluster/events/stream" and .method == "GET"))] | length == 2' >/dev/null ||
    it_fail "node $k does not list both event routes in its api"
done

# One stream per node, one filtered stream on node 3.
for k in 1 2 3; do
  start_extra curl -sN --max-time 120 "$(it_url "$k")/api/cluster/events/stream" -o "$IT_TMP/stream-$k.txt"
done
start_extra curl -sN --max-time 120 "$(it_url 3)/api/cluster/events/stream?topic=beta" -o "$IT_TMP/stream-3b.txt"
stream_open() { grep -q '^retry: 2000$' "$IT_TMP/stream-$1.txt" 2>/dev/null; }
for k in 1 2 3 3b; do wait_until "stream at node $k open" 10 stream_open "$k"; done
head -n1 "$IT_TMP/stream-1.txt" | grep -q '^: spore events [0-9a-f]\{8\}$' || it_fail "stream 1 does not start with ': spore events <id>'"

# publish K TOPIC DATA [CURL_ARGS...]: prints the HTTP status; the answer is in $IT_TMP/answer.json.
publish() {
  local k="$1" topic="$2" data="$3"
  shift 3
  curl -s -o "$IT_TMP/answer.json" -w '%{http_code}' -H "Authorization: Bearer $(token_of "$k")" \
    --data-binary "$data" "$@" "$(it_url "$k")/api/cluster/events?topic=$topic"
}
for i in 1 2 3 4 5; do
  code="$(publish 1 alpha "a$i")"
  [ "$code" = 202 ] || it_fail "publish alpha a$i on node 1 answered $code: $(cat "$IT_TMP/answer.json")"
  jq -e --argjson i "$i" '.status == "published" and .seq == $i and .topic == "alpha"' "$IT_TMP/answer.json" >/dev/null ||
    it_fail "unexpected answer to publish a$i: $(cat "$IT_TMP/answer.json")"
done
for i in 1 2 3; do
  code="$(publish 2 beta "b$i")"
  [ "$code" = 202 ] || it_fail "publish beta b$i on node 2 answered $code"
done
log "published 5 events on node 1 and 3 on node 2"

# events_in FILE: the data objects of the cluster events in an SSE capture, one JSON per line.
events_in() { sed -n 's/^data: //p' "$1" | jq -c 'select(.seq != null)'; }
all_arrived() {
  local k
  for k in 1 2 3; do [ "$(events_in "$IT_TMP/stream-$k.txt" | wc -l)" -ge 8 ] || return 1; done
}
wait_until "8 events on every stream" 20 all_arrived
for k in 1 2 3; do
  got="$(events_in "$IT_TMP/stream-$k.txt")"
  [ "$(wc -l <<<"$got")" -eq 8 ] || it_fail "node $k's stream has $(wc -l <<<"$got") events, expected 8 (duplicates?)"
  [ "$(jq -r 'select(.topic == "alpha") | .data' <<<"$got" | tr '\n' ' ')" = "a1 a2 a3 a4 a5 " ] ||
    it_fail "node $k: alpha events not exactly a1..a5 in order: $(jq -r 'select(.topic == "alpha") | .data' <<<"$got" | tr '\n' ' ')"
  [ "$(jq -r 'select(.topic == "beta") | .data' <<<"$got" | tr '\n' ' ')" = "b1 b2 b3 " ] ||
    it_fail "node $k: beta events not exactly b1..b3 in order"
  [ "$(jq -r 'select(.topic == "alpha") | .hostname' <<<"$got" | sort -u)" = n1 ] || it_fail "node $k: alpha not from n1"
  [ "$(jq -r 'select(.topic == "beta") | .hostname' <<<"$got" | sort -u)" = n2 ] || it_fail "node $k: beta not from n2"
  [ "$(grep -c '^id: ' "$IT_TMP/stream-$k.txt")" -ge 8 ] || it_fail "node $k: events without id lines"
done
[ "$(events_in "$IT_TMP/stream-3b.txt" | jq -r .data | tr '\n' ' ')" = "b1 b2 b3 " ] ||
  it_fail "the ?topic=beta stream did not get exactly b1 b2 b3: $(cat "$IT_TMP/stream-3b.txt")"
log "every stream got all 8 events once, in order per sender; the filtered stream only beta"

# Bad requests: nothing is published.
code="$(curl -s -o "$IT_TMP/answer.json" -w '%{http_code}' -H 'Authorization: Bearer wrong' --data-binary x "$(it_url 1)/api/cluster/events?topic=alpha")"
[ "$code" = 401 ] && jq -e '.code == "auth_invalid"' "$IT_TMP/answer.json" >/dev/null || it_fail "wrong token: $code $(cat "$IT_TMP/answer.json")"
code="$(publish 1 'node_dead' x)"
[ "$code" = 400 ] && jq -e '.code == "reserved_topic"' "$IT_TMP/answer.json" >/dev/null || it_fail "reserved topic: $code"
code="$(publish 1 'a%20b' x)"
[ "$code" = 400 ] && jq -e '.code == "bad_topic"' "$IT_TMP/answer.json" >/dev/null || it_fail "bad topic: $code"
code="$(publish 1 big "$(head -c 257 /dev/zero | tr '\0' x)")"
[ "$code" = 413 ] && jq -e '.code == "too_large" and .maxBytes == 256' "$IT_TMP/answer.json" >/dev/null || it_fail "too large: $code"
code="$(publish 1 alpha a6)"
[ "$code" = 202 ] && jq -e '.seq == 6' "$IT_TMP/answer.json" >/dev/null || it_fail "the refused requests consumed sequence numbers"
log "401 auth_invalid, 400 reserved_topic, 400 bad_topic, 413 too_large; the next publish is seq 6"

# A SIGKILLed node: node_inactive on the other streams (membership events carry no id).
stop_node 3 KILL
inactive_seen() { grep -q '"topic":"node_inactive","node_id":"[0-9a-f]*","hostname":"n3"' "$IT_TMP/stream-$1.txt"; }
wait_until "node_inactive for n3 on node 1's stream" 30 inactive_seen 1
wait_until "node_inactive for n3 on node 2's stream" 30 inactive_seen 2
grep -B1 '"topic":"node_inactive"' "$IT_TMP/stream-1.txt" | grep -q '^event: node_inactive$' || it_fail "no 'event: node_inactive' line"
log "n3 killed: node_inactive on the streams of nodes 1 and 2"

# SIGTERM with a stream open: the node exits promptly (the stream is ended, not waited for).
stop_node 2 TERM 10
[ "$IT_LAST_EXIT" = 0 ] || it_fail "node 2 exited with $IT_LAST_EXIT"
node_alive 1 || it_fail "node 1 died"
log "node 2 stopped by SIGTERM with its stream open"
