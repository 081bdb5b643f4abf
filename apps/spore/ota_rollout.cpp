// spore ota all: the whole fleet as one node lists it: every member proves its identity first,
// then a canary, then waves of at most --parallel; stops at the first failure and prints a
// per-node table.

#include <algorithm>
#include <atomic>
#include <iostream>
#include <thread>
#include <vector>

#include "cli_context.h"
#include "cli_format.h"
#include "ota_cmd.h"
#include "ota_node.h"
#include "rollout_logic.h"
#include "terminal_safe.h"

namespace spore {
namespace cli {

namespace {

using Json = nlohmann::ordered_json;

/// Identity checks of `ota all` run at once (each one bounded by --http-timeout).
constexpr size_t kIdentityCheckWorkers = 16;

std::string endpoint_text(const std::string& ip, uint16_t port) {
  return port == kDefaultHttpPort ? ip : NodeAddress{ip, port}.to_string();
}

/// Every listed node must prove, before anything is sent, that it holds the token this CLI has
/// for the id it is listed with: a member any LAN peer announced cannot, and is left out of the
/// waves (canary included) and reported. Returns why each node did not ("" for those that did).
std::vector<std::string> check_identities(const std::vector<RolloutTarget>& listed, const SignPolicy& policy,
                                          const ImageFile& image, double http_timeout_s) {
  std::vector<std::string> unverified(listed.size());
  uint8_t file_sha[32];
  sha256_from_hex(image.hashes.file_sha256, file_sha);
  const auto check = [&](size_t i) {
    const RolloutTarget& t = listed[i];
    if (!t.node_id) {
      unverified[i] = "no nodeId in the members list";
      return;
    }
    SignPolicy p = policy;
    p.require_identity = true;
    p.expected_node_id = t.node_id;
    std::string refusal;
    if (!sign_request(NodeAddress{t.ip, t.http_port}, http_timeout_s, p, HttpMethod::kGet, "/", file_sha, &refusal)) {
      unverified[i] = refusal.empty() ? "no proof of identity" : refusal;
    }
  };
  // A fixed number of workers, not one thread per listed member: a members list of 30,000
  // started 30,000 threads at once (issue 18 attack, note to finding C).
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (size_t w = 0; w < std::min(listed.size(), kIdentityCheckWorkers); ++w) {
    workers.emplace_back([&]() {
      for (size_t i = next++; i < listed.size(); i = next++) check(i);
    });
  }
  for (std::thread& th : workers) th.join();
  return unverified;
}

/// The fleet of one rollout: who gets the image, who was left out and why, and the table's rows.
struct Fleet {
  std::vector<RolloutTarget> targets;    ///< proved their identity (or --bearer)
  std::vector<RolloutTarget> impostors;  ///< could not
  std::vector<RolloutTarget> skipped;    ///< DEAD or without an address
  std::vector<NodeResult> results;       ///< one per target, then the others
};

/// The members `observer` lists, split into targets and the rest; throws CliError when none is
/// left to update.
Fleet list_fleet(const NodeAddress& observer, const OtaAllOptions& o, const SignPolicy& policy,
                 const ImageFile& image) {
  std::string why;
  bool named = false;
  std::optional<Json> members = fetch_json(observer, "/api/cluster/members", o.http_timeout_s, &why, &named);
  if (!members) {
    throw CliError{kExitFailure, named ? why
                                       : "cannot read the members from " + observer.base_url() + ": " + why +
                                             ". Is it running? (`spore discover` lists the nodes on the LAN)"};
  }
  if (!looks_like_members(*members)) throw CliError{kExitFailure, observer.to_string() + ": no \"members\" list"};
  Fleet fleet;
  const std::vector<RolloutTarget> listed = rollout_targets(*members, observer.host, observer.port, &fleet.skipped);
  if (listed.empty()) throw CliError{kExitFailure, observer.to_string() + " lists no node that is not DEAD"};
  std::vector<std::string> unverified(listed.size());
  if (!o.bearer) {
    unverified = check_identities(listed, policy, image, o.http_timeout_s);
  } else {
    std::cerr << "--bearer: the nodes' identities are not checked, and each is sent its token itself\n";
  }
  for (size_t i = 0; i < listed.size(); ++i) {
    if (unverified[i].empty()) {
      fleet.targets.push_back(listed[i]);
    } else {
      RolloutTarget t = listed[i];
      t.status = "unverified: " + unverified[i];
      fleet.impostors.push_back(t);
      std::cerr << "skipping " << terminal_safe(t.hostname) << " (" << terminal_safe(endpoint_text(t.ip, t.http_port))
                << "): it cannot prove it is the node listed: " << terminal_safe(unverified[i])
                << "; nothing is sent to it\n";
    }
  }
  if (fleet.targets.empty()) {
    throw CliError{kExitFailure, "no listed node proved its identity with the token(s) given; nothing was sent"};
  }
  return fleet;
}

/// The plan on stderr: the image, the waves, the DEAD members skipped.
void print_plan(const NodeAddress& observer, const OtaAllOptions& o, const ImageFile& image, const Fleet& fleet,
                size_t wave_count) {
  std::cerr << describe_image(image) << "\n";
  std::string plan = "rollout to " + std::to_string(fleet.targets.size()) + " node(s) listed by " +
                     observer.to_string() + ": " + std::to_string(wave_count) + " wave(s)";
  if (o.canary > 0) plan += ", canary first (" + std::to_string(std::min(o.canary, fleet.targets.size())) + ")";
  plan += ", then at most " + std::to_string(o.parallel) + " at a time";
  if (!fleet.skipped.empty()) {
    plan += "; skipping DEAD:";
    for (const RolloutTarget& s : fleet.skipped) plan += " " + terminal_safe(s.hostname);
  }
  std::cerr << plan << "\n";
}

/// One wave, its nodes updated at the same time; true when one of them failed.
bool run_wave(const std::vector<size_t>& wave, const NodeAddress& observer, const OtaAllOptions& o,
              const SignPolicy& policy, const ImageFile& image, Fleet& fleet, Reporter& reporter) {
  const std::vector<RolloutTarget>& targets = fleet.targets;
  std::string names;
  for (size_t i : wave) names += (names.empty() ? "" : " ") + targets[i].hostname;
  // The hostnames are the nodes' words: in the prefix, which is shown on one line.
  const int wave_no = fleet.results[wave.front()].wave;
  reporter.line((wave_no == 0 ? std::string("canary") : "wave " + std::to_string(wave_no)) + ": " + names, "");
  std::vector<NodeRun> runs(wave.size());
  std::vector<std::thread> threads;
  // While the observer restarts in this wave it cannot vouch for its wave-mates: each is then
  // confirmed by its own members list.
  const bool observer_in_wave = std::any_of(wave.begin(), wave.end(), [&](size_t i) { return targets[i].self; });
  for (size_t n = 0; n < wave.size(); ++n) {
    const RolloutTarget& t = targets[wave[n]];
    threads.emplace_back([&, n, t]() {
      const NodeAddress addr{t.ip, t.http_port};
      SignPolicy p = policy;
      p.require_identity = !o.bearer;
      p.expected_node_id = t.node_id;
      const std::optional<NodeAddress> watcher = observer_in_wave ? std::nullopt : std::optional<NodeAddress>(observer);
      runs[n] = update_node(addr, t.hostname, image, p, o, false, watcher, reporter, "  " + t.hostname + ": ");
    });
  }
  for (std::thread& th : threads) th.join();
  bool failed = false;
  for (size_t n = 0; n < wave.size(); ++n) {
    NodeResult& r = fleet.results[wave[n]];
    const NodeRun& run = runs[n];
    r.outcome = run.outcome;
    r.reason = run.reason;
    r.seconds = run.seconds;
    r.version = run.version;
    char secs[32];
    std::snprintf(secs, sizeof(secs), "%.1f s", run.seconds);
    if (run.outcome == NodeOutcome::kFailed) {
      failed = true;
      // Only the first line of a multi-line reason goes into the table; the log has it all.
      reporter.line("  " + r.hostname + ": ", "FAILED after " + std::string(secs) + ": " + run.reason);
      const size_t eol = r.reason.find('\n');
      if (eol != std::string::npos) r.reason = r.reason.substr(0, eol);
    } else if (run.outcome == NodeOutcome::kUpdated) {
      reporter.line("  " + r.hostname + ": ", "updated, back ACTIVE with the new image after " + std::string(secs));
    }
  }
  return failed;
}

}  // namespace

int cmd_ota_all(const NodeAddress& observer, const OtaAllOptions& o) {
  const ImageFile image = load_image(o.file);
  const TokenMap map = load_token_map(o);
  const std::optional<std::string> fallback = token_from(o.token, o.token_file);
  const SignPolicy policy = sign_policy(o, map, fallback);
  Fleet fleet = list_fleet(observer, o, policy, image);
  const std::vector<std::vector<size_t>> waves = plan_waves(fleet.targets.size(), o.canary, o.parallel);
  fleet.results.resize(fleet.targets.size());
  for (size_t i = 0; i < fleet.targets.size(); ++i) {
    fleet.results[i].hostname = fleet.targets[i].hostname;
    fleet.results[i].ip = endpoint_text(fleet.targets[i].ip, fleet.targets[i].http_port);
  }
  for (size_t w = 0; w < waves.size(); ++w) {
    for (size_t i : waves[w]) fleet.results[i].wave = o.canary > 0 ? static_cast<int>(w) : static_cast<int>(w) + 1;
  }
  Reporter reporter(Reporter::Mode::kFinalOnly);
  print_plan(observer, o, image, fleet, waves.size());
  bool failed = false;
  for (size_t w = 0; w < waves.size() && !failed; ++w) {
    failed = run_wave(waves[w], observer, o, policy, image, fleet, reporter);
    if (failed) {
      reporter.line("", "stopping the rollout: a node of this wave failed; the nodes not reached keep their image");
    }
  }
  for (const std::vector<RolloutTarget>* list : {&fleet.impostors, &fleet.skipped}) {
    for (const RolloutTarget& s : *list) {
      NodeResult r;
      r.hostname = s.hostname;
      r.ip = endpoint_text(s.ip, s.http_port);
      r.outcome = list == &fleet.impostors ? NodeOutcome::kUnverified : NodeOutcome::kSkipped;
      r.reason = s.status.empty() ? "no address" : s.status;
      fleet.results.push_back(r);
    }
  }
  if (o.json) {
    std::cout << json_for_terminal(rollout_to_json(fleet.results, image.hashes.image_sha256), 2) << "\n";
  } else {
    std::cout << format_rollout_table(fleet.results);
  }
  return rollout_failed(fleet.results) ? kExitFailure : kExitOk;
}

}  // namespace cli
}  // namespace spore
