#!/usr/bin/env bash
# `spore discover` lists the running nodes without being told any address: node id, hostname,
# ip, http and udp port, as the nodes themselves report them.
source "$(dirname "$0")/lib.sh"
it_init 107

for k in 1 2 3; do start_node "$k"; done
wait_until "3 nodes converge" 60 converged 1 2 3

out="$("$SPORE" discover --udp-port "$IT_UDP_PORT" --timeout 10 --expect 3 --json)" ||
  it_fail "spore discover did not hear 3 nodes"
[ "$(jq '.nodes | length' <<<"$out")" -eq 3 ] || it_fail "discover lists $(jq '.nodes | length' <<<"$out") nodes"
members="$(members_of 1)"
for k in 1 2 3; do
  d="$(jq -c --arg h "n$k" '.nodes[] | select(.hostname == $h)' <<<"$out")"
  [ -n "$d" ] || it_fail "discover did not list n$k"
  id="$(jq --arg h "n$k" '.members[] | select(.hostname == $h) | .nodeId' <<<"$members")"
  jq -e --arg ip "$(it_ip "$k")" --argjson http "$IT_HTTP_PORT" --argjson udp "$IT_UDP_PORT" --argjson id "$id" \
    '(.ip == $ip) and (.httpPort == $http) and (.udpPort == $udp) and (.nodeId == $id)
     and (.url == "http://\($ip):\($http)")' <<<"$d" >/dev/null || it_fail "discover's entry for n$k is wrong: $d"
done

# The table for people has a header and one row per node.
table="$("$SPORE" discover --udp-port "$IT_UDP_PORT" --timeout 10 --expect 3)" || it_fail "spore discover (table) failed"
head -n1 <<<"$table" | grep -q "HOSTNAME" || it_fail "discover table has no header: $table"
for k in 1 2 3; do grep -q "n$k .*$(it_ip "$k")" <<<"$table" || it_fail "discover table lacks n$k: $table"; done

# Nothing on another port: exit 1 with a message.
set +e
msg="$("$SPORE" discover --udp-port $((IT_UDP_PORT + 1000)) --timeout 1 2>&1)"
rc=$?
set -e
[ "$rc" -eq 1 ] || it_fail "discover on an empty port exited $rc, expected 1"
grep -q "no SPORE node heard" <<<"$msg" || it_fail "discover on an empty port said: $msg"

# A listener next to the nodes must not disturb them: they are still converged.
converged 1 2 3 || it_fail "the cluster lost members while spore discover listened"
log "discover lists the 3 nodes with the right details"
