#!/usr/bin/env bash
# Convergence traffic before/after a gossip change (issue 19, gossip per member slot): the same
# scenarios and seeds on two spore-sim binaries, side by side, as a Markdown table.
#
# Usage: bench/gossip_slots.sh BEFORE_SIM BEFORE_SIM255 AFTER_SIM AFTER_SIM255 [SEEDS]
#   *_SIM     spore-sim of each tree (any build type; the simulation is deterministic)
#   *_SIM255  the same built with SPORE_MAX_MEMBERS=255 (docs/simulation.md), for converge_lan_200
#   SEEDS     default "1 2 3 4 5" (--seed overrides the scenario's own)
# Scenarios: tests/sim/scenarios/{converge_esp8266_32,converge_lan_50,join_late_lan_50,
# churn_fast_30,loss30_lan_20,converge_lan_200}.scn. Per scenario: received bytes and datagrams
# per node per s over the whole run (mean of the seeds, and the change in %), convergence
# (converge_ms; for a late join reconverge_max_ms) and crash detection (detect_max_ms), the worst
# of the seeds; FAIL if any run broke an invariant. Figures: docs/benchmarks.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -ge 4 ] && [ $# -le 5 ] || { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
for b in "$1" "$2" "$3" "$4"; do [ -x "$b" ] || { echo "gossip_slots: $b is not an executable" >&2; exit 2; }; done
command -v jq >/dev/null || { echo "gossip_slots: needs jq (apt-get install jq)" >&2; exit 1; }
SEEDS="${5:-1 2 3 4 5}"
SCN="$ROOT/tests/sim/scenarios"

runs() {  # SIM FILE: one JSON line per seed
  local s
  for s in $SEEDS; do "$1" --json --seed "$s" "$2" | jq -c '.scenarios[0]'; done
}
summary() {  # JSON lines on stdin -> {rb, rd, conv, detect, fail}
  jq -s '{rb: (map(.per_node_per_s.received_bytes) | add / length),
          rd: (map(.per_node_per_s.received_datagrams) | add / length),
          conv: (map(.reconverge_max_ms // .converge_ms) | if any(. == null) then null else max end),
          detect: (map(.detect_max_ms) | if all(. == null) then null else max end),
          fail: any(.result != "pass")}'
}

echo "| scenario (seeds $SEEDS) | rx B/node/s before | after | change | rx dg/node/s before | after | change | converge max before / after (ms) | detect max before / after (ms) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for name in converge_esp8266_32 converge_lan_50 join_late_lan_50 churn_fast_30 loss30_lan_20 converge_lan_200; do
  before="$1" after="$3"
  [ "$name" = converge_lan_200 ] && before="$2" after="$4"
  b="$(runs "$before" "$SCN/$name.scn" | summary)"
  a="$(runs "$after" "$SCN/$name.scn" | summary)"
  jq -nr --arg n "$name" --argjson b "$b" --argjson a "$a" '
    def pct(x; y): ((y - x) / x * 1000 | round / 10) as $p | (if $p > 0 then "+" else "" end) + ($p | tostring) + " %";
    def r1(x): x * 10 | round / 10;
    def ms(x): if x == null then "-" else (x | tostring) end;
    "| \($n)\(if $b.fail or $a.fail then " (FAIL: \(if $b.fail then "before" else "" end) \(if $a.fail then "after" else "" end))" else "" end) | \(r1($b.rb)) | \(r1($a.rb)) | \(pct($b.rb; $a.rb)) | \(r1($b.rd)) | \(r1($a.rd)) | \(pct($b.rd; $a.rd)) | \(ms($b.conv)) / \(ms($a.conv)) | \(ms($b.detect)) / \(ms($a.detect)) |"'
done
