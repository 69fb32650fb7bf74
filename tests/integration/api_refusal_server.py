#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""api_refusal_server.py - a sandbox that answers as the tollgate gateway does.

For test-api-usage.sh: an HTTP/1.1 server whose answers, by path, are byte for
byte what tg_xdp writes in the kernel for a refusal (bpf/lib/reply.h), and a
few answers that only look like one, or that the sandbox must handle:

    /over_limit, /quota_exhausted       429 + Retry-After, RateLimit-Policy,
                                        RateLimit, {"error":"NAME"}
    /unknown_key, /revoked_key, /missing_key   401 {"error":"NAME"}
    /suspended, /forbidden_api          403 {"error":"NAME"}
    /plain429    429 {"error":"over_limit"} without the RateLimit fields: the
                 API's own answer, not the gateway's
    /app401      401 {"error": "unknown_key"} (other spacing): the API's own
    /big         200 with 100 KiB of text
    /binary      200 with bytes that are not UTF-8
    /redirect    302 to /over_limit (must not be followed)
    anything else 404

Each request is appended to --log as "METHOD PATH KEY" (KEY = X-API-Key or
"-") before the answer. Prints "ready PORT" once it listens.
"""

import argparse
import socketserver
import sys
import threading

STATUS = {401: "Unauthorized", 403: "Forbidden", 429: "Too Many Requests"}
VERDICT_STATUS = {"missing_key": 401, "unknown_key": 401, "revoked_key": 401,
                  "suspended": 403, "forbidden_api": 403, "over_limit": 429,
                  "quota_exhausted": 429}


def kernel_reply(verdict, wait_s=1, burst=5, window_s=1, ratelimit=True):
    """What bpf/lib/reply.h's tg_reply_build() writes."""
    status = VERDICT_STATUS[verdict]
    out = "HTTP/1.1 %d %s\r\n" % (status, STATUS[status])
    if status == 401:
        out += 'WWW-Authenticate: ApiKey header="X-API-Key"\r\n'
    out += "Server: tollgate\r\nContent-Type: application/json\r\nConnection: close\r\n"
    if status == 429 and ratelimit:
        out += "Retry-After: %d\r\n" % wait_s
        out += 'RateLimit-Policy: "plan";q=%d;w=%d\r\n' % (burst, window_s)
        out += 'RateLimit: "plan";r=0;t=%d\r\n' % wait_s
    body = '{"error":"%s"}' % verdict
    out += "Content-Length: %d\r\n\r\n%s" % (len(body), body)
    return out.encode()


def plain(status, reason, body, ctype="text/plain", extra=""):
    return (("HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%sContent-Length: %d\r\n"
             "Connection: close\r\n\r\n") % (status, reason, ctype, extra, len(body))).encode() + body


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline(8192).decode("latin-1").strip()
        if not line:
            return
        method, path = line.split(" ")[:2]
        key, length = "-", 0
        while True:
            h = self.rfile.readline(8192).decode("latin-1")
            if h in ("\r\n", "\n", ""):
                break
            name, _, value = h.partition(":")
            if name.strip().lower() == "x-api-key":
                key = value.strip()
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if length:
            self.rfile.read(length)
        self.server.log(method, path, key)
        p = path.split("?", 1)[0].lstrip("/")
        if p in VERDICT_STATUS:
            out = kernel_reply(p)
        elif p == "plain429":
            out = kernel_reply("over_limit", ratelimit=False)
        elif p == "app401":
            out = plain(401, "Unauthorized", b'{"error": "unknown_key"}', "application/json")
        elif p == "big":
            out = plain(200, "OK", b"x" * (100 * 1024))
        elif p == "binary":
            out = plain(200, "OK", b"ok \xff\xfe end")
        elif p == "redirect":
            out = plain(302, "Found", b"", extra="Location: /over_limit\r\n")
        else:
            out = plain(404, "Not Found", b"not found\n")
        if method == "HEAD":
            out = out.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
        self.wfile.write(out)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, log_path):
        super().__init__(addr, Handler)
        self.lock = threading.Lock()
        self.file = open(log_path, "a", buffering=1) if log_path else None

    def log(self, method, path, key):
        if self.file:
            with self.lock:
                self.file.write("%s %s %s\n" % (method, path, key))
                self.file.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", default="")
    args = ap.parse_args()
    srv = Server(("127.0.0.1", args.port), args.log)
    print("ready %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
