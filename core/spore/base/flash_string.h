#pragma once
/// @file flash_string.h
/// Constant strings kept in flash instead of RAM on the ESP8266.
///
/// Why: the ESP8266 Arduino core's linker script puts every `.rodata` section (string literals,
/// `const` tables) in DRAM, next to the heap. Only sections named `.irom.text.*` (what Arduino's
/// PROGMEM uses) stay in the memory-mapped flash. That flash may only be read with aligned 32-bit
/// loads: a byte or 16-bit load from it raises a LoadStoreError exception and the chip resets.
/// Core may not include Arduino's <pgmspace.h>, so this header provides the same two things:
///
///  - `SPORE_FLASH`, an attribute for a `static const` / `constexpr` array: a flash section on the
///    target (`__XTENSA__`), 4-byte aligned; nothing but the alignment on hosts.
///  - `FlashStr`, a pointer to a NUL-terminated string in such an array, whose readers only ever
///    load aligned 32-bit words on the target. Never pass `FlashStr::address()` to code that reads
///    bytes (strlen, printf "%s", std::string_view, memcpy): copy the string to RAM first
///    (copy_to()) or hand the FlashStr to an API that takes one (JsonWriter::value(FlashStr)).
///
/// @code
///   static constexpr char kWhy[] SPORE_FLASH = "The upload is malformed.";
///   w.field("error", FlashStr(kWhy));
///   w.field("error", SPORE_FSTR("An inline sentence in flash."));   // inside a function only
/// @endcode
///
/// Several strings may share one array, each NUL-terminated ("a\0" "b\0"): flash_nth() finds the
/// n-th, which keeps an error table in one flash object without a table of pointers in RAM.

#include <cstddef>
#include <cstdint>
#include <string_view>

#define SPORE_FLASH_STRINGIZE_(x) #x
#define SPORE_FLASH_STRINGIZE(x) SPORE_FLASH_STRINGIZE_(x)

#if defined(__XTENSA__)
// One section per object, named like Arduino's PROGMEM (".irom.text.<file>.<line>.<counter>"), so
// that --gc-sections can drop each unused one and section flags never conflict. The ESP8266
// linker script maps `.irom.text.*` into flash (.irom0.text).
#define SPORE_FLASH                                                                                   \
  __attribute__((section("\".irom.text.spore." __FILE__ "." SPORE_FLASH_STRINGIZE(__LINE__) "." \
                         SPORE_FLASH_STRINGIZE(__COUNTER__) "\""),                                    \
                 aligned(4)))
#else
#define SPORE_FLASH __attribute__((aligned(4)))
#endif

namespace spore {

namespace flash_detail {

using Word = uint32_t __attribute__((__may_alias__));

/// The byte at `p`, read as part of the aligned 32-bit word that holds it (little-endian, as the
/// lx106 is). The only way flash may be read; works on any readable memory whose enclosing
/// aligned word is readable too.
inline char byte_via_word(const char* p) {
  const uintptr_t address = reinterpret_cast<uintptr_t>(p);
  const uint32_t word = *reinterpret_cast<const volatile Word*>(address & ~uintptr_t{3});
  return static_cast<char>(static_cast<uint8_t>(word >> (8u * (address & 3u))));
}

}  // namespace flash_detail

/// The byte at `p`, which may be in flash. On hosts a plain load: host arrays are not padded to a
/// whole word, so the word read would overrun them (and AddressSanitizer says so).
inline char flash_read_byte(const char* p) {
#if defined(__XTENSA__)
  return flash_detail::byte_via_word(p);
#else
  return *p;
#endif
}

/// A NUL-terminated string that may live in flash (see the file comment). Null is allowed and
/// means "no string". Cheap to copy: one pointer.
class FlashStr {
 public:
  constexpr FlashStr() = default;
  constexpr explicit FlashStr(const char* flash_address) : p_(flash_address) {}

  bool is_null() const { return p_ == nullptr; }
  /// The raw address, for identity only (comparison, storage); never dereference it.
  const char* address() const { return p_; }

  /// Byte `i` (i <= length()).
  char at(size_t i) const { return flash_read_byte(p_ + i); }

  /// Bytes before the NUL; 0 for null.
  size_t length() const {
    size_t n = 0;
    if (p_ != nullptr) {
      while (at(n) != '\0') ++n;
    }
    return n;
  }

  /// Copies the string (as much as fits) into `dst` and NUL-terminates it; returns the bytes
  /// copied, without the NUL. Writes nothing when capacity_bytes is 0; copies "" for null.
  size_t copy_to(char* dst, size_t capacity_bytes) const {
    if (capacity_bytes == 0) return 0;
    size_t n = 0;
    if (p_ != nullptr) {
      for (char c; n + 1 < capacity_bytes && (c = at(n)) != '\0'; ++n) dst[n] = c;
    }
    dst[n] = '\0';
    return n;
  }

  /// True when the string's bytes are exactly `s`; null equals only "".
  bool equals(std::string_view s) const {
    if (p_ == nullptr) return s.empty();
    for (size_t i = 0; i < s.size(); ++i) {
      const char c = at(i);
      if (c == '\0' || c != s[i]) return false;
    }
    return at(s.size()) == '\0';
  }

 private:
  const char* p_{nullptr};
};

/// The `n`-th (from 0) NUL-terminated string of `list`, an array of strings each ending in '\0'
/// with `count` strings in all; null when n >= count.
inline FlashStr flash_nth(const char* list, size_t count, size_t n) {
  if (list == nullptr || n >= count) return FlashStr();
  const char* p = list;
  for (size_t k = 0; k < n; ++k) {
    while (flash_read_byte(p) != '\0') ++p;
    ++p;
  }
  return FlashStr(p);
}

/// Number of strings in a string-list literal of `size_bytes` bytes (its sizeof, which includes
/// the literal's implicit final NUL) whose every string ends in an explicit "\0", as in
/// "first\0" "second\0"; for static_asserts that an error table has one entry per enum value.
constexpr size_t flash_list_count(const char* list, size_t size_bytes) {
  size_t count = 0;
  for (size_t i = 0; i + 1 < size_bytes; ++i) {
    if (list[i] == '\0') ++count;
  }
  return count;
}

}  // namespace spore

/// A string literal placed in flash, as a spore::FlashStr; usable inside functions only (like
/// Arduino's PSTR). Each use is its own flash object.
#define SPORE_FSTR(literal)                                  \
  (__extension__({                                           \
    static const char spore_fstr_[] SPORE_FLASH = (literal); \
    ::spore::FlashStr{spore_fstr_};                          \
  }))
