#pragma once
/// @file ports.h
/// The small interfaces through which core reaches the world. Each platform (esp8266, posix, sim)
/// implements them; unit tests use fakes. Keeping them tiny keeps the platform layers thin.
/// core/spore/hal.h lists every port of core, these and the ones in their modules' headers.

#include <cstddef>
#include <cstdint>

namespace spore {

/// Monotonic milliseconds since an arbitrary origin. Wraps after ~49.7 days, like Arduino's
/// millis(); core compares times only through elapsed_ms() so the wrap is harmless.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint32_t now_ms() const = 0;
};

/// Elapsed time from `since_ms` to `now_ms`, correct across one 32-bit wrap.
inline uint32_t elapsed_ms(uint32_t now_ms, uint32_t since_ms) { return now_ms - since_ms; }

/// True once `now_ms` has reached `deadline_ms`; correct across one 32-bit wrap while the two are
/// less than ~24.8 days (2^31 ms) apart.
inline bool deadline_reached(uint32_t now_ms, uint32_t deadline_ms) {
  return static_cast<int32_t>(now_ms - deadline_ms) >= 0;
}

/// Uniform 32-bit random numbers. Used for jitter and probe order, never for keys.
class Random {
 public:
  virtual ~Random() = default;
  virtual uint32_t next_u32() = 0;
};

enum class LogLevel : uint8_t { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

/// Whether a sink configured for `max_level` writes a line of `level` (more severe = lower).
inline bool log_level_enabled(LogLevel level, LogLevel max_level) {
  return static_cast<uint8_t>(level) <= static_cast<uint8_t>(max_level);
}

/// Where core's log lines go (Serial on ESP8266, stderr on Linux, a buffer in tests).
/// `message` is NUL-terminated and valid only during the call.
class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void write(LogLevel level, const char* message) = 0;
};

/// The seed's `resources`: what a node reports about the machine it runs on. On the ESP8266 these
/// are ESP.getFreeHeap() and friends; docs say how Linux maps them.
class SystemInfo {
 public:
  virtual ~SystemInfo() = default;
  /// Free memory in bytes: ESP.getFreeHeap() on the ESP8266, MemAvailable on Linux (64-bit: a
  /// host has more than 4 GiB). Peers see it through heap_size.h's 32-bit code.
  virtual uint64_t free_heap_bytes() const = 0;
  virtual uint32_t chip_id() const = 0;
  /// NUL-terminated, static or owned by the implementation.
  virtual const char* sdk_version() const = 0;
  virtual uint16_t cpu_freq_mhz() const = 0;
  virtual uint32_t flash_chip_size_bytes() const = 0;
  /// Signal strength of the node's WiFi link in dBm (< 0); 0 = no WiFi link or not known (a Linux
  /// host), and then GET /api/node/status has no "wifiRssiDbm" rather than a made-up value.
  virtual int8_t wifi_rssi_dbm() const { return 0; }
};

/// The node's datagram socket, both ways (memberlist's Transport: the real and the simulated
/// socket implement one interface and share one ingest path, core/spore/node/udp_intake.h).
///
/// Send: fire-and-forget like UDP itself; false means the platform refused at once (no route,
/// send buffer full), which Membership counts (MembershipStats::send_failures, the one count of
/// them) but does not retry.
///
/// Receive: pulled, never pushed. The node's UdpIntake asks next_datagram() for the size of the
/// next queued datagram, then either read()s it into its one buffer or leaves it unread (the next
/// next_datagram() discards it): that is how a datagram too large or arriving while the heap is
/// short is dropped without copying it (esp8266/Arduino#6831). A send-only port (test fakes)
/// keeps the defaults: nothing is ever queued.
class UdpPort {
 public:
  virtual ~UdpPort() = default;
  /// Unicast to `ip` (MSB-first IPv4) : `port`.
  virtual bool send_to(uint32_t ip, uint16_t port, const uint8_t* data, size_t size_bytes) = 0;
  /// To every node on the local network segment (the platform knows which broadcast address).
  virtual bool broadcast(uint16_t port, const uint8_t* data, size_t size_bytes) = 0;

  /// Moves to the next queued datagram, discarding the unread rest of the current one. Its whole
  /// size in bytes (also when larger than SPORE_MAX_DATAGRAM_BYTES); 0 when none is queued. Never
  /// waits. Datagrams the port sent itself (a broadcast looped back) may be skipped here.
  virtual size_t next_datagram() { return 0; }
  /// Reads up to `size_bytes` of the current datagram; the number of bytes read.
  virtual size_t read(uint8_t* buffer, size_t size_bytes) {
    (void)buffer;
    (void)size_bytes;
    return 0;
  }
  /// Sender of the current datagram (MSB-first IPv4) and its port.
  virtual uint32_t remote_ip() { return 0; }
  virtual uint16_t remote_port() { return 0; }
  /// Largest heap block the network stack could allocate now (ESP8266: ESP.getMaxFreeBlockSize()):
  /// below UdpIntake's threshold datagrams are dropped unread. Where receiving costs the node no
  /// heap of its own (Linux, the simulator) the default says "plenty".
  virtual uint32_t largest_free_block_bytes() const { return UINT32_MAX; }
};

/// The platform's watchdog, fed once per loop pass by the loop owner (spore::Node::loop(),
/// core/spore/node/node_root.h) and by code that legitimately runs long (flash erase loops). ESP8266:
/// ESP.wdtFeed(); Linux and the simulator have none (nullptr where a Watchdog* is taken).
class Watchdog {
 public:
  virtual ~Watchdog() = default;
  virtual void feed() = 0;
};

}  // namespace spore
