#!/usr/bin/env bash
# A hostile LAN peer during `spore ota all` (issue 15, finding 1): two fake members announce
# themselves on the cluster port (tests/integration/fake_member.py) and serve HTTP:
#   - "n0" at its own address, sorting first (it would be the canary), forging its challenge answer;
#   - "n2" (a real node's hostname) at its own address, relaying the challenges it gets to the
#     real n1, whose answers carry a valid proof for the shared fleet token.
# The three real nodes share one token (--api-token-file), the CLI holds it (--token-file): the
# setting in which the CLI used to send `Authorization: Bearer <fleet token>` and the whole image
# to the fake canary. Now:
#   1. `spore ota all` updates the three real nodes and reports both fakes as "not sent", exit 1;
#   2. the fakes received no POST, no Authorization header, no image byte and no token;
#   3. replaying everything they received at every real node changes nothing;
#   4. a third fake takes a real node's id over (n3's id, a larger incarnation, its own address,
#      found by the red team): the observer then lists n3 at the fake's address, and the fake
#      relays the CLI's challenges to the real n3, whose proof is valid for the fleet token. The
#      proof is for the address the real n3 was reached at, so the CLI refuses the relay and sends
#      it nothing (before: it got the image and a valid proof, and could report n3 updated).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ota_lib.sh"
it_init 143 170

FLEET="$IT_TMP/fleet_token"
(umask 077 && openssl rand -hex 16 >"$FLEET")
for k in 1 2 3; do start_ota_node "$k" --api-token-file "$FLEET"; done
wait_until "3 nodes converge" 40 converged 1 2 3

fake() {  # fake NAME IP-SUFFIX NODE_ID MODE [RELAY-TO-NODE [INCARNATION]]
  python3 "$(dirname "$0")/fake_member.py" --ip "$IT_NET.$2" --udp-port "$IT_UDP_PORT" --http-port "$IT_HTTP_PORT" \
    --node-id "$3" --hostname "$1" --mode "$4" --relay-to "$(it_ip "${5:-1}"):$IT_HTTP_PORT" \
    --incarnation "${6:-0}" --log "$IT_TMP/fake-$1.jsonl" >>"$IT_TMP/fake-$1.out" 2>&1 &
  IT_EXTRA_PIDS+=($!)
  : >>"$IT_TMP/fake-$1.jsonl"
}
fake n0 9 0badf00d forge
fake n2 10 0badf00e relay
fakes_listed() {
  members_of 1 | jq -e '[.members[] | select(.status == "ACTIVE" and (.ip | endswith(".9") or endswith(".10")))]
    | length == 2' >/dev/null
}
wait_until "n1 lists both fake members ACTIVE" 20 fakes_listed
log "n1's members: $(members_of 1 | jq -c '[.members[] | {hostname, ip, status}]')"

BIN="$IT_TMP/images"
mkdir -p "$BIN"
patch_version "$SPORED" "$BIN/spored-9.2.0" 9.2.0
NEW_SHA="$(sha_of "$BIN/spored-9.2.0")"
rc=0
"$SPORE" --node "$(it_ip 1):$IT_HTTP_PORT" ota all "$BIN/spored-9.2.0" --token-file "$FLEET" --canary 1 \
  --parallel 2 --timeout 30 >"$IT_TMP/rollout.out" 2>"$IT_TMP/rollout.err" || rc=$?
cat "$IT_TMP/rollout.err" "$IT_TMP/rollout.out" >&2

# ---- 1. the real nodes are updated, the fakes are reported and skipped
[ "$rc" -eq 1 ] || it_fail "ota all exited $rc with unverifiable members listed, want 1"
for k in 1 2 3; do
  [ "$(status_of "$k" | jq -r .imageSha256)" = "$NEW_SHA" ] || it_fail "n$k does not run the new image"
  [ "$(status_of "$k" | jq -r .firmwareVersion)" = "9.2.0" ] || it_fail "n$k does not run 9.2.0"
  { grep -Eq "^n$k +updated " "$IT_TMP/rollout.out" &&
    grep -Eq "^  n$k: $(it_ip "$k")(:[0-9]+)?, (canary|wave [0-9]+)\$" "$IT_TMP/rollout.out"; } ||
    it_fail "n$k not reported updated"
done
grep -Eq "^  n0: $IT_NET\.9(:[0-9]+)?: unverified: " "$IT_TMP/rollout.out" && grep -Eq "^n0 +not sent " "$IT_TMP/rollout.out" ||
  it_fail "the forging fake n0 is not reported as not sent"
