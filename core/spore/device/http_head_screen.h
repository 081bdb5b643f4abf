#pragma once
/// @file http_head_screen.h
/// A streaming screen over the bytes of one HTTP request head, for the ESP8266 node: it sees the
/// bytes lwIP received before ESPAsyncWebServer does (platform/esp8266/http_listener.cpp) and says
/// whether the library may parse them. ESPAsyncWebServer 3.12.0 builds heap objects from a head
/// before any SPORE handler runs: a String that grows with each line (WebRequest.cpp:146-169), one
/// list entry per query parameter (:296-312, ~48 B each), one AsyncWebHeader per header line
/// (:698); an allocation that fails there resets the chip. The screen bounds all of it.
///
/// It mirrors how the library splits a head (WebRequest.cpp:136-172 and :985-1014): a line ends
/// at '\n' (a '\r' before it is part of the line, trimmed by the library), the first line is the
/// request line, and the head ends at the first later line with nothing but white space (the
/// library's String::trim() leaves it empty: ' ', '\t', '\v', '\f', '\r'). After that every byte
/// passes: it is the body, which the library hands to SPORE's handlers, or, once the request is
/// complete, bytes the library ignores (3.12.0 serves one request per connection: _parseState
/// never returns to PARSE_REQ_START).
///
/// Limits (core/spore/base/limits.h), each refused at the first byte that breaks it:
///  - the request line: at most SPORE_ESP_MAX_REQUEST_LINE_BYTES (without the '\n');
///  - query parameters: after the line's first '?', at most SPORE_ESP_MAX_QUERY_PARAMS - 1 '&'
///    (an upper bound of the library's list: it splits the target's query at '&');
///  - header lines: at most SPORE_ESP_MAX_HEADERS, each at most SPORE_ESP_MAX_HEADER_LINE_BYTES;
///  - the whole head: at most SPORE_ESP_MAX_HEAD_BYTES, blank line included.
///
/// Guarantees: the verdict depends only on the bytes, never on how they are split into feed()
/// calls; a verdict other than kReading never changes until reset(); no allocation, no buffering
/// (a few counters). Core code: no platform headers.

#include <cstddef>
#include <cstdint>

#include "spore/base/limits.h"

namespace spore {

enum class HeadVerdict : uint8_t {
  kReading,  ///< the head has not ended and no limit is broken: feed more
  kPassed,   ///< the head ended within every limit: all further bytes pass unscreened
  kRefused,  ///< a limit is broken: the connection must be dropped before the library sees these bytes
};

/// Which limit a refused head broke (for logs and tests).
enum class HeadRefusal : uint8_t {
  kNone,
  kRequestLineTooLong,
  kTooManyQueryParams,
  kHeaderLineTooLong,
  kTooManyHeaders,
  kHeadTooLarge,
  kBadByte,         ///< a NUL: the library aborts on it (WebRequest.cpp:127-131) inside its callback
  kBadRequestLine,  ///< empty, or not starting with a method's capital letter (a TLS hello, a stray CRLF)
};

class HttpHeadScreen {
 public:
  static constexpr size_t kMaxRequestLineBytes = SPORE_ESP_MAX_REQUEST_LINE_BYTES;
  static constexpr size_t kMaxQueryParams = SPORE_ESP_MAX_QUERY_PARAMS;
  static constexpr size_t kMaxHeaders = SPORE_ESP_MAX_HEADERS;
  static constexpr size_t kMaxHeaderLineBytes = SPORE_ESP_MAX_HEADER_LINE_BYTES;
  static constexpr size_t kMaxHeadBytes = SPORE_ESP_MAX_HEAD_BYTES;

  /// Starts over for a new connection.
  void reset() { *this = HttpHeadScreen(); }

  /// Screens the next `size_bytes` bytes of the connection. Returns the verdict after them; once
  /// kPassed or kRefused, returns it again without reading `data`.
  HeadVerdict feed(const uint8_t* data, size_t size_bytes);

  HeadVerdict verdict() const { return verdict_; }
  HeadRefusal refusal() const { return refusal_; }
  /// Head bytes screened so far (up to and including the blank line's '\n' once passed).
  size_t head_bytes() const { return head_bytes_; }

 private:
  HeadVerdict refuse(HeadRefusal why);

  uint16_t head_bytes_ = 0;
  uint16_t line_bytes_ = 0;  ///< bytes of the current line so far, without its '\n'
  uint8_t headers_ = 0;      ///< header lines ended or started so far
  uint8_t params_ = 0;       ///< upper bound of the query parameters (0 until a '?')
  bool in_request_line_ = true;
  bool line_has_text_ = false;  ///< the current line has a byte String::trim() would keep
  HeadVerdict verdict_ = HeadVerdict::kReading;
  HeadRefusal refusal_ = HeadRefusal::kNone;
};

}  // namespace spore
