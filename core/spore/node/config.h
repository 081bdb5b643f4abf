#pragma once
/// @file config.h
/// The one runtime configuration of a SPORE node (cf. memberlist's Config). Every field states its
/// unit and its trade-off. The timers follow from a few knobs (Config::derive(), rules below), so
/// start from a profile and the thresholds you need, then change single fields only if you must:
///
///     spore::Config cfg = spore::Config::derive(spore::Profile::kLan, /*inactive_after_ms=*/3000);
///     if (const spore::FlashStr err = cfg.validation_error(); !err.is_null()) { /* refuse, say err */ }
///
/// Capacities (table sizes) are compile-time and live in limits.h, not here.
///
/// ## Derivation rules (Config::derive(profile, inactive_after_ms, dead_after_ms))
/// A profile gives two thresholds and an upper bound for each detection timer; the timers shrink
/// with a shorter inactive_after_ms (I) and never grow past the profile's (traffic is set by the
/// profile, detection speed by the thresholds). Integer ms, rounded down, at least 1:
/// | field                     | rule                                                       |
/// | ------------------------- | ---------------------------------------------------------- |
/// | inactive_after_ms (I)     | given, else min(profile's, dead_after_ms / 2)              |
/// | dead_after_ms (D)         | given, else max(profile's, 2 x I)                          |
/// | heartbeat_interval_ms (H) | min(profile's, I / 4): at least 4 heartbeats per window    |
/// | suspect_after_ms          | max(H x 8 / 5, H + 1): one heartbeat period plus 60 % slack |
/// | probe_timeout_ms (P)      | min(profile's, I / 15): >= 4 probe rounds before INACTIVE  |
/// | listen_interval_ms        | min(profile's, P / 5): a probe timeout seen within P / 5   |
/// | status_interval_ms        | min(profile's, I / 10): a status change seen within I / 10 |
/// | every other field         | the profile's (traffic, retention, ports)                  |
/// | liveness                  | the profile's: kDigest for kLan and kFast, kBroadcast for kEsp8266 |
/// Those are the broadcast timers; with liveness kDigest derive() ends with with_digest_liveness(),
/// which lengthens H to max(H, I / 3) and sets suspect_after_ms to 1.5 x H (see there).
/// derive(profile, liveness, I, D) picks the mode instead of the profile: derive(Profile::kFast,
/// Liveness::kBroadcast) is the fast profile with broadcast heartbeats and their timers (250 ms).
/// The profiles' own thresholds reproduce their tables exactly (tests/unit/config_test.cpp), and
/// any I >= 6 ms in broadcast mode, I >= 7 ms in digest mode (and D > I when
/// given) gives a Config that validates. There is no cluster-size knob: every node hears
/// every heartbeat or DIGEST directly (a broadcast), so detection time does not grow with N the way
/// memberlist's gossiped suspicion does; what grows with N is received traffic in broadcast mode
/// (set by the profile's heartbeat) and the DIGEST's length in digest mode (docs/protocol.md §11).

#include <cstdint>

#include "spore/base/flash_string.h"

