#!/usr/bin/env bash
# What one huge MQTT message on <base>/cmd/zz costs spored (docs/mqtt.md, "Security": the huge
# payload row and "Cap the message size at the broker"; issue 18 review, finding 4).
#
# Usage: bench/mqtt_huge_payload.sh [SIZE_MB]   (default 200; from a dev build: build/dev/spored)
#
# Starts a private mosquitto on 127.0.0.1 (a free port) and one spored (--mqtt, a token; bound to
# 127.0.238.2, the loopback net of it_init 238), publishes one SIZE_MB message (QoS 1) on
# <base>/cmd/zz and prints spored's peak RSS (VmHWM) before and after, whether it still answers
# REST, and the same again with the broker's `message_size_limit 4096`. Everything is cleaned up
# on exit; bounded (each wait <= 60 s). Needs mosquitto, mosquitto-clients, curl.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=tools/ctl/spored.sh
source "$ROOT/tools/ctl/spored.sh"  # spawn_spored
SIZE_MB="${1:-200}"
SPORED="${SPORED:-$ROOT/build/dev/spored}"
MOSQUITTO="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
[ -x "$SPORED" ] || { echo "$0: $SPORED missing (cmake --preset dev && cmake --build build/dev)" >&2; exit 1; }
[ -x "$MOSQUITTO" ] && command -v mosquitto_pub >/dev/null ||
  { echo "$0: needs mosquitto and mosquitto-clients (apt-get install mosquitto mosquitto-clients)" >&2; exit 1; }

TMP="$(mktemp -d /tmp/mqtt-huge.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
NODE_IP=127.0.238.2
HTTP_PORT=21238
BASE=spore/bench/n1
poll() { # poll LIMIT_S COMMAND...: until COMMAND holds
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do [ "$SECONDS" -lt "$deadline" ] || return 1; sleep 0.2; done
}
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

# run LABEL EXTRA_BROKER_CONFIG: one broker + one node, one huge message, the node's peak RSS.
run() {
  local label="$1" extra="$2" port dir broker node before after answers
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  dir="$TMP/$label"
  mkdir -p "$dir/state"
  chmod 700 "$dir/state"
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n%s\n' "$port" "$extra" >"$dir/mosquitto.conf"
  "$MOSQUITTO" -c "$dir/mosquitto.conf" >"$dir/mosquitto.log" 2>&1 &
  broker=$!
  PIDS+=("$broker")
  poll 15 mosquitto_pub -h 127.0.0.1 -p "$port" -t probe -m x 2>/dev/null
  printf 'bench-token\n' >"$dir/token"
  chmod 600 "$dir/token"
  spawn_spored new_log="$dir/node.log" bin="$SPORED" hostname=n1 bind="$NODE_IP" http_port="$HTTP_PORT" udp_port=20238 \
    state_dir="$dir/state" token_file="$dir/token" profile=fast -- --mqtt "mqtt://127.0.0.1:$port" --mqtt-cluster bench
  node=$SPAWN_PID
  PIDS+=("$node")
  online() { [ "$(timeout 5 mosquitto_sub -h 127.0.0.1 -p "$port" -t "$BASE/status" -C 1 -W 2 2>/dev/null)" = online ]; }
  poll 60 online || { echo "$label: the node did not come online" >&2; tail "$dir/node.log" >&2; exit 1; }
  sleep 1
  before="$(hwm_kb "$node")"
  head -c $((SIZE_MB * 1024 * 1024)) /dev/zero | tr '\0' 'A' >"$dir/big"
  timeout 60 mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t "$BASE/cmd/zz" -f "$dir/big" || true
  rm -f "$dir/big"
  sleep 3
  after="$(hwm_kb "$node")"
  answers=no
  curl -sf --max-time 3 "http://$NODE_IP:$HTTP_PORT/api/node/status" >/dev/null && answers=yes
  printf '%-26s spored peak RSS %6d kB -> %7d kB after one %d MB cmd/zz; alive: %s; REST answers: %s\n' \
    "$label" "$before" "$after" "$SIZE_MB" "$(kill -0 "$node" 2>/dev/null && echo yes || echo no)" "$answers"
  kill "$node" "$broker" 2>/dev/null || true
  wait "$node" "$broker" 2>/dev/null || true
}

run "broker default" ""
run "message_size_limit 4096" "message_size_limit 4096"
