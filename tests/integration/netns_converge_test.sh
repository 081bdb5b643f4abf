#!/usr/bin/env bash
# shellcheck disable=SC2046,SC2034  # $(ns_all) splits on purpose; netns.sh reads NS_NODE_ARGS
# Ten spored in ten network namespaces on one bridge, started with no --join: they find each other
# by subnet broadcast (10.231.0.255) across the bridge. Every node lists all ten, once each, all
# ACTIVE, itself first with self=true, with the right IPs and ten distinct node ids.
# Needs root and ip netns (skipped otherwise); see docs/cluster-tests.md.
# shellcheck source=tests/cluster/netns.sh
source "$(dirname "$0")/../cluster/netns.sh"
ns_init 10 120

ns_start_all
t0="$(ns_ms)"
ns_wait "all 10 nodes see all 10 ACTIVE" 60 ns_converged $(ns_all)
log "converged: every node sees the other 9 ACTIVE, $(($(ns_ms) - t0)) ms after all 10 answered HTTP"

want_ips="$(for j in $(ns_all); do ns_ip "$j"; echo; done | sort | paste -sd' ')"
for k in $(ns_all); do
  body="$(ns_members "$k")" || ns_fail "node $k does not answer"
  [ "$(jq -r '.members[0].hostname' <<<"$body")" = "n$k" ] || ns_fail "node $k does not list itself first"
  [ "$(jq '.members[0].self' <<<"$body")" = "true" ] || ns_fail "node $k: first entry lacks self=true"
  [ "$(jq '[.members[] | select(.self == true)] | length' <<<"$body")" -eq 1 ] || ns_fail "node $k: more than one self"
  [ "$(jq '[.members[].nodeId] | unique | length' <<<"$body")" -eq 10 ] || ns_fail "node $k: node ids not unique"
  [ "$(jq -r '[.members[] | .ip] | sort | join(" ")' <<<"$body")" = "$want_ips" ] || ns_fail "node $k: wrong member IPs"
done
# Discovery was by broadcast alone: no node was given --join.
grep -q -- '--join' <<<"${NS_NODE_ARGS[*]}" && ns_fail "test bug: --join given"
log "all 10 nodes list the 10 members with their namespace IPs and distinct ids"
