#!/usr/bin/env bash
# Builds lwIP 2.1.3 (raw API, NO_SYS=1) for the emulated ESP-01 (issue 17) as a 32-bit host library,
# configured by the ESP8266 Arduino core 3.1.2's own lwipopts.h, unchanged, so that MSS, windows,
# send buffer, pcb counts and the heap-backed pools are the chip's.
#
#   tools/esp8266-host/lwip-build.sh LWIP_DIR ARDUINO_DIR OUTDIR
#
#   LWIP_DIR     lwIP at tag STABLE-2_1_3_RELEASE (git clone https://git.savannah.nongnu.org/git/lwip.git)
#   ARDUINO_DIR  esp8266/Arduino at tag 3.1.2 (PlatformIO's framework-arduinoespressif8266 3.30102.0
#                is the same tree if it carries tests/host)
#   OUTDIR       receives liblwip-host.a, lwip-host.flags (the compiler flags every translation unit that
#                includes an lwIP header must use, the Arduino side's too) and the objects
#
# Never downloads anything. Include order: our overrides (tools/esp8266-host/lwip-include, then
# tools/esp8266-host), lwIP's own headers (LWIP_DIR/src/include), then the core's lwip2 include directory
# for lwipopts.h, arch/cc.h, glue.h, gluedebug.h, lwip-err-t.h and lwip-git-hash.h (its copies of lwIP's
# headers are shadowed by LWIP_DIR's, which come first; one exception the compiler imposes: lwipopts.h's
# `#include "lwip/debug.h"` finds the core's copy beside it first, so this script checks that copy is
# byte-identical to LWIP_DIR's), then the core's SDK headers (tools/sdk/include: ets_sys.h, osapi.h,
# user_interface.h, c_types.h, ipv4_addr.h, mem.h, which glue.h and arch/cc.h include), the host
# emulation's sys/pgmspace.h (tests/host; gluedebug.h includes <sys/pgmspace.h> when ARDUINO is set) and,
# after the system headers, cores/esp8266 for user_config.h (osapi.h includes it).
#
# Flags that are the chip's build, not differences: -DTCP_MSS=536 -DLWIP_FEATURES=1 -DLWIP_IPV6=0 are the
# "lwIP v2 Lower Memory" variant firmware/platformio.ini selects (PIO_FRAMEWORK_ARDUINO_LWIP2_LOW_MEMORY;
# the chip links liblwip2-536-feat.a, tools/firmware-link.sh), -DLWIP_OPEN_SRC as the core's build
# (user_interface.h requires it).
#
# The core's lwipopts.h is used unchanged: no lwIP option differs from the chip's. What differs, and why:
#  1. arch/cc.h: lwip-include/arch/cc.h (ours) includes the core's and then
#     a. makes sys_now a function again (lwip_glue.c: (u32_t)millis(), the chip's clock): the core's cc.h
#        defines a function-like macro sys_now() that upstream lwip/sys.h's `u32_t sys_now(void);` cannot
#        parse (the chip's lwIP is patched: patches/sys_now_inlined.patch of esp82xx-nonos-linklayer);
#     b. makes SYS_ARCH_PROTECT/UNPROTECT no-ops instead of Xtensa `rsil 15`/`wsr ps` (glue.h): the
#        emulated board runs lwIP from one thread, no interrupt exists;
#     c. declares r_rand (LWIP_RAND; a ROM function no header declares) and pvPortZalloc (lwipopts.h's
#        mem_clib_calloc; the chip's build calls it through an implicit declaration).
#  2. TIME-WAIT limit: the chip's lwIP is patched (patches/time-wait.patch) to run lwipopts.h's
#     TCP_TW_LIMIT(MEMP_NUM_TCP_PCB_TIME_WAIT) when a pcb enters TIME-WAIT, with tcp_kill_timewait made
#     public; lwipopts.h declares it public, upstream tcp.c defines it static, which C refuses.
#     -DLWIP_HOOK_FILENAME="lwip_host_hooks.h" (ours; defines no hook) renames upstream's static copy
#     inside tcp.c; lwip_glue.c provides the public one; tap_netif_poll() applies the limit before and
#     after each received frame (lwip_glue.h says why this is the chip's behaviour at frame granularity).
#  3. SNTP (apps/sntp/sntp.c, in the chip's library too) sets the time with settimeofday(..., 0xFeedC0de)
#     (lwipopts.h SNTP_SET_SYSTEM_TIME_US): lwip_glue.c has a weak settimeofday that never touches the
#     host clock (the core's time.cpp replaces it when the Arduino side links it).
#  4. Not built: PPP (lwipopts.h turns PPPOS_SUPPORT on through IP_NAPT; lwip_init() calls ppp_init(),
#     lwip_glue.c has an empty weak one), NAPT (a patch of the chip's lwIP: IP_NAPT is defined but no
#     upstream source reads it; struct netif lacks the patch's `u8_t napt` member), IPv6 (LWIP_IPV6=0),
#     the sequential/socket API (LWIP_NETCONN=0, LWIP_SOCKET=0), the mdns app (the core's ESP8266mDNS is
#     its own), espconn (the SDK's API), the chip's other lwIP patches (DHCP client-id/DNS fixes, ip_addr.h
#     IP_SET_TYPE_VAL, sntp update delay: patches/ of esp82xx-nonos-linklayer).
#  5. -DARDUINO=10805 (PlatformIO's value; glue.h requires ARDUINO or OPENSDK) and the host emulation's
#     sys/pgmspace.h (PROGMEM and friends are no-ops on the host).
#  6. host gcc -Os -g instead of xtensa gcc 10.3 -Os: code size and speed are not the chip's; data layout
#     is (-m32: 4-byte pointers, int and long; -funsigned-char as on Xtensa).
set -euo pipefail

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[[ $# -eq 3 ]] || usage
LWIP_DIR=$(cd "$1" 2>/dev/null && pwd) || { echo "lwip-build: LWIP_DIR '$1' does not exist: clone lwIP and check out tag STABLE-2_1_3_RELEASE" >&2; exit 1; }
ARDUINO_DIR=$(cd "$2" 2>/dev/null && pwd) || { echo "lwip-build: ARDUINO_DIR '$2' does not exist: clone esp8266/Arduino and check out tag 3.1.2" >&2; exit 1; }
OUTDIR=$3
HERE=$(cd "$(dirname "$0")" && pwd)

# --- version checks -------------------------------------------------------------------------------
INIT_H=$LWIP_DIR/src/include/lwip/init.h
[[ -f $INIT_H ]] || { echo "lwip-build: $INIT_H missing: LWIP_DIR must be an lwIP tree at tag STABLE-2_1_3_RELEASE" >&2; exit 1; }
ver() { sed -n "s/^#define $1[[:space:]]\{1,\}\([0-9A-Za-z_]*\).*/\1/p" "$INIT_H" | head -1; }
LV="$(ver LWIP_VERSION_MAJOR).$(ver LWIP_VERSION_MINOR).$(ver LWIP_VERSION_REVISION) $(ver LWIP_VERSION_RC)"
[[ $LV == "2.1.3 LWIP_RC_RELEASE" ]] || { echo "lwip-build: $LWIP_DIR is lwIP $LV, need 2.1.3 release: check out tag STABLE-2_1_3_RELEASE" >&2; exit 1; }
LW2=$ARDUINO_DIR/tools/sdk/lwip2/include
[[ -f $LW2/lwipopts.h && -f $LW2/arch/cc.h && -f $LW2/glue.h ]] || { echo "lwip-build: $LW2/{lwipopts.h,arch/cc.h,glue.h} missing: ARDUINO_DIR must be esp8266/Arduino at tag 3.1.2" >&2; exit 1; }
AV=$(sed -n 's/^version=//p' "$ARDUINO_DIR/platform.txt" 2>/dev/null | head -1)
[[ $AV == 3.1.2 ]] || { echo "lwip-build: $ARDUINO_DIR is core version '${AV:-unknown}', need 3.1.2: check out esp8266/Arduino tag 3.1.2" >&2; exit 1; }
[[ -f $ARDUINO_DIR/tests/host/sys/pgmspace.h ]] || { echo "lwip-build: $ARDUINO_DIR/tests/host/sys/pgmspace.h missing (the core's host emulation): need the full esp8266/Arduino 3.1.2 tree" >&2; exit 1; }
cmp -s "$LW2/lwip/debug.h" "$LWIP_DIR/src/include/lwip/debug.h" || { echo "lwip-build: $LW2/lwip/debug.h differs from lwIP 2.1.3's: core is not 3.1.2" >&2; exit 1; }
grep -q 'STABLE-2_1_3_RELEASE' "$LW2/lwip-git-hash.h" || { echo "lwip-build: $LW2/lwip-git-hash.h does not name STABLE-2_1_3_RELEASE: core is not 3.1.2" >&2; exit 1; }

# --- flags ----------------------------------------------------------------------------------------
CC=${CC:-gcc}
# FLAGS: what every translation unit that includes an lwIP header needs, C or C++ (written to
# lwip-host.flags for the Arduino side); COPT: how this script compiles C.
FLAGS=(-m32 -funsigned-char
  -I"$HERE/lwip-include" -I"$HERE" -I"$LWIP_DIR/src/include" -I"$LW2" -I"$ARDUINO_DIR/tools/sdk/include"
  -I"$ARDUINO_DIR/tests/host" -idirafter "$ARDUINO_DIR/cores/esp8266"
  -DARDUINO=10805 -DLWIP_OPEN_SRC -DTCP_MSS=536 -DLWIP_FEATURES=1 -DLWIP_IPV6=0
  '-DLWIP_HOOK_FILENAME="lwip_host_hooks.h"')
COPT=(-std=gnu17 -Os -g)
WARN=(-Wall -Wno-address -Wno-unused-but-set-variable)

SRC=(core/init.c core/def.c core/dns.c core/inet_chksum.c core/ip.c core/mem.c core/memp.c core/netif.c
  core/pbuf.c core/raw.c core/stats.c core/sys.c core/tcp.c core/tcp_in.c core/tcp_out.c core/timeouts.c
  core/udp.c core/altcp.c core/altcp_alloc.c core/altcp_tcp.c
  core/ipv4/autoip.c core/ipv4/dhcp.c core/ipv4/etharp.c core/ipv4/icmp.c core/ipv4/igmp.c core/ipv4/ip4.c
  core/ipv4/ip4_addr.c core/ipv4/ip4_frag.c netif/ethernet.c apps/sntp/sntp.c)

mkdir -p "$OUTDIR/obj"
OUTDIR=$(cd "$OUTDIR" && pwd)
OBJS=()
for s in "${SRC[@]}"; do
  o=$OUTDIR/obj/$(basename "${s%.c}").o
  "$CC" "${COPT[@]}" "${FLAGS[@]}" "${WARN[@]}" -c "$LWIP_DIR/src/$s" -o "$o" || { echo "lwip-build: compiling $s failed" >&2; exit 1; }
  OBJS+=("$o")
done
for s in lwip_glue.c tap_netif.c; do
  o=$OUTDIR/obj/${s%.c}.o
  "$CC" "${COPT[@]}" "${FLAGS[@]}" -Wall -Wextra -Werror -c "$HERE/$s" -o "$o" || { echo "lwip-build: compiling $s failed" >&2; exit 1; }
  OBJS+=("$o")
done
rm -f "$OUTDIR/liblwip-host.a"
ar rcs "$OUTDIR/liblwip-host.a" "${OBJS[@]}"
printf '%q ' "${FLAGS[@]}" > "$OUTDIR/lwip-host.flags"; echo >> "$OUTDIR/lwip-host.flags"
echo "lwip-build: $OUTDIR/liblwip-host.a (lwIP $LV, core $AV lwipopts.h), flags in $OUTDIR/lwip-host.flags"
