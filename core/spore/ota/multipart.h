#pragma once
/// @file multipart.h
/// Streaming multipart/form-data parser (RFC 7578 over RFC 2046 §5.1), allocation-free and
/// bounded, for firmware uploads (`curl -F firmware=@spore.bin http://node/api/node/update`).
///
/// It hands the bytes of one part, the one named `firmware` (Content-Disposition: form-data;
/// name="firmware"), to a sink as they arrive, and skips every other part. Decision: only a part
/// with that exact name is taken, never "the first file part" as a fallback: an update form may
/// carry other files (the ESP8266 core's HTTPUpdateServer form has a "filesystem" part), and a
/// streaming parser cannot wait for the end of the body to find out whether a "firmware" part
/// follows, so a fallback would flash whatever file came first. A second "firmware" part is an
/// error.
///
/// Bounds: the boundary is at most 70 characters (RFC 2046); a part's header section at most
/// SPORE_MULTIPART_MAX_HEADER_BYTES; of each header line the first
/// SPORE_MULTIPART_MAX_HEADER_LINE_BYTES are parsed. The only state besides that line is the
/// delimiter pattern itself: a partially matched delimiter at the end of a chunk is always a prefix
/// of the pattern, so the parser never copies body bytes (they are passed to the sink as slices of
/// the caller's chunk, or re-emitted from the pattern when a partial match turns out to be data).
///
/// Tolerated: a preamble before the first boundary, transport padding (spaces, tabs) after a
/// boundary, header lines ended by a bare LF, an epilogue after the closing boundary (ignored).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/base/delegate.h"
#include "spore/base/flash_string.h"
#include "spore/base/limits.h"

namespace spore {

static_assert(SPORE_MULTIPART_MAX_HEADER_BYTES < 65535, "part header bytes are counted in 16 bits");
static_assert(SPORE_MULTIPART_MAX_HEADER_LINE_BYTES <= SPORE_MULTIPART_MAX_HEADER_BYTES,
              "a kept header line cannot be longer than the header section");

class MultipartParser {
 public:
  /// Receives the selected part's bytes in order; false stops the parse (feed() returns false,
  /// error() is "the part's data was refused").
  using Sink = Delegate<bool(const uint8_t*, size_t)>;

  /// Longest boundary, RFC 2046 §5.1.1.
  static constexpr size_t kMaxBoundaryBytes = 70;
  /// The part name taken when begin() is not told another.
  static constexpr std::string_view kDefaultPartName = "firmware";

  MultipartParser() = default;
  explicit MultipartParser(Sink sink) : sink_(sink) {}
  MultipartParser(const MultipartParser&) = delete;
  MultipartParser& operator=(const MultipartParser&) = delete;

  void set_sink(Sink sink) { sink_ = sink; }

  /// Resets the parser for a new body. `content_type` is the request's Content-Type value, e.g.
  /// `multipart/form-data; boundary=------------------------d74496d66958873e` (type matched
  /// case-insensitively, boundary quoted or not). False (and error() says why) when it is not
  /// multipart/form-data or its boundary is missing, empty, longer than 70 characters or holds
  /// characters RFC 2046 does not allow. `part_name` (kept by reference: pass a literal) is
  /// the part whose bytes go to the sink.
  bool begin(std::string_view content_type, std::string_view part_name = kDefaultPartName);

  /// The next bytes of the body, any chunking. False once the body is known to be malformed
  /// (error() says why) or the sink refused; later calls then return false at once.
  bool feed(const uint8_t* data, size_t size_bytes);

  /// End of body. True only when the closing boundary was seen and the selected part existed
  /// (an empty part counts). Otherwise false and error() says why.
  bool finish();

  /// Null while nothing is wrong; else a static English sentence, kept in flash on the ESP8266
  /// (flash_string.h: read it with FlashStr's readers or JsonWriter::value(FlashStr)).
  FlashStr error() const { return error_; }
  bool failed() const { return !error_.is_null(); }
  /// The closing boundary was seen.
  bool closed() const { return state_ == State::kEpilogue; }
  /// A part with the selected name began (its headers ended).
  bool found_part() const { return found_part_; }
  /// Bytes handed to the sink so far.
  size_t part_bytes() const { return part_bytes_; }

 private:
  enum class State : uint8_t { kIdle, kPreamble, kBoundaryTail, kHeaders, kBody, kEpilogue, kFailed };

  bool fail(FlashStr why);
  /// Scans for the delimiter from data[0]; returns bytes consumed (up to and including a found
  /// delimiter) or SIZE_MAX after a failure. Data before the delimiter goes to the sink if
  /// `capture`.
  size_t scan(const uint8_t* data, size_t size_bytes, bool capture, bool* found);
  bool emit(const uint8_t* data, size_t size_bytes);
  size_t boundary_tail(const uint8_t* data, size_t size_bytes);
  size_t headers(const uint8_t* data, size_t size_bytes);
  void header_line();

  Sink sink_;
  std::string_view part_name_ = kDefaultPartName;
  FlashStr error_;
  State state_ = State::kIdle;
  // Delimiter "\r\n--" + boundary.
  uint8_t pattern_len_ = 0;
  uint8_t match_ = 0;  // bytes of pattern_ matched at the end of what was seen so far
  char pattern_[4 + kMaxBoundaryBytes] = {};
  // Boundary tail: 0 = start, 1 = one '-', 2 = padding, 3 = CR seen.
  uint8_t tail_state_ = 0;
  bool capturing_ = false;
  bool found_part_ = false;
  uint16_t header_bytes_ = 0;
  uint16_t line_len_ = 0;  // bytes of the current line seen (may exceed the kept buffer)
  size_t part_bytes_ = 0;
  bool part_selected_ = false;  // the current part's headers named it
  char line_[SPORE_MULTIPART_MAX_HEADER_LINE_BYTES] = {};
};

}  // namespace spore
