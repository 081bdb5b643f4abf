// spore-sim: runs scenario files (docs/simulation.md) on platform/sim and prints what held.
// Exit 0 when every invariant held in every scenario, 1 when one broke, 2 on bad input.

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "../cli_parse.h"
#include "fleet_report.h"
#include "posix/version.h"
#include "runner.h"
#include "scenario.h"
#include "spore/base/limits.h"
#include "spore/cluster/member_table.h"

namespace {

using spore_sim::ScenarioResult;

int usage_error(const std::string& message) {
  std::fprintf(stderr, "spore-sim: %s\nRun 'spore-sim --help' for the flags.\n", message.c_str());
  return 2;
}

std::string stem(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const size_t dot = name.rfind('.');
  return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

// Reads and parses `path`; on failure prints "path:line: message" (the compiler convention,
// so editors jump to it) and returns false.
bool load(const std::string& path, spore_sim::Scenario* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "spore-sim: %s: cannot open\n", path.c_str());
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  spore_sim::ScenarioError err;
  if (!spore_sim::parse_scenario(text.str(), out, &err)) {
    if (err.line > 0) {
      std::fprintf(stderr, "spore-sim: %s:%u: %s\n", path.c_str(), err.line, err.message.c_str());
    } else {
      std::fprintf(stderr, "spore-sim: %s: %s\n", path.c_str(), err.message.c_str());
    }
    return false;
  }
  if (out->name.empty()) out->name = stem(path);
  return true;
}

std::string opt_ms(const std::optional<uint64_t>& ms) { return ms ? spore_sim::format_ms(*ms) : "-"; }

nlohmann::json opt_json(const std::optional<uint64_t>& ms) { return ms ? nlohmann::json(*ms) : nlohmann::json(); }

// null when no address that is not a node's sent or got anything; max_ratio null when the
// address got bytes without sending any (unbounded).
nlohmann::json amplification_json(const std::optional<spore::sim::AddressTraffic>& a) {
  if (!a) return nlohmann::json();
  const double ratio = a->ratio();
  char ip[16];
  spore::format_ipv4(a->ip, ip, sizeof ip);
  return {{"address", std::string(ip) + ":" + std::to_string(a->port)},
          {"bytes_to", a->bytes_to},
          {"bytes_from", a->bytes_from},
          {"max_ratio", std::isinf(ratio) ? nlohmann::json() : nlohmann::json(ratio)}};
}

nlohmann::json to_json(const ScenarioResult& r) {
  nlohmann::json violations = nlohmann::json::array();
  for (const spore_sim::Violation& v : r.violations) {
    violations.push_back({{"invariant", v.invariant},
                          {"at_ms", v.at_ms},
                          {"node", v.node < 0 ? nlohmann::json() : nlohmann::json(v.node)},
                          {"subject", v.subject < 0 ? nlohmann::json() : nlohmann::json(v.subject)},
                          {"detail", v.detail}});
  }
  return {{"name", r.name},
          {"nodes", r.nodes},
          {"profile", r.profile},
          {"protocol", r.protocol},
          {"liveness", r.liveness.empty() ? nlohmann::json() : nlohmann::json(r.liveness)},
          {"seed", r.seed},
          {"virtual_ms", r.virtual_ms},
          {"converge_ms", opt_json(r.converge_ms)},
          {"reconverge_max_ms", opt_json(r.reconverge_max_ms)},
          {"converge_bound_ms", r.converge_bound_ms},
          {"crashes", r.crashes},
          {"detect_min_ms", opt_json(r.detect_min_ms)},
          {"detect_max_ms", opt_json(r.detect_max_ms)},
          {"detect_bound_ms", r.detect_bound_ms},
          {"false_inactive", r.false_inactive},
          {"false_dead", r.false_dead},
          {"max_table", r.max_table},
          {"core_allocations", opt_json(r.core_allocations)},
          {"per_node_per_s",
           {{"sent_datagrams", r.sent_datagrams_per_s},
            {"sent_bytes", r.sent_bytes_per_s},
            {"received_datagrams", r.received_datagrams_per_s},
            {"received_bytes", r.received_bytes_per_s},
            {"sent_wire_bytes", r.sent_wire_bytes_per_s},
            {"received_wire_bytes", r.received_wire_bytes_per_s}}},
          {"amplification", amplification_json(r.amplification)},
          {"wall_s", r.wall_s},
          {"violation_count", r.violation_count},
          {"violations", violations},
          {"result", r.passed() ? "pass" : "fail"}};
}

void print_table(const std::vector<ScenarioResult>& results) {
  std::printf("%-28s %5s %-11s %8s %9s %9s %17s %7s %7s %8s %8s %6s %6s\n", "scenario", "nodes", "profile", "virtual",
              "converge", "reconv", "detect min/max", "false", "tx dg/s", "tx B/s", "rx B/s", "allocs", "result");
  for (const ScenarioResult& r : results) {
    const std::string detect = r.detect_min_ms ? opt_ms(r.detect_min_ms) + "/" + opt_ms(r.detect_max_ms) : "-";
    const std::string alarms = std::to_string(r.false_inactive) + "/" + std::to_string(r.false_dead);
    const std::string allocs = r.core_allocations ? std::to_string(*r.core_allocations) : "-";
    std::printf("%-28s %5u %-11s %8s %9s %9s %17s %7s %7.2f %8.1f %8.1f %6s %6s\n", r.name.c_str(), r.nodes,
                spore_sim::profile_label(r).c_str(), spore_sim::format_ms(r.virtual_ms).c_str(),
                opt_ms(r.converge_ms).c_str(),
                opt_ms(r.reconverge_max_ms).c_str(), detect.c_str(), alarms.c_str(), r.sent_datagrams_per_s,
                r.sent_bytes_per_s, r.received_bytes_per_s, allocs.c_str(), r.passed() ? "PASS" : "FAIL");
  }
  for (const ScenarioResult& r : results) {
    if (r.passed()) continue;
    std::printf("\n%s: %u invariant violation(s)%s\n", r.name.c_str(), r.violation_count,
                r.violation_count > r.violations.size() ? ", first ones:" : ":");
    for (const spore_sim::Violation& v : r.violations) {
      std::printf("  at %s  %-11s", spore_sim::format_ms(v.at_ms).c_str(), v.invariant.c_str());
      if (v.node >= 0) std::printf(" node %d", v.node);
      if (v.subject >= 0) std::printf(" about node %d", v.subject);
      std::printf(": %s\n", v.detail.c_str());
    }
  }
  std::printf("\nfalse = false INACTIVE/DEAD events; tx/rx per node per second of virtual time, whole run, "
              "payload bytes (UDP/TCP/IP headers not counted; --json has wire bytes too).\n"
              "allocs = heap allocations by core after begin() (must be 0; '-' for protocol seed, which is not core).\n"
              "profile 'seed' = protocol seed: the model of the seed's design (docs/simulation.md); "
              "'digest' = liveness digest (the lan and fast profiles' default); a profile alone = liveness "
              "broadcast.\n");
}

}  // namespace

