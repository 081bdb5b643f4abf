#pragma once
/// @file mqtt_text.h
/// String-view helpers the MQTT bridge's files share (mqtt_bridge.cpp, mqtt_commands.cpp).
/// Slicing with the pointer constructors instead of substr() keeps libstdc++'s out_of_range
/// paths (message strings and calls) out of the ESP8266 image.

#include <cstddef>
#include <cstring>
#include <string_view>

namespace spore::mqtt_text {

/// `s` starts with `prefix`.
inline bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && std::memcmp(s.data(), prefix.data(), prefix.size()) == 0;
}

/// The part of `s` after byte `at` (empty when `at` is past the end).
inline std::string_view after(std::string_view s, size_t at) {
  return at < s.size() ? std::string_view(s.data() + at + 1, s.size() - at - 1) : std::string_view();
}

}  // namespace spore::mqtt_text
