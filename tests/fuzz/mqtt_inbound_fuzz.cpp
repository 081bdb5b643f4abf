// libFuzzer target for MqttInboundFlags (core/spore/mqtt/mqtt_inbound.h): the framing follower that
// tells the ESP8266 bridge whether a command arrived retained, over whatever bytes a broker sends.
//
// Input: a script of packets. Each packet takes 3 input bytes: the fixed header byte, then a
// 16-bit body length (capped at 2,000 bytes); the body is filler. The stream is built from the
// packets (Remaining Length encoded as MQTT does, 1-4 bytes) and fed in chunks whose sizes come
// from the input too.
//
// Properties, abort() on violation:
// - after each whole packet is fed, last_publish_retained() is the RETAIN bit of the last PUBLISH
//   packet (type 3) among them, false before any, and publishes() counts them;
// - feeding the same stream in other chunk sizes (one byte at a time, all at once) ends in the
//   same answers;
// - arbitrary bytes (the raw input itself) never crash it, whatever the split.
//
// Seed corpus: tests/fuzz/corpus/mqtt_inbound/.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "spore/mqtt/mqtt_inbound.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Arbitrary bytes, split at every input-chosen point: no crash, same answer as whole.
  spore::MqttInboundFlags raw_whole;
  raw_whole.feed(data, size);
  spore::MqttInboundFlags raw_bytes;
  for (size_t i = 0; i < size; ++i) raw_bytes.feed(data + i, 1);
  if (raw_whole.last_publish_retained() != raw_bytes.last_publish_retained() ||
      raw_whole.publishes() != raw_bytes.publishes()) {
    std::abort();
  }

  // Well-formed packets.
  std::vector<uint8_t> stream;
  std::vector<size_t> ends;
  std::vector<bool> expected_retained;
  std::vector<uint32_t> expected_count;
  bool retained = false;
  uint32_t count = 0;
  for (size_t i = 0; i + 3 <= size && ends.size() < 64; i += 3) {
    const uint8_t header = data[i];
    uint32_t len = (static_cast<uint32_t>(data[i + 1]) << 8 | data[i + 2]) % 2001;
    stream.push_back(header);
    do {
      uint8_t b = len % 128;
      len /= 128;
      if (len > 0) b |= 0x80;
      stream.push_back(b);
    } while (len > 0);
    const uint32_t body = (static_cast<uint32_t>(data[i + 1]) << 8 | data[i + 2]) % 2001;
    stream.insert(stream.end(), body, static_cast<uint8_t>(i));
    if ((header >> 4) == 3) {
      retained = (header & 1) != 0;
      ++count;
    }
    ends.push_back(stream.size());
    expected_retained.push_back(retained);
    expected_count.push_back(count);
  }
  spore::MqttInboundFlags by_packet;
  size_t at = 0;
  for (size_t p = 0; p < ends.size(); ++p) {
    // Each packet in two input-chosen pieces.
    const size_t n = ends[p] - at;
    const size_t first = n == 0 ? 0 : data[(3 * p) % (size == 0 ? 1 : size)] % (n + 1);
    by_packet.feed(stream.data() + at, first);
    by_packet.feed(stream.data() + at + first, n - first);
    at = ends[p];
    if (by_packet.last_publish_retained() != expected_retained[p] || by_packet.publishes() != expected_count[p]) {
      std::abort();
    }
  }
  spore::MqttInboundFlags whole;
  whole.feed(stream.data(), stream.size());
  if (whole.last_publish_retained() != by_packet.last_publish_retained() ||
      whole.publishes() != by_packet.publishes()) {
    std::abort();
  }
  return 0;
}
