#!/usr/bin/env bash
# ctl.sh's firmware verbs (build / build-firmware / flash / monitor) and `package`, without
# PlatformIO and without the network: PlatformIO missing (PATH stripped of it, HOME without
# ~/.platformio) gives the how-to-install message and the documented exit codes; a fake `pio`
# first on PATH records the command lines and WiFi variables ctl.sh hands it; `package` assembles
# the Arduino IDE library with the expected layout and includes that resolve.
source "$(dirname "$0")/lib.sh"
it_init 150 120

CTL="$IT_ROOT/ctl.sh"
FW="$IT_ROOT/firmware"
work="$IT_TMP/cwd"
home="$IT_TMP/home"
fake="$IT_TMP/fakebin"
bare="$IT_TMP/barebin"
mkdir -p "$work" "$home" "$fake" "$bare"
cd "$work"

# The caller's .env (the seed's format), read as text: the $(...) must never run.
printf '# API node IP for cluster management\nexport API_NODE=192.0.2.1\nexport WIFI_SSID="test net" # comment\nWIFI_PASSWORD=pw-s3cret # not part of it\nWIFI_UNUSED=$(touch %s/pwned)\n' \
  "$IT_TMP" >.env

# A PATH with only the tools ctl.sh needs for these verbs: no pio, no platformio.
for tool in env dirname sed tr cat wc nproc grep id sort find basename cp mkdir rm; do
  p="$(command -v "$tool")" || it_fail "test needs $tool"
  ln -s "$p" "$bare/$tool"
done

# The fake PlatformIO: its arguments one per line, then the WiFi variables it received.
cat >"$fake/pio" <<EOF
#!$BASH
{ printf 'ARG %s\n' "\$@"; printf 'SSID=%s\nPASS=%s\nENVFILE=%s\n' "\${WIFI_SSID-unset}" "\${WIFI_PASSWORD-unset}" "\${SPORE_ENV_FILE-unset}"; } >"$IT_TMP/pio.log"
exit "\${FAKE_PIO_EXIT:-0}"
EOF
chmod +x "$fake/pio"

expect_rc() { # expect_rc CODE COMMAND...: output (stdout + stderr) in $OUT; fails unless it exits CODE
  local want="$1" rc
  shift
  set +e
  OUT="$(timeout 60 "$@" 2>&1)"
  rc=$?
  set -e
  [ "$rc" -eq "$want" ] || it_fail "'$*' exited $rc, expected $want; output: $OUT"
}
expect_out() { grep -qF -- "$1" <<<"$OUT" || it_fail "${2:-output} lacks '$1': $OUT"; }
# ctl.sh with PlatformIO nowhere (nopio): the stripped PATH, a HOME without ~/.platformio;
# with the fake pio first on PATH (withpio).
clean=(env -u SPORE_PIO -u WIFI_SSID -u WIFI_PASSWORD -u SPORE_ENV_FILE -u SPORE_SKIP_HOST_BUILD HOME="$home")
nopio=("${clean[@]}" PATH="$bare" "$BASH" "$CTL")
withpio=("${clean[@]}" PATH="$fake:$bare" "$BASH" "$CTL")
pio_args() { sed -n 's/^ARG //p' "$IT_TMP/pio.log" | tr '\n' ' ' | sed 's/ $//'; }
pio_var() { sed -n "s/^$1=//p" "$IT_TMP/pio.log"; }

# ---- PlatformIO missing: exit 1 with how to install it
for verb in flash monitor build-firmware "build firmware"; do
  # shellcheck disable=SC2086
  expect_rc 1 "${nopio[@]}" $verb
  expect_out "PlatformIO is not installed" "'$verb' without PlatformIO"
  expect_out "pip install platformio" "'$verb' without PlatformIO"
  expect_out "pipx install platformio" "'$verb' without PlatformIO"
done
# SPORE_PIO pointing at nothing counts as missing too.
expect_rc 1 "${clean[@]}" SPORE_PIO=/nonexistent/pio "$CTL" flash
expect_out "PlatformIO is not installed"
# Plain build: the host part (skipped here) still counts, the firmware is skipped, exit 0.
expect_rc 0 "${clean[@]}" SPORE_SKIP_HOST_BUILD=1 PATH="$bare" "$BASH" "$CTL" build
expect_out "firmware skipped"
expect_out "pip install platformio"
[ ! -e "$IT_TMP/pwned" ] || it_fail ".env was run by a shell"

