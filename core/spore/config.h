#pragma once
/// @file config.h
/// The one runtime configuration of a SPORE node (cf. memberlist's Config). Every field states its
/// unit and its trade-off. Start from a named profile and change what you need:
///
///     spore::Config cfg = spore::Config::default_lan();
///     cfg.inactive_after_ms = 5000;
///     if (const char* err = cfg.validate()) { /* refuse to start, print err */ }
///
/// Capacities (table sizes) are compile-time and live in limits.h, not here.

#include <cstdint>

namespace spore {

struct Config {
  // ---- Task intervals (the seed's cooperative tasks) ------------------------------------------
  /// Period of the discovery broadcast, ms. Shorter finds new nodes sooner but costs one
  /// broadcast datagram per node per period that every node on the LAN must receive.
  uint32_t discovery_interval_ms;
  /// Period at which the UDP socket is drained, ms. Shorter lowers measured latency and the risk
  /// of the small ESP8266 receive queue overflowing; longer saves CPU on a busy loop.
  uint32_t listen_interval_ms;
  /// Period at which member status (ACTIVE/INACTIVE/DEAD) is re-evaluated, ms. Bounds how late a
  /// status change is noticed after its threshold passes.
  uint32_t status_interval_ms;
  /// Period of the liveness heartbeat/probe, ms. Shorter detects crashes sooner, costs traffic.
  uint32_t heartbeat_interval_ms;
  /// Period at which changed resources / API lists are exchanged, ms. Exchanged only when their
  /// digest changed, so this bounds staleness of resources, not traffic.
  uint32_t member_info_interval_ms;
  /// Period of the debug status print, ms; 0 disables it. Printing blocks the loop on a slow
  /// serial port, so keep it long on devices.
  uint32_t debug_interval_ms;
  /// Each task's first run is delayed by a random 0..min(interval, start_jitter_max_ms) ms so that
  /// nodes powered on together do not broadcast in lock step. 0 disables jitter (tests).
  uint32_t start_jitter_max_ms;
  /// A task run longer than this is logged as blocking the loop, ms. On the ESP8266 a loop
  /// blocked for ~3 s trips the software watchdog and WiFi starves well before that.
  uint32_t long_task_warn_ms;

  // ---- Status model (the seed's ACTIVE / INACTIVE / DEAD) ---------------------------------------
  /// A member not heard from for this long becomes INACTIVE, ms (seed: 10 s). Shorter detects
  /// crashes sooner; too short (< 3 heartbeats) raises false INACTIVE under packet loss.
  uint32_t inactive_after_ms;
  /// A member not heard from for this long becomes DEAD, ms (seed: 60 s). Must exceed
  /// inactive_after_ms. Longer rides out reboots and WiFi reconnects without a DEAD event.
  uint32_t dead_after_ms;
  /// A DEAD member is forgotten (its slot freed) after staying DEAD this long, ms. Longer keeps
  /// its history visible to operators; shorter frees table slots for newcomers sooner.
  uint32_t dead_retention_ms;

  // ---- Network ---------------------------------------------------------------------------------
  /// UDP port for discovery and membership (seed: 4210). Every node of a cluster must agree.
  uint16_t udp_port;
  /// HTTP port of the REST API. 80 on devices (browsers default to it); 8080 on Linux so the
  /// daemon needs no root.
  uint16_t http_port;

  /// The ESP8266 profile: the seed's timings exactly, HTTP on port 80.
  static Config default_esp8266();
  /// A Linux host on a LAN: the seed's thresholds, HTTP on 8080.
  static Config default_lan();
  /// Tests, demos and small wired LANs: sub-second heartbeat, INACTIVE after 1.5 s, DEAD after 6 s.
  /// Costs several times the traffic of the default profiles.
  static Config fast();

  /// nullptr when the configuration is usable; otherwise a static English sentence saying which
  /// field is wrong and why. A node must refuse to begin() with an invalid config.
  const char* validate() const;
};

}  // namespace spore
