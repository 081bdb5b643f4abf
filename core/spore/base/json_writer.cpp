#include "spore/base/json_writer.h"

#include <cstdio>
#include <cstring>

namespace spore {

// ---- BufferJsonOutput ---------------------------------------------------------------------------

BufferJsonOutput::BufferJsonOutput(char* buffer, size_t capacity_bytes)
    : buffer_(buffer), capacity_bytes_(buffer == nullptr ? 0 : capacity_bytes) {
  if (capacity_bytes_ > 0) buffer_[0] = '\0';
}

void BufferJsonOutput::write(const char* data, size_t size_bytes) {
  // After an overflow later (smaller) writes could still fit; dropping them keeps the stored bytes
  // an exact prefix of the document, which is what makes the truncation easy to reason about.
  if (overflowed_ || size_bytes == 0) return;
  size_t room = capacity_bytes_ > 0 ? capacity_bytes_ - 1 - size_ : 0;
  size_t n = size_bytes;
  if (n > room) {
    n = room;
    overflowed_ = true;
  }
  if (n > 0) {
    std::memcpy(buffer_ + size_, data, n);
    size_ += n;
  }
  if (capacity_bytes_ > 0) buffer_[size_] = '\0';
}

const char* BufferJsonOutput::c_str() const { return capacity_bytes_ > 0 ? buffer_ : ""; }

void BufferJsonOutput::clear() {
  size_ = 0;
  overflowed_ = false;
  if (capacity_bytes_ > 0) buffer_[0] = '\0';
}

// ---- JsonWriter: structure ----------------------------------------------------------------------

bool JsonWriter::before_value() {
  if (!ok_) return false;
  if (depth_ == 0) {
    // RFC 8259: a document is exactly one value.
    if (root_written_) {
      ok_ = false;
      return false;
    }
    root_written_ = true;
    return true;
  }
  if (in_object()) {
    if (!key_pending_) {
      ok_ = false;
      return false;
    }
    key_pending_ = false;  // key() already wrote the comma and the colon
    return true;
  }
  if (has_element_) put(',');
  has_element_ = true;
  return true;
}

JsonWriter& JsonWriter::begin_container(bool is_object, char open) {
  // Check the depth before before_value() so a refused container leaves no stray comma behind.
  if (!ok_ || depth_ >= SPORE_JSON_MAX_DEPTH) return fail();
  if (!before_value()) return *this;
  if (is_object) {
    object_bits_ |= (1u << depth_);
  } else {
    object_bits_ &= ~(1u << depth_);
  }
  ++depth_;
  has_element_ = false;
  put(open);
  return *this;
}

JsonWriter& JsonWriter::end_container(bool is_object, char close) {
  if (!ok_ || depth_ == 0 || in_object() != is_object || key_pending_) return fail();
  --depth_;
  // The container just closed is itself an element of its parent.
  has_element_ = true;
  put(close);
  return *this;
}

JsonWriter& JsonWriter::begin_object() { return begin_container(true, '{'); }
JsonWriter& JsonWriter::end_object() { return end_container(true, '}'); }
JsonWriter& JsonWriter::begin_array() { return begin_container(false, '['); }
JsonWriter& JsonWriter::end_array() { return end_container(false, ']'); }

bool JsonWriter::before_key() {
  if (!ok_ || !in_object() || key_pending_) {
    ok_ = false;
    return false;
  }
  if (has_element_) put(',');
  has_element_ = true;
  key_pending_ = true;
  return true;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  if (before_key()) {
    write_string(name);
    put(':');
  }
  return *this;
}

JsonWriter& JsonWriter::key(FlashStr name) {
  if (before_key()) {
    write_flash_string(name);
    put(':');
  }
  return *this;
}

// ---- JsonWriter: scalars ------------------------------------------------------------------------

JsonWriter& JsonWriter::value(std::string_view s) {
  if (before_value()) write_string(s);
  return *this;
}

JsonWriter& JsonWriter::value(FlashStr s) {
  if (s.is_null()) return null_value();
  if (before_value()) write_flash_string(s);
  return *this;
}

JsonWriter& JsonWriter::value_joined(FlashStr head, std::string_view middle, FlashStr tail) {
  if (before_value()) {
    put('"');
    write_flash_body(head);
    write_string_body(middle);
    write_flash_body(tail);
    put('"');
  }
  return *this;
}

JsonWriter& JsonWriter::value(const char* s) {
  if (s == nullptr) return null_value();
  return value(std::string_view(s));
}

JsonWriter& JsonWriter::value(bool b) {
  if (before_value()) {
    if (b) {
      out_.write("true", 4);
    } else {
      out_.write("false", 5);
    }
  }
  return *this;
}

JsonWriter& JsonWriter::null_value() {
  if (before_value()) out_.write("null", 4);
  return *this;
}

// Own code rather than printf("%llu"): newlib-nano/picolibc builds may lack 64-bit printf, and
// this is smaller.
char* format_decimal(uint64_t v, char* end) {
  char* p = end;
  // 32-bit division is a single libgcc call on lx106; use it whenever the value allows.
  while (v > 0xFFFFFFFFull) {
    *--p = static_cast<char>('0' + static_cast<unsigned>(v % 10u));
    v /= 10u;
  }
  auto v32 = static_cast<uint32_t>(v);
  do {
    *--p = static_cast<char>('0' + v32 % 10u);
    v32 /= 10u;
  } while (v32 != 0);
  return p;
}

JsonWriter& JsonWriter::write_unsigned(uint64_t v) {
  if (!before_value()) return *this;
  char buf[20];  // 18446744073709551615
  char* end = buf + sizeof(buf);
  char* p = format_decimal(v, end);
  out_.write(p, static_cast<size_t>(end - p));
  return *this;
}

JsonWriter& JsonWriter::write_signed(int64_t v) {
  if (!before_value()) return *this;
  char buf[21];  // -9223372036854775808
  char* end = buf + sizeof(buf);
  // Negate in unsigned arithmetic: -INT64_MIN overflows int64_t.
  uint64_t magnitude = v < 0 ? 0u - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  char* p = format_decimal(magnitude, end);
  if (v < 0) *--p = '-';
  out_.write(p, static_cast<size_t>(end - p));
  return *this;
}

JsonWriter& JsonWriter::value(double d) {
  // NaN fails every comparison; the second test catches +-Inf without <cmath>.
  if (!(d == d) || d - d != 0.0) return null_value();
  if (!before_value()) return *this;
  char buf[32];  // "-1.2345678901234567e-308" is 24 characters
  int n = 0;
  for (int precision = 15; precision <= 17; ++precision) {
    n = std::snprintf(buf, sizeof(buf), "%.*g", precision, d);
    if (precision == 17) break;  // 17 significant digits always round-trip an IEEE double
    double back = 0.0;
    if (std::sscanf(buf, "%lf", &back) == 1 && back == d) break;
  }
  if (n <= 0 || static_cast<size_t>(n) >= sizeof(buf)) {
    // Cannot happen with a conforming snprintf; keep the document valid regardless.
    out_.write("null", 4);
    return *this;
  }
  for (int i = 0; i < n; ++i) {
    // A process that called setlocale() could get "0,5"; JSON only knows '.'.
    if (buf[i] == ',') buf[i] = '.';
  }
  if (n == 2 && buf[0] == '-' && buf[1] == '0') {
    // Many parsers (nlohmann, Python) read "-0" as the integer 0 and lose the sign; "-0.0" is a
    // float everywhere.
    out_.write("-0.0", 4);
    return *this;
  }
  out_.write(buf, static_cast<size_t>(n));
  return *this;
}

// ---- JsonWriter: strings ------------------------------------------------------------------------

namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD in UTF-8
constexpr char kHex[] = "0123456789abcdef";

/// Length of the valid UTF-8 sequence starting at s[i] (lead byte >= 0x80), or 0 if it is invalid.
/// On 0, `*bad_len` is the number of bytes to replace by one U+FFFD: the maximal subpart of an
/// ill-formed sequence (Unicode 15, §3.9, "U+FFFD Substitution of Maximal Subparts"), which is
/// also what browsers' decoders do, so the replacement count matches theirs.
size_t utf8_sequence_length(const unsigned char* s, size_t i, size_t size, size_t* bad_len) {
  unsigned char lead = s[i];
  size_t need;  // continuation bytes
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;  // bounds of the first continuation byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 1;
  } else if (lead == 0xE0) {
    need = 2;
    lo = 0xA0;  // overlong below U+0800
  } else if (lead == 0xED) {
    need = 2;
    hi = 0x9F;  // U+D800..U+DFFF are surrogates, not characters
  } else if (lead >= 0xE1 && lead <= 0xEF) {
    need = 2;
  } else if (lead == 0xF0) {
    need = 3;
    lo = 0x90;  // overlong below U+10000
  } else if (lead >= 0xF1 && lead <= 0xF3) {
    need = 3;
  } else if (lead == 0xF4) {
    need = 3;
    hi = 0x8F;  // above U+10FFFF
  } else {
    // Stray continuation byte, overlong lead C0/C1, or F5..FF.
    *bad_len = 1;
    return 0;
  }
  size_t j = i + 1;
  for (size_t k = 0; k < need; ++k, ++j) {
    if (j >= size || s[j] < lo || s[j] > hi) {
      *bad_len = j - i;
      return 0;
    }
    lo = 0x80;
    hi = 0xBF;
  }
  return need + 1;
}

}  // namespace

