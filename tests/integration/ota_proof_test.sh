#!/usr/bin/env bash
# An image is proven before it replaces anything (issue 15, B; docs/ota.md): each of these gets a
# 422 and leaves the node exactly as it was (same pid, incarnation, imageSha256, version, executable
# file, no temporary or trial file):
#  - the first 1,000 bytes of spored (right magic, truncated: main installed and exec()ed it, and
#    the node segfaulted for good): bad_image;
#  - spored with its program header table pointing past the end of the file: bad_image;
#  - a valid ELF that segfaults at start (a tiny C program), i.e. at its trial run: self_test_failed.
# Then a good image still installs and, once healthy, becomes the node's executable.
# Prints the time each refusal took (docs/ota.md, "Measured").
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ota_lib.sh"
it_init 136

start_ota_node 1
token="$(token_of 1)"
auth=(-H "Authorization: Bearer $token")
before="$(snapshot 1)"
log "n1: $before"

img="$IT_TMP/img"
mkdir -p "$img"
head -c 1000 "$SPORED" >"$img/truncated"
python3 - "$SPORED" "$img/corrupt" <<'EOF_PY' || it_fail "cannot build the corrupt image"
import struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
# e_phoff: 8 bytes at 32 in a 64-bit ELF, 4 bytes at 28 in a 32-bit one (little-endian hosts).
if data[4] == 2:
    struct.pack_into("<Q", data, 32, len(data) + 4096)
else:
    struct.pack_into("<I", data, 28, len(data) + 4096)
open(sys.argv[2], "wb").write(data)
EOF_PY
compile_image "$img/crash" crash

# refused K FILE CODE WHAT: uploads FILE (raw), expects 422 CODE, the node unchanged, and logs the time.
refused() {
  local file="$1" code="$2" what="$3" t0 ms
  t0="$(now_ms)"
  upload 1 422 "$code" "$what" "${auth[@]}" -H "Content-Type: application/octet-stream" --data-binary "@$file"
  ms=$(($(now_ms) - t0))
  expect_unchanged 1 "$before" "$what"
  [ -z "$(find "$IT_TMP/exe-1" -name '.spored.trial-*')" ] || it_fail "a trial directory was left after: $what"
  log "measured: $what refused ($code) in $ms ms, $(stat -c %s "$file") bytes"
}
refused "$img/truncated" bad_image "the first 1000 bytes of spored"
grep -q "ota: the image cannot run here: .*beyond the image's 1000 bytes" "$(node_log 1)" ||
  it_fail "n1's log does not say why the truncated image was refused"
refused "$img/corrupt" bad_image "spored with its program headers past the end"
grep -q "program header table .* lies beyond the image's" "$(node_log 1)" || it_fail "n1's log does not name the program headers"
refused "$img/crash" self_test_failed "an ELF that segfaults at start"
grep -q "failed its trial run (--self-test): it was killed by signal 11" "$(node_log 1)" ||
  it_fail "n1's log does not say the trial run crashed"

# ---- a good image still installs, runs on trial and becomes the executable
read -r pid inc0 _ <<<"$before"
patch_version "$SPORED" "$img/good" 9.3.0
sha="$(sha_of "$img/good")"
upload 1 200 "" "good image after the refusals" "${auth[@]}" -F "firmware=@$img/good"
wait_until "n1 back with version 9.3.0" 30 back_with 1 9.3.0 "$sha" "$inc0"
[ "$(node_pid 1)" = "$pid" ] && node_alive 1 || it_fail "n1 is not the same process after the update"
grep -Eq "ota: the new image passed its checks and its trial run \('spored 9.3.0 self-test ok', [0-9]+ ms\)" "$(node_log 1)" ||
  it_fail "n1's log does not show the trial run of 9.3.0"
log "measured: $(grep -Eo "'spored 9.3.0 self-test ok', [0-9]+ ms" "$(node_log 1)" | tail -1) (self-test of a good image)"
wait_until "9.3.0 proves healthy and becomes n1's executable" 30 exe_is 1 "$sha"
grep -q "ota: this image proved healthy after" "$(node_log 1)" || it_fail "n1's log does not say the image was promoted"
[ ! -e "$(node_dir 1)/ota_trial" ] || it_fail "the trial marker is left after the promotion"
