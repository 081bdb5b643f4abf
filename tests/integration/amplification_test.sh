#!/usr/bin/env bash
# Issue 20, finding 6, with real processes in open mode (no cluster key): requests of every type
# "from" a victim's address (the attacker binds it, as a forged source), 20 of each, some naming a
# second victim in their body. A node may send a victim at most the bytes it received from it
# (QUIC's anti-amplification rule, factor 1), and nothing to an address that sent it nothing (a
# PING_REQ may only make it probe a member, at the member's own address). On protocol v1 EVENT_REQ
# came back ~49 times larger, INFO_REQ ~13 times, and GOSSIP and PING_REQ reached the named victim.
# The attacker speaks the target's protocol version (read from a datagram it sent the attacker).
source "$(dirname "$0")/lib.sh"
it_init 268 150
source "$(dirname "$0")/attack_lib.sh"
start_extra python3 "$ATK" capture --bind "$EVE:$IT_UDP_PORT" --out "$IT_TMP/capture.txt"
start_node 1 --join "$EVE:$IT_UDP_PORT"
start_node 2
start_node 3
wait_until "3 nodes converge" 30 converged 1 2 3
payload="$(head -c 150 /dev/zero | tr '\0' x)"
for i in 1 2 3 4 5 6 7 8; do
  code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(token_of 1)" --data-binary "$payload" \
    "$(it_url 1)/api/cluster/events?topic=sensor")"
  [ "$code" = 202 ] || it_fail "publishing an event on n1 answered $code"
done
captured() { [ -s "$IT_TMP/capture.txt" ]; }
wait_until "n1 sends the attacker its ANNOUNCE" 10 captured
n1_id="$(node_id_of 1)"
n2_id="$(node_id_of 2)"
n3_id="$(node_id_of 3)"
n2_inc="$(curl -sf "$(it_url 2)/api/node/status" | jq -r .incarnation)"
failed=()
k=0
run() {  # run NAME KIND [amplify args...]
  local name="$1" kind="$2" out sent back named
  shift 2
  k=$((k + 1))
  out="$(python3 "$ATK" amplify --capture "$IT_TMP/capture.txt" --target-id "$n1_id" --to "$(it_ip 1):$IT_UDP_PORT" \
    --victim "$(it_ip $((30 + 2 * k)))" --named "$(it_ip $((31 + 2 * k)))" --kind "$kind" "$@")"
  read -r sent back named <<<"$out"
  log "$(printf '%-34s %6d B in, %6d B back to the forged source, %6d B to the named address' "$name" "$sent" "$back" "$named")"
  [ "$back" -le "$sent" ] && [ "$named" -eq 0 ] || failed+=("$name ($sent B in, $back B back, $named B to the named address)")
}
run "EVENT_REQ" event_req
run "EVENT_REQ as member n2" event_req --member-id "$n2_id" --member-incarnation "$n2_inc"
run "INFO_REQ" info_req
run "INFO_REQ as member n2" info_req --member-id "$n2_id" --member-incarnation "$n2_inc"
run "GOSSIP of unknown ids" gossip
run "PING" ping
run "PING_REQ to a non-member" ping_req
run "PING_REQ to member n3, named address" ping_req_member --ping-target-id "$n3_id"
[ ${#failed[@]} -eq 0 ] || it_fail "amplified: ${failed[*]}"
log "PASS: no request type sent a forged source more than it received, nor anything to a named address"
