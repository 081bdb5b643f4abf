#include "cli_logic.h"

#include "terminal_safe.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <sstream>

#include "spore/base/incarnation.h"
#include "spore/cluster/member_table.h"

namespace spore {
namespace cli {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool set_error(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
  return false;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// Display width of a UTF-8 string: counts code points, which is right for the ASCII and Latin text
// a hostname or status holds (wide CJK characters would be off, and are not valid hostnames).
size_t display_width(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

// `s` cut to at most kMaxCellColumns columns, the last one an ellipsis when it was longer: one
// 1 MB cell padded every row of a table to 1 MB (issue 18 attack, finding C).
std::string clip_cell(std::string_view s) {
  if (display_width(s) <= kMaxCellColumns) return std::string(s);
  size_t columns = 0;
  size_t end = 0;
  for (; end < s.size(); ++end) {
    if ((static_cast<unsigned char>(s[end]) & 0xC0) != 0x80 && ++columns == kMaxCellColumns) break;
  }
  return std::string(s.substr(0, end)) + "\u2026";  // U+2026 HORIZONTAL ELLIPSIS, one column
}

std::string pad_right(std::string_view s, size_t width) {
  std::string out(s);
  size_t w = display_width(s);
  if (w < width) out.append(width - w, ' ');
  return out;
}

std::string pad_left(std::string_view s, size_t width) {
  std::string out;
  size_t w = display_width(s);
  if (w < width) out.append(width - w, ' ');
  out.append(s);
  return out;
}

using Json = nlohmann::ordered_json;

// Text of a JSON value for a table cell: strings unquoted and terminal-safe, numbers as written,
// others "-".
std::string cell(const Json& obj, const char* key) {
  if (!obj.is_object()) return "-";
  auto it = obj.find(key);
  if (it == obj.end()) return "-";
  if (it->is_string()) {
    std::string s = terminal_safe(it->get_ref<const std::string&>());
    return s.empty() ? "-" : s;
  }
  if (it->is_number() || it->is_boolean()) return it->dump();
  return "-";
}

std::optional<int64_t> number(const Json& obj, const char* key) {
  if (!obj.is_object()) return std::nullopt;
  auto it = obj.find(key);
  if (it == obj.end()) return std::nullopt;
  if (it->is_number_unsigned()) {
    const uint64_t u = it->get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_number_float()) {
    const double d = it->get<double>();
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return std::nullopt;
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

bool flag(const Json& obj, const char* key) {
  if (!obj.is_object()) return false;
  auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() && it->get<bool>();
}

// A JSON value as one terminal-safe line: strings unquoted, structures as compact JSON.
std::string scalar_text(const Json& v) {
  if (v.is_string()) return terminal_safe(v.get_ref<const std::string&>());
  if (v.is_null()) return "-";
  return json_for_terminal(v);
}

std::string render_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows,
                         const std::vector<bool>& right_align, const std::vector<std::string>& row_colors,
                         size_t color_column) {
  std::vector<size_t> widths(headers.size(), 0);
  for (size_t c = 0; c < headers.size(); ++c) widths[c] = display_width(headers[c]);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      widths[c] = std::max(widths[c], std::min(display_width(row[c]), kMaxCellColumns));
    }
  }
  std::string out;
  auto emit = [&](const std::vector<std::string>& row, const std::string* color) {
    std::string line;
    for (size_t c = 0; c < headers.size(); ++c) {
      const std::string text = c < row.size() ? clip_cell(row[c]) : std::string();
      const bool last = c + 1 == headers.size();
      std::string padded = right_align[c] ? pad_left(text, widths[c]) : (last ? text : pad_right(text, widths[c]));
      if (color != nullptr && c == color_column && !color->empty()) {
        // Colour only the text, then pad, so the columns line up with or without colour.
        std::string plain = text;
        std::string rest = padded.substr(plain.size());
        padded = *color + plain + "\033[0m" + rest;
      }
      line += padded;
      if (!last) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  };
  emit(headers, nullptr);
  for (size_t r = 0; r < rows.size(); ++r) emit(rows[r], r < row_colors.size() ? &row_colors[r] : nullptr);
  return out;
}

}  // namespace

bool natural_less(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const bool da = a[i] >= '0' && a[i] <= '9', db = b[j] >= '0' && b[j] <= '9';
    if (da && db) {
      size_t ei = i, ej = j;
      while (ei < a.size() && a[ei] >= '0' && a[ei] <= '9') ++ei;
      while (ej < b.size() && b[ej] >= '0' && b[ej] <= '9') ++ej;
      // Compare digit runs by value: strip leading zeros, then length, then text.
      size_t zi = i, zj = j;
      while (zi + 1 < ei && a[zi] == '0') ++zi;
      while (zj + 1 < ej && b[zj] == '0') ++zj;
      if (ei - zi != ej - zj) return ei - zi < ej - zj;
      const int c = a.substr(zi, ei - zi).compare(b.substr(zj, ej - zj));
      if (c != 0) return c < 0;
      i = ei;
      j = ej;
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j];
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j;
}

std::string NodeAddress::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string NodeAddress::base_url() const { return "http://" + to_string(); }

std::optional<NodeAddress> parse_node_address(std::string_view text, std::string* error, uint16_t default_port) {
  std::string trimmed = trim(text);
  std::string_view s = trimmed;
  if (s.empty()) {
    set_error(error, "empty node address");
    return std::nullopt;
  }
  if (starts_with(s, "https://")) {
    set_error(error, "'" + trimmed + "': nodes serve plain HTTP, use http:// or just HOST[:PORT]");
    return std::nullopt;
  }
  if (starts_with(s, "http://")) s.remove_prefix(7);
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  if (s.empty()) {
    set_error(error, "'" + trimmed + "': no host");
    return std::nullopt;
  }
  if (s.find('/') != std::string_view::npos) {
    set_error(error, "'" + trimmed + "': expected HOST[:PORT], not a URL with a path");
    return std::nullopt;
  }
  if (std::any_of(s.begin(), s.end(), [](char c) { return is_space(c) || static_cast<unsigned char>(c) < 0x21 || c == 0x7F; })) {
    set_error(error, "'" + trimmed + "': spaces in the node address");
    return std::nullopt;
  }
  NodeAddress out;
  out.port = default_port;
  std::string_view host = s;
  std::string_view port;
  bool has_port = false;
  if (s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) {
      set_error(error, "'" + trimmed + "': missing ']' after the IPv6 address");
      return std::nullopt;
    }
    host = s.substr(1, close - 1);
    std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        set_error(error, "'" + trimmed + "': expected ':PORT' after ']'");
        return std::nullopt;
      }
      port = rest.substr(1);
      has_port = true;
    }
  } else {
    size_t colon = s.find(':');
    if (colon != std::string_view::npos) {
      if (s.find(':', colon + 1) != std::string_view::npos) {
        // A bare IPv6 address: no port possible without brackets.
        host = s;
      } else {
        host = s.substr(0, colon);
        port = s.substr(colon + 1);
        has_port = true;
      }
    }
  }
  if (host.empty()) {
    set_error(error, "'" + trimmed + "': no host");
    return std::nullopt;
  }
  if (host.find_first_of("[]") != std::string_view::npos) {
    set_error(error, "'" + trimmed + "': '[' and ']' only enclose an IPv6 address, as in [fe80::1]:8080");
    return std::nullopt;
  }
  if (has_port) {
    if (!all_digits(port) || port.size() > 5 || std::stoul(std::string(port)) == 0 ||
        std::stoul(std::string(port)) > 65535) {
      set_error(error, "'" + trimmed + "': port must be a number 1..65535");
      return std::nullopt;
    }
    out.port = static_cast<uint16_t>(std::stoul(std::string(port)));
  }
  out.host = std::string(host);
  return out;
}

