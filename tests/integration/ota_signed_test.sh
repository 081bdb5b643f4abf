#!/usr/bin/env bash
# A node started with --ota-public-key-file accepts only images signed with the matching private
# key in the ESP8266 core's signed-update format (image || RSA-2048 PKCS#1 v1.5 SHA-256 signature ||
# uint32 LE length): unsigned, signed with another key, a corrupted signature and an image changed
# after signing get 422 and leave the node unchanged; a correctly signed image installs, and the
# node then runs (and reports) the image without the trailer. A bad key file stops spored with
# exit 2 and a sentence naming the file.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ota_lib.sh"
it_init 122

keys="$IT_TMP/keys"
make_keys "$keys"
make_keys "$keys/other"

# ---- bad key files: exit 2 at start, nothing started
bad_key() {
  local file="$1" want="$2" rc=0 out
  spored_command bin="$SPORED" bind="$(it_ip 9)" http_port="$IT_HTTP_PORT" udp_port="$IT_UDP_PORT" \
    state_dir="$IT_TMP/bad-key-state" key_file="$file"
  out="$("${SPAWN_CMD[@]}" 2>&1)" || rc=$?
  [ "$rc" -eq 2 ] || it_fail "spored with key file $file exited $rc, expected 2: $out"
  grep -q -- "$file" <<<"$out" && grep -qi -- "$want" <<<"$out" || it_fail "spored with key file $file said: $out"
  log "bad key file ($want): exit 2: $out"
}
printf 'not a key\n' >"$IT_TMP/garbage.key"
bad_key "$IT_TMP/garbage.key" "no usable RSA public key"
bad_key "$keys/private.key" "private key"
bad_key "$IT_TMP/missing.key" "cannot read"

start_ota_node 1 --ota-public-key-file "$keys/public.key"
grep -q "updates: signed only" "$(node_log 1)" || it_fail "n1 does not log that it takes signed images only"
token="$(token_of 1)"
auth=(-H "Authorization: Bearer $token")
before="$(snapshot 1)"
read -r pid inc0 _ <<<"$before"

img="$IT_TMP/img"
mkdir -p "$img"
patch_version "$SPORED" "$img/plain" 8.0.1
sign_image "$keys/private.key" "$img/plain" "$img/signed"
sign_image "$keys/other/private.key" "$img/plain" "$img/other-key"
# The signature's last byte flipped.
python3 - "$img/signed" "$img/bad-sig" <<'EOF'
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<I", d[-4:])[0]
d[-5] ^= 0x01
open(sys.argv[2], "wb").write(d)
EOF
# The image changed after signing (one byte in the version slot).
python3 - "$img/signed" "$img/tampered" <<'EOF'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
at = d.find(b"SPORE-VERSION-SLOT:8.0.1")
d[at + 19] = ord("9")
open(sys.argv[2], "wb").write(d)
EOF

upload 1 422 unsigned "unsigned image" "${auth[@]}" -F "firmware=@$img/plain"
upload 1 422 bad_signature "image signed with another key" "${auth[@]}" -F "firmware=@$img/other-key"
upload 1 422 bad_signature "corrupted signature" "${auth[@]}" -H "Content-Type: application/octet-stream" \
  --data-binary "@$img/bad-sig"
upload 1 422 bad_signature "image changed after signing" "${auth[@]}" -F "firmware=@$img/tampered"
expect_unchanged 1 "$before" "unsigned and mis-signed images"

sha="$(sha_of "$img/plain")"
upload 1 200 "" "correctly signed image" "${auth[@]}" -F "firmware=@$img/signed"
jq -e --arg s "$sha" --argjson n "$(stat -c %s "$img/plain")" '.signed == true and .sha256 == $s and .size == $n' \
  "$IT_TMP/upload.json" >/dev/null || it_fail "200 body: $(cat "$IT_TMP/upload.json")"
back() {
  local st
  st="$(status_of 1 2>/dev/null)" || return 1
  [ "$(jq -r .firmwareVersion <<<"$st")" = 8.0.1 ] && [ "$(jq -r .imageSha256 <<<"$st")" = "$sha" ] &&
    [ "$(jq -r .incarnation <<<"$st")" -gt "$inc0" ]
}
wait_until "n1 back with the signed image (version 8.0.1, sha ${sha:0:12})" 30 back
[ "$(node_pid 1)" = "$pid" ] && node_alive 1 || it_fail "n1 is not the same process"
wait_until "the image without its trailer proves healthy and becomes the executable" 30 exe_is 1 "$sha"
# The restarted node kept its key (same arguments): an unsigned image is still refused.
upload 1 422 unsigned "unsigned image after the restart" "${auth[@]}" -F "firmware=@$img/plain"
