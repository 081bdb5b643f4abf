# shellcheck shell=bash
# The MQTT tests' broker (mqtt_*_test.sh), sourced after lib.sh and it_init: a real mosquitto on
# 127.0.0.1 (random free port, generated config, not daemonized, stopped by the cleanup), a
# subscriber writing everything under spore/ to $STREAM ("topic payload" per line), and helpers.
# Needs mosquitto + mosquitto-clients: without them the test is skipped (77), under CI=true it fails.
# The caller sets CLUSTER before using base().

MOSQUITTO="$(command -v mosquitto || true)"
[ -n "$MOSQUITTO" ] || { [ -x /usr/sbin/mosquitto ] && MOSQUITTO=/usr/sbin/mosquitto; }
if [ -z "$MOSQUITTO" ] || ! command -v mosquitto_sub >/dev/null || ! command -v mosquitto_pub >/dev/null; then
  if [ "${CI:-}" = "true" ]; then it_fail "mosquitto / mosquitto-clients missing (CI=true): ./ctl.sh setup installs them"; fi
  log "SKIP: mosquitto or mosquitto-clients not installed (apt-get install mosquitto mosquitto-clients)"
  trap - EXIT
  exit 77
fi

# ---- the broker
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat >"$IT_TMP/mosquitto.conf" <<EOF
listener $PORT 127.0.0.1
allow_anonymous true
persistence false
EOF
start_extra "$MOSQUITTO" -c "$IT_TMP/mosquitto.conf" >"$IT_TMP/mosquitto.log" 2>&1
broker_up() { timeout 3 mosquitto_pub -h 127.0.0.1 -p "$PORT" -t probe/up -m x 2>/dev/null; }
wait_until "mosquitto answers on 127.0.0.1:$PORT" 15 broker_up
log "mosquitto on 127.0.0.1:$PORT"

# Everything under spore/ goes to one file, one line per message: "topic payload".
STREAM="$IT_TMP/stream.txt"
start_extra stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$PORT" -v -t 'spore/#' -t 'probe/#' >"$STREAM" 2>&1
stream_has() { grep -q -- "$1" "$STREAM"; }
probe_stream() { timeout 3 mosquitto_pub -h 127.0.0.1 -p "$PORT" -t probe/sub -m ready && stream_has '^probe/sub ready'; }
wait_until "the stream subscriber is subscribed" 15 probe_stream

base() { printf 'spore/%s/n%s' "$CLUSTER" "$1"; }
# retained TOPIC: the retained payload of TOPIC (empty output when none within 2 s).
retained() { timeout 5 mosquitto_sub -h 127.0.0.1 -p "$PORT" -t "$1" -C 1 -W 2 2>/dev/null || true; }
retained_is() { [ "$(retained "$1")" = "$2" ]; }
pub() { timeout 5 mosquitto_pub -h 127.0.0.1 -p "$PORT" -t "$1" -m "$2"; }

# Commands carry a proof for the node's current nonce (docs/mqtt.md, "Commands").
mqtt_node_id() { retained "$(base "$1")/state" | jq -r .nodeId; }
# The same id as 8 hex digits: the form in the MQTT client id and inside command proofs.
mqtt_node_hex() { printf '%08x' "$(mqtt_node_id "$1")"; }
mqtt_nonce() { retained "$(base "$1")/cmd/nonce"; }
# signed K TOKEN COMMAND [ARGS...]: the payload `spore mqtt proof` makes for node K's current nonce.
signed() {
  local k="$1" tok="$2"
  shift 2
  "$SPORE" mqtt proof --node-id "$(mqtt_node_id "$k")" --nonce "$(mqtt_nonce "$k")" --token "$tok" "$@"
}
# nonce_renewed K OLD: node K's retained nonce is no longer OLD (a proof verified: it was spent).
nonce_renewed() { local n; n="$(mqtt_nonce "$1")"; [ -n "$n" ] && [ "$n" != "$2" ]; }

# ota_image_server DIR: serves DIR over HTTP on it_ip 200 (python3 http.server) for cmd/ota;
# sets WWW_IP and WWW_PORT.
ota_image_server() {
  WWW_IP="$(it_ip 200)"
  WWW_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  start_extra python3 -m http.server --bind "$WWW_IP" --directory "$1" "$WWW_PORT" >"$IT_TMP/www.log" 2>&1
  www_up() { curl -sf -o /dev/null --max-time 2 "http://$WWW_IP:$WWW_PORT/"; }
  wait_until "the image server answers" 15 www_up
}

# ota_command_answered PAYLOAD: publishes PAYLOAD on node 1's cmd/ota and prints the answer that
# follows on cmd/result.
ota_command_answered() {
  local n0
  n0="$(grep -c "^$(base 1)/cmd/result " "$STREAM" || true)"
  pub "$(base 1)/cmd/ota" "$1"
  wait_until "an answer on cmd/result" 10 bash -c "[ \$(grep -c '^$(base 1)/cmd/result ' '$STREAM') -gt $n0 ]"
  grep "^$(base 1)/cmd/result " "$STREAM" | sed -n "$((n0 + 1))p" | cut -d' ' -f2-
}
