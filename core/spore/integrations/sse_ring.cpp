#include "spore/integrations/sse_ring.h"

#include "spore/base/decimal.h"

#include <cstdio>
#include <cstring>

namespace spore {

namespace {

/// Decimal digits of `s` as a uint32; false when empty, not all digits, or over 2^32 - 1.
bool parse_u32(std::string_view s, uint32_t* out) {
  uint64_t v = 0;
  if (!parse_decimal(s, UINT32_MAX, &v)) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

void SseRing::begin(uint32_t epoch) {
  epoch_ = epoch;
  last_ = 0;
  head_ = count_ = write_ = 0;
}

bool SseRing::overlaps_held(size_t begin, size_t end) const {
  for (size_t i = 0; i < count_; ++i) {
    const Entry& e = index_[(head_ + i) % index_.size()];
    const size_t e_end = e.offset + e.topic_len + e.data_len;
    if (e.offset < end && begin < e_end) return true;
  }
  return false;
}

void SseRing::drop_oldest() {
  head_ = (head_ + 1) % index_.size();
  --count_;
}

uint32_t SseRing::push(std::string_view topic, std::string_view data) {
  const uint32_t n = ++last_;
  const size_t size = topic.size() + data.size();
  if (SPORE_SSE_REPLAY_EVENTS == 0 || size > bytes_.size() || topic.size() > 255) return n;
  if (write_ + size > bytes_.size()) write_ = 0;  // a message is never split: wrap whole
  // Oldest first, until the new bytes overwrite nothing held (a full index drops one too).
  while (count_ > 0 && (count_ == index_.size() || overlaps_held(write_, write_ + size))) drop_oldest();
  Entry& e = index_[(head_ + count_) % index_.size()];
  e.n = n;
  e.offset = static_cast<uint16_t>(write_);
  e.topic_len = static_cast<uint8_t>(topic.size());
  e.data_len = static_cast<uint16_t>(data.size());
  std::memcpy(bytes_.data() + write_, topic.data(), topic.size());
  std::memcpy(bytes_.data() + write_ + topic.size(), data.data(), data.size());
  write_ += size;
  ++count_;
  return n;
}

size_t SseRing::format_id(uint32_t n, char* out) const {
  const int len = std::snprintf(out, kIdMaxBytes, "%lu-%lu", static_cast<unsigned long>(epoch_),
                                static_cast<unsigned long>(n));
  return len > 0 ? static_cast<size_t>(len) : 0;
}

uint32_t SseRing::replay_from(std::string_view last_event_id, uint32_t* missed) const {
  if (missed != nullptr) *missed = 0;
  const size_t dash = last_event_id.find('-');
  uint32_t epoch = 0;
  uint32_t n = 0;
  // Views from pointers, not substr(): its range check would bring libstdc++'s exception text
  // into the ESP8266's DRAM.
  if (dash == std::string_view::npos || !parse_u32(std::string_view(last_event_id.data(), dash), &epoch) ||
      !parse_u32(std::string_view(last_event_id.data() + dash + 1, last_event_id.size() - dash - 1), &n)) {
    return last_ + 1;  // no id or not ours: the present only
  }
  // Another boot's id: everything this boot streamed came after it.
  uint32_t first = epoch != epoch_ ? 1 : n + 1;
  if (epoch == epoch_ && n > last_) return last_ + 1;  // ahead of the stream: nothing to replay
  if (first < oldest()) {
    if (missed != nullptr) *missed = oldest() - first;
    first = oldest();
  }
  return first;
}

bool SseRing::get(uint32_t n, std::string_view* topic, std::string_view* data) const {
  if (count_ == 0 || n < oldest() || n > last_) return false;
  // Held messages are numbered without gaps except those too large to keep: search by n.
  for (size_t i = 0; i < count_; ++i) {
    const Entry& e = index_[(head_ + i) % index_.size()];
    if (e.n != n) continue;
    *topic = std::string_view(bytes_.data() + e.offset, e.topic_len);
    *data = std::string_view(bytes_.data() + e.offset + e.topic_len, e.data_len);
    return true;
  }
  return false;
}

}  // namespace spore
