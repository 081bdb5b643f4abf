#pragma once
// The ports a fuzz target's node runs on: a settable clock, deterministic random numbers, fixed
// system figures, a UDP port that swallows everything and a string output. One set for every
// target, so a crash input replays the same way whichever target found it.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "spore/base/json_writer.h"
#include "spore/ota/ota.h"
#include "spore/base/ports.h"

namespace spore::fuzz {

class SettableClock : public Clock {
 public:
  explicit SettableClock(uint32_t start_ms = 1000) : now(start_ms) {}
  uint32_t now_ms() const override { return now; }
  uint32_t now;
};

class CountingRandom : public Random {
 public:
  uint32_t next_u32() override { return ++n_ * 2654435761u; }

 private:
  uint32_t n_ = 0;
};

class FixedSystem : public SystemInfo {
 public:
  explicit FixedSystem(uint32_t free_heap_bytes = 40000) : free_heap_(free_heap_bytes) {}
  uint64_t free_heap_bytes() const override { return free_heap_; }
  uint32_t chip_id() const override { return 1; }
  const char* sdk_version() const override { return "fuzz"; }
  uint16_t cpu_freq_mhz() const override { return 80; }
  uint32_t flash_chip_size_bytes() const override { return 1 << 20; }

 private:
  uint32_t free_heap_;
};

class NullUdp : public UdpPort {
 public:
  bool send_to(uint32_t, uint16_t, const uint8_t*, size_t) override { return true; }
  bool broadcast(uint16_t, const uint8_t*, size_t) override { return true; }
};

class StringOutput : public JsonOutput {
 public:
  void write(const char* data, size_t size_bytes) override { text.append(data, size_bytes); }
  std::string text;
};

/// In-memory flash that enforces the FlashTarget contract (a breach aborts, so the fuzzer reports
/// it) and records what the OTA path did to it.
class MemoryFlash : public FlashTarget {
 public:
  explicit MemoryFlash(size_t capacity_bytes) : capacity_(capacity_bytes) {}
  size_t capacity_bytes() const override { return capacity_; }
  bool check_magic(const uint8_t* head, size_t size) const override {
    require(size > 0 && size <= OtaSession::kMagicBytes && written.empty());
    return head[0] == 0xE9;
  }
  bool begin(size_t max_image_bytes) override {
    require(!active && max_image_bytes <= capacity_);
    active = true;
    ++begins;
    written.clear();
    return true;
  }
  bool write(const uint8_t* data, size_t size_bytes) override {
    require(active && size_bytes > 0 && written.size() + size_bytes <= capacity_);
    written.insert(written.end(), data, data + size_bytes);
    ++writes;
    return true;
  }
  OtaError commit(const uint8_t (&)[32]) override {
    require(active);
    active = false;
    ++commits;
    committed = written;
    return OtaError::kOk;
  }
  void abort() override {
    active = false;
    ++aborts;
  }
  bool active = false;
  uint32_t begins = 0, writes = 0, commits = 0, aborts = 0;
  std::vector<uint8_t> written, committed;

 private:
  static void require(bool ok) {
    if (!ok) std::abort();
  }
  size_t capacity_;
};

}  // namespace spore::fuzz
