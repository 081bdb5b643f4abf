#!/usr/bin/env bash
# Fleet rollout with `spore ota all` on 10 real spored processes (issue 4, items 4 and 5):
#  1. a good image (a copy of spored with another version in its SPORE-VERSION-SLOT) rolled out
#     with --canary 1 --parallel 3: every node comes back ACTIVE with the new image hash and
#     version, the table says "updated" for all 10;
#  2. an image that could never come back (a copy of /bin/true: a valid ELF that exits at once):
#     the canary refuses it at its trial run (422 self_test_failed, docs/ota.md), the rollout
#     stops there, and all 10 nodes still run the image of step 1 with the same incarnation (no
#     restart) and the same pid.
# Every node runs its own copy of the executable (start_ota_node): an update that proved healthy
# renames the new image over it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ota_lib.sh"
it_init 141 170

N=10
BIN="$IT_TMP/images"
mkdir -p "$BIN"
field_of() { status_of "$1" | jq -r "$2"; }

for k in $(seq 1 $N); do start_ota_node "$k"; done
wait_until "10 nodes converge" 60 converged $(seq 1 $N)

# Each node generated its own API token: one map for the rollout.
MAP="$IT_TMP/tokens.map"
token_map_of "$N" >"$MAP"

OLD_SHA="$(sha_of "$SPORED")"
[ "$(field_of 1 .imageSha256)" = "$OLD_SHA" ] || it_fail "node 1 reports imageSha256 $(field_of 1 .imageSha256), its file has $OLD_SHA"

# ---- 1. a good image, canary then waves of 3 ------------------------------------------------------
patch_version "$SPORED" "$BIN/spored-9.1.0" 9.1.0
GOOD_SHA="$(sha_of "$BIN/spored-9.1.0")"
declare -A INC_BEFORE=() PID_BEFORE=()
# Remembers every node's incarnation and pid before a rollout.
snapshot_nodes() {
  local k
  for k in $(seq 1 $N); do
    INC_BEFORE[$k]="$(field_of "$k" .incarnation)"
    PID_BEFORE[$k]="$(node_pid "$k")"
  done
}
# rollout I FILE TIMEOUT_S: `spore ota all` through n1, canary 1, waves of 3; its table goes to
# rolloutI.out, its exit status to rc.
rollout() {
  rc=0
  "$SPORE" --node "$(it_ip 1):$IT_HTTP_PORT" ota all "$2" --canary 1 --parallel 3 --timeout "$3" \
    --token-map "$MAP" >"$IT_TMP/rollout$1.out" 2>"$IT_TMP/rollout$1.err" || rc=$?
  cat "$IT_TMP/rollout$1.err" "$IT_TMP/rollout$1.out" >&2
}
snapshot_nodes
log "rollout 1: $BIN/spored-9.1.0 (sha256 ${GOOD_SHA:0:12}) to $N nodes, --canary 1 --parallel 3"
rollout 1 "$BIN/spored-9.1.0" 30
[ "$rc" -eq 0 ] || it_fail "rollout 1 exited $rc"
grep -q "^10 nodes: 10 updated$" "$IT_TMP/rollout1.out" || it_fail "rollout 1: the summary does not say 10 updated"
# The table: NODE RESULT TIME VERSION, at most 80 columns; each node's address and wave below it.
[ "$(grep -Ec '^n[0-9]+ +updated +[0-9.]+ s +9\.1\.0$' "$IT_TMP/rollout1.out")" -eq $N ] ||
  it_fail "rollout 1: not every row says updated with version 9.1.0"
[ "$(awk '{ if (length($0) > w) w = length($0) } END { print w }' <(sed -n '1,/^$/p' "$IT_TMP/rollout1.out"))" -le 80 ] ||
  it_fail "rollout 1: the table is wider than 80 columns"
# Waves: the canary first, then 3 at a time; the observer (n1) is updated in the last wave.
grep -Eq '^  n2: [0-9.:]+, canary$' "$IT_TMP/rollout1.out" || it_fail "rollout 1: n2 was not the canary"
grep -Eq '^  n1: [0-9.:]+, wave 3$' "$IT_TMP/rollout1.out" || it_fail "rollout 1: the observer n1 was not in the last wave"
for w in 1 2 3; do
  n="$(grep -Ec "^  n[0-9]+: [0-9.:]+, wave $w\$" "$IT_TMP/rollout1.out" || true)"
  [ "$n" -eq 3 ] || it_fail "rollout 1: wave $w has $n nodes (want 3)"
