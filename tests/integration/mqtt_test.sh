#!/usr/bin/env bash
# The MQTT bridge (docs/mqtt.md) end to end: a real mosquitto broker on 127.0.0.1 (random free
# port, generated config, not daemonized) and 3 spored nodes with --mqtt, checked with
# mosquitto_sub / mosquitto_pub: retained status "online" and state JSON, Home Assistant discovery
# documents (every one checked against HA's documented rules by ha_discovery_check.py), members topics, a cluster event published with cmd/publish (under the publisher's
# events topic only), restart with a wrong token (refused, answered) and the right one (the node
# comes back), SIGKILL -> "offline" through the last will, SIGTERM -> "offline" at once, and the
# API token in no retained message.
# Needs mosquitto + mosquitto-clients: without them the test is skipped (77), under CI=true it fails.
source "$(dirname "$0")/lib.sh"
it_init 175

source "$(dirname "$0")/mqtt_lib.sh"
CLUSTER=it175

for k in 1 2 3; do
  printf 'token-n%s\n' "$k" >"$IT_TMP/token$k"
  chmod 600 "$IT_TMP/token$k"
done
IT_NODE_ARGS=(--profile fast --mqtt "mqtt://127.0.0.1:$PORT" --mqtt-cluster "$CLUSTER" --mqtt-keepalive-s 5
  --mqtt-state-interval-s 5)
start_node 1 --api-token-file "$IT_TMP/token1"
start_node 2 --api-token-file "$IT_TMP/token2"
start_node 3 --api-token-file "$IT_TMP/token3"
wait_until "3 nodes converge" 60 converged 1 2 3

# ---- status and state, retained
for k in 1 2 3; do
  wait_until "n$k status online (retained)" 20 retained_is "$(base "$k")/status" online
done
state_ok() {
  retained "$(base "$1")/state" | jq -e --arg ip "$(it_ip "$1")" '.status == "online" and .ip == $ip
    and (.freeHeap | type == "number") and (.uptimeMs | type == "number") and (.firmwareVersion | length > 0)
    and (.nodeId | type == "number") and .members == {"active": 3, "inactive": 0, "dead": 0}' >/dev/null
}
for k in 1 2 3; do wait_until "n$k state JSON shows 3 active members" 30 state_ok "$k"; done
log "status online and state JSON (3 active) retained for n1, n2, n3"

# ---- Home Assistant discovery: 7 documents per node, each checked against HA's documented rules
# (keys and abbreviations, no deprecated object_id, default_entity_id, unique ids, state and
# availability topics the templates read, configuration_url answering with the dashboard).
ID1="$(mqtt_node_id 1)"
[[ "$ID1" =~ ^[0-9]+$ ]] || it_fail "nodeId in n1's state is not a decimal number: $ID1"
[ "$ID1" = "$(curl -sf "$(it_url 1)/api/node/status" | jq -r .nodeId)" ] || it_fail "the state's nodeId is not the REST API's"
timeout 10 mosquitto_sub -h 127.0.0.1 -p "$PORT" -t 'homeassistant/#' -t "spore/$CLUSTER/#" --retained-only -W 2 -v \
  >"$IT_TMP/discovery.txt" 2>/dev/null || true
python3 "$(dirname "$0")/ha_discovery_check.py" "$IT_TMP/discovery.txt" 21 >"$IT_TMP/discovery-check.txt" ||
  it_fail "Home Assistant discovery breaks HA's rules: $(cat "$IT_TMP/discovery-check.txt")"
grep -q "^homeassistant/sensor/spore_$ID1/members_active/config: sensor.n1_members_active = 3$" "$IT_TMP/discovery-check.txt" ||
  it_fail "n1's members_active entity does not read 3: $(cat "$IT_TMP/discovery-check.txt")"
log "Home Assistant discovery: 21 documents (7 per node) follow HA's rules; n1 is spore_$ID1"

# ---- members topics
for k in 1 2 3; do
  for p in 1 2 3; do
    [ "$k" = "$p" ] && continue
    wait_until "n$k reports n$p ACTIVE" 20 retained_is "$(base "$k")/members/n$p" ACTIVE
  done
done
log "members topics: every node reports both peers ACTIVE (retained)"

# ---- a cluster event through cmd/publish: under the publisher's events topic, once
pub "$(base 1)/cmd/publish" "$(signed 1 token-n1 publish led/state on)"
wait_until "cmd/publish accepted" 15 stream_has "^$(base 1)/cmd/result {\"command\":\"publish\",\"status\":\"accepted\"}"
wait_until "the event on n1's events topic" 15 stream_has "^$(base 1)/events/led/state "
line="$(grep "^$(base 1)/events/led/state " "$STREAM" | head -1)"
jq -e --argjson id "$ID1" '.nodeId == $id and .data == "on" and .seq >= 1 and (.epoch | type == "number")' \
  <<<"${line#* }" >/dev/null || it_fail "event JSON is wrong: $line"
