"""A hostile LAN peer for `spore discover` (issue 21, findings F3 and F4), Python's standard library only.

usage: discover_peer.py ghost BIND_IP PORT SECONDS
         sends a forged broadcast ANNOUNCE (dest 0, hostname "ghost") to 127.255.255.255:PORT every 0.1 s:
         what a replay of an old one looks like; an asking CLI must not list it, a --passive one marks it.
       discover_peer.py flood BIND_IP PORT SECONDS
         waits for a DISCOVER on BIND_IP:PORT (at most 10 s), then answers its source with forged ANNOUNCEs
         addressed to the asker, a new node id each, as fast as it can for SECONDS; prints how many.
"""
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spore_wire as w  # noqa: E402

mode, bind_ip, port, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
ip = struct.unpack(">I", socket.inet_aton(bind_ip))[0]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
end = time.monotonic() + seconds
if mode == "ghost":
    s.bind((bind_ip, 0))
    d = w.datagram(w.ANNOUNCE, 0xC0FFEE01, 1, 1, 0, w.announce_body(ip, s.getsockname()[1], 80, b"ghost"))
    while time.monotonic() < end:
        s.sendto(d, ("127.255.255.255", port))
        time.sleep(0.1)
    sys.exit(0)
s.bind((bind_ip, port))
s.settimeout(10)
req, asker = s.recvfrom(2048)
asker_id = struct.unpack(">I", req[5:9])[0]
s.setblocking(False)
sent, base = 0, random.randrange(1, 2**31)
while time.monotonic() < end:
    d = w.datagram(w.ANNOUNCE, base + sent, 1, 1, asker_id, w.announce_body(ip, port, 80, b"fake%d" % sent))
    try:
        s.sendto(d, asker)
        sent += 1
    except BlockingIOError:
        time.sleep(0.0002)
print(sent)
