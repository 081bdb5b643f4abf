#!/usr/bin/env bash
# Links the ESP-01 firmware as PlatformIO's espressif8266 platform with ESP8266 Arduino core 3.1.2
# builds it (firmware/platformio.ini), with Debian's xtensa-lx106-elf-gcc, from source trees the
# caller supplies; checks the image and prints its footprint (docs/footprint.md quotes the output).
# It never downloads anything and copies nothing of the trees into the repository; everything it
# writes goes to build/firmware-link/. CI cannot run it (the trees are not Debian packages).
#
# Usage: tools/firmware-link.sh [--env ENV]... ARDUINO AWS ATCP NEWLIB MQTT
#        tools/firmware-link.sh --budget-check SIZEFILE
#   ARDUINO  esp8266/Arduino at tag 3.1.2, as a full checkout or PlatformIO's
#            framework-arduinoespressif8266 package: cores/, variants/generic, libraries/,
#            tools/sdk/{include,lwip2,ld,lib}, tools/elf2bin.py, bootloaders/eboot/eboot.elf
#   AWS      ESP32Async/ESPAsyncWebServer at tag v3.12.0        ATCP  ESP32Async/ESPAsyncTCP v2.0.0
#   NEWLIB   earlephilhower/newlib-xtensa, branch xtensa-4_0_0-lock-arduino, full source (the C
#            library core 3.1.2's toolchain ships; built here with esp-quick-toolchain's flags)
#   MQTT     256dpi/arduino-mqtt at tag v2.5.3 (only the esp01_1m_mqtt env uses it)
#   --env    esp01_1m, esp01s or esp01_1m_mqtt (repeatable; default all three)
#   SPORE_LINK_BEARSSL=DIR  earlephilhower/bearssl-esp8266 at b024386 (core 3.1.2's tools/sdk/ssl
#            submodule), needed when ARDUINO has no tools/sdk/lib/libbearssl.a (a partial copy of
#            the tree without the large prebuilt archives); built with the core's tools/sdk/ssl recipe
#   SPORE_LINK_HAL=DIR  earlephilhower/lx106-hal (master, e4bcc63): the xtensa/*.h headers the
#            PlatformIO toolchain installs (the core's .S files include xtensa/coreasm.h); required
#   SPORE_IMAGE_BUDGET_BYTES  image budget (default 450560 = 440 KiB, DESIGN.md §4)
#   SPORE_LINK_JOBS  parallel compiles (default 2)
#   SPORE_LINK_KEEP_FLOAT=1  link as core 3.1.2 does without firmware/no_float_stdio.py (keeps
#            "-u _printf_float -u _scanf_float"), to measure what that script saves
#   --budget-check SIZEFILE  only check the `bin_bytes=` lines of a size file against the budget
#
# libstdc++: core 3.1.2 links its own prebuilt tools/sdk/lib/libstdc++.a; when ARDUINO lacks it,
# the objects the firmware needs are compiled from Debian's gcc-12-source (listed in LIBSTDCXX_SRC).
# Exit status: 0 every env linked, checked and within budget; 1 a build, check or budget failure;
# 2 bad command line or a missing tree.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CALLER_PWD="$PWD" # relative tree and file arguments are the caller's
cd "$ROOT"
BUDGET="${SPORE_IMAGE_BUDGET_BYTES:-450560}"
JOBS="${SPORE_LINK_JOBS:-2}"
T=xtensa-lx106-elf
usage() { sed -n '8,32p' "$0" >&2; exit 2; }
die() { echo "firmware-link: $*" >&2; exit 2; }
fail() { echo "firmware-link: FAILED: $*" >&2; exit 1; }
[[ $BUDGET =~ ^[0-9]+$ ]] || die "SPORE_IMAGE_BUDGET_BYTES must be a number of bytes, not '$BUDGET'"
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "SPORE_LINK_JOBS must be a positive number, not '$JOBS'"

# The image budget, checked on `ENV bin_bytes=N` lines (this script's size.txt). Prints one line
# per env; returns 1 if any image is over budget or the file has no image size.
budget_check() { # SIZEFILE
  awk -v budget="$BUDGET" '
    $2 ~ /^bin_bytes=[0-9]+$/ {
      n = substr($2, 11) + 0; seen++
      status = (n <= budget) ? "ok" : "OVER"
      printf "%s image %d B of budget %d B (%d B %s): %s\n", $1, n, budget,
        (n <= budget) ? budget - n : n - budget, (n <= budget) ? "left" : "over", status
      if (n > budget) over++
    }
    END {
      if (!seen) { print "no bin_bytes= line in " FILENAME > "/dev/stderr"; exit 1 }
      exit over ? 1 : 0
    }' "$1"
}

