/*
 * Smoke program for tools/esp8266-host (issue 17): lwIP 2.1.3 with the core's lwipopts.h on a TAP
 * device, raw API only, as the emulated ESP-01 will run it. Run by lwip-smoke.sh inside a network
 * namespace:
 *
 *   lwip-smoke TAP MAC IP NETMASK SECONDS
 *
 * Serves: UDP echo on 4210; TCP on 4280 answering "hello\n" then closing; joins 239.1.2.3 and
 * answers a datagram to 239.1.2.3:4212 with "mcast-ok:" + payload to its sender; sends
 * "bcast <n>" to 255.255.255.255:4211 every second and listens on 4211 itself, counting
 * datagrams whose source is its own address (a chip never hears its own broadcast).
 * SIGUSR1 takes the link down (tap_netif_set_up(false), a WiFi disconnect), SIGUSR2 up again.
 * Exits after SECONDS or on SIGTERM, printing one line of counters:
 *   smoke-stats rx_frames=.. rx_own_dropped=.. tx_frames=.. tx_dropped=.. own_bcast_rx=.. bcast_sent=..
 *               hello_served=.. tw_max=..
 * (tw_max: the most pcbs seen in TIME-WAIT at once; the hello server closes first, so each served
 * connection leaves one, and the chip's limit, lwip_glue_tw_limit(), keeps at most 5.)
 * Provides what the Arduino side provides in the real bed: millis() and the heap functions
 * lwipopts.h names (pvPortMalloc/pvPortZalloc/vPortFree), here over malloc.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lwip/opt.h"
#include "lwip/igmp.h"
#include "lwip/ip4_addr.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"
#include "lwip_glue.h"
#include "tap_netif.h"

enum {
  kEchoPort = 4210,
  kBroadcastPort = 4211,
  kMulticastPort = 4212,
  kHelloPort = 4280,
  kBroadcastPeriodMs = 1000,
  kPollSliceMs = 20,
};

/* ---- what the Arduino side provides in the bed ------------------------------------------------ */
unsigned long millis(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (unsigned long)ts.tv_sec * 1000ul + (unsigned long)(ts.tv_nsec / 1000000);
}
void* pvPortMalloc(size_t size, const char* file, int line) {
  (void)file; (void)line;
  return malloc(size);
}
void* pvPortZalloc(size_t size, const char* file, int line) {
  (void)file; (void)line;
  return calloc(1, size);
}
void vPortFree(void* ptr, const char* file, int line) {
  (void)file; (void)line;
  free(ptr);
}

/* ---- the services ------------------------------------------------------------------------------- */
static struct netif board;
static unsigned own_bcast_rx = 0, bcast_sent = 0, tw_max = 0, hello_served = 0;
static volatile sig_atomic_t stop = 0, want_up = 1;

static void on_signal(int sig) { (void)sig; stop = 1; }
/* SIGUSR1: WiFi disconnect (link and interface down), SIGUSR2: connect again. */
static void on_link_signal(int sig) { want_up = sig == SIGUSR2; }

static void echo_recv(void* arg, struct udp_pcb* pcb, struct pbuf* p, const ip_addr_t* addr, u16_t port) {
  (void)arg;
  udp_sendto(pcb, p, addr, port);
  pbuf_free(p);
}

static void mcast_recv(void* arg, struct udp_pcb* pcb, struct pbuf* p, const ip_addr_t* addr, u16_t port) {
  (void)arg;
  static const char kPrefix[] = "mcast-ok:";
  struct pbuf* r = pbuf_alloc(PBUF_TRANSPORT, (u16_t)(sizeof kPrefix - 1 + p->tot_len), PBUF_RAM);
  if (r != NULL) {
    pbuf_take(r, kPrefix, sizeof kPrefix - 1);
    pbuf_copy_partial(p, (char*)r->payload + sizeof kPrefix - 1, p->tot_len, 0);
    udp_sendto(pcb, r, addr, port);
    pbuf_free(r);
  }
  pbuf_free(p);
}

static void bcast_recv(void* arg, struct udp_pcb* pcb, struct pbuf* p, const ip_addr_t* addr, u16_t port) {
  (void)arg; (void)pcb; (void)port;
  if (ip_addr_cmp(addr, &board.ip_addr)) ++own_bcast_rx;
  pbuf_free(p);
}

static err_t hello_recv(void* arg, struct tcp_pcb* pcb, struct pbuf* p, err_t err) {
  (void)arg; (void)err;
  if (p == NULL) return ERR_OK;  /* peer closed; we already closed our side */
  tcp_recved(pcb, p->tot_len);
  pbuf_free(p);
  return ERR_OK;
}

