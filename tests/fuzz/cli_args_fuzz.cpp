// libFuzzer target for the spore CLI's parsing of what people and nodes hand it
// (apps/spore/cli_logic.h, cli_format.h): node addresses, .env files, tokens, and the JSON bodies of a node's
// answers (error bodies, GET /api/cluster/members, GET /api/node/status).
//
// Input layout: byte 0 selects the function (b % 5), byte 1 is a parameter (default port,
// HTTP status, colour flag, which token sources are given), then the text; fields inside the
// text are separated by NUL where a function takes several strings.
//   0 parse_node_address(text, &error, default_port = 1 + byte1 * 257, large ports included)
//   1 parse_env_value(env text after the first NUL, key = text before it)
//   2 resolve_token(flag, file text, env): three NUL-separated fields, byte 1 bits 0-2 say which
//     are given
//   3 describe_error_response(status = 100 + byte1 * 2, body = text), and terminal_safe(text)
//     (byte 1 bit 0: Newlines::kKeep)
//   4 the text as JSON (parse_node_json, as the CLI reads answers): looks_like_members,
//     format_members_table (colour = byte1 bit 0) and format_status_lines on whatever parsed
//
// Properties checked on every input, abort() on violation:
// - nothing crashes, reads out of bounds, hits undefined behaviour (ASan/UBSan) or lets an
//   exception escape (these functions promise to throw nothing);
// - parse_node_address: a result has a non-empty host without spaces, '/' or control characters
//   and a port 1..65535; to_string() parses back to the same host and port; a failure sets a
//   non-empty error;
// - parse_env_value: a value never spans lines (no '\n');
// - resolve_token: a token is non-empty, has no surrounding whitespace and comes from the first
//   source given (flag, else file's first line, else env) that is not blank; the reported source
//   matches; no token => source kNone;
// - describe_error_response: non-empty, one line for a body without newlines, names the status;
// - terminal-clean output (issue 18, finding 5): terminal_safe(), describe_error_response,
//   format_status_lines and format_members_table (without the CLI's own colour codes) hold no
//   byte a terminal acts on: no C0 control but '\n' (and none at all in one-line texts), no DEL,
//   well-formed UTF-8 only, no C1 control (U+0080..U+009F), no bidi formatting character
//   (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069), no U+2028/U+2029; terminal_safe
//   leaves printable ASCII without a backslash unchanged;
// - parse_node_json: refuses exactly the JSON nlohmann parses to more than kMaxJsonDepth levels
//   (too_deep set, discarded), else gives nlohmann's value;
// - format_status_lines: one line per field, each ending with '\n' (nothing for {});
// - format_members_table: ends with '\n'; for a members body it has one line per member plus
//   the header and the summary line; looks_like_members is
//   consistent with the shape.
//
// Seed corpus: tests/fuzz/corpus/cli_args/.
//
// cli_logic.cpp and cli_format.cpp are host-side code of the CLI (apps/spore), not core: they are compiled in here, as
// the fuzz build has no apps (nlohmann/json is header-only).
#include "../../apps/spore/cli_format.cpp"
#include "../../apps/spore/cli_logic.cpp"
#include "../../apps/spore/terminal_safe.cpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace cli = spore::cli;

void check(bool ok) {
  if (!ok) std::abort();
}

std::vector<std::string> fields(std::string_view text, size_t max) {
  std::vector<std::string> out;
  while (out.size() + 1 < max) {
    const size_t nul = text.find('\0');
    if (nul == std::string_view::npos) break;
    out.emplace_back(text.substr(0, nul));
    text = text.substr(nul + 1);
  }
  out.emplace_back(text);
  while (out.size() < max) out.emplace_back();
  return out;
}

bool blank(std::string_view s) { return cli::trim(s).empty(); }

/// True when `s` holds nothing a terminal acts on (see the properties above).
bool terminal_clean(std::string_view s, bool newlines_allowed) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if ((b < 0x20 && !(b == '\n' && newlines_allowed)) || b == 0x7F) return false;
      ++i;
      continue;
    }
    // Decoded here on its own (not with terminal_safe.cpp's decoder), per RFC 3629's table.
    const size_t n = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 0;
    if (n == 0 || b > 0xF4 || i + n > s.size()) return false;
    uint32_t cp = b & (0x7Fu >> n);
    for (size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    const uint32_t min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    if (cp <= 0x9F || cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
        (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029) {
      return false;
    }
    i += n;
  }
  return true;
}

/// `text` without the CLI's own colour codes (status_color() and the reset).
std::string without_own_colours(std::string text) {
  for (const char* own : {"\033[32m", "\033[33m", "\033[31m", "\033[0m"}) {
    for (size_t at; (at = text.find(own)) != std::string::npos;) text.erase(at, std::string(own).size());
  }
  return text;
}

void fuzz_address(uint8_t param, std::string_view text) {
  const auto default_port = static_cast<uint16_t>(1u + param * 257u % 65535u);  // callers pass a real port
  std::string error;
  const std::optional<cli::NodeAddress> a = cli::parse_node_address(text, &error, default_port);
  if (!a) {
    check(!error.empty());
    return;
  }
  check(!a->host.empty() && a->port >= 1);
  // No control character (DEL included) and no '/' in a host (fixed finding, see
  // tests/posix/cli_args_regression_test.cpp); brackets only as the IPv6 form, so it parses back.
  for (char c : a->host) check(static_cast<unsigned char>(c) > 0x20 && c != 0x7F && c != '/');
  const std::string again_text = a->to_string();
  (void)a->base_url();
  std::string again_error;
  const std::optional<cli::NodeAddress> again = cli::parse_node_address(again_text, &again_error, default_port);
  check(again && again->host == a->host && again->port == a->port && again->port_given);
}

