// libFuzzer target for spore-sim's scenario parser (apps/spore-sim/scenario.h).
//
// Input: a scenario file's bytes.
//
// Properties checked on every input, abort() on violation:
// - parse_scenario() never crashes, throws or reads out of bounds (ASan/UBSan in the fuzz preset);
// - a rejected file leaves the output untouched and says why, on a line the file has (0 = the
//   whole file);
// - an accepted file is one the runner can execute blindly: 1..kMaxNodes nodes, a duration, actions
//   in time order within it, every node number in range, partition groups disjoint, idle nodes
//   only ever started, probabilities in 0..1, liveness digest only with protocol spore.
//
// Seed corpus: tests/fuzz/corpus/scenario/ (the checked-in scenarios and near misses).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

// spore-sim is a host program, not a library; its parser has no dependency beyond core.
#include "../../apps/spore-sim/scenario.cpp"

namespace {

using spore_sim::Action;
using spore_sim::ActionKind;
using spore_sim::Scenario;

void check(bool ok) {
  if (!ok) std::abort();
}

bool fraction(double f) { return f >= 0.0 && f <= 1.0; }

void check_accepted(const Scenario& s) {
  check(s.nodes >= 1 && s.nodes <= spore_sim::kMaxNodes);
  check(s.duration_ms >= 1 && s.duration_ms <= spore_sim::kMaxDurationMs);
  check(s.check_every_ms >= 1);
  check(fraction(s.link.loss) && fraction(s.link.duplicate) && fraction(s.link.reorder));
  check(s.profile == "lan" || s.profile == "fast" || s.profile == "esp8266");
  check(s.protocol == "spore" || s.protocol == "seed");
  // The seed model has no liveness choice: `liveness` is refused with protocol seed.
  check(!s.liveness || *s.liveness == spore::Liveness::kBroadcast ||
        (*s.liveness == spore::Liveness::kDigest && s.protocol == "spore"));
  check(spore_sim::config_for(s).validate() == nullptr);
  for (uint32_t n : s.idle) check(n < s.nodes);
  uint64_t last = 0;
  for (const Action& a : s.actions) {
    check(a.at_ms >= last && a.at_ms <= s.duration_ms);
    check(a.line >= 1);
    last = a.at_ms;
    for (uint32_t n : a.nodes) check(n < s.nodes);
    std::vector<uint32_t> all;
    for (const auto& g : a.groups) {
      check(!g.empty());
      for (uint32_t n : g) check(n < s.nodes);
      all.insert(all.end(), g.begin(), g.end());
    }
    std::sort(all.begin(), all.end());
    check(std::adjacent_find(all.begin(), all.end()) == all.end());
    if (a.kind == ActionKind::kPartition) check(a.groups.size() >= 2);
    if (a.kind == ActionKind::kStart) {
      for (uint32_t n : a.nodes) check(std::find(s.idle.begin(), s.idle.end(), n) != s.idle.end());
    }
    check(fraction(a.fraction));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Scenario s;
  s.name = "untouched";
  spore_sim::ScenarioError err;
  if (spore_sim::parse_scenario(text, &s, &err)) {
    check_accepted(s);
  } else {
    check(s.name == "untouched" && s.actions.empty());
    check(!err.message.empty());
    const size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    check(err.line <= lines);
  }
  return 0;
}
