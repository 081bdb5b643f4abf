#include "spore/wire/wire_codec.h"

#include <cstring>

#include "spore/base/bytes.h"
#include "spore/wire/wire_format.h"

namespace spore {
namespace wire {

using namespace format;  // NOLINT(google-build-using-namespace): the codec's own internals

namespace {

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
  void u64(uint64_t v) {
    u32(static_cast<uint32_t>(v >> 32));
    u32(static_cast<uint32_t>(v));
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
      if (a.max_version < kProtocolVersion || a.ip == 0) return refuse(EncodeError::kBadField);
      if (!valid_hostname(a.hostname)) return refuse(EncodeError::kBadString);
      return a.padded ? kAnnouncePaddedBodyBytes : announce_unpadded_bytes(a);
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
    case MessageType::kDigestReq:
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
    case MessageType::kDiscover:
      if (m.discover.ip == 0 || m.discover.udp_port == 0) return refuse(EncodeError::kBadField);
      return kDiscoverBodyBytes;
    case MessageType::kDigest: {
      const Digest& d = m.digest;
      if (d.age_unit_ms == 0 || d.entries.size() > kMaxDigestEntries) return refuse(EncodeError::kBadField);
      for (size_t i = 0; i < d.entries.size(); ++i)
        if (d.entries[i].node_id == 0 || d.entries[i].age > kMaxDigestAge) return refuse(EncodeError::kBadField);
      return digest_body_bytes(d.entries.size());
    }
    case MessageType::kRosterDigest: {
      const Digest& d = m.digest;
      const size_t n = d.roster_size;
      if (d.age_unit_ms == 0 || n == 0 || n > kMaxRosterSize || d.roster_ages == nullptr)
        return refuse(EncodeError::kBadField);
      return roster_digest_body_bytes(n);
    }
  }
  return refuse(EncodeError::kUnknownType);
}

// The chain's fields DIGEST and ROSTER_DIGEST both begin with: round, next id, backup id, age unit.
void write_chain_fields(Writer& w, const Digest& d) {
  w.u32(d.round);
  w.u32(d.next_id);
  w.u32(d.backup_id);
  w.u16(d.age_unit_ms);
}

// DIGEST: the fixed fields, the ids, then the ages two to a byte (an odd count leaves a 0 nibble).
void write_digest_body(Writer& w, const Digest& d) {
  write_chain_fields(w, d);
  const size_t n = d.entries.size();
  w.u8(static_cast<uint8_t>(n));
  for (size_t i = 0; i < n; ++i) w.u32(d.entries[i].node_id);
  for (size_t i = 0; i < n; i += 2)
    w.u8(static_cast<uint8_t>((d.entries[i].age << 4) | (i + 1 < n ? d.entries[i + 1].age : 0)));
}

// ROSTER_DIGEST: the fixed fields, then the caller's ages as they are (an odd size's last low
// nibble written as 0, whatever the caller's byte holds).
void write_roster_digest_body(Writer& w, const Digest& d) {
  write_chain_fields(w, d);
  w.u16(d.roster_size);
  w.u32(d.roster_hash);
  const size_t bytes = (size_t{d.roster_size} + 1) / 2;
  for (size_t i = 0; i < bytes; ++i)
    w.u8(static_cast<uint8_t>(2 * i + 1 < d.roster_size ? d.roster_ages[i] : d.roster_ages[i] & 0xF0));
}

// EVENT, EVENT_REQ and EVENT_DIGEST: one stream position, cut after the fields each carries.
void write_event_body(Writer& w, const Message& m) {
  const EventStreamPos& p = m.header.type == MessageType::kEvent      ? m.event.pos
                            : m.header.type == MessageType::kEventReq ? m.event_req
                                                                      : m.event_digest;
  w.u32(p.epoch);
  w.u32(p.seq);
  if (m.header.type == MessageType::kEventReq) return;
  w.u32(p.oldest_seq);
  if (m.header.type == MessageType::kEventDigest) return;
  w.str8(m.event.topic);
  w.u16(m.event.payload_size_bytes);
  if (uint8_t* dst = w.take(m.event.payload_size_bytes)) {
    if (m.event.payload_size_bytes != 0) std::memcpy(dst, m.event.payload, m.event.payload_size_bytes);
  }
}

void write_padding(Writer& w, size_t n) {
  if (uint8_t* p = w.take(n)) std::memset(p, 0, n);
}

void write_announce_body(Writer& w, const Announce& a) {
  w.u8(a.max_version);
  const bool handshake = a.echo != 0 || a.cookie != 0;
  w.u8(static_cast<uint8_t>((a.reply_requested ? kAnnounceReplyRequested : 0) | (a.padded ? kAnnouncePadded : 0) |
                            (handshake ? kAnnounceHandshake : 0)));
  w.u32(a.ip);
  w.u16(a.udp_port);
  w.u16(a.http_port);
  w.u32(a.free_heap_code);
  w.u32(a.api_digest);
  w.u32(a.resources_digest);
  w.u32(a.image_digest);
  if (handshake) {
    w.u64(a.echo);
    w.u64(a.cookie);
  }
  w.str8(a.hostname);
  if (a.padded) write_padding(w, kAnnouncePaddedBodyBytes - announce_unpadded_bytes(a));
}

void write_body(Writer& w, const Message& m) {
  switch (m.header.type) {
    case MessageType::kAnnounce:
      write_announce_body(w, m.announce);
      break;
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
    case MessageType::kDigestReq:
      break;  // no body
    case MessageType::kInfoReq:
      w.u8(m.info_req.api_page);
      break;
    case MessageType::kInfo: {
      const Info& info = m.info;
      w.u32(info.resources_digest);
      w.u32(info.api_digest);
      w.u32(info.free_heap_code);
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
    case MessageType::kEventDigest:
      write_event_body(w, m);
      break;
    case MessageType::kDiscover:
      w.u32(m.discover.ip);
      w.u16(m.discover.udp_port);
      write_padding(w, kDiscoverBodyBytes - kDiscoverAddressBytes);
      break;
    case MessageType::kDigest:
      write_digest_body(w, m.digest);
      break;
    case MessageType::kRosterDigest:
      write_roster_digest_body(w, m.digest);
      break;
  }
}

}  // namespace

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
  w.u32(msg.header.dest_id);
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