std::optional<std::string> parse_env_value(std::string_view env_text, std::string_view key) {
  std::optional<std::string> found;
  size_t pos = 0;
  while (pos <= env_text.size()) {
    size_t eol = env_text.find('\n', pos);
    if (eol == std::string_view::npos) eol = env_text.size();
    std::string_view line = env_text.substr(pos, eol - pos);
    pos = eol + 1;
    while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
    while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (starts_with(line, "export") && line.size() > 6 && (line[6] == ' ' || line[6] == '\t')) {
      line.remove_prefix(6);
      while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view name = line.substr(0, eq);
    while (!name.empty() && is_space(name.back())) name.remove_suffix(1);
    if (name != key) continue;
    std::string_view value = line.substr(eq + 1);
    while (!value.empty() && is_space(value.front())) value.remove_prefix(1);
    std::string result;
    if (!value.empty() && (value.front() == '"' || value.front() == '\'')) {
      const char quote = value.front();
      size_t close = value.find(quote, 1);
      // An unterminated quote takes the rest of the line, as a forgiving reader would.
      result = std::string(value.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
    } else {
      size_t comment = std::string_view::npos;
      for (size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '#' && (i == 0 || is_space(value[i - 1]))) {
          comment = i;
          break;
        }
      }
      result = trim(value.substr(0, comment));
    }
    found = result;
    if (eol == env_text.size()) break;
  }
  return found;
}

const char* address_source_name(AddressSource source) {
  switch (source) {
    case AddressSource::kFlag:
      return "--node";
    case AddressSource::kSporeNodeEnv:
      return "$SPORE_NODE";
    case AddressSource::kApiNodeEnv:
      return "$API_NODE";
    case AddressSource::kDotEnv:
      return "API_NODE in ./.env";
    case AddressSource::kNone:
      break;
  }
  return "nothing";
}

ResolvedAddress resolve_node_address(const std::optional<std::string>& flag_value, const char* spore_node_env,
                                     const char* api_node_env, const std::optional<std::string>& dotenv_text) {
  ResolvedAddress out;
  std::optional<std::string> text;
  if (flag_value && !trim(*flag_value).empty()) {
    text = *flag_value;
    out.source = AddressSource::kFlag;
  } else if (spore_node_env != nullptr && !trim(spore_node_env).empty()) {
    text = spore_node_env;
    out.source = AddressSource::kSporeNodeEnv;
  } else if (api_node_env != nullptr && !trim(api_node_env).empty()) {
    text = api_node_env;
    out.source = AddressSource::kApiNodeEnv;
  } else if (dotenv_text) {
    std::optional<std::string> v = parse_env_value(*dotenv_text, "API_NODE");
    if (v && !trim(*v).empty()) {
      text = *v;
      out.source = AddressSource::kDotEnv;
    }
  }
  if (!text) {
    out.error =
        "no node given: use --node HOST[:PORT], or set SPORE_NODE or API_NODE, or put "
        "'export API_NODE=HOST' in ./.env (or find nodes with 'spore discover')";
    return out;
  }
  std::string why;
  out.address = parse_node_address(*text, &why);
  if (!out.address) out.error = std::string("bad node address from ") + address_source_name(out.source) + ": " + why;
  return out;
}

std::optional<std::string> dotenv_trust_problem(const std::string& path, uint32_t owner_uid,
                                                const std::string& owner_name, uint32_t mode, uint32_t euid) {
  constexpr uint32_t kGroupWrite = 0020, kOtherWrite = 0002;  // S_IWGRP, S_IWOTH
  const bool foreign = owner_uid != euid;
  const bool shared = (mode & (kGroupWrite | kOtherWrite)) != 0;
  if (!foreign && !shared) return std::nullopt;
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode & 07777));
  const std::string shown = terminal_safe(path);
  const std::string owner = (owner_name.empty() ? std::string() : terminal_safe(owner_name) + " ") + "(uid " +
                            std::to_string(owner_uid) + ")";
  std::string out = "not taking API_NODE from " + shown + ": it is owned by " + owner + ", mode " + octal + ", ";
  out += foreign ? "not by you (uid " + std::to_string(euid) + ")" : "writable by group or others";
  out += "; whoever can write it chooses the node your requests and API token go to.\n  If the file is yours: ";
  if (foreign) out += "chown " + std::to_string(euid) + " '" + shown + "'; ";
  out += "chmod go-w '" + shown + "'. Else give the node with --node HOST[:PORT] or SPORE_NODE.";
  return out;
}

