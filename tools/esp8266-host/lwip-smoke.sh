#!/usr/bin/env bash
# Smoke test of the host lwIP build (issue 17): lwIP 2.1.3 with the ESP8266 core 3.1.2's lwipopts.h,
# on a TAP device, answering Linux over a bridge. Needs root (network namespaces, TAP) and the source
# trees lwip-build.sh takes; not part of CI (those trees are not Debian packages).
#
#   tools/esp8266-host/lwip-smoke.sh LWIP_DIR ARDUINO_DIR
#
# Topology, all inside two namespaces of its own (no traffic outside them):
#   lws-<pid>-a : bridge br0; tap0 (lwIP, 10.232.17.2, the smoke program) and veth va on it;
#                 hairpin on tap0, so the bridge hands lwIP its own broadcasts back: the "no own
#                 broadcast" check then exercises tap_netif's own-MAC filter instead of passing
#                 because nothing came back
#   lws-<pid>-b : vb 10.232.17.1/24 (Linux, the checker)
# Checks, from Linux in lws-<pid>-b: ping, UDP echo, TCP "hello\n" (8 connections, then the chip's
# TIME-WAIT limit from the program's counters), lwIP's broadcasts received, multicast to a group lwIP
# joined, link down (WiFi disconnect: silent, frames dropped) and up again, no own broadcast heard.
# Prints PASS/FAIL per check; exit status 0 only if every check passes. Bounded: every step has a
# timeout, the smoke program exits by itself after 60 s; namespaces and the build dir go on EXIT.
set -uo pipefail

[[ $# -eq 2 ]] || { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "lwip-smoke: needs root (network namespaces, TAP)" >&2; exit 2; }
for t in ip python3 timeout; do command -v $t >/dev/null || { echo "lwip-smoke: $t missing (apt-get install iproute2 python3 coreutils)" >&2; exit 2; }; done
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/lwip-smoke.XXXXXX)
NA=lws-$$-a NB=lws-$$-b
LWIP_IP=10.232.17.2 LINUX_IP=10.232.17.1 MAC=02:5e:17:00:00:02
SMOKE_PID='' PROG_PID=''

cleanup() {
  [[ -n $PROG_PID ]] && kill "$PROG_PID" 2>/dev/null
  [[ -n $SMOKE_PID ]] && kill "$SMOKE_PID" 2>/dev/null && wait "$SMOKE_PID" 2>/dev/null
  ip netns del "$NA" 2>/dev/null; ip netns del "$NB" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

"$HERE/lwip-build.sh" "$1" "$2" "$WORK/lwip" || exit 1
eval "FLAGS=($(cat "$WORK/lwip/lwip-host.flags"))"
gcc -std=gnu17 -Os -g "${FLAGS[@]}" -Wall -Wextra -Werror "$HERE/lwip_smoke_main.c" "$WORK/lwip/liblwip-host.a" -o "$WORK/lwip-smoke" || exit 1

ip netns add "$NA" && ip netns add "$NB" || exit 1
A() { ip netns exec "$NA" "$@"; }
B() { ip netns exec "$NB" "$@"; }
A ip link set lo up; B ip link set lo up
A ip link add br0 type bridge || exit 1
A ip link set br0 type bridge stp_state 0 forward_delay 0
A ip tuntap add dev tap0 mode tap || exit 1
A ip link add va type veth peer name vb netns "$NB" || exit 1
A ip link set tap0 master br0; A ip link set va master br0
A ip link set tap0 type bridge_slave hairpin on || exit 1
A ip link set br0 up; A ip link set tap0 up; A ip link set va up
B ip addr add "$LINUX_IP/24" dev vb; B ip link set vb up

ip netns exec "$NA" timeout 90 "$WORK/lwip-smoke" tap0 "$MAC" "$LWIP_IP" 255.255.255.0 60 >"$WORK/smoke.out" 2>&1 &
SMOKE_PID=$!
for _ in $(seq 50); do grep -q "up on" "$WORK/smoke.out" 2>/dev/null && break; sleep 0.1; done
grep -q "up on" "$WORK/smoke.out" || { echo "FAIL start: $(cat "$WORK/smoke.out")"; exit 1; }
# The program's own pid (timeout(1) between would not pass SIGUSR1/2 on).
PROG_PID=$(sed -n 's/.*up on .* pid \([0-9]*\)$/\1/p' "$WORK/smoke.out")
[[ -n $PROG_PID ]] || { echo "FAIL start: no pid in $(cat "$WORK/smoke.out")"; exit 1; }

FAILS=0
check() {  # NAME COMMAND...
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then echo "PASS $name${out:+: $out}"; else echo "FAIL $name${out:+: $out}"; FAILS=$((FAILS + 1)); fi
}

# ICMP echo from Linux to lwIP (a raw socket: iputils-ping is not a dependency of the project).
check ping B timeout 10 python3 - "$LWIP_IP" <<'PY'
import os, socket, struct, sys, time
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); s.settimeout(1)
ident, ok = os.getpid() & 0xffff, 0
for seq in range(3):
    payload = b"spore-lwip-smoke-%d" % seq
    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    s.sendto(struct.pack("!BBHHH", 8, 0, csum(hdr + payload), ident, seq) + payload, (sys.argv[1], 0))
    t0 = time.time()
    while time.time() - t0 < 1:
        try: pkt, src = s.recvfrom(2048)
        except socket.timeout: break
        ihl = (pkt[0] & 15) * 4
        t, _, _, i, q = struct.unpack("!BBHHH", pkt[ihl:ihl + 8])
        if src[0] == sys.argv[1] and t == 0 and i == ident and q == seq and pkt[ihl + 8:] == payload:
            ok += 1; break
print("%d/3 echo replies" % ok); sys.exit(0 if ok == 3 else 1)
PY

check udp-echo B timeout 10 python3 - "$LWIP_IP" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
msg = b"udp-echo-" + os.urandom(8).hex().encode()
for _ in range(3):
    s.sendto(msg, (sys.argv[1], 4210))
    try:
        data, src = s.recvfrom(2048)
        if data == msg and src[0] == sys.argv[1]: print("round trip, %d bytes" % len(data)); sys.exit(0)
    except socket.timeout: pass
print("no echo"); sys.exit(1)
PY

# 8 connections: each leaves a TIME-WAIT pcb on the lwIP side (it closes first; TIME-WAIT lasts 120 s),
# more than the chip keeps: lwipopts.h TCP_TW_LIMIT(MEMP_NUM_TCP_PCB_TIME_WAIT = 5) leaves 6 (it stops
# when count - 1 <= 5). Checked from the counters at the end: exactly 6 at most, not 8.
check tcp-hello B timeout 20 python3 - "$LWIP_IP" <<'PY'
import socket, sys
for i in range(8):
    s = socket.create_connection((sys.argv[1], 4280), timeout=3); data = b""
    while True:
        chunk = s.recv(100)
        if not chunk: break
        data += chunk
    s.close()
    if data != b"hello\n": print("connection %d: %r" % (i, data)); sys.exit(1)
print("8 connections, each 'hello\\n' then close")
PY

check broadcast-received B timeout 10 python3 - "$LWIP_IP" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.bind(("0.0.0.0", 4211)); s.settimeout(3); t0 = time.time()
while time.time() - t0 < 3:
    try: data, src = s.recvfrom(2048)
    except socket.timeout: break
    if src[0] == sys.argv[1] and data.startswith(b"bcast "): print(repr(data.decode())); sys.exit(0)
print("no broadcast from lwIP in 3 s"); sys.exit(1)
PY

check multicast-239.1.2.3 B timeout 10 python3 - "$LWIP_IP" "$LINUX_IP" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(sys.argv[2]))
for _ in range(3):
    s.sendto(b"m1", ("239.1.2.3", 4212))
    try:
        data, src = s.recvfrom(2048)
        if src[0] == sys.argv[1] and data == b"mcast-ok:m1": print("lwIP joined and answered"); sys.exit(0)
    except socket.timeout: pass
