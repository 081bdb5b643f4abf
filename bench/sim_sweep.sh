#!/usr/bin/env bash
# Simulation sweep (issue 6, item 3): SPORE against the seed's design on the same simulated network.
#
# Usage: bench/sim_sweep.sh [--update-docs]
#
# Generates scenario files into build/bench/sweep/, runs each with spore-sim --json (sequentially:
# one process at a time) and writes
#   build/bench/sim_sweep.json   raw results: every run's spore-sim JSON with what it measured
#   build/bench/sim_sweep.md     Markdown tables, the command line at the top
#   build/bench/traffic_vs_n.png received bytes per node per second and detection time vs N
# With --update-docs it also replaces the text between <!-- sim-sweep:begin --> and
# <!-- sim-sweep:end --> in docs/benchmarks.md and copies the plot to docs/img/traffic_vs_n.png.
#
# Binaries (both optimised, built or brought up to date by this script, -j2):
#   build/release/spore-sim  the `release` preset (-O3 -DNDEBUG, host defaults: SPORE_MAX_MEMBERS 64):
#                            every point with N <= 64 and the CPU measurements
#   build/sim255/spore-sim   the same settings with -DSPORE_MAX_MEMBERS=255 (the most core allows):
#                            points with N > 64, so N=100 and 200 have full view (every table lists
#                            every peer) and "converged" means every node shows every node ACTIVE
# (SPORE_SIM / SPORE_SIM_FULL override them.)
#
# Measured, for N = 5 .. 200:
#   join     a late `start` of one idle node into a settled cluster: time until every running node
#            shows every running node ACTIVE again (reconverge_max_ms, 10 ms check resolution)
#   crash    crash of one node: time until it is INACTIVE at every peer that had it ACTIVE
#   steady   traffic per node per second at steady state: two runs of the same seeded scenario,
#            30 s and 90 s long (fast: 15 s and 45 s, seed model 5 s and 15 s; deterministic), the
#            difference of their totals; the short run also gives the cold-start convergence time
#            (all N boot together until full view, 10 ms check resolution)
#   loss     false INACTIVE / DEAD per node-hour, N=20 for 10 virtual minutes at 0/10/20/30 % loss,
#            plus N=50 at 10 % (the DESIGN.md §4 budget)
#   cpu      instructions per node-second under callgrind (N=10, lan, build/release): total, and
#            core's share (Membership::on_datagram + NodeContext::loop, inclusive, less the
#            simulator's datagram queueing and event log inside them; reported only when callgrind
#            lists both entry points), difference of a 60 s and a 10 s run
# Every SPORE run also checks that core allocates nothing after begin() (spore-sim's
# core-allocation invariant); the report counts the runs where it broke.
# Each for `protocol spore` (profiles lan = default and fast) and `protocol seed` (the seed's
# design: broadcast discovery + HTTP poll of every member every second; its own thresholds), when
# spore-sim accepts the `protocol` setting; otherwise the seed columns are "n/a".
# Debian packages it needs (jq, valgrind, python3-matplotlib) are installed when missing (root).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SIM="${SPORE_SIM:-$ROOT/build/release/spore-sim}"
SIM_FULL="${SPORE_SIM_FULL:-$ROOT/build/sim255/spore-sim}"
# The wide build's capacity: the most core allows (membership.h indexes peer slots with uint8_t).
FULL_MAX_MEMBERS=255
OUT="$ROOT/build/bench"
DIR="$OUT/sweep"
UPDATE_DOCS=0
for arg in "$@"; do
  case "$arg" in
    --update-docs) UPDATE_DOCS=1 ;;
    -h | --help) sed -n '2,41p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--update-docs]" >&2; exit 2 ;;
  esac
done
COMMAND="bench/sim_sweep.sh${1:+ $*}"

# ---- prerequisites ------------------------------------------------------------------------------
need_debs=()
command -v jq >/dev/null || need_debs+=(jq)
command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null || need_debs+=(valgrind)
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null || need_debs+=(python3-matplotlib)
if [ "${#need_debs[@]}" -gt 0 ]; then
  echo "sim_sweep: installing Debian packages: ${need_debs[*]}" >&2
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "sim_sweep: need root and apt-get to install ${need_debs[*]} (or install them yourself)" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${need_debs[@]}" >/dev/null ||
    { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y "${need_debs[@]}" >/dev/null; }
fi
# Both binaries are brought up to date (a no-op when they are): a stale optimised build would
# measure yesterday's code. Two jobs at most: other benchmarks may share this machine.
if [ -z "${SPORE_SIM:-}" ]; then
  [ -f build/release/CMakeCache.txt ] || cmake --preset release >/dev/null
  echo "sim_sweep: building build/release/spore-sim (Release, -O3)" >&2
  cmake --build build/release -j2 --target spore-sim >/dev/null
