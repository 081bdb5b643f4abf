#!/usr/bin/env bash
# Rotating the cluster key without a partition (docs/security.md, "Rotating the cluster key"):
# 3 nodes on key OLD are restarted one at a time through the three phases (accept NEW; send NEW
# and accept OLD; NEW only). After every single restart, while nodes on different phases run
# side by side, all three see each other ACTIVE again. As a control, one node switched straight
# to NEW (no accept key) is cut off from the two on OLD, which is the partition the phases avoid.
# The accept key's use shows in spore_datagrams_accept_key_total.
source "$(dirname "$0")/lib.sh"
it_init 172

old="$IT_TMP/key-old" new="$IT_TMP/key-new"
printf '%s\n' 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f >"$old"
printf '%s\n' a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf >"$new"
chmod 600 "$old" "$new"

for k in 1 2 3; do start_node "$k" --cluster-key-file "$old"; done
wait_until "3 nodes on the old key converge" 60 converged 1 2 3

# Control: node 3 on the new key alone does not reach nodes 1 and 2 (still on the old key).
stop_node 3
start_node 3 --cluster-key-file "$new"
sleep 3
[ "$(status_at 3 n1)" != ACTIVE ] && [ "$(status_at 1 n3)" != ACTIVE ] ||
  it_fail "node 3 on a different key without an accept key still talks to node 1: the control shows no partition"
log "control: a node switched to the new key without an accept key is partitioned from the others"
stop_node 3
start_node 3 --cluster-key-file "$old"
wait_until "node 3 back on the old key" 30 converged 1 2 3

# restart_with K ARGS...: restarts node K with ARGS and waits until the cluster is whole again.
restart_with() {
  local k="$1"
  shift
  stop_node "$k"
  start_node "$k" "$@"
  wait_until "all 3 ACTIVE everywhere after node $k restarted with $*" 30 converged 1 2 3
}
for k in 1 2 3; do restart_with "$k" --cluster-key-file "$old" --cluster-key-accept-file "$new"; done
log "phase 1 (send OLD, accept NEW) rolled out: no partition"
for k in 1 2 3; do
  restart_with "$k" --cluster-key-file "$new" --cluster-key-accept-file "$old"
  if [ "$k" = 1 ]; then
    # Node 1 sends with NEW, nodes 2 and 3 with OLD: both directions run on the accept keys.
    accepted() { curl -sf "$(it_url "$1")/metrics" | awk '$1 == "spore_datagrams_accept_key_total" { print $2 }'; }
    wait_until "node 1 accepts node 2 and 3's OLD datagrams with its accept key" 10 \
      bash -c "[ \"\$(curl -sf $(it_url 1)/metrics | awk '\$1 == \"spore_datagrams_accept_key_total\" { print \$2 }')\" -gt 0 ]"
    log "node 1 (NEW, accepting OLD): $(accepted 1) datagrams accepted with the accept key"
  fi
done
log "phase 2 (send NEW, accept OLD) rolled out: no partition"
for k in 1 2 3; do restart_with "$k" --cluster-key-file "$new"; done
log "phase 3 (NEW only) rolled out: no partition"

# The old key is gone: a node that still has only it is not admitted.
start_node 4 --cluster-key-file "$old"
sleep 3
[ "$(status_at 1 n4)" = ABSENT ] || it_fail "node 1 (NEW only) admitted node 4 on the old key"
converged 1 2 3 || it_fail "the rotated cluster lost a member"
log "after the rotation a node with only the old key is refused"
