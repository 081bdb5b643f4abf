#include "cli_format.h"

#include "json_fields.h"
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

// Display width of a UTF-8 string: counts code points, which is right for the ASCII and Latin text
// a hostname or status holds (wide CJK characters would be off, and are not valid hostnames).
size_t display_width(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

// `s` cut to at most kMaxCellColumns columns: one 1 MB cell padded every row of a table to 1 MB
// (issue 18 attack, finding C).
std::string clip_cell(std::string_view s) { return clip_columns(s, kMaxCellColumns); }

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

std::string format_ago(int64_t ms) {
  if (ms < 0) return "-";
  if (ms < 1000) return "now";
  const int64_t s = ms / 1000;
  if (s < 120) return std::to_string(s) + " s ago";
  if (s < 2 * 3600) return std::to_string(s / 60) + " min ago";
  if (s < 2 * 86400) return std::to_string(s / 3600) + " h ago";
  return std::to_string(s / 86400) + " d ago";
}

std::string clip_columns(std::string_view s, size_t max_columns) {
  if (display_width(s) <= max_columns) return std::string(s);
  if (max_columns == 0) return "";
  size_t columns = 0;
  size_t end = 0;
  // Up to the character that would be column max_columns: the ellipsis takes its place.
  for (; end < s.size(); ++end) {
    if ((static_cast<unsigned char>(s[end]) & 0xC0) != 0x80 && ++columns == max_columns) break;
  }
  return std::string(s.substr(0, end)) + "\u2026";  // U+2026 HORIZONTAL ELLIPSIS, one column
}

std::string format_incarnation(int64_t incarnation) {
  if (incarnation < 0 || incarnation > 0xFFFFFFFFll) return std::to_string(incarnation);
  return std::to_string(incarnation >> 16) + "/" + std::to_string(incarnation & 0xFFFF);
}

std::string format_bytes(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  size_t unit = 0;
  while (unit + 1 < sizeof(kUnits) / sizeof(kUnits[0]) && bytes >> (10 * (unit + 2)) != 0) ++unit;
  // Tenths rounded half up in integers, as the dashboard's formatBytes() does (printf's "%.1f"
  // rounds ties to even, JavaScript's toFixed() up: 1280 B would read 1.2 KiB here, 1.3 KiB there).
  const unsigned shift = 10 * static_cast<unsigned>(unit + 1);
  const uint64_t size = uint64_t{1} << shift;
  const uint64_t tenths = (bytes >> shift) * 10 + ((bytes & (size - 1)) * 10 + size / 2) / size;
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " " + kUnits[unit];
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
    const bool sa = json_flag(*a, "self"), sb = json_flag(*b, "self");
    if (sa != sb) return sa;
    return natural_less(cell(*a, "hostname"), cell(*b, "hostname"));
  });
  for (const Json* mp : ordered) {
    const Json& m = *mp;
    std::vector<std::string> row;
    std::string hostname = cell(m, "hostname");
    const bool self = json_flag(m, "self");
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
    if (json_flag(m, "left")) status += " (left)";
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
    row.push_back(inc ? format_incarnation(*inc) : "-");
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

std::optional<std::string> not_spore_answer(const std::string& url, std::string_view content_type,
                                            std::string_view body) {
  const std::string text = trim(body);
  bool too_deep = false;  // JSON all the same: get_json() names that refusal itself
  if (text.empty() || !parse_node_json(text, &too_deep).is_discarded() || too_deep) return std::nullopt;
  std::string type = trim(content_type.substr(0, content_type.find(';')));
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string what = "something else";
  if (type == "text/html" || type == "application/xhtml+xml" || text.front() == '<') {
    what = "HTML";
  } else if (!type.empty()) {
    what = terminal_safe(clip_columns(type, 40));
  }
  return "this is not a SPORE node (answered " + what + " from " + terminal_safe(url) + ")";
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
                    std::to_string(n.udp_port), format_incarnation(n.incarnation), n.authenticated ? "key" : "none"});
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
