#pragma once
// Fake ports for unit tests: a clock the test moves, deterministic randomness, fixed system info
// and a log that keeps its lines.

#include <cstdint>
#include <string>
#include <vector>

#include "spore/node/config.h"
#include "spore/base/json_writer.h"
#include "spore/base/ports.h"

namespace spore::testing {

/// A JsonOutput that keeps everything in a string.
class StringOutput : public JsonOutput {
 public:
  void write(const char* data, size_t size_bytes) override { text.append(data, size_bytes); }
  std::string text;
};

/// Config::fast() (digest liveness, the hosts' default) without the start jitter: unit tests step
/// the clock themselves and expect the first tasks at once.
inline Config fast_config_without_jitter() {
  Config c = Config::fast();
  c.start_jitter_max_ms = 0;
  return c;
}

class FakeClock : public Clock {
 public:
  explicit FakeClock(uint32_t start_ms = 1000) : now_ms_(start_ms) {}
  uint32_t now_ms() const override { return now_ms_; }
  void advance(uint32_t ms) { now_ms_ += ms; }
  void set(uint32_t ms) { now_ms_ = ms; }

 private:
  uint32_t now_ms_;
};

/// xorshift32: deterministic, so jitter in tests is reproducible.
class FakeRandom : public Random {
 public:
  explicit FakeRandom(uint32_t seed = 0x12345678u) : state_(seed) {}
  uint32_t next_u32() override {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return state_;
  }

 private:
  uint32_t state_;
};

class FakeSystemInfo : public SystemInfo {
 public:
  uint64_t free_heap_bytes() const override { return free_heap; }
  uint32_t chip_id() const override { return chip; }
  const char* sdk_version() const override { return sdk; }
  uint16_t cpu_freq_mhz() const override { return 80; }
  uint32_t flash_chip_size_bytes() const override { return 1048576; }
  int8_t wifi_rssi_dbm() const override { return rssi; }

  uint64_t free_heap = 41000;
  int8_t rssi = 0;
  uint32_t chip = 0x00ABCDEF;
  const char* sdk = "2.2.2-dev(38a443e)";
};

/// Keeps every line; lines are std::string because this is test code, not core.
class CapturingLog : public LogSink {
 public:
  void write(LogLevel level, const char* message) override {
    levels.push_back(level);
    lines.emplace_back(message);
  }
  std::vector<LogLevel> levels;
  std::vector<std::string> lines;
};

/// A datagram FakeUdp was asked to send.
struct Sent {
  uint32_t ip;  // 0 = broadcast
  uint16_t port;
  std::vector<uint8_t> bytes;
};

/// Records every datagram instead of sending it; `ok` = false makes sends fail.
class FakeUdp : public UdpPort {
 public:
  bool send_to(uint32_t ip, uint16_t port, const uint8_t* data, size_t size) override {
    sent.push_back({ip, port, std::vector<uint8_t>(data, data + size)});
    return ok;
  }
  bool broadcast(uint16_t port, const uint8_t* data, size_t size) override { return send_to(0, port, data, size); }
  std::vector<Sent> sent;
  bool ok = true;
};

}  // namespace spore::testing