fi
if [ -z "${SPORE_SIM_FULL:-}" ]; then
  # The release preset's settings (CMakePresets.json), plus the wider member table.
  [ -f build/sim255/CMakeCache.txt ] ||
    cmake -S . -B build/sim255 -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPORE_TESTS=OFF \
      -DCMAKE_CXX_FLAGS=-DSPORE_MAX_MEMBERS=$FULL_MAX_MEMBERS >/dev/null
  echo "sim_sweep: building build/sim255/spore-sim (Release, -O3, SPORE_MAX_MEMBERS=$FULL_MAX_MEMBERS)" >&2
  cmake --build build/sim255 -j2 --target spore-sim >/dev/null
fi
for bin in "$SIM" "$SIM_FULL"; do
  [ -x "$bin" ] || { echo "sim_sweep: $bin is missing" >&2; exit 1; }
done

rm -rf "$DIR"
mkdir -p "$DIR"
RUNS="$DIR/runs.jsonl"  # one line per run: {kind, protocol, profile, n, ..., run: <spore-sim scenario>}
: >"$RUNS"

printf 'nodes 2\nduration 1s\n' >"$DIR/probe.scn"
# Does this spore-sim know `protocol seed`?
printf 'nodes 3\nprotocol seed\nduration 10s\n' >"$DIR/probe_seed.scn"
if "$SIM" --check "$DIR/probe_seed.scn" >/dev/null 2>&1; then SEED_MODEL=1; else SEED_MODEL=0; fi
PROTOCOLS=(spore)
# Member table capacity of each binary (spore-sim --json reports it): the wide one is used where
# the default one cannot hold every peer.
max_members_of() { "$1" --json "$DIR/probe.scn" | jq -r '.spore_max_members'; }
SIM_MAX_MEMBERS="$(max_members_of "$SIM")"
SIM_FULL_MAX_MEMBERS="$(max_members_of "$SIM_FULL")"
echo "sim_sweep: $SIM holds $SIM_MAX_MEMBERS members, $SIM_FULL holds $SIM_FULL_MAX_MEMBERS" >&2
[ "$SEED_MODEL" = 1 ] && PROTOCOLS+=(seed)
echo "sim_sweep: protocol seed $([ "$SEED_MODEL" = 1 ] && echo available || echo 'not accepted by spore-sim: seed columns n/a')" >&2

NS=(5 10 20 50 100 200)

# profiles to run for a protocol: SPORE has two, the seed model one (its own thresholds = lan's).
profiles_of() { if [ "$1" = spore ]; then echo "lan fast"; else echo lan; fi; }
# protocol line for a scenario file (none for spore, so older spore-sim builds accept it).
protocol_line() { if [ "$1" = seed ]; then echo "protocol seed"; fi; }

# run KIND JSON_META FILE [spore-sim args]: runs one scenario, appends {meta..., build, run} to $RUNS.
# Exit status 1 (an invariant broke) is data, not an error: the run's JSON says which.
# N - 1 peers that do not fit the default build's table run on the wide build (full view).
run() {
  local kind="$1" meta="$2" file="$3" json rc=0 n sim build
  shift 3
  n="$(jq -r '.n' <<<"$meta")"
  if [ "$((n - 1))" -gt "$SIM_MAX_MEMBERS" ]; then sim="$SIM_FULL" build=sim255; else sim="$SIM" build=release; fi
  json="$("$sim" --json "$@" "$file")" || rc=$?
  if [ "$rc" -gt 1 ]; then
    echo "sim_sweep: spore-sim failed (exit $rc) on $file" >&2
    exit 1
  fi
  jq -c --arg kind "$kind" --arg file "${file#"$ROOT"/}" --arg build "$build" --argjson meta "$meta" \
    '{kind: $kind, file: $file} + $meta + {build: $build, max_members: .spore_max_members, run: .scenarios[0]}' <<<"$json" >>"$RUNS"
}

t_start=$SECONDS
for proto in "${PROTOCOLS[@]}"; do
  for profile in $(profiles_of "$proto"); do
    # settle time before the late join / crash, time after it, the two steady-state run lengths
    # (fast: everything within 2 s, so shorter runs; lan: the 10 s INACTIVE threshold, 6 s join bound;
    # the seed model has no join burst to wait out, and N=200 costs ~1 s of wall time per virtual s),
    # and for the seed model its own bounds, written out (docs/simulation.md: 5.4 s and 14 s).
    if [ "$profile" = fast ]; then settle=10 after=10 d1=15 d2=45; else settle=30 after=20 d1=30 d2=90; fi
    if [ "$proto" = seed ]; then settle=12 after=16 d1=5 d2=15; fi
    if [ "$proto" = seed ]; then bounds="expect converged within 6s"$'\n'"expect detect crash within 15s"; else bounds=""; fi
    for n in "${NS[@]}"; do
      meta="{\"protocol\":\"$proto\",\"profile\":\"$profile\",\"n\":$n}"
      echo "sim_sweep: $proto $profile N=$n ($((SECONDS - t_start)) s)" >&2
      # join: node N-1 idle, started once the others have settled.
      f="$DIR/join_${proto}_${profile}_$n.scn"
      cat >"$f" <<EOF