std::optional<std::string> resolve_token(const std::optional<std::string>& flag_value,
                                         const std::optional<std::string>& file_text, const char* env,
                                         TokenSource* source) {
  auto set_source = [&](TokenSource s) {
    if (source != nullptr) *source = s;
  };
  if (flag_value && !trim(*flag_value).empty()) {
    set_source(TokenSource::kFlag);
    return trim(*flag_value);
  }
  if (file_text) {
    std::string_view t = *file_text;
    size_t eol = t.find('\n');
    std::string first = trim(t.substr(0, eol));
    if (!first.empty()) {
      set_source(TokenSource::kFile);
      return first;
    }
  }
  if (env != nullptr && !trim(env).empty()) {
    set_source(TokenSource::kEnv);
    return trim(env);
  }
  set_source(TokenSource::kNone);
  return std::nullopt;
}

std::string trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return std::string(text);
}

std::string format_ago(int64_t ms) {
  if (ms < 0) return "-";
  if (ms < 1000) return "now";
  const int64_t s = ms / 1000;
  if (s < 120) return std::to_string(s) + " s ago";
  if (s < 2 * 3600) return std::to_string(s / 60) + " min ago";
  if (s < 2 * 86400) return std::to_string(s / 3600) + " h ago";
  return std::to_string(s / 86400) + " d ago";
}

