#!/usr/bin/env bash
# Builds the SPORE ESP-01 firmware (firmware/src/main.cpp + platform/esp8266 + core) as a 32-bit
# Linux program: an emulated board whose only network stack is lwIP 2.1.3 on a TAP device, whose
# heap is the core's umm_malloc over the chip's heap region, and whose flash is a 1 MB file with
# the eagle.flash.1m64.ld layout. See docs/esp8266-runtime.md.
#
# usage: tools/esp8266-host/build.sh ARDUINO AWS ATCP LWIP BEARSSL [OUTDIR]
#   ARDUINO  esp8266/Arduino at tag 3.1.2 (a git clone: tests/host is needed)
#   AWS      ESP32Async/ESPAsyncWebServer at tag v3.12.0
#   ATCP     ESP32Async/ESPAsyncTCP at tag v2.0.0
#   LWIP     lwIP at tag STABLE-2_1_3_RELEASE (the chip's lwip2 is this release plus glue)
#   BEARSSL  earlephilhower/bearssl-esp8266 (the core's tools/sdk/ssl submodule, b024386)
#   OUTDIR   default build/esp8266-host
# env: SPORE_HOST_MQTT=<256dpi/arduino-mqtt v2.5.3> builds the esp01_1m_mqtt variant.
# Never downloads anything. Needs gcc/g++ with -m32 (Debian: g++-multilib).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/tools/esp8266-host"
# shellcheck source=../run-all.sh
source "$ROOT/tools/run-all.sh"
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }
fail() { echo "esp8266-host build: $*" >&2; exit 1; }
[[ ${1:-} == -h || ${1:-} == --help ]] && { usage; exit 0; }
[[ $# -ge 5 ]] || { usage >&2; exit 2; }
abs() { (cd "$1" 2>/dev/null && pwd) || fail "no such directory: $1"; }
ARDUINO="$(abs "$1")" AWS="$(abs "$2")" ATCP="$(abs "$3")" LWIP="$(abs "$4")" BEARSSL="$(abs "$5")"
OUT="${6:-$ROOT/build/esp8266-host}"
MQTT="${SPORE_HOST_MQTT:-}"
[[ -f $ARDUINO/tests/host/common/mock.h && -f $ARDUINO/cores/esp8266/umm_malloc/umm_malloc.cpp ]] ||
  fail "$ARDUINO is not esp8266/Arduino 3.1.2 with tests/host (git clone --branch 3.1.2 https://github.com/esp8266/Arduino)"
grep -q '^version=3.1.2' "$ARDUINO/platform.txt" || fail "$ARDUINO: platform.txt is not version=3.1.2 (need tag 3.1.2)"
[[ -f $AWS/src/ESPAsyncWebServer.h ]] || fail "$AWS is not ESPAsyncWebServer (need ESP32Async/ESPAsyncWebServer v3.12.0)"
[[ -f $ATCP/src/ESPAsyncTCP.h ]] || fail "$ATCP is not ESPAsyncTCP (need ESP32Async/ESPAsyncTCP v2.0.0)"
[[ -f $LWIP/src/include/lwip/init.h ]] || fail "$LWIP is not lwIP (need tag STABLE-2_1_3_RELEASE)"
grep -q 'LWIP_VERSION_REVISION *3$' "$LWIP/src/include/lwip/init.h" || fail "$LWIP is not lwIP 2.1.3 (need tag STABLE-2_1_3_RELEASE)"
[[ -f $BEARSSL/inc/bearssl.h ]] || fail "$BEARSSL is not BearSSL (need earlephilhower/bearssl-esp8266)"
echo 'int main(){return sizeof(long) == 4 ? 0 : 1;}' | g++ -m32 -x c++ - -o "/tmp/spore-m32-$$" 2>/dev/null &&
  "/tmp/spore-m32-$$" || { rm -f "/tmp/spore-m32-$$"; fail "g++ -m32 does not work: apt-get install g++-multilib"; }
rm -f "/tmp/spore-m32-$$"
mkdir -p "$OUT/obj" "$OUT/generated"

# --- Sources -------------------------------------------------------------------------------------
# The core's own files run as on the chip wherever they do not touch registers or the SDK blobs;
# what the SDK blobs and the chip do (WiFi, flash, RTC memory, reset, watchdog) is our glue
# (board_*.cpp here). Of tests/host (the core's host emulation) only the UART, pin and tool mocks
# are used; its socket-based UdpContext/ClientContext and its lwIP stubs are not: UDP and TCP go
# through the real UdpContext.h/ClientContext.h and ESPAsyncTCP on real lwIP.
C=cores/esp8266  # no spaces: the lists below split on purpose
# shellcheck disable=SC2206
CORE_SRC=($C/Esp.cpp $C/WString.cpp $C/Print.cpp $C/Stream.cpp $C/StreamSend.cpp $C/IPAddress.cpp
  $C/Updater.cpp $C/MD5Builder.cpp $C/base64.cpp $C/libb64/cdecode.cpp $C/libb64/cencode.cpp
  $C/stdlib_noniso.cpp $C/crc32.cpp $C/Schedule.cpp $C/LwipIntf.cpp $C/LwipIntfCB.cpp $C/debug.cpp
  $C/HardwareSerial.cpp $C/heap.cpp $C/cbuf.cpp $C/umm_malloc/umm_malloc.cpp
  $C/TypeConversion.cpp $C/time.cpp
  $C/FunctionalInterrupt.cpp $C/core_esp8266_eboot_command.cpp $C/core_esp8266_noniso.cpp $C/FS.cpp $C/Esp-frag.cpp
  $C/LwipDhcpServer.cpp $C/LwipDhcpServer-NonOS.cpp $C/sqrt32.cpp
  libraries/ESP8266WiFi/src/ESP8266WiFi.cpp libraries/ESP8266WiFi/src/ESP8266WiFiAP.cpp
  libraries/ESP8266WiFi/src/ESP8266WiFiGeneric.cpp libraries/ESP8266WiFi/src/ESP8266WiFiSTA.cpp
  libraries/ESP8266WiFi/src/ESP8266WiFiScan.cpp libraries/ESP8266WiFi/src/ESP8266WiFiGratuitous.cpp
  libraries/ESP8266WiFi/src/WiFiClient.cpp libraries/ESP8266WiFi/src/WiFiServer.cpp
  libraries/ESP8266WiFi/src/WiFiUdp.cpp libraries/EEPROM/EEPROM.cpp libraries/DNSServer/src/DNSServer.cpp
  libraries/Hash/src/Hash.cpp
  tests/host/common/MockUART.cpp tests/host/common/HostWiring.cpp tests/host/common/WMath.cpp
  tests/host/common/strl.cpp tests/host/common/noniso.c tests/host/common/md5.c)
GLUE_SRC=(board_main.cpp board_esp.cpp board_sdk.cpp board_flash.cpp board_heap.cpp)

# --- Flags ---------------------------------------------------------------------------------------
# The mock's own flags (tests/host/Makefile: -m32, HOST_MOCK, NONOSDK221, the mock.h and c_types.h
# pre-includes) plus the firmware's defines from tools/firmware-link.sh (lwIP2 536-feat, the
# esp01_1m board, platformio.ini's build_flags).
COMMON=(-m32 -Os -g -fno-common -funsigned-char -fstack-protector-all -DHOST_MOCK=1 -DNONOSDK221=1
  -DF_CPU=80000000 -DLWIP_IPV6=0 -DLWIP_OPEN_SRC -DTCP_MSS=536 -DLWIP_FEATURES=1 -DESP8266
  -DARDUINO_ARCH_ESP8266 -DARDUINO_ESP8266_ESP01 '-DARDUINO_BOARD="PLATFORMIO_ESP01_1M"'
  -DPIO_FRAMEWORK_ARDUINO_LWIP2_LOW_MEMORY -DSPORE_ESP8266_HOST=1
  -I"$ROOT/core" -I"$ROOT/platform" "-DWIFI_SSID=\"${SPORE_HOST_WIFI_SSID-spore-bed}\"" "-DWIFI_PASSWORD=\"${SPORE_HOST_WIFI_PASSWORD-spore-bed-pass}\"")
PREINC=(-include "$ARDUINO/tests/host/common/mock.h" -include "$ARDUINO/tests/host/common/c_types.h")
# The real libraries come before tests/host/common, whose include/UdpContext.h, include/ClientContext.h
# and EEPROM.h are the socket-based mocks this bed replaces with lwIP.
GLUE="${SPORE_HOST_GLUE_DIR:-$HERE}"
INC=(-I"$GLUE/lwip-include" -I"$HERE" -I"$GLUE" -I"$OUT/generated" -I"$ARDUINO/libraries/ESP8266WiFi/src" -I"$ARDUINO/libraries/EEPROM"
  -I"$ARDUINO/tests/host" -I"$ARDUINO/tests/host/common"
  -I"$ARDUINO/cores/esp8266" -I"$LWIP/src/include" -I"$ARDUINO/tools/sdk/lwip2/include"
  -I"$ARDUINO/tools/sdk/include"
  -I"$ARDUINO/libraries/DNSServer/src" -I"$ARDUINO/libraries/Hash/src" -I"$ATCP/src" -I"$AWS/src")
ENV_FLAGS=()
if [[ -n $MQTT ]]; then
  [[ -f $MQTT/src/MQTT.h ]] || fail "$MQTT is not arduino-mqtt (need 256dpi/arduino-mqtt v2.5.3)"
  INC+=(-I"$MQTT/src")
  ENV_FLAGS=(-DSPORE_WITH_MQTT '-DSPORE_MQTT_HOST=""' '-DSPORE_MQTT_PORT=""' '-DSPORE_MQTT_USER=""'
    '-DSPORE_MQTT_PASSWORD=""' '-DSPORE_MQTT_CLUSTER=""' '-DSPORE_MQTT_DISCOVERY=""')
fi
CXXFLAGS=(-std=gnu++17 -fno-rtti -fno-exceptions -Wno-error=format-security)
CFLAGS=(-std=gnu17)

# --- Compile (object per source path, so a second run only recompiles what changed) ---------------
python3 "$ROOT/tools/embed_asset.py" --src "$ROOT/web/dashboard" --header "$OUT/generated/spore_dashboard_asset.h" >/dev/null ||
  fail "embedding the dashboard"
# The core's flash_hal.h (FS_PHYS_ADDR from the layout's _FS_start), not tests/host/common's, whose
# FS_start/FS_end are 0 (no flash area: SPORE's settings store and boot log would refuse to run).
printf '#include "%s/cores/esp8266/flash_hal.h"\n' "$ARDUINO" >"$OUT/generated/flash_hal.h.new"
cmp -s "$OUT/generated/flash_hal.h.new" "$OUT/generated/flash_hal.h" || mv "$OUT/generated/flash_hal.h.new" "$OUT/generated/flash_hal.h"
rm -f "$OUT/generated/flash_hal.h.new"
CMDS="$OUT/cmds"
: >"$CMDS"
OBJS=()
POST=
add() { # SRC OBJ extra-flags...
  local src=$1 obj=$2; shift 2
  local cmd
  case $src in
    *.c) cmd=(gcc "${CFLAGS[@]}" "${COMMON[@]}" "${ENV_FLAGS[@]}" "$@" "${PREINC[@]}" "${INC[@]}") ;;
    *) cmd=(g++ "${CXXFLAGS[@]}" "${COMMON[@]}" "${ENV_FLAGS[@]}" "$@" "${PREINC[@]}" "${INC[@]}") ;;
  esac
  OBJS+=("$obj")
  local line
  line="$(printf '%q ' "${cmd[@]}" -MMD -c "$src" -o "$obj")"
  # Recompile when the command, the source or a header it read changed, or when a header it read
  # is gone (moved or deleted: find then fails; the .d list splits on purpose).
  # shellcheck disable=SC2046
  if [[ -f $obj && -f $obj.cmd && "$(cat "$obj.cmd")" == "$line" ]] &&
    newer="$(find "$src" $(sed -e 's/^[^:]*://' -e 's/\\$//' "${obj%.o}.d" 2>/dev/null) -newer "$obj" 2>/dev/null)" &&
    [[ -z $newer ]]; then
    return
  fi
  mkdir -p "$(dirname "$obj")"
  printf '%s && %s printf %%s %q >%q\n' "$line" "${POST:+$POST &&}" "$line" "$obj.cmd" >>"$CMDS"
}
# umm_malloc.cpp defines malloc & co. (umm_malloc_cfg.h names umm_malloc "malloc"): its object's
# symbols are renamed (objcopy), so that glibc keeps its own heap, and the --wrap in the link below
# routes every call the firmware makes to them (board_heap.cpp).
for s in "${CORE_SRC[@]}"; do
  if [[ $s == */umm_malloc.cpp ]]; then
    POST="objcopy --redefine-sym malloc=umm_board_malloc --redefine-sym free=umm_board_free --redefine-sym calloc=umm_board_calloc --redefine-sym realloc=umm_board_realloc $OUT/obj/arduino/$s.o"
    add "$ARDUINO/$s" "$OUT/obj/arduino/$s.o" -include "$HERE/board_rom.h"
    POST=
  # lwIP's byte-order functions are the host's here (mock.h: LWIP_DONT_PROVIDE_BYTEORDER_FUNCTIONS).
  elif [[ $s == */LwipDhcpServer.cpp ]]; then add "$ARDUINO/$s" "$OUT/obj/arduino/$s.o" -Dhtonl=lwip_htonl -Dntohl=lwip_ntohl -Dhtons=lwip_htons -Dntohs=lwip_ntohs
  else add "$ARDUINO/$s" "$OUT/obj/arduino/$s.o"; fi