# generated by bench/sim_sweep.sh: a late start of one node into a settled cluster
name join_${proto}_${profile}_$n
nodes $n
$(protocol_line "$proto")
profile $profile
seed $n
idle $((n - 1))
check-every 10ms
duration $((settle + after))s
at ${settle}s start $((n - 1))
$bounds
EOF
      run join "$meta" "$f"
      # crash: node 1 stops dead once everything has settled.
      f="$DIR/crash_${proto}_${profile}_$n.scn"
      cat >"$f" <<EOF
# generated by bench/sim_sweep.sh: one crash in a settled cluster
name crash_${proto}_${profile}_$n
nodes $n
$(protocol_line "$proto")
profile $profile
seed $((n + 1000))
duration $((settle + after))s
at ${settle}s crash 1
$bounds
EOF
      run crash "$meta" "$f"
      # steady: the same seeded scenario for d1 and for d2 seconds; the report takes the difference.
      for d in $d1 $d2; do
        f="$DIR/steady_${proto}_${profile}_${n}_$d.scn"
        cat >"$f" <<EOF
# generated by bench/sim_sweep.sh: traffic at steady state (difference of a ${d1} s and a ${d2} s run)
name steady_${proto}_${profile}_${n}_$d
nodes $n
$(protocol_line "$proto")
profile $profile
seed $((n + 2000))
check-every 10ms
duration ${d}s
$bounds
EOF
        run steady "{\"protocol\":\"$proto\",\"profile\":\"$profile\",\"n\":$n,\"duration_s\":$d,\"steady\":\"$([ "$d" = "$d1" ] && echo short || echo long)\"}" "$f"
      done
    done
    # crash detection p99 budget (fast, N=20): 10 more seeds of the N=20 crash scenario.
    if [ "$proto" = spore ] && [ "$profile" = fast ]; then
      for s in $(seq 1 10); do
        run crash_seeds "{\"protocol\":\"$proto\",\"profile\":\"$profile\",\"n\":20,\"seed\":$s}" \
          "$DIR/crash_${proto}_${profile}_20.scn" --seed "$s"
      done
    fi
    # false alarms under loss: N=20 at 0/10/20/30 %, N=50 at 10 %, 10 virtual minutes each.
    for c in 20:0 20:10 20:20 20:30 50:10; do
      n="${c%:*}" loss="${c#*:}"
      echo "sim_sweep: $proto $profile N=$n loss $loss % ($((SECONDS - t_start)) s)" >&2
      f="$DIR/loss_${proto}_${profile}_${n}_$loss.scn"
      cat >"$f" <<EOF
# generated by bench/sim_sweep.sh: 10 minutes under loss, no crash: every INACTIVE/DEAD is false
name loss_${proto}_${profile}_${n}_$loss
nodes $n
$(protocol_line "$proto")
profile $profile
seed $((n * 100 + loss))
loss ${loss}%
delay 2ms
jitter 3ms
duration 10m
expect converged within 60s
EOF
      run loss "{\"protocol\":\"$proto\",\"profile\":\"$profile\",\"n\":$n,\"loss\":$loss}" "$f"
    done
  done
done

