#pragma once
/// @file http_admission.h
/// The one HTTP admission policy of both node platforms: which request heads are refused before
/// any body byte is read, and which connection a full server gives up for a new one. The servers
/// keep only their adapters: libmicrohttpd on Linux (platform/posix/http_server.cpp), lwIP and
/// ESPAsyncWebServer on the ESP8266 (platform/esp8266/http_listener.cpp, core's
/// HttpRequestTable). The numbers differ by platform (HttpAdmissionLimits); the rules and their
/// order do not. docs/reliability.md ("Limits", "One admission policy") lists both sets of numbers.
///
/// A request head, once its fields are parsed (admit_head()), is refused with the first of:
///  1. 431 headers_too_large: more than max_header_count fields, or a head over max_head_bytes;
///  2. 400 bad_request: a field name that is empty or holds a space, a tab or a control character
///     (a `Content-Length :` field one parser ignores and another honours);
///  3. 400 bad_framing: body framing that is not unambiguous (RFC 9112 §6): more than one
///     Content-Length, a value that is not 1*DIGIT within 64 bits, more than one
///     Transfer-Encoding, one that is not exactly `chunked` (ESPAsyncWebServer would find
///     `chunked` in a list, libmicrohttpd read any other coding to the connection's end), both
///     kinds together, any X-Expected-Entity-Length (ESPAsyncWebServer takes it as the body's
///     length, libmicrohttpd ignores it);
///  4. 414 uri_too_long: a target of max_target_bytes or more, or more than max_query_params
///     query parameters;
///  5. 415 unsupported_media_type, where the server library itself consumes form bodies
///     (refuse_form_bodies: ESPAsyncWebServer parses an urlencoded or `name=` text/plain body into
///     parameters or drops it): such a body, or multipart/* anywhere but the update upload;
///  6. 413 payload_too_large: a request that is not a streamed update upload declaring a
///     Content-Length over max_body_bytes.
///
/// A new connection (admit_connection()) is refused unanswered when its client address already
/// holds max_connections_per_address counted connections; when the server is full it takes the
/// place of the one choose_eviction() picks:
///  1. from the client address holding the most connections (an attacker holds many per address;
///     a client making one request holds one);
///  2. among those, one that has waited at least `min_age_ms` in its state before a younger one
///     (a request head on a LAN arrives within milliseconds);
///  3. then by state: a first request head not complete yet, then an idle keep-alive connection,
///     then a request body still arriving;
///  4. then the one longest in that state.
/// Answers being sent, event streams and admitted uploads are never candidates (the adapter
/// leaves them out). No candidate: the new connection is the one refused.
///
/// Pure and allocation-free; core code (no platform headers). Host-tested in
/// tests/unit/http_admission_test.cpp, fuzzed in tests/fuzz/http_head_check_fuzz.cpp.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/base/flash_string.h"

namespace spore {

/// One platform's numbers for the policy above.
struct HttpAdmissionLimits {
  size_t max_header_count = 0;
  /// 0: the head's size is bounded before the fields are parsed (the ESP8266's head screen).
  size_t max_head_bytes = 0;
  size_t max_target_bytes = 0;
  size_t max_query_params = 0;
  size_t max_body_bytes = 0;
  bool refuse_form_bodies = false;
  size_t max_connections = 0;
  size_t max_connections_per_address = 0;
};

/// The header fields of one request head, added as parsed: counts them and keeps what the
/// framing and name rules need (a few counters, no copy of any field).
class HttpHeadFields {
 public:
  /// One field, name and value as received (surrounding spaces of the value are ignored).
  void add(std::string_view name, std::string_view value);

  size_t count() const { return count_; }
  /// The body is chunked (valid after admit_head() accepted the head).
  bool chunked() const { return transfer_encodings_ == 1 && !bad_transfer_encoding_; }
  /// A Content-Length was sent; content_length() is its value.
  bool has_content_length() const { return content_lengths_ == 1; }
  uint64_t content_length() const { return content_length_; }
  bool bad_name() const { return bad_name_; }
  /// Why the framing is refused (a sentence for the JSON error, in flash); null when it is not.
  FlashStr framing_problem() const;