namespace spore {

/// A named starting point for Config::derive() (docs/protocol.md §11.4 has the tables).
enum class Profile : uint8_t {
  kEsp8266,  ///< the seed's thresholds (10 s / 60 s) and timings, HTTP on port 80
  kLan,      ///< a Linux host on a LAN: kEsp8266 with HTTP on 8080 and a stricter blocking warning
  kFast,     ///< tests, demos, small wired LANs: 1.5 s / 6 s, several times the traffic
};

/// How liveness evidence reaches every observer (docs/protocol.md §11.12). Hosts (the kLan and kFast
/// profiles) default to kDigest; the ESP8266 (kEsp8266) runs kBroadcast unless the board's
/// `liveness=digest` setting asks for the chain (DeviceConfig).
enum class Liveness : uint8_t {
  /// Every node broadcasts its heartbeat every heartbeat_interval_ms and every node hears all of
  /// them: received datagrams grow linearly with N.
  kBroadcast,
  /// Members send their heartbeat to one member, which broadcasts a DIGEST vouching for all it
  /// heard (the role passes along a chain each heartbeat period): received datagrams per node stay
  /// flat in N. Falls back to broadcast heartbeats while no chain is heard.
  kDigest,
};

struct Config {
  // ---- Task intervals (the seed's cooperative tasks) ------------------------------------------
  /// Period of the discovery broadcast, ms. Shorter finds new nodes sooner but costs one
  /// broadcast datagram per node per period that every node on the LAN must receive.
  uint32_t discovery_interval_ms;
  /// Period of the Membership tick, ms: probe and INFO timeouts, delayed replies and relays are
  /// checked this often, so it is the resolution of every probe_timeout_ms. (Not the socket: the
  /// platform's loop drains that on every pass.) Shorter sharpens timeouts; longer saves CPU.
  uint32_t listen_interval_ms;
  /// Period at which member status (ACTIVE/INACTIVE/DEAD) is re-evaluated, ms. Bounds how late a
  /// status change is noticed after its threshold passes.
  uint32_t status_interval_ms;
  /// Period of the liveness heartbeat (a GOSSIP datagram, 36 bytes with a key), ms. With kBroadcast
  /// every node receives every other node's heartbeat, so a node receives N x 36 B per period:
  /// shorter makes silence (and hence a crash) visible sooner and rides out more lost
  /// datagrams per inactive_after_ms window, but costs receive traffic linear in N; the ESP8266's
  /// 2.5 s keeps N=50 under 1 KB/s received (docs/protocol.md §11). With kDigest it is the period
  /// of the DIGEST chain (with_digest_liveness()): the hosts' default, 3,333 ms lan, 500 ms fast.
  uint32_t heartbeat_interval_ms;
  /// Period of the full ANNOUNCE broadcast (free heap and the digests of resources and API list),
  /// ms; it replaces the heartbeat of that period. A changed digest is announced at the next
  /// heartbeat anyway and peers then fetch the details (INFO) once, so this bounds how stale the
  /// free-heap figure and a missed change can get, not how fast a change propagates.
  uint32_t member_info_interval_ms;
  /// Period of the debug status print, ms; 0 disables it. Printing blocks the loop on a slow
  /// serial port, so keep it long on devices.
  uint32_t debug_interval_ms;
  /// Each task's first run is delayed by a random 0..min(interval, start_jitter_max_ms) ms so that
  /// nodes powered on together do not broadcast in lock step. 0 disables jitter (tests). The
  /// first join ANNOUNCE goes within start_jitter_max_ms / 32 instead, and only a join heard
  /// before it (a power-on) puts it back to 0..start_jitter_max_ms (docs/protocol.md §11.3).
  uint32_t start_jitter_max_ms;
  /// Settled members answer a newcomer's join ANNOUNCE one slot of this many ms apart, in node id
  /// order (the k-th after k x this, wrapping at discovery_interval_ms / 2), so the joiner takes
  /// one answer per slot instead of all at once, ms. A joining ESP8266 spends ~1 ms of CPU per
  /// member at 80 MHz on the handshake (HMACs, docs/protocol.md §11.3). 0 answers at once.
  uint32_t join_answer_spacing_ms;
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
  /// A member silent this long (no datagram of it accepted) is probed: PING, then after
  /// probe_timeout_ms PING_REQ through indirect_probes other members, repeated until it answers
  /// or becomes INACTIVE; an unanswered round makes it suspect (gossiped, so it can refute), ms.
  /// Must exceed heartbeat_interval_ms (one heartbeat is expected in that time). Shorter
  /// costs probes after every single lost heartbeat; longer leaves fewer probe rounds before
  /// inactive_after_ms, hence more false INACTIVE under loss.
  uint32_t suspect_after_ms;
  /// How long a probe waits for its ACK, ms, per phase (direct, then indirect). Must exceed the
  /// worst round trip (WiFi power save adds ~100 ms on an ESP8266); a round costs 2x this.
  uint32_t probe_timeout_ms;
  /// Members asked to probe a silent member on our behalf (SWIM's k). More paths make a false
  /// suspicion from one bad link less likely; each costs 4 datagrams per round.
  uint8_t indirect_probes;
  /// A DEAD member is forgotten (its slot freed) after staying DEAD this long, ms. Longer keeps
  /// its history visible to operators; shorter frees table slots for newcomers sooner.
  uint32_t dead_retention_ms;

  /// How liveness evidence travels (see Liveness): kDigest in default_lan() and fast(), kBroadcast
  /// in default_esp8266() (and in a value-initialized Config). Every node of a cluster should use
  /// the same; a kBroadcast node and a kDigest node still understand each other (a kDigest node that
  /// hears no DIGEST chain broadcasts its heartbeats). Change it with derive(profile, liveness) or
  /// with_digest_liveness(), not alone: each mode has its own heartbeat and suspicion timers.
  Liveness liveness = Liveness::kBroadcast;
  /// kDigest: a DIGEST broadcast that vouches for at least this many members (this node included)
  /// goes as one ROSTER_DIGEST: an age per member by position in the sorted table, 0.5 bytes a
  /// member instead of 4.5, taken by every member whose table holds the same ids (any other asks for
  /// the DIGEST with ids). 0: only when the DIGEST would not fit one datagram (more members than
  /// wire::kMaxDigestEntries), so received datagrams stay one a period at any N. Lower saves bytes
  /// at every N, at the price of a DIGEST_REQ and its answer whenever tables differ (a join).
  /// Ignored by builds without SPORE_ROSTER_DIGEST (the ESP8266: limits.h), which send ids.
  uint16_t roster_digest_min_members = 0;

