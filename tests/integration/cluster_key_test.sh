#!/usr/bin/env bash
# A cluster key keeps outsiders out: nodes 1-3 share key A and see each other; node 4 (key B) and
# node 5 (no key) are never admitted by them, and see nobody but themselves. `spore discover`
# sees the keyed nodes only with the key. /api/node/status says "clusterAuth": "keyed" / "open".
source "$(dirname "$0")/lib.sh"
it_init 104
unset SPORE_CLUSTER_KEY SPORE_ENV_FILE  # discover's key comes only from what this test gives it

printf '%s\n' 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f >"$IT_TMP/key-a"
printf '%s\n' ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100 >"$IT_TMP/key-b"
chmod 600 "$IT_TMP/key-a" "$IT_TMP/key-b"

for k in 1 2 3; do start_node "$k" --cluster-key-file "$IT_TMP/key-a"; done
start_node 4 --cluster-key-file "$IT_TMP/key-b"
start_node 5
wait_until "keyed nodes 1-3 converge" 60 converged 1 2 3

# Give the outsiders many announce rounds (the fast profile announces several times a second),
# then check they were never admitted. Polling for the whole period, not only at its end, catches
# an entry that appears and is later dropped.
end=$((SECONDS + 8))
while [ "$SECONDS" -lt "$end" ]; do
  for k in 1 2 3; do
    for h in n4 n5; do
      s="$(status_at "$k" "$h")"
      [ "$s" = ABSENT ] || it_fail "node $k (key A) lists $h (status $s)"
    done
  done
  for k in 4 5; do
    n="$(members_of "$k" | jq '.members | length')"
    [ "$n" -eq 1 ] || it_fail "node $k (wrong or no key) lists $n members, expected only itself"
  done
  sleep 0.5
done
converged 1 2 3 || it_fail "the keyed nodes lost each other"
# /api/node/status says which nodes check tags: "clusterAuth" (docs/security.md "Keys").
for k in 1 4 5; do
  want=keyed
  [ "$k" -ne 5 ] || want=open
  got="$(curl -sf "$(it_url "$k")/api/node/status" | jq -r .clusterAuth)"
  [ "$got" = "$want" ] || it_fail "node $k: clusterAuth '$got', expected '$want'"
done
log "outsiders never admitted; keyed nodes converged"

# discover (asking loopback's broadcast only): with key A, from a file or $SPORE_CLUSTER_KEY, it
# lists the keyed nodes, their answers verified; without a key only the keyless n5 answers.
here=(--udp-port "$IT_UDP_PORT" --target 127.255.255.255 --listen 127.255.255.255 --json)
out="$("$SPORE" discover "${here[@]}" --cluster-key-file "$IT_TMP/key-a" --expect 3)" ||
  it_fail "spore discover with key A failed"
[ "$(jq -r '[.nodes[] | .hostname] | sort | join(",")' <<<"$out")" = "n1,n2,n3" ] ||
  it_fail "discover with key A lists $(jq -c '[.nodes[].hostname]' <<<"$out")"
[ "$(jq '[.nodes[] | select(.authenticated != true)] | length' <<<"$out")" -eq 0 ] ||
  it_fail "discover with key A reports unauthenticated nodes"
out="$(SPORE_CLUSTER_KEY="$(cat "$IT_TMP/key-a")" "$SPORE" discover "${here[@]}" --expect 3)" ||
  it_fail "spore discover with SPORE_CLUSTER_KEY failed"
[ "$(jq -r '[.nodes[] | .hostname] | sort | join(",")' <<<"$out")" = "n1,n2,n3" ] ||
  it_fail "discover with SPORE_CLUSTER_KEY lists $(jq -c '[.nodes[].hostname]' <<<"$out")"
printf 'SPORE_CLUSTER_KEY=%s\n' "$(cat "$IT_TMP/key-a")" >"$IT_TMP/dotenv"
chmod 600 "$IT_TMP/dotenv"
out="$(SPORE_ENV_FILE="$IT_TMP/dotenv" "$SPORE" discover "${here[@]}" --expect 3)" ||
  it_fail "spore discover with SPORE_CLUSTER_KEY in the .env failed"
[ "$(jq '.nodes | length' <<<"$out")" -eq 3 ] || it_fail "discover with the .env's key lists $out"
chmod 620 "$IT_TMP/dotenv"  # others may write it: its key is not taken, and the CLI says so
SPORE_ENV_FILE="$IT_TMP/dotenv" "$SPORE" discover "${here[@]}" --timeout 0.5 >/dev/null 2>"$IT_TMP/discover.err" || true
grep -q "not taking SPORE_CLUSTER_KEY from" "$IT_TMP/discover.err" ||
  it_fail "discover took a key from a .env others can write: $(cat "$IT_TMP/discover.err")"
out="$("$SPORE" discover "${here[@]}" 2>"$IT_TMP/discover.err" || true)"
[ "$(jq -r '[.nodes[] | .hostname] | sort | join(",")' <<<"$out")" = "n5" ] ||
  it_fail "discover without a key lists $(jq -c '[.nodes[].hostname]' <<<"$out"), expected only the keyless n5"
log "discover: keyed nodes only with the key"