ENVS=()
ARGS=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --budget-check)
      [[ $# -eq 2 ]] || usage
      f="$2"
      [[ $f == /* ]] || f="$CALLER_PWD/$f"
      [[ -f $f ]] || die "no size file $2"
      budget_check "$f"
      exit $? ;;
    --env)
      [[ $# -ge 2 ]] || usage
      case $2 in esp01_1m | esp01s | esp01_1m_mqtt) ENVS+=("$2") ;; *) die "unknown env '$2' (esp01_1m, esp01s, esp01_1m_mqtt)" ;; esac
      shift 2 ;;
    -h | --help) usage ;;
    -*) die "unknown option $1 (--help)" ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
[[ ${#ARGS[@]} -eq 5 ]] || usage
[[ ${#ENVS[@]} -gt 0 ]] || ENVS=(esp01_1m esp01s esp01_1m_mqtt)

tree() { # NAME DIR WHAT FILE...
  local name="$1" dir="$2" what="$3"
  shift 3
  [[ $dir == /* ]] || dir="$CALLER_PWD/$dir"
  [[ -d $dir ]] || die "$name: no directory '$dir' (need $what)"
  dir="$(cd "$dir" && pwd)"
  for f in "$@"; do
    [[ -e $dir/$f ]] || die "$name: $dir/$f missing (need $what)"
  done
  echo "$dir"
}
ARDUINO="$(tree ARDUINO "${ARGS[0]}" "esp8266/Arduino at tag 3.1.2 or PlatformIO's framework-arduinoespressif8266 3.30102.0" \
  cores/esp8266/Arduino.h cores/esp8266/umm_malloc/umm_malloc.cpp variants/generic tools/sdk/include \
  tools/sdk/lwip2/include tools/sdk/ld/eagle.app.v6.common.ld.h tools/sdk/ld/eagle.flash.1m64.ld \
  tools/sdk/lib/NONOSDK22x_190703/libmain.a tools/sdk/lib/liblwip2-536-feat.a tools/sdk/lib/libhal.a \
  tools/elf2bin.py bootloaders/eboot/eboot.elf libraries/ESP8266WiFi/src libraries/EEPROM \
  libraries/DNSServer/src libraries/Hash/src cores/esp8266/Updater.cpp)"
AWS="$(tree AWS "${ARGS[1]}" "ESP32Async/ESPAsyncWebServer at tag v3.12.0" src/ESPAsyncWebServer.h)"
ATCP="$(tree ATCP "${ARGS[2]}" "ESP32Async/ESPAsyncTCP at tag v2.0.0" src/ESPAsyncTCP.h)"
NEWLIB="$(tree NEWLIB "${ARGS[3]}" "earlephilhower/newlib-xtensa branch xtensa-4_0_0-lock-arduino (full source)" \
  configure newlib/libc/sys/xtensa/sys/pgmspace.h newlib/libc/stdlib/mallocr.c)"
MQTT="$(tree MQTT "${ARGS[4]}" "256dpi/arduino-mqtt at tag v2.5.3" src/MQTT.h src/lwmqtt)"
BEARSSL_LIB="$ARDUINO/tools/sdk/lib/libbearssl.a"
if [[ ! -f $BEARSSL_LIB ]]; then
  [[ -n ${SPORE_LINK_BEARSSL:-} ]] || die "ARDUINO has no tools/sdk/lib/libbearssl.a: set SPORE_LINK_BEARSSL to earlephilhower/bearssl-esp8266 at b024386 (core 3.1.2's tools/sdk/ssl/bearssl submodule)"
  BEARSSL="$(tree SPORE_LINK_BEARSSL "$SPORE_LINK_BEARSSL" "earlephilhower/bearssl-esp8266 at b024386" src/inner.h inc/bearssl.h)"
fi
[[ -n ${SPORE_LINK_HAL:-} ]] || die "set SPORE_LINK_HAL to earlephilhower/lx106-hal (the toolchain's xtensa/*.h headers)"
HAL="$(tree SPORE_LINK_HAL "$SPORE_LINK_HAL" "earlephilhower/lx106-hal" include/xtensa/coreasm.h include/xtensa/config/core-isa.h)"
for tool in $T-gcc $T-g++ $T-ar $T-nm $T-size $T-objcopy python3 make xz gawk g++; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install gcc-xtensa-lx106 binutils-xtensa-lx106 python3 make xz-utils gawk g++)"
done

OUT="$ROOT/build/firmware-link"
mkdir -p "$OUT"
TOOLBIN="$(dirname "$(command -v $T-objcopy)")"
# Run a list of commands (one shell-quoted command a line) JOBS at a time; fail if any fails.
# shellcheck source=run-all.sh
source "$ROOT/tools/run-all.sh"
stamp_ok() { [[ -f $1 && "$(cat "$1")" == "$2" ]]; }
# Bump when a recipe below changes, so the cached libraries are rebuilt.
RECIPE=1

# 1. newlib: libc.a and libm.a with esp-quick-toolchain's configure flags and CFLAGS_FOR_TARGET
#    (its Makefile, CONFIGURENEWLIBCOM and CFFT with LTO=false), single library (no multilib).
NL="$OUT/newlib"
NL_KEY="$NEWLIB $($T-gcc -dumpfullversion) recipe$RECIPE"
if ! stamp_ok "$NL/.stamp" "$NL_KEY"; then
  echo "firmware-link: building newlib from $NEWLIB (a few minutes, once)"
  rm -rf "$NL" "$OUT/newlib-build"
  mkdir -p "$OUT/newlib-build"
  (
    cd "$OUT/newlib-build"
    export CFLAGS_FOR_TARGET="-mlongcalls -Os -g -free -fipa-pta" CXXFLAGS_FOR_TARGET="-mlongcalls -Os -g -free -fipa-pta"
    "$NEWLIB/configure" --target=$T --prefix="$NL" --with-newlib --disable-multilib \
      --disable-newlib-io-c99-formats --disable-newlib-supplied-syscalls --enable-newlib-nano-formatted-io \
      --enable-newlib-reent-small --enable-target-optspace --disable-option-checking --disable-shared \
      >configure.log 2>&1 || { tail -20 configure.log >&2; fail "newlib configure ($PWD/config.log)"; }
    { make -j"$JOBS" all-target-newlib && make install-target-newlib; } >make.log 2>&1 ||
      { tail -20 make.log >&2; fail "newlib build ($PWD/make.log)"; }
  )
  rm -rf "$OUT/newlib-build"
  echo "$NL_KEY" >"$NL/.stamp"
fi
NL_LIB="$NL/$T/lib"
NL_INC="$NL/$T/include"
[[ -f $NL_LIB/libc.a && -f $NL_LIB/libm.a && -f $NL_INC/newlib.h ]] || fail "newlib install incomplete in $NL"

# 2. C++ headers configured against that newlib (tools/lx106-setup.sh), without its BearSSL copy
#    (Debian's; the core's own headers are in ARDUINO/tools/sdk/include).
SPORE_LX106_LIBC_INC="$NL_INC" tools/lx106-setup.sh "$OUT/lx106" >/dev/null
mapfile -t LX106FLAGS <"$OUT/lx106/cxxflags"
CXXINC=()
for ((i = 0; i < ${#LX106FLAGS[@]}; i++)); do
  if [[ ${LX106FLAGS[i]} == -isystem && ${LX106FLAGS[i + 1]:-} == "$NL_INC" ]]; then CXXINC+=(-isystem "$HAL/include"); fi
  if [[ ${LX106FLAGS[i]} == -isystem && ${LX106FLAGS[i + 1]:-} == "$OUT/lx106/include" ]]; then
    i=$((i + 1))
    continue
  fi
  CXXINC+=("${LX106FLAGS[i]}")
done
# The toolchain's include directory holds newlib's headers with lx106-hal's installed over them.
CINC=(-isystem "$HAL/include" -isystem "$NL_INC")

# Compile flags: core 3.1.2's tools/platformio-build.py (CCFLAGS, CFLAGS, CXXFLAGS, ASFLAGS,
# CPPDEFINES with the default NONOSDK22x_190703, lwIP2 536-feat, VTABLES_IN_FLASH and the
# CACHE32_IRAM32 MMU), the board esp01_1m's extra_flags and f_cpu, PlatformIO's -fno-exceptions.
CCFLAGS=(-Os -mlongcalls -mtext-section-literals -falign-functions=4 -U__STRICT_ANSI__ -ffunction-sections
  -fdata-sections -Wall -Werror=return-type -free -fipa-pta)
CFLAGS=(-std=gnu17 -Wpointer-arith -Wno-implicit-function-declaration -Wl,-EL -fno-inline-functions -nostdlib)
CXXFLAGS=(-fno-rtti -std=gnu++17 -fno-exceptions)
ASFLAGS=(-x assembler-with-cpp -mlongcalls -mtext-section-literals)
MMU=(-DMMU_IRAM_SIZE=0x8000 -DMMU_ICACHE_SIZE=0x8000)
DEFS=(-DF_CPU=80000000L -D__ets__ -DICACHE_FLASH -D_GNU_SOURCE -DARDUINO=10805
  '-DARDUINO_BOARD="PLATFORMIO_ESP01_1M"' '-DARDUINO_BOARD_ID="esp01_1m"' -DFLASHMODE_DOUT -DLWIP_OPEN_SRC
  -DNONOSDK22x_190703=1 -DTCP_MSS=536 -DLWIP_FEATURES=1 -DLWIP_IPV6=0 -DVTABLES_IN_FLASH "${MMU[@]}"
  -DESP8266 -DARDUINO_ARCH_ESP8266 -DARDUINO_ESP8266_ESP01)
# Link: the same script's LINKFLAGS and LIBS, less "-u _printf_float -u _scanf_float"
# (firmware/no_float_stdio.py), with the board's ldscript (platformio.ini: eagle.flash.1m64.ld).
LINKFLAGS=(-Os -nostdlib -Wl,--no-check-sections -Wl,-static -Wl,--gc-sections -Wl,-wrap,system_restart_local
  -Wl,-wrap,spi_flash_read -u app_entry -u _DebugExceptionVector -u _DoubleExceptionVector
  -u _KernelExceptionVector -u _NMIExceptionVector -u _UserExceptionVector)
if [[ ${SPORE_LINK_KEEP_FLOAT:-} == 1 ]]; then LINKFLAGS+=(-u _printf_float -u _scanf_float); fi
SYSLIBS=(-lhal -lphy -lpp -lnet80211 -llwip2-536-feat -lwpa -lcrypto -lmain -lwps -lbearssl -lespnow
  -lsmartconfig -lairkiss -lwpa2 -lstdc++ -lm -lc -lgcc)
# build_flags of platformio.ini's [env] (WIFI_SSID etc. empty, as with an empty environment) and
# of each env; PlatformIO hands them to every file it compiles, framework and libraries included.
ENV_FLAGS_COMMON=(-I"$ROOT/core" -I"$ROOT/platform" '-DWIFI_SSID=""' '-DWIFI_PASSWORD=""'
  -DPIO_FRAMEWORK_ARDUINO_LWIP2_LOW_MEMORY)
env_flags() { # ENV
  case $1 in
    esp01_1m) ;;
    esp01s) echo -DSPORE_LED_PIN=2 ;;
    esp01_1m_mqtt) printf '%s\n' -DSPORE_WITH_MQTT '-DSPORE_MQTT_HOST=""' '-DSPORE_MQTT_PORT=""' \
      '-DSPORE_MQTT_USER=""' '-DSPORE_MQTT_PASSWORD=""' '-DSPORE_MQTT_CLUSTER=""' '-DSPORE_MQTT_DISCOVERY=""' \
      -DSPORE_DIGEST_LIVENESS=0 ;;
  esac
}

# 3. Libraries core 3.1.2 links prebuilt from tools/sdk/lib when the tree has them, else built here.
PRE="$OUT/prebuilt"
mkdir -p "$PRE"
if [[ -z ${BEARSSL:-} ]]; then
  ln -sf "$BEARSSL_LIB" "$PRE/libbearssl.a"
else
  # tools/sdk/ssl/Makefile: make CONF=esp8266 (conf/esp8266.mk's CFLAGS less -Werror, -g and
  # -mextra-l32r-costs, which GCC 12 lacks), then `ar d` of the objects whose name matches
  # i31|i32|x86|sse|pwr8|i62|m31|m32|m62|m64|ct64|ctmul64: those are not compiled at all here.
  BS_KEY="$BEARSSL $($T-gcc -dumpfullversion) recipe$RECIPE"
  if ! stamp_ok "$PRE/.bearssl-stamp" "$BS_KEY"; then
    echo "firmware-link: building BearSSL from $BEARSSL"
    rm -rf "$PRE/bearssl" "$PRE/libbearssl.a"
    mkdir -p "$PRE/bearssl"
    : >"$PRE/bearssl/cmds"
    while IFS= read -r src; do
      base="$(basename "$src" .c)"
      [[ $base =~ i31|i32|x86|sse|pwr8|i62|m31|m32|m62|m64|ct64|ctmul64 ]] && continue
      printf '%q ' $T-gcc -W -Wall -O2 -Wpointer-arith -Wl,-EL -nostdlib -mlongcalls -mno-text-section-literals \
        -ffunction-sections -fdata-sections -free -fipa-pta -D__ets__ -DICACHE_FLASH -DESP8266 -DBR_SLOW_MUL15=1 \
        -DPGM_READ_UNALIGNED=0 "${CINC[@]}" -I"$BEARSSL/inc" -I"$BEARSSL/src" -c "$src" -o "$PRE/bearssl/$base.o" >>"$PRE/bearssl/cmds"
      echo >>"$PRE/bearssl/cmds"
    done < <(find "$BEARSSL/src" -name '*.c' | sort)
    run_all "$PRE/bearssl/cmds" "BearSSL" "$JOBS"
    $T-ar rc "$PRE/libbearssl.a" "$PRE"/bearssl/*.o
    echo "$BS_KEY" >"$PRE/.bearssl-stamp"
  fi
fi
if [[ -f $ARDUINO/tools/sdk/lib/libstdc++.a ]]; then
  ln -sf "$ARDUINO/tools/sdk/lib/libstdc++.a" "$PRE/libstdc++.a"
else
  # The libstdc++ objects the firmware's link asks for (with -fno-exceptions; the core's abi.cpp
  # provides operator new/delete and the __cxa_* it needs), from Debian's gcc-12-source.
  LIBSTDCXX_SRC=(libsupc++/del_op.cc libsupc++/del_ops.cc libsupc++/eh_term_handler.cc libsupc++/del_opv.cc libsupc++/del_opvs.cc libsupc++/new_handler.cc
    libsupc++/eh_terminate.cc c++11/functexcept.cc c++11/functional.cc c++11/snprintf_lite.cc
    c++11/shared_ptr.cc c++98/list.cc c++98/tree.cc)
  SX_KEY="${LIBSTDCXX_SRC[*]} $($T-gcc -dumpfullversion) recipe$RECIPE"
  if ! stamp_ok "$PRE/.libstdcxx-stamp" "$SX_KEY"; then
    echo "firmware-link: compiling ${#LIBSTDCXX_SRC[@]} libstdc++ objects from Debian's gcc-12-source"
    tarballs=(/usr/src/gcc-12/gcc-*.tar.xz)
    [[ -f ${tarballs[0]} ]] || die "no /usr/src/gcc-12/gcc-*.tar.xz (apt-get install gcc-12-source)"
    rm -rf "$PRE/libstdcxx" "$PRE/libstdc++.a"
    mkdir -p "$PRE/libstdcxx"
    top="$(tar -tJf "${tarballs[0]}" 2>/dev/null | head -n1 || true)"
    top="${top%%/*}"
    pats=()
    for s in "${LIBSTDCXX_SRC[@]}"; do
      case $s in libsupc++/*) pats+=("$top/libstdc++-v3/$s") ;; *) pats+=("$top/libstdc++-v3/src/$s") ;; esac
    done
    tar -xJf "${tarballs[0]}" -C "$PRE/libstdcxx" --strip-components=2 --wildcards "${pats[@]}" \
      "$top/libstdc++-v3/libsupc++/*.h" "$top/libstdc++-v3/src/c++11/*.h"
    objs=()
    for s in "${LIBSTDCXX_SRC[@]}"; do
      case $s in libsupc++/*) f="$PRE/libstdcxx/$s" ;; *) f="$PRE/libstdcxx/src/$s" ;; esac
      o="$PRE/libstdcxx/$(basename "$s" .cc).o"
      $T-g++ -std=gnu++17 -Os -mlongcalls -mtext-section-literals -ffunction-sections -fdata-sections -fno-exceptions \
        -fno-rtti -D_GLIBCXX_USE_CXX11_ABI=1 "${CXXINC[@]}" -I"$PRE/libstdcxx/libsupc++" -c "$f" -o "$o" ||
        fail "libstdc++ $s"
      objs+=("$o")
    done
    $T-ar rc "$PRE/libstdc++.a" "${objs[@]}"
    echo "$SX_KEY" >"$PRE/.libstdcxx-stamp"
  fi
fi

# The image check: core's ESP image walker (core/spore/device/esp_image.h, what a node runs on every OTA
# byte: headers, segment addresses, entry point, checksums, __crc_len/__crc_val), on the host.
cat >"$OUT/image-check.cpp" <<'EOF'
#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>
#include "spore/device/esp_image.h"
int main(int argc, char** argv) {
  if (argc != 2) return 2;
  std::ifstream f(argv[1], std::ios::binary);
  const std::vector<char> b((std::istreambuf_iterator<char>(f)), {});
  spore::EspImageWalker w;
  w.begin(false);
  w.feed(reinterpret_cast<const uint8_t*>(b.data()), b.size());
  const int e = static_cast<int>(w.finish());
  if (e == 0) {
    std::printf("%s: %zu bytes, ESP image walker: headers, segments, entry points, checksums and CRC valid\n",
                argv[1], b.size());
  } else {
    std::printf("%s: %zu bytes, ESP image walker: REFUSED, error %d (core/spore/device/esp_image.h) at byte %u\n",
                argv[1], b.size(), e, static_cast<unsigned>(w.error_offset()));
  }
  return e == 0 ? 0 : 1;
}
EOF
g++ -std=c++17 -O1 -Icore "$OUT/image-check.cpp" core/spore/device/esp_image.cpp -o "$OUT/image-check" || fail "image check build"

# Where the image goes: bytes of the image's output sections per archive (per SPORE half), from
# the link map (gawk: match() with groups, strtonum()). code = in the .bin (flash code, IRAM code,
# DATA, RODATA); dram = DATA+RODATA+BSS.
cat >"$OUT/where.awk" <<'EOF'
function flush_line(sz, file,   g, m) {
  if (file == "" || sz == 0) return
  if (match(file, /\/?([^\/]+)\(([^)]+)\)$/, m)) {
    g = file; sub(/\(.*$/, "", g); sub(/^.*\//, "", g)
    if (g == "libSPORE.a") g = (m[2] in platform) ? "SPORE platform/esp8266" : "SPORE core"
  } else { g = file; sub(/^.*\//, "", g) }
  if (out == ".irom0.text" || out == ".text" || out == ".text1") code[g] += sz
  if (out == ".data" || out == ".rodata") { code[g] += sz; dram[g] += sz }
  if (out == ".bss") dram[g] += sz
  groups[g] = 1
}
BEGIN { n = split(PLATFORM, p, " "); for (i = 1; i <= n; i++) platform[p[i] ".o"] = 1 }
/^\.[A-Za-z0-9_.]+/ { out = $1; pending = ""; next }
/^ \.[^ ]+$/ { pending = $1; next }
/^ \.[^ ]+ +0x[0-9a-f]+ +0x[0-9a-f]+ / { flush_line(strtonum($3), $4); pending = ""; next }
pending != "" && /^ +0x[0-9a-f]+ +0x[0-9a-f]+ / { flush_line(strtonum($2), $3); pending = ""; next }
{ pending = "" }
END { for (g in groups) printf "%s\t%d\t%d\n", g, code[g], dram[g] }
EOF
PLATFORM_OBJS="$(cd platform/esp8266 && echo *.cpp)"

# 4. Each env: compile as PlatformIO does (object = source path + ".o", so the core's linker rules
#    that match `*.cpp.o` and exclude `umm_malloc.cpp.o` from flash apply), archive each library,
#    link, make the image with the core's elf2bin.py, check, measure.
SIZES="$OUT/size.txt"
: >"$SIZES"
status=0
for ENV in "${ENVS[@]}"; do
  E="$OUT/$ENV"
  rm -rf "$E"
  mkdir -p "$E/ld" "$E/generated" "$E/obj"
  mapfile -t EF < <(env_flags "$ENV")
  # firmware/embed_dashboard.py (pre: script): the dashboard header, on everyone's include path.
  python3 tools/embed_asset.py --src web/dashboard --header "$E/generated/spore_dashboard_asset.h" >/dev/null ||
    fail "$ENV: embedding the dashboard"
  INC=(-I"$E/generated" -I"$ARDUINO/tools/sdk/include" -I"$ARDUINO/cores/esp8266" -I"$ARDUINO/tools/sdk/lwip2/include"
    -I"$ARDUINO/variants/generic" -I"$ARDUINO/libraries/ESP8266WiFi/src" -I"$ARDUINO/libraries/EEPROM"
    -I"$ARDUINO/libraries/DNSServer/src" -I"$ARDUINO/libraries/Hash/src" -I"$ATCP/src" -I"$AWS/src")
  if [[ $ENV == esp01_1m_mqtt ]]; then INC+=(-I"$MQTT/src"); fi
  # Library groups as PlatformIO's dependency finder (lib_ldf_mode = deep+) resolves them:
  # GROUP|DIR|find arguments. Framework libraries: the ones SPORE, ESPAsyncWebServer and ESPAsyncTCP include.
  LIBGROUPS=("FrameworkArduino|$ARDUINO/cores/esp8266|."
    "ESP8266WiFi|$ARDUINO/libraries/ESP8266WiFi/src|."
    "EEPROM|$ARDUINO/libraries/EEPROM|-maxdepth 1"
    "DNSServer|$ARDUINO/libraries/DNSServer/src|."
    "Hash|$ARDUINO/libraries/Hash/src|."
    "ESPAsyncTCP|$ATCP/src|."
    "ESPAsyncWebServer|$AWS/src|."
    "SPORE|$ROOT|core/spore platform/esp8266 -maxdepth 2")
  if [[ $ENV == esp01_1m_mqtt ]]; then LIBGROUPS+=("MQTT|$MQTT/src|."); fi
  : >"$E/cmds"
  ARCHIVES=()
  for g in "${LIBGROUPS[@]}"; do
    IFS='|' read -r name dir findargs <<<"$g"
    read -r -a fa <<<"$findargs"
    mkdir -p "$E/obj/$name"
    : >"$E/obj/$name.list"
    while IFS= read -r rel; do
      rel="${rel#./}"
      obj="$E/obj/$name/$rel.o"
      mkdir -p "$(dirname "$obj")"
      case $rel in
        *.c) cmd=($T-gcc "${CFLAGS[@]}" "${CCFLAGS[@]}" "${DEFS[@]}" "${ENV_FLAGS_COMMON[@]}" "${EF[@]}" "${INC[@]}" "${CINC[@]}") ;;
        *.cpp) cmd=($T-g++ "${CXXFLAGS[@]}" "${CCFLAGS[@]}" "${DEFS[@]}" "${ENV_FLAGS_COMMON[@]}" "${EF[@]}" "${INC[@]}" "${CXXINC[@]}")
          # core_esp8266_main.cpp:318 calls std::set_terminate without including <exception>: GCC
          # 10.3's libstdc++ headers (PlatformIO's toolchain) bring it in through Arduino.h, GCC 12's do not.
          if [[ $name == FrameworkArduino ]]; then cmd+=(-include exception); fi ;;
        *.S) cmd=($T-gcc "${ASFLAGS[@]}" "${CCFLAGS[@]}" "${DEFS[@]}" "${ENV_FLAGS_COMMON[@]}" "${EF[@]}" "${INC[@]}" "${CINC[@]}") ;;
      esac
      printf '%q ' "${cmd[@]}" -c "$dir/$rel" -o "$obj" >>"$E/cmds"
      echo >>"$E/cmds"
      echo "$obj" >>"$E/obj/$name.list"
    done < <(cd "$dir" && find "${fa[@]}" \( -name '*.c' -o -name '*.cpp' -o -name '*.S' \) -type f | sort)
    ARCHIVES+=("$E/obj/lib$name.a")
  done
  printf '%q ' $T-g++ "${CXXFLAGS[@]}" "${CCFLAGS[@]}" "${DEFS[@]}" "${ENV_FLAGS_COMMON[@]}" "${EF[@]}" "${INC[@]}" \
    "${CXXINC[@]}" -c "$ROOT/firmware/src/main.cpp" -o "$E/obj/main.cpp.o" >>"$E/cmds"
  echo >>"$E/cmds"
  echo "firmware-link: $ENV: compiling $(wc -l <"$E/cmds") files"
  run_all "$E/cmds" "$ENV: compile" "$JOBS"
  for g in "${LIBGROUPS[@]}"; do
    name="${g%%|*}"
    # PlatformIO archives each library; members are the objects' basenames, which must be unique.
    dup="$(xargs -n1 basename <"$E/obj/$name.list" | sort | uniq -d)"
    [[ -z $dup ]] || fail "$ENV: $name has two objects named $dup"
    xargs $T-ar rc "$E/obj/lib$name.a" <"$E/obj/$name.list"
  done
  # The linker script, generated through the C preprocessor as platformio-build.py does.
  $T-gcc -CC -E -P -DVTABLES_IN_FLASH "${MMU[@]}" -x c "$ARDUINO/tools/sdk/ld/eagle.app.v6.common.ld.h" \
    -o "$E/ld/local.eagle.app.v6.common.ld"
  ELF="$E/firmware.elf"
  BIN="$E/firmware.bin"
  $T-g++ -o "$ELF" -T eagle.flash.1m64.ld "${LINKFLAGS[@]}" -Wl,-Map,"$E/firmware.map" "$E/obj/main.cpp.o" \
    -L"$E/ld" -L"$PRE" -L"$ARDUINO/tools/sdk/lib" -L"$ARDUINO/tools/sdk/ld" -L"$ARDUINO/tools/sdk/lib/NONOSDK22x_190703" \
    -L"$NL_LIB" -Wl,--start-group "${ARCHIVES[@]}" "${SYSLIBS[@]}" -Wl,--end-group 2>"$E/link.log" ||
    { cat "$E/link.log" >&2; fail "$ENV: link"; }
  python3 "$ARDUINO/tools/elf2bin.py" --eboot "$ARDUINO/bootloaders/eboot/eboot.elf" --app "$ELF" --flash_mode dout \
    --flash_freq 40 --flash_size 1M --path "$TOOLBIN" --out "$BIN" >"$E/elf2bin.log" 2>&1 ||
    { cat "$E/elf2bin.log" >&2; fail "$ENV: elf2bin.py"; }

  # Checks. The allocator must run from IRAM (it is called with the flash cache off, e.g. from
  # interrupts and during flash writes): a hand link that renamed objects once put it in flash.
  $T-nm "$ELF" >"$E/firmware.nm"
  for sym in malloc free realloc calloc umm_malloc_core umm_free_core; do
    addr="$(awk -v s="$sym" '$3 == s && !found { print $1; found = 1 }' "$E/firmware.nm")"
    [[ -n $addr ]] || fail "$ENV: $sym not in the image"
    (( 16#$addr >= 16#40100000 && 16#$addr < 16#40108000 )) || fail "$ENV: $sym at 0x$addr is not in IRAM (0x40100000..0x40108000)"
  done
  echo "$ENV: malloc, free, realloc, calloc, umm_malloc_core, umm_free_core in IRAM (nm)"
  # Core 3.1.2's __wrap_system_restart_local is a hand-written `j postmortem_report`, whose reach
  # is 128 KiB (131,072 B): the link places code between the two, and fails ("j: cannot encode")
  # once that passes the reach. Printed so the margin is seen before it is gone.
  jump="$(gawk '$3 == "postmortem_report" { p = $1 } $3 == "__wrap_system_restart_local" { w = $1 }
    END { if (p != "" && w != "") { d = strtonum("0x" w) - strtonum("0x" p); print d < 0 ? -d : d } }' "$E/firmware.nm")"
  [[ -n $jump ]] && echo "$ENV: j postmortem_report spans $jump of 131072 B ($((131072 - jump)) B left)"
  "$OUT/image-check" "$BIN" || fail "$ENV: image check"

  heap_start="$(awk '$3 == "_heap_start" { print $1 }' "$E/firmware.nm")"
  [[ -n $heap_start ]] || fail "$ENV: no _heap_start"
  read -r irom iram data rodata bss < <($T-size -A "$ELF" | awk '
    $1 == ".irom0.text" { irom += $2 } $1 == ".text" || $1 == ".text1" { iram += $2 }
    $1 == ".data" { data += $2 } $1 == ".rodata" { rodata += $2 } $1 == ".bss" { bss += $2 }
    END { print irom + 0, iram + 0, data + 0, rodata + 0, bss + 0 }')
  gawk -v PLATFORM="$PLATFORM_OBJS" -f "$OUT/where.awk" "$E/firmware.map" | sort >"$E/where.txt"
  bin_bytes="$(stat -c %s "$BIN")"
  heap=$((16#3FFFC000 - 16#$heap_start))
  {
    echo "$ENV bin_bytes=$bin_bytes"
    echo "$ENV irom_bytes=$irom"
    echo "$ENV iram_bytes=$iram"
    echo "$ENV data_bytes=$data"
    echo "$ENV rodata_bytes=$rodata"
    echo "$ENV bss_bytes=$bss"
    echo "$ENV static_dram_bytes=$((data + rodata + bss))"
    echo "$ENV heap_at_boot_bytes=$heap"
  } >>"$SIZES"
done

printf '\n%-14s %9s %9s %7s %6s %7s %7s %12s %9s\n' env .bin IROM IRAM DATA RODATA BSS "static DRAM" heap@boot
for ENV in "${ENVS[@]}"; do
  v() { awk -v e="$ENV" -v k="$1" '$1 == e && index($2, k "=") == 1 { print substr($2, length(k) + 2) }' "$SIZES"; }
  printf '%-14s %9d %9d %7d %6d %7d %7d %12d %9d\n' "$ENV" "$(v bin_bytes)" "$(v irom_bytes)" "$(v iram_bytes)" \
    "$(v data_bytes)" "$(v rodata_bytes)" "$(v bss_bytes)" "$(v static_dram_bytes)" "$(v heap_at_boot_bytes)"
done
echo "(bytes; IRAM = .text + .text1; heap@boot = 0x3FFFC000 - _heap_start, before WiFi and lwIP take theirs)"
# The per-archive table, one code/dram column pair per env, largest first (by the first env).
echo
{
  printf 'where the image goes (link map)'
  for ENV in "${ENVS[@]}"; do printf '\t%s code\tdram' "$ENV"; done
  echo
  for ENV in "${ENVS[@]}"; do cut -f1 "$OUT/$ENV/where.txt"; done | sort -u | while IFS= read -r g; do
    printf '%s' "$g"
    for ENV in "${ENVS[@]}"; do
      awk -F'\t' -v g="$g" '$1 == g { c = $2; d = $3 } END { printf "\t%d\t%d", c, d }' "$OUT/$ENV/where.txt"
    done
    echo
  done | sort -t$'\t' -k2,2nr
} | awk -F'\t' '{ printf "%-32s", $1; for (i = 2; i <= NF; i++) printf " %10s", $i; print "" }'
budget_check "$SIZES" || status=1
echo "firmware-link: $([[ $status -eq 0 ]] && echo ok || echo FAILED) (images in $OUT/<env>/firmware.bin, sizes in $SIZES)"
exit "$status"
