#!/usr/bin/env bash
# GET /metrics on a 3-node loopback cluster: Prometheus text (0.0.4) with the right Content-Type,
# public (no token), every node counts itself and both peers ACTIVE, the traffic counters grow
# while the cluster runs, and a 401 answered for a wrong token shows in
# spore_http_requests_total{code="401"}. Metrics: docs/metrics.md.
source "$(dirname "$0")/lib.sh"
it_init 170

start_node 1
start_node 2
start_node 3
wait_until "3 nodes converge" 60 converged 1 2 3

scrape() { curl -sf --max-time 3 "$(it_url "$1")/metrics"; }
# metric K SERIES: the value of SERIES (name{labels} exactly as exposed) at node K; 0 when the
# series is absent (labelled counters appear with their first count), "ERROR" when K does not answer.
metric() {
  local body
  body="$(scrape "$1")" || { echo ERROR; return 0; }
  awk -v s="$2" '$1 == s { print $2; found = 1 } END { if (!found) print 0 }' <<<"$body"
}

# ---- format: Content-Type, every line a comment or `name{labels} value`
for k in 1 2 3; do
  ctype="$(curl -s -o "$IT_TMP/m$k.txt" -w '%{content_type}' "$(it_url "$k")/metrics")"
  [ "$ctype" = "text/plain; version=0.0.4; charset=utf-8" ] || it_fail "node $k: /metrics Content-Type is '$ctype'"
  bad="$(grep -Ev '^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9]+)$' "$IT_TMP/m$k.txt" || true)"
  [ -z "$bad" ] || it_fail "node $k: lines that are not Prometheus text: $bad"
  grep -q '^# TYPE spore_http_requests_total counter$' "$IT_TMP/m$k.txt" || it_fail "node $k: no TYPE line for spore_http_requests_total"
  curl -sf "$(it_url "$k")/api/node/status" | jq -e '.api | map(select(.uri == "/metrics" and .method == "GET")) | length == 1' >/dev/null ||
    it_fail "node $k does not list GET /metrics in its api"
done
log "/metrics on every node: Prometheus text 0.0.4, listed in the api"

# ---- members: 3 ACTIVE (the node itself included) on every node
three_active() {
  local k
  for k in 1 2 3; do
    [ "$(metric "$k" 'spore_members{status="active"}')" = 3 ] || return 1
  done
}
wait_until "spore_members{status=\"active\"} is 3 on every node" 30 three_active
for k in 1 2 3; do
  [ "$(metric "$k" 'spore_members{status="dead"}')" = 0 ] || it_fail "node $k reports dead members"
done
log "spore_members{status=\"active\"} = 3 on nodes 1, 2, 3"

# ---- issue 20: a full table's refusals and its evictions, and the datagrams not sent for lack of
# anti-amplification credit, are exposed. Three nodes never fill a table. (A few amplification
# refusals are normal while nodes join: a request from a node not admitted yet gets no answer
# larger than itself, and the requester asks again once admitted.)
for k in 1 2 3; do
  for n in spore_members_refused_total spore_members_evicted_total spore_amplification_refused_datagrams_total \
    spore_amplification_refused_bytes_total; do
    grep -q "^# TYPE $n counter$" "$IT_TMP/m$k.txt" || it_fail "node $k: no TYPE line for $n"
  done
  for n in spore_members_refused_total spore_members_evicted_total; do
    v="$(metric "$k" "$n")"
    [ "$v" = 0 ] || it_fail "node $k: $n is $v with 3 nodes"
  done
done
log "members refused/evicted (0) and amplification refusals exposed on every node"

# ---- traffic grows over 3 s
declare -A before=()
names=(spore_datagrams_received_total spore_datagrams_sent_total spore_bytes_received_total spore_bytes_sent_total)
for k in 1 2 3; do
  for n in "${names[@]}"; do before[$k.$n]="$(metric "$k" "$n")"; done
done
sleep 3
for k in 1 2 3; do
  for n in "${names[@]}"; do
    now="$(metric "$k" "$n")"
    [[ "$now" =~ ^[0-9]+$ ]] && [ "$now" -gt "${before[$k.$n]}" ] || it_fail "node $k: $n did not grow in 3 s (${before[$k.$n]} -> $now)"
  done
done
log "traffic counters grew on every node (node 1 received $(metric 1 spore_bytes_received_total) bytes)"

# ---- a 401 is counted
url="$(it_url 2)"
c401="$(metric 2 'spore_http_requests_total{code="401"}')"
code="$(curl -s -o /dev/null -w '%{http_code}' --data '' -H 'Authorization: Bearer not-the-token' "$url/api/node/restart")"
[ "$code" = 401 ] || it_fail "restart with a wrong token answered $code, expected 401"
after="$(metric 2 'spore_http_requests_total{code="401"}')"
[ "$after" -eq $((c401 + 1)) ] || it_fail "spore_http_requests_total{code=\"401\"} went $c401 -> $after, expected +1"
c200="$(metric 2 'spore_http_requests_total{code="200"}')"
[ "$c200" -ge 1 ] || it_fail "node 2 counted no 200 (its scrapes)"
node_alive 2 || it_fail "node 2 died"
log "a wrong token's 401 counted: spore_http_requests_total{code=\"401\"} $c401 -> $after"
