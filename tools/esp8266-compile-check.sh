#!/usr/bin/env bash
# Compile-check platform/esp8266 sources for the ESP8266 with Debian's xtensa-lx106-elf-g++,
# against source trees the caller supplies (nothing is downloaded; nothing of them is copied into
# this repository). CI cannot run this (no PlatformIO, no such trees); run it after changing
# platform/esp8266.
#
# Usage: tools/esp8266-compile-check.sh ARDUINO AWS ATCP NEWLIB [FILE.cpp ...]
#   ARDUINO  esp8266/Arduino at tag 3.1.2 (needs cores/, variants/generic, tools/sdk/include,
#            tools/sdk/lwip2/include, libraries/{ESP8266WiFi,EEPROM,DNSServer,Hash})
#   AWS      ESP32Async/ESPAsyncWebServer at tag v3.12.0 (needs src/)
#   ATCP     ESP32Async/ESPAsyncTCP at tag v2.0.0 (needs src/)
#   NEWLIB   earlephilhower/newlib-xtensa, branch xtensa-4_0_0-lock-arduino: the C library core
#            3.1.2's toolchain ships (its headers declare the *_P functions and the lx106's
#            core-isa.h the core uses; Debian's picolibc has neither)
#   SPORE_CHECK_SIZES=1  also print `.text` / `.rodata` / `.bss` bytes of each object (the numbers
#            docs/footprint.md gives per platform/esp8266 object; literal pools and flash strings count
#            as text, as tools/lx106-build.sh counts them)
#   SPORE_CHECK_CXXFLAGS  extra flags for every file, e.g. '-DSPORE_OTA_PUBLIC_KEY_PEM="..."' to
#            check the signed-updates build
#   FILE     sources to check, default every platform/esp8266/*.cpp. With SPORE_CHECK_MQTT=DIR
#            (256dpi/arduino-mqtt at tag v2.5.3) also mqtt_client.cpp and node.cpp with
#            -DSPORE_WITH_MQTT (the esp01_1m_mqtt env); without it mqtt_client.cpp is skipped
#
# Flags: core 3.1.2's tools/platformio-build.py (CCFLAGS, CPPDEFINES, the default lwIP2 low-memory
# variant, NONOSDK22x_190703, VTABLES_IN_FLASH, MMU 32 KB IRAM), -fno-exceptions as PlatformIO's
# default, plus -Wall -Wextra -Werror for SPORE's own files (library headers are -isystem). C
# library headers: NEWLIB's, laid out as its install does; C++ headers: tools/lx106-setup.sh's
# from gcc-12-source, configured against those. Everything goes to build/esp8266-check/ (objects
# only compiled, never linked).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[[ $# -ge 4 ]] || { sed -n '2,16p' "$0" >&2; exit 2; }
ARDUINO="$(cd "$1" && pwd)"
AWS="$(cd "$2" && pwd)"
ATCP="$(cd "$3" && pwd)"
NEWLIB="$(cd "$4" && pwd)"
shift 4
for need in "$ARDUINO/cores/esp8266/Arduino.h" "$ARDUINO/tools/sdk/include/c_types.h" "$AWS/src/ESPAsyncWebServer.h" \
  "$ATCP/src/ESPAsyncTCP.h" "$NEWLIB/newlib/libc/sys/xtensa/sys/pgmspace.h" "$NEWLIB/newlib/libc/include/_newlib_version.h"; do
  [[ -e $need ]] || { echo "esp8266-compile-check: missing $need" >&2; exit 2; }
done

