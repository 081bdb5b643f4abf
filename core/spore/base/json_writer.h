#pragma once
/// @file json_writer.h
/// Streaming, allocation-free JSON writer (RFC 8259).
///
/// Every REST response a node sends is produced here, straight into the HTTP response stream or a
/// fixed buffer, so no response is ever built as a heap string (an ESP-01 has ~40 KB of heap and
/// a fragmented heap kills it long before an exhausted one). The writer keeps a few bytes of state:
/// one bit per nesting level, so its cost does not depend on the size of the document.
///
/// Guarantees:
///  - Strings are always emitted as valid UTF-8 JSON, whatever bytes they are given: `"`, `\` and
///    control characters are escaped, invalid UTF-8 is replaced by U+FFFD, valid UTF-8 is passed
///    through unchanged.
///  - Commas and colons are inserted automatically.
///  - Misuse (a value without a key inside an object, a key inside an array, an unmatched end, a
///    second top-level value, nesting deeper than SPORE_JSON_MAX_DEPTH) makes ok() false and the
///    writer then writes nothing more, so a bug truncates the output instead of emitting
///    something that merely looks like JSON. Callers check ok()/complete() before sending.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "spore/base/flash_string.h"
#include "spore/base/limits.h"

namespace spore {

static_assert(SPORE_JSON_MAX_DEPTH >= 1 && SPORE_JSON_MAX_DEPTH <= 32,
              "SPORE_JSON_MAX_DEPTH must be 1..32 (one bit of a uint32_t per level)");

/// Formats `v` in decimal right-aligned ending at `end` (at most 20 digits before it); returns
/// the first digit. Shared by the JSON writer and the /metrics exposition: one copy in flash.
char* format_decimal(uint64_t v, char* end);

class ChunkedAnswer;

/// Where a JsonWriter's bytes go: an HTTP response stream, a socket, a fixed buffer.
class JsonOutput {
 public:
  virtual ~JsonOutput() = default;
  /// Appends `size_bytes` bytes from `data`. `data` is valid only during the call and is not
  /// NUL-terminated. The writer calls this with runs of bytes, not byte by byte.
  virtual void write(const char* data, size_t size_bytes) = 0;
  /// The answer object when this output is one that is handed out in pieces (chunked_answer.h):
  /// RestApi then attaches a large answer's source to it instead of writing the whole answer now.
  /// nullptr (every other output): large answers are written whole.
  virtual ChunkedAnswer* chunked_answer() { return nullptr; }
};

/// Output into a caller-owned fixed buffer. Never writes past the end: when the content does not
/// fit it keeps the prefix that fits, sets overflowed() and drops every later write, so a
/// truncated document is never mistaken for a complete one. The content is always NUL-terminated,
/// hence it holds at most `capacity_bytes - 1` bytes of JSON.
class BufferJsonOutput : public JsonOutput {
 public:
  /// `buffer` must hold `capacity_bytes` bytes and outlive this object; capacity 0 is allowed
  /// (everything overflows, c_str() is "").
  BufferJsonOutput(char* buffer, size_t capacity_bytes);

  void write(const char* data, size_t size_bytes) override;

  /// Bytes stored, without the terminating NUL.
  size_t size() const { return size_; }
  /// True once any write did not fit entirely; cleared only by clear().
  bool overflowed() const { return overflowed_; }
  /// The stored bytes, NUL-terminated (may contain embedded NULs only if written that way).
  const char* c_str() const;
  /// Empties the buffer and forgets an overflow.
  void clear();

 private:
  char* buffer_;
  size_t capacity_bytes_;
  size_t size_{0};
  bool overflowed_{false};
};

/// Writes one JSON value (usually an object) to a JsonOutput, with automatic separators.
///
/// @code
///   w.begin_object().field("hostname", name).field("freeHeap", heap_bytes);
///   w.key("api"); registry.write_json(w);
///   w.end_object();
///   if (!w.complete()) { /* bug: unbalanced or misused */ }
/// @endcode
class JsonWriter {
 public:
  explicit JsonWriter(JsonOutput& out) : out_(out) {}

  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();

  /// Object member name; must be followed by exactly one value (or container). Escaped like a
  /// string value.
  JsonWriter& key(std::string_view name);
  /// key() for a name kept in flash (flash_string.h); null writes an empty name.
  JsonWriter& key(FlashStr name);