void JsonWriter::write_string(std::string_view s) {
  put('"');
  write_string_body(s);
  put('"');
}

void JsonWriter::write_flash_string(FlashStr s) {
  // Copied out of flash in chunks of 32..36 bytes. A chunk ends only where the next byte does not
  // continue a UTF-8 sequence, so write_string_body() judges every sequence whole (a sequence is
  // at most 4 bytes, so only a run of stray continuation bytes can reach the 36th byte, and those
  // are replaced one by one wherever the cut falls): the output is exactly value(string_view)'s.
  put('"');
  write_flash_body(s);
  put('"');
}

void JsonWriter::write_flash_body(FlashStr s) {
  constexpr size_t kChunkBytes = 32;
  char chunk[kChunkBytes + 4];
  size_t n = 0;
  for (size_t i = 0;; ++i) {
    const char c = s.at(i);
    if (c == '\0') break;
    chunk[n++] = c;
    if (n >= kChunkBytes && (n == sizeof chunk || (static_cast<unsigned char>(s.at(i + 1)) & 0xC0) != 0x80)) {
      write_string_body(std::string_view(chunk, n));
      n = 0;
    }
  }
  write_string_body(std::string_view(chunk, n));
}

void JsonWriter::write_string_body(std::string_view s) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(s.data());
  const size_t size = s.size();
  size_t run_start = 0;  // bytes [run_start, i) are safe and not yet written
  size_t i = 0;
  auto flush = [&](size_t upto) {
    if (upto > run_start) out_.write(s.data() + run_start, upto - run_start);
  };
  while (i < size) {
    unsigned char c = bytes[i];
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      size_t bad_len = 0;
      size_t len = utf8_sequence_length(bytes, i, size, &bad_len);
      if (len != 0) {
        i += len;  // valid: stays in the run, passed through unchanged
        continue;
      }
      flush(i);
      out_.write(kReplacement, 3);
      i += bad_len;
      run_start = i;
      continue;
    }
    flush(i);
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    size_t esc_len = 2;
    switch (c) {
      case '"': esc[1] = '"'; break;
      case '\\': esc[1] = '\\'; break;
      case '\b': esc[1] = 'b'; break;
      case '\f': esc[1] = 'f'; break;
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      default:
        // Other C0 controls (JSON requires it) and DEL (harmless in JSON, but it confuses
        // terminals and log viewers the output ends up in).
        esc[1] = 'u';
        esc[2] = '0';
        esc[3] = '0';
        esc[4] = kHex[c >> 4];
        esc[5] = kHex[c & 0x0F];
        esc_len = 6;
        break;
    }
    out_.write(esc, esc_len);
    ++i;
    run_start = i;
  }
  flush(size);
}

}  // namespace spore
