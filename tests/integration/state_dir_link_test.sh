#!/usr/bin/env bash
# Issue 18 (state-fix 2, 3, 6), with the real spored: a state dir path that is a symbolic link is
# refused and the directory it points to is left alone (the old code truncated its `lock`, removed
# its `*.tmp.*` files and wrote node_id/boot_count there); a refused start changes nothing in the
# state dir (no stale temp file removed, no `lock` made); a refused secret file stops the start
# before the boot is counted; a FIFO at <state>/ota_trial does not hang the start.
source "$(dirname "$0")/lib.sh"
it_init 231 90

# ---- the state dir is a link to another directory (another user's link in a sticky /tmp)
mkdir -m 700 "$IT_TMP/target"
printf 'IMPORTANT\n' >"$IT_TMP/target/lock"
printf 'precious\n' >"$IT_TMP/target/backup.tmp.999999999"
chmod 600 "$IT_TMP/target/lock" "$IT_TMP/target/backup.tmp.999999999"
ln -s "$IT_TMP/target" "$IT_TMP/state-link"
spored_once "$IT_TMP/state-link"
{ [ "$RC" -eq 1 ] && grep -qF "$IT_TMP/state-link is a symbolic link" <<<"$OUT"; } ||
  it_fail "state dir link: spored exited $RC: $OUT"
[ "$(cat "$IT_TMP/target/lock")" = IMPORTANT ] || it_fail "the link's target's lock was written"
[ -e "$IT_TMP/target/backup.tmp.999999999" ] || it_fail "a temp-named file in the link's target was removed"
[ ! -e "$IT_TMP/target/node_id" ] || it_fail "node_id was created in the link's target"
log "refused: $(head -n 1 <<<"$OUT")"

# ---- a refused start changes nothing: the stale temp file stays, no lock is made
d="$IT_TMP/refused"
mkdir -m 700 "$d"
printf 'old\n' >"$d/boot_count.tmp.999999999"
touch "$d/zz"
chmod 666 "$d/zz"
spored_once "$d"
[ "$RC" -eq 1 ] || it_fail "a 0666 file in the state dir: spored exited $RC: $OUT"
[ -e "$d/boot_count.tmp.999999999" ] || it_fail "the refused start removed a stale temp file"
[ ! -e "$d/lock" ] || it_fail "the refused start created lock"
rm -f "$d/zz"

# ---- a refused secret file: no boot counted
d="$(node_dir 1)"
mkdir -m 700 "$d"
printf '%s\n' 0123456789abcdef0123456789abcdef >"$IT_TMP/token"
chmod 600 "$IT_TMP/token"
ln -s "$IT_TMP/token" "$IT_TMP/token-link"
for _ in 1 2 3; do
  spored_once "$d" --api-token-file "$IT_TMP/token-link"
  [ "$RC" -eq 2 ] || it_fail "a linked --api-token-file: spored exited $RC: $OUT"
done
[ ! -e "$d/boot_count" ] || it_fail "3 refused starts counted $(cat "$d/boot_count") boots"

# ---- a FIFO at <state>/ota_trial: the node starts anyway (the old open() blocked for good)
mkfifo -m 600 "$d/ota_trial"
spawn_node 1
wait_until "node 1 answers HTTP with a FIFO at ota_trial" 10 node_answers 1
[ "$(tr -d '\n' <"$d/boot_count")" = 1 ] || it_fail "boot_count is '$(cat "$d/boot_count")', expected 1"
stop_node 1
log "PASS: link refused and its target untouched, refused starts change nothing, FIFO ignored"
