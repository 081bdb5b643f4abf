#!/usr/bin/env bash
# shellcheck disable=SC2046,SC2034  # $(ns_all) splits on purpose; netns.sh reads NS_NODE_ARGS
# Ten nodes in network namespaces (fast profile: INACTIVE after 1.5 s of silence). For 20 s
# (SPORE_LOSS_SECONDS) every UDP datagram a node receives is dropped with probability 10 %
# (SPORE_LOSS_PERCENT) by nftables `numgen random mod 100 < 10 drop` in its namespace. Asserts: no
# false INACTIVE or DEAD at all — every snapshot of every node's table, taken as often as the
# machine allows, shows all ten ACTIVE, and no node ever logs a status change (spored logs each
# one); the nft counters show the loss really happened (between half and 1.5 times the rate).
# Needs root, ip netns and nft (skipped otherwise); see docs/cluster-tests.md.
# shellcheck source=tests/cluster/netns.sh
source "$(dirname "$0")/../cluster/netns.sh"
ns_require_nft
ns_init 10 120
LOSS_PCT="${SPORE_LOSS_PERCENT:-10}"
LOSS_S="${SPORE_LOSS_SECONDS:-20}"
NS_NODE_ARGS=(--profile fast --inactive-after-ms 1500 --dead-after-ms 6000)

ns_start_all
ns_wait "all 10 nodes see all 10 ACTIVE" 60 ns_converged $(ns_all)
log "converged"

ns_loss "$LOSS_PCT"
end=$((SECONDS + LOSS_S))
snapshots=0
full=0
while [ "$SECONDS" -lt "$end" ]; do
  ns_snapshot
  snapshots=$((snapshots + 1))
  for o in $(ns_all); do
    [ -n "${NS_ANSWERED[$o]:-}" ] || continue # slow answer: not a membership verdict
    for h in $(ns_all); do
      st="${NS_VIEW["$o $h"]:-ABSENT}"
      [ "$st" = ACTIVE ] || ns_fail "false $st: node $o reports healthy n$h as $st under ${LOSS_PCT} % loss"
    done
  done
  [ ${#NS_ANSWERED[@]} -eq 10 ] && full=$((full + 1))
  sleep 0.1
done
received=0
dropped=0
for k in $(ns_all); do
  read -r r d < <(ns_loss_counts "$k")
  received=$((received + r))
  dropped=$((dropped + d))
done
ns_no_loss
log "${LOSS_S} s at ${LOSS_PCT} % loss: $snapshots snapshots ($full with all 10 answering), no false INACTIVE/DEAD seen"
[ "$full" -ge 10 ] || ns_fail "only $full complete snapshots in ${LOSS_S} s: too few to judge"
[ "$received" -gt 0 ] || ns_fail "the loss rules counted no UDP datagram"
log "nft: $dropped of $received UDP datagrams dropped ($((dropped * 1000 / received / 10)).$((dropped * 1000 / received % 10)) %)"
if [ $((dropped * 200)) -lt $((received * LOSS_PCT)) ] || [ $((dropped * 200)) -gt $((received * LOSS_PCT * 3)) ]; then
  ns_fail "measured loss is not within half and 1.5 times ${LOSS_PCT} %"
fi

# Every status change is logged by spored: none may have happened since the start.
if grep -E ' member n[0-9]+ \([0-9a-f]+\) (inactive|dead|left|restarted|recovered)$' "$NS_TMP"/node-*.log; then
  ns_fail "status changes under loss (lines above)"
fi
ns_wait "all 10 still see all 10 ACTIVE" 10 ns_converged $(ns_all)
log "no node logged any status change; all 10 see all 10 ACTIVE"
