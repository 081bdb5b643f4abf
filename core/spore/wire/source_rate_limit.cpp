#include "spore/wire/source_rate_limit.h"

#include "spore/base/ports.h"

namespace spore {

bool SourceRateLimit::allow(uint32_t ip, uint32_t now_ms) {
  if (max_per_second_ == 0) return true;
  Entry* oldest = &entries_[0];
  for (Entry& e : entries_) {
    if (e.count != 0 && e.ip == ip) {
      if (elapsed_ms(now_ms, e.window_start_ms) >= 1000) {
        e.window_start_ms = now_ms;
        e.count = 0;
      }
      if (e.count >= max_per_second_) return false;
      ++e.count;
      return true;
    }
    if (e.count == 0) {
      oldest = &e;  // a free entry is always the best choice
    } else if (oldest->count != 0 && elapsed_ms(now_ms, e.window_start_ms) > elapsed_ms(now_ms, oldest->window_start_ms)) {
      oldest = &e;
    }
  }
  *oldest = Entry{ip, now_ms, 1};
  return true;
}

}  // namespace spore
