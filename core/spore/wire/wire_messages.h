#pragma once
/// @file wire_messages.h
/// The decoded form of SPORE wire protocol v2 messages (layout: docs/protocol.md).
///
/// Zero copy: every std::string_view and every list in a decoded Message points into the datagram
/// buffer handed to decode(), so a Message is valid only while that buffer is unchanged. The same
/// structs are the encoder's input; there the views and lists point at the caller's data.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/base/bytes.h"
#include "spore/base/limits.h"
#include "spore/cluster/api_registry.h"

namespace spore {
namespace wire {

/// Protocol version this code speaks; carried in every header.
constexpr uint8_t kProtocolVersion = 2;

/// Datagram type. Values are wire values: never renumber, only append.
enum class MessageType : uint8_t {
  kAnnounce = 1,  ///< discovery and heartbeat broadcast: who I am, where, digests of my details
  kPing = 2,      ///< direct probe; expects kAck
  kAck = 3,       ///< answer to kPing (direct or relayed after kPingReq)
  kPingReq = 4,   ///< "probe this target for me" (SWIM indirect probe)
  kGossip = 5,    ///< membership updates only
  kLeave = 6,     ///< graceful leave of the sender
  kInfoReq = 7,   ///< ask the receiver for its resources and one page of its API list
  kInfo = 8,      ///< resources plus one page of the API list
  kEvent = 9,        ///< one cluster event of the sender's event stream (docs/events.md)
  kEventReq = 10,    ///< "re-send your events from this seq": gap repair, unicast to the publisher
  kEventDigest = 11, ///< the sender's newest and oldest held event seq, so receivers see lost tails
  /// "Who is there?" (`spore discover`): every node that takes it answers the sender's address with
  /// an ANNOUNCE after a short jitter. Its body names that address (refused from any other), then
  /// zeros, as long as the largest such answer, so the answer fits the anti-amplification credit
  /// the request gave (docs/protocol.md §4.13).
  kDiscover = 12,
  /// Liveness evidence for many members in one broadcast (docs/protocol.md §4.14, §11.12): the
  /// members the sender has heard from (first or second hand) within its inactive_after_ms, each
  /// with the evidence's age, and who sends the next DIGEST. Members send their heartbeat to that
  /// next sender instead of broadcasting it, so a node receives O(1) datagrams per heartbeat
  /// period whatever N is.
  kDigest = 13,
  /// "Send me your DIGEST": unicast by a node that missed the round's DIGEST to its sender, which
  /// answers with a DIGEST to the asker's member address (no body).
  kDigestReq = 14,
  /// A DIGEST by roster position, for a roster too large for one DIGEST (docs/protocol.md §4.16):
  /// no ids, only one 4-bit age per member of the sender's whole table in ascending id order, and a
  /// hash of that id list. A receiver whose own table gives the same list takes the ages; any
  /// other asks the sender for its DIGEST (kDigestReq).
  kRosterDigest = 15,
  kLastType = kRosterDigest,  ///< the highest value above; move it when a type is appended
};
/// "announce", "ping", ...; "?" for a value outside the enum. Never nullptr.
const char* message_type_name(MessageType type);

/// Member state carried in gossip. Wire values; 0 is invalid on the wire.
enum class MemberState : uint8_t {
  kAlive = 1,
  kSuspect = 2,
  kDead = 3,
  kLeft = 4,  ///< left gracefully: dead, but not a failure
};
/// "alive", "suspect", "dead", "left"; "?" otherwise. Never nullptr.
const char* member_state_name(MemberState state);

/// The per-datagram header. On encode, `authenticated` is ignored (it follows the key) and the
/// version is always kProtocolVersion.
struct Header {
  MessageType type = MessageType::kAnnounce;
  uint32_t sender_id = 0;    ///< sender's node id (chip id); never 0
  uint32_t incarnation = 0;  ///< sender's incarnation; larger after every restart/refutation
  uint32_t seq = 0;          ///< per sender and incarnation, +1 per datagram sent (anti-replay)
  /// The receiver's node id, or 0 (broadcast marker: sent by broadcast, or to a join address whose
  /// node id is not known yet). Covered by the tag, so a datagram cannot be replayed elsewhere.
  uint32_t dest_id = 0;
  bool authenticated = false;  ///< decode: the datagram carried a tag that verified
};

/// One membership update, 17 bytes on the wire.
struct GossipEntry {
  uint32_t node_id = 0;      ///< never 0
  uint32_t incarnation = 0;
  uint32_t ip = 0;           ///< IPv4, most significant byte first (192.168.1.2 = 0xC0A80102)
  uint16_t udp_port = 0;
  uint16_t http_port = 0;
  MemberState state = MemberState::kAlive;
};

/// A sequence of GossipEntry: either the caller's array (encode) or validated wire bytes
/// (decode). Random access is O(1) in both cases.
class GossipList {
 public:
  static constexpr size_t kEntryBytes = 17;

