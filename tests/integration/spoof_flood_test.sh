#!/usr/bin/env bash
# Issue 20, finding 4, with real processes and a cluster key: junk datagrams "from" n2's address
# (the attacker binds it: on loopback any 127.x address is the attacker's to take, as a forged
# source is on a LAN), 30,000 per second for 10 s (the issue: 28,000). No one without the key may
# make a healthy node look dead: n1 must not mark n2 INACTIVE once. On protocol v1 a limit per
# source address, checked before the tag, spent n2's allowance on the junk.
source "$(dirname "$0")/lib.sh"
it_init 267 120
source "$(dirname "$0")/attack_lib.sh"
key="$(attack_key_file)"
IT_NODE_ARGS=(--profile fast --cluster-key-file "$key")
start_node 1
start_node 2
wait_until "2 nodes converge" 30 converged 1 2
inactive_lines() { grep -c "member n2 ([0-9a-f]*) inactive" "$(node_log 1)" || true; }
before="$(inactive_lines)"
sent="$(python3 "$ATK" flood --bind "$(it_ip 2)" --to "$(it_ip 1):$IT_UDP_PORT" --rate 30000 --seconds 10)"
sleep 0.5
after="$(inactive_lines)"
log "flood of $sent junk datagrams from n2's address: n1 marked n2 INACTIVE $((after - before)) times"
[ "$after" -eq "$before" ] || it_fail "a spoofed-source flood made n1 mark the healthy n2 INACTIVE $((after - before)) times"
wait_until "n1 and n2 still converged" 10 converged 1 2
log "PASS: n2 stayed ACTIVE at n1 through the flood"
