"""SPORE wire protocol v2 for the Python test peers (docs/protocol.md §3, §4.1, §4.14, §11.3): the
header, an unkeyed ANNOUNCE, the admission handshake a stranger must complete before a node acts on
anything else it sends, and DIGEST bodies (encoded and checked as core/spore/wire does).
Python's standard library only. `python3 spore_wire.py` runs its self-test
(tests/integration/spore_wire_test.sh).
"""
import os
import select
import socket
import struct
import time

VERSION = 2
ANNOUNCE, GOSSIP, DIGEST, DIGEST_REQ = 1, 5, 13, 14  # DIGEST_REQ has no body (§4.15)
F_REPLY_REQUESTED, F_PADDED, F_HANDSHAKE = 0x01, 0x02, 0x04
PADDED_BODY_BYTES = 74  # the largest ANNOUNCE body: handshake fields and a 31-byte hostname
HEADER_BYTES = 23
MAX_DIGEST_ENTRIES, MAX_DIGEST_AGE = 100, 15  # wire::kMaxDigestEntries, wire::kMaxDigestAge
DIGEST_FIXED_BYTES = 15  # round, next id, backup id, age unit, count


class WireError(ValueError):
    """A body core/spore/wire refuses; str() is the C++ reason ("bad_field", "bad_length")."""


def datagram(mtype, sender, incarnation, seq, dest, body):
    """An unkeyed v2 datagram: "SP", version, type, flags 0, sender, incarnation, seq, dest, body length."""
    return b"SP" + struct.pack(">BBBIIIIH", VERSION, mtype, 0, sender, incarnation, seq, dest, len(body)) + body


def heap_code(free_bytes):
    """Free memory as ANNOUNCE and INFO carry it (docs/protocol.md §4.1, core/spore/base/heap_size.h):
    the byte count below 2 GiB, else bit 31 and whole KiB, saturating at 2^31 - 1 KiB."""
    if free_bytes < 1 << 31:
        return free_bytes
    return 0x80000000 | min(free_bytes >> 10, (1 << 31) - 1)


def announce_body(ip, udp_port, http_port, hostname, echo=0, cookie=0, join=False, free_bytes=40000):
    """ANNOUNCE body; `join` = reply_requested, padded to the largest body."""
    handshake = echo != 0 or cookie != 0
    flags = (F_REPLY_REQUESTED | F_PADDED if join else 0) | (F_HANDSHAKE if handshake else 0)
    body = struct.pack(">BBIHHIIII", VERSION, flags, ip, udp_port, http_port, heap_code(free_bytes), 0, 0, 0)
    if handshake:
        body += struct.pack(">QQ", echo, cookie)
    body += bytes([len(hostname)]) + hostname
    return body + bytes(PADDED_BODY_BYTES - len(body)) if join else body


def parse_announce(d):
    """(sender, dest, ip, udp_port, echo, cookie) of an unkeyed v2 ANNOUNCE, else None."""
    if len(d) < HEADER_BYTES + 27 or d[:3] != b"SP\x02" or d[3] != ANNOUNCE or d[4] != 0:
        return None
    sender, _inc, _seq, dest, _n = struct.unpack(">IIIIH", d[5:HEADER_BYTES])
    b = d[HEADER_BYTES:]
    ip, udp_port = struct.unpack(">IH", b[2:8])
    echo, cookie = struct.unpack(">QQ", b[26:42]) if b[1] & F_HANDSHAKE else (0, 0)
    return sender, dest, ip, udp_port, echo, cookie


def digest_body_bytes(n):
    """15 + 4n + ceil(n / 2): the fixed fields, the ids, the 4-bit ages."""
    return DIGEST_FIXED_BYTES + 4 * n + (n + 1) // 2