  /// String value; any bytes, including embedded NULs (escaped as \u0000).
  JsonWriter& value(std::string_view s);
  /// NUL-terminated string value; nullptr writes `null`.
  JsonWriter& value(const char* s);
  JsonWriter& value(std::nullptr_t) { return null_value(); }
  /// String value kept in flash (flash_string.h), streamed through a small stack buffer; escaped
  /// and UTF-8-checked exactly like value(std::string_view). Null writes `null`.
  JsonWriter& value(FlashStr s);
  /// One string value made of `head`, `middle` and `tail` (a sentence around a variable part),
  /// escaped as value(std::string_view) of the three joined.
  JsonWriter& value_joined(FlashStr head, std::string_view middle, FlashStr tail);
  JsonWriter& value(bool b);
  JsonWriter& value(int32_t v) { return write_signed(v); }
  JsonWriter& value(uint32_t v) { return write_unsigned(v); }
  JsonWriter& value(int64_t v) { return write_signed(v); }
  JsonWriter& value(uint64_t v) { return write_unsigned(v); }

  /// Any other integer type (int16_t, size_t, long long, unsigned long, ...), so that value(x)
  /// is unambiguous whichever fundamental type the platform's fixed-width typedefs map to.
  /// A template exact match beats the non-template overloads' integral conversions.
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                          !std::is_same_v<T, char> && !std::is_same_v<T, wchar_t> &&
                                          !std::is_same_v<T, char16_t> && !std::is_same_v<T, char32_t>,
                                      int> = 0>
  JsonWriter& value(T v) {
    if constexpr (std::is_signed_v<T>) {
      return write_signed(static_cast<int64_t>(v));
    } else {
      return write_unsigned(static_cast<uint64_t>(v));
    }
  }
  /// A lone `char` is ambiguous (number or one-character string?); say which with a cast.
  JsonWriter& value(char) = delete;

  /// Finite numbers: the shortest of 15, 16 or 17 significant digits that reads back as the same
  /// double (so 0.1 is written "0.1", not "0.10000000000000001"); integral values have no
  /// fraction ("5"), except negative zero, written "-0.0" because parsers read "-0" as integer 0.
  /// NaN and infinities, which JSON cannot represent, are written as `null`. Uses snprintf/sscanf
  /// "%g", which the ESP-01 firmware does NOT link (firmware/no_float_stdio.py drops float
  /// printf/scanf to fit 1 MB): core writes no doubles today, and device code must not either.
  JsonWriter& value(double d);

  JsonWriter& null_value();

  /// key(name) followed by value(v).
  template <class T>
  JsonWriter& field(std::string_view name, T v) {
    key(name);
    return value(v);
  }
  /// field() with the name kept in flash: `w.field(SPORE_FSTR("freeHeap"), bytes)` keeps the
  /// key out of the ESP8266's DRAM (flash_string.h).
  template <class T>
  JsonWriter& field(FlashStr name, T v) {
    key(name);
    return value(v);
  }

  /// The output this writer writes to: a text answer's source writes its raw bytes there.
  JsonOutput& output() const { return out_; }

  /// False once the nesting was misused; from then on nothing more is written.
  bool ok() const { return ok_; }
  /// ok(), one top-level value written, and every container closed: the output is one complete
  /// JSON document (provided the JsonOutput itself did not overflow).
  bool complete() const { return ok_ && depth_ == 0 && root_written_; }

 private:
  JsonWriter& write_signed(int64_t v);
  JsonWriter& write_unsigned(uint64_t v);
  /// Writes the separator a new value needs; false (and !ok()) if no value may go here.
  bool before_value();
  /// Writes the separator a new key needs; false (and !ok()) if no key may go here.
  bool before_key();
  JsonWriter& begin_container(bool is_object, char open);
  JsonWriter& end_container(bool is_object, char close);
  void write_string(std::string_view s);
  /// write_string() without the quotes; `s` must not end inside a UTF-8 sequence.
  void write_string_body(std::string_view s);
  void write_flash_string(FlashStr s);
  /// write_flash_string() without the quotes.
  void write_flash_body(FlashStr s);
  void put(char c) { out_.write(&c, 1); }
  bool in_object() const { return depth_ > 0 && ((object_bits_ >> (depth_ - 1)) & 1u) != 0; }
  JsonWriter& fail() {
    ok_ = false;
    return *this;
  }

  JsonOutput& out_;
  uint32_t object_bits_{0};  ///< bit d-1 set: the container at depth d is an object, else array
  uint8_t depth_{0};
  bool has_element_{false};  ///< the innermost open container already holds a member/element
  bool key_pending_{false};  ///< a key was written and its value has not been
  bool root_written_{false};
  bool ok_{true};
};

}  // namespace spore