  constexpr GossipList() = default;
  /// Encoder input: `count` entries at `entries`, which must outlive the list.
  static GossipList from_array(const GossipEntry* entries, size_t count);
  /// Decoder output: `count` entries of kEntryBytes at `wire`, already validated.
  static GossipList from_wire(const uint8_t* wire, size_t count);

  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  /// Entry `i`; `i` must be < size().
  GossipEntry operator[](size_t i) const;

  class Iterator {
   public:
    GossipEntry operator*() const { return (*list_)[index_]; }
    Iterator& operator++() {
      ++index_;
      return *this;
    }
    bool operator!=(const Iterator& other) const { return index_ != other.index_; }

   private:
    friend class GossipList;
    Iterator(const GossipList* list, size_t index) : list_(list), index_(index) {}
    const GossipList* list_;
    size_t index_;
  };
  Iterator begin() const { return Iterator(this, 0); }
  Iterator end() const { return Iterator(this, count_); }

 private:
  const GossipEntry* array_ = nullptr;
  const uint8_t* wire_ = nullptr;
  size_t count_ = 0;
};

/// One published endpoint.
struct ApiEntry {
  HttpMethod method = HttpMethod::kGet;
  std::string_view uri;  ///< starts with '/', 1..SPORE_MAX_URI_LEN bytes of 0x21..0x7E
};

/// A sequence of ApiEntry: the caller's array (encode) or validated wire bytes (decode). Entries
/// are variable length on the wire, so iterate (O(1) per step) rather than index.
class ApiList {
 public:
  constexpr ApiList() = default;
  /// Encoder input: `count` entries at `entries`, which must outlive the list.
  static ApiList from_array(const ApiEntry* entries, size_t count);
  /// Decoder output: `count` validated entries in `size_bytes` bytes at `wire`.
  static ApiList from_wire(const uint8_t* wire, size_t size_bytes, size_t count);

  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }

  class Iterator {
   public:
    ApiEntry operator*() const;
    Iterator& operator++();
    bool operator!=(const Iterator& other) const { return index_ != other.index_; }

   private:
    friend class ApiList;
    Iterator(const ApiList* list, size_t index, size_t offset) : list_(list), index_(index), offset_(offset) {}
    const ApiList* list_;
    size_t index_;
    size_t offset_;  // wire mode: byte offset of entry index_
  };
  Iterator begin() const { return Iterator(this, 0, 0); }
  Iterator end() const { return Iterator(this, count_, wire_size_); }