static err_t hello_accept(void* arg, struct tcp_pcb* pcb, err_t err) {
  (void)arg;
  if (err != ERR_OK || pcb == NULL) return ERR_VAL;
  tcp_recv(pcb, hello_recv);
  static const char kHello[] = "hello\n";
  if (tcp_write(pcb, kHello, sizeof kHello - 1, TCP_WRITE_FLAG_COPY) != ERR_OK) {
    tcp_abort(pcb);
    return ERR_ABRT;
  }
  tcp_output(pcb);
  ++hello_served;
  if (tcp_close(pcb) != ERR_OK) {
    tcp_abort(pcb);
    return ERR_ABRT;
  }
  return ERR_OK;
}

static void send_broadcast(struct udp_pcb* pcb) {
  char msg[32];
  int n = snprintf(msg, sizeof msg, "bcast %u", bcast_sent);
  struct pbuf* p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)n, PBUF_RAM);
  if (p == NULL) return;
  pbuf_take(p, msg, (u16_t)n);
  if (udp_sendto(pcb, p, IP_ADDR_BROADCAST, kBroadcastPort) == ERR_OK) ++bcast_sent;
  pbuf_free(p);
}

static int fail(const char* what) {
  fprintf(stderr, "lwip-smoke: %s\n", what);
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 6) return fail("usage: lwip-smoke TAP MAC IP NETMASK SECONDS");
  unsigned m[6];
  uint8_t mac[6];
  if (sscanf(argv[2], "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) return fail("bad MAC");
  for (int i = 0; i < 6; ++i) mac[i] = (uint8_t)m[i];
  ip4_addr_t ip, mask, gw;
  if (!ip4addr_aton(argv[3], &ip) || !ip4addr_aton(argv[4], &mask)) return fail("bad IP or netmask");
  ip4_addr_set_zero(&gw);
  long seconds = strtol(argv[5], NULL, 10);
  if (seconds <= 0 || seconds > 600) return fail("SECONDS must be 1..600");

  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGUSR1, on_link_signal);
  signal(SIGUSR2, on_link_signal);
  lwip_glue_init();
  int rc = tap_netif_open(&board, argv[1], "st", mac, &ip, &mask, &gw);
  if (rc != 0) {
    fprintf(stderr, "lwip-smoke: tap_netif_open(%s): %s\n", argv[1], strerror(-rc));
    return 1;
  }
  tap_netif_set_up(&board, true, true);

  struct udp_pcb* echo = udp_new();
  struct udp_pcb* bcast = udp_new();
  struct udp_pcb* mcast = udp_new();
  struct tcp_pcb* listener = tcp_new();
  if (!echo || !bcast || !mcast || !listener) return fail("pcb allocation failed");
  if (udp_bind(echo, IP_ANY_TYPE, kEchoPort) != ERR_OK) return fail("bind echo");
  udp_recv(echo, echo_recv, NULL);
  if (udp_bind(bcast, IP_ANY_TYPE, kBroadcastPort) != ERR_OK) return fail("bind broadcast");
  udp_recv(bcast, bcast_recv, NULL);
  ip4_addr_t group;
  IP4_ADDR(&group, 239, 1, 2, 3);
  if (igmp_joingroup_netif(&board, &group) != ERR_OK) return fail("IGMP join 239.1.2.3");
  if (udp_bind(mcast, IP_ANY_TYPE, kMulticastPort) != ERR_OK) return fail("bind multicast");
  udp_recv(mcast, mcast_recv, NULL);
  if (tcp_bind(listener, IP_ANY_TYPE, kHelloPort) != ERR_OK) return fail("bind tcp");
  listener = tcp_listen(listener);
  if (listener == NULL) return fail("listen");
  tcp_accept(listener, hello_accept);
  printf("lwip-smoke: up on %s %s pid %ld\n", argv[1], argv[3], (long)getpid());
  fflush(stdout);

  unsigned long start = millis(), next_bcast = start;
  bool is_up = true;
  while (!stop && millis() - start < (unsigned long)seconds * 1000ul) {
    if (is_up != (want_up != 0)) {
      is_up = want_up != 0;
      tap_netif_set_up(&board, is_up, true);
      printf("lwip-smoke: link %s\n", is_up ? "up" : "down");
      fflush(stdout);
    }
    if ((long)(millis() - next_bcast) >= 0) {
      send_broadcast(bcast);
      next_bcast += kBroadcastPeriodMs;
    }
    struct pollfd pfd = {.fd = tap_netif_fd(&board), .events = POLLIN};
    poll(&pfd, 1, kPollSliceMs);
    tap_netif_poll(&board);
    unsigned tw = lwip_glue_tw_count();
    if (tw > tw_max) tw_max = tw;
  }
  TapNetifStats s = tap_netif_stats(&board);
  printf("smoke-stats rx_frames=%u rx_own_dropped=%u tx_frames=%u tx_dropped=%u tx_chained=%u rx_link_down=%u own_bcast_rx=%u bcast_sent=%u hello_served=%u tw_max=%u\n",
         s.rx_frames, s.rx_own_dropped, s.tx_frames, s.tx_dropped, s.tx_chained, s.rx_link_down, own_bcast_rx, bcast_sent,
         hello_served, tw_max);
  tap_netif_close(&board);
  return 0;
}
