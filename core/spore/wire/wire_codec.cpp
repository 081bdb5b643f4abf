#include "spore/wire/wire_codec.h"

#include <cstring>

#include "spore/base/bytes.h"
#include "spore/base/flash_string.h"

namespace spore {
namespace wire {

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

/// Bounds-checked writer; any write past capacity latches failure.
class Writer {
 public:
  Writer(uint8_t* data, size_t capacity) : data_(data), capacity_(capacity) {}

  void u8(uint8_t v) {
    if (uint8_t* p = take(1)) p[0] = v;
  }
  void u16(uint16_t v) {
    if (uint8_t* p = take(2)) {
      p[0] = static_cast<uint8_t>(v >> 8);
      p[1] = static_cast<uint8_t>(v);
    }
  }
  void u32(uint32_t v) {
    if (uint8_t* p = take(4)) store_be32(v, p);
  }
  void str8(std::string_view s) {
    u8(static_cast<uint8_t>(s.size()));
    if (uint8_t* p = take(s.size())) {
      if (!s.empty()) std::memcpy(p, s.data(), s.size());
    }
  }
  uint8_t* take(size_t n) {
    if (!ok_ || n > capacity_ - pos_) {
      ok_ = false;
      return nullptr;
    }
    uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  bool ok() const { return ok_; }
  size_t size() const { return pos_; }

 private:
  uint8_t* data_;
  size_t capacity_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// ---- field rules, shared by decoder and encoder so they cannot drift apart --------------------

// Hostnames and URIs end up in JSON, logs and URLs: visible ASCII only, no space.
bool all_in_range(std::string_view s, char lo, char hi) {
  for (char c : s)
    if (c < lo || c > hi) return false;
  return true;
}
bool valid_hostname(std::string_view s) {
  return !s.empty() && s.size() <= SPORE_MAX_HOSTNAME_LEN && all_in_range(s, '\x21', '\x7e');
}
// Same rule as ApiRegistry::add(), so anything a registry holds can be published.
bool valid_uri(std::string_view s) {
  return !s.empty() && s.size() <= SPORE_MAX_URI_LEN && s[0] == '/' && all_in_range(s, '\x21', '\x7e');
}
// SDK strings are free text ("2.2.2-dev(38a443e)", "Linux 6.1"): spaces allowed, may be empty.
bool valid_sdk_version(std::string_view s) {
  return s.size() <= SPORE_MAX_VERSION_LEN && all_in_range(s, '\x20', '\x7e');
}
bool valid_method(uint8_t m) {
  return m >= static_cast<uint8_t>(HttpMethod::kGet) && m <= static_cast<uint8_t>(HttpMethod::kPatch);
}
bool valid_state(uint8_t s) {
  return s >= static_cast<uint8_t>(MemberState::kAlive) && s <= static_cast<uint8_t>(MemberState::kLeft);
}
bool valid_type(uint8_t t) {
  return t >= static_cast<uint8_t>(MessageType::kAnnounce) && t <= static_cast<uint8_t>(MessageType::kEventDigest);
}
bool valid_topic(std::string_view s) {
  return !s.empty() && s.size() <= kMaxEventTopicLen && all_in_range(s, '\x21', '\x7e');
}
// seq numbers start at 1; the oldest held event is never newer than the newest one.
bool valid_stream_pos(const EventStreamPos& p, bool with_oldest) {
  return p.seq != 0 && (!with_oldest || (p.oldest_seq != 0 && p.oldest_seq <= p.seq));
}
bool valid_gossip_entry(const GossipEntry& e) {
  return e.node_id != 0 && valid_state(static_cast<uint8_t>(e.state));
}

constexpr uint8_t kAnnounceReplyRequested = 0x01;

// Fixed part of each body, in bytes (see docs/protocol.md tables).
constexpr size_t kAnnounceFixedBytes = 1 + 1 + 4 + 2 + 2 + 4 + 4 + 4 + 4 + 1;  // + hostname
constexpr size_t kPingFixedBytes = 4 + 4 + 4 + 1;                            // + entries
constexpr size_t kAckFixedBytes = 4 + 4 + 1;
constexpr size_t kPingReqFixedBytes = 4 + 4 + 4 + 4 + 2 + 1;
constexpr size_t kGossipFixedBytes = 1;
constexpr size_t kInfoReqBytes = 1;
constexpr size_t kInfoFixedBytes = 4 + 4 + 4 + 4 + 4 + 2 + 1 + 1 + 1 + 1;  // + sdk + entries
constexpr size_t kApiEntryFixedBytes = 2;                                  // + uri
constexpr size_t kEventFixedBytes = 4 + 4 + 4 + 1 + 2;                     // + topic + payload
constexpr size_t kEventReqBytes = 4 + 4;
constexpr size_t kEventDigestBytes = 4 + 4 + 4;

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

DecodeError parse_announce(Reader& r, Announce& a) {
  a.max_version = r.u8();
  const uint8_t flags = r.u8();
  a.reply_requested = (flags & kAnnounceReplyRequested) != 0;
  a.ip = r.u32();
  a.udp_port = r.u16();
  a.http_port = r.u16();
  a.free_heap_bytes = r.u32();
  a.api_digest = r.u32();
  a.resources_digest = r.u32();
  a.image_digest = r.u32();
  a.hostname = r.str8();
  if (!r.ok()) return DecodeError::kBadLength;
  if (a.max_version < kProtocolVersion || (flags & ~kAnnounceReplyRequested) != 0) return DecodeError::kBadField;
  if (!valid_hostname(a.hostname)) return DecodeError::kBadString;
  return DecodeError::kOk;
}

DecodeError parse_info(Reader& r, Info& info) {
  info.resources_digest = r.u32();
  info.api_digest = r.u32();
  info.free_heap_bytes = r.u32();
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
  }
  if (err != DecodeError::kOk) return err;
  return r.remaining() == 0 ? DecodeError::kOk : DecodeError::kBadLength;
}

// ---- encoding ------------------------------------------------------------------------------------

size_t gossip_section_bytes(const GossipList& list) {
  if (list.size() > 255) return 0;
  for (const GossipEntry e : list)
    if (!valid_gossip_entry(e)) return 0;
  return 1 + list.size() * GossipList::kEntryBytes;
}

void write_gossip_section(Writer& w, const GossipList& list) {
  w.u8(static_cast<uint8_t>(list.size()));
  for (const GossipEntry e : list) {
    w.u32(e.node_id);
    w.u32(e.incarnation);
    w.u32(e.ip);
    w.u16(e.udp_port);
    w.u16(e.http_port);
    w.u8(static_cast<uint8_t>(e.state));
  }
}

// Body size and validity in one pass. On refusal returns 0 with the reason in `why`; on success
// `why` is kOk (LEAVE's valid body is empty, so 0 alone does not mean refusal).
size_t checked_body_size(const Message& m, EncodeError& why) {
  why = EncodeError::kOk;
  const auto refuse = [&why](EncodeError reason) -> size_t {
    why = reason;
    return 0;
  };
  size_t gossip = 0;
  switch (m.header.type) {
    case MessageType::kAnnounce: {
      const Announce& a = m.announce;
      if (a.max_version < kProtocolVersion) return refuse(EncodeError::kBadField);
      if (!valid_hostname(a.hostname)) return refuse(EncodeError::kBadString);
      return kAnnounceFixedBytes + a.hostname.size();
    }
    case MessageType::kPing:
      if (m.ping.target_id == 0 || (gossip = gossip_section_bytes(m.ping.updates)) == 0)
        return refuse(EncodeError::kBadField);
      return kPingFixedBytes - 1 + gossip;
    case MessageType::kAck:
      if ((gossip = gossip_section_bytes(m.ack.updates)) == 0) return refuse(EncodeError::kBadField);
      return kAckFixedBytes - 1 + gossip;
    case MessageType::kPingReq:
      if (m.ping_req.target_id == 0 || (gossip = gossip_section_bytes(m.ping_req.updates)) == 0)
        return refuse(EncodeError::kBadField);
      return kPingReqFixedBytes - 1 + gossip;
    case MessageType::kGossip:
      if ((gossip = gossip_section_bytes(m.gossip.updates)) == 0) return refuse(EncodeError::kBadField);
      return kGossipFixedBytes - 1 + gossip;
    case MessageType::kLeave:
      return 0;
    case MessageType::kInfoReq:
      return kInfoReqBytes;
    case MessageType::kInfo: {
      const Info& info = m.info;
      if (info.api_page_count == 0 || info.api_page >= info.api_page_count || info.api.size() > 255)
        return refuse(EncodeError::kBadField);
      if (!valid_sdk_version(info.sdk_version)) return refuse(EncodeError::kBadString);
      size_t size = kInfoFixedBytes + info.sdk_version.size();
      for (const ApiEntry e : info.api) {
        if (!valid_method(static_cast<uint8_t>(e.method))) return refuse(EncodeError::kBadField);
        if (!valid_uri(e.uri)) return refuse(EncodeError::kBadString);
        size += kApiEntryFixedBytes + e.uri.size();
      }
      return size;
    }
    case MessageType::kEvent: {
      const EventMessage& e = m.event;
      if (!valid_stream_pos(e.pos, true) || e.payload_size_bytes > kMaxEventPayloadBytes ||
          (e.payload == nullptr && e.payload_size_bytes != 0))
        return refuse(EncodeError::kBadField);
      if (!valid_topic(e.topic)) return refuse(EncodeError::kBadString);
      return kEventFixedBytes + e.topic.size() + e.payload_size_bytes;
    }
    case MessageType::kEventReq:
      if (!valid_stream_pos(m.event_req, false)) return refuse(EncodeError::kBadField);
      return kEventReqBytes;
    case MessageType::kEventDigest:
      if (!valid_stream_pos(m.event_digest, true)) return refuse(EncodeError::kBadField);
      return kEventDigestBytes;
  }
  return refuse(EncodeError::kUnknownType);
}

void write_body(Writer& w, const Message& m) {
  switch (m.header.type) {
    case MessageType::kAnnounce: {
      const Announce& a = m.announce;
      w.u8(a.max_version);
      w.u8(a.reply_requested ? kAnnounceReplyRequested : 0);
      w.u32(a.ip);
      w.u16(a.udp_port);
      w.u16(a.http_port);
      w.u32(a.free_heap_bytes);
      w.u32(a.api_digest);
      w.u32(a.resources_digest);
      w.u32(a.image_digest);
      w.str8(a.hostname);
      break;
    }
    case MessageType::kPing:
      w.u32(m.ping.target_id);
      w.u32(m.ping.probe_id);
      w.u32(m.ping.timestamp_ms);
      write_gossip_section(w, m.ping.updates);
      break;
    case MessageType::kAck:
      w.u32(m.ack.probe_id);
      w.u32(m.ack.timestamp_ms);
      write_gossip_section(w, m.ack.updates);
      break;
    case MessageType::kPingReq:
      w.u32(m.ping_req.probe_id);
      w.u32(m.ping_req.timestamp_ms);
      w.u32(m.ping_req.target_id);
      w.u32(m.ping_req.target_ip);
      w.u16(m.ping_req.target_udp_port);
      write_gossip_section(w, m.ping_req.updates);
      break;
    case MessageType::kGossip:
      write_gossip_section(w, m.gossip.updates);
      break;
    case MessageType::kLeave:
      break;
    case MessageType::kInfoReq:
      w.u8(m.info_req.api_page);
      break;
    case MessageType::kInfo: {
      const Info& info = m.info;
      w.u32(info.resources_digest);
      w.u32(info.api_digest);
      w.u32(info.free_heap_bytes);
      w.u32(info.chip_id);
      w.u32(info.flash_chip_size_bytes);
      w.u16(info.cpu_freq_mhz);
      w.str8(info.sdk_version);
      w.u8(info.api_page);
      w.u8(info.api_page_count);
      w.u8(static_cast<uint8_t>(info.api.size()));
      for (const ApiEntry e : info.api) {
        w.u8(static_cast<uint8_t>(e.method));
        w.str8(e.uri);
      }
      break;
    }
    case MessageType::kEvent:
    case MessageType::kEventReq:
    case MessageType::kEventDigest: {
      const EventStreamPos& p = m.header.type == MessageType::kEvent      ? m.event.pos
                                : m.header.type == MessageType::kEventReq ? m.event_req
                                                                          : m.event_digest;
      w.u32(p.epoch);
      w.u32(p.seq);
      if (m.header.type == MessageType::kEventReq) break;
      w.u32(p.oldest_seq);
      if (m.header.type == MessageType::kEventDigest) break;
      w.str8(m.event.topic);
      w.u16(m.event.payload_size_bytes);
      if (uint8_t* dst = w.take(m.event.payload_size_bytes)) {
        if (m.event.payload_size_bytes != 0) std::memcpy(dst, m.event.payload, m.event.payload_size_bytes);
      }
      break;
    }
  }
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

// ---- names ---------------------------------------------------------------------------------------

// The name tables are string lists ("a\0" "b\0", flash_string.h), one object per function: the
// firmware links only decode_error_name() (GET /metrics), and --gc-sections drops the other
// tables with their functions. Switches returning literals kept every name in the object's merged
// string section, in the ESP8266's DRAM, used or not.

namespace {
/// The n-th string of a string list in RAM (flash_nth() reads flash).
const char* nth_name(const char* list, size_t n) {
  for (; n > 0; --n) list += std::strlen(list) + 1;
  return list;
}
}  // namespace

const char* message_type_name(MessageType type) {
  // Index 0 ("?") stands for every value outside the enum.
  static constexpr char kNames[] = "?\0announce\0ping\0ack\0ping_req\0gossip\0leave\0info_req\0info\0event\0event_req\0"
                               "event_digest\0";
  constexpr size_t kCount = flash_list_count(kNames, sizeof kNames);
  static_assert(kCount == static_cast<size_t>(MessageType::kEventDigest) + 1, "one name per MessageType");
  const auto i = static_cast<uint8_t>(type);
  return nth_name(kNames, valid_type(i) ? i : 0);
}

const char* member_state_name(MemberState state) {
  static constexpr char kNames[] = "?\0alive\0suspect\0dead\0left\0";
  constexpr size_t kCount = flash_list_count(kNames, sizeof kNames);
  static_assert(kCount == static_cast<size_t>(MemberState::kLeft) + 1, "one name per MemberState");
  const auto i = static_cast<size_t>(state);
  return nth_name(kNames, i < kCount ? i : 0);
}

FlashStr decode_error_name(DecodeError error) {
  // In flash: GET /metrics names every reason it counts.
  static constexpr char kNames[] SPORE_FLASH =
      "ok\0too_short\0too_long\0bad_magic\0bad_version\0unknown_type\0bad_flags\0bad_sender\0truncated_body\0"
      "trailing_bytes\0bad_length\0bad_string\0bad_field\0auth_required\0unexpected_auth\0bad_tag\0stale\0"
      "replayed\0?\0";
  constexpr size_t kCount = flash_list_count(kNames, sizeof kNames);
  static_assert(kCount == kDecodeErrorCount + 1, "one name per DecodeError, then \"?\"");
  const auto i = static_cast<size_t>(error);
  return flash_nth(kNames, kCount, i < kDecodeErrorCount ? i : kDecodeErrorCount);
}

const char* encode_error_name(EncodeError error) {
  static constexpr char kNames[] = "ok\0no_space\0bad_string\0bad_field\0unknown_type\0?\0";
  constexpr size_t kCount = flash_list_count(kNames, sizeof kNames);
  static_assert(kCount == static_cast<size_t>(EncodeError::kUnknownType) + 2, "one name per EncodeError, then \"?\"");
  const auto i = static_cast<size_t>(error);
  return nth_name(kNames, i < kCount - 1 ? i : kCount - 1);
}

uint32_t peek_sender(const uint8_t* data, size_t size_bytes) {
  if (data == nullptr || size_bytes < kHeaderBytes || data[0] != kMagic0 || data[1] != kMagic1) return 0;
  return load_be32(data + 5);
}

// ---- decode --------------------------------------------------------------------------------------

DecodeError decode(const uint8_t* data, size_t size_bytes, const HmacKey& key, ReplayWindow* window, Message& out) {
  // Header checks run cheapest and most telling first: size, then magic and version (the only
  // fields every version shares), before anything that depends on the v1 layout.
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
  h.authenticated = (flags & kFlagAuthenticated) != 0;
  if (h.sender_id == 0) return DecodeError::kBadSender;
  const size_t body_bytes = load_u16(data + 17);
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

  if (window != nullptr) {
    switch (window->check(h.sender_id, h.incarnation, h.seq)) {
      case ReplayVerdict::kFresh:
        break;
      case ReplayVerdict::kStale:
        return DecodeError::kStale;
      case ReplayVerdict::kReplayed:
        return DecodeError::kReplayed;
    }
  }

  Reader body(data + kHeaderBytes, body_bytes);
  const DecodeError err = parse_body(h.type, body, out);
  if (err != DecodeError::kOk) return err;

  if (window != nullptr) window->commit(h.sender_id, h.incarnation, h.seq);
  return DecodeError::kOk;
}

// ---- encode --------------------------------------------------------------------------------------

size_t datagram_size_bytes(const Message& msg, bool authenticated) {
  EncodeError why = EncodeError::kOk;
  const size_t body_bytes = checked_body_size(msg, why);
  if (why != EncodeError::kOk || msg.header.sender_id == 0) return 0;
  return kHeaderBytes + body_bytes + (authenticated ? kTagBytes : 0);
}

EncodeResult encode(const Message& msg, const HmacKey& key, uint8_t* out, size_t capacity_bytes) {
  EncodeResult result;
  if (msg.header.sender_id == 0) {
    result.error = EncodeError::kBadField;
    return result;
  }
  EncodeError why = EncodeError::kOk;
  const size_t body_bytes = checked_body_size(msg, why);
  if (why != EncodeError::kOk) {
    result.error = why;
    return result;
  }
  const bool authenticated = !key.empty();
  const size_t total = kHeaderBytes + body_bytes + (authenticated ? kTagBytes : 0);
  if (out == nullptr || total > capacity_bytes || total > SPORE_MAX_DATAGRAM_BYTES) {
    result.error = EncodeError::kNoSpace;
    return result;
  }

  Writer w(out, capacity_bytes);
  w.u8(kMagic0);
  w.u8(kMagic1);
  w.u8(kProtocolVersion);
  w.u8(static_cast<uint8_t>(msg.header.type));
  w.u8(authenticated ? kFlagAuthenticated : 0);
  w.u32(msg.header.sender_id);
  w.u32(msg.header.incarnation);
  w.u32(msg.header.seq);
  w.u16(static_cast<uint16_t>(body_bytes));
  write_body(w, msg);
  if (authenticated) {
    if (uint8_t* tag = w.take(kTagBytes)) hmac_sha256(key, out, kHeaderBytes + body_bytes, tag, kTagBytes);
  }
  // The size check above makes failure here impossible; checking keeps a future mismatch between
  // checked_body_size() and write_body() an error instead of a bad datagram.
  if (!w.ok() || w.size() != total) {
    result.error = EncodeError::kNoSpace;
    return result;
  }
  result.size_bytes = total;
  return result;
}

// ---- capacity helpers ----------------------------------------------------------------------------

size_t max_gossip_entries(MessageType type, bool authenticated) {
  size_t fixed = 0;
  switch (type) {
    case MessageType::kPing:
      fixed = kPingFixedBytes;
      break;
    case MessageType::kAck:
      fixed = kAckFixedBytes;
      break;
    case MessageType::kPingReq:
      fixed = kPingReqFixedBytes;
      break;
    case MessageType::kGossip:
      fixed = kGossipFixedBytes;
      break;
    default:
      return 0;
  }
  const size_t n = (max_body_bytes(authenticated) - fixed) / GossipList::kEntryBytes;
  return n > 255 ? 255 : n;
}

size_t api_pages(const ApiEntry* entries, size_t entry_count, size_t sdk_version_len, bool authenticated,
                 size_t page_index, size_t* first, size_t* count) {
  const size_t fixed = kInfoFixedBytes + sdk_version_len;
  if (fixed > max_body_bytes(authenticated) || (entries == nullptr && entry_count > 0)) return 0;
  const size_t budget = max_body_bytes(authenticated) - fixed;
  size_t pages = 0;
  size_t i = 0;
  do {
    const size_t page_first = i;
    size_t used = 0;
    while (i < entry_count && i - page_first < 255) {
      const size_t entry_bytes = kApiEntryFixedBytes + entries[i].uri.size();
      if (used + entry_bytes > budget) break;
      used += entry_bytes;
      ++i;
    }
    if (i == page_first && i < entry_count) return 0;  // one entry alone does not fit
    if (pages == page_index) {
      if (first != nullptr) *first = page_first;
      if (count != nullptr) *count = i - page_first;
    }
    ++pages;
    if (pages > 255) return 0;
  } while (i < entry_count);
  return pages;
}

}  // namespace wire
}  // namespace spore