# ---- usage: --help exits 0, bad command lines exit 2 with a message (PlatformIO or not)
for verb in build build-firmware flash monitor; do
  expect_rc 0 "${nopio[@]}" "$verb" --help
  expect_out "./ctl.sh $verb" "$verb --help"
  expect_out "Usage:" "$verb --help"
done
expect_rc 2 "${nopio[@]}" flash --bogus
expect_out "unknown option '--bogus'"
expect_rc 2 "${withpio[@]}" monitor --env esp01s
expect_out "unknown option '--env'"
expect_rc 2 "${nopio[@]}" build-firmware --env esp32dev
expect_out "unknown firmware environment 'esp32dev'"
expect_out "esp01_1m esp01s"
expect_rc 2 "${nopio[@]}" build --env
expect_out "--env needs a value"
expect_rc 2 "${withpio[@]}" monitor --baud fast
expect_out "--baud must be a number"
expect_rc 2 "${withpio[@]}" flash /dev/ttyUSB0
expect_out "unexpected argument '/dev/ttyUSB0'"
expect_rc 2 "${withpio[@]}" build-firmware host
[ ! -e "$IT_TMP/pio.log" ] || it_fail "pio ran for a bad command line: $(cat "$IT_TMP/pio.log")"

# ---- the fake pio: exact command lines, WiFi credentials from the caller's .env
expect_rc 0 "${withpio[@]}" build-firmware --env esp01s
[ "$(pio_args)" = "run -d $FW -e esp01s" ] || it_fail "build-firmware ran: pio $(pio_args)"
[ "$(pio_var SSID)" = "test net" ] || it_fail "WIFI_SSID from .env: got '$(pio_var SSID)'"
[ "$(pio_var PASS)" = "pw-s3cret" ] || it_fail "WIFI_PASSWORD from .env: got '$(pio_var PASS)'"
# firmware/cluster_key.py reads (or generates) the cluster key in that same .env.
[ "$(pio_var ENVFILE)" = "$work/.env" ] || it_fail "SPORE_ENV_FILE for the key script: got '$(pio_var ENVFILE)'"
expect_out "test net"
grep -q "pw-s3cret" <<<"$OUT" && it_fail "the password was printed: $OUT"
expect_rc 0 "${withpio[@]}" build firmware --env=esp01_1m
[ "$(pio_args)" = "run -d $FW -e esp01_1m" ] || it_fail "build firmware ran: pio $(pio_args)"
# Plain build with PlatformIO present builds the firmware (host part skipped), default env.
rm -f "$IT_TMP/pio.log"
expect_rc 0 "${clean[@]}" SPORE_SKIP_HOST_BUILD=1 PATH="$fake:$bare" "$BASH" "$CTL" build
[ "$(pio_args)" = "run -d $FW -e esp01_1m" ] || it_fail "build ran: pio $(pio_args)"
# The environment wins over .env.
expect_rc 0 "${clean[@]}" WIFI_SSID=from-env PATH="$fake:$bare" "$BASH" "$CTL" build-firmware
[ "$(pio_var SSID)" = "from-env" ] || it_fail "WIFI_SSID from the environment: got '$(pio_var SSID)'"
[ "$(pio_var PASS)" = "pw-s3cret" ] || it_fail "WIFI_PASSWORD still from .env: got '$(pio_var PASS)'"
# A value the build flag cannot carry is refused, without printing it.
rm -f "$IT_TMP/pio.log"
expect_rc 1 "${clean[@]}" 'WIFI_PASSWORD=bad"pw' PATH="$fake:$bare" "$BASH" "$CTL" build-firmware
expect_out "WIFI_PASSWORD"
grep -qF 'bad"pw' <<<"$OUT" && it_fail "the refused password was printed: $OUT"
[ ! -e "$IT_TMP/pio.log" ] || it_fail "pio ran with a refused password"
# pio failing fails the build.
expect_rc 1 "${clean[@]}" FAKE_PIO_EXIT=3 PATH="$fake:$bare" "$BASH" "$CTL" build-firmware
expect_out "firmware build failed"
# flash and monitor: pio's command lines, pio's exit status.
expect_rc 0 "${withpio[@]}" flash --port /dev/null
[ "$(pio_args)" = "run -d $FW -e esp01_1m -t upload --upload-port /dev/null" ] || it_fail "flash ran: pio $(pio_args)"
[ "$(pio_var SSID)" = "test net" ] || it_fail "flash (which builds first) lacks WIFI_SSID: '$(pio_var SSID)'"
expect_rc 0 "${withpio[@]}" flash --env esp01s
[ "$(pio_args)" = "run -d $FW -e esp01s -t upload" ] || it_fail "flash --env ran: pio $(pio_args)"
expect_rc 0 "${withpio[@]}" monitor
[ "$(pio_args)" = "device monitor -d $FW -b 115200" ] || it_fail "monitor ran: pio $(pio_args)"
expect_rc 0 "${withpio[@]}" monitor --port /dev/null --baud 9600
[ "$(pio_args)" = "device monitor -d $FW -b 9600 -p /dev/null" ] || it_fail "monitor --port ran: pio $(pio_args)"
expect_rc 3 "${clean[@]}" FAKE_PIO_EXIT=3 PATH="$fake:$bare" "$BASH" "$CTL" flash
[ ! -e "$IT_TMP/pwned" ] || it_fail ".env was run by a shell"