 private:
  const ApiEntry* array_ = nullptr;
  const uint8_t* wire_ = nullptr;
  size_t wire_size_ = 0;
  size_t count_ = 0;
};

/// ANNOUNCE: broadcast for discovery and as heartbeat; also unicast as the answer to an ANNOUNCE
/// with reply_requested and as the admission handshake (docs/protocol.md §11.3). Digests are
/// opaque 32-bit fingerprints compared for equality only; when one differs from what the
/// receiver holds it sends INFO_REQ.
struct Announce {
  uint8_t max_version = kProtocolVersion;  ///< highest protocol version the sender speaks (>= 2)
  bool reply_requested = false;  ///< a joining node asks receivers to unicast their ANNOUNCE back
  /// The body is zero-padded to the largest ANNOUNCE (so its answers fit the receiver's
  /// anti-amplification credit); set on every ANNOUNCE with reply_requested.
  bool padded = false;
  uint32_t ip = 0;               ///< sender's IPv4, MSB first; never 0: it becomes its member address
  uint16_t udp_port = 0;
  uint16_t http_port = 0;
  /// Free memory as heap_size.h codes it (bytes below 2 GiB); here because it changes all the
  /// time, INFO is for the rest.
  uint32_t free_heap_code = 0;
  uint32_t api_digest = 0;       ///< ApiRegistry::digest()
  uint32_t resources_digest = 0; ///< fingerprint of the static resources in INFO
  uint32_t image_digest = 0;     ///< first 4 bytes of the running firmware's SHA-256, big-endian
  uint64_t echo = 0;    ///< a cookie of the receiver's, echoed: proves the sender got its datagram (0 = none)
  uint64_t cookie = 0;  ///< the sender's current cookie, for the receiver to echo (0 = none)
  std::string_view hostname;     ///< 1..SPORE_MAX_HOSTNAME_LEN bytes of 0x21..0x7E
};

/// PING: probe the receiver. It answers ACK with the same probe_id and echoes timestamp_ms, so
/// the prober measures the round trip with its own clock only.
struct Ping {
  uint32_t target_id = 0;     ///< node the prober means; a receiver with another id ignores it
  uint32_t probe_id = 0;
  uint32_t timestamp_ms = 0;  ///< prober's clock; opaque to the receiver
  GossipList updates;         ///< piggybacked membership updates
};

/// ACK: answer to PING. When relayed after PING_REQ, probe_id and timestamp_ms are those of the
/// PING_REQ, so the original prober can match it.
struct Ack {
  uint32_t probe_id = 0;
  uint32_t timestamp_ms = 0;  ///< echoed unchanged
  GossipList updates;
};

/// PING_REQ: ask the receiver to PING `target_id` and relay the ACK.
struct PingReq {
  uint32_t probe_id = 0;
  uint32_t timestamp_ms = 0;  ///< requester's clock, echoed in the relayed ACK
  uint32_t target_id = 0;     ///< never 0
  uint32_t target_ip = 0;     ///< MSB first
  uint16_t target_udp_port = 0;
  GossipList updates;
};

/// GOSSIP: membership updates only (e.g. to disseminate a state change faster than pings do).
struct Gossip {
  GossipList updates;
};

/// INFO_REQ: ask for INFO carrying page `api_page` of the receiver's API list.
struct InfoReq {
  uint8_t api_page = 0;
};

/// INFO: the seed's `resources` and one page of its `api` list. The list is split into
/// api_page_count pages so each fits one datagram; all pages of one list carry the same
/// api_digest, so a receiver never mixes pages of two versions of the list.
struct Info {
  uint32_t resources_digest = 0;
  uint32_t api_digest = 0;
  uint32_t free_heap_code = 0;  ///< as in Announce
  uint32_t chip_id = 0;
  uint32_t flash_chip_size_bytes = 0;
  uint16_t cpu_freq_mhz = 0;
  std::string_view sdk_version;  ///< 0..SPORE_MAX_VERSION_LEN bytes of 0x20..0x7E
  uint8_t api_page = 0;          ///< < api_page_count
  uint8_t api_page_count = 1;    ///< >= 1 (an empty list is one empty page)
  ApiList api;                   ///< the entries of this page
};

/// Longest event topic on the wire: 1..31 bytes of 0x21..0x7E (EventBus::on's limit by default).
constexpr size_t kMaxEventTopicLen = 31;
/// Largest event payload on the wire, in bytes. A protocol constant, not a build option, so every
/// node accepts what any node may publish; what a node itself publishes is bounded by
/// SPORE_EVENT_PAYLOAD_MAX (<= this), the size of its outbound log slots.
constexpr size_t kMaxEventPayloadBytes = 256;

/// Where an event sits in its sender's stream. A stream is (sender id, epoch): the epoch is the
/// incarnation the sender had at begin(), so it grows on every restart but not on a refutation,
/// and seq restarts at 1 with every epoch.
struct EventStreamPos {
  uint32_t epoch = 0;
  uint32_t seq = 0;         ///< EVENT: this event; DIGEST: the newest published; REQ: first wanted (>= 1)
  uint32_t oldest_seq = 0;  ///< EVENT, DIGEST: oldest event the sender still holds (1..seq); REQ: unused
};

/// EVENT: one published event. Receivers deliver a stream's events in seq order, once each.
struct EventMessage {
  EventStreamPos pos;
  std::string_view topic;  ///< 1..kMaxEventTopicLen bytes of 0x21..0x7E
  const uint8_t* payload = nullptr;
  uint16_t payload_size_bytes = 0;  ///< 0..kMaxEventPayloadBytes
};

/// A whole datagram. Only the member matching header.type is meaningful; the others keep their
/// defaults on decode and are ignored on encode. (Not a union: a decoded Message is then safe to
/// read in any order, and it is ~200 bytes of stack, short-lived.)
/// DISCOVER (docs/protocol.md §4.13): the asker's own address, which a node checks against the
/// packet source (`address_mismatch`), so a captured request replayed from elsewhere is refused.
struct Discover {
  uint32_t ip = 0;  ///< the asker's IPv4, MSB first; never 0
  uint16_t udp_port = 0;  ///< the asker's UDP port; never 0
};

/// Most entries in one DIGEST: 15 + 4.5 x 100 = 465 body bytes, within the authenticated
/// datagram's 469 (a node with more evidence sends several DIGESTs of one round).
constexpr size_t kMaxDigestEntries = 100;
/// Largest age in a DIGEST entry (4 bits): an age is given in whole `age_unit_ms`, rounded up.
constexpr uint8_t kMaxDigestAge = 15;

/// One DIGEST entry: the sender had evidence that `node_id` was alive at most age x age_unit_ms ago.
struct DigestEntry {
  uint32_t node_id = 0;  ///< never 0
  uint8_t age = 0;       ///< 0..kMaxDigestAge, in the digest's age_unit_ms, rounded up
};

/// The entries of a DIGEST: the caller's array (encode) or validated wire bytes (decode): `count`
/// u32 node ids, then ceil(count / 2) bytes of 4-bit ages (entry i in the high nibble of byte i / 2
/// when i is even, in the low nibble when odd). Random access is O(1) in both cases.
class DigestList {
 public:
  constexpr DigestList() = default;
  /// Encoder input: `count` entries at `entries`, which must outlive the list.
  static DigestList from_array(const DigestEntry* entries, size_t count) {
    DigestList l;
    l.array_ = entries;
    l.count_ = entries == nullptr ? 0 : count;
    return l;
  }
  /// Decoder output: `count` validated entries whose ids start at `wire`.
  static DigestList from_wire(const uint8_t* wire, size_t count) {
    DigestList l;
    l.wire_ = wire;
    l.count_ = wire == nullptr ? 0 : count;
    return l;
  }
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  /// Entry `i`; `i` must be < size().
  DigestEntry operator[](size_t i) const {
    if (array_ != nullptr) return array_[i];
    const uint8_t* id = wire_ + 4 * i;
    DigestEntry e;
    e.node_id = (uint32_t{id[0]} << 24) | (uint32_t{id[1]} << 16) | (uint32_t{id[2]} << 8) | id[3];
    const uint8_t ages = wire_[4 * count_ + i / 2];
    e.age = static_cast<uint8_t>((i % 2 == 0) ? ages >> 4 : ages & 0x0F);
    return e;
  }

