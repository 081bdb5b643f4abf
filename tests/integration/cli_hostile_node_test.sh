#!/usr/bin/env bash
# The spore CLI against a hostile "node" (tests/integration/hostile_node.py) on loopback, issue 18:
# - finding 5: terminal escape sequences (OSC title, clear screen, CR, backspace, C1 CSI, bidi
#   override) in the members table, node status, events watch's node_* events and error answers
#   reach the terminal only as visible escapes (\x1B...), and --json stays valid, ASCII-only JSON;
# - finding 10 (.env): a .env that is not the user's own (mode 0666, or owned by another user)
#   cannot name the node: the CLI refuses, names the file, and no request (with the token or not)
#   reaches the node it names.
source "$(dirname "$0")/lib.sh"
it_init 226 120

HOSTILE="$(dirname "$0")/hostile_node.py"
clean_env=(env -u SPORE_NODE -u API_NODE -u SPORE_ENV_FILE -u SPORE_TOKEN)

# start_fake NAME K MODE: a hostile node on it_ip K, logging its requests to $IT_TMP/NAME.log.
start_fake() {
  python3 "$HOSTILE" --ip "$(it_ip "$2")" --port "$IT_HTTP_PORT" --mode "$3" --log "$IT_TMP/$1.log" &
  IT_EXTRA_PIDS+=($!)
  # A bare connect: the server sees no request, so nothing is logged.
  wait_until "fake node $1 listens" 20 bash -c "exec 3<>/dev/tcp/$(it_ip "$2")/$IT_HTTP_PORT" 2>/dev/null
}

# has_controls FILE: FILE holds a byte sequence a terminal acts on: C0 controls but '\n', DEL, C1
# controls as UTF-8, bidi formatting characters or line separators.
has_controls() {
  LC_ALL=C grep -qaP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]|\xd8\x9c' "$1"
}

# run NAME CMD...: runs CMD (bounded), stdout and stderr to $IT_TMP/NAME.out and .err; RC.
run() {
  local name="$1"
  shift
  set +e
  timeout 30 "$@" >"$IT_TMP/$name.out" 2>"$IT_TMP/$name.err"
  RC=$?
  set -e
}

# ---- finding 5: escapes from a node never reach the terminal raw
start_fake esc 1 escapes
node="$(it_ip 1):$IT_HTTP_PORT"
check_clean() {
  local name="$1" f
  for f in "$IT_TMP/$name.out" "$IT_TMP/$name.err"; do
    if has_controls "$f"; then
      it_fail "$name: raw terminal controls in $(basename "$f"): $(od -c "$f" | head -20)"
    fi
  done
}

run members "$SPORE" --node "$node" --color never cluster members
[ "$RC" -eq 0 ] || it_fail "cluster members exited $RC: $(cat "$IT_TMP/members.err")"
check_clean members
grep -qF 'evil\x1B]0;pwned\x07*' "$IT_TMP/members.out" || it_fail "members: hostname not shown escaped: $(cat "$IT_TMP/members.out")"
grep -qF 'ACTIVE\rDEAD' "$IT_TMP/members.out" || it_fail "members: status not shown escaped"
grep -qF '\u202Enode-2\u009B31m' "$IT_TMP/members.out" || it_fail "members: bidi/C1 not shown escaped"
run members_color "$SPORE" --node "$node" --color always cluster members
# With --color always the CLI's own colour codes are the only escape sequences.
sed -E $'s/\033\\[[0-9;]*m//g' "$IT_TMP/members_color.out" >"$IT_TMP/members_uncolored.out"
cp "$IT_TMP/members_color.err" "$IT_TMP/members_uncolored.err"
check_clean members_uncolored

run status "$SPORE" --node "$node" node status
[ "$RC" -eq 0 ] || it_fail "node status exited $RC: $(cat "$IT_TMP/status.err")"
check_clean status
grep '^firmwareVersion:' "$IT_TMP/status.out" | grep -qF '0.1\x1B[2J\x1B[H' || it_fail "status: firmwareVersion: $(cat "$IT_TMP/status.out")"
grep -qF 'x\x1B[31m:' "$IT_TMP/status.out" || it_fail "status: a key with escapes: $(cat "$IT_TMP/status.out")"

for what in "cluster members" "node status"; do
  name="json_${what// /_}"
  # shellcheck disable=SC2086
  run "$name" "$SPORE" --node "$node" $what --json
  [ "$RC" -eq 0 ] || it_fail "$what --json exited $RC"
  check_clean "$name"
  jq -e . "$IT_TMP/$name.out" >/dev/null || it_fail "$what --json is not JSON: $(cat "$IT_TMP/$name.out")"
  LC_ALL=C grep -qaP '[^\x0a\x20-\x7e]' "$IT_TMP/$name.out" && it_fail "$what --json is not printable ASCII"
  grep -qF '\u001b' "$IT_TMP/$name.out" || it_fail "$what --json: ESC not escaped as \\u001b"