 private:
  size_t count_ = 0;
  uint8_t content_lengths_ = 0;  // saturates: two or more is refused either way
  uint8_t transfer_encodings_ = 0;
  uint64_t content_length_ = 0;
  bool bad_content_length_ = false;
  bool bad_transfer_encoding_ = false;
  bool bad_name_ = false;
  bool expected_length_ = false;  ///< an X-Expected-Entity-Length field
};

/// True for `name` equal to `lower` ignoring ASCII case (`lower` is lower-case).
bool header_name_is(std::string_view name, std::string_view lower);

/// What a server knows of a request once its head is parsed, before any body byte.
struct HttpHeadFacts {
  const HttpHeadFields* fields = nullptr;  ///< nullptr: no fields (rules 1-3 see none)
  size_t head_bytes = 0;
  size_t target_bytes = 0;  ///< the request target, path and query
  size_t query_params = 0;
  std::string_view content_type;
  /// Declared Content-Length (0: none, or a chunked body).
  uint64_t content_length = 0;
  /// A body follows (a Content-Length over 0, or chunked).
  bool has_body = false;
  /// POST of the update route streamed into OtaUploadHandler (rule 6 does not apply).
  bool upload = false;
};

enum class HttpRefusal : uint8_t {
  kNone = 0,
  kHeadersTooLarge,       ///< 431
  kBadHeaderName,         ///< 400 bad_request
  kBadFraming,            ///< 400 bad_framing
  kUriTooLong,            ///< 414
  kUnsupportedMediaType,  ///< 415
  kPayloadTooLarge,       ///< 413
};

/// The first rule of the file comment that `head` breaks under `limits`, or kNone.
HttpRefusal admit_head(const HttpHeadFacts& head, const HttpAdmissionLimits& limits);
/// The HTTP status and the JSON `code` (in flash) of a refusal (0 and "" for kNone).
int http_refusal_status(HttpRefusal refusal);
FlashStr http_refusal_code(HttpRefusal refusal);

/// The media type of a Content-Type value: before any ';', without surrounding spaces.
std::string_view http_media_type(std::string_view content_type);
/// True for a multipart/* Content-Type (ASCII case-insensitive).
bool is_multipart(std::string_view content_type);

enum class ConnectionAdmission : uint8_t {
  kAccept,       ///< counted; the server has room
  kAddressFull,  ///< refused unanswered: the address holds its share already
  kEvict,        ///< counted; the server is full: make room with choose_eviction()
};

/// The decision for a new connection from an address that holds `from_address` counted
/// connections, on a server that holds `counted` in all (neither includes the new one). Inline,
/// so a constant `limits` (the ESP8266's) folds into the caller instead of sitting in DRAM.
inline ConnectionAdmission admit_connection(size_t from_address, size_t counted, const HttpAdmissionLimits& limits) {
  if (from_address >= limits.max_connections_per_address) return ConnectionAdmission::kAddressFull;
  return counted >= limits.max_connections ? ConnectionAdmission::kEvict : ConnectionAdmission::kAccept;
}

struct EvictionCandidate {
  enum class State : uint8_t {
    kBody,  ///< a request body is arriving (not an admitted upload)
    kIdle,  ///< a keep-alive connection between requests
    kHead,  ///< the connection's first request head is not complete yet
  };
  // No default values: an array of candidates the ESP8266 fills in place would be copied from a
  // template in .rodata, which its core keeps in DRAM. The adapter sets every field.
  State state;
  /// How long the connection has been in `state`, ms.
  uint32_t age_ms;
  /// Connections the candidate's client address holds (counted against the caps), itself included.
  size_t address_connections;
};

/// The index in `candidates` (`count` of them) of the connection to close, or `count` when there
/// is none. The order is the one in the file comment.
size_t choose_eviction(const EvictionCandidate* candidates, size_t count, uint32_t min_age_ms);

/// One of the ESP8266 listener's head screens as admission sees it. No default values, as for
/// EvictionCandidate: the listener sets every field.
struct HeadScreenSlot {
  bool used;             ///< a connection's head is being screened in it
  uint32_t address;      ///< that connection's client IPv4 address
  uint32_t accepted_ms;  ///< when it was accepted
};

/// Where a new connection from `address` goes among `count` screens, by the rules above
/// (admit_connection(), then choose_eviction() with every screen holding a first head): the
/// index of a free screen (*evict false), or with all in use the index of the head to reset for
/// it (*evict true); `count` when it is refused (its address holds
/// limits.max_connections_per_address screens already, or there is no screen at all).
size_t place_head(const HeadScreenSlot* screens, size_t count, uint32_t address, uint32_t now_ms, uint32_t min_age_ms,
                  const HttpAdmissionLimits& limits, bool* evict);

}  // namespace spore
