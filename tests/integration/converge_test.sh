#!/usr/bin/env bash
# Five nodes started with no addresses find each other by broadcast: every node lists all five,
# once each, all ACTIVE, itself first with self=true.
source "$(dirname "$0")/lib.sh"
it_init 101

for k in 1 2 3 4 5; do start_node "$k"; done
wait_until "all 5 nodes see all 5 ACTIVE" 60 converged 1 2 3 4 5

for k in 1 2 3 4 5; do
  body="$(members_of "$k")"
  [ "$(jq -r '.members[0].hostname' <<<"$body")" = "n$k" ] || it_fail "node $k does not list itself first"
  [ "$(jq '.members[0].self' <<<"$body")" = "true" ] || it_fail "node $k: first entry lacks self=true"
  [ "$(jq '[.members[] | select(.self == true)] | length' <<<"$body")" -eq 1 ] || it_fail "node $k: more than one self"
  [ "$(jq '[.members[].nodeId] | unique | length' <<<"$body")" -eq 5 ] || it_fail "node $k: node ids not unique"
  [ "$(jq -r '[.members[] | .ip] | sort | join(" ")' <<<"$body")" = \
    "$(for j in 1 2 3 4 5; do it_ip "$j"; echo; done | sort | paste -sd' ')" ] || it_fail "node $k: wrong member IPs"
done
log "all 5 nodes see all 5 ACTIVE"