done
jq -e '.members[0].hostname == "evil\u001b]0;pwned\u0007"' "$IT_TMP/json_cluster_members.out" >/dev/null ||
  it_fail "--json changed the node's values: $(cat "$IT_TMP/json_cluster_members.out")"

run watch "$SPORE" --node "$node" --color never events watch --count 3 --timeout 20
[ "$RC" -eq 0 ] || it_fail "events watch exited $RC: $(cat "$IT_TMP/watch.err")"
check_clean watch
[ "$(grep -c 'node_' "$IT_TMP/watch.out")" -eq 3 ] || it_fail "events watch: 3 node_* events expected: $(cat "$IT_TMP/watch.out")"
grep -qF '10.0.0.3\x1B[2J\x1B[H ACTIVE\x1B[2J\x1B[H' "$IT_TMP/watch.out" || it_fail "watch: ip/status: $(cat "$IT_TMP/watch.out")"
grep -qF '\u202EDEAD' "$IT_TMP/watch.out" || it_fail "watch: bidi: $(cat "$IT_TMP/watch.out")"
grep -qF '(node 0a0b0c0d\x1B]0;pwned\x07)' "$IT_TMP/watch.err" || it_fail "watch: greeting: $(cat "$IT_TMP/watch.err")"
run watch_json "$SPORE" --node "$node" events watch --count 3 --timeout 20 --json
check_clean watch_json
[ "$(jq -c . "$IT_TMP/watch_json.out" | wc -l)" -eq 3 ] || it_fail "events watch --json: $(cat "$IT_TMP/watch_json.out")"

# An error answer's sentence and code (POST /api/node/restart answers 500 here).
run restart "$SPORE" --node "$node" node restart --token t --bearer
[ "$RC" -eq 1 ] || it_fail "restart against a 500: exit $RC"
check_clean restart
grep -qF 'failed\x1B]0;pwned\x07' "$IT_TMP/restart.err" || it_fail "error sentence: $(cat "$IT_TMP/restart.err")"
log "escape sequences from a node are shown, not obeyed, in table, status, watch, JSON and errors"

# ---- finding 10: a planted .env does not choose where the token goes
start_fake rec 4 record
rec="$(it_ip 4):$IT_HTTP_PORT"
planted="$IT_TMP/planted"
mkdir -p "$planted"
cd "$planted"
printf 'export API_NODE=%s\n' "$rec" >.env
chmod 0666 .env
refused() {
  local what="$1"
  grep -qF "not taking API_NODE from $2" <<<"$OUT" && grep -q "$3" <<<"$OUT" ||
    it_fail "$what: refusal does not name the file and its $3: $OUT"
}
for cmd in "node restart --bearer" "events publish light on --bearer" "cluster members" "ota all /dev/null --bearer"; do
  # shellcheck disable=SC2086
  expect_rc 2 "${clean_env[@]}" SPORE_TOKEN=s3cret-token "$SPORE" $cmd
  refused "$cmd with a 0666 .env" "./.env" "mode 0666"
done
expect_rc 2 "${clean_env[@]}" SPORE_TOKEN=s3cret-token SPORE_ENV_FILE="$planted/.env" "$SPORE" node restart --bearer
refused "SPORE_ENV_FILE naming a 0666 file" "$planted/.env" "mode 0666"
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
  chmod 0644 .env
  chown nobody .env
  expect_rc 2 "${clean_env[@]}" SPORE_TOKEN=s3cret-token "$SPORE" node restart --bearer
  refused "a .env owned by nobody" "./.env" "owned by nobody"
  chown "$(id -u)" .env
else
  log "not root: the chown-to-another-user case is skipped (the 0666 case covers the rule)"
fi
[ ! -s "$IT_TMP/rec.log" ] || it_fail "requests reached the node a foreign .env named: $(cat "$IT_TMP/rec.log")"
# The user's own .env is used, and stderr says which file named the node.
chmod 0600 .env
expect_rc 1 "${clean_env[@]}" SPORE_TOKEN=s3cret-token "$SPORE" node restart --bearer
grep -q "^spore: node $rec from API_NODE in ./.env$" <<<"$OUT" || it_fail "the note naming the .env: $OUT"
grep -q '"authorization": true' "$IT_TMP/rec.log" || it_fail "the own .env's node got no request: $(cat "$IT_TMP/rec.log")"
log "a .env that is not the user's own cannot name the node; the own one can, and is named on stderr"
