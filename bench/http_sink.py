#!/usr/bin/env python3
"""A plain HTTP sink for bench/ota_bench.sh: answers every POST with 200 after reading and
discarding its body (Content-Length or chunked), so `curl -F firmware=@FILE` to it measures what
loopback, curl and an HTTP server that does nothing with the bytes can do: the limit an OTA
endpoint is compared with.

Usage: bench/http_sink.py IP PORT     (prints "ready" on stdout once it listens)
"""
import http.server
import sys

CHUNK = 256 * 1024


class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        total = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                left = size
                while left:
                    data = self.rfile.read(min(CHUNK, left))
                    if not data:
                        return
                    left -= len(data)
                total += size
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left:
                data = self.rfile.read(min(CHUNK, left))
                if not data:
                    return
                left -= len(data)
                total += len(data)
        body = ('{"status":"discarded","size":%d}' % total).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    server = http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Sink)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
