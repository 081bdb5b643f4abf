#!/usr/bin/env bash
# One command that regenerates the generated sections of docs/benchmarks.md (issue 6).
#
# Usage: bench/all.sh        (from anywhere; root on Debian, so it can install what is missing)
#
# Runs, one after the other, each bench script that owns a marked section of docs/benchmarks.md:
#   bench/sim_sweep.sh --update-docs     <!-- sim-sweep:begin --> .. <!-- sim-sweep:end -->
#   bench/fleet_model.sh --update-docs   <!-- fleet-model:begin --> .. <!-- fleet-model:end -->  (the
#       ESP-01 fleet rollout model, spore-sim fleet; about 20 s)
#   bench/join_sim.sh --update-docs      <!-- join-sim:begin --> .. <!-- join-sim:end -->  (a late
#       join against the seed's design, issue 22)
#   bench/liveness_sim.sh --update-docs  <!-- liveness-sim:begin --> .. <!-- liveness-sim:end -->
#       (the DIGEST chain against the broadcast and the seed's design, issue 22; about 10 minutes)
#   bench/netns_bench.sh -n 20 -L "broadcast digest" --update-docs   <!-- netns:begin --> ..
#       <!-- netns:end -->  (SPORE, broadcast and digest, against memberlist in network namespaces,
#       N = 20; BENCH_SKIP_NETNS=1 skips it, e.g. without root)
# On a fresh Debian machine it first installs what it needs: the host build's packages
# (`./ctl.sh deps`) and valgrind, python3-matplotlib, golang-go and
# golang-github-hashicorp-memberlist-dev. The whole run is bounded: each step runs under
# `timeout`, all of them within BENCH_ALL_LIMIT_S (default 3600 s; the steps' own figures: sim sweep
# ~15 min, liveness ~10 min, namespaces ~10 min on the 2-core development machine).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LIMIT="${BENCH_ALL_LIMIT_S:-3600}"
t0=$SECONDS

# Debian packages: the host build's (ctl.sh's list), then the benchmarks' own.
[ "$(id -u)" -eq 0 ] || [ "${BENCH_SKIP_NETNS:-0}" = 1 ] ||
  { echo "bench/all.sh: run as root (network namespaces, Debian packages), or BENCH_SKIP_NETNS=1" >&2; exit 1; }
./ctl.sh deps
need=()
for p in valgrind python3-matplotlib golang-go golang-github-hashicorp-memberlist-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "bench/all.sh: installing Debian packages: ${need[*]}"
  [ "$(id -u)" -eq 0 ] || { echo "bench/all.sh: run as root (or apt-get install ${need[*]} yourself)" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
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
step "ESP-01 fleet rollout model" bench/fleet_model.sh --update-docs
step "late join against the seed's design" bench/join_sim.sh --update-docs
step "liveness by DIGEST chain in the simulator" bench/liveness_sim.sh --update-docs
if [ "${BENCH_SKIP_NETNS:-0}" = 1 ]; then
  echo "bench/all.sh: network-namespace bench skipped (BENCH_SKIP_NETNS=1): its section is not regenerated"
else
  step "SPORE vs memberlist in network namespaces" bench/netns_bench.sh -n 20 -L "broadcast digest" --update-docs
fi
echo "bench/all.sh: done in $((SECONDS - t0)) s; see git diff docs/benchmarks.md docs/img/"
