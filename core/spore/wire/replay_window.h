#pragma once
/// @file replay_window.h
/// Anti-replay state per sender: the sliding-window check of IPsec (RFC 4303 §3.4.3, bitmap as in
/// RFC 6479 but one 64-bit word), keyed by sender node id and reset by a larger incarnation.
///
/// Every datagram carries (sender id, incarnation, sequence). A sender numbers its datagrams
/// 0, 1, 2, ... within one incarnation and takes a larger incarnation on every restart (and on
/// every SWIM refutation). A receiver accepts each (incarnation, seq) at most once, accepts
/// reordering up to kWindowSize datagrams deep, and refuses anything from an older incarnation.
///
/// check() never changes state and commit() is called only for a datagram that passed every other
/// check, tag included: a forged or malformed datagram cannot advance a window, reset an
/// incarnation or evict a peer.
///
/// Capacity: SPORE_MAX_REPLAY_PEERS senders. When a new sender arrives and the table is full, the
/// entry committed to least recently is evicted. Consequence: until that evicted sender is heard
/// from again, one captured datagram of it can be replayed once (it is then "first seen"). With a
/// cluster key only key holders can create entries, so an outsider cannot force evictions; the
/// default capacity (members + 8) makes eviction a sign of an oversized cluster. evictions()
/// counts them.

#include <array>
#include <cstddef>
#include <cstdint>

#include "spore/base/limits.h"

namespace spore {

enum class ReplayVerdict : uint8_t {
  kFresh,     ///< never seen: accept, then commit()
  kReplayed,  ///< this (incarnation, seq) was accepted before, or is older than the window
  kStale,     ///< from an incarnation older than the newest seen for this sender
};

/// "fresh", "replayed", "stale". Never nullptr.
const char* replay_verdict_name(ReplayVerdict verdict);

class ReplayWindow {
 public:
  /// How far behind the newest sequence number a datagram may arrive and still be accepted once.
  static constexpr uint32_t kWindowSize = 64;

  /// Would (node_id, incarnation, seq) be accepted? Pure: changes nothing.
  ReplayVerdict check(uint32_t node_id, uint32_t incarnation, uint32_t seq) const;

  /// Records an accepted datagram. Call only after check() returned kFresh for the same triple
  /// and the datagram authenticated; a triple that is not fresh, or node_id 0, is ignored. May evict the least
  /// recently committed sender when the table is full (see file comment).
  void commit(uint32_t node_id, uint32_t incarnation, uint32_t seq);

  /// Drops what is known about `node_id`. The membership layer calls this when it forgets a
  /// member, so a node that restarted without a persisted incarnation is accepted again.
  void forget(uint32_t node_id);

  /// Drops everything (e.g. after the cluster key changed).
  void clear();

  /// Senders currently tracked, 0..capacity().
  size_t size() const;
  static constexpr size_t capacity() { return SPORE_MAX_REPLAY_PEERS; }
  /// Senders evicted to make room since construction or clear().
  uint32_t evictions() const { return evictions_; }

 private:
  // 24 bytes: node id 0 (never a valid sender, decode() rejects it) marks a free slot, so no
  // separate flag pads the entry to 32.
  struct Entry {
    uint64_t seen = 0;         // bit i set: seq (max_seq - i) was accepted
    uint32_t node_id = 0;      // 0 = free
    uint32_t incarnation = 0;
    uint32_t max_seq = 0;
    uint32_t last_commit = 0;  // commit_clock_ value at the last commit: LRU order
  };

  const Entry* find(uint32_t node_id) const;
  Entry* find(uint32_t node_id);
  static ReplayVerdict verdict(const Entry& e, uint32_t incarnation, uint32_t seq);

  std::array<Entry, SPORE_MAX_REPLAY_PEERS> entries_{};
  // Logical time, not wall time: the order of commits is all LRU needs, and it keeps this class
  // free of a Clock dependency. 2^32 commits wrap it; the comparison uses wrap-safe differences.
  uint32_t commit_clock_ = 0;
  uint32_t evictions_ = 0;
};

}  // namespace spore
