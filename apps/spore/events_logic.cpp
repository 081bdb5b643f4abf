#include "events_logic.h"

#include <algorithm>

#include "cli_format.h"
#include "json_fields.h"
#include "request_signer.h"
#include "terminal_safe.h"

namespace spore {
namespace cli {

namespace {

using Json = nlohmann::ordered_json;

std::string pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

}  // namespace

std::optional<std::string> topic_error(std::string_view topic, bool for_filter) {
  if (topic.empty()) return std::string("the topic is empty (1 to 31 characters)");
  if (topic.size() > kMaxEventTopicBytes) {
    return "the topic '" + escape_payload(topic.substr(0, 40)) + (topic.size() > 40 ? "..." : "") + "' is " +
           std::to_string(topic.size()) + " bytes long, at most " + std::to_string(kMaxEventTopicBytes) + " are allowed";
  }
  for (char c : topic) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x21 || b > 0x7E) {
      return "the topic '" + escape_payload(topic) +
             "' has a character that is not allowed: topics are printable ASCII without spaces (0x21..0x7E)";
    }
  }
  if (topic == "*") return std::string("'*' is not a topic (it means every topic to subscribers)");
  if (!for_filter && (starts_with(topic, "node_") || starts_with(topic, "ota_"))) {
    return "the topic '" + std::string(topic) +
           "' is reserved: node_* and ota_* events are published by the nodes themselves";
  }
  return std::nullopt;
}

std::string percent_encode(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto b = static_cast<unsigned char>(c);
    const bool unreserved = (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' ||
                            b == '.' || b == '_' || b == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0x0F]);
    }
  }
  return out;
}

std::string publish_path(std::string_view topic) { return "/api/cluster/events?topic=" + percent_encode(topic); }

std::string stream_path(const std::optional<std::string>& topic) {
  std::string path = "/api/cluster/events/stream";
  if (topic) path += "?topic=" + percent_encode(*topic);
  return path;
}

std::string format_published(const nlohmann::ordered_json& answer, const std::string& node_name) {
  auto field = [&](const char* key) {
    std::string v = json_text(answer, key);
    return v.empty() ? std::string("?") : v;
  };
  std::string node = json_text(answer, "hostname");
  if (node.empty()) node = node_name;
  return terminal_safe("published " + field("topic") + " seq " + field("seq") + " on " + node + " (" +
                       "node " + field("nodeId") + ", epoch " + field("epoch") + ")");
}

std::string describe_publish_error(int status, std::string_view body, bool token_given) {
  std::string out = describe_error_response(status, body);
  Json j = parse_node_json(body);
  const std::string code = !j.is_discarded() && j.is_object() ? json_text(j, "code") : "";
  if (status == 401) {
    out += "\n  " + auth_refusal_hint(body, token_given);
  } else if (code == "digest_mismatch") {
    out += "\n  the node received another payload than the one the request proof was made for";
  } else if (status == 413) {
    std::string max = json_text(j, "maxBytes");
    if (max.empty()) max = json_text(j, "max_bytes");  // nodes before issue 21
    if (!max.empty()) out += "\n  this node takes payloads of at most " + terminal_safe(max) + " bytes";
  } else if (status == 404 && code.empty()) {
    out += "\n  this node does not serve POST /api/cluster/events: it runs firmware older than the events API";
  } else if (status == 503 && code == "not_running") {
    out += "\n  the node's cluster engine is not running (starting up or shutting down): try again in a moment";
  }
  return out;
}

std::string describe_stream_error(int status, std::string_view content_type, std::string_view body) {
  if (status == 200) {
    return "the answer is not an event stream (Content-Type '" + terminal_safe(content_type) +
           "', expected text/event-stream)";
  }
  Json j = parse_node_json(body);
  const std::string code = !j.is_discarded() && j.is_object() ? json_text(j, "code") : "";
  std::string out = describe_error_response(status, body);
  if (status == 404) {
    out += "\n  this node does not serve the event stream: it runs firmware older than the events API";
  } else if (code == "too_many_streams") {
    out += "\n  every event-stream slot of this node is taken (other watchers or dashboards): close one, or "
           "watch another node (every node sees every cluster event)";
  }
  return out;
}

std::string escape_payload(std::string_view bytes) {
  if (bytes.empty()) return "\"\"";
  return terminal_safe(bytes);
}

std::string EventFormatter::text(const SseMessage& m, std::time_t when) {
  char clock[16] = "--:--:--";
  std::tm tm_local{};
  if (localtime_r(&when, &tm_local) != nullptr) std::strftime(clock, sizeof clock, "%H:%M:%S", &tm_local);
  Json d = parse_node_json(m.data);
  std::string sender, topic = m.event, payload;
  std::string color;
  if (!d.is_discarded() && d.is_object()) {
    sender = json_text(d, "hostname");
    if (sender.empty()) sender = json_text(d, "nodeId");
    if (sender.empty()) sender = json_text(d, "node_id");  // the stream's form before issue 21
    if (sender.empty()) sender = "?";
    std::string t = json_text(d, "topic");
    if (!t.empty()) topic = t;
    if (starts_with(topic, "node_")) {
      // Membership events carry no payload: the member's address and its new status say it all.
      const std::string ip = terminal_safe(json_text(d, "ip"));
      const std::string status = terminal_safe(json_text(d, "status"));
      payload = ip.empty() ? status : (status.empty() ? ip : ip + " " + status);
      if (color_) color = status_color(status);
    } else if (d.contains("data") && d["data"].is_string()) {
      payload = escape_payload(d["data"].get<std::string>());
      if (color_ && topic == "ota_failed") color = "\033[31m";
    } else if (d.contains("data")) {
      payload = json_for_terminal(d["data"]);
    }
  } else {
    sender = "?";
    payload = escape_payload(m.data);
  }
  sender = escape_payload(sender);
  topic = escape_payload(topic);
  sender_width_ = std::max(sender_width_, sender.size());
  topic_width_ = std::max(topic_width_, topic.size());
  std::string line = std::string(clock) + "  " + pad(sender, sender_width_) + "  " + pad(topic, topic_width_) + "  ";
  line += color.empty() ? payload : color + payload + "\033[0m";
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line + "\n";
}

std::string EventFormatter::json(const SseMessage& m) const {
  Json out;
  Json d = parse_node_json(m.data);
  // Nodes send unnamed events ("message", for EventSource's onmessage) with the topic in the data.
  const std::string topic = json_text(d, "topic");
  out["event"] = m.event == "message" && !topic.empty() ? topic : m.event;
  out["id"] = m.id ? Json(*m.id) : Json(nullptr);
  if (!d.is_discarded() && d.is_object()) {
    for (auto it = d.begin(); it != d.end(); ++it) {
      if (it.key() != "event" && it.key() != "id") out[it.key()] = it.value();
    }
  } else {
    out["data"] = m.data;
  }
  // Replace, not throw, on invalid UTF-8 (a foreign stream): one line per event whatever comes;
  // nothing but printable ASCII, so a terminal showing it obeys nothing in it.
  return json_for_terminal(out) + "\n";
}

uint64_t Backoff::next_ms() {
  uint64_t d = base_ms_;
  for (uint32_t i = 0; i < attempt_ && d < max_ms_; ++i) d *= 2;
  if (attempt_ < 32) ++attempt_;
  return std::min(d, max_ms_);
}

int watch_exit_code(bool timed_out, size_t count_wanted, size_t received) {
  if (timed_out && count_wanted > 0 && received < count_wanted) return kExitFailure;
  return kExitOk;
}

}  // namespace cli
}  // namespace spore
