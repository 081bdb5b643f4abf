#!/usr/bin/env bash
# Issue 20, findings 1 and 2, with real processes and a cluster key: n1 has the attacker on its
# join list, so it sends the attacker its ANNOUNCEs. n1 freezes (SIGSTOP); the attacker replays
# the newest three, 0.6 s apart, into n3 from its own address. A datagram sent to someone else is
# no evidence for n3: n3 must refuse (and count) every replay, see n1 INACTIVE in time, and keep
# n1 at the address n1 signed, never the replayer's. On protocol v1, n3 took the replays as news
# and listed n1 at the attacker's address.
source "$(dirname "$0")/lib.sh"
it_init 265 120
source "$(dirname "$0")/attack_lib.sh"
key="$(attack_key_file)"
start_extra python3 "$ATK" capture --bind "$EVE:$IT_UDP_PORT" --out "$IT_TMP/capture.txt"
start_node 1 --cluster-key-file "$key" --join "$EVE:$IT_UDP_PORT"
start_node 2 --cluster-key-file "$key"
start_node 3 --cluster-key-file "$key"
wait_until "3 nodes converge" 30 converged 1 2 3
sleep 5  # n1 sends its join list a full ANNOUNCE every member_info_interval_ms (2 s, fast profile)
[ "$(wc -l <"$IT_TMP/capture.txt")" -ge 3 ] || it_fail "the attacker captured fewer than 3 datagrams of n1"

rejected() { curl -sf --max-time 2 "$(it_url 3)/metrics" | awk '/^spore_datagrams_rejected_total/ {s += $NF} END {print s + 0}'; }
now_ms() { date +%s%3N; }
r0="$(rejected)"
it_before_cleanup() { [ -z "$(node_pid 1)" ] || kill -CONT "$(node_pid 1)" 2>/dev/null || true; }
kill -STOP "$(node_pid 1)"
t0="$(now_ms)"
python3 "$ATK" replay --capture "$IT_TMP/capture.txt" --sender "$(node_id_of 1)" --to "$(it_ip 3):$IT_UDP_PORT" \
  --bind "$EVE" --newest 3 --interval 0.6 >"$IT_TMP/replayed" &
replayer=$!
IT_EXTRA_PIDS+=("$replayer")
t2="" t3="" moved=""
while [ $(($(now_ms) - t0)) -lt 5000 ]; do
  [ -n "$t2" ] || [ "$(status_at 2 n1)" = ACTIVE ] || t2=$(($(now_ms) - t0))
  [ -n "$t3" ] || [ "$(status_at 3 n1)" = ACTIVE ] || t3=$(($(now_ms) - t0))
  ip3="$(field_at 3 n1 .ip)"
  [ "$ip3" = "\"$(it_ip 1)\"" ] || [ "$ip3" = null ] || moved="$ip3"
  sleep 0.1
done
wait "$replayer"
replayed="$(cat "$IT_TMP/replayed")"
r1="$(rejected)"
log "frozen n1: INACTIVE at n2 (control) after ${t2:-never} ms, at n3 (replays) after ${t3:-never} ms;" \
  "n3 refused $((r1 - r0)) datagrams of $replayed replayed"
[ -z "$moved" ] || it_fail "after the replay n3 listed n1 at $moved, not at its own address $(it_ip 1)"
[ $((r1 - r0)) -ge "$replayed" ] || it_fail "n3 accepted $((replayed - (r1 - r0))) of $replayed replays of datagrams sent to someone else"
[ -n "$t3" ] && [ "$t3" -le 3000 ] || it_fail "n3 kept the frozen n1 ACTIVE for ${t3:-over 5000} ms"
log "PASS: replays refused and counted, n1 INACTIVE at n3 in time, its address unchanged"