# ---- package: the Arduino IDE library
pkgout="$IT_TMP/arduino"
expect_rc 2 "$CTL" package --bogus
expect_rc 0 "$CTL" package --out "$pkgout"
version="$(sed -n 's/^version=//p' "$IT_ROOT/library.properties")"
pkg="$pkgout/SPORE"
for f in library.properties README.md src/SPORE.h src/esp8266/node.h; do
  [ -f "$pkg/$f" ] || it_fail "package lacks $f"
done
cmp -s "$pkg/library.properties" "$IT_ROOT/library.properties" || it_fail "library.properties differs in the package"
pairs=("platform/esp8266/:src/esp8266/")
for d in "$IT_ROOT"/core/spore/*/; do pairs+=("core/spore/$(basename "$d")/:src/spore/$(basename "$d")/"); done
for dir in "${pairs[@]}"; do
  from="${dir%%:*}" to="${dir#*:}"
  for f in "$IT_ROOT/$from"*.h "$IT_ROOT/$from"*.cpp; do
    cmp -s "$f" "$pkg/$to$(basename "$f")" || it_fail "package: $to$(basename "$f") is not $from$(basename "$f")"
  done
  [ "$(find "$pkg/$to" -maxdepth 1 -type f | wc -l)" -eq "$(find "$IT_ROOT/$from" -maxdepth 1 \( -name '*.h' -o -name '*.cpp' \) | wc -l)" ] ||
    it_fail "package: $to has other files than $from*.h|*.cpp"
done
[ "$(find "$pkg/src/spore" -type f | wc -l)" -eq "$(find "$IT_ROOT/core/spore" \( -name '*.h' -o -name '*.cpp' \) | wc -l)" ] ||
  it_fail "package: src/spore has other files than core/spore"
n_ex=0
for ex in "$IT_ROOT"/examples/*/; do
  name="$(basename "$ex")"
  ino="$pkg/examples/$name/$name.ino"
  [ -f "$ino" ] || it_fail "package lacks examples/$name/$name.ino"
  grep -q '^#include <SPORE.h>' "$ino" || it_fail "examples/$name does not include <SPORE.h> (IDE library discovery)"
  n_ex=$((n_ex + 1))
done
[ "$n_ex" -ge 1 ] || it_fail "no examples in the repository"
# Every SPORE include in the package resolves inside src/ (or beside the including file).
unresolved=""
while IFS= read -r hit; do
  file="${hit%%:*}"
  inc="$(sed -E 's/.*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"].*/\1/' <<<"${hit#*:}")"
  [ -f "$pkg/src/$inc" ] || [ -f "$(dirname "$file")/$inc" ] || unresolved+=" ${file#"$pkg"/}:$inc"
