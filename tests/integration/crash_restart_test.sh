#!/usr/bin/env bash
# A node killed with SIGKILL (no leave) turns INACTIVE, then DEAD, at every other node. Restarted
# from the same state directory it is ACTIVE again everywhere with a larger incarnation, listed
# once (same node id, no duplicate entry).
source "$(dirname "$0")/lib.sh"
it_init 102
# Wide INACTIVE window so a poll cannot miss it; still short enough for a quick test.
IT_NODE_ARGS=(--profile fast --inactive-after-ms 1500 --dead-after-ms 9000)

for k in 1 2 3 4; do start_node "$k"; done
wait_until "4 nodes converge" 60 converged 1 2 3 4

old_inc="$(field_at 1 n4 .incarnation)"
old_id="$(field_at 1 n4 .nodeId)"
[[ "$old_inc" =~ ^[0-9]+$ ]] || it_fail "n4 has no numeric incarnation at node 1: $old_inc"
log "n4: nodeId $old_id, incarnation $old_inc; SIGKILL"
stop_node 4 KILL

# Record the first non-ACTIVE status each observer reports: it must be INACTIVE, not DEAD.
declare -A first_seen=()
observe() {
  local k s
  for k in 1 2 3; do
    [ -n "${first_seen[$k]:-}" ] && continue
    s="$(status_at "$k" n4)"
    case "$s" in
      ACTIVE) ;;
      INACTIVE | DEAD) first_seen[$k]="$s" ;;
      *) it_fail "node $k reports n4 as $s" ;;
    esac
  done
  [ ${#first_seen[@]} -eq 3 ]
}
wait_until "n4 no longer ACTIVE at nodes 1-3" 30 observe
for k in 1 2 3; do
  [ "${first_seen[$k]}" = INACTIVE ] || it_fail "node $k went from ACTIVE to ${first_seen[$k]} without INACTIVE"
done
log "n4 INACTIVE at nodes 1-3"
wait_until "n4 DEAD at nodes 1-3" 60 all_see n4 DEAD 1 2 3
for k in 1 2 3; do
  [ "$(field_at "$k" n4 .left)" = "false" ] || it_fail "node $k marks the crashed n4 as left"
done
# The survivors still see each other.
for h in n1 n2 n3; do all_see "$h" ACTIVE 1 2 3 || it_fail "$h not ACTIVE everywhere after the crash"; done
log "n4 DEAD at nodes 1-3; restarting it from the same state directory"

start_node 4
back() {
  local k inc
  for k in 1 2 3; do
    [ "$(status_at "$k" n4)" = ACTIVE ] || return 1
    inc="$(field_at "$k" n4 .incarnation)"
    [[ "$inc" =~ ^[0-9]+$ ]] && [ "$inc" -gt "$old_inc" ] || return 1
  done
}
wait_until "n4 ACTIVE with a larger incarnation at nodes 1-3" 60 back
wait_until "all 4 nodes converge again" 60 converged 1 2 3 4
for k in 1 2 3 4; do
  body="$(members_of "$k")"
  [ "$(jq '[.members[] | select(.hostname == "n4")] | length' <<<"$body")" -eq 1 ] || it_fail "node $k lists n4 twice"
  [ "$(jq --argjson id "$old_id" '[.members[] | select(.nodeId == $id)] | length' <<<"$body")" -eq 1 ] ||
    it_fail "node $k: n4's node id $old_id not listed exactly once"
done
log "n4 back: incarnation $old_inc -> $(field_at 1 n4 .incarnation), one entry everywhere"
