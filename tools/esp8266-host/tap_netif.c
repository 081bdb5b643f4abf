/*
 * SPORE's TAP network interface for lwIP 2.1.3 on the emulated ESP-01 (issue 17); see tap_netif.h.
 * Written for SPORE. The chip's glue (esp82xx-nonos-linklayer glue-lwip/lwip-git.c) was read for
 * what the chip does: it allocates each received frame as one PBUF_RAM pbuf of the frame's length
 * (esp2glue_alloc_for_recv) and passes it to ethernet_input; tap_netif does the same.
 */
#define _GNU_SOURCE
#include "tap_netif.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lwip/etharp.h"
#include "lwip/igmp.h"
#include "lwip/pbuf.h"
#include "lwip/timeouts.h"
#include "lwip_glue.h"
#include "netif/ethernet.h"

/* Ethernet header (14) + MTU (1500); a TAP without IFF_NO_PI adds nothing, one read() is one frame.
 * The buffer is larger so that an oversized frame (VLAN tag, a peer's bigger MTU) is seen as such
 * (read returns more than the largest frame the chip takes) and dropped, not truncated. */
enum { kTapMtu = 1500, kMaxFrameBytes = 14 + kTapMtu, kReadBufferBytes = 2048 };

static int tap_fd = -1;
static TapNetifStats stats;

/* netif->linkoutput: one write() per frame, the pbuf chain flattened first (TAP takes whole frames
 * only). A short write is a lost frame, as a frame the radio could not send. */
static err_t tap_linkoutput(struct netif* nif, struct pbuf* p) {
  if (tap_fd < 0 || !netif_is_link_up(nif) || p->tot_len > kMaxFrameBytes) {
    ++stats.tx_dropped;
    return ERR_IF;
  }
  if (p->next != NULL) ++stats.tx_chained;
  uint8_t frame[kMaxFrameBytes];
  u16_t len = pbuf_copy_partial(p, frame, p->tot_len, 0);
  ssize_t n = write(tap_fd, frame, len);
  if (n != (ssize_t)len) {
    ++stats.tx_dropped;
    return ERR_IF;
  }
  ++stats.tx_frames;
  return ERR_OK;
}

/* The chip's glue installs a status callback that reports to the core (LwipIntfCB.cpp). */
static void tap_status_callback(struct netif* nif) { netif_status_changed(nif); }

static err_t tap_netif_init(struct netif* nif) {
  nif->name[0] = 's';  /* "st", the chip's station interface name (glue: netif_name) */
  nif->name[1] = 't';
  nif->output = etharp_output;
  nif->linkoutput = tap_linkoutput;
  nif->mtu = kTapMtu;
  nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_IGMP;
  netif_set_status_callback(nif, tap_status_callback);
  return ERR_OK;
}

int tap_netif_open(struct netif* nif, const char* tap_name, const uint8_t mac[6],
                   const ip4_addr_t* addr, const ip4_addr_t* netmask, const ip4_addr_t* gw) {
  if (tap_fd >= 0) return -EBUSY;
  if (tap_name == NULL || strlen(tap_name) >= IFNAMSIZ) return -EINVAL;
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  memcpy(ifr.ifr_name, tap_name, strlen(tap_name));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  memset(&stats, 0, sizeof stats);
  memset(nif, 0, sizeof *nif);
  nif->hwaddr_len = ETH_HWADDR_LEN;
  memcpy(nif->hwaddr, mac, ETH_HWADDR_LEN);
  if (netif_add(nif, addr, netmask, gw, NULL, tap_netif_init, ethernet_input) == NULL) {
    close(fd);
    return -ENOMEM;
  }
  tap_fd = fd;
  return 0;
}

void tap_netif_set_up(struct netif* nif, bool up) {
  /* As the chip's glue (esp2glue_netif_set_up1down0 and its station status callback): the station
   * is the default route while up, none while down. */
  if (up) {
    netif_set_link_up(nif);
    netif_set_up(nif);  /* status callback: netif_status_changed(); gratuitous ARP, IGMP report */
    netif_set_default(nif);
  } else {
    netif_set_link_down(nif);
    netif_set_down(nif);  /* status callback; IGMP groups stay joined, as on the chip */
    if (netif_default == nif) netif_set_default(NULL);
  }
}

/* Our own source MAC: the chip's radio never hands the board a frame it transmitted. */
static bool from_self(const struct netif* nif, const uint8_t* frame) {
  return memcmp(frame + ETH_HWADDR_LEN, nif->hwaddr, ETH_HWADDR_LEN) == 0;
}

int tap_netif_poll(struct netif* nif) {
  int handled = 0;
  uint8_t buf[kReadBufferBytes];
  lwip_glue_tw_limit();  /* an application tcp_close() since the last poll (lwip_glue.h) */
  while (tap_fd >= 0) {
    ssize_t n = read(tap_fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;  /* EAGAIN: nothing more pending (other errors: the device went away; try next poll) */
    }
    if (n < 14 || n > kMaxFrameBytes) continue;  /* runt or oversized: the chip would not take it */
    if (from_self(nif, buf)) {
      ++stats.rx_own_dropped;
      continue;
    }
    if (!netif_is_link_up(nif) || !netif_is_up(nif)) {
      ++stats.rx_link_down;
      continue;
    }
    struct pbuf* p = pbuf_alloc(PBUF_RAW, (u16_t)n, PBUF_RAM);
    if (p == NULL) {
      ++stats.rx_nomem;
      continue;
    }
    pbuf_take(p, buf, (u16_t)n);
    ++stats.rx_frames;
    if (nif->input(p, nif) != ERR_OK) pbuf_free(p);
    lwip_glue_tw_limit();
    ++handled;
  }
  sys_check_timeouts();
  return handled;
}

int tap_netif_fd(void) { return tap_fd; }

TapNetifStats tap_netif_stats(void) { return stats; }

void tap_netif_close(struct netif* nif) {
  if (tap_fd < 0) return;
  netif_remove(nif);
  close(tap_fd);
  tap_fd = -1;
}
