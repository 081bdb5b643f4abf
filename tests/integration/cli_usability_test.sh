#!/usr/bin/env bash
# The spore CLI as a new user meets it (issue 21, item 7): a mistyped command gets the command it
# resembles (exit 2); short flags and `--watch` without a period; the incarnation as BOOT/SEQ; a
# host name that does not resolve is named as such; a web server that is not a SPORE node is named
# as such, its page never printed; `ota all` with a file that is no firmware image stops (exit 2)
# before any request. One node and one python3 http.server on loopback; a few seconds.
source "$(dirname "$0")/lib.sh"
it_init 350

start_node 1
addr="$(it_ip 1):$IT_HTTP_PORT"

# ---- typos: the closest command, anywhere in the tree; exit 2
expect_rc 2 "$SPORE" members
grep -qF "unknown command 'members'; did you mean 'cluster members'?" <<<"$OUT" || it_fail "members: $OUT"
expect_rc 2 "$SPORE" --node "$addr" node restat
grep -qF "unknown command 'restat'; did you mean 'node restart'?" <<<"$OUT" || it_fail "node restat: $OUT"
expect_rc 2 "$SPORE" -n "$addr" xyzzy
grep -qF "unknown command 'xyzzy'; the commands are: cluster node" <<<"$OUT" || it_fail "xyzzy: $OUT"

# ---- usage lines name the arguments, not CLI11's counts
expect_rc 0 "$SPORE" ota update --help
grep -q '^Usage: spore ota update \[OPTIONS\] \[NODE\] FILE$' <<<"$OUT" || it_fail "ota update usage: $OUT"
grep -q 'args(' <<<"$OUT" && it_fail "usage still shows args(Nx): $OUT"

# ---- short flags, the incarnation as BOOT/SEQ (a first boot is 1/N), --json keeps the number
expect_rc 0 "$SPORE" -n "$addr" cluster members
grep -Eq '^n1\* .* 1/[0-9]+ +[0-9]+$' <<<"$OUT" || it_fail "INC column not BOOT/SEQ: $OUT"
expect_rc 0 "$SPORE" cluster members -j -n "$addr"
jq -e '.members[0].incarnation >= 65536' <<<"$OUT" >/dev/null || it_fail "--json lost the number: $OUT"

# ---- a name that never resolves (.invalid, RFC 2606); in a network namespace of its own when
# possible, so that not even a DNS query leaves
resolve_run=()
unshare -n true 2>/dev/null && resolve_run=(unshare -n)
expect_rc 1 "${resolve_run[@]}" "$SPORE" --node "no-such-node.invalid" --http-timeout 3 node status
grep -qF "cannot resolve host 'no-such-node.invalid'" <<<"$OUT" || it_fail "DNS failure not named: $OUT"
grep -q "nothing listening" <<<"$OUT" && it_fail "DNS failure reported as nothing listening: $OUT"

# ---- a web server that is not a SPORE node
web="$IT_TMP/web"
mkdir -p "$web"
printf '<html><body>SECRET-PAGE-TEXT</body></html>\n' >"$web/index.html"
start_extra python3 -m http.server --bind "$(it_ip 5)" --directory "$web" "$IT_HTTP_PORT" 2>"$IT_TMP/web.log"
web_up() { curl -sf --max-time 2 "http://$(it_ip 5):$IT_HTTP_PORT/" >/dev/null; }
wait_until "the python web server answers" 20 web_up
webaddr="$(it_ip 5):$IT_HTTP_PORT"
for cmd in "cluster members" "node status" "events watch -t 5" "ota update $SPORED --token t"; do
  # shellcheck disable=SC2086
  expect_rc 1 "$SPORE" --node "$webaddr" $cmd
  grep -qF "this is not a SPORE node (answered HTML from http://$webaddr/api/" <<<"$OUT" || it_fail "$cmd: $OUT"
  grep -q "SECRET-PAGE-TEXT\|<html" <<<"$OUT" && it_fail "$cmd printed the page: $OUT"
done

# ---- --watch without a period refreshes every 2 s (-w alone; the error stays inside the watch)
set +e
OUT="$(timeout 1 "$SPORE" --node "$webaddr" cluster members -w 2>&1)"
set -e
grep -q "every 2 s" <<<"$OUT" || it_fail "-w without SECONDS: $OUT"

# ---- ota all with a file that is no image: exit 2, and the node (the web server here) got no request
printf 'this is a text file, not firmware\n' >"$IT_TMP/notes.txt"
requests_before="$(grep -c '"GET \|"POST ' "$IT_TMP/web.log" || true)"
expect_rc 2 "$SPORE" --node "$webaddr" ota all "$IT_TMP/notes.txt" --token t
grep -qF "is not a firmware image: it starts with 74 68 69 73" <<<"$OUT" || it_fail "ota all bad file: $OUT"
expect_rc 2 "$SPORE" ota update "$webaddr" "$IT_TMP/notes.txt" --token t
grep -qF "is not a firmware image" <<<"$OUT" || it_fail "ota update bad file: $OUT"
[ "$(grep -c '"GET \|"POST ' "$IT_TMP/web.log" || true)" = "$requests_before" ] ||
  it_fail "ota all sent a request before refusing the file: $(tail -n 3 "$IT_TMP/web.log")"
log "typos, usage lines, short flags, BOOT/SEQ, DNS failure, non-SPORE server, -w, the image check: as expected"
