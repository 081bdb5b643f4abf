// libFuzzer target for the wire decoder, protocol v2 (docs/protocol.md).
//
// Properties checked on every input, abort() on violation:
// - decode() never crashes or reads out of bounds (ASan/UBSan in the fuzz preset), with and
//   without a key, with and without a replay window;
// - whatever decodes re-encodes to the identical bytes (the encoding is canonical), and the result
//   decodes again;
// - the replay window a member's slot keeps (DatagramChannel) takes a decoded datagram's
//   (incarnation, seq) once: fresh, then replayed;
// - the v2 header fields round-trip: dest_id, and an ANNOUNCE's echo/cookie/padded form (a
//   padded ANNOUNCE is always the largest body), a DISCOVER's fixed zero body, and a DIGEST's size
//   and field bounds;
// - peek_sender() (the self-echo check before decode) reads within bounds and, for every datagram
//   that decodes, names the decoded sender.
//
// Every message type goes through the same generic decode/encode path, so the cluster-event
// messages (EVENT, EVENT_REQ, EVENT_DIGEST, docs/events.md) are covered like the others; the seed
// corpus has one of each, one DISCOVER (issue 21) and two DIGESTs (issue 22: 3 entries, the spare
// nibble of an odd count; 100 entries, the most).
//
// Seed corpus: tests/fuzz/corpus/wire_decoder/, written by the unit test
// CorpusWriter.WriteSeedCorpus (SPORE_WRITE_CORPUS=<dir> build/dev/wire_codec_test). Its key is
// the one below, so the authenticated seeds reach the body parser behind the tag check.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "spore/base/bytes.h"
#include "spore/wire/replay_window.h"
#include "spore/wire/wire_codec.h"
#include "spore/wire/wire_format.h"

namespace {

using namespace spore;
using namespace spore::wire;

const HmacKey& fuzz_key() {
  static HmacKey key = [] {
    HmacKey k;
    if (!k.set_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")) std::abort();
    return k;
  }();
  return key;
}

void check(const uint8_t* data, size_t size, const HmacKey& key) {
  Message m;
  const uint32_t peeked = peek_sender(data, size);
  if (peeked != 0 && size < kHeaderBytes) std::abort();
  const DecodeError e = decode(data, size, key, m);
  if (decode_error_name(e).is_null() || decode_error_name(e).length() == 0 || decode_error_name(e).equals("?")) {
    std::abort();
  }

  if (e == DecodeError::kWrongDestination || e == DecodeError::kUnknownSender) std::abort();  // receiver's reasons
  if (e != DecodeError::kOk) return;
  ReplayWindow window;
  if (window.check(m.header.incarnation, m.header.seq) != ReplayVerdict::kFresh) std::abort();
  window.commit(m.header.incarnation, m.header.seq);
  if (window.check(m.header.incarnation, m.header.seq) != ReplayVerdict::kReplayed) std::abort();
  if (load_be32(data + 17) != m.header.dest_id || data[2] != kProtocolVersion) std::abort();
  if (m.header.type == MessageType::kAnnounce && m.announce.padded &&
      size != kHeaderBytes + 74 + (key.empty() ? 0 : kTagBytes))
    std::abort();
  // A DISCOVER is exactly as large as the largest ANNOUNCE answering it, the asker's address (never
  // 0) then zeros (§4.13): its answer always fits the anti-amplification credit it gave.
  if (m.header.type == MessageType::kDiscover) {
    if (size != kHeaderBytes + 58 + (key.empty() ? 0 : kTagBytes)) std::abort();
    if (m.discover.ip == 0 || m.discover.udp_port == 0 || load_be32(data + kHeaderBytes) != m.discover.ip) std::abort();
    for (size_t i = kHeaderBytes + 6; i < kHeaderBytes + 58; ++i)
      if (data[i] != 0) std::abort();
  }
  // A DIGEST is exactly 15 + 4n + ceil(n / 2) body bytes (§4.14), n <= 100, a unit of at least
  // 1 ms, and every entry names a member (id never 0) with a 4-bit age.
  if (m.header.type == MessageType::kDigest) {
    const size_t n = m.digest.entries.size();
    if (n > kMaxDigestEntries || m.digest.age_unit_ms == 0) std::abort();
    if (size != kHeaderBytes + format::digest_body_bytes(n) + (key.empty() ? 0 : kTagBytes)) std::abort();
    for (size_t i = 0; i < n; ++i)
      if (m.digest.entries[i].node_id == 0 || m.digest.entries[i].age > kMaxDigestAge) std::abort();
  }
  if (peek_sender(data, size) != m.header.sender_id) std::abort();
  if (m.header.authenticated != !key.empty()) std::abort();

  uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
  const EncodeResult r = encode(m, key, buf, sizeof buf);
  if (!r.ok() || r.size_bytes != size || std::memcmp(buf, data, size) != 0) std::abort();
  if (datagram_size_bytes(m, !key.empty()) != size) std::abort();
  Message round;
  if (decode(buf, r.size_bytes, key, round) != DecodeError::kOk) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const HmacKey no_key;
  check(data, size, no_key);
  check(data, size, fuzz_key());
  return 0;
}
