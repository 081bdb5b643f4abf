#pragma once
/// @file sse_ring.h
/// The event stream's cursor and replay ring (docs/events.md, "Reconnecting").
///
/// Every message a node streams gets the id "<epoch>-<n>": `epoch` is the node's incarnation when
/// the stream service started (a new one every boot), `n` counts the messages it streamed since
/// (1, 2, ...). The id names a position in THIS node's stream, whoever published the event, so
/// one cursor covers events of every sender and the membership events alike. A browser's
/// EventSource sends the last id it saw as `Last-Event-ID` when it reconnects; replay_from() says
/// where to resume:
///   - an id of this boot: the messages after it that the ring still holds (the older ones are
///     gone: `*missed` counts them);
///   - an id of another boot (the node restarted meanwhile): the whole ring, since everything in
///     it was streamed after that id;
///   - no id, a malformed one or one ahead of the stream: nothing (the present only).
///
/// The ring keeps the last SPORE_SSE_REPLAY_EVENTS messages within SPORE_SSE_REPLAY_BYTES (the
/// oldest are dropped first); a message larger than the ring is numbered but not kept. Both 0 on
/// the ESP8266: it numbers its messages and replays nothing. No allocation; not thread-safe.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/base/limits.h"

namespace spore {

class SseRing {
 public:
  /// "4294967295-4294967295" and its NUL.
  static constexpr size_t kIdMaxBytes = 22;

  /// Starts a new stream: `epoch` (the node's incarnation), numbering from 1, the ring empty.
  void begin(uint32_t epoch);
  /// Numbers the next message and keeps a copy of `topic` and `data` if they fit; returns its n.
  uint32_t push(std::string_view topic, std::string_view data);

  uint32_t epoch() const { return epoch_; }
  /// n of the last message pushed; 0 before the first.
  uint32_t last() const { return last_; }
  /// n of the oldest message held; last() + 1 when none is.
  uint32_t oldest() const { return count_ == 0 ? last_ + 1 : index_[head_].n; }

  /// Writes "<epoch>-<n>" NUL-terminated to `out` (kIdMaxBytes); returns its length.
  size_t format_id(uint32_t n, char* out) const;
  /// The n to replay from for a client's Last-Event-ID (rules in the file comment): every held
  /// message with n >= the result. `*missed` (may be null): messages after the id that the ring
  /// no longer holds.
  uint32_t replay_from(std::string_view last_event_id, uint32_t* missed) const;
  /// The held message `n`; false when it is not held. Views are valid until the next push().
  bool get(uint32_t n, std::string_view* topic, std::string_view* data) const;

 private:
  struct Entry {
    uint32_t n = 0;
    uint16_t offset = 0;
    uint16_t data_len = 0;
    uint8_t topic_len = 0;
  };
  static_assert(SPORE_SSE_REPLAY_BYTES <= 65535, "offsets are 16 bits");
  /// Index slots: one even when nothing is kept (no modulo by zero), unused then.
  static constexpr size_t kSlots = SPORE_SSE_REPLAY_EVENTS > 0 ? SPORE_SSE_REPLAY_EVENTS : 1;

  bool overlaps_held(size_t begin, size_t end) const;
  void drop_oldest();

  std::array<char, SPORE_SSE_REPLAY_BYTES> bytes_{};
  std::array<Entry, kSlots> index_{};
  uint32_t epoch_ = 0;
  uint32_t last_ = 0;
  size_t head_ = 0;   // index_ slot of the oldest held message
  size_t count_ = 0;  // messages held
  size_t write_ = 0;  // where the next message's bytes go
};

}  // namespace spore
