#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""demo-api.py - the sample API that `make demo` sells (scripts/demo.sh).

An ordinary HTTP/1.1 server (keep-alive, Content-Length on every response)
that knows nothing about tollgate, serving two APIs:

  orders (/v1)                          legacy (/v0, deprecated by the demo)
    GET  /v1/orders          200          GET /v0/orders        200
    POST /v1/orders          201          GET /v0/orders/{id}   200
    GET  /v1/orders/{id}     200 (id <= 1000), else 404
    GET  /v1/reports         500 (its backend is "down")
    GET  /v1/search          200 after 150 ms (the slow route)
  anything else              404

Every request it receives is appended to --log as "METHOD PATH KEY" (KEY =
the X-API-Key value, "-" without one) before the answer, so the demo can
count what reached the server. Prints "ready PORT" once it listens.
"""

import argparse
import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLOW_SECONDS = 0.15
ORDER_ID = re.compile(r"^/v[01]/orders/(\d+)$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "demo-api/1"
    sys_version = ""

    def log_message(self, fmt, *args):  # the request log is the record
        pass

    def reply(self, status, obj):
        data = (json.dumps(obj) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def handle_any(self):
        key = (self.headers.get("X-API-Key") or "-").strip()
        self.server.log(f"{self.command} {self.path} {key}")
        length = self.headers.get("Content-Length")
        if length and length.isdigit():
            self.rfile.read(int(length))
        path = self.path.split("?", 1)[0]
        m = ORDER_ID.match(path)
        if path in ("/v1/orders", "/v0/orders"):
            if self.command == "POST" and path == "/v1/orders":
                self.reply(201, {"id": 1001, "status": "created"})
            else:
                self.reply(200, {"data": [{"id": 7}, {"id": 8}], "api": path[:3]})
        elif m and (path.startswith("/v0/") or int(m.group(1)) <= 1000):
            self.reply(200, {"id": int(m.group(1)), "status": "shipped"})
        elif path == "/v1/reports":
            self.reply(500, {"error": "report backend unavailable"})
        elif path == "/v1/search":
            time.sleep(SLOW_SECONDS)
            self.reply(200, {"data": []})
        else:
            self.reply(404, {"error": "not found"})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def server_bind(self):
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()

    def handle_error(self, request, client_address):
        # a client gone (the kernel resets the server's side of a connection
        # it answered with a 429 itself) is no error of the API
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def log(self, line):
        if self.log_file:
            with self.log_lock:
                self.log_file.write(line + "\n")
                self.log_file.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bind", default="::", help="address; '::' = IPv4 and IPv6 (default)")
    ap.add_argument("--log", default="", help="append one line per received request here")
    args = ap.parse_args()

    Server.address_family = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
    srv = Server((args.bind, args.port), Handler)
    srv.log_file = open(args.log, "a", buffering=1) if args.log else None
    srv.log_lock = threading.Lock()
    print(f"ready {srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
