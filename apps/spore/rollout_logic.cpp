#include "rollout_logic.h"

#include <algorithm>
#include <cmath>

#include "cli_format.h"
#include "json_fields.h"
#include "terminal_safe.h"

namespace spore {
namespace cli {

namespace {

using Json = nlohmann::ordered_json;

}  // namespace

std::vector<RolloutTarget> rollout_targets(const nlohmann::ordered_json& members, const std::string& observer_host,
                                           uint16_t observer_port, std::vector<RolloutTarget>* skipped) {
  std::vector<RolloutTarget> out;
  if (!looks_like_members(members)) return out;
  for (const Json& m : members["members"]) {
    if (!m.is_object()) continue;
    RolloutTarget t;
    t.hostname = json_string(m, "hostname");
    t.ip = json_string(m, "ip");
    t.status = json_string(m, "status");
    t.self = json_flag(m, "self");
    t.image_digest = json_string(m, "imageDigest");
    const auto id = m.find("nodeId");
    if (id != m.end() && id->is_number_unsigned() && id->get<uint64_t>() <= UINT32_MAX) t.node_id = id->get<uint32_t>();
    auto port = m.find("httpPort");
    t.http_port = port != m.end() && port->is_number_unsigned() && port->get<uint64_t>() > 0 &&
                          port->get<uint64_t>() <= 65535
                      ? static_cast<uint16_t>(port->get<uint64_t>())
                      : kDefaultHttpPort;
    if (t.self) {
      // Reach the observer where the CLI reached it, whatever address it announces.
      t.ip = observer_host;
      t.http_port = observer_port;
    }
    if (t.hostname.empty()) t.hostname = t.ip;
    if (t.status == "DEAD" || t.ip.empty()) {
      if (skipped != nullptr) skipped->push_back(t);
      continue;
    }
    out.push_back(std::move(t));
  }
  std::stable_sort(out.begin(), out.end(), [](const RolloutTarget& a, const RolloutTarget& b) {
    if (a.self != b.self) return b.self;
    return natural_less(a.hostname, b.hostname);
  });
  return out;
}

const char* outcome_code(NodeOutcome outcome) {
  switch (outcome) {
    case NodeOutcome::kUpdated:
      return "updated";
    case NodeOutcome::kUpToDate:
      return "up_to_date";
    case NodeOutcome::kFailed:
      return "failed";
    case NodeOutcome::kSkipped:
      return "skipped";
    case NodeOutcome::kUnverified:
      return "unverified";
    case NodeOutcome::kNotReached:
      break;
  }
  return "not_reached";
}

const char* outcome_text(NodeOutcome outcome) {
  switch (outcome) {
    case NodeOutcome::kUpdated:
      return "updated";
    case NodeOutcome::kUpToDate:
      return "up to date";
    case NodeOutcome::kFailed:
      return "FAILED";
    case NodeOutcome::kSkipped:
      return "skipped";
    case NodeOutcome::kUnverified:
      return "not sent";
    case NodeOutcome::kNotReached:
      break;
  }
  return "not reached";
}

std::string format_rollout_table(const std::vector<NodeResult>& results) {
  std::vector<std::vector<std::string>> rows;
  std::string details;
  size_t counts[6] = {0, 0, 0, 0, 0, 0};
  for (const NodeResult& r : results) {
    ++counts[static_cast<size_t>(r.outcome)];
    char secs[32] = "-";
    if (r.seconds >= 0) std::snprintf(secs, sizeof(secs), "%.1f s", r.seconds);
    // Hostnames, addresses, versions and reasons come from the nodes: terminal_safe (issue 18, finding 5).
    const std::string node = terminal_safe(r.hostname.empty() ? (r.ip.empty() ? "-" : r.ip) : r.hostname);
    const std::string version = r.version.empty() ? "-" : terminal_safe(r.version);
    rows.push_back({clip_columns(node, kRolloutNodeColumns), outcome_text(r.outcome), secs,
                    clip_columns(version, kRolloutVersionColumns)});
    // The details, whole, below the table: where the node is, its wave, why.
    details += "  " + node + ": " + (r.ip.empty() ? "no address" : terminal_safe(r.ip));
    if (r.wave >= 0) details += r.wave == 0 ? ", canary" : ", wave " + std::to_string(r.wave);
    if (!r.reason.empty()) details += ": " + terminal_safe(r.reason);
    details += "\n";
  }
  std::string out = format_table({"NODE", "RESULT", "TIME", "VERSION"}, rows, {false, false, true, false});
  if (!results.empty()) out += "\n" + details + "\n";
  std::string summary = std::to_string(results.size()) + (results.size() == 1 ? " node:" : " nodes:");
  const struct {
    NodeOutcome o;
    const char* text;
  } kOrder[] = {{NodeOutcome::kUpdated, "updated"},
                {NodeOutcome::kUpToDate, "up to date"},
                {NodeOutcome::kFailed, "failed"},
                {NodeOutcome::kNotReached, "not reached"},
                {NodeOutcome::kSkipped, "skipped"},
                {NodeOutcome::kUnverified, "unverified"}};
  bool first = true;
  for (const auto& k : kOrder) {
    const size_t n = counts[static_cast<size_t>(k.o)];
    if (n == 0) continue;
    summary += (first ? " " : ", ") + std::to_string(n) + " " + k.text;
    first = false;
  }
  if (first) summary += " none";
  return out + summary + "\n";
}

nlohmann::ordered_json rollout_to_json(const std::vector<NodeResult>& results, const std::string& sha256) {
  Json nodes = Json::array();
  for (const NodeResult& r : results) {
    Json j;
    j["hostname"] = r.hostname;
    j["ip"] = r.ip;
    j["wave"] = r.wave;
    j["result"] = outcome_code(r.outcome);
    j["reason"] = r.reason;
    if (!r.version.empty()) j["firmwareVersion"] = r.version;
    if (r.seconds >= 0) {
      j["seconds"] = std::round(r.seconds * 1000) / 1000;
    } else {
      j["seconds"] = nullptr;
    }
    nodes.push_back(std::move(j));
  }
  Json out;
  out["ok"] = !rollout_failed(results);
  out["sha256"] = sha256;
  out["nodes"] = std::move(nodes);
  return out;
}

bool rollout_failed(const std::vector<NodeResult>& results) {
  return std::any_of(results.begin(), results.end(),
                     [](const NodeResult& r) {
                       return r.outcome == NodeOutcome::kFailed || r.outcome == NodeOutcome::kUnverified;
                     });
}

MemberCheck check_member(const nlohmann::ordered_json& members, std::string_view hostname, const ImageHashes& hashes,
                         std::string* detail, std::optional<uint32_t> node_id) {
  auto say = [&](MemberCheck c, std::string text) {
    if (detail != nullptr) *detail = std::move(text);
    return c;
  };
  if (!looks_like_members(members)) return say(MemberCheck::kNotListed, "no members list");
  for (const Json& m : members["members"]) {
    if (node_id) {
      const auto id = m.find("nodeId");
      if (id == m.end() || !id->is_number_unsigned() || id->get<uint64_t>() != *node_id) continue;
    } else if (json_string(m, "hostname") != hostname) {
      continue;
    }
    const std::string status = json_string(m, "status");
    // The node's words in `detail` are escaped: it ends up in a progress line that keeps newlines.
    if (status != "ACTIVE") {
      return say(MemberCheck::kNotActive, "listed " + (status.empty() ? "without status" : terminal_safe(status)));
    }
    if (m.contains("imageDigest")) {
      const std::string digest = json_string(m, "imageDigest");
      if (!image_digest_matches(digest, hashes)) {
        const std::string shown = digest.empty() ? "?" : terminal_safe(digest);
        return say(MemberCheck::kOldImage,
                   "listed with image " + shown + ", expected " + image_digest_of(hashes.image_sha256));
      }
    }
    return say(MemberCheck::kConfirmed, "");
  }
  return say(MemberCheck::kNotListed, "not listed");
}

}  // namespace cli
}  // namespace spore
