#!/usr/bin/env bash
# The cluster key of the demo and the firmware build (issue 20, keyed by default), host-side with
# python3 alone: tools/cluster_key.py generates a key into .env once (0600, the rest of the file
# kept, never printed in full) and reuses it; the environment wins over .env; `open` opts out;
# a malformed key is refused and changes nothing; it reads .env exactly as tools/ctl/dotenv.sh
# does. firmware/cluster_key.py (the PlatformIO pre-script) runs under a stand-in for PlatformIO's
# SCons env and must hand the same key to the compiler as the SPORE_CLUSTER_KEY string macro.
source "$(dirname "$0")/lib.sh"
it_init 260 60
command -v python3 >/dev/null || it_fail "python3 is required"

KEYPY="$IT_ROOT/tools/cluster_key.py"
ROOT="$IT_ROOT" CALLER_PWD="$IT_TMP"
# shellcheck source=tools/ctl/dotenv.sh
source "$IT_ROOT/tools/ctl/dotenv.sh"  # dotenv_get: the reader ctl.sh and the CLI share
unset SPORE_CLUSTER_KEY SPORE_ENV_FILE
envf="$IT_TMP/env"
kf="$IT_TMP/cluster.key"

# run_key [VAR=VALUE...] -- ARGS: tools/cluster_key.py; stdout in $OUT, stderr in $ERR, status in $RC.
run_key() {
  local vars=()
  while [ "$1" != -- ]; do vars+=("$1"); shift; done
  shift
  set +e
  OUT="$(env "${vars[@]}" python3 "$KEYPY" "$@" 2>"$IT_TMP/err")"
  RC=$?
  set -e
  ERR="$(cat "$IT_TMP/err")"
}
key_in() { dotenv_get "$1" SPORE_CLUSTER_KEY; }
mode_of() { stat -c %a "$1"; }

# ---- first use: generated, 0600, kept afterwards
printf 'WIFI_SSID="home net" # comment\nexport API_NODE=10.0.0.5' >"$envf"  # no final newline
chmod 644 "$envf"
run_key -- --env-file "$envf" --key-file "$kf"
[ "$RC" -eq 0 ] && [ "$OUT" = keyed ] || it_fail "first run: rc $RC, '$OUT': $ERR"
key="$(key_in "$envf")"
[[ "$key" =~ ^[0-9a-f]{64}$ ]] || it_fail "no 64-hex-digit key in .env: $(cat "$envf")"
[ "$(mode_of "$envf")" = 600 ] || it_fail ".env mode $(mode_of "$envf") after the key went in, expected 600"
[ "$(dotenv_get "$envf" WIFI_SSID)" = "home net" ] && [ "$(dotenv_get "$envf" API_NODE)" = 10.0.0.5 ] ||
  it_fail "the .env's other settings changed: $(cat "$envf")"
[ "$(cat "$kf")" = "$key" ] && [ "$(mode_of "$kf")" = 600 ] || it_fail "--key-file: '$(cat "$kf")' mode $(mode_of "$kf")"
! grep -qF "$key" <<<"$OUT$ERR" || it_fail "the key was printed: $ERR"
grep -qF "${key:0:4}... (32 bytes) generated into $envf" <<<"$ERR" || it_fail "no 'generated' message: $ERR"
sum="$(sha256sum "$envf")"
run_key -- --env-file "$envf"
[ "$RC" -eq 0 ] && [ "$OUT" = keyed ] && [ "$(sha256sum "$envf")" = "$sum" ] || it_fail "second run changed .env or failed: $ERR"
grep -qF "from $envf" <<<"$ERR" || it_fail "second run: no 'from .env' message: $ERR"

# ---- the environment wins; 16-byte keys are keys; `open` (any case) opts out and removes --key-file
run_key SPORE_CLUSTER_KEY=00112233445566778899AABBCCDDEEFF -- --env-file "$envf" --key-file "$kf"
[ "$OUT" = keyed ] && [ "$(cat "$kf")" = 00112233445566778899aabbccddeeff ] || it_fail "environment key not used: $ERR"
for how in "SPORE_CLUSTER_KEY=open --" "SPORE_CLUSTER_KEY=OPEN --" "-- --open"; do
  # shellcheck disable=SC2086  # VAR=VALUE and -- as separate words
  run_key $how --env-file "$envf" --key-file "$kf"
  [ "$RC" -eq 0 ] && [ "$OUT" = open ] && [ ! -e "$kf" ] || it_fail "$how: rc $RC '$OUT', key file left: $ERR"
  grep -q "OPEN mode" <<<"$ERR" || it_fail "$how: no OPEN mode message: $ERR"
