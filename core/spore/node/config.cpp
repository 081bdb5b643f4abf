#include "spore/node/config.h"

namespace spore {

namespace {

// The lan and fast tables with broadcast liveness: the profiles' traffic, retention and ports, and the
// timers Config::derive() reproduces; default_lan() and fast() add the digest timers on top.
Config lan_broadcast() {
  Config c = Config::default_esp8266();
  c.http_port = 8080;
  c.long_task_warn_ms = 50;
  c.join_answer_spacing_ms = 1;  // hosts: microseconds per member; the LAN's airtime bounds it
  return c;
}

Config fast_broadcast() {
  Config c = lan_broadcast();
  c.discovery_interval_ms = 250;
  c.listen_interval_ms = 20;
  c.status_interval_ms = 100;
  c.heartbeat_interval_ms = 250;
  c.member_info_interval_ms = 2000;
  c.debug_interval_ms = 0;
  c.start_jitter_max_ms = 250;
  c.inactive_after_ms = 1500;
  c.dead_after_ms = 6000;
  c.dead_retention_ms = 30000;
  c.suspect_after_ms = 400;
  c.probe_timeout_ms = 100;
  c.indirect_probes = 3;
  c.ota_stall_timeout_ms = 10000;
  return c;
}

}  // namespace

Config Config::default_esp8266() {
  Config c{};
  c.discovery_interval_ms = 1000;
  c.listen_interval_ms = 100;
  c.status_interval_ms = 1000;
  // Not the seed's 2 s: a 2 s heartbeat plus the 10 s announce costs ~1.06 KB/s received at N=50,
  // over the DESIGN.md budget; 2.5 s still gives 4 heartbeats per inactive_after_ms window.
  c.heartbeat_interval_ms = 2500;
  c.member_info_interval_ms = 10000;
  c.debug_interval_ms = 5000;
  c.start_jitter_max_ms = 1000;
  c.join_answer_spacing_ms = 2;  // the ESP-01's HMAC cost per member, twice over
  c.long_task_warn_ms = 100;
  c.inactive_after_ms = 10000;
  c.dead_after_ms = 60000;
  c.dead_retention_ms = 300000;
  c.suspect_after_ms = 4000;
  c.probe_timeout_ms = 500;
  c.indirect_probes = 3;
  c.udp_port = 4210;
  c.http_port = 80;
  c.ota_stall_timeout_ms = 30000;
  return c;
}

// Hosts hear every DIGEST of a chain (SPORE_DIGEST_LIVENESS is 1 there): received datagrams per node
// stay flat in N (docs/protocol.md §11.12), where broadcast heartbeats cost N per period.
Config Config::default_lan() { return lan_broadcast().with_digest_liveness(); }

Config Config::fast() { return fast_broadcast().with_digest_liveness(); }

#if !defined(__XTENSA__)
namespace {

// min(field, derived): the profile's value bounds the derived one; at least 1 ms.
void lower_to(uint32_t& field, uint32_t derived) {
  if (derived < field) field = derived > 0 ? derived : 1;
}

}  // namespace

Config Config::derive(Profile profile, uint32_t inactive_after_ms, uint32_t dead_after_ms) {
  return derive(profile, profile == Profile::kEsp8266 ? Liveness::kBroadcast : Liveness::kDigest, inactive_after_ms,
                dead_after_ms);
}

Config Config::derive(Profile profile, Liveness liveness, uint32_t inactive_after_ms, uint32_t dead_after_ms) {
  // The rules below start from the broadcast tables; digest mode's timers follow from their result.
  Config c = profile == Profile::kFast      ? fast_broadcast()
             : profile == Profile::kEsp8266 ? default_esp8266()
                                            : lan_broadcast();
  if (inactive_after_ms != 0) {
    c.inactive_after_ms = inactive_after_ms;
  } else if (dead_after_ms != 0) {
    lower_to(c.inactive_after_ms, dead_after_ms / 2);
  }
  const uint32_t inactive = c.inactive_after_ms;
  if (dead_after_ms != 0) {
    c.dead_after_ms = dead_after_ms;
  } else if (inactive > c.dead_after_ms / 2) {
    c.dead_after_ms = inactive > UINT32_MAX / 2 ? UINT32_MAX : 2 * inactive;
  }
  lower_to(c.heartbeat_interval_ms, inactive / 4);
  c.suspect_after_ms = c.heartbeat_interval_ms * 8 / 5;  // the heartbeat is at most the profile's 2.5 s
  if (c.suspect_after_ms <= c.heartbeat_interval_ms) c.suspect_after_ms = c.heartbeat_interval_ms + 1;
  lower_to(c.probe_timeout_ms, inactive / 15);
  lower_to(c.listen_interval_ms, c.probe_timeout_ms / 5);
  lower_to(c.status_interval_ms, inactive / 10);
  c.liveness = Liveness::kBroadcast;
  return liveness == Liveness::kDigest ? c.with_digest_liveness() : c;
}
#endif

Config Config::with_digest_liveness() const {
  Config c = *this;
  c.liveness = Liveness::kDigest;
  if (c.heartbeat_interval_ms < c.inactive_after_ms / 3) c.heartbeat_interval_ms = c.inactive_after_ms / 3;
  c.suspect_after_ms = c.heartbeat_interval_ms * 3 / 2;
  const uint32_t probes_ms = 4 * c.probe_timeout_ms;
  if (c.inactive_after_ms > probes_ms && c.suspect_after_ms > c.inactive_after_ms - probes_ms)
    c.suspect_after_ms = c.inactive_after_ms - probes_ms;
  return c;
}

FlashStr Config::validation_error() const {
  // Each sentence names first the field to change: a timer before the threshold it follows.
  if (discovery_interval_ms == 0) return SPORE_FSTR("discovery_interval_ms must be > 0");
  if (listen_interval_ms == 0) return SPORE_FSTR("listen_interval_ms must be > 0");
  if (status_interval_ms == 0) return SPORE_FSTR("status_interval_ms must be > 0");
  if (heartbeat_interval_ms == 0) return SPORE_FSTR("heartbeat_interval_ms must be > 0");
  if (member_info_interval_ms == 0) return SPORE_FSTR("member_info_interval_ms must be > 0");
  if (inactive_after_ms == 0) return SPORE_FSTR("inactive_after_ms must be > 0");
  if (dead_after_ms <= inactive_after_ms) return SPORE_FSTR("dead_after_ms must be greater than inactive_after_ms");
  if (heartbeat_interval_ms > inactive_after_ms / 2) {
    // One lost heartbeat would then mark a healthy node INACTIVE.
    return SPORE_FSTR("heartbeat_interval_ms must be at most inactive_after_ms / 2");
  }
  if (status_interval_ms > inactive_after_ms) {
    return SPORE_FSTR("status_interval_ms must not exceed inactive_after_ms (changes would be missed)");
  }
  if (probe_timeout_ms == 0) return SPORE_FSTR("probe_timeout_ms must be > 0");
  if (suspect_after_ms <= heartbeat_interval_ms) {
    return SPORE_FSTR("suspect_after_ms must exceed heartbeat_interval_ms (each heartbeat would start a probe)");
  }
  if (suspect_after_ms > inactive_after_ms || probe_timeout_ms > (inactive_after_ms - suspect_after_ms) / 4) {
    // Fewer than two probe rounds (direct + indirect) before INACTIVE: one lost round trip would do.
    return SPORE_FSTR("suspect_after_ms + 4 x probe_timeout_ms must not exceed inactive_after_ms");
  }
  if (indirect_probes > 8) return SPORE_FSTR("indirect_probes must be 0..8");
  if (udp_port == 0) return SPORE_FSTR("udp_port must be 1..65535");
  if (http_port == 0) return SPORE_FSTR("http_port must be 1..65535");
  if (ota_stall_timeout_ms < 1000) {
    // Below a TCP retransmission or two, healthy uploads over WiFi would be aborted.
    return SPORE_FSTR("ota_stall_timeout_ms must be at least 1000");
  }
  return FlashStr();
}

#if !defined(__XTENSA__)
const char* Config::validate() const {
  // On hosts SPORE_FLASH data is ordinary memory, so the flash sentence is a valid C string.
  return validation_error().address();
}
#endif

}  // namespace spore
