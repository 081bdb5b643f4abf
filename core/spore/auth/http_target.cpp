#include "spore/auth/http_target.h"

#include "spore/base/hex.h"

namespace spore {

namespace {

bool is_unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

/// The byte a %XX escape at `p` (which points at the '%') stands for, or -1 when two hex digits do
/// not follow before `end`.
int escape_value(const char* p, const char* end) {
  if (end - p < 3) return -1;
  const int hi = hex_digit_value(p[1]);
  const int lo = hex_digit_value(p[2]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/// The byte at `*p` with a %XX escape decoded; advances `*p` past what it read. A '%' without two
/// hex digits after it is itself.
char decode_one(const char** p, const char* end) {
  const char* q = *p;
  const int v = *q == '%' ? escape_value(q, end) : -1;
  *p = q + (v >= 0 ? 3 : 1);
  return v >= 0 ? static_cast<char>(v) : *q;
}

/// Decodes [p, end) and writes it re-encoded; '/' stays literal when `keep_slash`.
size_t emit_component(const char* p, const char* end, bool keep_slash, CanonicalSink& sink) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  size_t n = 0;
  while (p != end) {
    const char c = decode_one(&p, end);
    if (is_unreserved(c) || (keep_slash && c == '/')) {
      sink.append(&c, 1);
      n += 1;
    } else {
      const auto b = static_cast<unsigned char>(c);
      const char escape[3] = {'%', kHex[b >> 4], kHex[b & 15]};
      sink.append(escape, 3);
      n += 3;
    }
  }
  return n;
}

/// Offset of the first '#' in `target` (where a fragment starts), or its size when there is none.
size_t fragment_start(std::string_view target) {
  size_t n = 0;
  while (n < target.size() && target[n] != '#') ++n;
  return n;
}

}  // namespace

namespace {

/// The value of field `name` in the '&'-separated pairs [p, end), decoded into `out`; see
/// http_query_param() and http_form_field() for the results.
int find_field(const char* p, const char* end, std::string_view name, bool plus_is_space, char* out,
               size_t capacity_bytes) {
  while (p != end) {
    const char* pair_end = p;
    while (pair_end != end && *pair_end != '&') ++pair_end;
    const char* eq = p;
    while (eq != pair_end && *eq != '=') ++eq;
    if (std::string_view(p, static_cast<size_t>(eq - p)) != name) {
      p = pair_end == end ? end : pair_end + 1;
      continue;
    }
    size_t len = 0;
    for (const char* v = eq == pair_end ? pair_end : eq + 1; v != pair_end; ++v) {
      char c = *v;
      if (c == '\0') return -2;  // raw or decoded, a NUL is never part of a value
      if (c == '%') {
        const int e = escape_value(v, pair_end);
        if (e <= 0) return -2;  // malformed, or a decoded NUL
        c = static_cast<char>(e);
        v += 2;
      } else if (c == '+' && plus_is_space) {
        c = ' ';
      }
      if (len >= capacity_bytes) return -2;
      out[len++] = c;
    }
    return static_cast<int>(len);
  }
  return -1;
}

}  // namespace

int http_query_param(std::string_view target, std::string_view name, char* out, size_t capacity_bytes) {
  // Pointer scans rather than string_view::find()/substr(): substr's range check drags libstdc++'s
  // exception message into the ESP8266's DRAM.
  const char* p = target.data();
  // The fragment goes first, as in canonical_target(): a '?' inside it ("/p#?a=1") starts no query
  // (a proof for "/p" must not vouch for parameters read from behind the '#').
  const char* end = p + fragment_start(target);
  while (p != end && *p != '?') ++p;
  if (p == end) return -1;
  ++p;
  return find_field(p, end, name, false, out, capacity_bytes);
}

bool http_target_has_fragment(std::string_view target) { return fragment_start(target) != target.size(); }

int http_form_field(std::string_view form, std::string_view name, char* out, size_t capacity_bytes) {
  return find_field(form.data(), form.data() + form.size(), name, true, out, capacity_bytes);
}

size_t canonical_target(std::string_view target, CanonicalSink& sink) {
  const char* p = target.data();
  const char* end = p + fragment_start(target);
  const char* path_end = p;
  while (path_end != end && *path_end != '?') ++path_end;
  size_t n = emit_component(p, path_end, true, sink);
  if (path_end == end || path_end + 1 == end) return n;  // no query, or an empty one
  sink.append("?", 1);
  ++n;
  p = path_end + 1;
  while (true) {
    const char* pair_end = p;
    while (pair_end != end && *pair_end != '&') ++pair_end;
    const char* eq = p;
    while (eq != pair_end && *eq != '=') ++eq;
    n += emit_component(p, eq, false, sink);
    if (eq != pair_end) {
      sink.append("=", 1);
      n += 1 + emit_component(eq + 1, pair_end, false, sink);
    }
    if (pair_end == end) break;
    sink.append("&", 1);
    ++n;
    p = pair_end + 1;
  }
  return n;
}

}  // namespace spore
