#pragma once
/// @file source_rate_limit.h
/// Datagrams accepted per source address per second (issue 9's "UDP datagrams per source per
/// second" limit). Membership asks before anything else is done with a datagram, so one noisy or
/// hostile sender on the LAN cannot make a node spend its CPU on HMAC checks and decoding (on the
/// ESP8266 a tag check is the most expensive thing a datagram costs).
///
/// A fixed table of SPORE_RATE_LIMIT_SOURCES addresses, each with a one-second window and a count.
/// A source not in the table takes the entry whose window started longest ago (its count starts
/// again), so the table never refuses a source for lack of room: the limit is exact for a source
/// that stays in the table and never stricter than the limit for one that does not. An attacker
/// who forges many source addresses is not stopped by a per-source limit; the limit is against a
/// single flooding or misbehaving sender. No allocation; not thread-safe (Membership's thread).

#include <array>
#include <cstddef>
#include <cstdint>

#include "spore/base/limits.h"

namespace spore {

class SourceRateLimit {
 public:
  /// `max_per_second` 0 = unlimited.
  explicit SourceRateLimit(uint32_t max_per_second = SPORE_MAX_DATAGRAMS_PER_SOURCE_PER_S)
      : max_per_second_(max_per_second) {}

  /// True when a datagram from `ip` at `now_ms` is within the limit (and counts it).
  bool allow(uint32_t ip, uint32_t now_ms);

  uint32_t max_per_second() const { return max_per_second_; }
  void set_max_per_second(uint32_t n) { max_per_second_ = n; }

 private:
  struct Entry {
    uint32_t ip = 0;
    uint32_t window_start_ms = 0;
    uint32_t count = 0;  // 0 = free
  };
  std::array<Entry, SPORE_RATE_LIMIT_SOURCES> entries_{};
  uint32_t max_per_second_;
};

}  // namespace spore
