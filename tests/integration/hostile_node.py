#!/usr/bin/python3
"""A hostile "node" for the spore CLI's tests (tests/integration/cli_hostile_node_test.sh,
cli_limits_test.sh): it answers the CLI's requests with what issue 18 found the CLI trusted.

  hostile_node.py --ip IP --port PORT --mode MODE --log FILE [--bytes N]

Modes:
  escapes   GET /api/cluster/members, /api/node/status: terminal escape sequences (OSC title,
            clear screen, CR, backspace, C1 CSI, bidi override) in hostnames, ip, status,
            firmwareVersion and in JSON keys; /api/cluster/events/stream: node_* events carrying
            them; anything else: a 500 whose error sentence and code carry them.
  huge      any GET: 200 with a JSON Content-Length of --bytes and that many bytes, streamed
            without storing them (stops when the client goes away).
  drip      any GET: the answer one byte every 2 s.
  sse-huge  the event stream: one event whose data line is --bytes long, then a small event.
  record    answers 404 to everything.
Issue 18 attack findings (cli_hostile_answers_test.sh):
  deep      GET /api/cluster/members, /api/node/status: JSON nesting arrays --bytes deep.
  headers   any GET: 200, then 4 MB of tiny headers ("a:b") before the end of the head.
  chunkbomb the event stream, chunked: a first chunk, then a chunk-size line of --bytes '0's
            that never ends.
  wide      GET /api/cluster/members: one member whose hostname is --bytes long, 400 short ones.
  slowota   GET /api/node/status: a node's status; POST: reads the upload, then answers one
            byte every 2 s.
  nlhost    GET /api/cluster/members: a member whose hostname holds '\n' and forged lines;
            GET /api/node/status: a status; POST: 401.
Every mode writes one JSON line per request to FILE (method, path, whether an Authorization
header came, and for huge / sse-huge the bytes sent before the client went away).
Python's standard library only; stops on SIGTERM.
"""
import argparse
import json
import signal
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ESC = "\x1b"
TITLE = ESC + "]0;pwned" + "\x07"
CLEAR = ESC + "[2J" + ESC + "[H"
C1_CSI = "\u009b31m"
RLO = "\u202e"


def hostile_members():
    return {"members": [
        {"hostname": "evil" + TITLE, "ip": "10.0.0.1" + CLEAR, "status": "ACTIVE\rDEAD", "self": True,
         "incarnation": 1, "httpPort": 8080, "api": []},
        {"hostname": RLO + "node-2" + C1_CSI, "ip": "10.0.0.2\b\b", "status": "INACTIVE" + TITLE,
         "incarnation": 2, "lastSeenAgoMs": 5, "api": []},
    ]}


def hostile_status():
    return {"hostname": "evil" + TITLE, "ip": "10.0.0.1\r", "firmwareVersion": "0.1" + CLEAR,
            "x" + ESC + "[31m": "key with escapes", "resources": {"free\rHeap": 1, "n" + RLO: C1_CSI},
            "api": [{"method": "GET" + ESC, "uri": "/a\r"}]}


