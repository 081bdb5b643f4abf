#!/usr/bin/env bash
# `spore ota update`, `spore keygen`, `spore sign`, `spore verify` and the ctl.sh verbs against
# real spored processes: plain progress lines up to 100 % when stderr is not a terminal, the 401
# message without a token, a node that is unreachable, a file the node refuses, an update that
# comes back with the new image (multipart and --raw), an image the node already runs, a signed
# image to a node with a public key (and an unsigned one refused), the signed-file byte layout
# checked with the openssl command line.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ota_lib.sh"
it_init 142

BIN="$IT_TMP/images"
mkdir -p "$BIN"

field_of() { curl -sf --max-time 3 "$(it_url "$1")/api/node/status" | jq -r "$2"; }

# run_spore NAME ARGS...: runs spore with stdout/stderr in $IT_TMP/NAME.{out,err} (not a terminal);
# its exit status in RC.
RC=0
run_spore() {
  local name="$1"
  shift
  RC=0
  "$SPORE" "$@" >"$IT_TMP/$name.out" 2>"$IT_TMP/$name.err" || RC=$?
  sed "s/^/  [$name] /" "$IT_TMP/$name.err" "$IT_TMP/$name.out" >&2
}

# ---- keygen, sign, verify: the ESP8266 core's format, checked with openssl ------------------------
run_spore keygen keygen --out "$IT_TMP/keys"
[ "$RC" -eq 0 ] || it_fail "keygen exited $RC"
[ "$(stat -c %a "$IT_TMP/keys/private.key")" = 600 ] || it_fail "private.key is not mode 600"
head -1 "$IT_TMP/keys/public.key" | grep -qx -- '-----BEGIN PUBLIC KEY-----' || it_fail "public.key is not a PEM public key"
openssl rsa -in "$IT_TMP/keys/private.key" -noout -text 2>/dev/null | grep -q 'Private-Key: (2048 bit' ||
  it_fail "private.key is not an RSA-2048 key openssl reads"
run_spore keygen-again keygen --out "$IT_TMP/keys"
[ "$RC" -eq 1 ] && grep -q "refusing to replace" "$IT_TMP/keygen-again.err" || it_fail "keygen replaced existing keys"

patch_version "$SPORED" "$BIN/spored-7.0.1" 7.0.1
run_spore sign sign "$BIN/spored-7.0.1" --key "$IT_TMP/keys/private.key"
[ "$RC" -eq 0 ] || it_fail "sign exited $RC"
SIGNED="$BIN/spored-7.0.1.signed"
size=$(stat -c %s "$BIN/spored-7.0.1")
[ "$(stat -c %s "$SIGNED")" -eq $((size + 256 + 4)) ] || it_fail "signed file is not image + 256 + 4 bytes"
cmp -s -n "$size" "$BIN/spored-7.0.1" "$SIGNED" || it_fail "the signed file does not start with the image"
[ "$(tail -c 4 "$SIGNED" | od -An -tx1 | tr -d ' \n')" = 00010000 ] || it_fail "the length is not uint32 LE 256"
tail -c 260 "$SIGNED" | head -c 256 >"$IT_TMP/sig.bin"
openssl dgst -sha256 -verify "$IT_TMP/keys/public.key" -signature "$IT_TMP/sig.bin" "$BIN/spored-7.0.1" | grep -q 'Verified OK' ||
  it_fail "openssl does not verify the signature over the image"
openssl dgst -sha256 -sign "$IT_TMP/keys/private.key" "$BIN/spored-7.0.1" | cmp -s - "$IT_TMP/sig.bin" ||
  it_fail "the signature differs from what signing.py (openssl dgst -sha256 -sign) writes"
run_spore verify verify "$SIGNED" --key "$IT_TMP/keys/public.key"
[ "$RC" -eq 0 ] || it_fail "verify of a good signature exited $RC"
run_spore keygen-other keygen --out "$IT_TMP/other"
run_spore verify-other verify "$SIGNED" --key "$IT_TMP/other/public.key"
[ "$RC" -eq 1 ] && grep -q "does not verify" "$IT_TMP/verify-other.err" || it_fail "verify with another key did not fail"

