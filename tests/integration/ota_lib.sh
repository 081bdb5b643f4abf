# shellcheck shell=bash
# Helpers for the POST /api/node/update tests (ota_*_test.sh), sourced after lib.sh.
#
# Every node runs its own copy of spored (an update renames a new executable over the running one,
# which must never touch the build tree or another node's binary): start_ota_node K copies $SPORED
# to $IT_TMP/exe-K/spored and starts that copy.
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }
command -v openssl >/dev/null || { echo "openssl is required" >&2; exit 1; }
command -v sha256sum >/dev/null || { echo "sha256sum is required" >&2; exit 1; }

exe_of() { printf '%s/exe-%s/spored' "$IT_TMP" "$1"; }

# start_ota_node K [spored args...]
start_ota_node() {
  local k="$1"
  shift
  mkdir -p "$IT_TMP/exe-$k"
  [ -f "$(exe_of "$k")" ] || cp "$SPORED" "$(exe_of "$k")"
  SPORED="$(exe_of "$k")" start_node "$k" "$@"
}

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# patch_version SRC DST VERSION: a copy of SRC whose version slot (platform/posix/version.h:
# "SPORE-VERSION-SLOT:" + version, NUL-padded to 48 bytes) says VERSION.
patch_version() {
  python3 - "$1" "$2" "$3" <<'EOF' || it_fail "cannot patch the version slot of $1"
import os, sys
src, dst, version = sys.argv[1], sys.argv[2], sys.argv[3].encode()
data = bytearray(open(src, "rb").read())
prefix = b"SPORE-VERSION-SLOT:"
at = data.find(prefix)
if at < 0 or data.find(prefix, at + 1) >= 0 or len(prefix) + len(version) >= 48:
    sys.exit("expected exactly one version slot and a version of at most 28 characters")
data[at:at + 48] = (prefix + version).ljust(48, b"\0")
open(dst, "wb").write(data)
os.chmod(dst, 0o755)
EOF
}

# sign_image KEY SRC DST: SRC || RSA-SHA256 signature || uint32 LE signature length, the ESP8266
# Arduino core's signed-update format (its tools/signing.py).
sign_image() {
  local key="$1" src="$2" dst="$3"
  openssl dgst -sha256 -sign "$key" -out "$dst.sig" "$src" || it_fail "openssl cannot sign $src"
  python3 - "$src" "$dst.sig" "$dst" <<'EOF' || it_fail "cannot assemble the signed image $dst"
import struct, sys
image, sig = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
open(sys.argv[3], "wb").write(image + sig + struct.pack("<I", len(sig)))
EOF
  rm -f "$dst.sig"
}

# make_keys DIR: DIR/private.key (RSA-2048) and DIR/public.key (PEM SubjectPublicKeyInfo).
make_keys() {
  mkdir -p "$1"
  openssl genrsa -out "$1/private.key" 2048 2>/dev/null || it_fail "openssl genrsa failed"
  openssl rsa -in "$1/private.key" -pubout -out "$1/public.key" 2>/dev/null || it_fail "openssl rsa -pubout failed"
}

status_of() { curl -sf --max-time 3 "$(it_url "$1")/api/node/status"; }

# What must not change when an upload is refused: pid, incarnation, image hash, version, the
# executable on disk, and no temporary file left beside it.
snapshot() {
  local k="$1" st
  st="$(status_of "$k")" || it_fail "node $k does not answer"
  printf '%s %s %s %s %s\n' "$(node_pid "$k")" "$(jq -r .incarnation <<<"$st")" "$(jq -r .imageSha256 <<<"$st")" \
    "$(jq -r .firmwareVersion <<<"$st")" "$(sha_of "$(exe_of "$k")")"
}

# expect_unchanged K SNAPSHOT WHAT
expect_unchanged() {
  local k="$1" before="$2" what="$3" now
  node_alive "$k" || { show_log "$k"; it_fail "node $k died after: $what"; }
  now="$(snapshot "$k")"
  [ "$now" = "$before" ] || it_fail "node $k changed after $what: '$before' -> '$now'"
  local leftovers
  leftovers="$(find "$IT_TMP/exe-$k" -name '.spored.update.*' | head -3)"
  [ -z "$leftovers" ] || it_fail "temporary files left after $what: $leftovers"
}

# upload K EXPECTED_STATUS EXPECTED_CODE WHAT CURL_ARGS...: POST /api/node/update, checks the
# status and (for errors) the JSON error code; the body is left in $IT_TMP/upload.json.
upload() {
  local k="$1" want="$2" code="$3" what="$4" got
  shift 4
  got="$(curl -s --max-time 60 -o "$IT_TMP/upload.json" -w '%{http_code}' "$@" "$(it_url "$k")/api/node/update")" || true
  [ "$got" = "$want" ] || it_fail "$what: HTTP $got, expected $want: $(head -c 400 "$IT_TMP/upload.json" 2>/dev/null)"
  if [ "$want" != 200 ]; then
    jq -e --arg c "$code" '(.error | type == "string" and length > 0) and .code == $c' "$IT_TMP/upload.json" >/dev/null ||
      it_fail "$what: expected a JSON error with code $code, got: $(head -c 400 "$IT_TMP/upload.json")"
  fi
  log "$what: HTTP $got $(jq -c '{code, error, size, sha256} | with_entries(select(.value != null))' "$IT_TMP/upload.json" 2>/dev/null)"
}
