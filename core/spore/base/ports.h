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
  virtual uint32_t free_heap_bytes() const = 0;
  virtual uint32_t chip_id() const = 0;
  /// NUL-terminated, static or owned by the implementation.
  virtual const char* sdk_version() const = 0;
  virtual uint16_t cpu_freq_mhz() const = 0;
  virtual uint32_t flash_chip_size_bytes() const = 0;
};

/// Datagram output. Fire-and-forget like UDP itself; false means the platform refused at once
/// (no route, send buffer full), which callers count but do not retry. Input is the platform's
/// job: it polls or is called back by its socket and hands each datagram to
/// Membership::on_datagram().
class UdpPort {
 public:
  virtual ~UdpPort() = default;
  /// Unicast to `ip` (MSB-first IPv4) : `port`.
  virtual bool send_to(uint32_t ip, uint16_t port, const uint8_t* data, size_t size_bytes) = 0;
  /// To every node on the local network segment (the platform knows which broadcast address).
  virtual bool broadcast(uint16_t port, const uint8_t* data, size_t size_bytes) = 0;
};

}  // namespace spore
