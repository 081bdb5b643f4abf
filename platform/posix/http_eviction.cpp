#include "posix/http_eviction.h"

#include <tuple>

namespace spore::posix {

size_t choose_eviction(const EvictionCandidate* candidates, size_t count, uint32_t min_age_ms) {
  size_t best = count;
  auto key = [min_age_ms](const EvictionCandidate& c) {
    return std::make_tuple(c.address_connections, c.age_ms >= min_age_ms, static_cast<int>(c.state), c.age_ms);
  };
  for (size_t i = 0; i < count; ++i) {
    if (best == count || key(candidates[best]) < key(candidates[i])) best = i;
  }
  return best;
}

}  // namespace spore::posix
