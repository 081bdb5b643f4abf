#pragma once
/// @file http_text.h
/// The few text helpers HTTP header parsing needs (header names, media types and auth schemes
/// are ASCII case-insensitive; OWS is space or tab, RFC 9110 §5.6.3). Shared by the REST router,
/// the upload handler and the multipart parser.

#include <string_view>

namespace spore {

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

/// ASCII case-insensitive equality; bytes >= 0x80 compare exactly.
inline bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

/// Optional whitespace: space or horizontal tab.
inline bool is_ows(char c) { return c == ' ' || c == '\t'; }

/// `s` without leading and trailing OWS.
inline std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace spore
