#pragma once
/// @file wire_codec.h
/// Encoder and decoder of SPORE wire protocol v2 (spec: docs/protocol.md).
///
/// Guarantees:
/// - decode() reads only bytes [data, data + size_bytes), never allocates, and rejects every
///   datagram that is not exactly what encode() would produce: wrong magic/version/type/flags,
///   inconsistent lengths, bytes past the end, out-of-range enum values, bad strings, a missing,
///   unexpected or wrong tag. Each rejection has a DecodeError. Replay and destination are the
///   receiver's checks (DatagramChannel): the codec knows neither the receiver nor its members.
/// - encode() never writes past `capacity_bytes`, never produces more than
///   SPORE_MAX_DATAGRAM_BYTES, and everything it produces decodes back to the same Message
///   (same key). The encoding is canonical, so decode-then-encode reproduces the input bytes.

#include <cstddef>
#include <cstdint>

#include "spore/base/bytes.h"
#include "spore/base/flash_string.h"
#include "spore/auth/hmac_sha256.h"
#include "spore/base/limits.h"
#include "spore/wire/wire_messages.h"

namespace spore {
namespace wire {

/// "SP", the first two bytes of every SPORE datagram of every version.
constexpr uint8_t kMagic0 = 'S';
constexpr uint8_t kMagic1 = 'P';
/// Header bytes in v2 (magic, version, type, flags, sender, incarnation, seq, dest, body length).
constexpr size_t kHeaderBytes = 23;
/// Authentication tag: HMAC-SHA256 truncated to 128 bits (see docs/protocol.md for why).
constexpr size_t kTagBytes = 16;
/// Header flag bit 0: a tag follows the body.
constexpr uint8_t kFlagAuthenticated = 0x01;
/// Largest body: whatever the header (and tag) leave of SPORE_MAX_DATAGRAM_BYTES.
constexpr size_t max_body_bytes(bool authenticated) {
  return SPORE_MAX_DATAGRAM_BYTES - kHeaderBytes - (authenticated ? kTagBytes : 0);
}

static_assert(SPORE_MAX_DATAGRAM_BYTES >= 128 && SPORE_MAX_DATAGRAM_BYTES <= 65507,
              "a datagram must hold the largest fixed body and fit UDP");
static_assert(SPORE_MAX_HOSTNAME_LEN >= 1 && SPORE_MAX_HOSTNAME_LEN <= 255, "hostname is length-prefixed by a u8");
static_assert(SPORE_MAX_URI_LEN >= 1 && SPORE_MAX_URI_LEN <= 255, "uri is length-prefixed by a u8");
static_assert(SPORE_MAX_VERSION_LEN <= 255, "sdk version is length-prefixed by a u8");

/// Why a datagram was rejected. Values are stable (they index metrics counters); append only.
enum class DecodeError : uint8_t {
  kOk = 0,
  kTooShort,        ///< shorter than the fixed header
  kTooLong,         ///< longer than SPORE_MAX_DATAGRAM_BYTES
  kBadMagic,        ///< not "SP": not a SPORE datagram
  kBadVersion,      ///< a protocol version this node does not speak
  kUnknownType,     ///< message type not defined in this version
  kBadFlags,        ///< a reserved header flag bit is set
  kBadSender,       ///< sender id 0
  kTruncatedBody,   ///< fewer bytes than header body length (+ tag) promise
  kTrailingBytes,   ///< more bytes than header body length (+ tag) account for
  kBadLength,       ///< body length does not match the body's contents (short, or left over)
  kBadString,       ///< string empty where required, too long, or not printable ASCII
  kBadField,        ///< a field value out of range (enum, reserved bits, page index, id 0, ...)
  kAuthRequired,    ///< this node has a key and the datagram carries no tag
  kUnexpectedAuth,  ///< this node has no key and the datagram carries a tag
  kBadTag,          ///< tag does not verify under this node's key (forged, corrupted, other key)
  kStale,           ///< from an incarnation of the sender older than one already seen
  kReplayed,        ///< this sequence number was already accepted, or is older than the window
  // Receiver-level reasons (DatagramChannel / Membership, never decode()); here so one counter
  // array and one name list cover every refusal.
  kWrongDestination,  ///< dest is neither this node nor the broadcast marker (replayed elsewhere)
  kUnknownSender,     ///< not a member and not an admitting ANNOUNCE (answered by a challenge)
  kAddressMismatch,   ///< an ANNOUNCE or DISCOVER that names another address than the one it came from
  kDiscoverLimited,   ///< a DISCOVER over SPORE_MAX_DISCOVER_ANSWERS_PER_S or the queue's share
};
/// Number of DecodeError values, for sizing a counter array.
constexpr size_t kDecodeErrorCount = static_cast<size_t>(DecodeError::kDiscoverLimited) + 1;

/// "ok", "too_short", ... (snake_case, for logs and metrics names); "?" outside the enum.
/// Never null; the string is static and in flash on the ESP8266 (read it through FlashStr).
FlashStr decode_error_name(DecodeError error);

/// Why encode() refused.
enum class EncodeError : uint8_t {
  kOk = 0,
  kNoSpace,      ///< the datagram would exceed capacity_bytes or SPORE_MAX_DATAGRAM_BYTES
  kBadString,    ///< a string violates the rules decode() applies
  kBadField,     ///< a field value decode() would reject (enum, id 0, page index, > 255 entries)
  kUnknownType,  ///< header.type outside MessageType
};
/// "ok", "no_space", ...; "?" outside the enum. Never nullptr.
const char* encode_error_name(EncodeError error);

struct EncodeResult {
  size_t size_bytes = 0;  ///< bytes written to the buffer; 0 on error
  EncodeError error = EncodeError::kOk;
  bool ok() const { return error == EncodeError::kOk; }
};

/// Decodes the datagram `data[0 .. size_bytes)`.
///
/// `key`: the cluster key. Non-empty: only authenticated datagrams with a valid tag are accepted.
/// Empty: only unauthenticated ones (a tagged datagram means this node is missing the cluster's
/// key, reported as kUnexpectedAuth rather than silently half-joining a secured cluster).
/// On kOk, `out.header` and the member for `out.header.type` are filled; their views point into
/// `data`. On error, `out` is unspecified (possibly partly written) and must not be used.
DecodeError decode(const uint8_t* data, size_t size_bytes, const HmacKey& key, Message& out);

/// The sender id in the header of `data[0 .. size_bytes)`, read without any check beyond the
/// magic and the header's size (no tag): enough to recognise this node's own
/// broadcast echoed back before spending a decode on it. 0 (never a valid sender) when the bytes
/// are no SPORE header. Inline: it is a handful of instructions at its one call site.
inline uint32_t peek_sender(const uint8_t* data, size_t size_bytes) {
  const bool header = data != nullptr && size_bytes >= kHeaderBytes && data[0] == kMagic0 && data[1] == kMagic1;
  return header ? load_be32(data + 5) : 0;  // sender id: after magic, version, type and flags
}

/// Encodes `msg` (header.type selects the body) into `out[0 .. capacity_bytes)`, with a tag when
/// `key` is non-empty. Nothing is written beyond the returned size; on error the buffer content is
/// unspecified. A buffer of SPORE_MAX_DATAGRAM_BYTES always suffices when the message fits at all.
EncodeResult encode(const Message& msg, const HmacKey& key, uint8_t* out, size_t capacity_bytes);

/// Size in bytes of the datagram encode() would produce for `msg` (header, body and, when
/// `authenticated`, tag), or 0 when encode() would refuse its fields. It may exceed
/// SPORE_MAX_DATAGRAM_BYTES: compare to decide what to leave out before encoding.
size_t datagram_size_bytes(const Message& msg, bool authenticated);

/// How many gossip entries a message of `type` (kPing, kAck, kPingReq, kGossip) can piggyback
/// at most, so SWIM dissemination can fill a datagram. 0 for other types.
size_t max_gossip_entries(MessageType type, bool authenticated);

/// Splits an API list into INFO pages, greedily and deterministically (both ends compute the
/// same split from the same list). `sdk_version_len` is the length of Info::sdk_version sent
/// alongside. Returns the number of pages (>= 1, an empty list is one empty page), or 0 when an
/// entry cannot fit a page on its own or more than 255 pages would be needed. When `page_index`
/// is a valid page and `first`/`count` are non-null, they receive that page's entry range.
size_t api_pages(const ApiEntry* entries, size_t entry_count, size_t sdk_version_len, bool authenticated,
                 size_t page_index = 0, size_t* first = nullptr, size_t* count = nullptr);

}  // namespace wire
}  // namespace spore