OUT=build/esp8266-check
# An include tree laid out as newlib's install does (sys/xtensa's headers over libc/include's),
# and the C++ headers configured against it (tools/lx106-setup.sh, ~20 s the first time).
NEWLIB_KEY="$NEWLIB $(md5sum <"${BASH_SOURCE[0]}")"
if [[ ! -f $OUT/newlib-include/.key || "$(cat "$OUT/newlib-include/.key")" != "$NEWLIB_KEY" ]]; then
  rm -rf "$OUT/newlib-include" "$OUT/lx106"
  mkdir -p "$OUT/newlib-include/sys"
  cp -r "$NEWLIB/newlib/libc/include/." "$NEWLIB/newlib/libc/sys/xtensa/include/." "$OUT/newlib-include/"
  cp "$NEWLIB"/newlib/libc/sys/xtensa/sys/*.h "$OUT/newlib-include/sys/"
  # newlib.h is written by newlib's configure; these are what esp-quick-toolchain's flags
  # (--enable-newlib-nano-formatted-io --enable-newlib-reent-small, the rest default) give on the
  # lx106, where long double is double.
  cat >"$OUT/newlib-include/newlib.h" <<'EOH'
#ifndef __NEWLIB_H__
#define __NEWLIB_H__ 1
#include <_newlib_version.h>
#define _WANT_REENT_SMALL 1
#define _NANO_FORMATTED_IO 1
#define _MB_LEN_MAX 1
#define HAVE_INITFINI_ARRAY 1
#define _ATEXIT_DYNAMIC_ALLOC 1
#define _HAVE_LONG_DOUBLE 1
#define _HAVE_CC_INHIBIT_LOOP_TO_LIBCALL 1
#define _LDBL_EQ_DBL 1
#define _FVWRITE_IN_STREAMIO 1
#define _FSEEK_OPTIMIZATION 1
#define _WIDE_ORIENT 1
#define _UNBUF_STREAM_OPT 1
#endif
EOH
  echo "$NEWLIB_KEY" >"$OUT/newlib-include/.key"
fi
SPORE_LX106_LIBC_INC="$ROOT/$OUT/newlib-include" tools/lx106-setup.sh "$OUT/lx106" >/dev/null
# Its C++ and C headers; not its BearSSL copy (Debian's): the core's own is in ARDUINO.
mapfile -t LX106FLAGS <"$OUT/lx106/cxxflags"
INCFLAGS=()
for ((i = 0; i < ${#LX106FLAGS[@]}; i++)); do
  if [[ ${LX106FLAGS[i]} == -isystem && ${LX106FLAGS[i + 1]:-} == "$ROOT/$OUT/lx106/include" ]]; then
    i=$((i + 1))
    continue
  fi
  INCFLAGS+=("${LX106FLAGS[i]}")
done

SYS=(-isystem "$ARDUINO/tools/sdk/include" -isystem "$ARDUINO/tools/sdk/lwip2/include"
  -isystem "$ARDUINO/cores/esp8266" -isystem "$ARDUINO/variants/generic"
  -isystem "$ARDUINO/libraries/ESP8266WiFi/src" -isystem "$ARDUINO/libraries/EEPROM"
  -isystem "$ARDUINO/libraries/DNSServer/src" -isystem "$ARDUINO/libraries/Hash/src"
  -isystem "$AWS/src" -isystem "$ATCP/src")
if [[ -n ${SPORE_CHECK_MQTT:-} ]]; then SYS+=(-isystem "$SPORE_CHECK_MQTT/src"); fi
DEFS=(-DF_CPU=80000000L -D__ets__ -DICACHE_FLASH -D_GNU_SOURCE -DARDUINO=10805 -DARDUINO_ESP8266_ESP01
  -DARDUINO_ARCH_ESP8266 -DESP8266 -DFLASHMODE_DOUT -DLWIP_OPEN_SRC -DTCP_MSS=536 -DLWIP_FEATURES=1
  -DLWIP_IPV6=0 -DNONOSDK22x_190703=1 -DVTABLES_IN_FLASH -DMMU_IRAM_SIZE=0x8000 -DMMU_ICACHE_SIZE=0x8000
  -U__STRICT_ANSI__)
FLAGS=(-std=gnu++17 -Os -mlongcalls -mtext-section-literals -falign-functions=4 -ffunction-sections
  -fdata-sections -fno-rtti -fno-exceptions -Wall -Wextra -Werror -fmax-errors=20)
read -r -a EXTRA <<<"${SPORE_CHECK_CXXFLAGS:-}"
FLAGS+=("${EXTRA[@]}")

# The dashboard header the firmware build generates (firmware/embed_dashboard.py does the same), so
# node.cpp is checked with the dashboard and its Content-Security-Policy, as the firmware builds it.
python3 tools/embed_asset.py --src web/dashboard --header "$OUT/generated/spore_dashboard_asset.h" >/dev/null
SYS+=(-I "$OUT/generated")

files=("$@")
if [[ ${#files[@]} -eq 0 ]]; then
  for f in platform/esp8266/*.cpp; do
    if [[ $f == */mqtt_client.cpp && -z ${SPORE_CHECK_MQTT:-} ]]; then
      echo "skipped $f (SPORE_CHECK_MQTT not set)"
      continue
    fi
    files+=("$f")
  done
fi
failed=0
check() { # FILE OBJECT [FLAGS...]
  local f="$1" o="$2"
  shift 2
  if xtensa-lx106-elf-g++ "${FLAGS[@]}" "${DEFS[@]}" "$@" "${INCFLAGS[@]}" "${SYS[@]}" -Icore -Iplatform -c "$f" -o "$o"; then
    echo "ok $f $*"
  else
    echo "FAILED $f $*"
    failed=1
  fi
}
for f in "${files[@]}"; do
  o="$OUT/$(basename "$f" .cpp).o"
  if [[ $f == */mqtt_client.cpp ]]; then
    check "$f" "$o" -DSPORE_WITH_MQTT
  else
    check "$f" "$o"
  fi
  # The esp01_1m_mqtt env builds the Node with the bridge.
  if [[ $f == */node.cpp && -n ${SPORE_CHECK_MQTT:-} ]]; then check "$f" "$OUT/node-mqtt.o" -DSPORE_WITH_MQTT; fi
done
if [[ ${SPORE_CHECK_SIZES:-} == 1 ]]; then
  printf '%-28s %8s %8s %8s\n' object text rodata bss
  for o in "$OUT"/*.o; do
    xtensa-lx106-elf-size -A "$o" | awk -v o="$(basename "$o")" 'NR > 2 {
      if ($1 ~ /^\.(text|literal|irom|iram)/) t += $2
      else if ($1 ~ /^\.rodata/) r += $2
      else if ($1 ~ /^\.s?bss/) b += $2
    } END { printf "%-28s %8d %8d %8d\n", o, t, r, b }'
  done
fi
exit "$failed"
