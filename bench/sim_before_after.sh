#!/usr/bin/env bash
# Before/after of a protocol change in the simulator, side by side in one run (issue 20's "detection and
# traffic do not regress"): the same seeded scenarios on two spore-sim binaries.
#
# Usage: bench/sim_before_after.sh BEFORE_SPORE_SIM [AFTER_SPORE_SIM]
#   BEFORE_SPORE_SIM  spore-sim built from the older tree (e.g. `git worktree add /tmp/old <commit>` and
#                     `cmake --preset release && cmake --build build/release --target spore-sim` there)
#   AFTER_SPORE_SIM   default build/release/spore-sim of this tree (built, -j2, when missing or stale)
# Prints a Markdown table; the scenarios are written to build/bench/before_after/. Measured:
#   crash  fast profile, N=20: one node crashes at 10 s; time until it is INACTIVE at every peer (max, 3 seeds)
#   join   lan profile, N=50: a late start at 30 s; time until every node shows every node ACTIVE
#   steady lan profile, N=50: per-node traffic at steady state, the difference of a 30 s and a 90 s run of
#          the same seed (so the start-up burst cancels), payload and wire (IPv4 + UDP headers) bytes
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -ge 1 ] && [ $# -le 2 ] && [ "${1:-}" != -h ] && [ "${1:-}" != --help ] || { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; [ $# -ge 1 ] && exit 0 || exit 2; }
BEFORE="$1"
AFTER="${2:-}"
if [ -z "$AFTER" ]; then
  cd "$ROOT"
  [ -f build/release/CMakeCache.txt ] || cmake --preset release >/dev/null
  cmake --build build/release -j2 --target spore-sim >/dev/null
  AFTER="$ROOT/build/release/spore-sim"
fi
for b in "$BEFORE" "$AFTER"; do [ -x "$b" ] || { echo "sim_before_after: $b is not an executable" >&2; exit 2; }; done
command -v jq >/dev/null || { echo "sim_before_after: needs jq (apt-get install jq)" >&2; exit 1; }
DIR="$ROOT/build/bench/before_after"
mkdir -p "$DIR"

scenario() {  # NAME PROFILE N SEED DURATION_S [event line]
  printf 'name %s\nnodes %s\nprofile %s\nseed %s\ncheck-every 10ms\nduration %ss\n%s\n' "$1" "$3" "$2" "$4" "$5" "${6:-}" \
    >"$DIR/$1.scn"
  echo "$DIR/$1.scn"
}
field() { "$1" --json "$2" | jq -r ".scenarios[0]$3"; }  # SIM FILE JQ_PATH

crash_files=() 
for s in 1 2 3; do crash_files+=("$(scenario "crash_fast_20_s$s" fast 20 "$((1020 + s))" 20 'at 10s crash 1')"); done
join_file="$(printf 'name join_lan_50\nnodes 50\nprofile lan\nseed 50\nidle 49\ncheck-every 10ms\nduration 50s\nat 30s start 49\n' >"$DIR/join_lan_50.scn"; echo "$DIR/join_lan_50.scn")"
short="$(scenario steady_lan_50_30 lan 50 2050 30)"
long="$(scenario steady_lan_50_90 lan 50 2050 90)"

echo "| measure | before (\`$(basename "$(dirname "$BEFORE")")/$(basename "$BEFORE")\`) | after (\`$(basename "$(dirname "$AFTER")")/$(basename "$AFTER")\`) |"
echo "| --- | ---: | ---: |"
row() { echo "| $1 | $2 | $3 |"; }
crash_max() {
  local worst=0 v
  for f in "${crash_files[@]}"; do
    v="$(field "$1" "$f" .detect_max_ms)"
    [ "$v" = null ] && { echo "not detected"; return; }
    [ "$v" -gt "$worst" ] && worst=$v
  done
  echo "$worst ms"
}
row "crash -> INACTIVE at all 19 peers, fast, N=20 (max of 3 seeds)" "$(crash_max "$BEFORE")" "$(crash_max "$AFTER")"
row "late join ACTIVE at all 50, lan, N=50" "$(field "$BEFORE" "$join_file" .reconverge_max_ms) ms" "$(field "$AFTER" "$join_file" .reconverge_max_ms) ms"
steady() {  # SIM KEY: per-node per-second rate over the 60 s between the two runs
  local a b
  a="$(field "$1" "$short" ".per_node_per_s.$2")"
  b="$(field "$1" "$long" ".per_node_per_s.$2")"
  jq -n --argjson a "$a" --argjson b "$b" '((($b * 90) - ($a * 30)) / 60) | . * 10 | round / 10'
}
for k in received_wire_bytes sent_wire_bytes received_datagrams sent_datagrams received_bytes sent_bytes; do
  row "steady, lan, N=50, per node per s: ${k//_/ }" "$(steady "$BEFORE" $k)" "$(steady "$AFTER" $k)"
done
