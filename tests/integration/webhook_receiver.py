#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""webhook_receiver.py - a webhook endpoint for the integration tests.

Every POST is appended to --log as one JSON line, before the answer is sent:
  {"path": "/alert", "status": 200, "delivery": "<X-Tollgate-Delivery>",
   "event": "<X-Tollgate-Event>", "content_type": "...", "user_agent": "...",
   "body": <the request body parsed as JSON, or its text if it is not JSON>,
   "raw": <the request body as text>}
The first --fail-first N POSTs are answered 500 (and logged with status 500),
every later one 200. Prints "ready" once it listens on 127.0.0.1:--port.
"""
import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--fail-first", type=int, default=0)
    args = ap.parse_args()

    lock = threading.Lock()
    state = {"seen": 0}
    log = open(args.log, "a", encoding="utf-8")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):  # quiet
            pass

        def answer(self, status):
            body = b'{"ok": true}' if status < 300 else b'{"error": "try later"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n > 0 else b""
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
            with lock:
                state["seen"] += 1
                status = 500 if state["seen"] <= args.fail_first else 200
                rec = {
                    "path": self.path,
                    "status": status,
                    "delivery": self.headers.get("X-Tollgate-Delivery"),
                    "event": self.headers.get("X-Tollgate-Event"),
                    "content_type": self.headers.get("Content-Type"),
                    "user_agent": self.headers.get("User-Agent"),
                    "body": body,
                    "raw": raw.decode("utf-8", "replace"),
                }
                log.write(json.dumps(rec, sort_keys=True) + "\n")
                log.flush()
            self.answer(status)

        def do_GET(self):
            self.answer(405)

    server = HTTPServer(("127.0.0.1", args.port), Handler)
    print("ready", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