void fuzz_env(std::string_view text) {
  const std::vector<std::string> f = fields(text, 2);
  const std::optional<std::string> v = cli::parse_env_value(f[1], f[0]);
  if (v) check(v->find('\n') == std::string::npos);
}

void fuzz_token(uint8_t param, std::string_view text) {
  const std::vector<std::string> f = fields(text, 3);
  std::optional<std::string> flag, file;
  if (param & 1u) flag = f[0];
  if (param & 2u) file = f[1];
  const char* env = (param & 4u) != 0 ? f[2].c_str() : nullptr;
  cli::TokenSource source = cli::TokenSource::kFlag;
  const std::optional<std::string> t = cli::resolve_token(flag, file, env, &source);
  const std::string file_first = file ? std::string(std::string_view(*file).substr(0, file->find('\n'))) : "";
  if (flag && !blank(*flag)) {
    check(t && source == cli::TokenSource::kFlag && *t == cli::trim(*flag));
  } else if (file && !blank(file_first)) {
    check(t && source == cli::TokenSource::kFile && *t == cli::trim(file_first));
  } else if (env != nullptr && !blank(env)) {
    check(t && source == cli::TokenSource::kEnv);
  } else {
    check(!t && source == cli::TokenSource::kNone);
  }
  if (t) check(!t->empty() && !cli::is_space(t->front()) && !cli::is_space(t->back()));
}

void fuzz_error(uint8_t param, std::string_view body) {
  const int status = 100 + 2 * param;
  const std::string d = cli::describe_error_response(status, body);
  check(!d.empty() && d.find(std::to_string(status)) != std::string::npos);
  for (char c : d) check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7F);  // one terminal line, always
  check(terminal_clean(d, false));
  const bool keep = (param & 1u) != 0;
  const std::string safe = cli::terminal_safe(body, keep ? cli::Newlines::kKeep : cli::Newlines::kEscape);
  check(terminal_clean(safe, keep));
  const bool plain = std::all_of(body.begin(), body.end(), [keep](char c) {
    return (c >= 0x20 && c <= 0x7E && c != '\\') || (keep && c == '\n');
  });
  if (plain) check(safe == body);
}

/// Nesting depth of a parsed value, walked without recursion.
size_t depth_of(const nlohmann::ordered_json& root) {
  size_t deepest = 0;
  std::vector<std::pair<const nlohmann::ordered_json*, size_t>> todo{{&root, 0}};
  while (!todo.empty()) {
    const auto [v, d] = todo.back();
    todo.pop_back();
    if (!v->is_structured()) continue;
    deepest = std::max(deepest, d + 1);
    for (const auto& child : *v) todo.emplace_back(&child, d + 1);
  }
  return deepest;
}

void fuzz_json(uint8_t param, std::string_view text) {
  // As the CLI reads a node's answers: nesting limited (issue 18 attack, finding D).
  bool too_deep = false;
  const nlohmann::ordered_json body = cli::parse_node_json(text, &too_deep);
  const nlohmann::ordered_json plain = nlohmann::ordered_json::parse(text.begin(), text.end(), nullptr, false);
  if (!plain.is_discarded()) {
    // The pre-scan counts exactly the parsed depth; within the limit the value is nlohmann's.
    check(too_deep == (depth_of(plain) > cli::kMaxJsonDepth));
    if (!too_deep) check(body == plain);
  }
  check(!too_deep || body.is_discarded());
  if (body.is_discarded()) return;
  check(depth_of(body) <= cli::kMaxJsonDepth);
  const bool members = cli::looks_like_members(body);
  check(members == (body.is_object() && body.contains("members") && body["members"].is_array()));
  const std::string status_lines = cli::format_status_lines(body);
  check(terminal_clean(status_lines, true));
  check(status_lines.empty() ? body.is_object() && body.empty() : status_lines.back() == '\n');  // {} has no lines
  const std::string table = cli::format_members_table(body, (param & 1u) != 0);
  check(!table.empty() && table.back() == '\n');
  check(terminal_clean(without_own_colours(table), true));
  if (members) {
    // Every member is one line, whatever its fields hold (a '\n' in a hostname is shown as \n).
    size_t lines = 0;
    for (char c : table) lines += c == '\n' ? 1 : 0;
    check(lines == body["members"].size() + 2);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2 || size > 16384) return 0;
  const uint8_t which = data[0] % 5;
  const uint8_t param = data[1];
  const std::string_view text(reinterpret_cast<const char*>(data) + 2, size - 2);
  try {
    switch (which) {
      case 0: fuzz_address(param, text); break;
      case 1: fuzz_env(text); break;
      case 2: fuzz_token(param, text); break;
      case 3: fuzz_error(param, text); break;
      default: fuzz_json(param, text); break;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "exception escaped: %s\n", e.what());
    std::abort();
  }
  return 0;
}
