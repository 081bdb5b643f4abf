#!/usr/bin/env bash
# Downgrade protection for signed images (issue 18, finding 7; docs/ota.md §2a): a node with an OTA
# public key running 0.2.0 refuses a validly signed 0.0.9 (422 downgrade, with both versions in the
# JSON; `spore ota update` says so and exits 1) and a signed image without a version slot, and
# stays unchanged. The decision is the OTA key holder's AND the requester's: the 0.0.9 is refused
# even with `--allow-downgrade` until it is signed with `spore sign --allow-downgrade` (a marker in
# the version slot, inside the signed bytes); the marked image is refused without
# `--allow-downgrade`, and a proof made for the plain target does not turn it on from behind a
# fragment ("/api/node/update#?allow_downgrade=1": 400). With both, the 0.0.9 installs and the node
# comes back running it. Before issue 18 the 0.0.9 installed with "signed":true and no word; before
# the ota-fix round any token holder could downgrade with ?allow_downgrade=1 (or behind '#').
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ota_lib.sh"
it_init 222

keys="$IT_TMP/keys"
make_keys "$keys"
img="$IT_TMP/img"
mkdir -p "$img" "$IT_TMP/exe-1"
# The node runs 0.2.0: its own executable with that version in its slot.
patch_version "$SPORED" "$(exe_of 1)" 0.2.0
patch_version "$SPORED" "$img/old" 0.0.9
sign_image "$keys/private.key" "$img/old" "$img/old.signed"
# An image without any version slot (a release from before the slot, or not a SPORE build): the
# slot's marker overwritten, then signed.
python3 - "$img/old" "$img/noslot" <<'EOF'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
at = d.find(b"SPORE-VERSION-SLOT:")
d[at:at + 5] = b"XXXXX"
open(sys.argv[2], "wb").write(d)
EOF
sign_image "$keys/private.key" "$img/noslot" "$img/noslot.signed"

start_ota_node 1 --ota-public-key-file "$keys/public.key"
NODE="$(it_ip 1):$IT_HTTP_PORT"
TOKEN_FILE="$(node_dir 1)/api_token"
token="$(token_of 1)"
[ "$(status_of 1 | jq -r .firmwareVersion)" = 0.2.0 ] || it_fail "n1 does not run 0.2.0"
before="$(snapshot 1)"
read -r pid inc0 _ <<<"$before"

# ---- refused: REST (raw and multipart), the CLI
code="$(curl -s --max-time 60 -o "$IT_TMP/r.json" -w '%{http_code}' -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/octet-stream' --data-binary "@$img/old.signed" "$(it_url 1)/api/node/update")" || true
[ "$code" = 422 ] || it_fail "signed 0.0.9 over 0.2.0: HTTP $code, expected 422: $(head -c 300 "$IT_TMP/r.json")"
jq -e '.code == "downgrade" and .imageVersion == "0.0.9" and .runningVersion == "0.2.0" and (.error | test("older"))' \
  "$IT_TMP/r.json" >/dev/null || it_fail "the 422 does not say downgrade 0.0.9 < 0.2.0: $(cat "$IT_TMP/r.json")"
log "signed 0.0.9 over 0.2.0: 422 $(jq -c '{code, imageVersion, runningVersion}' "$IT_TMP/r.json")"
upload 1 422 downgrade "signed image without a version slot" -H "Authorization: Bearer $token" -F "firmware=@$img/noslot.signed"
jq -e '.imageVersion == ""' "$IT_TMP/upload.json" >/dev/null || it_fail "imageVersion of a slotless image: $(cat "$IT_TMP/upload.json")"
code="$(curl -s --max-time 10 -o "$IT_TMP/r.json" -w '%{http_code}' -H "Authorization: Bearer $token" \
  -F "firmware=@$img/old.signed" "$(it_url 1)/api/node/update?allow_downgrade=yes")" || true
[ "$code" = 400 ] && jq -e '.code == "bad_request"' "$IT_TMP/r.json" >/dev/null ||
  it_fail "allow_downgrade=yes: HTTP $code $(cat "$IT_TMP/r.json")"
rc=0
"$SPORE" ota update "$NODE" "$img/old.signed" --token-file "$TOKEN_FILE" >"$IT_TMP/cli.out" 2>"$IT_TMP/cli.err" || rc=$?
sed 's/^/  [spore] /' "$IT_TMP/cli.err" >&2
[ "$rc" -ne 0 ] || it_fail "spore ota update of the signed 0.0.9 exited 0"
grep -q 'downgrade' "$IT_TMP/cli.err" || it_fail "spore ota update does not say downgrade"
expect_unchanged 1 "$before" "the refused downgrades"
grep -q "older than the running '0.2.0'" "$(node_log 1)" || it_fail "n1's log does not name the refused downgrade"

