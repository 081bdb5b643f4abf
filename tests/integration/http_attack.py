#!/usr/bin/env python3
"""Hostile HTTP clients against one spored, for tests/integration/http_abuse_test.sh and
bench/http_abuse.sh. Standard library only; every mode is bounded in time and prints one JSON
object on stdout.

  slow  HOST PORT --sources A,B,.. --count N --interval S --duration S [--reconnect]
        [--mode head|chunked|idle] [--path P]
        N connections (spread over the source addresses) send, every S seconds, one more header
        line of a head they never finish (head), or one more 1-byte chunk of a chunked POST body
        to P (chunked; default /api/cluster/events?topic=t), or nothing at all (idle). Runs until
        --duration or until the server closed every connection (--reconnect: a closed one is
        replaced at once, so N stay open, as a persistent attacker would). Prints when each was
        closed by the server, what it answered first (e.g. "HTTP/1.1 408") and how many
        connections were opened in all.
  flood HOST PORT --connections N --lines L [--source A]
        N connections at once send a request line and then up to L header lines as fast as the
        server reads them. Prints, per connection, the lines sent, the first line of the answer
        and whether the server closed the connection.
  hold  HOST PORT --source A --count N --seconds S
        N idle connections from one source address; after S seconds prints how many the server
        had already closed (a per-address cap closes the surplus at once).
  bodies HOST PORT --sources A,B,.. --count N --hold S
        N connections (spread over the source addresses) each send a POST head with
        Content-Length: 65536 and 65535 bytes of its body, hold them S seconds, then close.
        Prints how many connected.
  raw   HOST PORT --request TEXT [--timeout S]
        Sends TEXT (Python escapes such as \\r\\n are decoded) and prints the answer's status,
        headers, body and the seconds until the answer was complete (or the connection closed).
"""
import argparse
import json
import selectors
import socket
import sys
import time


