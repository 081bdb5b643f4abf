#pragma once
/// @file datagram_limiter.h
/// Receive rate limits nobody can aim (docs/protocol.md §11.11, issue 20 finding 4): datagrams
/// whose tag proved they come from a member count against that member's MemberTable slot
/// (SPORE_MAX_DATAGRAMS_PER_MEMBER_PER_S); everything else (unknown senders, v1, garbage) shares
/// one budget (SPORE_MAX_UNVERIFIED_DATAGRAMS_PER_S), taken before the datagram is decoded or its
/// tag computed. A flood with a member's source address or node id but without the key therefore
/// uses up only the shared budget, never the member's: the member's own datagrams still pass.
///
/// One window per second for all counters (a burst across a window's edge may pass twice the
/// limit for a moment; the limits are sized with room for that). No allocation; not thread-safe.

#include <array>
#include <cstddef>
#include <cstdint>

#include "spore/base/limits.h"

namespace spore {

class DatagramLimiter {
 public:
  /// A limit of 0 = unlimited.
  explicit DatagramLimiter(uint16_t per_member_per_s = SPORE_MAX_DATAGRAMS_PER_MEMBER_PER_S,
                           uint16_t unverified_per_s = SPORE_MAX_UNVERIFIED_DATAGRAMS_PER_S)
      : per_member_(per_member_per_s), unverified_(unverified_per_s) {}

  /// A datagram that claims no member arrived at `now_ms`: true (and counted) when the shared
  /// budget has room, false when it is used up for this second.
  bool take_unverified(uint32_t now_ms);
  /// The member in `slot` has used its budget for this second: its next datagrams are dropped
  /// before their tag is computed (only verified datagrams count, so only it can have used it).
  bool member_exhausted(size_t slot, uint32_t now_ms);
  /// Counts a verified datagram of the member in `slot` (after member_exhausted() said false
  /// for it in this window); a slot out of range is ignored.
  void count_member(size_t slot);

 private:
  void roll(uint32_t now_ms);

  std::array<uint16_t, SPORE_MAX_MEMBERS> member_count_{};  // [MemberTable slot]
  uint32_t window_start_ms_ = 0;
  uint16_t unverified_count_ = 0;
  uint16_t per_member_;
  uint16_t unverified_;
};

}  // namespace spore
