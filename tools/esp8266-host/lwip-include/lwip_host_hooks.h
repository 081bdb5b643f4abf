/*
 * SPORE's LWIP_HOOK_FILENAME for the host build of lwIP 2.1.3 (tools/esp8266-host/lwip-build.sh).
 * It defines no lwIP hook. It exists for one rename: the core's lwipopts.h declares
 * `void tcp_kill_timewait(void);` (public, for the chip's patched tcp_in.c TIME-WAIT limit), while
 * upstream tcp.c defines its own tcp_kill_timewait `static`, which C refuses after a public
 * declaration. tcp.c includes this file after its headers and before that definition, so the
 * upstream static function and its one caller (tcp_alloc) get another name; the public
 * tcp_kill_timewait is lwip_glue.c's. No other lwIP source names tcp_kill_timewait.
 */
#ifndef SPORE_LWIP_HOST_HOOKS_H
#define SPORE_LWIP_HOST_HOOKS_H
#define tcp_kill_timewait tcp_kill_timewait_upstream_static
#endif