done < <(grep -rE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](spore/|esp8266/|SPORE\.h)' "$pkg/src" "$pkg/examples")
[ -z "$unresolved" ] || it_fail "includes that do not resolve in the package:$unresolved"
zip="$pkgout/SPORE-$version.zip"
[ -f "$zip" ] || it_fail "no $zip"
python3 - "$zip" <<'PY' || it_fail "the zip's layout is wrong"
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
need = ["SPORE/library.properties", "SPORE/src/SPORE.h", "SPORE/src/esp8266/node.h", "SPORE/src/spore/node/node_context.h"]
missing = [n for n in need if n not in names]
outside = [n for n in names if not n.startswith("SPORE/")]
if missing or outside:
    sys.exit(f"missing {missing}, outside SPORE/: {outside[:5]}")
PY
# A library.properties field that breaks the specification stops the package (on a copy).
copy="$IT_TMP/repo-copy"
mkdir -p "$copy"
cp -r "$IT_ROOT/tools" "$IT_ROOT/core" "$IT_ROOT/examples" "$IT_ROOT/README.md" "$IT_ROOT/library.json" "$copy/"
mkdir -p "$copy/platform" && cp -r "$IT_ROOT/platform/esp8266" "$copy/platform/"
sed 's/^category=.*/category=Networking/' "$IT_ROOT/library.properties" >"$copy/library.properties"
expect_rc 1 "$copy/tools/arduino-package.sh" --out "$IT_TMP/bad-out" --no-zip
expect_out "category 'Networking'"

# ---- firmware/no_float_stdio.py: the PlatformIO post-script drops exactly the two forced symbols
python3 - "$IT_ROOT/firmware/no_float_stdio.py" <<'PY' || it_fail "no_float_stdio.py did not strip the float symbols"
import sys
class Env(dict):
    def Replace(self, **kw):
        self.update(kw)
env = Env(LINKFLAGS=["-Os", "-u", "app_entry", "-u", "_printf_float", "-Wl,-static", "-u", "_scanf_float",
                     "-u _printf_float", "-u", "_DebugExceptionVector"])
code = compile(open(sys.argv[1]).read(), sys.argv[1], "exec")
exec(code, {"Import": lambda name: None, "env": env})
want = ["-Os", "-u", "app_entry", "-Wl,-static", "-u", "_DebugExceptionVector"]
if env["LINKFLAGS"] != want:
    sys.exit(f"got {env['LINKFLAGS']}")
PY
grep -q '^extra_scripts = post:no_float_stdio.py' "$IT_ROOT/firmware/platformio.ini" ||
  it_fail "firmware/platformio.ini does not run no_float_stdio.py"

# ---- firmware/embed_dashboard.py: the PlatformIO pre-script generates the dashboard header into
# the build directory (never the source tree) and puts it on the include path
grep -qE '^ +pre:embed_dashboard.py' "$IT_ROOT/firmware/platformio.ini" ||
  it_fail "firmware/platformio.ini does not run embed_dashboard.py"
python3 - "$IT_ROOT/firmware/embed_dashboard.py" "$IT_ROOT/firmware" "$IT_TMP/pio-build" <<'PY' ||
import os, sys
class Env(dict):
    def subst(self, s):
        return {"$PROJECT_DIR": sys.argv[2], "$BUILD_DIR": sys.argv[3]}[s]
    def Append(self, **kw):
        for k, v in kw.items():
            self.setdefault(k, []).extend(v)
    def Exit(self, code):
        sys.exit(f"Exit({code})")
env = Env()
exec(compile(open(sys.argv[1]).read(), sys.argv[1], "exec"), {"Import": lambda name: None, "env": env})
header = os.path.join(sys.argv[3], "generated", "spore_dashboard_asset.h")
text = open(header).read()
if "kDashboardGzip[] SPORE_FLASH" not in text or env.get("CPPPATH") != [os.path.dirname(header)]:
    sys.exit(f"unexpected header or CPPPATH {env.get('CPPPATH')}")
PY
  it_fail "embed_dashboard.py did not generate the dashboard header"

log "ctl.sh firmware verbs and package behave as documented"