def digest_body(rnd, next_id, backup_id, age_unit_ms, entries):
    """DIGEST body (§4.14); `entries` = [(node_id, age), ...]. Raises WireError("bad_field") for what
    the C++ encoder refuses: a unit outside 1..65535, more than 100 entries, an id 0, an age above 15."""
    if not 1 <= age_unit_ms <= 0xFFFF or len(entries) > MAX_DIGEST_ENTRIES:
        raise WireError("bad_field")
    if any(not 0 < node_id <= 0xFFFFFFFF or not 0 <= age <= MAX_DIGEST_AGE for node_id, age in entries):
        raise WireError("bad_field")
    body = struct.pack(">IIIHB", rnd, next_id, backup_id, age_unit_ms, len(entries))
    body += b"".join(struct.pack(">I", node_id) for node_id, _ in entries)
    ages = [age for _, age in entries] + [0]  # an odd count's spare nibble is 0
    return body + bytes(ages[i] << 4 | ages[i + 1] for i in range(0, len(entries), 2))


def parse_digest_body(body):
    """(round, next_id, backup_id, age_unit_ms, [(node_id, age), ...]) of a DIGEST body. Raises
    WireError with the C++ decoder's reason, checked in its order: bytes missing for the count, or
    any left over, "bad_length"; unit 0, count above 100, a non-zero spare nibble, an id 0 "bad_field"."""
    if len(body) < DIGEST_FIXED_BYTES:
        raise WireError("bad_length")
    rnd, next_id, backup_id, unit, n = struct.unpack(">IIIHB", body[:DIGEST_FIXED_BYTES])
    if len(body) < digest_body_bytes(n):
        raise WireError("bad_length")
    ids = struct.unpack(f">{n}I", body[DIGEST_FIXED_BYTES:DIGEST_FIXED_BYTES + 4 * n])
    ages = body[DIGEST_FIXED_BYTES + 4 * n:digest_body_bytes(n)]
    if unit == 0 or n > MAX_DIGEST_ENTRIES or (n % 2 == 1 and ages[-1] & 0x0F) or 0 in ids:
        raise WireError("bad_field")
    if len(body) != digest_body_bytes(n):
        raise WireError("bad_length")
    entries = [(ids[i], ages[i // 2] >> 4 if i % 2 == 0 else ages[i // 2] & 0x0F) for i in range(n)]
    return rnd, next_id, backup_id, unit, entries


def ip_str(ip):
    return socket.inet_ntoa(struct.pack(">I", ip))


class Peer:
    """A node id speaking from `sock`, with its own cookie and sequence numbers."""

    def __init__(self, sock, node_id, incarnation, ip, udp_port, http_port, hostname):
        self.sock, self.node_id, self.incarnation, self.seq = sock, node_id, incarnation, 0
        self.ip, self.udp_port, self.http_port, self.hostname = ip, udp_port, http_port, hostname
        self.cookie = int.from_bytes(os.urandom(8), "big") | 1

    def send(self, mtype, dest, body, to):
        self.seq += 1
        self.sock.sendto(datagram(mtype, self.node_id, self.incarnation, self.seq, dest, body), to)

    def announce(self, to, dest=0, echo=0, cookie=0, join=False):
        self.send(ANNOUNCE, dest, announce_body(self.ip, self.udp_port, self.http_port, self.hostname, echo, cookie,
                                                join), to)

    def join(self, to, dest=0):
        """A join ANNOUNCE carrying our cookie: strangers answer with their challenge, members with an echo."""
        self.announce(to, dest, cookie=self.cookie, join=True)

    def answer(self, data):
        """Echoes the cookie of an ANNOUNCE addressed to us: the node that challenged us admits us.
        Returns the node id when the ANNOUNCE admitted or confirmed us (it echoed our cookie)."""
        a = parse_announce(data)
        if a is None or a[1] != self.node_id:
            return None
        sender, _dest, ip, udp_port, echo, cookie = a
        if cookie != 0:
            self.announce((ip_str(ip), udp_port), dest=sender, echo=cookie)
        return sender if echo == self.cookie else None

    def admit_at(self, to, node_id, timeout_s=10.0):
        """The handshake with one node (unicast): True once it echoed our cookie."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.join(to, node_id)
            end = time.monotonic() + 0.5
            while (left := end - time.monotonic()) > 0:
                if not select.select([self.sock], [], [], left)[0]:
                    break
                if self.answer(self.sock.recv(2048)) == node_id:
                    return True
        return False


# The DIGEST of tests/unit/wire_codec_test.cpp's samples()[13] (WireCodec.DigestLayoutIsAsDocumented):
# sender 0x00C0FFEE, incarnation 3, seq 41, round 0x01020304, next 0x00A1B2C3, backup 0x00D4E5F6,
# unit 250 ms, entries (0x00A1B2C3, 0), (0x00D4E5F6, 15), (0xFFFFFFFF, 7).
GOLDEN_DIGEST = bytes.fromhex("5350020d0000c0ffee000000030000002900000000001d"
                              "0102030400a1b2c300d4e5f600fa03" "00a1b2c300d4e5f6ffffffff" "0f70")


def self_test():
    """The DIGEST codec against the C++ one: the golden datagram, round trips of 0..100 entries,
    and every refusal with the C++ reason. Raises AssertionError on a difference."""
    sample = [(0x00A1B2C3, 0), (0x00D4E5F6, 15), (0xFFFFFFFF, 7)]
    body = digest_body(0x01020304, 0x00A1B2C3, 0x00D4E5F6, 250, sample)
    assert datagram(DIGEST, 0x00C0FFEE, 3, 41, 0, body) == GOLDEN_DIGEST
    assert parse_digest_body(GOLDEN_DIGEST[HEADER_BYTES:]) == (0x01020304, 0x00A1B2C3, 0x00D4E5F6, 250, sample)
    many = [(0x10000 + i, i % 16) for i in range(MAX_DIGEST_ENTRIES + 1)]
    for n in (0, 1, 2, 3, 98, 99, 100):
        b = digest_body(7, 0, 0, 1, many[:n])
        assert len(b) == digest_body_bytes(n) and parse_digest_body(b) == (7, 0, 0, 1, many[:n]), n
    assert digest_body_bytes(MAX_DIGEST_ENTRIES) == 465
    # What the C++ encoder wrote (the wire fuzz target's seeds, CorpusWriter.WriteSeedCorpus): 3 and
    # 100 entries decode here and encode back to the same bytes.
    corpus = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "corpus", "wire_decoder")
    for name, n in (("digest_plain.bin", 3), ("digest_2_plain.bin", 100)):
        with open(os.path.join(corpus, name), "rb") as f:
            d = f.read()
        parsed = parse_digest_body(d[HEADER_BYTES:])
        assert len(parsed[4]) == n and d[:HEADER_BYTES] + digest_body(*parsed) == d, name

    def refused(b, reason):
        try:
            parse_digest_body(bytes(b))
        except WireError as e:
            assert str(e) == reason, (bytes(b).hex(), str(e), reason)
            return
        raise AssertionError(f"accepted {bytes(b).hex()}")

    ids, ages = DIGEST_FIXED_BYTES, DIGEST_FIXED_BYTES + 12
    refused(body[:12] + b"\0\0" + body[14:], "bad_field")  # age unit 0
    refused(body[:ids + 4] + bytes(4) + body[ids + 8:], "bad_field")  # an id 0
    refused(body[:-1] + b"\x71", "bad_field")  # the spare nibble
    refused(body[:-1], "bad_length")  # one age byte short
    refused(body[:ids + 8], "bad_length")  # two of three ids
    refused(body + b"\0", "bad_length")  # a byte after the ages
    refused(body[:14], "bad_length")  # not even the fixed fields
    most = bytearray(digest_body(7, 0, 0, 1, many[:100]))
    most[14] = 101  # 101 entries with all their bytes
    refused(most[:ids + 400] + struct.pack(">I", many[100][0]) + most[ids + 400:] + b"\0", "bad_field")
    for args in ((7, 0, 0, 0, sample), (7, 0, 0, 0x10000, sample), (7, 0, 0, 1, many),
                 (7, 0, 0, 1, [(0, 1)]), (7, 0, 0, 1, [(5, 16)])):
        try:
            digest_body(*args)
        except WireError as e:
            assert str(e) == "bad_field"
            continue
        raise AssertionError(f"encoded {args[3]} {args[4][:2]}")


if __name__ == "__main__":
    self_test()
    print("spore_wire self-test ok")