# ---- CPU: instructions under callgrind, N=10, lan, 60 s minus 10 s --------------------------------
# Counting the difference of two runs removes process start, parsing and the join burst.
# build/release is an -O3 x86-64 host build: the counts are for that, not for -Os on the lx106.
for proto in "${PROTOCOLS[@]}"; do
  for d in 10 60; do
    f="$DIR/cpu_${proto}_lan_10_$d.scn"
    printf '# generated by bench/sim_sweep.sh: CPU under callgrind\nname cpu_%s_lan_10_%s\nnodes 10\n%s\nprofile lan\nseed 10\nduration %ss\n' \
      "$proto" "$d" "$(protocol_line "$proto")" "$d" >"$f"
    echo "sim_sweep: callgrind $proto N=10 ${d} s ($((SECONDS - t_start)) s)" >&2
    valgrind --tool=callgrind --callgrind-out-file="$DIR/callgrind_${proto}_$d.out" \
      "$SIM" --json "$f" >/dev/null 2>"$DIR/callgrind_${proto}_$d.log" || true
    total=$(callgrind_annotate --auto=no "$DIR/callgrind_${proto}_$d.out" 2>/dev/null |
      awk '/PROGRAM TOTALS/ && !t { gsub(",", "", $1); t = $1 } END { print t }')
    # core's entry points on the simulator's call stack, inclusive (they do not nest in each other),
    # less what the simulator does on core's behalf inside them: queueing sent datagrams (the
    # node's UdpPort, CountedNode::send_to / broadcast) and logging events (SimNode::on_event).
    # (--auto=no: only the per-function summary lines, "COUNT (PCT)  FILE:FUNCTION [BINARY]"; run from
    # the repository, callgrind_annotate lists a function once by absolute and once by relative path:
    # the first line of each function counts.) Under -O3 the one-line NodeContext::loop is inlined
    # into its caller SimNode::loop (a null check around it), which then stands for it. Both entry
    # points are called across a library boundary, so they stay functions; if either is missing
    # from the profile the share is null, not a wrong number.
    core=$(callgrind_annotate --inclusive=yes --threshold=100 --auto=no "$DIR/callgrind_${proto}_$d.out" 2>/dev/null |
      awk 'function n(s) { gsub(",", "", s); return s + 0 }
           /:spore::Membership::on_datagram\(/ && a == "" { a = n($1) }
           /:spore::NodeContext::loop\(\)/ && l == "" { l = n($1) }
           /:spore::sim::SimNode::loop\(\)/ && sl == "" { sl = n($1) }
           /CountedNode::send_to\(/ && u == "" { u = n($1) }
           /CountedNode::broadcast\(/ && b == "" { b = n($1) }
           /&spore::sim::SimNode::on_event>/ && e == "" { e = n($1) }
           END { if (l == "") l = sl
                 print (a != "" && l != "") ? a + l - u - b - e : "null" }')
    [ -n "$total" ] || { echo "sim_sweep: callgrind gave no total, see $DIR/callgrind_${proto}_$d.log" >&2; exit 1; }
    jq -nc --arg p "$proto" --argjson d "$d" --argjson t "$total" --argjson c "$core" \
      '{kind: "cpu", protocol: $p, profile: "lan", n: 10, duration_s: $d, build: "release", instructions: $t, core_instructions: $c}' >>"$RUNS"
  done
done

CXX_BIN="$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' build/release/CMakeCache.txt 2>/dev/null)"
CXX_VERSION="$("${CXX_BIN:-c++}" --version 2>/dev/null | head -n 1 || echo unknown)"
# ---- results ------------------------------------------------------------------------------------
jq -s --arg cmd "$COMMAND" --arg date "$(date -u +%Y-%m-%dT%H:%MZ)" --arg rev "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --arg version "$("$SIM" --version)" --argjson seed_model "$SEED_MODEL" --argjson secs "$((SECONDS - t_start))" \
  --argjson max "$SIM_MAX_MEMBERS" --argjson full_max "$SIM_FULL_MAX_MEMBERS" \
  --arg cxx "$CXX_VERSION" \
  --arg arch "$(uname -m)" \
  '{command: $cmd, date: $date, git: $rev, spore_sim: $version, seed_model: ($seed_model == 1),
    sweep_seconds: $secs,
    builds: {release: {path: "build/release", flags: "-O3 -DNDEBUG", max_members: $max},
             sim255: {path: "build/sim255", flags: "-O3 -DNDEBUG -DSPORE_MAX_MEMBERS=255", max_members: $full_max},
             compiler: $cxx, arch: $arch},
    runs: .}' "$RUNS" >"$OUT/sim_sweep.json"
python3 "$ROOT/bench/sweep_report.py" "$OUT/sim_sweep.json" traffic_vs_n.png >"$OUT/sim_sweep.md"
/usr/bin/python3 "$ROOT/bench/plot_sweep.py" "$OUT/sim_sweep.json" "$OUT/traffic_vs_n.png"
echo "sim_sweep: $OUT/sim_sweep.json, $OUT/sim_sweep.md, $OUT/traffic_vs_n.png ($((SECONDS - t_start)) s)" >&2

if [ "$UPDATE_DOCS" = 1 ]; then
  DOC="$ROOT/docs/benchmarks.md"
  mkdir -p "$ROOT/docs/img"
  cp "$OUT/traffic_vs_n.png" "$ROOT/docs/img/traffic_vs_n.png"
  python3 "$ROOT/bench/sweep_report.py" "$OUT/sim_sweep.json" img/traffic_vs_n.png >"$DIR/section.md"
  python3 "$ROOT/bench/doc_section.py" "$DOC" sim-sweep "$DIR/section.md"
  echo "sim_sweep: updated docs/benchmarks.md (between the sim-sweep markers) and docs/img/traffic_vs_n.png" >&2
fi