def sse_events():
    out = ": spore events 0a0b0c0d" + TITLE + "\n\n"
    for topic, status in (("node_discovered", "ACTIVE" + CLEAR), ("node_inactive", "INACTIVE\r" + C1_CSI),
                          ("node_updated", RLO + "DEAD" + TITLE)):
        data = {"topic": topic, "node_id": "0c0d0e0f", "hostname": "m" + TITLE, "ip": "10.0.0.3" + CLEAR,
                "status": status}
        out += "event: " + topic + "\ndata: " + json.dumps(data) + "\n\n"
    return out.encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def record(self, **extra):
        entry = {"method": self.command, "path": self.path,
                 "authorization": self.headers.get("Authorization") is not None}
        entry.update(extra)
        with self.server.log_lock, open(self.server.log_path, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_raw_json(self, text):
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def stream(self, head, total, chunk=b" " * (1 << 20)):
        sent = 0
        try:
            self.wfile.write(head)
            while sent < total:
                n = min(len(chunk), total - sent)
                self.wfile.write(chunk[:n])
                sent += n
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass
        return sent

    def drip(self, answer):
        try:
            for i in range(len(answer)):
                self.wfile.write(answer[i:i + 1])
                self.wfile.flush()
                time.sleep(2)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_POST(self):
        if self.server.mode in ("slowota", "nlhost"):
            self.record()
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.server.mode == "nlhost":
                self.send_json(401, {"error": "no\nnewline", "code": "x"})
            else:
                self.drip(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n" + b" " * 40)
            return
        self.do_GET()

    def do_GET(self):
        mode, size = self.server.mode, self.server.size
        if mode == "escapes":
            self.record()
            if self.path.startswith("/api/cluster/members"):
                self.send_json(200, hostile_members())
            elif self.path.startswith("/api/node/status"):
                self.send_json(200, hostile_status())
            elif self.path.startswith("/api/cluster/events/stream"):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                self.wfile.write(sse_events())
                self.wfile.flush()
                time.sleep(30)
            else:
                self.send_json(500, {"error": "failed" + TITLE + CLEAR + "\r", "code": "c" + C1_CSI + RLO})
        elif mode == "huge":
            head = ("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % size).encode()
            self.record(sent=self.stream(head, size))
        elif mode == "sse-huge":
            head = b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\nevent: big\ndata: "
            sent = self.stream(head, size, b"x" * (1 << 20))
            try:
                self.wfile.write(b"\n\nevent: small\ndata: {\"topic\":\"small\",\"hostname\":\"h\",\"data\":\"after\"}\n\n")
                self.wfile.flush()
                time.sleep(30)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.record(sent=sent)
        elif mode == "drip":
            self.record()
            self.drip(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n" + b" " * 40)
        elif mode == "deep":
            self.record()
            self.send_raw_json('{"members":[],"hostname":"h","x":' + "[" * size + "]" * size + "}")
        elif mode == "headers":
            self.record()
            self.wfile.write(b"HTTP/1.0 200 OK\r\n")
            try:
                for _ in range(40):
                    self.wfile.write(b"a:b\r\n" * 20000)
                self.wfile.write(b"Content-Length: 2\r\n\r\n{}")
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif mode == "chunkbomb":
            first = b": spore events 0a0b0c0d\n\n"
            head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" +
                    b"%x\r\n" % len(first) + first + b"\r\n")
            self.record(sent=self.stream(head, size, b"0" * (1 << 20)))
        elif mode == "wide":
            self.record()
            members = [{"hostname": "a" * size, "status": "ACTIVE"}] + [{"hostname": "b", "status": "ACTIVE"}] * 400
            self.send_json(200, {"members": members})
        elif mode in ("slowota", "nlhost"):
            self.record()
            if mode == "nlhost" and self.path.startswith("/api/cluster/members"):
                self.send_json(200, {"members": [{"hostname": "evil\n  node-1: updated, forged\nx", "ip": self.server.ip,
                                                  "httpPort": self.server.port, "status": "ACTIVE", "nodeId": 1}]})
            else:
                self.send_json(200, {"hostname": "evil\nforged" if mode == "nlhost" else "h", "nodeId": 1,
                                     "firmwareVersion": "0.1", "imageSha256": "00" * 32, "incarnation": 1, "api": []})
        else:
            self.record()
            self.send_json(404, {"error": "nothing here"})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ip", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", required=True, choices=["escapes", "huge", "drip", "sse-huge", "record", "deep", "headers",
                                                        "chunkbomb", "wide", "slowota", "nlhost"])
    ap.add_argument("--log", required=True)
    ap.add_argument("--bytes", type=int, default=256 << 20)
    a = ap.parse_args()
    server = ThreadingHTTPServer((a.ip, a.port), Handler)
    server.daemon_threads = True
    server.mode, server.size, server.log_path, server.log_lock = a.mode, a.bytes, a.log, threading.Lock()
    server.ip, server.port = a.ip, a.port
    open(a.log, "a").close()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()


if __name__ == "__main__":
    main()
