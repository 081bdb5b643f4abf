#include "terminal_safe.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>

namespace spore {
namespace cli {

namespace {

/// Length of the well-formed UTF-8 sequence of 2..4 bytes at the start of `s`, with its code point;
/// 0 when there is none (overlong forms, surrogates and code points above U+10FFFF included).
size_t utf8_sequence(std::string_view s, uint32_t* code_point) {
  const auto b0 = static_cast<unsigned char>(s[0]);
  size_t n = 0;
  uint32_t cp = 0, min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2, cp = b0 & 0x1Fu, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3, cp = b0 & 0x0Fu, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4, cp = b0 & 0x07u, min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  *code_point = cp;
  return n;
}

/// Code points above U+007F a terminal must not get raw: C1 controls (xterm and others act on
/// them in UTF-8 mode when configured to), bidi embeddings/overrides/isolates and marks (they
/// reorder the rest of the line: "Trojan Source", CVE-2021-42574), line/paragraph separators.
bool is_unsafe_code_point(uint32_t cp) {
  return cp < 0xA0 || cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029;
}

void append_hex_byte(std::string& out, unsigned char b) {
  char hex[8];
  std::snprintf(hex, sizeof hex, "\\x%02X", b);
  out += hex;
}

}  // namespace

std::string terminal_safe(std::string_view text, Newlines newlines) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const auto b = static_cast<unsigned char>(c);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += newlines == Newlines::kKeep ? "\n" : "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (b >= 0x20 && b <= 0x7E) {
      out.push_back(c);
    } else if (b < 0x80) {
      append_hex_byte(out, b);  // the other C0 controls and DEL
    } else {
      uint32_t cp = 0;
      const size_t n = utf8_sequence(text.substr(i), &cp);
      if (n == 0) {
        append_hex_byte(out, b);
      } else if (is_unsafe_code_point(cp)) {
        char esc[12];
        std::snprintf(esc, sizeof esc, "\\u%04X", static_cast<unsigned>(cp));
        out += esc;
        i += n - 1;
      } else {
        out.append(text.data() + i, n);
        i += n - 1;
      }
    }
  }
  return out;
}

std::string json_for_terminal(const nlohmann::ordered_json& document, int indent) {
  // ensure_ascii escapes every code point >= 0x7F and the serializer every one < 0x20
  // (nlohmann/json 3.11 serializer.hpp, dump_escaped); `replace` turns invalid UTF-8 into U+FFFD.
  return document.dump(indent, ' ', true, nlohmann::ordered_json::error_handler_t::replace);
}

size_t json_nesting_depth(std::string_view text, size_t stop_above) {
  size_t depth = 0;
  size_t deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size() && deepest <= stop_above; ++i) {
    const char c = text[i];
    if (c == '\0') break;  // nlohmann's lexer ends the input here (nlohmann/detail/input/lexer.hpp:1586)
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, '"' included, does not end the string
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

nlohmann::ordered_json parse_node_json(std::string_view text, bool* too_deep) {
  // Counted before parsing: nlohmann's parser keeps its own stack, but dump() and every walk of
  // the value recurse once per level.
  const bool deep = json_nesting_depth(text) > kMaxJsonDepth;
  if (too_deep != nullptr) *too_deep = deep;
  if (deep) return nlohmann::ordered_json(nlohmann::ordered_json::value_t::discarded);
  return nlohmann::ordered_json::parse(text.begin(), text.end(), nullptr, false);
}

}  // namespace cli
}  // namespace spore
