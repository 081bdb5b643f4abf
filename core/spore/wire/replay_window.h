#pragma once
/// @file replay_window.h
/// Anti-replay state of one sender: the sliding-window check of IPsec (RFC 4303 §3.4.3, bitmap as
/// in RFC 6479 but one 64-bit word), reset by a larger incarnation.
///
/// Every datagram carries (sender id, incarnation, sequence). A sender numbers its datagrams
/// 0, 1, 2, ... within one incarnation and takes a larger incarnation on every restart (and on
/// every SWIM refutation). A receiver accepts each (incarnation, seq) at most once, accepts
/// reordering up to kWindowSize datagrams deep, and refuses anything from an older incarnation.
///
/// DatagramChannel keeps one window per MemberTable slot (docs/protocol.md §7): a sender that is
/// not a member has no window and nothing of it is accepted but an admission handshake, which
/// starts the window at the admitting datagram; forgetting the member clears its slot's window.
/// So the state is bounded by the table, and no captured datagram revives a forgotten member.
/// check() never changes state; commit() is called only for a datagram that passed every other
/// check, tag included.

#include <cstddef>
#include <cstdint>

namespace spore {

enum class ReplayVerdict : uint8_t {
  kFresh,     ///< never seen: accept, then commit()
  kReplayed,  ///< this (incarnation, seq) was accepted before, or is older than the window
  kStale,     ///< from an incarnation older than the newest seen for this sender
};

/// "fresh", "replayed", "stale". Never nullptr.
const char* replay_verdict_name(ReplayVerdict verdict);

/// 16 bytes: an empty `seen` (a started window always has bit 0 set) marks an unstarted window.
class ReplayWindow {
 public:
  /// How far behind the newest sequence number a datagram may arrive and still be accepted once.
  static constexpr uint32_t kWindowSize = 64;

  /// Would (incarnation, seq) be accepted? Pure. An unstarted window finds everything fresh.
  ReplayVerdict check(uint32_t incarnation, uint32_t seq) const;
  /// Records an accepted datagram (an unstarted window starts at it). Call only after check()
  /// returned kFresh for the same pair and the datagram authenticated; a pair that is not fresh
  /// is ignored.
  void commit(uint32_t incarnation, uint32_t seq);
  /// Starts afresh at (incarnation, seq), which counts as accepted. `earlier_seen` (admission):
  /// every seq below it counts as seen too, so what the node sent before it was admitted (refused
  /// then as a stranger's) cannot be replayed into the new window once each.
  void start(uint32_t incarnation, uint32_t seq, bool earlier_seen = false);
  /// Back to unstarted (the slot's member was forgotten).
  void clear() { *this = ReplayWindow{}; }
  bool started() const { return seen_ != 0; }

 private:
  uint64_t seen_ = 0;  // bit i set: seq (max_seq_ - i) was accepted
  uint32_t incarnation_ = 0;
  uint32_t max_seq_ = 0;
};

}  // namespace spore