  // ---- Network ---------------------------------------------------------------------------------
  /// UDP port for discovery and membership (seed: 4210). Every node of a cluster must agree.
  uint16_t udp_port;
  /// HTTP port of the REST API. 80 on devices (browsers default to it); 8080 on Linux so the
  /// daemon needs no root.
  uint16_t http_port;

  // ---- OTA ---------------------------------------------------------------------------------------
  /// An update upload that receives no byte for this long is aborted (reason "stalled", HTTP 408)
  /// and the upload slot freed, ms. Shorter frees the node from a dead client sooner; too short
  /// aborts slow uploads over a weak WiFi link (an ESP8266 erases a 4 KB flash sector in ~50 ms,
  /// a TCP retransmission backoff reaches seconds).
  uint32_t ota_stall_timeout_ms = 30000;

  /// The ESP8266 profile (Profile::kEsp8266): the seed's timings exactly, HTTP on port 80,
  /// broadcast heartbeats (liveness kBroadcast).
  static Config default_esp8266();
  /// A Linux host on a LAN (Profile::kLan): the seed's thresholds, HTTP on 8080, liveness kDigest
  /// with its timers (DIGEST period 3,333 ms). derive(Profile::kLan, Liveness::kBroadcast) is the
  /// same with broadcast heartbeats every 2.5 s.
  static Config default_lan();
  /// Tests, demos and small wired LANs (Profile::kFast): INACTIVE after 1.5 s, DEAD after 6 s,
  /// liveness kDigest with a 500 ms period (derive(Profile::kFast, Liveness::kBroadcast): 250 ms
  /// broadcast heartbeats). Costs several times the traffic of the default profiles.
  static Config fast();
#if !defined(__XTENSA__)
  /// The timers of `profile` for the given thresholds, by the rules at the top of this file;
  /// 0 for a threshold means "derive it" (the profile's, unless the other threshold is given).
  /// derive(p) with no thresholds is p's table above. Fields set afterwards override the
  /// derivation; validation_error() then checks them. Hosts only, for now: no ESP8266 setting
  /// names a threshold, so the firmware runs the esp8266 table and its flash (engine at 99 % of
  /// its budget) does not carry the rules.
  static Config derive(Profile profile, uint32_t inactive_after_ms = 0, uint32_t dead_after_ms = 0);
  /// derive() with the liveness mode named rather than the profile's, and that mode's timers:
  /// derive(Profile::kLan, Liveness::kBroadcast) gives broadcast heartbeats back to a host.
  static Config derive(Profile profile, Liveness liveness, uint32_t inactive_after_ms = 0, uint32_t dead_after_ms = 0);
#endif

  /// This configuration with liveness = kDigest and the two timers that mode needs
  /// (docs/protocol.md §11.12): heartbeat_interval_ms = max(H, I / 3), since each period costs every
  /// node a DIGEST of N entries, 3 per inactive_after_ms window suffice where evidence is relayed;
  /// suspect_after_ms = 1.5 x that (relayed evidence is normally at most ~1.35 periods old when the
  /// next DIGEST refreshes it), at most inactive_after_ms - 4 x probe_timeout_ms so two probe rounds
  /// still fit. Explicit values set afterwards override these. Applying it twice changes nothing, so
  /// it is safe on default_lan() and fast(), which are digest already. A build without the chain
  /// (SPORE_DIGEST_LIVENESS 0: the MQTT image) broadcasts whatever this field says, so there it only
  /// slows heartbeats (the ESP8266 node does not apply it then).
  Config with_digest_liveness() const;

  /// Null when the configuration is usable; otherwise a static English sentence that names first
  /// the field to change (dependent timers before the thresholds they follow) and says why, kept
  /// in flash on the ESP8266 (flash_string.h). A node must refuse to begin() with an invalid config.
  FlashStr validation_error() const;
#if !defined(__XTENSA__)
  /// validation_error() as a C string (nullptr when usable); hosts only, where flash strings are
  /// ordinary memory. On the ESP8266 the sentence must be read with FlashStr's readers.
  const char* validate() const;
#endif
};

}  // namespace spore
