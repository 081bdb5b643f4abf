#!/usr/bin/env python3
"""Per-node traffic of the two liveness designs, from the message sizes (docs/protocol.md §10,
§11.8, §11.12): IP bytes with the 28-byte IPv4 + UDP header, no cluster key (add 16 B per datagram
with one), a 10-byte hostname. Prints the Markdown table of docs/protocol.md §11.12.

Usage: bench/liveness_arithmetic.py
"""
IP = 28
G = 23 + 1 + IP              # heartbeat: an empty GOSSIP
A = 23 + 27 + 10 + IP        # ANNOUNCE, 10-byte hostname
PK = (23 + 13 + IP) + (23 + 9 + IP)  # PING + ACK


def digest_bytes(n):
    """One round's broadcast: a DIGEST of the n - 1 other members while they fit one (100), else one
    ROSTER_DIGEST of the whole roster (n members, 20 fixed bytes and a nibble each, §4.16)."""
    entries = n - 1
    if entries > 100:
        return 1, IP + 23 + 20 + (n + 1) // 2
    return 1, IP + 23 + 15 + 4 * entries + (entries + 1) // 2


def digest_mode(n, period_s):
    pages, d = digest_bytes(n)
    share = (n - 1) / n
    rx = (d + G * share + A * share / 4 + PK / 4) / period_s
    tx = (G + d / n + A / (4 * n) + PK / 4) / period_s
    rx_dg = (pages + share + share / 4 + 0.5) / period_s
    return rx, tx, rx_dg


def broadcast_mode(n, heartbeat_s, announce_s):
    per_member = ((announce_s / heartbeat_s - 1) * G + A) / announce_s
    rx = (n - 1) * per_member + PK / heartbeat_s
    rx_dg = (n - 1) / heartbeat_s + 2 / heartbeat_s
    return rx, rx_dg


ROWS = [("fast", 20, 0.5, 0.25, 2.0), ("lan", 20, 10 / 3, 2.5, 10.0), ("lan", 50, 10 / 3, 2.5, 10.0),
        ("lan", 200, 10 / 3, 2.5, 10.0)]
print("| profile, N | period | received B/s | sent B/s | received datagrams/s | broadcast design: received B/s, datagrams/s |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for name, n, period, hb, ann in ROWS:
    rx, tx, dg = digest_mode(n, period)
    brx, bdg = broadcast_mode(n, hb, ann)
    print(f"| {name}, {n} | {period:.2f} s | {rx:,.0f} | {tx:,.0f} | {dg:.1f} | {brx:,.0f}, {bdg:.1f} |")
for n in (10, 20, 50, 100, 101, 102, 200):
    print(f"received datagrams per period at N={n}: {digest_mode(n, 1.0)[2]:.2f}")