 private:
  const DigestEntry* array_ = nullptr;
  const uint8_t* wire_ = nullptr;
  size_t count_ = 0;
};

/// ROSTER_DIGEST's age meaning "no evidence to give" (a member not ACTIVE, or heard from too long ago).
constexpr uint8_t kRosterNoEvidence = 15;
/// Most members in one ROSTER_DIGEST: two ages a byte after its 20 fixed bytes, in an authenticated
/// datagram (469 body bytes at the 508-byte datagram).
constexpr size_t kMaxRosterSize = 2 * (SPORE_MAX_DATAGRAM_BYTES - 23 - 16 - 20);

/// The hash a ROSTER_DIGEST carries: FNV-1a (32 bit) over the ids of the roster in ascending order,
/// each as 4 bytes MSB first. Fold the ids in one at a time from kFnv1aOffset.
inline uint32_t roster_hash_step(uint32_t h, uint32_t node_id) {
  const uint8_t be[4] = {static_cast<uint8_t>(node_id >> 24), static_cast<uint8_t>(node_id >> 16),
                         static_cast<uint8_t>(node_id >> 8), static_cast<uint8_t>(node_id)};
  return fnv1a(h, be, sizeof be);
}

/// DIGEST (docs/protocol.md §4.14) and ROSTER_DIGEST (§4.16). Broadcast by one member per heartbeat
/// period in turn (a chain: each names the next); receivers take every entry as evidence of life of
/// a member they already have (never an admission).
struct Digest {
  /// The chain's round; the next sender's DIGEST carries round + 1. Two chains merge: receivers
  /// follow the higher round (serial arithmetic), at equal rounds the lower sender id.
  uint32_t round = 0;
  uint32_t next_id = 0;    ///< the member that sends the next DIGEST, 0 = none
  uint32_t backup_id = 0;  ///< sends it if next_id's does not come in time, 0 = none
  uint16_t age_unit_ms = 1;  ///< 1..65535
  DigestList entries;        ///< kDigest: 0..kMaxDigestEntries
  /// kRosterDigest: the sender's roster (its table's ids and its own, ascending), 1..kMaxRosterSize
  /// of them, its roster_hash_step() hash, and one 4-bit age per member, two to a byte (member i in
  /// the high nibble of byte i / 2 when i is even), kRosterNoEvidence for none. `roster_ages` points
  /// at the caller's bytes (encode) or into the datagram (decode).
  uint16_t roster_size = 0;
  uint32_t roster_hash = 0;
  const uint8_t* roster_ages = nullptr;
  /// The age of roster member `i` (< roster_size).
  uint8_t roster_age(size_t i) const {
    return static_cast<uint8_t>(i % 2 == 0 ? roster_ages[i / 2] >> 4 : roster_ages[i / 2] & 0x0F);
  }
};

struct Message {
  Header header;
  Announce announce;
  Discover discover;  ///< kDiscover
  Ping ping;
  Ack ack;
  PingReq ping_req;
  Gossip gossip;
  InfoReq info_req;
  Info info;
  EventMessage event;         ///< kEvent
  EventStreamPos event_req;   ///< kEventReq: epoch and seq (first wanted); oldest_seq is not sent (0)
  EventStreamPos event_digest;  ///< kEventDigest: epoch, seq = newest, oldest_seq
  Digest digest;                ///< kDigest
};

}  // namespace wire
}  // namespace spore
