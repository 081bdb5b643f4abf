#!/usr/bin/env python3
"""Raw-socket POST of IMAGE with a request proof (docs/security.md) made for SIGNED_TARGET but sent
on SEND_TARGET: curl drops a '#' fragment, this does not. Prints the status line and the start of
the body. Usage: raw_proof_upload.py HOST PORT TOKEN IMAGE SIGNED_TARGET SEND_TARGET
(after /work/attack/ota/proof_client.py, issue 18 ota round)."""
import hashlib
import hmac
import json
import socket
import sys

host, port, token, image, signed_target, send_target = sys.argv[1:7]


def request(raw):
    with socket.create_connection((host, int(port)), 10) as s:
        s.settimeout(30)
        try:
            s.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # a node that refuses early answers and closes before the body is in
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return out
            if not chunk:
                return out
            out += chunk


challenge = request(b"GET /api/node/challenge HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
c = json.loads(challenge.split(b"\r\n\r\n", 1)[1])
body = open(image, "rb").read()
sha = hashlib.sha256(body).hexdigest()
message = "SPORE-HMAC-SHA256\nPOST\n%s\n%08x\n%s\n%s" % (signed_target, c["nodeId"], c["nonce"], sha)
proof = hmac.new(token.encode(), message.encode(), hashlib.sha256).hexdigest()
head = ("POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/octet-stream\r\n"
        "Content-Length: %d\r\nAuthorization: Spore nonce=%s, sha256=%s, proof=%s\r\n\r\n" %
        (send_target, len(body), c["nonce"], sha, proof)).encode()
answer = request(head + body)
print(answer.split(b"\r\n", 1)[0].decode(), answer.split(b"\r\n\r\n", 1)[-1].decode(errors="replace")[:300])
