#!/usr/bin/env bash
# Liveness that scales (issue 22), in the simulator: the DIGEST chain against the broadcast design and
# the seed's design, side by side (bench/liveness_sim.py does the runs and the tables; --help there).
#
# Usage: bench/liveness_sim.sh [--update-docs] [--seeds K] [--loss-minutes M]
# Builds build/release/spore-sim and build/sim255/spore-sim (SPORE_MAX_MEMBERS=255, for N > 64) with
# two jobs, as bench/sim_sweep.sh does, then runs the sweep (about 10 minutes on 2 cores with the defaults).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
case "${1:-}" in -h | --help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
[ -f build/release/CMakeCache.txt ] || cmake --preset release >/dev/null
cmake --build build/release -j2 --target spore-sim >/dev/null
[ -f build/sim255/CMakeCache.txt ] ||
  cmake -S . -B build/sim255 -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPORE_TESTS=OFF \
    -DCMAKE_CXX_FLAGS=-DSPORE_MAX_MEMBERS=255 >/dev/null
cmake --build build/sim255 -j2 --target spore-sim >/dev/null
exec python3 bench/liveness_sim.py "$@"