done
# The rollout waits for each node; its word is checked against the nodes themselves.
for k in $(seq 1 $N); do
  node_alive "$k" || it_fail "node $k is not running after rollout 1"
  [ "$(field_of "$k" .imageSha256)" = "$GOOD_SHA" ] || it_fail "node $k: imageSha256 $(field_of "$k" .imageSha256), want $GOOD_SHA"
  [ "$(field_of "$k" .firmwareVersion)" = "9.1.0" ] || it_fail "node $k: firmwareVersion $(field_of "$k" .firmwareVersion), want 9.1.0"
  inc="$(field_of "$k" .incarnation)"
  [ "$inc" -gt "${INC_BEFORE[$k]}" ] || it_fail "node $k: incarnation $inc not above ${INC_BEFORE[$k]}: it did not restart"
  wait_until "node $k's new image proves healthy and becomes its executable" 30 exe_is "$k" "$GOOD_SHA"
done
wait_until "all 10 ACTIVE at n1 with the new image digest" 30 bash -c \
  "curl -sf --max-time 3 '$(it_url 1)/api/cluster/members' | jq -e --arg d '${GOOD_SHA:0:8}' \
   '[.members[] | select(.status == \"ACTIVE\" and .imageDigest == \$d)] | length == $N' >/dev/null"
log "rollout 1: all $N nodes updated and ACTIVE with image ${GOOD_SHA:0:8}"

# ---- 2. an image that would never come back: the canary refuses it, nobody is touched ------------
cp "$(type -P true)" "$BIN/vanishing"
BAD_SHA="$(sha_of "$BIN/vanishing")"
snapshot_nodes
log "rollout 2: a copy of /bin/true (sha256 ${BAD_SHA:0:12}), --canary 1 --parallel 3 --timeout 8"
rollout 2 "$BIN/vanishing" 8
[ "$rc" -eq 1 ] || it_fail "rollout 2 exited $rc, want 1 (a node failed)"
{ grep -Eq '^n2 +FAILED ' "$IT_TMP/rollout2.out" && grep -Eq '^  n2: [0-9.:]+, canary: ' "$IT_TMP/rollout2.out"; } ||
  it_fail "rollout 2: the canary n2 is not listed as failed"
grep -q "^10 nodes: 1 failed, 9 not reached$" "$IT_TMP/rollout2.out" || it_fail "rollout 2: the summary is not '1 failed, 9 not reached'"
[ "$(grep -c ' not reached ' "$IT_TMP/rollout2.out")" -eq 9 ] || it_fail "rollout 2: not 9 rows 'not reached'"
grep -q "stopping the rollout" "$IT_TMP/rollout2.err" || it_fail "rollout 2: no 'stopping the rollout' line"
grep -q "self_test_failed" "$IT_TMP/rollout2.out" "$IT_TMP/rollout2.err" || it_fail "rollout 2: the canary's refusal is not named"
# Every node, the canary included: same process, same incarnation (no restart), the image of step 1.
for k in $(seq 1 $N); do
  node_alive "$k" || it_fail "node $k is not running"
  [ "$(node_pid "$k")" = "${PID_BEFORE[$k]}" ] || it_fail "node $k: pid changed"
  [ "$(field_of "$k" .incarnation)" = "${INC_BEFORE[$k]}" ] || it_fail "node $k restarted: incarnation $(field_of "$k" .incarnation), was ${INC_BEFORE[$k]}"
  [ "$(field_of "$k" .imageSha256)" = "$GOOD_SHA" ] || it_fail "node $k: imageSha256 changed"
  cmp -s "$(exe_of "$k")" "$BIN/spored-9.1.0" || it_fail "node $k: its executable changed"
done
log "rollout 2 stopped at the canary, which refused the image; all $N nodes kept image ${GOOD_SHA:0:8} and their incarnation"