std::string format_bytes(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes) / 1024.0;
  size_t unit = 0;
  while (v >= 1024.0 && unit + 1 < sizeof(kUnits) / sizeof(kUnits[0])) {
    v /= 1024.0;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f %s", v, kUnits[unit]);
  return buf;
}

const char* status_color(std::string_view status) {
  if (status == "ACTIVE") return "\033[32m";
  if (status == "INACTIVE") return "\033[33m";
  if (status == "DEAD") return "\033[31m";
  return "";
}

bool looks_like_members(const nlohmann::ordered_json& body) {
  return body.is_object() && body.contains("members") && body["members"].is_array();
}

std::string format_members_table(const nlohmann::ordered_json& body, bool color) {
  if (!looks_like_members(body)) return "(not a members list: expected {\"members\": [...]})\n";
  const Json& members = body["members"];
  std::vector<std::string> headers = {"HOSTNAME", "IP", "STATUS", "LAST SEEN", "LATENCY", "FREE HEAP", "INC", "APIS"};
  std::vector<bool> right = {false, false, false, false, true, true, true, true};
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> colors;
  size_t counts[4] = {0, 0, 0, 0};  // ACTIVE, INACTIVE, DEAD, other
  bool any_self = false;
  // The answering node first (as the node lists it), then the others by hostname, numbers in
  // names compared as numbers (demo-2 before demo-10), so a refreshed table does not reshuffle.
  std::vector<const Json*> ordered;
  for (const Json& m : members) ordered.push_back(&m);
  std::stable_sort(ordered.begin(), ordered.end(), [](const Json* a, const Json* b) {
    const bool sa = flag(*a, "self"), sb = flag(*b, "self");
    if (sa != sb) return sa;
    return natural_less(cell(*a, "hostname"), cell(*b, "hostname"));
  });
  for (const Json* mp : ordered) {
    const Json& m = *mp;
    std::vector<std::string> row;
    std::string hostname = cell(m, "hostname");
    const bool self = flag(m, "self");
    any_self = any_self || self;
    row.push_back(self ? hostname + "*" : hostname);
    std::string ip = cell(m, "ip");
    if (auto http_port = number(m, "httpPort"); http_port && *http_port != kDefaultHttpPort && ip != "-") {
      ip += ":" + std::to_string(*http_port);
    }
    row.push_back(ip);
    std::string status = cell(m, "status");
    if (status == "ACTIVE") {
      ++counts[0];
    } else if (status == "INACTIVE") {
      ++counts[1];
    } else if (status == "DEAD") {
      ++counts[2];
    } else {
      ++counts[3];
    }
    colors.push_back(color ? status_color(status) : "");
    if (flag(m, "left")) status += " (left)";
    row.push_back(status);
    if (self) {
      row.push_back("self");
    } else if (auto ago = number(m, "lastSeenAgoMs")) {
      row.push_back(format_ago(*ago));
    } else {
      row.push_back("-");
    }
    auto latency = number(m, "latency");
    row.push_back(latency && *latency >= 0 ? std::to_string(*latency) + " ms" : "-");
    const Json* resources = nullptr;
    if (m.is_object() && m.contains("resources") && m["resources"].is_object()) resources = &m["resources"];
    auto heap = resources != nullptr ? number(*resources, "freeHeap") : std::nullopt;
    row.push_back(heap && *heap >= 0 ? format_bytes(static_cast<uint64_t>(*heap)) : "-");
    auto inc = number(m, "incarnation");
    row.push_back(inc ? std::to_string(*inc) : "-");
    if (m.is_object() && m.contains("api") && m["api"].is_array()) {
      row.push_back(std::to_string(m["api"].size()));
    } else {
      row.push_back("-");
    }
    rows.push_back(std::move(row));
  }
  std::string out = render_table(headers, rows, right, colors, 2);
  std::ostringstream summary;
  summary << members.size() << (members.size() == 1 ? " member" : " members") << ": " << counts[0] << " active, "
          << counts[1] << " inactive, " << counts[2] << " dead";
  if (counts[3] > 0) summary << ", " << counts[3] << " unknown";
  if (any_self) summary << "   (* = the node answering)";
  out += summary.str();
  out += '\n';
  return out;
}

