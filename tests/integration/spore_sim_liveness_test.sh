#!/usr/bin/env bash
# spore-sim's liveness switch (issue 22, docs/simulation.md): the scenario line `liveness
# broadcast|digest` and the command-line override `--liveness`, which applies to every SPORE
# scenario of the run (one file run both ways side by side) and leaves protocol seed scenarios as
# they are; a bad value and `liveness` with protocol seed are refused (exit 2) with the reason.
# The runs are 3 simulated nodes for 3 s of virtual time; no processes or ports.
source "$(dirname "$0")/lib.sh"
it_init 381 60

SIM="${SPORE_SIM:-$(dirname "$SPORED")/spore-sim}"
[ -x "$SIM" ] || it_fail "no spore-sim beside spored ($SIM)"
printf 'nodes 3\nprofile fast\nliveness digest\nduration 3s\n' >"$IT_TMP/digest.scn"
printf 'nodes 3\nprofile fast\nduration 3s\n' >"$IT_TMP/plain.scn"
printf 'nodes 3\nprofile fast\nliveness broadcast\nduration 3s\n' >"$IT_TMP/broadcast.scn"
printf 'nodes 3\nprofile esp8266\nduration 3s\n' >"$IT_TMP/esp.scn"
printf 'nodes 3\nprotocol seed\nduration 3s\n' >"$IT_TMP/seed.scn"
printf 'nodes 3\nprotocol seed\nliveness digest\nduration 3s\n' >"$IT_TMP/seed_digest.scn"

# livenesses ARGS...: the liveness of each scenario in the JSON, one line ("null" for seed).
livenesses() { "$SIM" --json "$@" | jq -r '[.scenarios[].liveness | tostring] | join(" ")'; }

# Without a `liveness` line the profile's: digest for the hosts' lan and fast, broadcast for esp8266.
got="$(livenesses "$IT_TMP/digest.scn" "$IT_TMP/plain.scn" "$IT_TMP/broadcast.scn" "$IT_TMP/esp.scn" "$IT_TMP/seed.scn")"
[ "$got" = "digest digest broadcast broadcast null" ] || it_fail "from the files: got '$got'"
got="$(livenesses --liveness digest "$IT_TMP/digest.scn" "$IT_TMP/plain.scn" "$IT_TMP/seed.scn")"
[ "$got" = "digest digest null" ] || it_fail "--liveness digest: got '$got'"
got="$(livenesses --liveness broadcast "$IT_TMP/digest.scn" "$IT_TMP/plain.scn")"
[ "$got" = "broadcast broadcast" ] || it_fail "--liveness broadcast: got '$got'"
"$SIM" --liveness digest "$IT_TMP/plain.scn" | grep -q "fast digest" || it_fail "the table does not name the liveness"
"$SIM" --liveness broadcast "$IT_TMP/plain.scn" | grep -q "fast digest" && it_fail "the table names digest for a broadcast run"

rc=0
"$SIM" --liveness gossip "$IT_TMP/plain.scn" >/dev/null 2>"$IT_TMP/bad.err" || rc=$?
[ "$rc" = 2 ] && grep -q -- "--liveness: gossip not in {broadcast,digest}" "$IT_TMP/bad.err" ||
  it_fail "a bad --liveness: exit $rc, $(cat "$IT_TMP/bad.err")"
rc=0
"$SIM" "$IT_TMP/seed_digest.scn" >/dev/null 2>"$IT_TMP/seed.err" || rc=$?
[ "$rc" = 2 ] && grep -q "seed_digest.scn:3: liveness: protocol seed has none" "$IT_TMP/seed.err" ||
  it_fail "liveness with protocol seed: exit $rc, $(cat "$IT_TMP/seed.err")"
log "PASS: scenario line and --liveness override reach the results; bad values refused"
