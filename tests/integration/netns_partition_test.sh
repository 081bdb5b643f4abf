#!/usr/bin/env bash
# shellcheck disable=SC2046,SC2034  # $(ns_all) splits on purpose; netns.sh reads NS_NODE_ARGS
# Ten nodes in network namespaces (fast profile), split 5|5 by nftables rules inside the node
# namespaces (every IPv4 packet between the halves dropped, both directions). Each half reports
# every node of the other half INACTIVE, then DEAD, while still seeing its own half ACTIVE (and
# nobody logs its own half inactive). Healed, all ten see all ten ACTIVE again.
# Needs root, ip netns and nft (skipped otherwise); see docs/cluster-tests.md.
# shellcheck source=tests/cluster/netns.sh
source "$(dirname "$0")/../cluster/netns.sh"
ns_require_nft
ns_init 10 120
NS_NODE_ARGS=(--profile fast --inactive-after-ms 1500 --dead-after-ms 6000)
A="1 2 3 4 5"
B="6 7 8 9 10"

ns_start_all
ns_wait "all 10 nodes see all 10 ACTIVE" 60 ns_converged $(ns_all)
log "converged"

ns_partition "$A" "$B"
t0="$(ns_ms)"
# cut_off REGEX: each half lists every node of the other half with a status matching REGEX.
cut_off() { ns_side_sees "$A" "$B" "$1" && ns_sees "$B" "$A" "$1"; }
ns_wait "each half sees the other half INACTIVE or DEAD" 30 cut_off "INACTIVE|DEAD"
log "each half sees the other INACTIVE/DEAD after $(($(ns_ms) - t0)) ms"
ns_wait "each half sees the other half DEAD" 30 cut_off DEAD
ns_sees "$A" "$A" ACTIVE || ns_fail "half A no longer sees itself ACTIVE"
ns_sees "$B" "$B" ACTIVE || ns_fail "half B no longer sees itself ACTIVE"
log "each half sees the other DEAD after $(($(ns_ms) - t0)) ms, and itself ACTIVE"

# Within a half nothing went inactive or dead (node logs: every status change is logged).
for k in $A; do
  if grep -E " member n($(tr ' ' '|' <<<"$A")) \([0-9a-f]+\) (inactive|dead)$" "$(ns_log "$k")"; then
    ns_fail "node $k saw a node of its own half inactive or dead"
  fi
done
for k in $B; do
  if grep -E " member n($(tr ' ' '|' <<<"$B")) \([0-9a-f]+\) (inactive|dead)$" "$(ns_log "$k")"; then
    ns_fail "node $k saw a node of its own half inactive or dead"
  fi
done

ns_heal
t0="$(ns_ms)"
ns_wait "all 10 nodes see all 10 ACTIVE after the heal" 60 ns_converged $(ns_all)
log "reconverged: all 10 see all 10 ACTIVE $(($(ns_ms) - t0)) ms after the heal"
