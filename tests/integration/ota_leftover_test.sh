#!/usr/bin/env bash
# A node killed during an upload leaves its reserved temporary file `.spored.update.<pid>` beside
# the executable; on main it stayed forever and, on a small file system, ate the capacity until
# every update was refused as too_large (issue 15, finding 4). Here, on a tmpfs of its own: start,
# note the capacity, kill -9 the node while a slow upload has its space reserved, restart: the
# file is gone (and the log says so) and the capacity is what it was.
#
# Needs root for the tmpfs, which is mounted in a private mount namespace (unshare): it disappears
# with the test's last process, whatever happens; skipped (77) without root or unshare.
if [ "${SPORE_IN_MOUNT_NS:-}" != 1 ]; then
  if [ "$(id -u)" != 0 ] || ! unshare --mount --propagation private true 2>/dev/null; then
    echo "skipped: needs root and unshare for a private tmpfs"
    exit 77
  fi
  SPORE_IN_MOUNT_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ota_lib.sh"
it_init 138

fs="$IT_TMP/tmpfs"
mkdir -p "$fs"
exe_bytes="$(stat -c %s "$SPORED")"
# Room for the executable, the 16 MiB margin and one image of its size, plus 8 MiB.
size_kib=$(((2 * exe_bytes + 24 * 1024 * 1024) / 1024))
# Gone with the namespace when its last process exits, whatever happens to the script.
mount -t tmpfs -o "size=${size_kib}k" spore-ota-leftover "$fs" || it_fail "cannot mount a tmpfs on $fs"
mkdir -p "$fs/exe-1"
cp "$SPORED" "$fs/exe-1/spored"
rmdir "$IT_TMP/exe-1" 2>/dev/null || true
ln -s "$fs/exe-1" "$IT_TMP/exe-1"  # exe_of 1 and start_ota_node use it

# capacity_at_start N: the capacity the node's Nth start reported ("up to B bytes now").
capacity_at_start() {
  local c
  c="$(grep -Eo "updates: .*, up to [0-9]+ bytes now" "$(node_log 1)" | sed -n "${1}p" | grep -Eo "[0-9]+ bytes now" | cut -d' ' -f1)"
  [ -n "$c" ] && echo "$c"
}

start_ota_node 1
# The node answers HTTP before it logs its capacity.
wait_until "n1 logs its capacity" 10 capacity_at_start 1
cap0="$(capacity_at_start 1)"
[ -n "$cap0" ] && [ "$cap0" -gt "$exe_bytes" ] || it_fail "capacity at start is '$cap0', below the image size $exe_bytes"
log "capacity at the first start: $cap0 bytes (tmpfs of $size_kib KiB, image $exe_bytes bytes)"

patch_version "$SPORED" "$IT_TMP/image" 9.5.0
pid="$(node_pid 1)"
start_extra curl -s -o /dev/null --max-time 60 --limit-rate 100k -H "Authorization: Bearer $(token_of 1)" \
  -H "Content-Type: application/octet-stream" --data-binary "@$IT_TMP/image" "$(it_url 1)/api/node/update"
temp="$fs/exe-1/.spored.update.$pid"
reserved() { [ -e "$temp" ] && [ "$(du -B1 "$temp" | cut -f1)" -ge "$exe_bytes" ]; }
wait_until "the upload has reserved its space in $temp" 20 reserved
stop_node 1 KILL
[ -e "$temp" ] || it_fail "the temporary file vanished with the kill; the test proves nothing"
log "killed n1 (pid $pid) mid-upload; $temp holds $(du -B1 "$temp" | cut -f1) bytes"

start_ota_node 1
wait_until "n1 logs its capacity again" 10 capacity_at_start 2
[ ! -e "$temp" ] || it_fail "the restarted node left $temp"
grep -q "ota: removed $temp, the temporary file of an interrupted upload" "$(node_log 1)" ||
  it_fail "the restarted node does not log what it removed"
cap1="$(capacity_at_start 2)"
[ "$cap1" = "$cap0" ] || it_fail "capacity after the restart is $cap1 bytes, was $cap0"
log "after the restart: $temp removed, capacity $cap1 bytes as before"
# And the space is really there: the image installs.
upload 1 200 "" "an image as large as the executable after the restart" -H "Authorization: Bearer $(token_of 1)" \
  -H "Content-Type: application/octet-stream" --data-binary "@$IT_TMP/image"
