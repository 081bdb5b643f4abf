# shellcheck shell=bash
# Helpers of the bench/ scripts: wall-clock timing, the namespace benches' prerequisites and release
# build, a scratch directory cleaned up at exit (bench/netns_poll.py polls many observers at once).
# Nodes start through tools/ctl/spored.sh (spawn_spored), as everywhere else.

# shellcheck source=tools/ctl/spored.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tools/ctl/spored.sh"

now_ms() { date +%s%3N; }

# time_until T0_MS COMMAND [ARGS...]: ms from T0_MS until COMMAND holds, polling every 50 ms.
# Gives up (prints a message, returns 1) after BENCH_WAIT_LIMIT_S seconds (default 300), so a
# run that never converges ends with a reason instead of running into the script's watchdog.
time_until() {
  local t0="$1" deadline=$((SECONDS + ${BENCH_WAIT_LIMIT_S:-300}))
  shift
  until "$@"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "time_until: gave up after ${BENCH_WAIT_LIMIT_S:-300} s waiting for: $*" >&2
      return 1
    fi
    sleep 0.05
  done
  echo $(($(now_ms) - t0))
}

# bench_netns_prereqs: the namespace bed's needs (root and its tools), or exit 1 saying which.
bench_netns_prereqs() {
  [ "$(id -u)" -eq 0 ] || { echo "$0: needs root (network namespaces); nothing run" >&2; exit 1; }
  local tool
  for tool in ip nft jq curl nsenter setpriv python3; do
    command -v "$tool" >/dev/null || { echo "$0: $tool is required (Debian: iproute2 nftables jq curl util-linux python3)" >&2; exit 1; }
  done
}

# bench_build_release_spored ROOT SPORED: when SPORED is the release preset's, brings it up to
# date (a no-op when it is): a stale build would measure old code.
bench_build_release_spored() {
  [ "$2" = "$1/build/release/spored" ] || return 0
  echo "$0: building $2 (cmake --preset release)" >&2
  (cd "$1" && { [ -f build/release/CMakeCache.txt ] || cmake --preset release >/dev/null; } &&
    cmake --build build/release -j2 --target spored >/dev/null)
}

# bench_scratch NAME: a scratch directory in WORK and a PIDS list; at exit (or INT / TERM) every
# process in PIDS is stopped and WORK removed.
bench_scratch() {
  WORK="$(mktemp -d "/tmp/spore-$1.XXXXXX")"
  PIDS=()
  trap bench_scratch_cleanup EXIT INT TERM
}
bench_scratch_cleanup() {
  [ ${#PIDS[@]} -eq 0 ] || kill "${PIDS[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
