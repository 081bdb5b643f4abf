#!/usr/bin/python3
"""A hostile LAN peer without the cluster key, for the issue-20 attack tests (tests/integration/
replay_*_test.sh, spoof_flood_test.sh, amplification_test.sh). Loopback only: a forged source is
an address of 127.0.0.0/8 bound by this process, which is how a spoofed source looks there.

  lan_attacker.py capture --bind IP:PORT --out FILE
      Listens where a node was told to send (its --join list) and appends every datagram it gets,
      one line each: "<unix ms> <source ip> <source port> <hex>". Runs until SIGTERM.
  lan_attacker.py replay --capture FILE --sender HEX --to IP:PORT --bind IP [--newest N]
                         [--interval S] [--type T]
      Sends the captured datagrams of SENDER (header sender id; optionally only type T), byte for
      byte, the newest N first, one every S seconds, from IP. Prints how many it sent.
  lan_attacker.py flood --bind IP --to IP:PORT --rate N --seconds S
      Junk datagrams "from" IP (the address of the member it impersonates) at N per second:
      random bytes, and headers claiming nothing in particular. Prints how many it sent.
  lan_attacker.py amplify --capture FILE --target-id HEX --to IP:PORT --victim IP --named IP
                          --kind KIND [--member-id HEX --member-incarnation N] [--count N]
      Requests of KIND (event_req, info_req, gossip, ping, ping_req, ping_req_member) "from" the
      victim's address (bound), built in the protocol version the target speaks (read from its
      captured datagram: v1 header of 19 bytes, or v2's 23 with the destination id); waits, and
      prints "<bytes sent> <bytes back to the victim> <bytes to the named address>". A second
      socket on --named (an address that never sends anything) counts what reaches it.

Python's standard library only.
"""
import argparse
import os
import select
import socket
import struct
import sys
import time

TYPES = {"announce": 1, "ping": 2, "ack": 3, "ping_req": 4, "gossip": 5, "leave": 6, "info_req": 7, "info": 8,
         "event": 9, "event_req": 10, "event_digest": 11}


def addr(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


def ip_int(text):
    return struct.unpack(">I", socket.inet_aton(text))[0]


def read_capture(path):
    out = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 4:
                out.append((int(parts[0]), parts[1], int(parts[2]), bytes.fromhex(parts[3])))
    return out


def header_sender(data):
    return struct.unpack(">I", data[5:9])[0] if len(data) >= 9 and data[:2] == b"SP" else 0


def capture(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    host, port = addr(a.bind)
    s.bind((host, port))
    with open(a.out, "a", buffering=1) as f:
        while True:
            data, (src, sport) = s.recvfrom(2048)
            f.write("%d %s %d %s\n" % (int(time.time() * 1000), src, sport, data.hex()))


def replay(a):
    sender = int(a.sender, 16)
    caps = [c for c in read_capture(a.capture)
            if header_sender(c[3]) == sender and (a.type is None or c[3][3] == TYPES[a.type])]
    caps = caps[::-1][: a.newest]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.bind, 0))
    for i, c in enumerate(caps):
        s.sendto(c[3], addr(a.to))
        if i + 1 < len(caps):
            time.sleep(a.interval)
    print(len(caps))


