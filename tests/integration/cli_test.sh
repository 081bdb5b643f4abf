#!/usr/bin/env bash
# The spore CLI against a live node: where it finds the node (--node, SPORE_NODE, API_NODE,
# ./.env), what it prints for people, and its errors and exit codes (1 failure, 2 usage).
source "$(dirname "$0")/lib.sh"
it_init 108

start_node 1
start_node 2
wait_until "2 nodes converge" 60 converged 1 2
addr="$(it_ip 1):$IT_HTTP_PORT"
work="$IT_TMP/cwd"
mkdir -p "$work"
cd "$work"

clean_env=(env -u SPORE_NODE -u API_NODE -u SPORE_ENV_FILE -u SPORE_TOKEN)

# ---- --help, --version, usage errors
expect_rc 0 "$SPORE" --help
grep -q "cluster" <<<"$OUT" && grep -q "discover" <<<"$OUT" || it_fail "--help lacks the subcommands: $OUT"
for sub in "cluster members" "node status" "node restart" "discover"; do
  # shellcheck disable=SC2086
  expect_rc 0 "$SPORE" $sub --help
done
expect_rc 0 "$SPORE" --version
grep -Eq '^spore [0-9]+\.[0-9]+\.[0-9]+' <<<"$OUT" || it_fail "--version printed: $OUT"
expect_rc 2 "$SPORE"
expect_rc 2 "$SPORE" cluster
expect_rc 2 "$SPORE" cluster members --no-such-flag
expect_rc 2 "$SPORE" --node "$addr" cluster members --watch -1
expect_rc 2 "$SPORE" --node "host:99999" node status
grep -q "1..65535" <<<"$OUT" || it_fail "bad port message: $OUT"
expect_rc 2 "${clean_env[@]}" "$SPORE" node status
grep -q -- "--node" <<<"$OUT" && grep -q ".env" <<<"$OUT" || it_fail "no-node message does not say what to do: $OUT"

# ---- node unreachable: exit 1 with a message naming the address
expect_rc 1 "$SPORE" --node "$(it_ip 9):$IT_HTTP_PORT" --http-timeout 2 cluster members
grep -q "cannot reach the node at http://$(it_ip 9):$IT_HTTP_PORT" <<<"$OUT" || it_fail "unreachable message: $OUT"

# ---- the node address, in order: --node, SPORE_NODE, API_NODE, ./.env
table_from() { grep -q "^n1\*" <<<"$OUT" || it_fail "$1: table not from node 1: $OUT"; }
expect_rc 0 "${clean_env[@]}" "$SPORE" --node "$addr" cluster members
table_from "--node"
expect_rc 0 "${clean_env[@]}" "$SPORE" cluster members --node "$addr"
table_from "--node after the subcommand"
expect_rc 0 "${clean_env[@]}" SPORE_NODE="$addr" API_NODE="$(it_ip 9):1" "$SPORE" cluster members
table_from "SPORE_NODE (over API_NODE)"
expect_rc 0 "${clean_env[@]}" API_NODE="$addr" "$SPORE" cluster members
table_from "API_NODE"
printf '# API node IP for cluster management\nexport API_NODE=%s\nexport WIFI_SSID=x\n' "$addr" >.env
expect_rc 0 "${clean_env[@]}" "$SPORE" cluster members
table_from ".env"
grep -q "^spore: node $addr from API_NODE in ./.env$" <<<"$OUT" || it_fail "which file named the node is not said: $OUT"
expect_rc 0 "${clean_env[@]}" "$SPORE" --quiet cluster members
grep -q "from API_NODE" <<<"$OUT" && it_fail "--quiet still says which file named the node: $OUT"
expect_rc 0 "${clean_env[@]}" "$SPORE" --node "http://$(it_ip 2):$IT_HTTP_PORT/" cluster members
grep -q "^n2\*" <<<"$OUT" || it_fail "--node overrides .env: $OUT"
printf 'API_NODE=$(touch %s/pwned)\n' "$work" >.env
expect_rc 2 "${clean_env[@]}" "$SPORE" cluster members
[ ! -e "$work/pwned" ] || it_fail ".env was evaluated by a shell"
rm -f .env

# ---- what people see
expect_rc 0 "$SPORE" --node "$addr" cluster members
head -n1 <<<"$OUT" | grep -q "HOSTNAME.*IP.*STATUS.*LAST SEEN.*LATENCY.*FREE HEAP.*INC.*APIS" || it_fail "table header: $OUT"
grep -q "^n2 .*$(it_ip 2):$IT_HTTP_PORT .*ACTIVE" <<<"$OUT" || it_fail "table row for n2: $OUT"
grep -q "2 members: 2 active, 0 inactive, 0 dead" <<<"$OUT" || it_fail "table summary: $OUT"
grep -q $'\033' <<<"$OUT" && it_fail "colour codes written to a pipe"
expect_rc 0 "$SPORE" --node "$addr" --color always cluster members
grep -q $'\033\[32mACTIVE' <<<"$OUT" || it_fail "--color always: no colour"
expect_rc 0 "$SPORE" --node "$addr" node status
grep -q "^freeHeap: " <<<"$OUT" && grep -q "^api: .*GET .*/api/cluster/members" <<<"$OUT" || it_fail "node status lines: $OUT"

# ---- --watch refreshes until stopped
timeout 3 "$SPORE" --node "$addr" cluster members --watch 0.5 >"$IT_TMP/watch.out" 2>&1 || true
[ "$(grep -c '^HOSTNAME' "$IT_TMP/watch.out")" -ge 2 ] || it_fail "--watch did not refresh: $(cat "$IT_TMP/watch.out")"

# ---- ctl.sh's seed verbs run this CLI from the caller's directory (so its .env counts)
printf 'export API_NODE=%s\n' "$addr" >.env
expect_rc 0 "${clean_env[@]}" SPORE="$SPORE" "$IT_ROOT/ctl.sh" cluster members
table_from "./ctl.sh cluster members with the caller's .env"
expect_rc 0 "${clean_env[@]}" SPORE="$SPORE" "$IT_ROOT/ctl.sh" cluster members --json --quiet
jq -e '.members | length == 2' <<<"$OUT" >/dev/null || it_fail "./ctl.sh cluster members --json: $OUT"
expect_rc 0 "${clean_env[@]}" SPORE="$SPORE" "$IT_ROOT/ctl.sh" node status
grep -q "^freeHeap: " <<<"$OUT" || it_fail "./ctl.sh node status: $OUT"
expect_rc 1 "${clean_env[@]}" SPORE="$SPORE" "$IT_ROOT/ctl.sh" node restart
grep -q "(HTTP 401)" <<<"$OUT" || it_fail "./ctl.sh node restart without token: $OUT"
rm -f .env

# ---- a wrong token: the node cannot prove it holds it, so nothing is sent (request proofs)
expect_rc 1 "$SPORE" --node "$(it_ip 2):$IT_HTTP_PORT" node restart --token nope
grep -q "not sent: it did not prove it holds the API token" <<<"$OUT" || it_fail "wrong token not explained: $OUT"
# ---- an error answer is shown from its JSON body (--bearer sends the token itself)
expect_rc 1 "$SPORE" --node "$(it_ip 2):$IT_HTTP_PORT" node restart --token nope --bearer
grep -q "(HTTP 401)" <<<"$OUT" || it_fail "401 not shown: $OUT"
node_alive 2 || it_fail "n2 died"
log "CLI resolution, output and errors as specified"