# ---- one node, its own executable ---------------------------------------------------------------
start_ota_node 1
NODE="$(it_ip 1):$IT_HTTP_PORT"
TOKEN_FILE="$(node_dir 1)/api_token"
token_of 1 >/dev/null
inc0="$(field_of 1 .incarnation)"

# No token: 401 with a hint, nothing changes.
run_spore no-token --node "$NODE" ota update "$BIN/spored-7.0.1" --timeout 10
[ "$RC" -eq 1 ] || it_fail "update without a token exited $RC, want 1"
grep -q "HTTP 401" "$IT_TMP/no-token.err" || it_fail "no 'HTTP 401' in the message without a token"
grep -q -- "--token-file" "$IT_TMP/no-token.err" || it_fail "the 401 message does not say how to pass the token"
# A wrong token: the node cannot prove it holds it, so the image is not sent at all...
run_spore bad-token --node "$NODE" ota update "$BIN/spored-7.0.1" --token 0123456789abcdef0123456789abcdef
[ "$RC" -eq 1 ] && grep -q "not sent: .*did not prove it holds the API token" "$IT_TMP/bad-token.err" ||
  it_fail "a wrong token is not reported before sending"
! grep -q "upload " "$IT_TMP/bad-token.err" || it_fail "the image was sent with a token the node does not hold"
# ...and with --bearer (the token itself) it is refused by the node, with another hint.
run_spore bad-bearer --node "$NODE" ota update "$BIN/spored-7.0.1" --bearer --token 0123456789abcdef0123456789abcdef
[ "$RC" -eq 1 ] && grep -q "HTTP 401" "$IT_TMP/bad-bearer.err" && grep -q "token was refused" "$IT_TMP/bad-bearer.err" ||
  it_fail "a wrong bearer token is not reported as refused"
[ "$(field_of 1 .incarnation)" = "$inc0" ] || it_fail "the node restarted after refused uploads"

# A file the node refuses (an ESP8266 image, 0xE9, to a Linux node): a 4xx with the node's reason,
# node unchanged. (A file that is no image at all the CLI refuses itself: cli_usability_test.sh.)
{ printf '\xe9'; head -c 99999 /dev/urandom; } >"$BIN/noise.bin"
run_spore noise --node "$NODE" ota update "$BIN/noise.bin" --token-file "$TOKEN_FILE"
[ "$RC" -eq 1 ] && grep -Eq "HTTP 4[0-9][0-9]" "$IT_TMP/noise.err" || it_fail "a non-ELF file was not refused with a 4xx"
[ "$(field_of 1 .incarnation)" = "$inc0" ] || it_fail "the node restarted after a refused image"

# Nothing listening: a clear message, exit 1.
run_spore unreachable ota update "$(it_ip 9):$IT_HTTP_PORT" "$BIN/spored-7.0.1" --timeout 5 --http-timeout 2
[ "$RC" -eq 1 ] && grep -q "cannot reach" "$IT_TMP/unreachable.err" || it_fail "an unreachable node is not reported"
# A missing file: usage error before any request.
run_spore nofile --node "$NODE" ota update "$BIN/does-not-exist" --token-file "$TOKEN_FILE"
[ "$RC" -eq 2 ] || it_fail "a missing file exited $RC, want 2"

