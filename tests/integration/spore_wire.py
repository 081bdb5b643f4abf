"""SPORE wire protocol v2 for the Python test peers (docs/protocol.md §3, §4.1, §11.3): the header,
an unkeyed ANNOUNCE, and the admission handshake a stranger must complete before a node acts on
anything else it sends. Python's standard library only.
"""
import os
import select
import socket
import struct
import time

VERSION = 2
ANNOUNCE, GOSSIP = 1, 5
F_REPLY_REQUESTED, F_PADDED, F_HANDSHAKE = 0x01, 0x02, 0x04
PADDED_BODY_BYTES = 74  # the largest ANNOUNCE body: handshake fields and a 31-byte hostname
HEADER_BYTES = 23


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
