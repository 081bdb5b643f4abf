#!/usr/bin/python3
"""Garbage datagram sender of bench/soak.sh: refused input at a steady rate, counted.

  soak_garbage.py --bind IP --broadcast IP --targets IP,IP,... --port 4210 --rate R
                  --broadcast-pct P --seed S --counts FILE

Runs (in the hub namespace of the test bed: the only place it can send to) until SIGTERM or
SIGINT, sending R datagrams a second to UDP PORT: P % to the subnet broadcast (every node gets
one), the rest unicast to a target drawn at random. Every datagram is built to be refused by
the v2 decoder (docs/protocol.md §9), never accepted: random bytes, and SPORE-looking datagrams
with exactly one defect each — a bad header (version, type, flags, sender 0, body length
short or long, a tag a keyless node does not expect) or a well-formed header whose body breaks
a body rule (length, string, enum, id 0). Sender ids are random and never a real node's, so the
replay window, which the decoder only consults for well-formed headers, never gets an entry.
The rate stays far under the host's shared budget for datagrams that claim no member
(SPORE_MAX_UNVERIFIED_DATAGRAMS_PER_S = 2000, docs/protocol.md §11.11), so the nodes decode every
datagram instead of dropping them as `rate_limited_unverified`.

FILE gets {"sent": {kind: n}, "broadcast": n, "unicast": n, "oversize_broadcast": n,
"oversize_unicast": n, "errors": n} every second and at exit (oversize: over the 508-byte limit;
spored's socket drops those unread, counted apart from the decoder's reasons). Python's standard
library only.
"""
import argparse
import json
import os
import random
import signal
import socket
import struct
import time

MAX_DATAGRAM = 508


def header(rng, mtype, body_len, flags=0, version=2, sender=None):
    # v2: magic, version, type, flags, sender, incarnation, seq, dest (0: broadcast marker), body length
    if sender is None:
        sender = rng.randint(1, 0xFFFFFFFF)
    return b"SP" + struct.pack(">BBBIIIIH", version, mtype, flags, sender, rng.getrandbits(32), rng.getrandbits(32), 0,
                               body_len)


def rand_bytes(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n))


def entry(rng, state=None, node=None):
    return struct.pack(">IIIHHB", rng.randint(1, 0xFFFFFFFF) if node is None else node, rng.getrandbits(32),
                       rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16),
                       rng.randint(1, 4) if state is None else state)


def announce_body(rng, hostname=b"ghost", maxver=2, aflags=0):
    return struct.pack(">BBIHHIIII", maxver, aflags, rng.getrandbits(32), 4210, 8080, rng.getrandbits(32),
                       rng.getrandbits(32), rng.getrandbits(32), rng.getrandbits(32)) + bytes([len(hostname)]) + hostname


# ---- kinds: each returns bytes the decoder must refuse ---------------------------------------

def k_random(rng):
    d = rand_bytes(rng, rng.choice([rng.randint(0, 2), rng.randint(3, 64), rng.randint(65, 508), rng.randint(509, 1400)]))
    if d[:2] == b"SP":
        d = b"X" + d[1:]
    return d


def k_short_header(rng):  # "SP" 2 and fewer than 23 bytes
    return b"SP\x02" + rand_bytes(rng, rng.randint(0, 19))


def k_too_long(rng):  # a valid-looking header on a datagram over 508 bytes
    n = rng.randint(MAX_DATAGRAM - 22, 1200)
    return header(rng, 5, n) + rand_bytes(rng, n)


def k_bad_version(rng):
    return header(rng, 5, 1, version=rng.choice([0, 1] + list(range(3, 256)))) + b"\x00"


def k_unknown_type(rng):
    return header(rng, rng.choice([0] + list(range(12, 256))), 0)


def k_bad_flags(rng):
    return header(rng, 5, 1, flags=rng.randint(1, 127) << 1) + b"\x00"


def k_zero_sender(rng):
    return header(rng, 5, 1, sender=0) + b"\x00"


def k_truncated(rng):  # the header promises more body than there is
    n = rng.randint(0, 40)
    return header(rng, 5, n + rng.randint(1, 100)) + rand_bytes(rng, n)


def k_trailing(rng):  # bytes beyond the body length (no tag flag)
    return header(rng, 5, 1) + b"\x00" + rand_bytes(rng, rng.choice([1, 2, 15, 17, 100]))


def k_tagged(rng):  # authenticated flag with a 16-byte tag: keyless nodes refuse unexpected_auth
    return header(rng, 5, 1, flags=1) + b"\x00" + rand_bytes(rng, 16)


