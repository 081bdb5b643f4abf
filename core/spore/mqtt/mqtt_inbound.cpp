#include "spore/mqtt/mqtt_inbound.h"

namespace spore {

void MqttInboundFlags::feed(const uint8_t* data, size_t size_bytes) {
  size_t i = 0;
  while (i < size_bytes && !broken_) {
    const uint8_t b = data[i];
    switch (state_) {
      case State::kHeader:
        // PUBLISH is packet type 3; bit 0 of its fixed header is RETAIN.
        if ((b >> 4) == 3) {
          retained_ = (b & 0x01) != 0;
          ++publishes_;
        }
        remaining_ = 0;
        shift_ = 0;
        state_ = State::kLength;
        ++i;
        break;
      case State::kLength:
        remaining_ |= static_cast<uint32_t>(b & 0x7F) << shift_;
        shift_ = static_cast<uint8_t>(shift_ + 7);
        ++i;
        if ((b & 0x80) == 0) {
          state_ = remaining_ == 0 ? State::kHeader : State::kBody;
        } else if (shift_ >= 28) {
          broken_ = true;  // a fifth length byte: not MQTT (§2.2.3 allows four)
        }
        break;
      case State::kBody: {
        const size_t left = size_bytes - i;
        const size_t take = left < remaining_ ? left : remaining_;
        remaining_ -= static_cast<uint32_t>(take);
        i += take;
        if (remaining_ == 0) state_ = State::kHeader;
        break;
      }
    }
  }
}

}  // namespace spore
