#!/usr/bin/env bash
# A stalled MQTT cmd/ota download (issue 18, finding 10; docs/mqtt.md, cmd/ota): a real mosquitto,
# Linux nodes, and an image server on loopback that sends an answer's head and 16 bytes of body,
# then nothing. Checked:
#  - the download leaves from the node's --bind address (the server logs its peer's address;
#    before: 127.0.0.1);
#  - the node loop runs on during the stall: its peer keeps it ACTIVE (the fast profile's
#    INACTIVE threshold is 1.5 s) and its REST API answers;
#  - SIGTERM during the stall: the node exits 0 within a few seconds and its peer sees it leave
#    (DEAD with left=true: the LEAVE datagram); before, it held SIGTERM ~30 s (the read timeout);
#  - --ota-url-timeout-s bounds a download: it is given up at the deadline, logged, the node keeps
#    running its image.
source "$(dirname "$0")/lib.sh"
it_init 224 90
source "$(dirname "$0")/ota_lib.sh"
source "$(dirname "$0")/mqtt_lib.sh"
CLUSTER=it224

printf 'token-stall\n' >"$IT_TMP/token"
chmod 600 "$IT_TMP/token"
mqtt_args=(--mqtt "mqtt://127.0.0.1:$PORT" --mqtt-cluster "$CLUSTER" --mqtt-keepalive-s 5 --api-token-file "$IT_TMP/token")
start_ota_node 1 "${mqtt_args[@]}"
start_node 2
start_ota_node 3 "${mqtt_args[@]}" --ota-url-timeout-s 3
wait_until "nodes 1 and 3 online on MQTT" 20 bash -c "
  [ \"\$(timeout 5 mosquitto_sub -h 127.0.0.1 -p $PORT -t '$(base 1)/status' -C 1 -W 2 2>/dev/null)\" = online ] &&
  [ \"\$(timeout 5 mosquitto_sub -h 127.0.0.1 -p $PORT -t '$(base 3)/status' -C 1 -W 2 2>/dev/null)\" = online ]"
wait_until "n2 sees n1 ACTIVE" 30 all_see n1 ACTIVE 2

# The stalling image server: every connection is logged as "PEER_ADDRESS PATH", answered with a
# head announcing 10 MB and 16 bytes of an ELF header, then left hanging (60 s at most).
WWW_IP="$(it_ip 200)"
WWW_PORT=$((IT_HTTP_PORT + 1000))
cat >"$IT_TMP/stall.py" <<'PY'
import socket, sys, threading, time
ip, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((ip, port))
srv.listen(8)
def serve(conn, peer):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(4096)
        if not chunk:
            return
        head += chunk
    path = head.split(b" ")[1].decode()
    with open(log, "a") as f:
        f.write("%s %s\n" % (peer[0], path))
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\nContent-Type: application/octet-stream\r\n\r\n")
    conn.sendall(b"\x7fELF\x02\x01\x01" + b"\0" * 9)
    time.sleep(60)
    conn.close()
while True:
    c, a = srv.accept()
    threading.Thread(target=serve, args=(c, a), daemon=True).start()
PY
: >"$IT_TMP/stall.log"
start_extra python3 "$IT_TMP/stall.py" "$WWW_IP" "$WWW_PORT" "$IT_TMP/stall.log"
stall_up() { python3 -c "import socket,sys; socket.create_connection(('$WWW_IP', $WWW_PORT), 1).close()" 2>/dev/null; }
wait_until "the stalling server listens" 10 stall_up

# ---- node 1: source address, heartbeats during the stall, SIGTERM
pub "$(base 1)/cmd/ota" "$(signed 1 token-stall ota "http://$WWW_IP:$WWW_PORT/n1.bin")"
wait_until "the server sees node 1's download" 15 grep -q ' /n1.bin$' "$IT_TMP/stall.log"
src="$(grep ' /n1.bin$' "$IT_TMP/stall.log" | head -1 | cut -d' ' -f1)"
[ "$src" = "$(it_ip 1)" ] || it_fail "node 1's download came from $src, not its --bind address $(it_ip 1)"
log "the download leaves from --bind ($src)"
wait_until "node 1 has started the upload from the stalled download" 10 grep -q 'ota: upload started' "$(node_log 1)"
sleep 3  # twice the INACTIVE threshold: a node loop stopped for the download would be INACTIVE by now
all_see n1 ACTIVE 2 || it_fail "n2 does not see n1 ACTIVE during its stalled download: $(status_at 2 n1)"
status_of 1 >/dev/null || it_fail "node 1's REST API does not answer during the stalled download"
sleep 1
all_see n1 ACTIVE 2 || it_fail "n2 does not see n1 ACTIVE 4 s into the stalled download"
log "4 s into the stall: n1 ACTIVE at n2, its REST API answers"
# Bounded wait (not a speed measurement): the design says 2 s; stop_node's limit counts whole
# seconds, and the old code needed ~30 s (its read timeout).
stop_node 1 TERM 4
[ "$IT_LAST_EXIT" -eq 0 ] || it_fail "node 1 exited $IT_LAST_EXIT on SIGTERM during the stall, expected 0"
left() { [ "$(status_at 2 n1)" = DEAD ] && [ "$(field_at 2 n1 .left)" = true ]; }
wait_until "n2 sees n1 leave (DEAD, left=true)" 10 left
grep -q 'cancelled (the node is stopping)' "$(node_log 1)" || it_fail "node 1 does not log the cancelled download"
log "SIGTERM during the stall: exit 0, LEAVE seen by n2"

# ---- node 3: the overall deadline (3 s) ends a stalled download; the node runs on
before="$(status_of 3 | jq -r .imageSha256)"
pub "$(base 3)/cmd/ota" "$(signed 3 token-stall ota "http://$WWW_IP:$WWW_PORT/n3.bin")"
wait_until "the server sees node 3's download" 15 grep -q ' /n3.bin$' "$IT_TMP/stall.log"
wait_until "node 3 gives the download up at its deadline" 15 grep -q 'gave up after the download deadline of 3 s' "$(node_log 3)"
grep -q 'deadline 3 s' "$(node_log 3)" || it_fail "node 3 does not log its download deadline"
node_alive 3 || it_fail "node 3 died"
[ "$(status_of 3 | jq -r .imageSha256)" = "$before" ] || it_fail "node 3's image changed"
all_see n3 ACTIVE 2 || it_fail "n2 does not see n3 ACTIVE after its download was given up"
log "a stalled download ends at --ota-url-timeout-s; the node keeps its image"
log "PASS"
