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

# back_with K VERSION SHA INC: node K answers with VERSION, SHA and an incarnation above INC.
back_with() {
  local st
  st="$(status_of "$1" 2>/dev/null)" || return 1
  [ "$(jq -r .firmwareVersion <<<"$st")" = "$2" ] && [ "$(jq -r .imageSha256 <<<"$st")" = "$3" ] &&
    [ "$(jq -r .incarnation <<<"$st")" -gt "$4" ]
}

# exe_is K SHA: node K's executable on disk holds SHA (an image becomes the executable once it
# proved healthy on trial: docs/ota.md) and no trial directory is left beside it.
exe_is() {
  [ "$(sha_of "$(exe_of "$1")")" = "$2" ] && [ -z "$(find "$IT_TMP/exe-$1" -name '.spored.trial-*')" ]
}

# compile_image DST KIND [VERSION]: a tiny C program as a "firmware image" (an ELF for this host):
#   crash        segfaults at once, also for --self-test
#   trial-crash  prints "spored VERSION self-test ok" for --self-test, otherwise segfaults after 0.2 s
#   trial-hang   the same, but otherwise sleeps forever (never healthy)
compile_image() {
  local dst="$1" kind="$2" version="${3:-6.6.6}" define
  command -v cc >/dev/null || it_fail "cc is required to build the test images"
  case "$kind" in
    crash) define=-DCRASH_ALWAYS ;;
    trial-crash) define=-DCRASH_LATER ;;
    trial-hang) define=-DHANG ;;
    *) it_fail "compile_image: unknown kind $kind" ;;
  esac
  cat >"$dst.c" <<'CEOF'
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static void crash(void) { signal(SIGSEGV, SIG_DFL); raise(SIGSEGV); }
int main(int argc, char** argv) {
#ifdef CRASH_ALWAYS
  crash();
#endif
  for (int i = 1; i < argc; ++i)
    if (strcmp(argv[i], "--self-test") == 0) { printf("spored %s self-test ok\n", VERSION); return 0; }
#ifdef HANG
  for (;;) pause();
#endif
  usleep(200000);
  crash();
  return 1;
}
CEOF
  cc -O1 -DVERSION="\"$version\"" "$define" -o "$dst" "$dst.c" || it_fail "cannot compile $dst.c"
  rm -f "$dst.c"
}

# runs_with PID TEXT: process PID is running and its command line contains TEXT.
runs_with() { [[ "$1" =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"; }

# adopt_node K: after a rollback node K runs in its guardian's process (another pid): take that
# pid from its state dir's lock file, so the test's cleanup stops it.
adopt_node() {
  local pid
  pid="$(tr -d ' \n' <"$(node_dir "$1")/lock" 2>/dev/null)"
  runs_with "$pid" "--state-dir $(node_dir "$1")" || return 1
  IT_PID[$1]="$pid"
}

# Called by lib.sh's it_cleanup before it stops the nodes: a guardian whose node is killed would
# restart the previous image behind the cleanup's back, so guardians go first; a node a guardian
# already restarted (another pid) is adopted so that it is stopped too.
it_before_cleanup() {
  local dir k g
  for dir in "$IT_TMP"/node-*; do
    [ -d "$dir" ] || continue
    k="${dir##*-}"
    g="$(sed -n 's/^guardian \([0-9][0-9]*\)$/\1/p' "$dir/ota_trial" 2>/dev/null)"
    if [ -n "$g" ] && runs_with "$g" "--ota-guardian"; then kill -KILL "$g" 2>/dev/null || true; fi
    adopt_node "$k" || true
  done
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
