#!/usr/bin/env bash
# shellcheck disable=SC2046,SC2034  # $(ns_all) splits on purpose; netns.sh reads NS_NODE_ARGS
# Ten nodes in network namespaces (fast profile: INACTIVE after 1.5 s, DEAD after 6 s of silence).
# n10 is SIGKILLed (no leave): each of the nine others reports it INACTIVE first (never DEAD first),
# logs the INACTIVE less than dead_after (6 s) after the kill, then reports it DEAD; no healthy
# node changes status. Restarted from its state directory, n10 is ACTIVE again everywhere with a
# larger incarnation, listed once. Detection times are printed (measured, not asserted: DESIGN §4).
# Needs root and ip netns (skipped otherwise); see docs/cluster-tests.md.
# shellcheck source=tests/cluster/netns.sh
source "$(dirname "$0")/../cluster/netns.sh"
ns_init 10 120
INACTIVE_MS=1500
DEAD_MS=6000
NS_NODE_ARGS=(--profile fast --inactive-after-ms "$INACTIVE_MS" --dead-after-ms "$DEAD_MS")
survivors="1 2 3 4 5 6 7 8 9"

ns_start_all
ns_wait "all 10 nodes see all 10 ACTIVE" 60 ns_converged $(ns_all)
old_inc="$(ns_members 1 | jq '.members[] | select(.hostname == "n10") | .incarnation')"
[[ "$old_inc" =~ ^[0-9]+$ ]] || ns_fail "n10 has no numeric incarnation at node 1: $old_inc"
log "converged; SIGKILL n10 (incarnation $old_inc)"

kill_epoch_ms="$(date +%s%3N)"
ns_kill 10 KILL

# Poll every node's table; record the first non-ACTIVE status each survivor reports for n10.
declare -A first_seen=()
observe() {
  local k s
  ns_snapshot
  for k in $survivors; do
    [ -n "${first_seen[$k]:-}" ] && continue
    s="$(ns_status "$k" 10)"
    case "$s" in
      ACTIVE | ERROR) ;;
      INACTIVE | DEAD) first_seen[$k]="$s" ;;
      *) ns_fail "node $k reports n10 as $s" ;;
    esac
  done
  [ ${#first_seen[@]} -eq 9 ]
}
ns_wait "n10 no longer ACTIVE at nodes 1-9" 30 observe
for k in $survivors; do
  [ "${first_seen[$k]}" = INACTIVE ] || ns_fail "node $k went from ACTIVE to ${first_seen[$k]} without INACTIVE"
done
log "n10 INACTIVE at nodes 1-9 (polled)"
ns_wait "n10 DEAD at nodes 1-9" 30 ns_side_sees "$survivors" 10 DEAD
ns_sees "$survivors" "$survivors" ACTIVE || ns_fail "a survivor is no longer ACTIVE somewhere after the crash"
log "n10 DEAD at nodes 1-9; nodes 1-9 still see each other ACTIVE"

# Detection times from the nodes' own logs ("member n10 (...) inactive" / "dead").
max_inactive=0
max_dead=0
for k in $survivors; do
  line="$(grep -m1 ' member n10 ([0-9a-f]*) inactive$' "$(ns_log "$k")")" || ns_fail "node $k never logged n10 inactive"
  t_inactive=$(($(ns_log_ms "$line") - kill_epoch_ms))
  line="$(grep -m1 ' member n10 ([0-9a-f]*) dead$' "$(ns_log "$k")")" || ns_fail "node $k never logged n10 dead"
  t_dead=$(($(ns_log_ms "$line") - kill_epoch_ms))
  [ "$t_inactive" -lt "$DEAD_MS" ] || ns_fail "node $k logged n10 inactive only $t_inactive ms after the kill (dead_after is $DEAD_MS ms)"
  [ "$t_dead" -gt "$t_inactive" ] || ns_fail "node $k logged n10 dead before inactive"
  [ "$t_inactive" -gt "$max_inactive" ] && max_inactive="$t_inactive"
  [ "$t_dead" -gt "$max_dead" ] && max_dead="$t_dead"
done
budget="met"
[ "$max_inactive" -le 3000 ] || budget="NOT met"
log "crash detection: INACTIVE on all 9 peers $max_inactive ms after the kill (DESIGN §4 budget 3 s: $budget), DEAD on all $max_dead ms"
# No healthy node was ever INACTIVE or DEAD anywhere.
if grep -E ' member n[0-9]+ \([0-9a-f]+\) (inactive|dead)$' "$NS_TMP"/node-*.log | grep -v ' member n10 '; then
  ns_fail "a healthy node was reported inactive or dead (lines above)"
fi

ns_restart 10
back() {
  local k inc body
  for k in $survivors; do
    body="$(ns_members "$k")" || return 1
    [ "$(jq -r '[.members[] | select(.hostname == "n10")] | if length == 1 then .[0].status else "DUP" end' <<<"$body")" = ACTIVE ] || return 1
    inc="$(jq '.members[] | select(.hostname == "n10") | .incarnation' <<<"$body")"
    [[ "$inc" =~ ^[0-9]+$ ]] && [ "$inc" -gt "$old_inc" ] || return 1
  done
}
ns_wait "n10 ACTIVE with a larger incarnation at nodes 1-9" 30 back
ns_wait "all 10 nodes converge again" 30 ns_converged $(ns_all)
log "n10 restarted: ACTIVE everywhere, incarnation $old_inc -> $(ns_members 1 | jq '.members[] | select(.hostname == "n10") | .incarnation'), listed once"
