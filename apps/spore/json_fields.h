#pragma once
/// @file json_fields.h
/// Reading one field of a node's JSON answer without trusting its shape: a field that is missing,
/// of another type, or of something that is not an object reads as empty, never throws.

#include <string>

#include <nlohmann/json.hpp>

namespace spore {
namespace cli {

/// `obj[key]` when it is a string, else "".
inline std::string json_string(const nlohmann::ordered_json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

/// `obj[key]` as text when it is a string (as is) or a number (as JSON writes it), else "".
inline std::string json_text(const nlohmann::ordered_json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  if (it == obj.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  return "";
}

/// True only when `obj[key]` is the boolean true.
inline bool json_flag(const nlohmann::ordered_json& obj, const char* key) {
  if (!obj.is_object()) return false;
  auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace cli
}  // namespace spore
