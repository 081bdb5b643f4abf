#!/usr/bin/env bash
# One command that regenerates the generated sections of docs/benchmarks.md (issue 6).
#
# Usage: bench/all.sh        (from anywhere; root on Debian, so it can install what is missing)
#
# Runs, one after the other, each bench script that owns a marked section of docs/benchmarks.md:
#   bench/sim_sweep.sh --update-docs            <!-- sim-sweep:begin --> .. <!-- sim-sweep:end -->
#   bench/memberlist_vs_spore.sh --update-docs -r R   <!-- memberlist:begin --> .. (when the script
#       supports --update-docs); R = BENCH_MEMBERLIST_ROUNDS, default 1 so that the whole run takes
#       about 15 minutes (its own default, 3 rounds, takes about 25 minutes: for medians of 3 run
#       BENCH_MEMBERLIST_ROUNDS=3 BENCH_ALL_LIMIT_S=2400 bench/all.sh). BENCH_SKIP_MEMBERLIST=1
#       skips it (no root for namespaces, or a machine where loopback timing is being measured).
# Debian packages are installed when missing (cmake and a C++ toolchain for the build, jq,
# valgrind, python3-matplotlib; the memberlist bench installs its own Go packages). The whole run
# is bounded: each step runs under `timeout`, all of them within BENCH_ALL_LIMIT_S (default 1800 s; a run took 860 s on the 2-core development machine).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LIMIT="${BENCH_ALL_LIMIT_S:-1800}"
t0=$SECONDS

# Debian packages for building spore-sim and for the sweep.
need=()
for tool in cmake:cmake g++:g++ jq:jq valgrind:valgrind; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null || need+=(python3-matplotlib)
if [ "${#need[@]}" -gt 0 ]; then
  echo "bench/all.sh: installing Debian packages: ${need[*]}"
  [ "$(id -u)" -eq 0 ] || { echo "bench/all.sh: run as root (or install ${need[*]} yourself)" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >/dev/null ||
    { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >/dev/null; }
fi
if [ ! -x build/dev/spore-sim ]; then
  echo "bench/all.sh: building spore-sim (./ctl.sh build host has the full list of build dependencies)"
  [ -f build/dev/CMakeCache.txt ] || cmake --preset dev >/dev/null
  cmake --build build/dev -j2 --target spore-sim >/dev/null
fi

# step NAME COMMAND...: runs COMMAND within what is left of LIMIT.
step() {
  local name="$1" left=$((LIMIT - (SECONDS - t0)))
  shift
  [ "$left" -gt 30 ] || { echo "bench/all.sh: no time left for $name (limit ${LIMIT} s)" >&2; exit 1; }
  echo "bench/all.sh: $name (at most $left s)"
  timeout --kill-after=10 "$left" "$@" || { echo "bench/all.sh: $name failed or timed out (exit $?)" >&2; exit 1; }
}

step "simulation sweep" bench/sim_sweep.sh --update-docs
if [ "${BENCH_SKIP_MEMBERLIST:-0}" = 1 ]; then
  echo "bench/all.sh: memberlist vs spore skipped (BENCH_SKIP_MEMBERLIST=1): its section is not regenerated"
elif [ -x bench/memberlist_vs_spore.sh ] && grep -q -- '--update-docs' bench/memberlist_vs_spore.sh; then
  step "memberlist vs spore" bench/memberlist_vs_spore.sh --update-docs -r "${BENCH_MEMBERLIST_ROUNDS:-1}"
else
  echo "bench/all.sh: TODO bench/memberlist_vs_spore.sh has no --update-docs yet: its section is not regenerated"
fi
echo "bench/all.sh: done in $((SECONDS - t0)) s; see git diff docs/benchmarks.md docs/img/"
