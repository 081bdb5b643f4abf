#!/usr/bin/env bash
# Issue 20, finding 3, with real processes and a cluster key: n2 has the attacker on its join list,
# so the attacker holds n2's join ANNOUNCEs and later ones. n2 crashes (SIGKILL) and n1 forgets it
# (DEAD, then --dead-retention-ms). 30 replays of everything captured of n2, from the attacker's
# address, must not bring n2 back into n1's table. On protocol v1, forgetting n2 forgot its replay
# window too: the first replay put n2 back, ACTIVE, at the attacker's address.
source "$(dirname "$0")/lib.sh"
it_init 266 120
source "$(dirname "$0")/attack_lib.sh"
key="$(attack_key_file)"
IT_NODE_ARGS=(--profile fast --dead-retention-ms 2000 --cluster-key-file "$key")
start_extra python3 "$ATK" capture --bind "$EVE:$IT_UDP_PORT" --out "$IT_TMP/capture.txt"
start_node 1
start_node 2 --join "$EVE:$IT_UDP_PORT"
wait_until "2 nodes converge" 30 converged 1 2
sleep 3
n2_id="$(node_id_of 2)"
[ "$(wc -l <"$IT_TMP/capture.txt")" -ge 3 ] || it_fail "the attacker captured fewer than 3 datagrams of n2"
stop_node 2 KILL
forgotten() { [ "$(status_at 1 n2)" = ABSENT ]; }
wait_until "n1 forgets the crashed n2" 30 forgotten
log "n1 forgot n2; replaying $(wc -l <"$IT_TMP/capture.txt") captured datagrams of it"
python3 "$ATK" replay --capture "$IT_TMP/capture.txt" --sender "$n2_id" --to "$(it_ip 1):$IT_UDP_PORT" \
  --bind "$EVE" --newest 30 --interval 0.2 >"$IT_TMP/replayed" &
replayer=$!
IT_EXTRA_PIDS+=("$replayer")
end=$((SECONDS + 9))
while [ "$SECONDS" -lt "$end" ]; do
  s="$(status_at 1 n2)"
  [ "$s" = ABSENT ] || it_fail "a replay of the forgotten n2 put it back at n1: status $s at $(field_at 1 n2 .ip)"
  sleep 0.2
done
wait "$replayer"
log "PASS: $(cat "$IT_TMP/replayed") replays of the forgotten n2 did not revive it"
