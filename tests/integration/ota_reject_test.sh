#!/usr/bin/env bash
# POST /api/node/update with bad input: each gets a clear 4xx JSON error and the node keeps running
# the old firmware with the same status (same pid, incarnation, imageSha256, version, executable
# file, no temporary file left): missing / wrong token, empty, wrong magic, broken multipart, wrong
# media type, truncated body (connection closed early), too large (declared, multipart, chunked),
# concurrent upload (409), connection dropped mid-upload (the slot is freed: no stuck "busy").
# Finally a good image still installs, proving nothing is stuck.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ota_lib.sh"
it_init 121

start_ota_node 1
start_ota_node 2 --ota-max-image-bytes 1000000  # smaller than spored: for the too-large cases
token="$(token_of 1)"
token2="$(token_of 2)"
auth=(-H "Authorization: Bearer $token")
octet=(-H "Content-Type: application/octet-stream")
before="$(snapshot 1)"
before2="$(snapshot 2)"
log "n1: $before"

img="$IT_TMP/img"
mkdir -p "$img"
patch_version "$SPORED" "$img/good" 9.9.9
printf 'this is not a firmware image\n' >"$img/text"
: >"$img/empty"
printf '\xe9\x03\x02\x20\x00\x10\x20\x40esp8266 image' >"$img/esp"
head -c 2000 "$img/good" >"$img/head"

# ---- authentication
upload 1 401 auth_required "no token" "${octet[@]}" --data-binary "@$img/good"
upload 1 401 auth_invalid "wrong token" -H "Authorization: Bearer not-the-token" -F "firmware=@$img/good"
upload 1 401 auth_scheme "Basic auth" -H "Authorization: Basic dXNlcjpwYXNz" "${octet[@]}" --data-binary "@$img/text"
grep -qi "^www-authenticate: Spore realm=\"spore\", Bearer" < <(curl -s -D - -o /dev/null --data-binary x "${octet[@]}" "$(it_url 1)/api/node/update") ||
  it_fail "401 without WWW-Authenticate"
expect_unchanged 1 "$before" "unauthenticated uploads"

# ---- empty, wrong magic, media type, broken multipart
upload 1 400 empty "empty raw body" "${auth[@]}" "${octet[@]}" --data-binary ''
upload 1 400 empty "POST without body" "${auth[@]}" -X POST
upload 1 400 empty "empty firmware part" "${auth[@]}" -F "firmware=@$img/empty"
upload 1 422 bad_magic "text file, raw" "${auth[@]}" "${octet[@]}" --data-binary "@$img/text"
upload 1 422 bad_magic "text file, multipart" "${auth[@]}" -F "firmware=@$img/text"
upload 1 422 bad_magic "ESP8266 image" "${auth[@]}" -F "firmware=@$img/esp"
upload 1 415 unsupported_media_type "text/plain body" "${auth[@]}" -H "Content-Type: text/plain" --data-binary "@$img/good"
upload 1 400 bad_request "multipart without a firmware part" "${auth[@]}" -F "file=@$img/good"
upload 1 400 bad_request "multipart without closing boundary" "${auth[@]}" \
  -H "Content-Type: multipart/form-data; boundary=XyZ" \
  --data-binary $'--XyZ\r\nContent-Disposition: form-data; name="firmware"; filename="a.bin"\r\n\r\n\x7fELF\x02\x01\x01\r\n'
upload 1 400 bad_request "multipart with a different boundary" "${auth[@]}" \
  -H "Content-Type: multipart/form-data; boundary=XyZ" \
  --data-binary $'--AbC\r\nContent-Disposition: form-data; name="firmware"\r\n\r\n\x7fELF\r\n--AbC--\r\n'
upload 1 400 bad_request "multipart without boundary parameter" "${auth[@]}" -H "Content-Type: multipart/form-data" \
  --data-binary "@$img/head"
expect_unchanged 1 "$before" "empty, wrong magic, wrong media type and broken multipart uploads"

# ---- truncated: Content-Length promises more than is sent. (a) The client waits: after 5 s
# without a byte the server ends the upload and answers 400 "aborted". (b) The client half-closes
# its side: libmicrohttpd takes the FIN as the client leaving, so no answer arrives, but the node
# must still abort the upload and stay unchanged.
truncated() {
  python3 - "$(it_ip 1)" "$IT_HTTP_PORT" "$token" "$img/head" "$1" <<'EOF'
import socket, sys
host, port, token, path, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
data = open(path, "rb").read()
s = socket.create_connection((host, port), timeout=20)
s.sendall(("POST /api/node/update HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"
           % (host, token, len(data) + 100000)).encode())
s.sendall(data)
if mode == "half-close":
    s.shutdown(socket.SHUT_WR)
resp = b""
def complete(r):
    head, sep, body = r.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False
try:
    while not complete(resp):
        chunk = s.recv(65536)
        if not chunk:
            break
        resp += chunk
except socket.timeout:
    pass
head, _, body = resp.partition(b"\r\n\r\n")
print(head.split(b"\r\n")[0].decode(errors="replace"))
print(body.decode(errors="replace"))
EOF
}
out="$(truncated wait)" || it_fail "truncated upload client failed"
grep -q "^HTTP/1.1 400" <<<"$out" && grep -q '"code":"aborted"' <<<"$out" ||
  it_fail "truncated upload (client waiting) answered: $out"
