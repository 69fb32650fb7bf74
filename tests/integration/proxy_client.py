#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""proxy_client.py - writes to an API server the way a local proxy does, for
the sockmap-mode test (test-sockmap.sh); it must run inside agent.cgroup.

    pipeline --port P --key K --xff A --xff B ...
        one write holding one GET per --xff (X-Forwarded-For: "1.2.3.4, A"),
        a POST with a body between them; prints each response's status
    split --port P --key K --xff A
        one request head in three writes 200 ms apart; prints the status
    tail --port P --key K --xff A --xff B
        one write holding a GET (X-Forwarded-For ..., A) and the first 20
        bytes of a second (..., B), then the rest of that write and, 200 ms
        later, the rest of the second head (--cut N: N bytes instead of 20;
        --pad N: an X-Pad line of N bytes in the second head); prints what
        the first write took ("all", "first": the first request's bytes, or
        N/M), then each response's status, or EACCES if a write failed so
    refused --port P --key K
        one request; prints "EACCES" if the write fails with EACCES (what a
        proxy sees when tollgate refuses), else the status
    upload --port P --key K --xff A --lookalike-key L [--chunked] [--path P]
           [--lookalike-path Q] [--lookalike-length N] [--then-key T]
        a POST to P (/v1/created) whose body pieces each begin like a
        request for Q (/v1/ok) with key L (and Content-Length: N), each
        piece a write of its own (tgclient.py upload), then a GET with key T
        (K) on the same connection; prints both statuses, EACCES in place
        of a status if a write failed so
"""

import argparse
import errno
import socket
import sys
import time

from tgclient import lookalike_pieces, upload_sends


def head(path, key, xff, method="GET", body=b"", pad=0, length=True):
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: api.test",
        f"X-API-Key: {key}",
        f"X-Forwarded-For: 198.51.100.7, {xff}",
        "User-Agent: proxy_client",
    ]
    if pad:
        lines.append("X-Pad: " + "p" * pad)
    if not length:
        return ("\r\n".join(lines) + "\r\n").encode()  # the caller frames the body
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


def cmd_tail(args):
    first = head("/v1/ok", args.key, args.xff[0])
    second = head("/v1/ok", args.key, args.xff[1], pad=args.pad)
    data = first + second[:args.cut]
    with connect(args.port) as s:
        sent = s.send(data)
        took = "all" if sent == len(data) else "first" if sent == len(first) else f"{sent}/{len(data)}"
        try:
            s.sendall(data[sent:])
            time.sleep(0.2)
            s.sendall(second[args.cut:])
        except OSError as e:
            print(took, "EACCES" if e.errno == errno.EACCES else f"error {e.errno}")
            return 0
        print(took, " ".join(str(x) for x in read_responses(s, 2)))
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


def cmd_upload(args):
    pieces = lookalike_pieces(args.lookalike_key, args.lookalike_path, args.lookalike_length)
    sends = upload_sends(head(args.path, args.key, args.xff[0], "POST", length=False), pieces,
                         args.chunked)
    statuses = []
    with connect(args.port) as s:
        try:
            for data in sends:
                s.sendall(data)
                time.sleep(0.1)
            statuses += read_responses(s, 1)
            s.sendall(head("/v1/ok", args.then_key or args.key, args.xff[0]))
            statuses += read_responses(s, 1)
        except OSError as e:
            statuses.append("EACCES" if e.errno == errno.EACCES else f"error-{e.errno}")
        print(" ".join(str(x) for x in statuses))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=["pipeline", "split", "tail", "refused", "upload"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--xff", action="append", default=[])
    ap.add_argument("--cut", type=int, default=20, help="tail: bytes of the second head in the first write")
    ap.add_argument("--pad", type=int, default=0, help="tail: bytes of an X-Pad line in the second head")
    ap.add_argument("--lookalike-key", default="", help="upload: the key of the body's heads")
    ap.add_argument("--chunked", action="store_true", help="upload: a chunked body")
    ap.add_argument("--path", default="/v1/created", help="upload: the POST's path")
    ap.add_argument("--lookalike-path", default="/v1/ok", help="upload: the body's heads' path")
    ap.add_argument("--lookalike-length", type=int, help="upload: a Content-Length in the body's heads")
    ap.add_argument("--then-key", default="", help="upload: the key of the GET after it")
    args = ap.parse_args()
    if args.command in ("pipeline", "split", "tail", "upload") and len(args.xff) < (2 if args.command == "tail" else 1):
        ap.error("--xff is needed (twice for tail)")
    commands = {"pipeline": cmd_pipeline, "split": cmd_split, "tail": cmd_tail, "refused": cmd_refused,
                "upload": cmd_upload}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
