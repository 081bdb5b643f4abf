#include "spore/cluster/datagram_limiter.h"

#include "spore/base/ports.h"

namespace spore {

void DatagramLimiter::roll(uint32_t now_ms) {
  if (elapsed_ms(now_ms, window_start_ms_) < 1000) return;
  window_start_ms_ = now_ms;
  unverified_count_ = 0;
  member_count_.fill(0);
}

bool DatagramLimiter::take_unverified(uint32_t now_ms) {
  roll(now_ms);
  if (unverified_ != 0 && unverified_count_ >= unverified_) return false;
  if (unverified_count_ != UINT16_MAX) ++unverified_count_;
  return true;
}

bool DatagramLimiter::member_exhausted(size_t slot, uint32_t now_ms) {
  roll(now_ms);
  return per_member_ != 0 && slot < member_count_.size() && member_count_[slot] >= per_member_;
}

void DatagramLimiter::count_member(size_t slot) {
  if (slot < member_count_.size() && member_count_[slot] != UINT16_MAX) ++member_count_[slot];
}

}  // namespace spore
