#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""proxy_client.py - writes to an API server the way a local proxy does, for
the sockmap-mode test (test-sockmap.sh); it must run inside agent.cgroup.

    pipeline --port P --key K --xff A --xff B ...
        one write holding one GET per --xff (X-Forwarded-For: "1.2.3.4, A"),
        a POST with a body between them; prints each response's status
    split --port P --key K --xff A
        one request head in three writes 200 ms apart; prints the status
    refused --port P --key K
        one request; prints "EACCES" if the write fails with EACCES (what a
        proxy sees when tollgate refuses), else the status
"""

import argparse
import errno
import socket
import sys
import time


def head(path, key, xff, method="GET", body=b""):
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: api.test",
        f"X-API-Key: {key}",
        f"X-Forwarded-For: 198.51.100.7, {xff}",
        "User-Agent: proxy_client",
    ]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read_responses(sock, count, timeout=5.0):
    """Statuses of the next count responses (Content-Length bodies)."""
    sock.settimeout(timeout)
    buf = b""
    out = []
    while len(out) < count:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
            continue
        hdr = buf[:end].decode("latin-1").split("\r\n")
        status = int(hdr[0].split()[1])
        length = 0
        for h in hdr[1:]:
            name, _, value = h.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        while len(buf) < end + 4 + length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
        buf = buf[end + 4 + length:]
        out.append(status)
    return out


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def cmd_pipeline(args):
    data = b""
    n = 0
    for i, xff in enumerate(args.xff):
        data += head("/v1/ok", args.key, xff)
        n += 1
        if i == 0:
            data += head("/v1/created", args.key, xff, "POST", b'{"GET /v1/ok HTTP/1.1": 1}')
            n += 1
    with connect(args.port) as s:
        s.sendall(data)
        print(" ".join(str(x) for x in read_responses(s, n)))
    return 0


def cmd_split(args):
    data = head("/v1/ok", args.key, args.xff[0])
    cuts = [0, 20, len(data) // 2, len(data)]
    with connect(args.port) as s:
        for a, b in zip(cuts, cuts[1:]):
            s.sendall(data[a:b])
            time.sleep(0.2)
        print(" ".join(str(x) for x in read_responses(s, 1)))
    return 0


def cmd_refused(args):
    with connect(args.port) as s:
        try:
            s.sendall(head("/v1/ok", args.key, "192.0.2.9"))
        except OSError as e:
            print("EACCES" if e.errno == errno.EACCES else f"error {e.errno}")
            return 0
        print(" ".join(str(x) for x in read_responses(s, 1)) or "no-response")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=["pipeline", "split", "refused"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--xff", action="append", default=[])
    args = ap.parse_args()
    if args.command in ("pipeline", "split") and not args.xff:
        ap.error("--xff is needed")
    return {"pipeline": cmd_pipeline, "split": cmd_split, "refused": cmd_refused}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