# ---- the token holder alone: --allow-downgrade with an image the key holder did not mark
rc=0
"$SPORE" ota update "$NODE" "$img/old.signed" --token-file "$TOKEN_FILE" --allow-downgrade \
  >"$IT_TMP/cli.out" 2>"$IT_TMP/cli.err" || rc=$?
sed 's/^/  [spore] /' "$IT_TMP/cli.err" >&2
[ "$rc" -ne 0 ] && grep -q 'downgrade' "$IT_TMP/cli.err" ||
  it_fail "--allow-downgrade installed (or did not name the refusal of) an unmarked 0.0.9 (exit $rc)"

# ---- the key holder marks the 0.0.9 (inside the signed bytes)
"$SPORE" sign "$img/old" --key "$keys/private.key" --allow-downgrade --out "$img/marked.signed" >"$IT_TMP/sign.out" ||
  it_fail "spore sign --allow-downgrade failed"
grep -q "0.0.9+downgrade" "$IT_TMP/sign.out" || it_fail "spore sign does not name the marked version: $(cat "$IT_TMP/sign.out")"
"$SPORE" verify "$img/marked.signed" --key "$keys/public.key" >/dev/null || it_fail "the marked image does not verify"
head -c -260 "$img/marked.signed" >"$img/marked"  # the image part: RSA-2048 signature + 4-byte length off
# A marked image without the request's consent (a replayed one): refused.
upload 1 422 downgrade "marked 0.0.9 without allow_downgrade" -H "Authorization: Bearer $token" \
  -F "firmware=@$img/marked.signed"
# A proof for the plain target, the query hidden behind '#' (curl drops fragments: a raw request).
# canonical_target() cuts at '#'; before the fix http_query_param() read the '?' behind it. A small
# marked image (/bin/true with a 0.0.9 slot, under the 64 KB the buffered route takes: the
# attacker's /work/attack/ota/fragment_downgrade.sh) and the large one (the upload route).
python3 -c "import sys; d = open('/bin/true', 'rb').read(); open(sys.argv[1], 'wb').write(d + b'SPORE-VERSION-SLOT:0.0.9'.ljust(48, b'\0'))" \
  "$img/small"
"$SPORE" sign "$img/small" --key "$keys/private.key" --allow-downgrade --out "$img/small.signed" >/dev/null ||
  it_fail "spore sign --allow-downgrade of the small image failed"
for image in "$img/small.signed" "$img/marked.signed"; do
  python3 "$(dirname "$0")/raw_proof_upload.py" "$(it_ip 1)" "$IT_HTTP_PORT" "$token" "$image" \
    /api/node/update '/api/node/update#?allow_downgrade=1' >"$IT_TMP/frag.out" || it_fail "the raw request failed"
  log "$(basename "$image"): proof for /api/node/update sent on /api/node/update#?allow_downgrade=1: $(cat "$IT_TMP/frag.out")"
  grep -q "^HTTP/1.1 400 " "$IT_TMP/frag.out" && grep -q bad_request "$IT_TMP/frag.out" ||
    it_fail "a query behind '#' was not refused with 400 bad_request: $(cat "$IT_TMP/frag.out")"
done
expect_unchanged 1 "$before" "the marked image without consent"

# ---- allowed: a marked image, and the CLI sends ?allow_downgrade=1 under its request proof (which
# signs the query; OtaUploadTest.AllowDowngradeIsAQueryParameterTheProofSigns): the 0.0.9 installs.
"$SPORE" ota update "$NODE" "$img/marked.signed" --token-file "$TOKEN_FILE" --allow-downgrade \
  >"$IT_TMP/cli2.out" 2>"$IT_TMP/cli2.err" || { sed 's/^/  [spore] /' "$IT_TMP/cli2.err" >&2; it_fail "--allow-downgrade failed"; }
sed 's/^/  [spore] /' "$IT_TMP/cli2.err" >&2
sha="$(sha_of "$img/marked")"
wait_until "n1 back running 0.0.9+downgrade (sha ${sha:0:12})" 30 back_with 1 0.0.9+downgrade "$sha" "$inc0"
[ "$(node_pid 1)" = "$pid" ] && node_alive 1 || it_fail "n1 is not the same process"
grep -q "downgrade allowed" "$(node_log 1)" || it_fail "n1's log does not say the downgrade was allowed"
wait_until "the 0.0.9 image proves healthy and becomes the executable" 30 exe_is 1 "$sha"
log "PASS"
