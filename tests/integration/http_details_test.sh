#!/usr/bin/env bash
# HTTP details a user's plain clients meet (issue 21, items 4 and 10 and the 401 of item 5), on
# one spored: GET / as gzip only to a client that accepts it (curl without --compressed gets
# readable HTML), with Vary: Accept-Encoding; no answer says both "Connection: close" and
# Keep-Alive; a 401 to the seed's curl names the header and the token's file; the 503 of a node
# whose every event-stream slot is taken carries Retry-After; a second spored that cannot bind
# its HTTP port exits without ever logging "started".
source "$(dirname "$0")/lib.sh"
it_init 320 60

start_node 1
url="$(it_url 1)"

# ---- GET /: identity without Accept-Encoding, gzip with it; Vary either way
curl -s -D "$IT_TMP/h1.txt" -o "$IT_TMP/page.html" "$url/" || it_fail "GET / failed"
tr -d '\r' <"$IT_TMP/h1.txt" >"$IT_TMP/h1"
grep -qi '^content-encoding:' "$IT_TMP/h1" && it_fail "GET / without Accept-Encoding came compressed: $(cat "$IT_TMP/h1")"
grep -qi '^vary: accept-encoding$' "$IT_TMP/h1" || it_fail "GET / without Vary: Accept-Encoding"
grep -qi '<html' "$IT_TMP/page.html" || it_fail "GET / without Accept-Encoding is not readable HTML"
curl -s --compressed -D "$IT_TMP/h2.txt" -o "$IT_TMP/page2.html" "$url/" || it_fail "GET / --compressed failed"
tr -d '\r' <"$IT_TMP/h2.txt" >"$IT_TMP/h2"
grep -qi '^content-encoding: gzip$' "$IT_TMP/h2" || it_fail "GET / with Accept-Encoding: gzip is not gzip"
grep -qi '^vary: accept-encoding$' "$IT_TMP/h2" || it_fail "the gzip GET / without Vary"
cmp -s "$IT_TMP/page.html" "$IT_TMP/page2.html" || it_fail "the identity page differs from the inflated gzip one"
[ "$(curl -s -H 'Accept-Encoding: gzip;q=0' -D - -o /dev/null "$url/" | grep -ci '^content-encoding')" = 0 ] ||
  it_fail "gzip;q=0 still got gzip"
log "GET /: identity HTML ($(wc -c <"$IT_TMP/page.html") B) to plain curl, gzip to --compressed, Vary on both"

# ---- Connection: close never together with Keep-Alive (HTTP/1.0 and 1.1, kept-alive or not)
for v in --http1.0 --http1.1; do
  for h in 'Connection: keep-alive' 'Connection: close'; do
    for path in / /api/node/status /nope; do
      heads="$(curl -s "$v" -H "$h" -D - -o /dev/null "$url$path" | tr -d '\r')"
      if grep -qi '^connection: close' <<<"$heads" && grep -qi 'keep-alive' <<<"$heads"; then
        it_fail "$v '$h' $path: Connection: close with Keep-Alive: $heads"
      fi
    done
  done
done
log "no answer says Connection: close and Keep-Alive together"

# ---- 401 to the seed's curl: the message names the header and the token's file
body="$(curl -s -X POST "$url/api/node/restart")"
jq -e --arg f "$(node_dir 1)/api_token" '.code == "auth_required" and (.error | contains("Authorization: Bearer"))
  and (.error | contains($f)) and .tokenLocation == $f' <<<"$body" >/dev/null || it_fail "401 body: $body"
log "401: $(jq -r .error <<<"$body")"

# ---- 503 too_many_streams with Retry-After: every slot taken from 4 addresses (2 each, the
# per-address limit), the next address is refused by the node's own limit
for a in 11 12 13 14; do
  for i in 1 2; do
    start_extra curl -sN --max-time 30 --interface "$(it_ip "$a")" "$url/api/cluster/events/stream" -o /dev/null
  done
done
slots_taken() {
  curl -s --interface "$(it_ip 15)" -D "$IT_TMP/h3.txt" -o "$IT_TMP/b3.json" --max-time 2 "$url/api/cluster/events/stream"
  jq -e '.code == "too_many_streams" and .maxStreams == 8' "$IT_TMP/b3.json" >/dev/null 2>&1
}
wait_until "every stream slot taken" 10 slots_taken
tr -d '\r' <"$IT_TMP/h3.txt" | grep -qi '^retry-after: [0-9]\+$' || it_fail "503 too_many_streams without Retry-After: $(cat "$IT_TMP/h3.txt")"
log "503 too_many_streams (maxStreams 8) with $(tr -d '\r' <"$IT_TMP/h3.txt" | grep -i '^retry-after')"

# ---- a spored that cannot bind its HTTP port never logs "started"
mkdir -p "$(node_dir 2)" && chmod 700 "$(node_dir 2)"
spawn_spored new_log="$(node_log 2)" bin="$SPORED" hostname=n2 bind="$(it_ip 1)" http_port="$IT_HTTP_PORT" \
  udp_port=$((IT_UDP_PORT + 500)) state_dir="$(node_dir 2)" --
pid=$SPAWN_PID
exited() { ! kill -0 "$pid" 2>/dev/null; }
wait_until "the second spored exits" 15 exited
rc=0
wait "$pid" 2>/dev/null || rc=$?
[ "$rc" != 0 ] || it_fail "a spored that could not bind exited 0"
grep -q 'cannot listen on' "$(node_log 2)" || it_fail "no bind error in its log: $(cat "$(node_log 2)")"
grep -q 'started' "$(node_log 2)" && it_fail "a spored that could not bind logged 'started': $(cat "$(node_log 2)")"
log "a second spored on the same HTTP port: exit $rc, '$(grep -o 'cannot listen on.*' "$(node_log 2)" | head -1)', no 'started'"
