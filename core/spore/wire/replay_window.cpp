#include "spore/wire/replay_window.h"

#include "spore/base/incarnation.h"

namespace spore {

const char* replay_verdict_name(ReplayVerdict verdict) {
  switch (verdict) {
    case ReplayVerdict::kFresh:
      return "fresh";
    case ReplayVerdict::kReplayed:
      return "replayed";
    case ReplayVerdict::kStale:
      return "stale";
  }
  return "?";
}

ReplayVerdict ReplayWindow::check(uint32_t incarnation, uint32_t seq) const {
  if (!started()) return ReplayVerdict::kFresh;
  // Serial arithmetic (incarnation.h): a boot count past 65,535 wraps the incarnation to 0.
  if (incarnation_older(incarnation, incarnation_)) return ReplayVerdict::kStale;
  if (incarnation_newer(incarnation, incarnation_)) return ReplayVerdict::kFresh;
  if (seq > max_seq_) return ReplayVerdict::kFresh;
  const uint32_t behind = max_seq_ - seq;
  if (behind >= kWindowSize) return ReplayVerdict::kReplayed;
  return (seen_ >> behind) & 1u ? ReplayVerdict::kReplayed : ReplayVerdict::kFresh;
}

void ReplayWindow::start(uint32_t incarnation, uint32_t seq, bool earlier_seen) {
  incarnation_ = incarnation;
  max_seq_ = seq;
  seen_ = earlier_seen ? ~uint64_t{0} : 1;
}

void ReplayWindow::commit(uint32_t incarnation, uint32_t seq) {
  if (check(incarnation, seq) != ReplayVerdict::kFresh) return;
  if (!started() || incarnation_newer(incarnation, incarnation_)) {
    start(incarnation, seq);
  } else if (seq > max_seq_) {
    const uint32_t shift = seq - max_seq_;
    seen_ = shift >= kWindowSize ? 1 : (seen_ << shift) | 1u;
    max_seq_ = seq;
  } else {
    seen_ |= uint64_t{1} << (max_seq_ - seq);
  }
}

}  // namespace spore