# A good image, multipart, stderr not a terminal: plain progress lines up to 100 %, then back.
run_spore update --node "$NODE" ota update "$BIN/spored-7.0.1" --token-file "$TOKEN_FILE" --timeout 30
[ "$RC" -eq 0 ] || it_fail "the update exited $RC"
grep -Eq '^upload +0%' "$IT_TMP/update.err" || it_fail "no 0 % progress line"
grep -Eq '^upload 100%  .* in [0-9]+:[0-9]{2}$' "$IT_TMP/update.err" || it_fail "no 100 % progress line"
lines=$(grep -c '^upload ' "$IT_TMP/update.err")
[ "$lines" -ge 3 ] && [ "$lines" -le 40 ] || it_fail "$lines progress lines (want a few, one per 10 % or second)"
grep -q $'\r' "$IT_TMP/update.err" && it_fail "carriage returns in the progress on a pipe"
grep -q "updated in .* back ACTIVE with image $(sha_of "$BIN/spored-7.0.1" | cut -c1-12), version 7.0.1" "$IT_TMP/update.out" ||
  it_fail "no result line with the new image and version"
[ "$(field_of 1 .imageSha256)" = "$(sha_of "$BIN/spored-7.0.1")" ] || it_fail "the node does not report the new imageSha256"
[ "$(field_of 1 .firmwareVersion)" = 7.0.1 ] || it_fail "the node does not report version 7.0.1"
inc1="$(field_of 1 .incarnation)"
[ "$inc1" -gt "$inc0" ] || it_fail "incarnation did not grow"

# The same image again: nothing sent, exit 0, no restart (through ctl.sh's seed verb).
rc=0
SPORE="$SPORE" "$IT_ROOT/ctl.sh" ota update "$NODE" "$BIN/spored-7.0.1" --token-file "$TOKEN_FILE" \
  >"$IT_TMP/same.out" 2>"$IT_TMP/same.err" || rc=$?
cat "$IT_TMP/same.err" "$IT_TMP/same.out" >&2
[ "$rc" -eq 0 ] && grep -q "already runs image" "$IT_TMP/same.out" || it_fail "ctl.sh ota update of the running image did not say 'already runs'"
[ "$(field_of 1 .incarnation)" = "$inc1" ] || it_fail "the node restarted for an image it already runs"

# --raw (application/octet-stream) and --json.
patch_version "$SPORED" "$BIN/spored-7.0.2" 7.0.2
run_spore raw --node "$NODE" ota update "$BIN/spored-7.0.2" --raw --json --token-file "$TOKEN_FILE" --timeout 30
[ "$RC" -eq 0 ] || it_fail "the --raw update exited $RC"
jq -e '.ok == true and .result == "updated" and .waited == true and .firmwareVersion == "7.0.2"' "$IT_TMP/raw.out" >/dev/null ||
  it_fail "--json did not report the update: $(cat "$IT_TMP/raw.out")"
[ "$(field_of 1 .firmwareVersion)" = 7.0.2 ] || it_fail "the node does not run 7.0.2 after --raw"

# ---- a node with a public key: signed images only ------------------------------------------------
start_ota_node 2 --ota-public-key-file "$IT_TMP/keys/public.key"
NODE2="$(it_ip 2):$IT_HTTP_PORT"
inc2="$(field_of 2 .incarnation)"
run_spore unsigned --node "$NODE2" ota update "$BIN/spored-7.0.2" --token-file "$(node_dir 2)/api_token"
[ "$RC" -eq 1 ] && grep -Eq "HTTP 4[0-9][0-9]" "$IT_TMP/unsigned.err" || it_fail "an unsigned image was not refused by a node with a key"
[ "$(field_of 2 .incarnation)" = "$inc2" ] || it_fail "node 2 restarted after refusing an unsigned image"
run_spore signed --node "$NODE2" ota update "$SIGNED" --token-file "$(node_dir 2)/api_token" --timeout 30
[ "$RC" -eq 0 ] || it_fail "the signed update exited $RC"
grep -q "signed (256-byte signature)" "$IT_TMP/signed.err" || it_fail "the CLI did not recognise the signed file"
[ "$(field_of 2 .firmwareVersion)" = 7.0.1 ] || it_fail "node 2 does not run the signed 7.0.1"
log "ota update: progress, 401, refusals, multipart, raw, signed: as expected"
