#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""http_server.py - the sample API the integration tests put behind tollgate.

A real HTTP/1.1 server (keep-alive, pipelining, Content-Length on every
response; request bodies with Content-Length or chunked) from the standard
library, with fixed routes:

    /v1/ok       any method   200
    /v1/created  POST         201 (other methods 405)
    /v1/missing  any method   404
    /v1/fail     any method   500
    /v1/slow     any method   200 after 100 ms
    /health/slow any method   503 after 100 ms (a public route's, in the tests)
    /v1/hangup   any method   no answer: the connection is closed
    /v1/stall    any method   200 after 4 s
    /v1/upgrade  any method   101 Switching Protocols, then raw bytes that look
                              like another response, then close
    /v1/big      any method   200 with ?bytes=N bytes (default 5 MiB) of a
                              fixed pattern (big_body()), written with write()
    /v1/bigfile  any method   the same body, sent with sendfile(2)
    /v1/batch    any method   200, held until the connection has ?n=N
                              (default 2) of them, then all written in one
                              send, as servers that coalesce pipelined
                              responses do; &early=1 puts a 103 Early Hints
                              before each, &split=1 sends the first
                              response's head alone first, &cut=N sends
                              the first N bytes alone first, &chunked=1
                              sends each body as one chunk (&te=gzip:
                              "Transfer-Encoding: gzip, chunked", the body
                              as it is; &trailers=1: a trailer field after
                              the last chunk), &shrink=1 makes each body
                              shorter than the one before, &hdr=N puts N bytes of
                              header lines before Content-Length or
                              Transfer-Encoding (one line of N / 2 bytes,
                              then lines of 64); &hdr2=N: as many in every
                              response after the first instead
    /v1/pieces   any method   200, its status line written in pieces shorter
                              than itself ("HT", "TP/1.1 20", the rest)
    /v1/chunked  any method   200, Transfer-Encoding: chunked, ?n=N (default
                              3) chunks of "hello" and the last chunk, each
                              in its own send; &slices=K: the whole response
                              in sends of K bytes instead
    /v1/lookalike any method  200 whose body is itself a response ("HTTP/1.1
                              200 OK" and a head), sent after the head in
                              its own send; &chunked=1: as one chunk, its
                              size line in a send before it; &close=1:
                              without a length, the body ending at the
                              close (Connection: close)
    anything else             404

Every request it RECEIVES is appended to --log as one line
"METHOD PATH KEY" (KEY = the X-API-Key value, else the bearer token of
Authorization, else "-"), written and flushed before the response, so a test
can count exactly what reached the server. The query string is kept in PATH.

Prints "ready PORT" on stdout once it listens.
"""

import argparse
import socket
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLOW_SECONDS = 0.1
BIG_DEFAULT = 5 << 20


def big_body(n):
    """n bytes of a pattern whose every 64-byte line names its offset, so a
    response cut, repeated or reordered anywhere changes its hash."""
    out = bytearray()
    off = 0
    while len(out) < n:
        out += f"{off:016d} tollgate big body line ..........................\n".encode()
        off += 64
    return bytes(out[:n])


class RequestLog:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.file = open(path, "a", buffering=1) if path else None

    def append(self, method, path, key):
        if not self.file:
            return
        with self.lock:
            self.file.write(f"{method} {path} {key}\n")
            self.file.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tollgate-test/1"
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet: the request log is the record
        pass

    def api_key(self):
        key = self.headers.get("X-API-Key")
        if key:
            return key.strip()
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return "-"

    def setup(self):
        super().setup()
        self.held = []  # /v1/batch responses not written yet

    CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"

    def chunked(self, query):
        parts = [self.CHUNKED_HEAD] + [b"5\r\nhello\r\n"] * int(query.get("n", 3)) + [b"0\r\n\r\n"]
        k = int(query.get("slices", 0))
        if k:
            data = b"".join(parts)
            parts = [data[i:i + k] for i in range(0, len(data), k)]
        for part in parts:
            self.connection.sendall(part)
            time.sleep(0.01)

    LOOKALIKE_BODY = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

    def lookalike(self, query):
        body = self.LOOKALIKE_BODY
        if query.get("chunked"):
            parts = [self.CHUNKED_HEAD, b"%x\r\n" % len(body), body + b"\r\n", b"0\r\n\r\n"]
        elif query.get("close"):
            parts = [b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n", body]
            self.close_connection = True
        else:
            parts = [b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body), body]
        for part in parts:
            self.connection.sendall(part)
            time.sleep(0.02)

    @staticmethod
    def padding(n):
        """n bytes of header lines: one of n // 2 bytes, then lines of 64"""
        if n < 64:
            return b""
        lines = [b"X-Long: " + b"l" * (n // 2 - 10) + b"\r\n"]
        left = n - len(lines[0])
        while left >= 64:
            lines.append(b"X-Pad-%03d: " % len(lines) + b"p" * 51 + b"\r\n")
            left -= 64
        return b"".join(lines)

    @classmethod
    def batch_response(cls, query, i, method="GET"):
        """The final response of /v1/batch with QUERY (a dict) to the i-th
        request (1, 2, ...) of a batch: the tests take its length from here."""
        body = f"batch {i}\n".encode()
        if query.get("shrink"):
            body += b"." * (48 >> i)
        pad = cls.padding(int(query.get("hdr", 0) if i == 1 else query.get("hdr2", query.get("hdr", 0))))
        if query.get("chunked"):
            head = cls.CHUNKED_HEAD.replace(b"Transfer-Encoding", pad + b"Transfer-Encoding")
            if query.get("te"):
                head = head.replace(b": chunked", b": %s, chunked" % query["te"].encode())
            last = b"0\r\nChecksum: 1f2e\r\n\r\n" if query.get("trailers") else b"0\r\n\r\n"
            return head + b"%x\r\n%s\r\n" % (len(body), body) + last
        resp = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + pad +
                b"Content-Length: %d\r\n\r\n" % len(body))
        return resp if method == "HEAD" else resp + body

    def batch(self, query):
        resp = self.batch_response(query, len(self.held) + 1, self.command)
        if query.get("early"):
            resp = b"HTTP/1.1 103 Early Hints\r\nLink: </v1/ok>; rel=preload\r\n\r\n" + resp
        self.held.append(resp)
        if len(self.held) < int(query.get("n", 2)):
            return
        data, self.held = b"".join(self.held), []
        cut = int(query.get("cut", 0))
        if query.get("split"):
            cut = data.index(b"\r\n\r\n", data.index(b" 200 ")) + 4
        if cut:
            self.connection.sendall(data[:cut])
            time.sleep(0.05)
            data = data[cut:]
        self.connection.sendall(data)

    def reply(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def read_chunks(self):
        """Reads a chunked request body and its trailer section; False if
        its framing is bad."""
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                return False
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailer fields
                return True
            if len(self.rfile.read(size + 2)) != size + 2:
                return False

    def handle_any(self):
        self.server.request_log.append(self.command, self.path, self.api_key())
        length = self.headers.get("Content-Length")
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            if not self.read_chunks():
                self.reply(400, "bad chunked body\n")
                self.close_connection = True
                return
        elif length:
            try:
                self.rfile.read(int(length))
            except ValueError:
                self.reply(400, "bad content-length\n")
                self.close_connection = True
                return
        path = self.path.split("?", 1)[0]
        query = dict(p.split("=", 1) for p in self.path.partition("?")[2].split("&") if "=" in p)
        if path == "/v1/ok":
            self.reply(200, "ok\n")
        elif path == "/v1/created":
            if self.command == "POST":
                self.reply(201, "created\n")
            else:
                self.reply(405, "method not allowed\n")
        elif path == "/v1/fail":
            self.reply(500, "fail\n")
        elif path == "/v1/slow":
            time.sleep(SLOW_SECONDS)
            self.reply(200, "slow\n")
        elif path == "/health/slow":
            time.sleep(SLOW_SECONDS)
            self.reply(503, "slow health\n")
        elif path == "/v1/upgrade":
            self.send_response(101)
            self.send_header("Upgrade", "tg-test")
            self.send_header("Connection", "Upgrade")
            self.end_headers()
            self.wfile.flush()
            time.sleep(0.05)
            # after 101 the connection speaks another protocol: these bytes
            # must not be taken for a response
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            self.close_connection = True
        elif path == "/v1/stall":
            time.sleep(4)
            self.reply(200, "stalled\n")
        elif path == "/v1/hangup":
            self.close_connection = True
        elif path in ("/v1/big", "/v1/bigfile"):
            body = big_body(int(query.get("bytes", BIG_DEFAULT)))
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command == "HEAD":
                return
            if path == "/v1/big":
                self.wfile.write(body)
                return
            self.wfile.flush()
            with tempfile.TemporaryFile() as f:
                f.write(body)
                f.flush()
                f.seek(0)
                self.connection.sendfile(f)
        elif path == "/v1/batch":
            self.batch(query)
        elif path == "/v1/chunked":
            self.chunked(query)
        elif path == "/v1/lookalike":
            self.lookalike(query)
        elif path == "/v1/pieces":
            body = b"pieces\n"
            data = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body)) + body
            for piece in (data[:2], data[2:11], data[11:]):
                self.connection.sendall(piece)
                time.sleep(0.02)
        else:
            self.reply(404, "not found\n")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def server_bind(self):
        if self.address_family == socket.AF_INET6:
            # dual stack: IPv4 clients arrive as v4-mapped addresses
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bind", default="::", help="address; '::' = IPv4 and IPv6 (default)")
    ap.add_argument("--log", default="", help="append one line per received request here")
    args = ap.parse_args()

    Server.address_family = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
    srv = Server((args.bind, args.port), Handler)
    srv.request_log = RequestLog(args.log)
    print(f"ready {srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
