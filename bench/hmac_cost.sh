#!/usr/bin/env bash
# What one datagram's tag check costs an ESP8266: instructions executed by the lx106 build of
# core's wire::decode() and hmac_sha256() over BearSSL, per datagram size (docs/benchmarks.md,
# "HMAC cost on the ESP8266"; the limits it sizes: docs/protocol.md §11.11).
#
# Usage: bench/hmac_cost.sh [--out DIR] [--keep-trace] [--compare-lib LIBBEARSSL_A] [--bearssl-cflags FLAGS]
#                           [--update-docs] BEARSSL_TREE
#        bench/hmac_cost.sh --help
#
#   BEARSSL_TREE   earlephilhower/bearssl-esp8266 at b024386, the BearSSL of the ESP8266 Arduino
#                  core 3.1.2 (its tools/sdk/ssl/bearssl submodule; docs/footprint.md). Never
#                  downloaded here: `git clone https://github.com/earlephilhower/bearssl-esp8266 &&
#                  git -C bearssl-esp8266 checkout b024386`. A tree that is not a git checkout is
#                  used as given (its commit cannot be checked).
#   --out DIR      build and results directory (default build/bench/hmac_cost)
#   --keep-trace   keep QEMU's instruction trace (DIR/trace.log, ~70 MB)
#   --compare-lib  also check that br_sha2small_round here is, instruction for instruction, the one
#                  in LIBBEARSSL_A (e.g. build/firmware-link/prebuilt/libbearssl.a)
#   --bearssl-cflags  compile BearSSL with FLAGS (their -O, -m and -f flags) instead of
#                  conf/esp8266.mk's, to see how much the compiler's choices move the figures
#                  (e.g. "-Os -mlongcalls -mtext-section-literals"; not with --update-docs)
#   --update-docs  rewrite the `hmac-cost` section of docs/benchmarks.md with the tables
#
# Method. bench/hmac_cost/harness.cpp calls wire::decode() on forged datagrams (a v2 GOSSIP
# header whose tag is wrong: decode() computes the HMAC and stops at bad_tag, what a flood costs)
# of 64, 128, 256 and 508 bytes, hmac_sha256() alone, and decode() of valid GOSSIPs. Core is
# compiled with tools/lx106-build.sh's flags (-Os -mlongcalls -mtext-section-literals ...), the
# four BearSSL sources it needs (sha2small.c, hmac.c, dec32be.c, enc32be.c) with the tree's
# conf/esp8266.mk flags as tools/firmware-link.sh builds libbearssl (-O2 -free -fipa-pta ...; less
# the -D defines, which in these four files only choose the section of constants), all with
# Debian's xtensa-lx106-elf-gcc, and linked bare-metal (bench/hmac_cost/sim.ld: code at the
# chip's flash-mapped 0x40200000). qemu-system-xtensa runs it as `-M sim -cpu lx106` (QEMU's
# model of the ESP8266's core; `-kernel` does not start an lx106 ELF, `-device loader` does) with
# `-singlestep -d exec,nochain`: one trace line per executed instruction. count.py counts the
# lines between the harness's markers. Each case runs twice and both counts must agree; the
# harness checks RFC 4231 test case 2 and each decode() result first.
#
# Limits: QEMU counts instructions, not cycles; the tables' microseconds assume 1 instruction
# per cycle, a lower bound. On the chip, loads that feed the next instruction, taken branches and
# the instruction cache (code in flash: a miss reads the SPI flash) add cycles; the docs section
# compares with a published ESP8266 measurement. BearSSL is compiled by GCC 12, not the core's
# GCC 10.3 (esp-quick-toolchain); memcpy is picolibc's Xtensa assembly, not newlib's.
#
# Needs (apt): gcc-xtensa-lx106 picolibc-xtensa-lx106-elf qemu-system-misc python3, and what
# tools/lx106-setup.sh needs (the libstdc++ headers for the target). No network access.
# Exit status: 0 measured; 1 a build, run or check failed; 2 bad command line or missing tool/tree.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CALLER_PWD="$PWD"
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "hmac_cost: error: $1" >&2; exit "${2:-1}"; }
bad_usage() { echo "hmac_cost: $*" >&2; echo "try: bench/hmac_cost.sh --help" >&2; exit 2; }
abs_path() { [[ $1 == /* ]] && echo "$1" || echo "$CALLER_PWD/$1"; }

OUT="$ROOT/build/bench/hmac_cost" KEEP_TRACE=0 COMPARE_LIB="" UPDATE_DOCS=0 TREE="" BR_CFLAGS=""
while [[ $# -gt 0 ]]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --out) [[ $# -ge 2 ]] || bad_usage "--out needs a directory"; OUT="$(abs_path "$2")"; shift 2 ;;
    --keep-trace) KEEP_TRACE=1; shift ;;
    --compare-lib) [[ $# -ge 2 ]] || bad_usage "--compare-lib needs an archive"; COMPARE_LIB="$(abs_path "$2")"; shift 2 ;;
    --bearssl-cflags) [[ $# -ge 2 && -n $2 ]] || bad_usage "--bearssl-cflags needs flags"; BR_CFLAGS="$2"; shift 2 ;;
    --update-docs) UPDATE_DOCS=1; shift ;;
    -*) bad_usage "unknown option $1" ;;
    *) [[ -z $TREE ]] || bad_usage "one BEARSSL_TREE only (got '$TREE' and '$1')"; TREE="$(abs_path "$1")"; shift ;;
  esac
done
[[ -n $TREE ]] || bad_usage "missing BEARSSL_TREE (earlephilhower/bearssl-esp8266 at b024386)"
[[ -z $BR_CFLAGS || $UPDATE_DOCS == 0 ]] || bad_usage "--update-docs writes the firmware's flags' figures: not with --bearssl-cflags"

T=xtensa-lx106-elf
for tool in "$T-g++" "$T-gcc" "$T-nm" "$T-objdump" qemu-system-xtensa python3; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install gcc-xtensa-lx106 qemu-system-misc python3)" 2
done
LIBC_DIR=/usr/lib/$T/lib
[[ -f $LIBC_DIR/libc.a ]] || die "$LIBC_DIR/libc.a missing (apt-get install picolibc-xtensa-lx106-elf)" 2
[[ -z $COMPARE_LIB || -f $COMPARE_LIB ]] || die "--compare-lib: no file $COMPARE_LIB" 2

BEARSSL_SRC=(hash/sha2small.c mac/hmac.c codec/dec32be.c codec/enc32be.c)
[[ -d $TREE ]] || die "BEARSSL_TREE: no directory $TREE (need earlephilhower/bearssl-esp8266 at b024386)" 2
for f in inc/bearssl_hmac.h conf/esp8266.mk README-esp8266.txt "${BEARSSL_SRC[@]/#/src/}"; do
  [[ -f $TREE/$f ]] || die "BEARSSL_TREE: $TREE/$f missing (need earlephilhower/bearssl-esp8266 at b024386, the ESP8266 port)" 2
done
if commit="$(git -C "$TREE" rev-parse HEAD 2>/dev/null)"; then
  [[ $commit == b024386* ]] || echo "hmac_cost: warning: $TREE is at ${commit:0:7}, the firmware's BearSSL is b024386" >&2
else
  commit="unknown: not a git checkout"
fi
# The -D defines of conf/esp8266.mk are left out (ESP8266 would pull the core's sys/pgmspace.h):
# sound only while these files do not test them.
BR_PATHS=()
for src in "${BEARSSL_SRC[@]}"; do BR_PATHS+=("$TREE/src/$src"); done
if grep -nE 'ESP8266|__ets__|ICACHE_FLASH|BR_SLOW_MUL15|PGM_READ_UNALIGNED' "${BR_PATHS[@]}"; then
  die "the BearSSL sources above depend on conf/esp8266.mk's defines, which this script leaves out"
fi

# conf/esp8266.mk's CFLAGS as tools/firmware-link.sh uses them: the -O/-m/-f flags this GCC knows.
BR_FLAGS=() dropped=()
flag_source="$(sed -n 's/^CFLAGS *+\{0,1\}= *//p' "$TREE/conf/esp8266.mk")"
[[ -z $BR_CFLAGS ]] || flag_source="$BR_CFLAGS"
for flag in $flag_source; do
  [[ $flag == -O* || $flag == -m* || $flag == -f* ]] || continue
  if "$T-gcc" "$flag" -x c -c /dev/null -o /dev/null 2>/dev/null; then BR_FLAGS+=("$flag"); else dropped+=("$flag"); fi
done
[[ ${#BR_FLAGS[@]} -gt 0 ]] || die "no CFLAGS found in $TREE/conf/esp8266.mk"

cd "$ROOT"
tools/lx106-setup.sh build/lx106 >/dev/null || die "tools/lx106-setup.sh failed (the target's C++ headers)"
mapfile -t INCFLAGS <build/lx106/cxxflags
mkdir -p "$OUT/inc" "$OUT/obj"
rm -f "$OUT"/obj/*.o "$OUT/inc/bearssl"
# Core includes <bearssl/...>: the tree's headers (their structs are the firmware's), ahead of the
# Debian copy lx106-setup.sh puts on the include path.
ln -s "$TREE/inc" "$OUT/inc/bearssl"
CORE_FLAGS=(-std=gnu++17 -Os -fno-exceptions -fno-rtti -mlongcalls -mtext-section-literals -ffunction-sections
  -fdata-sections -Wall -Wextra -Werror)
for src in core/spore/auth/hmac_sha256.cpp core/spore/wire/wire_decode.cpp core/spore/base/hex.cpp \
  bench/hmac_cost/harness.cpp; do
  "$T-g++" "${CORE_FLAGS[@]}" -isystem "$OUT/inc" "${INCFLAGS[@]}" -Icore -c "$src" \
    -o "$OUT/obj/$(basename "$src" .cpp).o" || die "compiling $src failed"
done
for src in "${BR_PATHS[@]}"; do
  "$T-gcc" "${BR_FLAGS[@]}" -I"$TREE/inc" -I"$TREE/src" -c "$src" -o "$OUT/obj/br_$(basename "$src" .c).o" ||
    die "compiling $src failed"
done
"$T-g++" -nostdlib -Wl,--gc-sections -T bench/hmac_cost/sim.ld -o "$OUT/harness.elf" "$OUT"/obj/*.o \
  -L"$LIBC_DIR" -lc -lgcc || die "linking the harness failed"

if [[ -n $COMPARE_LIB ]]; then
  listing() { "$T-objdump" -d "$1" --disassemble=br_sha2small_round | awk '$1 ~ /^[0-9a-f]+:$/ { print $3 }'; }
  # Objects, not the linked ELF: the linker relaxes long calls (l32r + callx0 -> call0).
  here="$(listing "$OUT/obj/br_sha2small.o")"
  there="$(listing "$COMPARE_LIB")"
  [[ -n $there ]] || die "--compare-lib: $COMPARE_LIB has no br_sha2small_round"
  [[ $here == "$there" ]] || die "br_sha2small_round differs from $COMPARE_LIB's (built with other flags or another compiler?)"
  echo "hmac_cost: br_sha2small_round is instruction for instruction $COMPARE_LIB's ($(wc -l <<<"$here") instructions)"
fi

# The trace is ~1 M lines; 60 s is far more than the run takes, and bounds a hang.
timeout 60 qemu-system-xtensa -M sim -cpu lx106 -semihosting -nographic -monitor none -serial none \
  -device loader,file="$OUT/harness.elf",cpu-num=0 -singlestep -d exec,nochain -D "$OUT/trace.log" \
  >"$OUT/harness.out" || { cat "$OUT/harness.out" >&2; die "the harness did not run to its end under QEMU"; }

{
  echo "# bench/hmac_cost.sh, $(date -u +%Y-%m-%d): $("$T-gcc" --version | head -n1); $(qemu-system-xtensa --version | head -n1)"
  echo "# BearSSL $TREE (commit $commit) flags: ${BR_FLAGS[*]}${dropped:+ (dropped, unknown to this GCC: ${dropped[*]})}"
  echo "# core flags: ${CORE_FLAGS[*]}"
} >"$OUT/header.txt"
python3 bench/hmac_cost/count.py "$OUT/harness.elf" "$OUT/trace.log" "$OUT/harness.out" "$OUT/section.md" \
  "$OUT/results.txt" "$T-" >/dev/null || die "counting the trace failed"
[[ $KEEP_TRACE == 1 ]] || rm -f "$OUT/trace.log"
cat "$OUT/header.txt" "$OUT/section.md"
echo "hmac_cost: results in ${OUT#"$ROOT"/}/results.txt"
if [[ $UPDATE_DOCS == 1 ]]; then
  { sed 's/^# /<!-- /; s/$/ -->/' "$OUT/header.txt"; echo; cat "$OUT/section.md"; } >"$OUT/docs.md"
  python3 bench/doc_section.py docs/benchmarks.md hmac-cost "$OUT/docs.md" || die "updating docs/benchmarks.md failed"
  echo "hmac_cost: docs/benchmarks.md section hmac-cost updated"
fi