def k_bad_body(rng):
    """A well-formed header and a body that breaks one body rule."""
    c = rng.randrange(12)
    if c == 0:  # ANNOUNCE, empty hostname
        body = announce_body(rng, hostname=b"")
    elif c == 1:  # ANNOUNCE, hostname with a control byte or a space
        body = announce_body(rng, hostname=b"gh" + bytes([rng.choice([0, 1, 9, 0x20, 0x7F, 0xFF])]) + b"st")
    elif c == 2:  # ANNOUNCE, max version 0
        body = announce_body(rng, maxver=0)
    elif c == 3:  # ANNOUNCE, reserved announce flag
        body = announce_body(rng, aflags=rng.randint(1, 31) << 3)
    elif c == 4:  # ANNOUNCE, hostname length runs past the body
        body = announce_body(rng)[:-2]
    elif c == 5:  # PING with target id 0
        body = struct.pack(">III", 0, rng.getrandbits(32), rng.getrandbits(32)) + b"\x00"
        return header(rng, 2, len(body)) + body
    elif c == 6:  # ACK whose update count promises more entries than the body holds
        n = rng.randint(1, 5)
        body = struct.pack(">II", rng.getrandbits(32), rng.getrandbits(32)) + bytes([n + 1]) + b"".join(entry(rng) for _ in range(n))
        return header(rng, 3, len(body)) + body
    elif c == 7:  # GOSSIP with an entry in state 0 or 5..255
        n = rng.randint(1, 20)
        ents = [entry(rng) for _ in range(n)]
        ents[rng.randrange(n)] = entry(rng, state=rng.choice([0] + list(range(5, 256))))
        body = bytes([n]) + b"".join(ents)
        return header(rng, 5, len(body)) + body
    elif c == 8:  # GOSSIP with an entry about node 0
        body = b"\x01" + entry(rng, node=0)
        return header(rng, 5, len(body)) + body
    elif c == 9:  # LEAVE with a body
        body = rand_bytes(rng, rng.randint(1, 20))
        return header(rng, 6, len(body)) + body
    elif c == 10:  # INFO_REQ of 2..8 bytes
        body = rand_bytes(rng, rng.randint(2, 8))
        return header(rng, 7, len(body)) + body
    else:  # EVENT with seq 0
        body = struct.pack(">III", rng.getrandbits(32), 0, 1) + b"\x01t" + b"\x00\x00"
        return header(rng, 9, len(body)) + body
    return header(rng, 1, len(body)) + body


KINDS = {
    "random": (k_random, 20),
    "short_header": (k_short_header, 5),
    "too_long": (k_too_long, 5),
    "bad_version": (k_bad_version, 5),
    "unknown_type": (k_unknown_type, 5),
    "bad_flags": (k_bad_flags, 5),
    "zero_sender": (k_zero_sender, 5),
    "truncated": (k_truncated, 5),
    "trailing": (k_trailing, 5),
    "tagged": (k_tagged, 5),
    "bad_body": (k_bad_body, 35),
}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bind", required=True)
    p.add_argument("--broadcast", required=True)
    p.add_argument("--targets", required=True)
    p.add_argument("--port", type=int, default=4210)
    p.add_argument("--rate", type=float, default=40)
    p.add_argument("--broadcast-pct", type=float, default=50)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--counts", required=True)
    a = p.parse_args()
    rng = random.Random(a.seed)
    targets = a.targets.split(",")
    names = list(KINDS)
    weights = [KINDS[k][1] for k in names]
    sent = {k: 0 for k in names}
    dest = {"broadcast": 0, "unicast": 0, "oversize_broadcast": 0, "oversize_unicast": 0}
    errors = 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.bind((a.bind, 0))

    def dump():
        tmp = a.counts + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"sent": sent, **dest, "errors": errors}, f)
        os.replace(tmp, a.counts)

    period = 1.0 / a.rate
    next_t = time.monotonic()
    next_dump = next_t + 1
    while not stop:
        kind = rng.choices(names, weights)[0]
        data = KINDS[kind][0](rng)
        bcast = rng.random() * 100 < a.broadcast_pct
        try:
            s.sendto(data, (a.broadcast if bcast else rng.choice(targets), a.port))
            sent[kind] += 1
            dest["broadcast" if bcast else "unicast"] += 1
            if len(data) > MAX_DATAGRAM:
                dest["oversize_broadcast" if bcast else "oversize_unicast"] += 1
        except OSError:
            errors += 1
        next_t += period
        now = time.monotonic()
        if now >= next_dump:
            dump()
            next_dump = now + 1
        if next_t > now:
            time.sleep(next_t - now)
        elif now - next_t > 5:  # starved for a while: do not burst to catch up (rate limit)
            next_t = now
    dump()


if __name__ == "__main__":
    main()