sleep 2  # n2 and n3 received the event too; they must not bridge it
n="$(grep -c "/events/led/state " "$STREAM" || true)"
[ "$n" = 1 ] || it_fail "the event was bridged $n times (only the publisher bridges its own events)"
log "cmd/publish: event bridged once, by the publisher, $(jq -c . <<<"${line#* }")"

# ---- restart: a proof made with a wrong token, or the plain token, is refused and answered; a
# valid proof restarts the node
pid2="$(node_pid 2)"
# The MQTT client id carries the node id in hex (23 bytes, the MQTT 3.1.1 limit).
ID2="$(mqtt_node_hex 2)"
ID3="$(mqtt_node_hex 3)"
pub "$(base 2)/cmd/restart" "$(signed 2 wrong-token restart)"
wait_until "wrong token answered" 15 stream_has "^$(base 2)/cmd/result .*\"code\":\"auth_invalid\""
pub "$(base 2)/cmd/restart" "token-n2"
wait_until "plain token answered" 15 stream_has "^$(base 2)/cmd/result .*\"code\":\"proof_required\""
sleep 1
grep -q "^$(base 2)/status offline" "$STREAM" && it_fail "n2 went offline after a wrong token"
grep -q "restart requested" "$(node_log 2)" && it_fail "n2 restarted after a wrong token"
log "restart with a wrong proof / the plain token: refused (auth_invalid, proof_required), node untouched"

pub "$(base 2)/cmd/restart" "$(signed 2 token-n2 restart)"
wait_until "restart accepted" 15 stream_has "^$(base 2)/cmd/result {\"command\":\"restart\",\"status\":\"accepted\"}"
wait_until "n2 says offline while restarting" 15 stream_has "^$(base 2)/status offline"
came_back() { [ "$(grep -c "^$(base 2)/status online" "$STREAM")" -ge 2 ]; }
wait_until "n2 back online" 30 came_back
[ "$(node_pid 2)" = "$pid2" ] && node_alive 2 || it_fail "n2 is not running after its restart"
wait_until "n2 answers HTTP again" 20 node_answers 2
wait_until "n2 status online (retained)" 15 retained_is "$(base 2)/status" online
log "restart with the right token: accepted, offline, back online (same process, exec)"

# ---- the token is in no retained message
timeout 10 mosquitto_sub -h 127.0.0.1 -p "$PORT" -t '#' --retained-only -W 2 -v >"$IT_TMP/retained.txt" 2>/dev/null || true
[ -s "$IT_TMP/retained.txt" ] || it_fail "no retained messages at all?"
if grep -q 'token-n' "$IT_TMP/retained.txt"; then it_fail "an API token is in a retained message"; fi
log "$(wc -l <"$IT_TMP/retained.txt") retained messages, no token in any"

# ---- SIGKILL: the broker publishes the last will
stop_node 3 KILL
wait_until "n3 status offline through the last will" 20 retained_is "$(base 3)/status" offline
log "SIGKILL n3: retained status offline (last will)"
n3_not_active() { local s; s="$(retained "$(base 1)/members/n3")"; [ "$s" = INACTIVE ] || [ "$s" = DEAD ]; }
wait_until "n1 reports n3 INACTIVE or DEAD" 30 n3_not_active
log "n1/members/n3: $(retained "$(base 1)/members/n3")"

# ---- SIGTERM: offline at once (published by leave(), not by the will)
stop_node 2 TERM
[ "$IT_LAST_EXIT" = 0 ] || it_fail "n2 exited with $IT_LAST_EXIT after SIGTERM"
[ "$(retained "$(base 2)/status")" = offline ] || it_fail "n2 status is not offline right after SIGTERM"
# The broker's log tells a clean DISCONNECT (no will) from a dropped connection (will fired).
clean="$(grep -Ec "Client spore-$ID2-[0-9a-f]{8} disconnected\.$" "$IT_TMP/mosquitto.log" || true)"
[ "$clean" = 2 ] || it_fail "n2 should have disconnected cleanly twice (restart, SIGTERM), broker log says $clean: $(grep "spore-$ID2" "$IT_TMP/mosquitto.log")"
if grep -E "Client spore-$ID2-[0-9a-f]{8} " "$IT_TMP/mosquitto.log" | grep -Eq "closed its connection|due to|error"; then
  it_fail "n2 dropped a connection uncleanly: $(grep "spore-$ID2" "$IT_TMP/mosquitto.log")"
fi
grep -Eq "Client spore-$ID3-[0-9a-f]{8} closed its connection" "$IT_TMP/mosquitto.log" || it_fail "the broker did not see n3's connection drop"
log "SIGTERM n2: retained status offline at once, clean DISCONNECT (restart and stop), n3 dropped (will)"