grep -Eq "^  n2: $IT_NET\.10(:[0-9]+)?: unverified: .*says it is node" "$IT_TMP/rollout.out" ||
  it_fail "the relaying fake n2 is not reported as not sent"
grep -q "3 updated" "$IT_TMP/rollout.out" || it_fail "the summary does not say 3 updated"

# ---- 2. nothing of value reached the fakes
token="$(tr -d ' \n' <"$FLEET")"
for f in n0 n2; do
  log "fake $f received: $(jq -c '[.method, .target, .body_bytes]' "$IT_TMP/fake-$f.jsonl" | sort | uniq -c | tr '\n' ';')"
  [ -s "$IT_TMP/fake-$f.jsonl" ] || it_fail "fake $f was never contacted: the test proves nothing"
  ! jq -e 'select(.method != "GET")' "$IT_TMP/fake-$f.jsonl" >/dev/null || it_fail "fake $f received a $(jq -r 'select(.method != "GET") | .method' "$IT_TMP/fake-$f.jsonl" | head -1)"
  ! jq -e 'select(.headers | has("Authorization") or has("authorization"))' "$IT_TMP/fake-$f.jsonl" >/dev/null ||
    it_fail "fake $f received an Authorization header"
  ! jq -e 'select(.body_bytes > 0)' "$IT_TMP/fake-$f.jsonl" >/dev/null || it_fail "fake $f received body bytes"
  ! grep -q "$token" "$IT_TMP/fake-$f.jsonl" || it_fail "fake $f received the fleet token"
done

# ---- 3. replaying what they received at the real nodes changes nothing
declare -A INC=()
for k in 1 2 3; do INC[$k]="$(status_of "$k" | jq -r .incarnation)"; done
for f in n0 n2; do
  while IFS=$'\t' read -r method target; do
    for k in 1 2 3; do
      curl -s -o /dev/null -X "$method" --max-time 3 "$(it_url "$k")$target" || true
      curl -s -o /dev/null -X POST --max-time 3 "$(it_url "$k")/api/node/restart" || true
    done
  done < <(jq -r '[.method, .target] | @tsv' "$IT_TMP/fake-$f.jsonl")
done
sleep 1
for k in 1 2 3; do
  node_alive "$k" || it_fail "n$k died"
  [ "$(status_of "$k" | jq -r .incarnation)" = "${INC[$k]}" ] || it_fail "n$k restarted after the replay"
  [ "$(status_of "$k" | jq -r .imageSha256)" = "$NEW_SHA" ] || it_fail "n$k changed its image after the replay"
done
log "the fakes got challenges only; the real nodes were updated and the replays changed nothing"

# ---- 4. a fake that takes n3's id over and relays its challenges to the real n3
fake hijack 11 "$(node_id_of 3)" relay 3 2147483392
n3_at_fake() { members_of 1 | jq -e --arg ip "$IT_NET.11" '[.members[] | select(.hostname == "hijack" and .ip == $ip)] | length == 1' >/dev/null; }
wait_until "n1 lists n3's id at the hijacker's address" 20 n3_at_fake
patch_version "$SPORED" "$BIN/spored-9.3.0" 9.3.0
rc=0
"$SPORE" --node "$(it_ip 1):$IT_HTTP_PORT" ota all "$BIN/spored-9.3.0" --token-file "$FLEET" --canary 1 \
  --parallel 2 --timeout 30 >"$IT_TMP/rollout2.out" 2>"$IT_TMP/rollout2.err" || rc=$?
cat "$IT_TMP/rollout2.err" "$IT_TMP/rollout2.out" >&2
[ "$rc" -eq 1 ] || it_fail "ota all exited $rc with a hijacked member listed, want 1"
grep -Eq "^  hijack: $IT_NET\.11(:[0-9]+)?: unverified: .*answered for address $(it_ip 3):$IT_HTTP_PORT" \
  "$IT_TMP/rollout2.out" || it_fail "the hijacker is not reported as a relay"
! jq -e 'select(.method != "GET" or (.headers | has("Authorization")) or .body_bytes > 0)' "$IT_TMP/fake-hijack.jsonl" \
  >/dev/null || it_fail "the hijacker received more than a challenge"
[ -s "$IT_TMP/fake-hijack.jsonl" ] || it_fail "the hijacker was never contacted: the test proves nothing"
[ "$(status_of 3 | jq -r .firmwareVersion)" = "9.2.0" ] || it_fail "the real n3 changed although its listing was hijacked"
for k in 1 2; do
  [ "$(status_of "$k" | jq -r .firmwareVersion)" = "9.3.0" ] || it_fail "n$k does not run 9.3.0"
done
log "the hijacker relaying the real n3's challenges got nothing; n1 and n2 were updated"

