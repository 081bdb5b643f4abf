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

/// Whether an Accept-Encoding value (RFC 9110 §12.5.3: codings separated by ',', each with an
/// optional ";q=" weight) accepts gzip: "gzip" or "x-gzip" with a weight above 0, else "*" with
/// one. No header (empty) accepts nothing but identity: what curl without --compressed expects
/// (the RFC would allow any coding; every browser sends the header). A weight that is not a
/// number counts as 1 (accepting is the safe side: the page is gzip everywhere a browser looks).
inline bool http_accepts_gzip(std::string_view value) {
  int gzip = -1, any = -1;  // -1: not named; 0: refused (q=0); 1: accepted
  while (!value.empty()) {
    const size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    const size_t semi = item.find(';');
    const std::string_view name = trim_ows(item.substr(0, semi));
    int accepted = 1;
    if (semi != std::string_view::npos) {
      std::string_view q = trim_ows(item.substr(semi + 1));
      if (q.size() >= 2 && ascii_lower(q[0]) == 'q' && q[1] == '=') {
        q.remove_prefix(2);
        // q=0, 0., 0.0, 0.00, 0.000: refused; anything else is a weight above zero.
        bool zero = !q.empty() && q[0] == '0';
        for (size_t i = 1; zero && i < q.size(); ++i) zero = (i == 1 && q[i] == '.') || (i > 1 && q[i] == '0');
        accepted = zero ? 0 : 1;
      }
    }
    if (ascii_iequals(name, "gzip") || ascii_iequals(name, "x-gzip")) gzip = gzip == 1 ? 1 : accepted;
    if (name == "*") any = any == 1 ? 1 : accepted;
  }
  return gzip >= 0 ? gzip == 1 : any == 1;
}

}  // namespace spore
