#include "spore/wire/wire_codec.h"

#include <cstring>

#include "spore/base/bytes.h"
#include "spore/auth/hmac_sha256.h"
#include "spore/wire/wire_format.h"

namespace spore {
namespace wire {

using namespace format;  // NOLINT(google-build-using-namespace): the codec's own internals

namespace {

// ---- byte order: network order (big-endian) throughout, see docs/protocol.md -----------------

inline uint16_t load_u16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

/// Bounds-checked cursor over a body. Any read past the end latches failure and yields zeros, so
/// parse code reads straight through and checks ok() once per section.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  uint8_t u8() {
    const uint8_t* p = take(1);
    return p ? p[0] : 0;
  }
  uint16_t u16() {
    const uint8_t* p = take(2);
    return p ? load_u16(p) : 0;
  }
  uint32_t u32() {
    const uint8_t* p = take(4);
    return p ? load_be32(p) : 0;
  }
  uint64_t u64() {
    const uint64_t hi = u32();
    return (hi << 32) | u32();
  }
  /// `n` bytes in place, or nullptr (and failure) if fewer remain.
  const uint8_t* take(size_t n) {
    if (!ok_ || n > size_ - pos_) {
      ok_ = false;
      return nullptr;
    }
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  /// A u8-length-prefixed string in place.
  std::string_view str8() {
    const size_t n = u8();
    const uint8_t* p = take(n);
    return p ? std::string_view(reinterpret_cast<const char*>(p), n) : std::string_view();
  }
  bool ok() const { return ok_; }
  size_t remaining() const { return size_ - pos_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// ---- decoding ------------------------------------------------------------------------------------

GossipEntry read_gossip_entry(const uint8_t* p) {
  GossipEntry e;
  e.node_id = load_be32(p);
  e.incarnation = load_be32(p + 4);
  e.ip = load_be32(p + 8);
  e.udp_port = load_u16(p + 12);
  e.http_port = load_u16(p + 14);
  e.state = static_cast<MemberState>(p[16]);
  return e;
}

DecodeError parse_gossip_section(Reader& r, GossipList& out) {
  const size_t count = r.u8();
  const uint8_t* wire = r.take(count * GossipList::kEntryBytes);
  if (!r.ok()) return DecodeError::kBadLength;
  for (size_t i = 0; i < count; ++i)
    if (!valid_gossip_entry(read_gossip_entry(wire + i * GossipList::kEntryBytes))) return DecodeError::kBadField;
  out = GossipList::from_wire(wire, count);
  return DecodeError::kOk;
}

/// DIGEST: ids never 0, a unit of at least 1 ms, and an odd count's spare nibble 0 (one encoding).
// The chain's fields DIGEST and ROSTER_DIGEST both begin with: round, next id, backup id, age unit.
void parse_chain_fields(Reader& r, Digest& d) {
  d.round = r.u32();
  d.next_id = r.u32();
  d.backup_id = r.u32();
  d.age_unit_ms = r.u16();
}

DecodeError parse_digest(Reader& r, Digest& d) {
  parse_chain_fields(r, d);
  const size_t n = r.u8();
  const uint8_t* ids = r.take(4 * n);
  const uint8_t* ages = r.take((n + 1) / 2);
  if (!r.ok()) return DecodeError::kBadLength;
  if (d.age_unit_ms == 0 || n > kMaxDigestEntries || (n % 2 == 1 && (ages[n / 2] & 0x0F) != 0))
    return DecodeError::kBadField;
  for (size_t i = 0; i < n; ++i)
    if (load_be32(ids + 4 * i) == 0) return DecodeError::kBadField;
  d.entries = DigestList::from_wire(ids, n);
  return DecodeError::kOk;
}

DecodeError parse_roster_digest(Reader& r, Digest& d) {
  parse_chain_fields(r, d);
  d.roster_size = r.u16();
  d.roster_hash = r.u32();
  const size_t n = d.roster_size;
  d.roster_ages = r.take((n + 1) / 2);
  if (!r.ok()) return DecodeError::kBadLength;
  if (d.age_unit_ms == 0 || n == 0 || n > kMaxRosterSize || (n % 2 == 1 && (d.roster_ages[n / 2] & 0x0F) != 0))
    return DecodeError::kBadField;
  return DecodeError::kOk;
}

/// Canonical padding: exactly `n` bytes up to the body's end, zeros only.
DecodeError parse_padding(Reader& r, size_t n) {
  if (r.remaining() != n) return DecodeError::kBadLength;
  const uint8_t* p = r.take(n);
  for (size_t i = 0; i < n; ++i)
    if (p[i] != 0) return DecodeError::kBadField;
  return DecodeError::kOk;
}

DecodeError parse_announce(Reader& r, Announce& a) {
  a.max_version = r.u8();
  const uint8_t flags = r.u8();
  constexpr uint8_t kKnownFlags = kAnnounceReplyRequested | kAnnouncePadded | kAnnounceHandshake;
  if ((flags & ~kKnownFlags) != 0) return DecodeError::kBadField;  // before they shape the layout
  a.reply_requested = (flags & kAnnounceReplyRequested) != 0;
  a.padded = (flags & kAnnouncePadded) != 0;
  const bool handshake = (flags & kAnnounceHandshake) != 0;
  a.ip = r.u32();
  a.udp_port = r.u16();
  a.http_port = r.u16();
  a.free_heap_code = r.u32();
  a.api_digest = r.u32();
  a.resources_digest = r.u32();
  a.image_digest = r.u32();
  a.echo = handshake ? r.u64() : 0;
  a.cookie = handshake ? r.u64() : 0;
  a.hostname = r.str8();
  if (!r.ok()) return DecodeError::kBadLength;
  // Canonical: the handshake fields are there iff one of them is set.
  if (a.max_version < kProtocolVersion || a.ip == 0 || (handshake && a.echo == 0 && a.cookie == 0))
    return DecodeError::kBadField;
  if (!valid_hostname(a.hostname)) return DecodeError::kBadString;
  return a.padded ? parse_padding(r, kAnnouncePaddedBodyBytes - announce_unpadded_bytes(a)) : DecodeError::kOk;
}

DecodeError parse_info(Reader& r, Info& info) {
  info.resources_digest = r.u32();
  info.api_digest = r.u32();
  info.free_heap_code = r.u32();
  info.chip_id = r.u32();
  info.flash_chip_size_bytes = r.u32();
  info.cpu_freq_mhz = r.u16();
  info.sdk_version = r.str8();
  info.api_page = r.u8();
  info.api_page_count = r.u8();
  const size_t count = r.u8();
  if (!r.ok()) return DecodeError::kBadLength;
  if (!valid_sdk_version(info.sdk_version)) return DecodeError::kBadString;
  if (info.api_page_count == 0 || info.api_page >= info.api_page_count) return DecodeError::kBadField;
  const size_t before = r.remaining();
  const uint8_t* start = r.take(0);
  for (size_t i = 0; i < count; ++i) {
    const uint8_t method = r.u8();
    const std::string_view uri = r.str8();
    if (!r.ok()) return DecodeError::kBadLength;
    if (!valid_method(method)) return DecodeError::kBadField;
    if (!valid_uri(uri)) return DecodeError::kBadString;
  }
  info.api = ApiList::from_wire(start, before - r.remaining(), count);
  return DecodeError::kOk;
}

// EVENT, EVENT_REQ and EVENT_DIGEST all start with the stream position.
DecodeError parse_stream_pos(Reader& r, EventStreamPos& p, bool with_oldest) {
  p.epoch = r.u32();
  p.seq = r.u32();
  p.oldest_seq = with_oldest ? r.u32() : 0;
  if (!r.ok()) return DecodeError::kBadLength;
  return valid_stream_pos(p, with_oldest) ? DecodeError::kOk : DecodeError::kBadField;
}

DecodeError parse_event(Reader& r, EventMessage& e) {
  const DecodeError err = parse_stream_pos(r, e.pos, true);
  if (err != DecodeError::kOk) return err;
  e.topic = r.str8();
  e.payload_size_bytes = r.u16();
  if (!r.ok()) return DecodeError::kBadLength;
  if (!valid_topic(e.topic)) return DecodeError::kBadString;
  if (e.payload_size_bytes > kMaxEventPayloadBytes) return DecodeError::kBadField;
  e.payload = r.take(e.payload_size_bytes);
  return r.ok() ? DecodeError::kOk : DecodeError::kBadLength;
}

DecodeError parse_body(MessageType type, Reader& r, Message& m) {
  DecodeError err = DecodeError::kOk;
  switch (type) {
    case MessageType::kAnnounce:
      err = parse_announce(r, m.announce);
      break;
    case MessageType::kPing:
      m.ping.target_id = r.u32();
      m.ping.probe_id = r.u32();
      m.ping.timestamp_ms = r.u32();
      err = parse_gossip_section(r, m.ping.updates);
      if (err == DecodeError::kOk && m.ping.target_id == 0) err = DecodeError::kBadField;
      break;
    case MessageType::kAck:
      m.ack.probe_id = r.u32();
      m.ack.timestamp_ms = r.u32();
      err = parse_gossip_section(r, m.ack.updates);
      break;
    case MessageType::kPingReq:
      m.ping_req.probe_id = r.u32();
      m.ping_req.timestamp_ms = r.u32();
      m.ping_req.target_id = r.u32();
      m.ping_req.target_ip = r.u32();
      m.ping_req.target_udp_port = r.u16();
      err = parse_gossip_section(r, m.ping_req.updates);
      if (err == DecodeError::kOk && m.ping_req.target_id == 0) err = DecodeError::kBadField;
      break;
    case MessageType::kGossip:
      err = parse_gossip_section(r, m.gossip.updates);
      break;
    case MessageType::kLeave:
    case MessageType::kDigestReq:
      break;
    case MessageType::kInfoReq:
      m.info_req.api_page = r.u8();
      if (!r.ok()) err = DecodeError::kBadLength;
      break;
    case MessageType::kInfo:
      err = parse_info(r, m.info);
      break;
    case MessageType::kEvent:
      err = parse_event(r, m.event);
      break;
    case MessageType::kEventReq:
      err = parse_stream_pos(r, m.event_req, false);
      break;
    case MessageType::kEventDigest:
      err = parse_stream_pos(r, m.event_digest, true);
      break;
    case MessageType::kDiscover:
      m.discover.ip = r.u32();
      m.discover.udp_port = r.u16();
      err = m.discover.ip == 0 || m.discover.udp_port == 0 ? DecodeError::kBadField
                                                           : parse_padding(r, kDiscoverBodyBytes - kDiscoverAddressBytes);
      break;
    case MessageType::kDigest:
      err = parse_digest(r, m.digest);
      break;
    case MessageType::kRosterDigest:
      err = parse_roster_digest(r, m.digest);
      break;
  }
  if (err != DecodeError::kOk) return err;
  return r.remaining() == 0 ? DecodeError::kOk : DecodeError::kBadLength;
}

}  // namespace

// ---- lists ---------------------------------------------------------------------------------------

GossipList GossipList::from_array(const GossipEntry* entries, size_t count) {
  GossipList l;
  l.array_ = entries;
  l.count_ = entries == nullptr ? 0 : count;
  return l;
}

GossipList GossipList::from_wire(const uint8_t* wire, size_t count) {
  GossipList l;
  l.wire_ = wire;
  l.count_ = wire == nullptr ? 0 : count;
  return l;
}

GossipEntry GossipList::operator[](size_t i) const {
  return array_ != nullptr ? array_[i] : read_gossip_entry(wire_ + i * kEntryBytes);
}

ApiList ApiList::from_array(const ApiEntry* entries, size_t count) {
  ApiList l;
  l.array_ = entries;
  l.count_ = entries == nullptr ? 0 : count;
  return l;
}

ApiList ApiList::from_wire(const uint8_t* wire, size_t size_bytes, size_t count) {
  ApiList l;
  l.wire_ = wire;
  l.wire_size_ = size_bytes;
  l.count_ = wire == nullptr ? 0 : count;
  return l;
}

ApiEntry ApiList::Iterator::operator*() const {
  if (list_->array_ != nullptr) return list_->array_[index_];
  const uint8_t* p = list_->wire_ + offset_;
  ApiEntry e;
  e.method = static_cast<HttpMethod>(p[0]);
  e.uri = std::string_view(reinterpret_cast<const char*>(p + 2), p[1]);
  return e;
}

ApiList::Iterator& ApiList::Iterator::operator++() {
  if (list_->array_ == nullptr) offset_ += kApiEntryFixedBytes + list_->wire_[offset_ + 1];
  ++index_;
  return *this;
}

// ---- decode --------------------------------------------------------------------------------------

DecodeError decode(const uint8_t* data, size_t size_bytes, const HmacKey& key, Message& out) {
  // Header checks run cheapest and most telling first: size, then magic and version (the only
  // fields every version shares), before anything that depends on the v2 layout.
  if (size_bytes > SPORE_MAX_DATAGRAM_BYTES) return DecodeError::kTooLong;
  if (data == nullptr || size_bytes < 3) return DecodeError::kTooShort;
  if (data[0] != kMagic0 || data[1] != kMagic1) return DecodeError::kBadMagic;
  if (data[2] != kProtocolVersion) return DecodeError::kBadVersion;
  if (size_bytes < kHeaderBytes) return DecodeError::kTooShort;
  if (!valid_type(data[3])) return DecodeError::kUnknownType;
  const uint8_t flags = data[4];
  if ((flags & ~kFlagAuthenticated) != 0) return DecodeError::kBadFlags;

  Header& h = out.header;
  h.type = static_cast<MessageType>(data[3]);
  h.sender_id = load_be32(data + 5);
  h.incarnation = load_be32(data + 9);
  h.seq = load_be32(data + 13);
  h.dest_id = load_be32(data + 17);
  h.authenticated = (flags & kFlagAuthenticated) != 0;
  if (h.sender_id == 0) return DecodeError::kBadSender;
  const size_t body_bytes = load_u16(data + 21);
  const size_t expected = kHeaderBytes + body_bytes + (h.authenticated ? kTagBytes : 0);
  if (size_bytes < expected) return DecodeError::kTruncatedBody;
  if (size_bytes > expected) return DecodeError::kTrailingBytes;

  // Authenticate before looking at the body, so with a key nothing an outsider wrote is parsed.
  if (!key.empty() && !h.authenticated) return DecodeError::kAuthRequired;
  if (key.empty() && h.authenticated) return DecodeError::kUnexpectedAuth;
  if (h.authenticated) {
    uint8_t tag[kTagBytes];
    const size_t signed_bytes = kHeaderBytes + body_bytes;
    hmac_sha256(key, data, signed_bytes, tag, kTagBytes);
    if (!constant_time_equal(tag, data + signed_bytes, kTagBytes)) return DecodeError::kBadTag;
  }

  Reader body(data + kHeaderBytes, body_bytes);
  return parse_body(h.type, body, out);
}

}  // namespace wire
}  // namespace spore
