#!/usr/bin/env bash
# How long a Linux node takes to refuse a bad image, to roll back an image that does not come
# back healthy, and to run a new image's self-test (docs/ota.md, "Measured"). Runs the two
# integration tests that exercise these paths (tests/integration/ota_proof_test.sh and
# ota_rollback_test.sh) ROUNDS times and summarises the "measured:" lines they print.
#
# Usage: bench/ota_trial_bench.sh [ROUNDS]   (default 5; SPORED/SPORE default to build/dev)
# Prints a Markdown table: median and maximum of each figure over the rounds.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export SPORED="${SPORED:-$ROOT/build/dev/spored}" SPORE="${SPORE:-$ROOT/build/dev/spore}"
export SPORE_TEST_TMP="${SPORE_TEST_TMP:-$ROOT/build/bench}"
ROUNDS="${1:-5}"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [ROUNDS]" >&2; exit 2; }
[ -x "$SPORED" ] && [ -x "$SPORE" ] || { echo "build first: ./ctl.sh build (missing $SPORED or $SPORE)" >&2; exit 1; }

lines="$(mktemp)"
trap 'rm -f "$lines"' EXIT
for round in $(seq 1 "$ROUNDS"); do
  for t in ota_proof_test ota_rollback_test; do
    echo "round $round/$ROUNDS: $t" >&2
    bash "$ROOT/tests/integration/$t.sh" 2>&1 | grep -E "measured: " | sed -E 's/^.*measured: //' >>"$lines"
  done
done
python3 - "$lines" "$ROUNDS" "$SPORED" <<'PY'
import re, statistics, sys
path, rounds, spored = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = {}
for line in open(path):
    line = line.strip()
    m = re.match(r"(.*) refused \((\w+)\) in (\d+) ms, (\d+) bytes", line)
    if m:
        rows.setdefault(f"refuse {m.group(2)}: {m.group(1)} ({int(m.group(4)):,} B)", []).append(int(m.group(3)))
        continue
    m = re.match(r"(.*) rolled back: .* (\d+) ms after the 200", line)
    if m:
        rows.setdefault(f"roll back: {m.group(1)}", []).append(int(m.group(2)))
        continue
    m = re.match(r"'spored [^']+ self-test ok', (\d+) ms", line)
    if m:
        rows.setdefault("self-test of a good image (commit() holds the core mutex for it)", []).append(int(m.group(1)))
print(f"{rounds} rounds, {spored}:\n")
print("| what | median ms | max ms | runs |")
print("| --- | --- | --- | --- |")
for what, v in rows.items():
    print(f"| {what} | {statistics.median(v):.0f} | {max(v)} | {len(v)} |")
PY
