#!/usr/bin/env bash
# Real spored processes on loopback: how long until a new node is ACTIVE at every peer, and how
# long until a SIGKILLed node is INACTIVE, then DEAD, at every peer, per profile.
#
# Usage: bench/loopback_membership.sh [ROUNDS]     (default 3; needs build/dev/spored and spore)
# Prints a Markdown table. Times are wall-clock ms measured by polling every peer's
# /api/cluster/members about every 50 ms, so each figure carries up to ~100 ms of polling slack.
# The default profile waits out the seed's 60 s DEAD threshold, so a run takes a few minutes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export SPORED="${SPORED:-$ROOT/build/dev/spored}" SPORE="${SPORE:-$ROOT/build/dev/spore}"
export SPORE_TEST_TMP="${SPORE_TEST_TMP:-$ROOT/build/bench}"
ROUNDS="${1:-3}"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [ROUNDS]" >&2; exit 2; }
[ -x "$SPORED" ] || { echo "build first: ./ctl.sh build (missing $SPORED)" >&2; exit 1; }
# shellcheck source=tests/integration/lib.sh
source "$ROOT/tests/integration/lib.sh"
it_init 240 $((ROUNDS * 400))

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"  # now_ms, time_until
PEERS=(1 2 3 4)

# True when every peer shows n5 with STATUS.
all_peers_see() { all_see n5 "$1" "${PEERS[@]}"; }

results=()
for profile in fast lan; do
  IT_NODE_ARGS=(--profile "$profile")
  for round in $(seq 1 "$ROUNDS"); do
    rm -rf "$IT_TMP"/node-*
    for k in "${PEERS[@]}"; do start_node "$k"; done
    wait_until "4 nodes converge" 60 converged "${PEERS[@]}"
    t0=$(now_ms)
    mkdir -p "$(node_dir 5)"
    spawn_spored log="$(node_log 5)" bin="$SPORED" hostname=n5 bind="$(it_ip 5)" http_port="$IT_HTTP_PORT" \
      udp_port="$IT_UDP_PORT" state_dir="$(node_dir 5)" -- "${IT_NODE_ARGS[@]}"
    IT_PID[5]=$SPAWN_PID
    disown "${IT_PID[5]}"  # it is SIGKILLed below on purpose; no "Killed" notice from bash
    join_ms=$(time_until "$t0" converged 1 2 3 4 5)
    t0=$(now_ms)
    kill -KILL "${IT_PID[5]}"
    inactive_ms=$(time_until "$t0" all_peers_see INACTIVE)
    dead_ms=$(time_until "$t0" all_peers_see DEAD)
    log "$profile round $round: join ${join_ms} ms, INACTIVE ${inactive_ms} ms, DEAD ${dead_ms} ms"
    results+=("$profile $join_ms $inactive_ms $dead_ms")
    unset "IT_PID[5]"
    for k in "${PEERS[@]}"; do stop_node "$k"; done
  done
done

echo "| profile | thresholds (INACTIVE / DEAD) | round | new node ACTIVE at all 5 (ms) | killed node INACTIVE at all 4 peers (ms) | DEAD at all 4 peers (ms) |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
declare -A round_of=()
for r in "${results[@]}"; do
  read -r profile join inactive dead <<<"$r"
  round_of[$profile]=$((${round_of[$profile]:-0} + 1))
  case "$profile" in fast) th="1.5 s / 6 s" ;; *) th="10 s / 60 s (seed)" ;; esac
  echo "| $profile | $th | ${round_of[$profile]} | $join | $inactive | $dead |"
done
