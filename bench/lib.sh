# shellcheck shell=bash
# Wall-clock timing helpers of the bench/ scripts (bench/netns_poll.py polls many observers at
# once for the namespace bench).

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