std::string format_status_lines(const nlohmann::ordered_json& body) {
  if (!body.is_object()) return scalar_text(body) + "\n";
  std::vector<std::pair<std::string, std::string>> lines;
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string key = terminal_safe(it.key());
    const Json& v = it.value();
    if (key == "api" && v.is_array()) {
      if (v.empty()) lines.emplace_back("api", "(none)");
      for (const Json& e : v) {
        std::string method = e.is_object() && e.contains("method") ? scalar_text(e["method"]) : "?";
        std::string uri = e.is_object() && e.contains("uri") ? scalar_text(e["uri"]) : "?";
        lines.emplace_back("api", pad_right(method, 6) + " " + uri);
      }
    } else if (v.is_object()) {
      // An empty object still gets its line, so every field of the answer is shown (fuzz finding).
      if (v.empty()) lines.emplace_back(key, "{}");
      for (auto sub = v.begin(); sub != v.end(); ++sub) {
        lines.emplace_back(key + "." + terminal_safe(sub.key()), scalar_text(sub.value()));
      }
    } else if (v.is_array()) {
      lines.emplace_back(key, json_for_terminal(v));
    } else {
      lines.emplace_back(key, scalar_text(v));
    }
  }
  size_t width = 0;
  for (const auto& l : lines) width = std::max(width, l.first.size() + 1);
  std::string out;
  for (const auto& l : lines) {
    out += pad_right(l.first + ":", width);
    out += ' ';
    out += l.second;
    out += '\n';
  }
  return out;
}

std::string describe_error_response(int status, std::string_view body) {
  Json j = parse_node_json(body);
  std::string out;
  if (!j.is_discarded() && j.is_object() && j.contains("error")) {
    out = scalar_text(j["error"]) + " (HTTP " + std::to_string(status) + ")";
    if (j.contains("code")) out += " [" + scalar_text(j["code"]) + "]";
    return out;
  }
  std::string text = trim(body);
  if (text.size() > 200) text = text.substr(0, 200) + "...";
  out = "HTTP " + std::to_string(status);
  // A node's text on one terminal line: a "\n" in it is shown, not obeyed (terminal_safe).
  if (!text.empty()) out += ": " + terminal_safe(text);
  return out;
}

bool merge_discovered(std::vector<DiscoveredNode>& nodes, const DiscoveredNode& node) {
  for (DiscoveredNode& n : nodes) {
    if (n.node_id != node.node_id) continue;
    const uint32_t heard = n.announces + 1;
    if (spore::incarnation_at_least(node.incarnation, n.incarnation)) n = node;  // serial arithmetic
    n.announces = heard;
    return false;
  }
  nodes.push_back(node);
  nodes.back().announces = 1;
  return true;
}

namespace {
void sort_discovered(std::vector<DiscoveredNode>& nodes) {
  std::sort(nodes.begin(), nodes.end(), [](const DiscoveredNode& a, const DiscoveredNode& b) {
    if (a.hostname != b.hostname) return a.hostname < b.hostname;
    return a.node_id < b.node_id;
  });
}
}  // namespace

std::string format_discovered_table(std::vector<DiscoveredNode> nodes) {
  sort_discovered(nodes);
  std::vector<std::string> headers = {"NODE ID", "HOSTNAME", "IP", "HTTP", "UDP", "INC", "AUTH"};
  std::vector<bool> right = {true, false, false, true, true, true, false};
  std::vector<std::vector<std::string>> rows;
  for (const DiscoveredNode& n : nodes) {
    rows.push_back({std::to_string(n.node_id), terminal_safe(n.hostname), terminal_safe(n.ip), n.http_port ? std::to_string(n.http_port) : "-",
                    std::to_string(n.udp_port), std::to_string(n.incarnation), n.authenticated ? "key" : "none"});
  }
  return render_table(headers, rows, right, {}, 0);
}

nlohmann::ordered_json discovered_to_json(std::vector<DiscoveredNode> nodes) {
  sort_discovered(nodes);
  Json list = Json::array();
  for (const DiscoveredNode& n : nodes) {
    Json j;
    j["nodeId"] = n.node_id;
    j["hostname"] = n.hostname;
    j["ip"] = n.ip;
    j["httpPort"] = n.http_port;
    j["udpPort"] = n.udp_port;
    j["incarnation"] = n.incarnation;
    j["freeHeap"] = n.free_heap_bytes;
    j["authenticated"] = n.authenticated;
    j["url"] = n.http_port ? "http://" + n.ip + ":" + std::to_string(n.http_port) : std::string();
    list.push_back(std::move(j));
  }
  Json out;
  out["nodes"] = std::move(list);
  return out;
}

std::string format_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows,
                         const std::vector<bool>& right_align) {
  std::vector<bool> right = right_align;
  right.resize(headers.size(), false);
  return render_table(headers, rows, right, {}, 0);
}

std::string ipv4_to_string(uint32_t ip) {
  char text[16];
  format_ipv4(ip, text, sizeof text);
  return text;
}

}  // namespace cli
}  // namespace spore
