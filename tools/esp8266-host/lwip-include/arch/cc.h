/*
 * SPORE's host wrapper around the ESP8266 Arduino core's lwip2 arch/cc.h (issue 17: lwIP 2.1.3 on the
 * emulated ESP-01). Found first on the include path (tools/esp8266-host/lwip-build.sh), it includes the
 * core's cc.h unchanged, then declares r_rand and pvPortZalloc (below) and replaces the two things
 * that cannot work on a Linux host:
 *
 *  - sys_now: the core's cc.h defines it as a function-like macro `sys_now()` over millis(); upstream
 *    lwIP 2.1.3's lwip/sys.h declares `u32_t sys_now(void);`, which that macro cannot parse (the core's
 *    own copy of sys.h comments the declaration out). Here sys_now is a real function again,
 *    lwip_glue.c returns (u32_t)millis() from it: the same clock as on the chip.
 *  - SYS_ARCH_PROTECT/UNPROTECT: the core maps them to Xtensa `rsil 15` / `wsr ps` (glue.h) to mask
 *    interrupts. The emulated board runs lwIP from one thread with no interrupts: no-ops.
 */
#ifndef SPORE_ESP8266_HOST_ARCH_CC_H
#define SPORE_ESP8266_HOST_ARCH_CC_H

#include_next <arch/cc.h>

#undef sys_now

/* LWIP_RAND is r_rand, a ROM function on the chip that no header declares; lwip_glue.c provides it. */
#ifdef __cplusplus
extern "C" uint32_t r_rand(void);
#else
uint32_t r_rand(void);
#endif

/* lwipopts.h's mem_clib_calloc calls pvPortZalloc, which ets_sys.h (unlike pvPortMalloc/vPortFree)
 * does not declare: the chip's build calls it through an implicit int declaration. Declared here as
 * the core's heap.cpp defines it; the heap emulation (or a test) provides all three. */
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
void* pvPortZalloc(size_t size, const char* file, int line);
#ifdef __cplusplus
}
#endif

#undef SYS_ARCH_DECL_PROTECT
#undef SYS_ARCH_PROTECT
#undef SYS_ARCH_UNPROTECT
#define SYS_ARCH_DECL_PROTECT(lev) sys_prot_t lev
#define SYS_ARCH_PROTECT(lev) ((void)((lev) = 0))
#define SYS_ARCH_UNPROTECT(lev) ((void)(lev))

#endif
