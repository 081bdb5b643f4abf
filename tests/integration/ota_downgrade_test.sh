#!/usr/bin/env bash
# Downgrade protection for signed images (issue 18, finding 7; docs/ota.md, "Downgrades"): a node
# with an OTA public key running 0.2.0 refuses a validly signed 0.0.9 (422 downgrade, with both
# versions in the JSON; `spore ota update` says so and exits 1) and a signed image without a
# version slot, and stays unchanged; `--allow-downgrade` (the query allow_downgrade=1, which the
# request proof signs) installs the 0.0.9, and the node comes back running it. Before issue 18 the 0.0.9 installed
# with "signed":true and no word.
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

# ---- allowed: the CLI sends ?allow_downgrade=1 under its request proof (which signs the query;
# OtaUploadTest.AProofForThePlainTargetDoesNotAllowADowngrade), and the 0.0.9 installs.
"$SPORE" ota update "$NODE" "$img/old.signed" --token-file "$TOKEN_FILE" --allow-downgrade \
  >"$IT_TMP/cli2.out" 2>"$IT_TMP/cli2.err" || { sed 's/^/  [spore] /' "$IT_TMP/cli2.err" >&2; it_fail "--allow-downgrade failed"; }
sed 's/^/  [spore] /' "$IT_TMP/cli2.err" >&2
sha="$(sha_of "$img/old")"
wait_until "n1 back running 0.0.9 (sha ${sha:0:12})" 30 back_with 1 0.0.9 "$sha" "$inc0"
[ "$(node_pid 1)" = "$pid" ] && node_alive 1 || it_fail "n1 is not the same process"
grep -q "downgrade allowed" "$(node_log 1)" || it_fail "n1's log does not say the downgrade was allowed"
wait_until "the 0.0.9 image proves healthy and becomes the executable" 30 exe_is 1 "$sha"
log "PASS"