done
[ "$(sha256sum "$envf")" = "$sum" ] || it_fail "open mode changed .env"

# ---- malformed keys: exit 2, a message, nothing written
for bad in zz 0011223344556677889900112233445 "$(printf 'ab%.0s' {1..33})" "${key:0:62}gg"; do
  printf 'SPORE_CLUSTER_KEY=%s\n' "$bad" >"$IT_TMP/bad.env"
  run_key -- --env-file "$IT_TMP/bad.env" --key-file "$kf"
  [ "$RC" -eq 2 ] && [ -z "$OUT" ] && [ ! -e "$kf" ] || it_fail "key '$bad': rc $RC '$OUT'"
  grep -q "not a cluster key" <<<"$ERR" || it_fail "key '$bad': message '$ERR'"
  [ "$(cat "$IT_TMP/bad.env")" = "SPORE_CLUSTER_KEY=$bad" ] || it_fail "key '$bad': .env changed"
done

# ---- .env read as dotenv_get reads it (quotes, export, comments, the last one wins, empty = none)
cat >"$IT_TMP/tricky.env" <<EOF
SPORE_CLUSTER_KEY=$(printf '11%.0s' {1..16})
  export SPORE_CLUSTER_KEY = '$(printf '22%.0s' {1..16})' # quoted
# SPORE_CLUSTER_KEY=$(printf '33%.0s' {1..16})
SPORE_CLUSTER_KEY="$(printf '44%.0s' {1..20})"
EOF
run_key -- --env-file "$IT_TMP/tricky.env" --key-file "$kf"
[ "$(cat "$kf")" = "$(key_in "$IT_TMP/tricky.env")" ] || it_fail "tricky .env: python read '$(cat "$kf")', dotenv_get '$(key_in "$IT_TMP/tricky.env")'"
printf 'SPORE_CLUSTER_KEY=\n' >"$IT_TMP/empty.env"
run_key -- --env-file "$IT_TMP/empty.env" --key-file "$kf"
[ "$OUT" = keyed ] && [ "$(cat "$kf")" = "$(key_in "$IT_TMP/empty.env")" ] || it_fail "an empty key did not get a new one: $ERR"
run_key -- --env-file "$IT_TMP/no-such-dir/env"
[ "$RC" -eq 2 ] && grep -q "cannot write a new cluster key" <<<"$ERR" || it_fail "unwritable .env: rc $RC '$ERR'"

# ---- firmware/cluster_key.py under a stand-in for PlatformIO's SCons env
pio_script() { # pio_script ENV_FILE [VAR=VALUE...]: prints the CPPDEFINES it appended, or EXIT N
  local f="$1"
  shift
  env -u SPORE_CLUSTER_KEY SPORE_ENV_FILE="$f" "$@" python3 - "$IT_ROOT/firmware" <<'PY'
import builtins, runpy, sys
class Env:
    defines = []
    def subst(self, s): return {"$PROJECT_DIR": sys.argv[1]}[s]
    def Append(self, CPPDEFINES=()): self.defines += CPPDEFINES
    def StringifyMacro(self, v): return '\\"%s\\"' % v  # PlatformIO's, for a value without quotes
    def Exit(self, n): print("EXIT", n); sys.exit(0)
env = Env()
builtins.Import = lambda name: None
runpy.run_path(sys.argv[1] + "/cluster_key.py", init_globals={"env": env})
print(env.defines)
PY
}
out="$(pio_script "$envf" 2>&1)"
grep -qF "[('SPORE_CLUSTER_KEY', '\\\\\"$key\\\\\"')]" <<<"$out" || it_fail "firmware script: $out"
out="$(pio_script "$envf" SPORE_CLUSTER_KEY=open 2>&1)"
grep -qF "[]" <<<"$out" && grep -q "OPEN mode" <<<"$out" || it_fail "firmware script, open: $out"
out="$(pio_script "$IT_TMP/bad.env" 2>&1)"
grep -q "EXIT 1" <<<"$out" && grep -q "not a cluster key" <<<"$out" || it_fail "firmware script, bad key: $out"
rm -f "$IT_TMP/fresh.env"
out="$(pio_script "$IT_TMP/fresh.env" 2>&1)"
grep -qF "$(key_in "$IT_TMP/fresh.env")" <<<"$out" || it_fail "firmware script did not generate into a missing .env: $out"
log "cluster key: generated once into .env (0600), reused, never printed; environment first; open opts out; bad keys refused; firmware macro"
