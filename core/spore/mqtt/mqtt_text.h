#pragma once
/// @file mqtt_text.h
/// Text helpers the MQTT bridge's files share (mqtt_bridge.cpp, mqtt_commands.cpp, mqtt_discovery.cpp).
/// Slicing with the pointer constructors instead of substr() keeps libstdc++'s out_of_range
/// paths (message strings and calls) out of the ESP8266 image.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "spore/base/json_writer.h"

namespace spore::mqtt_text {

/// `s` starts with `prefix`.
inline bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && std::memcmp(s.data(), prefix.data(), prefix.size()) == 0;
}

/// The part of `s` after byte `at` (empty when `at` is past the end).
inline std::string_view after(std::string_view s, size_t at) {
  return at < s.size() ? std::string_view(s.data() + at + 1, s.size() - at - 1) : std::string_view();
}

/// Names shown in Home Assistant (hostname, firmware, model) are reduced to printable ASCII
/// without '"' and '\', so they are never escaped and the largest document has a fixed bound.
inline size_t copy_display(std::string_view s, char* out, size_t out_size) {
  size_t n = 0;
  for (char c : s) {
    if (n + 1 >= out_size) break;
    const auto b = static_cast<uint8_t>(c);
    out[n++] = (b < 0x20 || b > 0x7E || c == '"' || c == '\\') ? '_' : c;
  }
  out[n] = '\0';
  return n;
}

/// `v` in decimal, NUL-terminated; `out` holds at least 11 bytes. Returns the digits written
/// (the digits are format_decimal()'s, json_writer.h).
inline size_t dec(uint32_t v, char* out) {
  char digits[10];
  const char* first = format_decimal(v, digits + sizeof digits);
  const size_t n = static_cast<size_t>(digits + sizeof digits - first);
  std::memcpy(out, first, n);
  out[n] = '\0';
  return n;
}

/// Appends `s` to `out` at `*len` (NUL-terminated); false when it does not fit.
inline bool append(char* out, size_t out_size, size_t* len, std::string_view s) {
  if (*len + s.size() + 1 > out_size) return false;
  std::memcpy(out + *len, s.data(), s.size());
  *len += s.size();
  out[*len] = '\0';
  return true;
}

}  // namespace spore::mqtt_text
