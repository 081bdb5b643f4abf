#!/usr/bin/env bash
# POST /api/node/restart is protected by the API token: without it (or with a wrong one) the
# answer is 401 with a JSON error and the node keeps running with the same incarnation; with it
# the answer is 202 and the node comes back with a larger incarnation. Through curl and through
# `spore node restart` (--token, --token-file, SPORE_TOKEN).
source "$(dirname "$0")/lib.sh"
it_init 106

start_node 1
start_node 2
wait_until "2 nodes converge" 60 converged 1 2
url="$(it_url 2)"
node2="$(it_ip 2):$IT_HTTP_PORT"
self_inc() { curl -sf "$url/api/cluster/members" | jq '.members[] | select(.self == true) | .incarnation'; }
inc0="$(self_inc)"
[[ "$inc0" =~ ^[0-9]+$ ]] || it_fail "n2 reports no incarnation"

# ---- refused: no token, wrong token, wrong scheme
for auth in "" "Bearer not-the-token" "Basic dXNlcjpwYXNz"; do
  args=()
  [ -n "$auth" ] && args=(-H "Authorization: $auth")
  # --data '': an empty body with Content-Length: 0, as HTTP clients send a POST without body.
  code="$(curl -s -o "$IT_TMP/r.json" -w '%{http_code}' --data '' "${args[@]}" "$url/api/node/restart")"
  [ "$code" = 401 ] || it_fail "restart with auth '$auth' answered $code, expected 401"
  jq -e '(.error | type == "string") and (.code | type == "string")' "$IT_TMP/r.json" >/dev/null ||
    it_fail "401 body is not the JSON error: $(cat "$IT_TMP/r.json")"
done
set +e
out="$(env -u SPORE_TOKEN "$SPORE" --node "$node2" node restart 2>&1)"
rc=$?
set -e
[ "$rc" -eq 1 ] || it_fail "spore node restart without a token exited $rc, expected 1"
grep -q "401" <<<"$out" && grep -qi "token" <<<"$out" || it_fail "spore node restart without a token said: $out"
set +e
out="$("$SPORE" --node "$node2" node restart --token wrong 2>&1)"
rc=$?
set -e
[ "$rc" -eq 1 ] || it_fail "spore node restart with a wrong token exited $rc, expected 1"
sleep 1
node_alive 2 || it_fail "n2 died after refused restarts"
[ "$(self_inc)" = "$inc0" ] || it_fail "n2's incarnation changed after refused restarts ($inc0 -> $(self_inc))"
[ "$(field_at 1 n2 .incarnation)" = "$inc0" ] || it_fail "node 1 sees a new incarnation of n2 after refused restarts"
log "refused restarts: 401 JSON errors, n2 still running with incarnation $inc0"

# ---- accepted: curl with the token
token="$(token_of 2)"
code="$(curl -s -o "$IT_TMP/r.json" -w '%{http_code}' --data '' -H "Authorization: Bearer $token" "$url/api/node/restart")"
[ "$code" = 202 ] || it_fail "restart with the token answered $code, expected 202: $(cat "$IT_TMP/r.json")"
jq -e . "$IT_TMP/r.json" >/dev/null || it_fail "202 body is not JSON"
came_back() {
  local inc
  inc="$(self_inc 2>/dev/null)" || return 1
  [[ "$inc" =~ ^[0-9]+$ ]] && [ "$inc" -gt "$1" ]
}
wait_until "n2 back with an incarnation above $inc0" 60 came_back "$inc0"
inc1="$(self_inc)"
seen_new() { [ "$(status_at 1 n2)" = ACTIVE ] && [ "$(field_at 1 n2 .incarnation)" = "$1" ]; }
wait_until "node 1 sees n2 ACTIVE with incarnation $inc1" 60 seen_new "$inc1"
[ "$(members_of 1 | jq '[.members[] | select(.hostname == "n2")] | length')" -eq 1 ] || it_fail "node 1 lists n2 twice"
log "restart with the token: 202, incarnation $inc0 -> $inc1"

# ---- accepted: spore node restart with --token-file, then with SPORE_TOKEN and --wait
printf '%s\n' "$token" >"$IT_TMP/token"
"$SPORE" --node "$node2" node restart --token-file "$IT_TMP/token" >"$IT_TMP/out" 2>&1 ||
  it_fail "spore node restart --token-file failed: $(cat "$IT_TMP/out")"
wait_until "n2 back after spore node restart --token-file" 60 came_back "$inc1"
inc2="$(self_inc)"
SPORE_TOKEN="$token" "$SPORE" --node "$node2" node restart --wait 60 >"$IT_TMP/out" 2>&1 ||
  it_fail "SPORE_TOKEN=... spore node restart --wait failed: $(cat "$IT_TMP/out")"
grep -q "back with incarnation" "$IT_TMP/out" || it_fail "spore node restart --wait said: $(cat "$IT_TMP/out")"
inc3="$(self_inc)"
[ "$inc3" -gt "$inc2" ] || it_fail "incarnation did not grow: $inc2 -> $inc3"
log "spore node restart: --token-file and SPORE_TOKEN --wait, incarnation $inc1 -> $inc2 -> $inc3"