def connect(host, port, source=None, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect((host, port))
    return s


def closed_by_peer(s):
    """True (and the bytes read) when the server has closed `s` or sent something."""
    s.setblocking(False)
    try:
        data = s.recv(65536, socket.MSG_DONTWAIT)
    except BlockingIOError:
        return False, b""
    except OSError:
        return True, b""
    return True, data


def receive(sel, c):
    """Reads what the server sent on connection `c` into c["data"]; False (and `c` out of `sel`)
    when the server has closed it."""
    try:
        data = c["sock"].recv(65536)
    except OSError:
        data = b""
    c["data"] += data
    if not data:
        sel.unregister(c["sock"])
    return bool(data)


def mode_slow(a):
    sources = a.sources.split(",")
    t0 = time.monotonic()
    sel = selectors.DefaultSelector()
    conns = []

    def open_one(i):
        try:
            s = connect(a.host, a.port, sources[i % len(sources)])
            if a.mode == "head":
                s.sendall(b"GET /api/node/status HTTP/1.1\r\nHost: slow\r\n")
            elif a.mode == "chunked":
                s.sendall(b"POST %s HTTP/1.1\r\nHost: slow\r\nContent-Type: application/octet-stream\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n" % a.path.encode())
        except OSError:
            return False  # refused at accept (a per-address cap): tried again at the next round
        s.setblocking(False)
        c = {"sock": s, "index": i, "lines": 0, "closed_s": None, "answer": "", "data": b""}
        conns.append(c)
        sel.register(s, selectors.EVENT_READ, c)
        return True

    missing = [i for i in range(a.count) if not open_one(i)]
    next_send = time.monotonic() + a.interval
    deadline = t0 + a.duration
    while time.monotonic() < deadline and any(c["closed_s"] is None for c in conns):
        timeout = max(0.0, min(next_send, deadline) - time.monotonic())
        for key, _ in sel.select(timeout):
            c = key.data
            if not receive(sel, c):
                c["closed_s"] = round(time.monotonic() - t0, 3)
                c["answer"] = c["data"].split(b"\r\n", 1)[0].decode("latin-1")
                c["sock"].close()
                if a.reconnect and not open_one(c["index"]):
                    missing.append(c["index"])
        if time.monotonic() >= next_send:
            if a.reconnect:
                missing = [i for i in missing if not open_one(i)]
            piece = {"head": lambda n: b"X-Slow-%d: x\r\n" % n, "chunked": lambda n: b"1\r\nx\r\n",
                     "idle": lambda n: b""}[a.mode]
            for c in conns:
                if c["closed_s"] is None:
                    try:
                        if a.mode != "idle":
                            c["sock"].send(piece(c["lines"]))
                        c["lines"] += 1
                    except OSError:
                        pass
            next_send += a.interval
    for c in conns:
        if c["closed_s"] is None:
            c["sock"].close()
    closed = [c for c in conns if c["closed_s"] is not None]
    print(json.dumps({
        "connections": len(conns),
        "open_at_end": len(conns) - len(closed),
        "closed_by_server": len(closed),
        "closed_s": sorted(c["closed_s"] for c in closed),
        "answers": sorted({c["answer"] for c in closed}),
        "max_lines_sent": max((c["lines"] for c in conns), default=0),
    }))


def mode_flood(a):
    conns = []
    for i in range(a.connections):
        s = connect(a.host, a.port, a.source)
        s.setblocking(False)
        conns.append({"sock": s, "pending": b"GET /api/node/status HTTP/1.1\r\nHost: flood\r\n",
                      "lines": 0, "answer": "", "closed": False, "data": b""})
    line = b"X-Flood: " + b"a" * 40 + b"\r\n"
    batch = line * 256
    sel = selectors.DefaultSelector()
    for c in conns:
        sel.register(c["sock"], selectors.EVENT_READ | selectors.EVENT_WRITE, c)
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline and any(not c["closed"] for c in conns):
        for key, events in sel.select(0.5):
            c = key.data
            if events & selectors.EVENT_READ and not receive(sel, c):
                c["closed"] = True
                continue
            if events & selectors.EVENT_WRITE:
                if not c["pending"]:
                    if c["lines"] >= a.lines:
                        sel.modify(c["sock"], selectors.EVENT_READ, c)
                        continue
                    c["pending"] = batch
                    c["lines"] += 256
                try:
                    n = c["sock"].send(c["pending"])
                    c["pending"] = c["pending"][n:]
                except BlockingIOError:
                    pass
                except OSError:
                    c["closed"] = True
                    sel.unregister(c["sock"])
    out = []
    for c in conns:
        c["sock"].close()
        out.append({"lines_sent": c["lines"], "answer": c["data"].split(b"\r\n", 1)[0].decode("latin-1"),
                    "closed": c["closed"]})
    print(json.dumps({"connections": out}))


def mode_hold(a):
    socks = [connect(a.host, a.port, a.source) for _ in range(a.count)]
    time.sleep(a.seconds)
    closed = sum(1 for s in socks if closed_by_peer(s)[0])
    for s in socks:
        s.close()
    print(json.dumps({"connections": a.count, "closed_by_server": closed}))


def mode_bodies(a):
    sources = a.sources.split(",")
    head = b"POST /api/cluster/events?topic=x HTTP/1.1\r\nHost: bodies\r\nContent-Length: 65536\r\n\r\n"
    socks = []
    for i in range(a.count):
        try:
            s = connect(a.host, a.port, sources[i % len(sources)])
            s.sendall(head + b"A" * 65535)
            socks.append(s)
        except OSError:
            pass
    time.sleep(a.hold)
    for s in socks:
        s.close()
    print(json.dumps({"connections": len(socks)}))


def mode_raw(a):
    request = a.request.encode("latin-1").decode("unicode_escape").encode("latin-1")
    t0 = time.monotonic()
    s = connect(a.host, a.port, timeout=a.timeout)
    data = b""
    try:
        s.sendall(request)
        while True:
            head_end = data.find(b"\r\n\r\n")
            if head_end >= 0:
                length = 0
                for h in data[:head_end].split(b"\r\n")[1:]:
                    name, _, value = h.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                if len(data) >= head_end + 4 + length:
                    break
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, OSError) as e:
        print(json.dumps({"error": str(e), "seconds": round(time.monotonic() - t0, 3)}))
        return
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for h in lines[1:]:
        name, _, value = h.partition(":")
        headers[name.strip().lower()] = value.strip()
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    print(json.dumps({"status": status, "headers": headers, "body": body.decode("latin-1"),
                      "seconds": round(time.monotonic() - t0, 3)}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("slow", "flood", "hold", "bodies", "raw"):
        sp = sub.add_parser(name)
        sp.add_argument("host")
        sp.add_argument("port", type=int)
        if name == "slow":
            sp.add_argument("--sources", required=True)
            sp.add_argument("--count", type=int, default=64)
            sp.add_argument("--interval", type=float, default=2.0)
            sp.add_argument("--duration", type=float, default=30.0)
            sp.add_argument("--reconnect", action="store_true")
            sp.add_argument("--mode", choices=("head", "chunked", "idle"), default="head")
            sp.add_argument("--path", default="/api/cluster/events?topic=t")
        elif name == "flood":
            sp.add_argument("--connections", type=int, default=4)
            sp.add_argument("--lines", type=int, default=1000000)
            sp.add_argument("--source")
            sp.add_argument("--timeout", type=float, default=60.0)
        elif name == "bodies":
            sp.add_argument("--sources", required=True)
            sp.add_argument("--count", type=int, required=True)
            sp.add_argument("--hold", type=float, default=3.0)
        elif name == "hold":
            sp.add_argument("--source", required=True)
            sp.add_argument("--count", type=int, required=True)
            sp.add_argument("--seconds", type=float, default=1.0)
        else:
            sp.add_argument("--request", required=True)
            sp.add_argument("--timeout", type=float, default=5.0)
    a = p.parse_args()
    {"slow": mode_slow, "flood": mode_flood, "hold": mode_hold, "bodies": mode_bodies, "raw": mode_raw}[a.command](a)


if __name__ == "__main__":
    sys.exit(main())
