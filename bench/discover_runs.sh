#!/usr/bin/env bash
# `spore discover` against 3 real spored nodes on loopback, default (LAN) profile: how many of the
# 3 each run lists, asking (the default: DISCOVER, docs/protocol.md §4.13) and only listening
# (--passive, what discover did before issue 21), with the default 2 s wait, and how long a run took.
#
# Usage: bench/discover_runs.sh [RUNS]     (default 10; needs build/dev/spored and spore)
# Prints a Markdown table. Requests go to loopback's broadcast only (--target 127.255.255.255).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export SPORED="${SPORED:-$ROOT/build/dev/spored}" SPORE="${SPORE:-$ROOT/build/dev/spore}"
export SPORE_TEST_TMP="${SPORE_TEST_TMP:-$ROOT/build/bench}"
RUNS="${1:-10}"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [RUNS]" >&2; exit 2; }
[ -x "$SPORED" ] || { echo "build first: ./ctl.sh build (missing $SPORED)" >&2; exit 1; }
# shellcheck source=tests/integration/lib.sh
source "$ROOT/tests/integration/lib.sh"
it_init 300 $((RUNS * 10 + 120))
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"  # now_ms
IT_NODE_ARGS=()

for k in 1 2 3; do start_node "$k"; done
wait_until "3 nodes converge" 60 converged 1 2 3
here=(--udp-port "$IT_UDP_PORT" --target 127.255.255.255 --listen 127.255.255.255 --json)
echo "| mode | runs | nodes listed per run (of 3) | runs listing all 3 | wall time per run (ms) |"
echo "| --- | ---: | --- | ---: | --- |"
for mode in ask passive; do
  counts=() times=() all=0
  for _ in $(seq 1 "$RUNS"); do
    extra=()
    [ "$mode" = passive ] && extra=(--passive)
    t0=$(now_ms)
    n="$("$SPORE" discover "${here[@]}" "${extra[@]}" 2>/dev/null | jq '.nodes | length')" || n=0
    times+=($(($(now_ms) - t0)))
    counts+=("$n")
    [ "$n" -eq 3 ] && all=$((all + 1))
  done
  echo "| $mode | $RUNS | ${counts[*]} | $all | ${times[*]} |"
done
