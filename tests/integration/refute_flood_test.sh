#!/usr/bin/env bash
# Issue 18 (state-fix 1), with real processes: a LAN peer without the cluster key forges SUSPECT
# gossip about n1, 28 entries per datagram. Claims about an incarnation n1 never had are ignored
# and counted (spore_datagrams_rejected_total{reason="forged_incarnation"}); claims about its
# current incarnation are refuted at most once per heartbeat interval. The old code refuted every
# entry: 300 datagrams raised n1's incarnation by 8,400 (3,000 took it into the next boot's range).
source "$(dirname "$0")/lib.sh"
it_init 230 90

start_node 1
start_node 2
wait_until "2 nodes converge" 30 converged 1 2
status() { curl -sf --max-time 2 "$(it_url 1)/api/node/status"; }
nid="$(printf '%x' "$(status | jq -r .nodeId)")"
inc0="$(status | jq -r .incarnation)"
srcs=()
for k in $(seq 20 29); do srcs+=("$(it_ip "$k")"); done

# 1. Claims above n1's incarnation: forged, ignored.
python3 "$(dirname "$0")/refute_flood.py" "$(it_ip 1)" "$IT_UDP_PORT" "$nid" "$inc0" $((0x40000000)) 300 "${srcs[@]}"
forged() { curl -sf --max-time 2 "$(it_url 1)/metrics" | sed -n 's/^spore_datagrams_rejected_total{reason="forged_incarnation"} //p'; }
has_forged() { [ "$(forged)" -ge 250 ] 2>/dev/null; }
sleep 1
inc1="$(status | jq -r .incarnation)"
[ "$inc1" = "$inc0" ] || it_fail "forged claims moved n1's incarnation $inc0 -> $inc1"
wait_until "n1 counts the forged claims" 10 has_forged

# 2. Claims about its current incarnation, 300 datagrams in ~1 s: a few refutations, not 300.
t0=$SECONDS
sleep 1  # the fake sender's next life (its header incarnation is the time in s)
python3 "$(dirname "$0")/refute_flood.py" "$(it_ip 1)" "$IT_UDP_PORT" "$nid" "$inc1" 0 300 "${srcs[@]}"
sleep 1
inc2="$(status | jq -r .incarnation)"
# fast profile: one refutation per heartbeat task run over the flood and the second after. The
# task runs every 500 ms (the DIGEST period; 250 ms with --liveness broadcast), or every 250 ms
# (discovery_interval_ms) while n1 is still in its join phase: 4 per second bounds both.
limit=$(( (SECONDS - t0 + 1) * 4 + 2 ))
[ $((inc2 - inc1)) -ge 1 ] || it_fail "n1 did not refute a suspicion of its current incarnation ($inc1 -> $inc2)"
[ $((inc2 - inc1)) -le "$limit" ] || it_fail "n1's incarnation rose by $((inc2 - inc1)) (limit $limit) from 300 datagrams"
log "forged: $(forged) datagrams counted, incarnation kept at $inc1; current-incarnation flood: +$((inc2 - inc1))"

# Honest refutation still reaches the peer, and n1 stays ACTIVE there.
seen() { [ "$(field_at 2 n1 .incarnation)" = "$(status | jq -r .incarnation)" ] && [ "$(status_at 2 n1)" = ACTIVE ]; }
wait_until "n2 sees n1 ACTIVE at its refuted incarnation" 10 seen
log "PASS: forged claims ignored and counted, refutations rate-limited, n1 ACTIVE at n2"
