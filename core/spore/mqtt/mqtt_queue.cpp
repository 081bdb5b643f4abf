#include "spore/mqtt/mqtt_queue.h"

#include <cstring>

namespace spore {

namespace {
constexpr uint8_t kRetain = 1;
constexpr uint8_t kEvent = 2;
}  // namespace

bool MqttQueue::push(std::string_view topic, const uint8_t* payload, size_t size_bytes, bool retain, bool event) {
  if (payload == nullptr) size_bytes = 0;
  const size_t need = kRecordOverheadBytes + topic.size() + size_bytes;
  if (count_ == 0) clear();
  size_t at = 0;
  if (topic.size() > 255 || need > kCapacityBytes) {
    ++dropped_;
    return false;
  }
  if (!wrapped_ && tail_ + need <= kCapacityBytes) {
    at = tail_;
  } else if (!wrapped_ && need <= head_) {
    // Not enough room after the newest: start again at 0, below the oldest.
    wrapped_ = true;
    wrap_ = tail_;
    at = 0;
  } else if (wrapped_ && tail_ + need <= head_) {
    at = tail_;
  } else {
    ++dropped_;
    return false;
  }
  uint8_t* r = buf_ + at;
  r[0] = static_cast<uint8_t>(need);
  r[1] = static_cast<uint8_t>(need >> 8);
  r[2] = static_cast<uint8_t>((retain ? kRetain : 0) | (event ? kEvent : 0));
  r[3] = static_cast<uint8_t>(topic.size());
  std::memcpy(r + 4, topic.data(), topic.size());
  r[4 + topic.size()] = '\0';
  if (size_bytes > 0) std::memcpy(r + kRecordOverheadBytes + topic.size(), payload, size_bytes);
  tail_ = at + need;
  ++count_;
  return true;
}

bool MqttQueue::front(Message* out) const {
  if (count_ == 0 || out == nullptr) return false;
  const uint8_t* r = buf_ + head_;
  const size_t total = static_cast<size_t>(r[0]) | (static_cast<size_t>(r[1]) << 8);
  const size_t topic_len = r[3];
  out->topic = reinterpret_cast<const char*>(r + 4);
  out->payload = r + kRecordOverheadBytes + topic_len;
  out->size_bytes = total - kRecordOverheadBytes - topic_len;
  out->retain = (r[2] & kRetain) != 0;
  out->event = (r[2] & kEvent) != 0;
  return true;
}

void MqttQueue::pop() {
  if (count_ == 0) return;
  const uint8_t* r = buf_ + head_;
  head_ += static_cast<size_t>(r[0]) | (static_cast<size_t>(r[1]) << 8);
  if (--count_ == 0) {
    clear();
    return;
  }
  if (wrapped_ && head_ == wrap_) {
    head_ = 0;
    wrapped_ = false;
  }
}

void MqttQueue::clear() {
  head_ = tail_ = wrap_ = count_ = 0;
  wrapped_ = false;
}

size_t MqttQueue::used_bytes() const {
  if (count_ == 0) return 0;
  return wrapped_ ? (kCapacityBytes - head_) + tail_ : tail_ - head_;
}

}  // namespace spore