log "truncated body, client waits: $(head -1 <<<"$out") $(tail -1 <<<"$out")"
expect_unchanged 1 "$before" "a truncated upload"
truncated half-close >/dev/null || it_fail "truncated upload client failed"
aborted_twice() { [ "$(grep -c "ota: update failed: aborted" "$(node_log 1)")" -ge 2 ]; }
wait_until "n1 aborts the half-closed upload" 15 aborted_twice
log "truncated body, client half-closes: upload aborted (no answer after a FIN)"
expect_unchanged 1 "$before" "a truncated, half-closed upload"

# ---- too large for node 2 (--ota-max-image-bytes 1000000)
upload 2 413 too_large "raw image above capacity" -H "Authorization: Bearer $token2" "${octet[@]}" --data-binary "@$img/good"
upload 2 413 too_large "multipart image above capacity" -H "Authorization: Bearer $token2" -F "firmware=@$img/good"
upload 2 413 too_large "chunked image above capacity" -H "Authorization: Bearer $token2" "${octet[@]}" \
  -H "Transfer-Encoding: chunked" --data-binary "@$img/good"
expect_unchanged 2 "$before2" "too-large uploads"

# ---- concurrent upload, then the first one's connection dropped
curl -s --max-time 120 --limit-rate 100k -o "$IT_TMP/slow.json" "${auth[@]}" "${octet[@]}" --data-binary "@$img/good" \
  "$(it_url 1)/api/node/update" &
slow=$!
IT_EXTRA_PIDS+=("$slow")
# The slow upload must hold the slot before the second one is sent: started together, the short text
# upload can win the race and the slow one is then the upload refused with 409.
good_bytes="$(stat -c %s "$img/good")"
slow_started() { grep -q "ota: upload started (raw, $good_bytes bytes declared)" "$(node_log 1)"; }
wait_until "n1 starts the slow upload" 20 slow_started
# text_upload_answers STATUS OUT: a raw upload of the text file to node 1 gets STATUS (body in OUT).
text_upload_answers() {
  local got
  got="$(curl -s --max-time 10 -o "$2" -w '%{http_code}' "${auth[@]}" "${octet[@]}" \
    --data-binary "@$img/text" "$(it_url 1)/api/node/update")" || true
  [ "$got" = "$1" ]
}
wait_until "a second upload is refused with 409 while the slow one streams" 20 \
  text_upload_answers 409 "$IT_TMP/second.json"
jq -e '.code == "busy" and (.error | length > 0)' "$IT_TMP/second.json" >/dev/null ||
  it_fail "409 body: $(cat "$IT_TMP/second.json")"
log "concurrent upload: HTTP 409 $(jq -c . "$IT_TMP/second.json")"
kill -0 "$slow" 2>/dev/null || it_fail "the slow upload ended before it could be dropped: $(cat "$IT_TMP/slow.json")"
kill -KILL "$slow"
wait "$slow" 2>/dev/null || true
wait_until "the node takes uploads again after the dropped one (422 for a text file, not 409)" 20 \
  text_upload_answers 422 "$IT_TMP/after.json"
log "dropped upload: the slot is free again"
[ "$(grep -c "ota: update failed: aborted" "$(node_log 1)")" -ge 3 ] || it_fail "n1's log does not record the dropped upload"
expect_unchanged 1 "$before" "a concurrent and a dropped upload"

# ---- and a good image still installs
read -r pid inc0 _ <<<"$before"
upload 1 200 "" "good image after all that" "${auth[@]}" -F "firmware=@$img/good"
updated() {
  local st
  st="$(status_of 1 2>/dev/null)" || return 1
  [ "$(jq -r .firmwareVersion <<<"$st")" = 9.9.9 ] && [ "$(jq -r .incarnation <<<"$st")" -gt "$inc0" ]
}
wait_until "n1 back with version 9.9.9" 30 updated
[ "$(node_pid 1)" = "$pid" ] && node_alive 1 || it_fail "n1 is not the same process after the update"
[ "$(status_of 1 | jq -r .imageSha256)" = "$(sha_of "$img/good")" ] || it_fail "n1 reports another image hash"