def flood(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.bind, 0))
    s.setblocking(False)
    junk = [os.urandom(64), b"SP" + os.urandom(62), b"SP\x01\x05\x01" + os.urandom(59)]
    to = addr(a.to)
    sent, start = 0, time.monotonic()
    batch = max(1, a.rate // 100)
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= a.seconds:
            break
        due = int(elapsed * a.rate)
        while sent < due:
            for _ in range(min(batch, due - sent)):
                try:
                    s.sendto(junk[sent % 3], to)
                except BlockingIOError:
                    pass
                sent += 1
        time.sleep(0.002)
    print(sent)


class Wire:
    """Header of the protocol version the target speaks (its captured datagram's version byte)."""

    def __init__(self, version, target_id):
        self.version, self.target_id = version, target_id

    def datagram(self, mtype, sender, incarnation, seq, body):
        head = b"SP" + struct.pack(">BBBIII", self.version, mtype, 0, sender, incarnation, seq)
        if self.version >= 2:
            head += struct.pack(">I", self.target_id)  # v2: the destination node id
        return head + struct.pack(">H", len(body)) + body


def gossip_section(entries):
    return bytes([len(entries)]) + b"".join(struct.pack(">IIIHHB", *e) for e in entries)


def request_body(kind, a, named_ip, named_port, epoch):
    if kind == "event_req":
        return TYPES["event_req"], struct.pack(">II", epoch, 1)
    if kind == "info_req":
        return TYPES["info_req"], b"\x00"
    if kind == "gossip":  # unknown ids, alive, at the named address
        return TYPES["gossip"], gossip_section([(0xB0000000 + i, 1, named_ip, named_port, 80, 1) for i in range(28)])
    if kind == "ping":
        return TYPES["ping"], struct.pack(">III", int(a.target_id, 16), 1, 0) + b"\x00"
    target = 0xC0FFEE01 if kind == "ping_req" else int(a.ping_target_id, 16)
    return TYPES["ping_req"], struct.pack(">IIIIH", 1, 0, target, named_ip, named_port) + b"\x00"


def amplify(a):
    caps = [c for c in read_capture(a.capture) if header_sender(c[3]) == int(a.target_id, 16)]
    if not caps:
        sys.exit("no captured datagram of the target: cannot tell its protocol version")
    first = caps[-1][3]
    wire = Wire(first[2], int(a.target_id, 16))
    epoch = struct.unpack(">I", first[9:13])[0]
    victim = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    victim.bind((a.victim, 0))
    named = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    named.bind((a.named, 0))
    named_port = named.getsockname()[1]
    mtype, body = request_body(a.kind, a, ip_int(a.named), named_port, epoch)
    # A fresh sender id and sequence range per run: the target's replay window must not refuse a
    # run for what an earlier one sent (in a member's name: above anything that member sent).
    run_id = int(time.time() * 10) & 0xFFFFF
    if a.member_id:
        sender, incarnation, seq0 = int(a.member_id, 16), a.member_incarnation, 0x40000000 + run_id * 256
    else:
        sender, incarnation, seq0 = 0xE0000000 + run_id, 1, 1
    sent = back = to_named = 0
    deadline = time.monotonic() + a.count * 0.1 + 2.0
    i = 0
    next_send = time.monotonic()
    while time.monotonic() < deadline:
        now = time.monotonic()
        if i < a.count and now >= next_send:
            d = wire.datagram(mtype, sender, incarnation, seq0 + i, body)
            victim.sendto(d, addr(a.to))
            sent += len(d)
            i += 1
            next_send = now + 0.1
        ready, _, _ = select.select([victim, named], [], [], 0.02)
        for r in ready:
            data = r.recv(2048)
            if r is victim:
                back += len(data)
            else:
                to_named += len(data)
    print(sent, back, to_named)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("capture")
    p.add_argument("--bind", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("replay")
    p.add_argument("--capture", required=True)
    p.add_argument("--sender", required=True)
    p.add_argument("--to", required=True)
    p.add_argument("--bind", required=True)
    p.add_argument("--newest", type=int, default=1000)
    p.add_argument("--interval", type=float, default=0.2)
    p.add_argument("--type", choices=sorted(TYPES))
    p = sub.add_parser("flood")
    p.add_argument("--bind", required=True)
    p.add_argument("--to", required=True)
    p.add_argument("--rate", type=int, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p = sub.add_parser("amplify")
    p.add_argument("--capture", required=True)
    p.add_argument("--target-id", required=True)
    p.add_argument("--to", required=True)
    p.add_argument("--victim", required=True)
    p.add_argument("--named", required=True)
    p.add_argument("--kind", required=True, choices=["event_req", "info_req", "gossip", "ping", "ping_req",
                                                     "ping_req_member"])
    p.add_argument("--member-id")
    p.add_argument("--member-incarnation", type=int, default=0)
    p.add_argument("--ping-target-id")
    p.add_argument("--count", type=int, default=20)
    a = ap.parse_args()
    {"capture": capture, "replay": replay, "flood": flood, "amplify": amplify}[a.cmd](a)


if __name__ == "__main__":
    main()