print("no answer to 239.1.2.3"); sys.exit(1)
PY

# WiFi disconnect and reconnect: tap_netif_set_up(false) must silence the board (frames read and
# dropped, nothing answered), tap_netif_set_up(true) must bring the same board back.
udp_probe() {  # EXPECT(answer|silence)
  B timeout 10 python3 - "$LWIP_IP" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1); got = False
for _ in range(3):
    s.sendto(b"link-probe", (sys.argv[1], 4210))
    try: got = s.recvfrom(2048)[0] == b"link-probe"
    except socket.timeout: pass
    if got: break
print("answered" if got else "silent"); sys.exit(0 if got == (sys.argv[2] == "answer") else 1)
PY
}
wait_line() { for _ in $(seq 30); do grep -q "$1" "$WORK/smoke.out" && return 0; sleep 0.1; done; return 1; }
kill -USR1 "$PROG_PID"; wait_line "link down" || echo "(no 'link down' line)"
check link-down-silent udp_probe silence
kill -USR2 "$PROG_PID"; wait_line "link up" || echo "(no 'link up' line)"
check link-up-again udp_probe answer

# Stop the program and read its counters: it must have heard none of its own broadcasts, although the
# hairpin bridge port returned its frames to the TAP (rx_own_dropped > 0 shows they came back).
kill -TERM "$PROG_PID"; wait "$SMOKE_PID"; SMOKE_PID='' PROG_PID=''
STATS=$(grep '^smoke-stats' "$WORK/smoke.out")
own_rx=$(sed -n 's/.*own_bcast_rx=\([0-9]*\).*/\1/p' <<<"$STATS")
own_dropped=$(sed -n 's/.*rx_own_dropped=\([0-9]*\).*/\1/p' <<<"$STATS")
link_down=$(sed -n 's/.*rx_link_down=\([0-9]*\).*/\1/p' <<<"$STATS")
if [[ ${link_down:-0} -gt 0 ]]; then echo "PASS link-down-drops: $link_down frames dropped while down"; else echo "FAIL link-down-drops: rx_link_down=${link_down:-?}"; FAILS=$((FAILS + 1)); fi
if [[ -n $own_rx && $own_rx -eq 0 && ${own_dropped:-0} -gt 0 ]]; then
  echo "PASS no-own-broadcast: $STATS"
else
  echo "FAIL no-own-broadcast: ${STATS:-no counters: $(cat "$WORK/smoke.out")}"; FAILS=$((FAILS + 1))
fi
tw_max=$(sed -n 's/.*tw_max=\([0-9]*\).*/\1/p' <<<"$STATS")
served=$(sed -n 's/.*hello_served=\([0-9]*\).*/\1/p' <<<"$STATS")
if [[ ${served:-0} -ge 8 && ${tw_max:-0} -eq 6 ]]; then
  echo "PASS time-wait-limit: $served connections served, at most $tw_max pcbs in TIME-WAIT (the chip's TCP_TW_LIMIT(5) keeps 6)"
else
  echo "FAIL time-wait-limit: served=${served:-?} tw_max=${tw_max:-?} (want >= 8 served, at most 6 in TIME-WAIT, as the chip)"; FAILS=$((FAILS + 1))
fi
[[ $FAILS -eq 0 ]] && echo "lwip-smoke: all checks passed" || echo "lwip-smoke: $FAILS check(s) failed"
exit $((FAILS > 0))
