#pragma once
/// @file scenario.h
/// spore-sim's scenario files: a small line-based text format (docs/simulation.md) saying how many
/// nodes, which timing profile, which network, what happens when, and what must hold.
///
/// Host only (apps/spore-sim): uses the standard library freely, but never throws, so the same
/// parser runs under libFuzzer (tests/fuzz/scenario_fuzz.cpp) and in unit tests.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spore/node/config.h"

namespace spore_sim {

/// Upper bounds a scenario may ask for: big enough for every benchmark in issue 6, small enough
/// that a typo (`nodes 20000`, `duration 90000m`) is refused instead of running for hours.
constexpr uint32_t kMaxNodes = 1000;
constexpr uint64_t kMaxDurationMs = 24ull * 3600 * 1000;
constexpr uint32_t kMaxDelayMs = 60000;
/// Longest scenario line; longer ones are refused (a partition line for 1000 nodes fits).
constexpr size_t kMaxLineBytes = 4096;

/// The network, as platform/sim's LinkProfile but kept free of platform headers so the parser
/// builds alone (fuzzing). Probabilities are 0..1.
struct LinkSettings {
  double loss = 0.0;
  uint32_t delay_ms = 1;
  uint32_t jitter_ms = 0;
  double duplicate = 0.0;
  double reorder = 0.0;
  uint32_t reorder_ms = 20;
};

enum class ActionKind : uint8_t {
  kCrash,      ///< nodes stop dead: no leave, state kept
  kRestart,    ///< crashed or running nodes boot again with incarnation + 1
  kLeave,      ///< graceful leave, then down
  kStart,      ///< an `idle` node boots for the first time (a newcomer)
  kPartition,  ///< groups that cannot reach each other; nodes in no group are alone
  kHeal,       ///< one network again
  kLoss,       ///< link settings from now on
  kDelay,
  kJitter,
  kDuplicate,
  kReorder,
  kDrift,  ///< nodes' clocks run `ppm` fast (> 0) or slow (< 0) from now on
};
const char* action_name(ActionKind kind);

/// One timed line, `at <time> <action> ...`.
struct Action {
  uint64_t at_ms = 0;  ///< virtual time since the scenario began
  uint32_t line = 0;   ///< in the scenario file, for messages
  ActionKind kind = ActionKind::kCrash;
  std::vector<uint32_t> nodes;                ///< crash / restart / leave / start
  std::vector<std::vector<uint32_t>> groups;  ///< partition
  double fraction = 0.0;                      ///< loss / duplicate / reorder, 0..1
  uint32_t ms = 0;                            ///< delay / jitter
  int32_t ppm = 0;                            ///< drift
};

/// `drift NODES PPM` in the header: clock rate of those nodes from t=0.
struct DriftSetting {
  std::vector<uint32_t> nodes;
  int32_t ppm = 0;
};

/// Largest clock drift accepted, ppm (platform/sim's DriftClock::kMaxDriftPpm: 10 %).
constexpr int32_t kMaxDriftPpm = 100000;

struct Scenario {
  std::string name;  ///< `name`, else set by the caller (file stem)
  uint32_t nodes = 0;
  std::string profile = "lan";  ///< esp8266 | lan | fast: Config::default_esp8266 / default_lan / fast
  /// spore: SPORE's core; seed: the model of the seed's design (seed_model.h), where `profile`
  /// and `key` do not apply (the seed has one timing and no key).
  std::string protocol = "spore";
  /// `liveness broadcast|digest`: Config::liveness of every SPORE node (docs/protocol.md §11.12);
  /// unset = the profile's (digest for lan and fast, broadcast for esp8266). Refused with protocol
  /// seed, which has no such choice.
  std::optional<spore::Liveness> liveness;
  uint64_t seed = 1;
  bool keyed = true;  ///< cluster key on every node, as a deployed cluster should run
  LinkSettings link;
  uint64_t duration_ms = 0;
  uint64_t check_every_ms = 100;
  std::vector<uint32_t> idle;  ///< nodes not started at t=0
  std::vector<DriftSetting> drift;  ///< clock drift from t=0 (may name a node again: last wins)
  std::vector<Action> actions;  ///< in time order (the parser refuses them out of order)

  // Expectations. Unset bounds are derived from the profile (runner.h).
  std::optional<uint64_t> converge_within_ms;
  std::optional<uint64_t> detect_within_ms;
  uint32_t max_false_alarms = 0;  ///< false INACTIVE + false DEAD tolerated (default none)

  /// Test only, not in the file format: every SPORE node gets a node_discovered handler that
  /// allocates, run from inside the core's dispatch, so the no-allocation check must fail.
  bool test_allocate_in_core = false;
};

struct ScenarioError {
  uint32_t line = 0;  ///< 1-based; 0 = about the whole file
  std::string message;
};

/// Parses `text` strictly: every line is a comment, blank, a header setting, an `at` action or an
/// `expect`. Settings come before actions, each at most once (but `drift`); actions in time order and within
/// `duration`; node numbers below `nodes`; crash/leave only of a running node, start only of an
/// idle one. On error returns false, fills `*error` (line and reason) and leaves `*out` alone.
bool parse_scenario(std::string_view text, Scenario* out, ScenarioError* error);

/// The node Config of the scenario's profile, with its liveness.
spore::Config config_for(const Scenario& scenario);

/// "broadcast" | "digest".
const char* liveness_name(spore::Liveness liveness);

/// "1.5 s", "250 ms": for messages and tables.
std::string format_ms(uint64_t ms);

}  // namespace spore_sim
