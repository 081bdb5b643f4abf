#!/usr/bin/python3
"""A hostile LAN peer posing as a cluster member, for tests/integration/fake_member_test.sh.

  fake_member.py --ip IP --udp-port P --http-port H --node-id HEX --hostname NAME
                 --mode forge|relay [--relay-to IP:PORT] [--incarnation N] --log FILE

Broadcasts a v2 join ANNOUNCE (docs/protocol.md §4.1, keyless cluster) every 300 ms for node
NODE_ID named NAME at IP:H and answers the nodes' challenges (§11.3), so the nodes admit it and
list it ACTIVE (with a real node's NODE_ID and a larger
--incarnation it takes that member's entry over: the nodes then list the real node at IP:H), and
serves HTTP on IP:H, writing every request it
gets (method, target, headers, body length and SHA-256) as one JSON line to FILE. It answers:

  GET /api/node/status     a plausible status (so `spore ota all` goes on with it)
  GET /api/node/challenge  mode forge: a nonce and a made-up proof, claiming NODE_ID;
                           mode relay: whatever the real node at --relay-to answers to the same
                           request (client nonce included): a real node's valid proof
  anything else            200 {"status":"updated"} after reading the whole body

Python's standard library only; stops on SIGTERM.
"""
import argparse
import hashlib
import json
import os
import select
import signal
import socket
import struct
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from spore_wire import Peer


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ip", required=True)
    ap.add_argument("--udp-port", type=int, required=True)
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--node-id", required=True)
    ap.add_argument("--hostname", required=True)
    ap.add_argument("--mode", choices=["forge", "relay"], required=True)
    ap.add_argument("--relay-to")
    ap.add_argument("--incarnation", type=int, default=0, help="default: the current time")
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    node_id = int(a.node_id, 16)
    ip_int = struct.unpack(">I", socket.inet_aton(a.ip))[0]
    log_lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status, obj):
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def record(self, body):
            entry = {"method": self.command, "target": self.path, "headers": dict(self.headers.items()),
                     "body_bytes": len(body), "body_sha256": hashlib.sha256(body).hexdigest()}
            with log_lock, open(a.log, "a") as f:
                f.write(json.dumps(entry) + "\n")

        def read_body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n > 0 else b""

        def do_GET(self):
            self.record(b"")
            if self.path.startswith("/api/node/status"):
                self.answer(200, {"hostname": a.hostname, "nodeId": node_id, "incarnation": 1, "imageSha256": "",
                                  "firmwareVersion": "0.0.1"})
            elif self.path.startswith("/api/node/challenge"):
                if a.mode == "relay":
                    with urllib.request.urlopen("http://" + a.relay_to + self.path, timeout=3) as r:
                        self.answer(r.status, json.loads(r.read()))
                else:
                    self.answer(200, {"nodeId": node_id, "auth": "proof", "bearer": True, "nonce": os.urandom(20).hex(),
                                      "expiresInMs": 30000, "proof": os.urandom(32).hex()})
            else:
                self.answer(404, {"error": "no", "code": "not_found"})

        def do_POST(self):
            self.record(self.read_body())
            self.answer(200, {"status": "updated"})

    server = ThreadingHTTPServer((a.ip, a.http_port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    udp.bind((a.ip, 0))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    incarnation = (a.incarnation or int(time.time())) & 0xFFFFFFFF
    # An ANNOUNCE must name the address it comes from (wire v2): the socket's own port.
    peer = Peer(udp, node_id, incarnation, ip_int, udp.getsockname()[1], a.http_port, a.hostname.encode())
    next_join = 0.0
    while not stop.is_set():
        if time.monotonic() >= next_join:
            peer.join(("127.255.255.255", a.udp_port))
            next_join = time.monotonic() + 0.3
        if select.select([udp], [], [], 0.05)[0]:
            peer.answer(udp.recv(2048))
    server.shutdown()


if __name__ == "__main__":
    main()
