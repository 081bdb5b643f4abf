#pragma once
/// @file terminal_safe.h
/// The one place where text a node sent (JSON keys and values, SSE fields, error sentences, HTTP
/// reason phrases, Content-Types, announced hostnames) is made safe to print on a terminal.
/// Every print site of the CLI that shows such text passes it through terminal_safe() first
/// (issue 18, finding 5: `ESC]0;...BEL`, `ESC[2J` or `\r` in a hostname retitled, cleared or
/// overwrote the user's terminal). Host-side code, standard library and nlohmann_json only, so
/// the fuzz build compiles it too. Unit tests: tests/posix/terminal_safe_test.cpp.

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace spore {
namespace cli {

/// Whether a '\n' in the text is kept (multi-line messages the CLI composed itself) or escaped
/// (anything that must stay on one line: a table cell, a status value, a node's sentence).
enum class Newlines { kEscape, kKeep };

/// `text` with nothing a terminal acts on:
/// - printable ASCII (0x20..0x7E) and well-formed UTF-8 of U+00A0 and above pass unchanged;
/// - a backslash becomes `\\`, so every escape below is unambiguous;
/// - C0 controls and DEL become `\n`, `\r`, `\t` or `\xNN` (ESC is `\x1B`, BEL `\x07`,
///   backspace `\x08`); '\n' is kept instead with Newlines::kKeep;
/// - C1 controls written as UTF-8 (U+0080..U+009F, e.g. CSI U+009B) become `\u0080`..`\u009F`;
/// - bidirectional formatting characters (U+061C, U+200E, U+200F, U+202A..U+202E,
///   U+2066..U+2069) and the line / paragraph separators U+2028, U+2029 become `\uXXXX`, so text
///   cannot reorder or break the line it is printed in;
/// - every byte that is not part of well-formed UTF-8 (stray continuation bytes, raw 0x80..0xFF,
///   overlong forms, surrogates, code points above U+10FFFF, truncated sequences) becomes `\xNN`.
/// The result is well-formed UTF-8 and holds no byte below 0x20 (except '\n' with kKeep) and no
/// 0x7F. Throws nothing but std::bad_alloc.
std::string terminal_safe(std::string_view text, Newlines newlines = Newlines::kEscape);

/// A JSON document as `--json` prints it: compact (indent < 0) or indented, every character
/// outside printable ASCII as a `\uXXXX` escape (ESC as \u001b, DEL as \u007f, C1 and bidi
/// controls too), invalid UTF-8 in strings replaced by U+FFFD instead of throwing. The output is
/// valid JSON with the same values and key order, and pure printable ASCII plus the newlines and
/// spaces of indentation.
std::string json_for_terminal(const nlohmann::ordered_json& document, int indent = -1);

#ifndef SPORE_CLI_MAX_JSON_DEPTH
/// Deepest nesting of arrays and objects the CLI accepts in a node's JSON. Node answers nest 3 or
/// 4 levels; nlohmann's dump() and the table code recurse once per level, so 60,000 levels (a
/// 120 KB answer) overflowed the stack (issue 18 attack, finding D).
#define SPORE_CLI_MAX_JSON_DEPTH 64
#endif
constexpr size_t kMaxJsonDepth = SPORE_CLI_MAX_JSON_DEPTH;

/// How deeply `text` nests arrays and objects, counting brackets outside JSON strings and stopping
/// early once past `stop_above` (so it returns at most stop_above + 1). Equals the real nesting
/// depth for valid JSON; for invalid JSON it is some number the parser will refuse anyway.
size_t json_nesting_depth(std::string_view text, size_t stop_above = kMaxJsonDepth);

/// `text` parsed as JSON the way the CLI reads every answer, event and error body from a node: a
/// discarded value (is_discarded()) when it is not JSON or nests deeper than kMaxJsonDepth, which
/// also sets `*too_deep` (when given) so the caller can say so. Never throws but std::bad_alloc.
nlohmann::ordered_json parse_node_json(std::string_view text, bool* too_deep = nullptr);

}  // namespace cli
}  // namespace spore
