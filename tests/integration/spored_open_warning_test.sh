#!/usr/bin/env bash
# spored without a cluster key warns at start when other hosts can reach it (issue 20): bound to a
# non-loopback address it logs "cluster: OPEN mode"; on a loopback address, or with a key, it
# does not. The non-loopback node runs in a network namespace of its own (unshare --net: only its
# lo, given 192.0.2.1 of TEST-NET-1), so nothing it sends leaves it; without root or unshare that
# part is skipped (exit 77).
source "$(dirname "$0")/lib.sh"
it_init 261 60

warning="cluster: OPEN mode (no --cluster-key-file) on"
start_node 1
grep -q "cluster key: none" "$(node_log 1)" || it_fail "node 1 did not log its start: $(cat "$(node_log 1)")"
! grep -qF "$warning" "$(node_log 1)" || it_fail "a loopback node warned about open mode: $(cat "$(node_log 1)")"

if [ "$(id -u)" -ne 0 ] || ! unshare --net true 2>/dev/null; then
  log "SKIPPED the non-loopback part: needs root and unshare --net"
  exit 77
fi
printf '%s\n' 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f >"$IT_TMP/key"
chmod 600 "$IT_TMP/key"
# wide_node NAME [spored args...]: spored on 192.0.2.1 in a namespace of its own until it logged its
# start (the REST line), then stopped; its log in $IT_TMP/NAME.log.
wide_node() {
  local name="$1" log="$IT_TMP/$1.log" pid
  shift
  mkdir -m 700 "$IT_TMP/$name"
  timeout 30 unshare --net bash -c 'ip link set lo up && ip addr add 192.0.2.1/24 dev lo && exec "$@"' \
    wide "$SPORED" --bind 192.0.2.1 \
    --hostname "$name" --state-dir "$IT_TMP/$name" --udp-port "$IT_UDP_PORT" --http-port "$IT_HTTP_PORT" \
    --profile fast "$@" >"$log" 2>&1 &
  pid=$!
  IT_EXTRA_PIDS+=("$pid")
  wait_until "$name logged its start" 20 grep -q "REST: http://192.0.2.1" "$log"
  kill "$pid"
  wait "$pid" || true
}
wide_node open
grep -qF "$warning 192.0.2.1" "$IT_TMP/open.log" || it_fail "no open-mode warning on 192.0.2.1: $(cat "$IT_TMP/open.log")"
grep -q " W .*$warning" "$IT_TMP/open.log" || it_fail "the open-mode line is not a warning: $(cat "$IT_TMP/open.log")"
wide_node keyed --cluster-key-file "$IT_TMP/key"
! grep -qF "$warning" "$IT_TMP/keyed.log" || it_fail "a keyed node warned about open mode: $(cat "$IT_TMP/keyed.log")"
log "open mode warned about on 192.0.2.1, not on loopback, not with a key"
