#!/usr/bin/env bash
# ESP-01 fleet rollout, modelled (issue 22; docs/ota.md §12): `spore-sim fleet` for fleets of
# N = 1, 5, 10, 20 boards and waves of W = 1, 4, 8, 20, with a canary (`spore ota all`'s default)
# and without, at both ends of the parameters (presets fast and slow), 5 seeds each.
#
# Usage: bench/fleet_model.sh [--update-docs]
#
# Then, for N=20, each figure alone at the other preset's value (spore-sim fleet --sensitivity).
# Writes build/bench/fleet_model.json (every run's JSON) and build/bench/fleet_model.md (the
# tables, the command line at the top). With --update-docs it also replaces the text between
# <!-- fleet-model:begin --> and <!-- fleet-model:end --> in docs/benchmarks.md.
# Binary: build/release/spore-sim (built or brought up to date here, -j2; SPORE_SIM overrides).
# Virtual time: the whole run takes about 20 s of one core.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[[ $# -le 1 && ${1:---update-docs} == --update-docs ]] || {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
UPDATE_DOCS=$(( $# == 1 ))
COMMAND="bench/fleet_model.sh${1:+ $1}"
SIM="${SPORE_SIM:-$ROOT/build/release/spore-sim}"
OUT="$ROOT/build/bench"
SEEDS=5

if [[ -z ${SPORE_SIM:-} ]]; then
  [[ -d build/release ]] || cmake --preset release >/dev/null
  cmake --build build/release -j2 --target spore-sim >/dev/null
fi
mkdir -p "$OUT"
"$SIM" fleet --json --seeds "$SEEDS" --canary 1 >"$OUT/fleet_model_canary1.json"
"$SIM" fleet --json --seeds "$SEEDS" --canary 0 >"$OUT/fleet_model_canary0.json"
# Each figure alone at its other end, N=20: one wave (canary 0, W=20), canary then all, the default.
"$SIM" fleet --json --seeds "$SEEDS" --sensitivity --nodes 20 --canary 0 --parallel 20 >"$OUT/fleet_model_sens0.json"
"$SIM" fleet --json --seeds "$SEEDS" --sensitivity --nodes 20 --canary 1 --parallel 4 20 >"$OUT/fleet_model_sens1.json"

python3 - "$OUT" "$COMMAND" "$(git rev-parse --short HEAD)" <<'EOF'
import json, sys, datetime
out, command, commit = sys.argv[1:]
runs = [json.load(open(f"{out}/fleet_model_canary{c}.json")) for c in (1, 0)]
json.dump({"runs": runs, "sensitivity": [json.load(open(f"{out}/fleet_model_sens{c}.json")) for c in (0, 1)]},
          open(f"{out}/fleet_model.json", "w"), indent=1)
lines = [f"<!-- {command}, {datetime.date.today()}, commit {commit}: spore-sim fleet --json --seeds "
         f"{runs[0]['seeds']} --canary 1 / --canary 0 (virtual time, deterministic per seed) -->", ""]
for preset in range(len(runs[0]["params"])):
    p = runs[0]["params"][preset]
    f = p["figures"]
    lines.append(f"**Preset `{f['name']}`**: board {f['board_rate_bytes_per_s'] / 1e3:.0f} kB/s, channel "
                 f"{f['channel_cap_bytes_per_s'] / 1e6:.2f} MB/s, sector erase {f['sector_erase_ms']:g} ms, page "
                 f"program {f['page_program_ms']:g} ms, SHA-256 {f['sha256_us_per_block']:g} µs per 64 B block, verify {f['verify_ms'] / 1e3:g} s, restart wait "
                 f"{f['restart_wait_ms'] / 1e3:g} s, boot + WiFi {f['boot_wifi_ms'] / 1e3:g} s; image "
                 f"{f['image_bytes']:,} B + {f['trailer_bytes']} B trailer. One board alone: upload and flash "
                 f"{p['upload_one_s']:.1f} s, reboot (eboot copy, boot, WiFi) {p['reboot_s']:.1f} s, "
                 f"**one node {p['one_node_median_s']:.1f} s** from the first byte to confirmed back.")
    lines.append("")
    for run in runs:
        q = run["params"][preset]
        cells = {(c["nodes"], c["parallel"]): c for c in q["cells"]}
        ns = sorted({c["nodes"] for c in q["cells"]})
        ws = sorted({c["parallel"] for c in q["cells"]})
        lines.append(f"| `{f['name']}`, canary {run['canary']}: N | " + " | ".join(f"W={w}" for w in ws) + " |")
        lines.append("| ---: | " + " | ".join("---:" for _ in ws) + " |")
        for n in ns:
            row = []
            for w in ws:
                c = cells[(n, w)]
                spread = "" if c["ratio_min"] == c["ratio_max"] else f" [{c['ratio_min']:.2f}-{c['ratio_max']:.2f}]"
                row.append(f"{c['median_s']:.1f} s, {c['waves']} wave{'s' if c['waves'] != 1 else ''}, "
                           f"**{c['ratio_median']:.2f}x**{spread}")
            lines.append(f"| {n} | " + " | ".join(row) + " |")
        lines.append("")
sens = [json.load(open(f"{out}/fleet_model_sens{c}.json")) for c in (0, 1)]
lines.append("Each figure alone at the other preset's value, N=20 (ratio to one node with the same figures, "
             "median of the seeds):")
lines.append("")
lines.append("| preset | figure changed | to (from) | one node | canary 0, W=20 | canary 1, W=20 | canary 1, W=4 |")
lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
for a, b in zip(sens[0]["sensitivity"], sens[1]["sensitivity"]):
    assert (a["preset"], a["figure"]) == (b["preset"], b["figure"])
    lines.append(f"| `{a['preset']}` | {a['figure']} | {a['value']:g} ({a['preset_value']:g}) | "
                 f"{a['one_node_median_s']:.1f} s | {a['ratios']['W=20']:.2f}x | {b['ratios']['W=20']:.2f}x | "
                 f"{b['ratios']['W=4']:.2f}x |")
lines.append("")
lines.append("Cells: median rollout time over the seeds, waves, **ratio to one node** (median of each "
             "seed's ratio to the same seed's one-node time) [min-max over the seeds when they differ].")
open(f"{out}/fleet_model.md", "w").write("\n".join(lines) + "\n")
EOF
cat "$OUT/fleet_model.md"
if [[ $UPDATE_DOCS == 1 ]]; then
  python3 bench/doc_section.py docs/benchmarks.md fleet-model "$OUT/fleet_model.md"
  echo "docs/benchmarks.md: fleet-model section updated"
fi