done
"$GLUE/lwip-build.sh" "$LWIP" "$ARDUINO" "$OUT/lwip" >/dev/null || fail "lwIP build failed"
for s in $(cd "$AWS/src" && find . -name '*.cpp' | sort); do add "$AWS/src/$s" "$OUT/obj/aws/$s.o"; done
for s in $(cd "$ATCP/src" && find . -name '*.cpp' | sort); do add "$ATCP/src/$s" "$OUT/obj/atcp/$s.o"; done
if [[ -n $MQTT ]]; then for s in $(cd "$MQTT/src" && find . -name '*.c*' | sort); do add "$MQTT/src/$s" "$OUT/obj/mqtt/$s.o"; done; fi
for s in $(cd "$BEARSSL/src" && find . -name '*.c' | sort); do
  add "$BEARSSL/src/$s" "$OUT/obj/bearssl/$s.o" -I"$BEARSSL/inc" -I"$BEARSSL/src"
done
for s in $(cd "$ROOT" && ls core/spore/*/*.cpp platform/esp8266/*.cpp) firmware/src/main.cpp; do add "$ROOT/$s" "$OUT/obj/spore/$s.o"; done
for s in "${GLUE_SRC[@]}"; do add "$HERE/$s" "$OUT/obj/glue/$s.o"; done
n=$(wc -l <"$CMDS")
if [[ $n -gt 0 ]]; then
  echo "esp8266-host build: compiling $n files"
  run_all "$CMDS" "compile failed" "${SPORE_JOBS:-2}"
fi

# _heap_start of the chip's link of this image (eagle.flash.1m64.ld places it after .bss): from
# tools/firmware-link.sh's map, or SPORE_HOST_HEAP_START.
heap_start() {
  if [[ -n ${SPORE_HOST_HEAP_START:-} ]]; then echo "$SPORE_HOST_HEAP_START"; return; fi
  local env=esp01_1m map
  [[ -n $MQTT ]] && env=esp01_1m_mqtt
  map="$ROOT/build/firmware-link/$env/firmware.map"
  [[ -f $map ]] || fail "no $map: run ./ctl.sh firmware-link first (the heap region comes from the chip's link), or set SPORE_HOST_HEAP_START"
  awk '/_heap_start = ABSOLUTE/ { print $1; exit }' "$map"
}

# --- Link ----------------------------------------------------------------------------------------
# malloc/free/calloc/realloc of every linked object go to the core's heap.cpp (umm_malloc over the
# chip's heap region, board_heap.cpp); glibc's own allocations stay in glibc's heap.
BIN="$OUT/spore-board"
HEAP_START="$(heap_start)"
g++ -m32 -g -no-pie -o "$BIN" "${OBJS[@]}" "$OUT/lwip/liblwip-host.a" -Wl,--defsym,_heap_start=$HEAP_START \
  -Wl,--defsym,_FS_start=0x402EB000 -Wl,--defsym,_FS_end=0x402FB000 -Wl,--defsym,_FS_page=0x100 \
  -Wl,--defsym,_FS_block=0x1000 -Wl,--defsym,_EEPROM_start=0x402fb000 -Wl,--wrap=malloc,--wrap=free,--wrap=calloc,--wrap=realloc,--wrap=strdup \
  -lpthread 2>"$OUT/link.log" || { grep -m 60 -E 'undefined|multiple|error' "$OUT/link.log" >&2; fail "link failed ($OUT/link.log)"; }
echo "esp8266-host build: $BIN"