int main(int argc, char** argv) {
  // `spore-sim fleet ...`: the ESP-01 fleet rollout model, with flags of its own (fleet_report.h).
  if (argc > 1 && std::string(argv[1]) == "fleet") return spore_sim::fleet_main(argc - 1, argv + 1);
  CLI::App app{"spore-sim: runs SPORE clusters on the simulated network (platform/sim) from scenario files, "
               "deterministically from their seed, checks invariants every check-every of virtual time and "
               "prints a summary. Exit 0: every invariant held; 1: one broke; 2: bad flag or scenario file. "
               "Scenario format: docs/simulation.md. `spore-sim fleet --help`: the ESP-01 fleet rollout model.",
               "spore-sim"};
  app.set_version_flag("--version", std::string("spore-sim ") + spore::posix::firmware_version());
  std::vector<std::string> files;
  bool json = false, check_only = false;
  std::optional<uint64_t> seed;
  std::string liveness;
  app.add_option("scenario", files, "Scenario files to run, in order")->required();
  app.add_flag("--json", json, "Print the results as JSON (one object with a 'scenarios' array) instead of a table");
  app.add_option("--seed", seed, "Override every scenario's seed (explore other runs of the same scenario)");
  app.add_option("--liveness", liveness,
                 "Override every SPORE scenario's liveness (broadcast or digest; docs/simulation.md), to run one "
                 "file both ways side by side; protocol seed scenarios run as they are. Without it: the scenario's "
                 "`liveness` line, else the profile's (digest for lan and fast, broadcast for esp8266)")
      ->check(CLI::IsMember({"broadcast", "digest"}));
  app.add_flag("--check", check_only, "Only parse the scenario files; exit 0 if all are valid, 2 otherwise");
  const std::optional<int> stop = spore_apps::parse_command_line(app, argc, argv, usage_error);
  if (stop) return *stop;

  // Every file is parsed before anything runs: a typo in the tenth file should not cost the
  // time of the first nine.
  std::vector<spore_sim::Scenario> scenarios(files.size());
  bool ok = true;
  for (size_t i = 0; i < files.size(); ++i) ok = load(files[i], &scenarios[i]) && ok;
  if (!ok) return 2;
  if (check_only) return 0;

  std::vector<ScenarioResult> results;
  bool passed = true;
  for (spore_sim::Scenario& s : scenarios) {
    if (seed) s.seed = *seed;
    if (!liveness.empty() && s.protocol != "seed")
      s.liveness = liveness == "digest" ? spore::Liveness::kDigest : spore::Liveness::kBroadcast;
    results.push_back(spore_sim::run_scenario(s));
    passed = passed && results.back().passed();
  }
  if (json) {
    // The member table capacity this binary was built with: above it, "converged" means tables
    // full of ACTIVE peers rather than full view (runner.h), so readers of the JSON must know it.
    nlohmann::json out = {{"scenarios", nlohmann::json::array()},
                          {"spore_max_members", SPORE_MAX_MEMBERS},
                          {"result", passed ? "pass" : "fail"}};
    for (const ScenarioResult& r : results) out["scenarios"].push_back(to_json(r));
    std::cout << out.dump(2) << "\n";
  } else {
    print_table(results);
  }
  return passed ? 0 : 1;
}
