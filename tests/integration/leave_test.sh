#!/usr/bin/env bash
# SIGTERM makes a node leave gracefully: it exits 0 and the others mark it DEAD with left=true at
# once, long before dead_after (set to 120 s here, so only the leave can explain it).
source "$(dirname "$0")/lib.sh"
it_init 103
IT_NODE_ARGS=(--profile fast --inactive-after-ms 60000 --dead-after-ms 120000)

for k in 1 2 3; do start_node "$k"; done
wait_until "3 nodes converge" 60 converged 1 2 3

stop_node 3 TERM
[ "$IT_LAST_EXIT" -eq 0 ] || it_fail "spored exited $IT_LAST_EXIT on SIGTERM, expected 0"
left_everywhere() {
  local k
  for k in 1 2; do
    [ "$(status_at "$k" n3)" = DEAD ] || return 1
    [ "$(field_at "$k" n3 .left)" = true ] || return 1
  done
}
# Far below inactive_after (60 s): only the LEAVE datagram can make n3 DEAD this early.
wait_until "n3 DEAD with left=true at nodes 1 and 2" 30 left_everywhere
all_see n1 ACTIVE 1 2 && all_see n2 ACTIVE 1 2 || it_fail "the remaining nodes lost each other"
log "n3 left: DEAD with left=true at nodes 1 and 2"
