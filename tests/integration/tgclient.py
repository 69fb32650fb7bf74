#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""tgclient.py - raw HTTP clients and JSON readers for the integration tests.

Subcommands (all print to stdout; exit 0 unless the arguments are wrong):

  flood     --addr A --port P --path /v1/ok --key K --count N [--header H]...
            N requests one after another, each on a NEW connection; prints one
            JSON object: {"elapsed_s", "results": [{"status", "ms", "fin",
            "headers": {lower-case name: value}}]}. status 0 = no response
            (timeout, reset); fin = the server side closed after the response.

  rate      --addr A --port P --path /v1/ok --key K --rps R --seconds S
            R requests a second for S seconds, each on a NEW connection, sent
            on schedule from a pool of threads whatever the answers; prints
            {"sent", "elapsed_s", "by_status": {"200": n, ...}} (status 0 = no
            response).

  pipeline  --addr A --port P --key K PATH...
            opens one connection, sends every request in ONE sendall (one TCP
            segment for small requests), reads as many responses; prints the
            status codes, space separated (0 for a missing response).

  upload    --addr A --port P --key K --lookalike-key L [--chunked] [--then PATH]
            one POST to /v1/created whose body pieces each begin like a
            request with key L (a whole head, then one cut before its blank
            line), each piece in a send (segment) of its own, 100 ms apart;
            Content-Length, or chunked with each piece a chunk; then, on the
            same connection, GET PATH (default /v1/ok). Prints both statuses
            (0 for a missing response).

  phantom   --addr A --port P --iface IF [--path /v1/ok] [--key K]
            [--fake-body N] [--then PATH]                      (IPv4)
            a segment TCP discards but XDP sees (it acknowledges unsent
            data): a public GET /health (or a POST with an N-byte body to
            follow) as the connection's first bytes, then the real GET PATH
            (keyless without --key) at the same sequence through the
            socket, then a keyless GET of --then; prints the statuses.

  duplicate --addr A --port P --iface IF --key K [--path /v1/ok]
            [--longer N]                                        (IPv4)
            GET PATH with K, answered; then by hand a frame at its
            sequence, bytes the server's TCP has (it drops them), carrying
            a keyless GET as long (or N bytes longer); then GET PATH with
            K again on the same connection; prints the statuses.

  lostbody  --addr A --port P --key K [--path /v1/created]
            a POST with K whose body goes in two sends: the first half
            with its head, then the rest, starting "LOSE" (a link that
            loses it: lose_segment.bpf.o); then a keyless GET, pipelined
            before any answer. Reads the first response that comes, then
            closes; prints its status (0: none) and the connection's local
            port.

  newkey    [--version V]
            a fresh API key: tg_ + version digit + 39 base62 characters.

  digest    --secret-file F KEY
            the key's digest (SipHash-2-4-128 under the secret of the key's
            version), computed independently of tollgatectl.

  events    FILE [--key-id K] [--consumer-id C] [--format FMT] [--check]
            one line per matching event of a CloudEvents JSON-lines file,
            formatted with FMT over the event's data (default
            "{status} {latency_us} {flags}"), flags printed as the set flag
            names joined by "," or "-". --check validates every line instead
            and prints one line per problem.

  counter   FILE CONSUMER API FIELD
            a value from `tollgatectl counters --json` output (FIELD may be
            "refused.over_limit"); 0 when the row or field is absent.
"""

import argparse
import json
import secrets
import socket
import string
import sys
import time

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
EVENT_FIELDS = (
    "consumer_id plan_id api_id route_id key_id endpoint method status latency_us "
    "req_bytes resp_bytes client_ip country verdict flags count"
).split()
ID_FIELDS = ("consumer_id", "plan_id", "api_id", "route_id", "key_id")


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def host_header(addr, port):
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def request_bytes(addr, port, path, key, method="GET", headers=()):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host_header(addr, port)}",
             "User-Agent: tgclient/1", "Accept: */*"]
    if key:
        lines.append(f"X-API-Key: {key}")
    lines.extend(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Reader:
    """Reads HTTP/1.1 responses (Content-Length bodies) from a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def fill(self):
        if self.eof:
            return False
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, ConnectionError, OSError):
            self.eof = True
            return False
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def response(self, to_head=False):
        """(status, headers) of the next response, or (0, {}) if none came;
        interim 1xx responses (but 101) are skipped; with to_head, the
        answer to a HEAD request (no body)."""
        while True:
            status, headers = self.one_response(to_head)
            if status < 100 or status >= 200 or status == 101:
                return status, headers

    def one_response(self, to_head=False):
        while b"\r\n\r\n" not in self.buf:
            if not self.fill():
                return 0, {}
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        try:
            status = int(parts[1])
        except (IndexError, ValueError):
            return 0, {}
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if to_head and status >= 200:
            return status, headers
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self.skip_chunks()
            return status, headers
        length = int(headers.get("content-length", "0") or 0)
        while len(self.buf) < length:
            if not self.fill():
                break
        self.buf = self.buf[length:]
        return status, headers

    def line(self):
        """The next CRLF-terminated line (without it), or None at the end."""
        while b"\r\n" not in self.buf:
            if not self.fill():
                return None
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def skip_chunks(self):
        """Reads past a chunked body and its trailer section."""
        while True:
            line = self.line()
            if line is None:
                return
            size = int(line.split(b";")[0], 16)
            if size == 0:
                while self.line():  # trailer fields, up to the empty line
                    pass
                return
            while len(self.buf) < size + 2:
                if not self.fill():
                    return
            self.buf = self.buf[size + 2:]

    def closed_by_peer(self, timeout):
        """True if the peer closes (FIN or RST) within timeout seconds."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1)
        except socket.timeout:
            return False
        except (ConnectionError, OSError):
            return True
        return data == b""


def cmd_flood(args):
    results = []
    t0 = time.monotonic()
    for _ in range(args.count):
        t = time.monotonic()
        res = {"status": 0, "headers": {}, "fin": False, "ms": 0.0}
        try:
            with socket.socket(family_of(args.addr), socket.SOCK_STREAM) as s:
                s.settimeout(args.timeout)
                s.connect((args.addr, args.port))
                s.sendall(request_bytes(args.addr, args.port, args.path, args.key,
                                        headers=args.header))
                rd = Reader(s)
                res["status"], res["headers"] = rd.response()
                res["ms"] = round((time.monotonic() - t) * 1000, 3)
                if res["status"] and res["status"] != 200:
                    res["fin"] = rd.closed_by_peer(1.0)
        except (ConnectionError, OSError) as e:
            res["error"] = str(e)
            res["ms"] = round((time.monotonic() - t) * 1000, 3)
        results.append(res)
    json.dump({"elapsed_s": round(time.monotonic() - t0, 4), "results": results}, sys.stdout)
    print()
    return 0


def one_request(addr, port, path, key, timeout):
    try:
        with socket.socket(family_of(addr), socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect((addr, port))
            s.sendall(request_bytes(addr, port, path, key))
            return Reader(s).response()[0]
    except (ConnectionError, OSError):
        return 0


def cmd_rate(args):
    from concurrent.futures import ThreadPoolExecutor

    warm = int(args.rps * args.warmup)
    total = int(args.rps * args.seconds)
    keys = [args.key]
    if args.keys_file:  # request i carries key i modulo their number
        with open(args.keys_file) as f:
            keys = [line.strip() for line in f if line.strip()]
    futures = []
    sent_at = []
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        for i in range(warm + total):
            delay = t0 + i / args.rps - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent_at.append(time.monotonic() - t0)
            futures.append(pool.submit(one_request, args.addr, args.port, args.path,
                                       keys[i % len(keys)], args.timeout))
        statuses = [f.result() for f in futures]
    warm_by_status = {}
    for st in statuses[:warm]:
        warm_by_status[str(st)] = warm_by_status.get(str(st), 0) + 1
    # the measured requests: those after the warm-up, sent at the same pace
    # with no pause, so whatever the server side adapts to the rate (the
    # agent's leases) has caught up before the first of them
    base = sent_at[warm] if total else 0.0
    sent_at = [t - base for t in sent_at[warm:]]
    statuses = statuses[warm:]
    by_status = {}
    for st in statuses:
        by_status[str(st)] = by_status.get(str(st), 0) + 1
    # the first few answers other than 200: request number, its key's
    # number, and when it was sent (s), for a log to tell when they came
    other = [[i, i % len(keys), round(sent_at[i], 3)]
             for i, st in enumerate(statuses) if st != 200][:10]
    json.dump({"sent": total, "elapsed_s": round(time.monotonic() - t0, 3),
               "by_status": by_status, "not_200": other,
               "warmup_by_status": warm_by_status}, sys.stdout)
    print()
    return 0


def connect_nodelay(args):
    """A connection to args.addr:args.port whose every send goes out as a
    segment of its own (TCP_NODELAY), with args.timeout."""
    s = socket.socket(family_of(args.addr), socket.SOCK_STREAM)
    try:
        s.settimeout(args.timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.connect((args.addr, args.port))
    except OSError:
        s.close()
        raise
    return s


def print_statuses(statuses, count):
    """The statuses read, one line, 0 for each of `count` not read."""
    statuses = statuses + [0] * (count - len(statuses))
    print(" ".join(str(x) for x in statuses), flush=True)


# The last chunk of a chunked body with a trailer field: XDP does not follow
# trailer fields in requests, so it cannot find where such a body ends.
TRAILER_END = b"0\r\nX-Checksum: 1\r\n\r\n"


def cmd_pipeline(args):
    """Requests for `paths` ("/p", or "METHOD /p") on one connection, all
    sent before any answer but the last `late` of them, sent once the first
    answer is read: in one write, or one by one `gap` seconds apart; the
    first `keyless` of them without the key; with `chunked_first`, the
    first a POST with a chunked body, sent with its first chunk in a
    segment of its own, the last chunk with a trailer field in front of the
    second request (so XDP cannot find the body's end). Prints the statuses
    read (0: none, the connection ended first)."""
    methods = [p.rpartition(" ")[0] or "GET" for p in args.paths]
    paths = [p.rpartition(" ")[2] for p in args.paths]
    reqs = [request_bytes(args.addr, args.port, p, None if i < args.keyless else args.key,
                          method=methods[i])
            for i, p in enumerate(paths)]
    if args.chunked_first:
        reqs[0] = request_bytes(args.addr, args.port, paths[0],
                                None if args.keyless else args.key, method="POST",
                                headers=("Transfer-Encoding: chunked",)) + b"5\r\nhello\r\n"
        if len(reqs) < 2:
            raise SystemExit("pipeline: --chunked-first needs a request behind the POST")
        reqs[1] = TRAILER_END + reqs[1]
    if not 0 <= args.late < len(reqs):
        raise SystemExit("pipeline: --late must leave the first request to be sent at once")
    early, late = reqs[:len(reqs) - args.late], reqs[len(reqs) - args.late:]
    statuses = []

    def send(batch):
        if args.gap:
            # each request in its own segment (TCP_NODELAY)
            for r in batch:
                s.sendall(r)
                time.sleep(args.gap)
        else:
            s.sendall(b"".join(batch))

    with connect_nodelay(args) as s:
        rd = Reader(s)
        try:
            if args.chunked_first:
                s.sendall(early[0])
                time.sleep(0.05)  # its first chunk in a segment of its own
                early = early[1:]
            send(early)
            for i in range(len(reqs)):
                statuses.append(rd.response(methods[i] == "HEAD")[0])
                if i == 0 and late:
                    send(late)
        except (OSError, ValueError):
            pass
        print_statuses(statuses, len(reqs))
        time.sleep(args.hold)  # the connection stays open meanwhile
    return 0


def cmd_pieces(args):
    """Bytes of a request sent as given, in pieces `gap` seconds apart
    (each piece its own segment, TCP_NODELAY); backslash escapes (\\r, \\n)
    in each piece are decoded, and {long} becomes `long_len` 'a's. Prints
    the status of the answer (0: none, or no status line)."""
    statuses = []
    with connect_nodelay(args) as s:
        try:
            for i, piece in enumerate(args.pieces):
                if i:
                    time.sleep(args.gap)
                text = piece.encode().decode("unicode_escape").replace(
                    "{long}", "a" * args.long_len)
                s.sendall(text.encode("latin-1"))
            statuses.append(Reader(s).response()[0])
        except (OSError, ValueError):
            pass
    print_statuses(statuses, 1)
    return 0


def lookalike_pieces(lookalike_key, path="/v1/ok", length=None):
    """Body pieces that begin like requests for `path`: a whole head with the
    key (and a Content-Length of `length`, if given), and one cut before its
    blank line."""
    line = f"GET {path} HTTP/1.1\r\nHost: api.test\r\nX-API-Key: {lookalike_key}\r\n"
    if length is not None:
        line += f"Content-Length: {length}\r\n"
    return [(line + "\r\n").encode() + b"x" * 300, line.encode()]


def upload_sends(head, pieces, chunked):
    """The sends of a request whose head lines are `head` (bytes, without
    the blank line) and whose body is `pieces`, each piece at the start of a
    send: with Content-Length, or chunked (each piece a chunk, its size line
    at the end of the send before it, the last chunk in a send of its
    own)."""
    if not chunked:
        body_len = sum(len(p) for p in pieces)
        return [head + b"Content-Length: %d\r\n\r\n" % body_len] + pieces
    sends = [head + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % len(pieces[0])]
    for piece, after in zip(pieces, pieces[1:]):
        sends.append(piece + b"\r\n%x\r\n" % len(after))
    # the last piece ends its send as it is (a head cut before its blank
    # line stays cut); the last chunk follows in a send of its own
    return sends + [pieces[-1], b"\r\n0\r\n\r\n"]


def cmd_upload(args):
    head = request_bytes(args.addr, args.port, args.path, args.key, "POST")[:-2]
    sends = upload_sends(head, lookalike_pieces(args.lookalike_key), args.chunked)
    statuses = []
    with connect_nodelay(args) as s:
        rd = Reader(s)
        try:
            for data in sends:
                s.sendall(data)
                time.sleep(0.1)  # acknowledged: the next send is a segment of its own
            statuses.append(rd.response()[0])
            s.sendall(request_bytes(args.addr, args.port, args.then, args.key))
            statuses.append(rd.response()[0])
        except OSError:
            pass
    print_statuses(statuses, 2)
    return 0


def cmd_lostbody(args):
    """A POST whose second body send is lost on the way, then a keyless
    GET behind it (see the module's help)."""
    body = b"abcdefLOSE!!"
    head = request_bytes(args.addr, args.port, args.path, args.key, method="POST",
                         headers=(f"Content-Length: {len(body)}",))
    s = connect_nodelay(args)
    port = s.getsockname()[1]
    try:
        s.sendall(head + body[:6])
        time.sleep(0.05)
        s.sendall(body[6:])
        time.sleep(0.02)
        s.sendall(request_bytes(args.addr, args.port, "/v1/ok", None))
        status, _ = Reader(s).response()
    finally:
        s.close()
    print(status, port, flush=True)


def cmd_smuggle(args):
    """A request smuggled behind a public one: a chunked POST to `path`
    (with `post_key`, if given), then, before the answer, a GET carrying
    `key`, laid out as `layout` says: `own`, the POST whole with its last
    chunk, then the GET in a segment of its own; `one`, all in one
    segment; `split`, the POST's head and first chunk, then the last chunk
    and the GET in one segment; `trailer`, the same with a trailer field
    after the last chunk (framing XDP does not follow). Prints the statuses
    read (0: none)."""
    post = request_bytes(args.addr, args.port, args.path, args.post_key or None, "POST",
                         ["Transfer-Encoding: chunked"])
    get = request_bytes(args.addr, args.port, "/v1/ok", args.key)
    sends = {
        "own": [post + b"5\r\nhello\r\n0\r\n\r\n", get],
        "one": [post + b"5\r\nhello\r\n0\r\n\r\n" + get],
        "split": [post + b"5\r\nhello\r\n", b"0\r\n\r\n" + get],
        "trailer": [post + b"5\r\nhello\r\n", TRAILER_END + get],
    }[args.layout]
    statuses = []
    with connect_nodelay(args) as s:
        rd = Reader(s)
        try:
            for data in sends:
                s.sendall(data)
                time.sleep(0.05)  # each its own segment, in order
            for _ in range(2):
                statuses.append(rd.response()[0])
        except (OSError, ValueError):
            pass
    print_statuses(statuses, 2)
    return 0


def inet_sum(data):
    """The Internet checksum of data (RFC 1071), folded and complemented."""
    if len(data) % 2:
        data += b"\0"
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


def tcp_frame(dst_mac, src_mac, src, dst, sport, dport, seq, ack, payload):
    """An Ethernet frame of an IPv4 TCP segment (PSH|ACK) with full checksums."""
    import struct

    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, 0x18, 64240, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6,
                                                                        len(tcp) + len(payload))
    tcp = tcp[:16] + struct.pack("!H", inet_sum(pseudo + tcp + payload)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0x4242, 0x4000,
                     64, 6, 0, socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", inet_sum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + tcp + payload


def sniffer(iface, timeout):
    """A packet socket on iface that sees frames both ways (ETH_P_ALL: one
    of a single protocol sees no outgoing frames, our SYN)."""
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    sniff.bind((iface, 0))
    sniff.settimeout(timeout)
    return sniff


def first_bytes_by_hand(sniff, s, args, name):
    """A function send(payload, ack_ahead, at=0) that sends payload by hand
    on sniff (bound to args.iface) as socket s's bytes to args.port from
    the at-th on (0: its first), acknowledging the host's bytes up to
    ack_ahead past its first; made
    from the handshake sniff saw. None, with a message, if it saw none in
    time."""
    import struct

    sport = s.getsockname()[1]
    port = args.port
    syn = synack = None
    while syn is None or synack is None:
        try:
            frame, _ = sniff.recvfrom(65536)
        except socket.timeout:
            break
        ip = frame[14:]
        if frame[12:14] != b"\x08\x00" or len(ip) < 40 or ip[9] != 6:
            continue
        ihl = (ip[0] & 15) * 4
        sp, dp, seq = struct.unpack("!HHI", ip[ihl:ihl + 8])
        flags = ip[ihl + 13]
        if sp == sport and dp == port and flags & 0x12 == 0x02:
            syn = (frame[6:12], frame[0:6], seq)
        elif sp == port and dp == sport and flags & 0x12 == 0x12:
            synack = seq
    if syn is None or synack is None:
        print(f"tgclient {name}: no handshake seen on {args.iface}", file=sys.stderr)
        return None
    src_mac, dst_mac, isn = syn

    def send(payload, ack_ahead, at=0):
        sniff.send(tcp_frame(dst_mac, src_mac, s.getsockname()[0], args.addr, sport, port,
                             (isn + 1 + at) & 0xffffffff, (synack + 1 + ack_ahead) & 0xffffffff,
                             payload))
    return send


def cmd_duplicate(args):
    """A copy of bytes the server's TCP took already, which it drops: GET
    --path with --key through the socket, answered; then by hand on
    --iface a frame at that request's sequence carrying a keyless GET of
    --path as long (--longer N: N bytes longer, so not all taken); then
    the keyed request again through the socket. Prints the statuses read
    (0: none)."""
    real = request_bytes(args.addr, args.port, args.path, args.key)
    keyless = request_bytes(args.addr, args.port, args.path, None)
    pad = len(real) + args.longer - len(keyless) - 9
    keyless = keyless[:-2] + b"X-Pad: " + b"p" * pad + b"\r\n\r\n"
    assert len(keyless) == len(real) + args.longer
    sniff = sniffer(args.iface, args.timeout)
    statuses = []
    with sniff, connect_nodelay(args) as s:
        send = first_bytes_by_hand(sniff, s, args, "duplicate")
        if send is None:
            print(0)
            return 1
        rd = Reader(s)
        try:
            s.sendall(real)
            statuses.append(rd.response()[0])
            send(keyless, 0)  # acknowledges none of the answer: an old ACK
            time.sleep(0.05)
            s.sendall(real)
            statuses.append(rd.response()[0])
        except (OSError, ValueError):
            pass
    print_statuses(statuses, 2)
    return 0


def cmd_gapped(args):
    """A chunked POST to --path (with --key; none: keyless) with a segment
    past a gap in its body: the head, the first chunk and half the second's
    data through the socket; then by hand on --iface a copy of the bytes
    the socket sends next, from 4 bytes past the end of that data (so XDP
    sees bytes past where the body's framing stands before those between);
    then those bytes through the socket. Prints the status read (0: none)."""
    head = request_bytes(args.addr, args.port, args.path, args.key or None, "POST",
                         ["Transfer-Encoding: chunked"])
    first = head + b"5\r\nhello\r\n20\r\n" + b"d" * 16
    rest = b"d" * 16 + b"\r\n5\r\nworld\r\n0\r\n\r\n"
    sniff = sniffer(args.iface, args.timeout)
    status = 0
    with sniff, connect_nodelay(args) as s:
        send = first_bytes_by_hand(sniff, s, args, "gapped")
        if send is None:
            print(0)
            return 1
        try:
            s.sendall(first)
            time.sleep(0.05)
            send(rest[20:], 0, len(first) + 20)  # the server's TCP queues it out of order
            time.sleep(0.05)
            s.sendall(rest)
            status = Reader(s).response()[0]
        except (OSError, ValueError):
            pass
    print(status)
    return 0


def cmd_phantom(args):
    """A segment that XDP sees and TCP drops, then the real one at the same
    sequence: the connection's first bytes go out once by hand on --iface
    (an AF_PACKET frame acknowledging data the server never sent, which
    TCP discards, RFC 9293 3.10.7.4) carrying a public GET /health padded
    to the real request's length, then the real request through the socket:
    GET --path with --key (none: keyless). With --fake-body N the dropped
    request is a POST whose head says N bytes of body follow; with --then,
    a keyless GET of that path follows the real request. Prints the
    statuses read (0: none)."""
    real = request_bytes(args.addr, args.port, args.path, args.key or None)
    if args.fake_body:  # a body the dropped request says is to follow
        fake = request_bytes(args.addr, args.port, "/health", None, "POST",
                             (f"Content-Length: {args.fake_body}",))
    else:
        fake = request_bytes(args.addr, args.port, "/health", None)
    # the same length, the shorter padded with a header
    pad = b"X-Pad: " + b"p" * (abs(len(real) - len(fake)) + 10) + b"\r\n\r\n"
    if len(fake) < len(real):
        fake = fake[:-2] + pad
        real = real[:-2] + b"X-Pad: " + b"p" * 10 + b"\r\n\r\n"
    else:
        real = real[:-2] + pad
        fake = fake[:-2] + b"X-Pad: " + b"p" * 10 + b"\r\n\r\n"
    sniff = sniffer(args.iface, args.timeout)
    with sniff, connect_nodelay(args) as s:
        send = first_bytes_by_hand(sniff, s, args, "phantom")
        if send is None:
            print(0)
            return 1
        send(fake, 0x10000000)  # acknowledges data never sent: TCP drops it
        time.sleep(0.05)
        s.sendall(real)
        rd = Reader(s)
        statuses = [rd.response()[0]]
        if args.then:  # a keyless request behind it, in a segment of its own
            s.sendall(request_bytes(args.addr, args.port, args.then, None))
            statuses.append(rd.response()[0])
    print(" ".join(str(st) for st in statuses))
    return 0


def siphash128(key, msg):
    """SipHash-2-4 with 128-bit output (the reference algorithm, DESIGN §8)."""
    mask = (1 << 64) - 1

    def rotl(x, b):
        return ((x << b) | (x >> (64 - b))) & mask

    def rounds(v, n):
        v0, v1, v2, v3 = v
        for _ in range(n):
            v0 = (v0 + v1) & mask
            v1 = rotl(v1, 13) ^ v0
            v0 = rotl(v0, 32)
            v2 = (v2 + v3) & mask
            v3 = rotl(v3, 16) ^ v2
            v0 = (v0 + v3) & mask
            v3 = rotl(v3, 21) ^ v0
            v2 = (v2 + v1) & mask
            v1 = rotl(v1, 17) ^ v2
            v2 = rotl(v2, 32)
        return [v0, v1, v2, v3]

    k0 = int.from_bytes(key[:8], "little")
    k1 = int.from_bytes(key[8:16], "little")
    v = [0x736F6D6570736575 ^ k0, 0x646F72616E646F6D ^ k1 ^ 0xEE,
         0x6C7967656E657261 ^ k0, 0x7465646279746573 ^ k1]
    tail = len(msg) % 8
    blocks = [msg[i:i + 8] for i in range(0, len(msg) - tail, 8)]
    blocks.append(msg[len(msg) - tail:] + bytes(7 - tail) + bytes([len(msg) & 0xFF]))
    for b in blocks:
        m = int.from_bytes(b, "little")
        v[3] ^= m
        v = rounds(v, 2)
        v[0] ^= m
    v[2] ^= 0xEE
    v = rounds(v, 4)
    out = (v[0] ^ v[1] ^ v[2] ^ v[3]).to_bytes(8, "little")
    v[1] ^= 0xDD
    v = rounds(v, 4)
    return out + (v[0] ^ v[1] ^ v[2] ^ v[3]).to_bytes(8, "little")


def cmd_digest(args):
    version = args.key[3:4] if args.key.startswith("tg_") else ""
    with open(args.secret_file) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2 and parts[0] == version:
                print(siphash128(bytes.fromhex(parts[1]), args.key.encode()).hex())
                return 0
    print(f"digest: no secret of version {version!r} in {args.secret_file}", file=sys.stderr)
    return 1


def cmd_newkey(args):
    body = "".join(secrets.choice(BASE62) for _ in range(39))
    print(f"tg_{args.version}{body}")
    return 0


def flag_names(flags):
    if isinstance(flags, dict):
        names = [k for k in ("unanswered", "summary", "unattributed") if flags.get(k)]
    elif isinstance(flags, list):
        names = [str(x) for x in flags]
    else:
        names = [str(flags)] if flags else []
    return ",".join(names) or "-"


def read_events(path):
    """Yields (line number, parsed object or None, raw line)."""
    try:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield n, json.loads(line), line
                except json.JSONDecodeError:
                    yield n, None, line
    except FileNotFoundError:
        return


def check_event(ev):
    problems = []
    if not isinstance(ev, dict):
        return ["not a JSON object"]
    for attr in ("specversion", "id", "source", "type", "time", "subject", "data"):
        if attr not in ev:
            problems.append(f"missing CloudEvents attribute '{attr}'")
    if ev.get("specversion") != "1.0":
        problems.append(f"specversion {ev.get('specversion')!r}, expected '1.0'")
    if ev.get("type") != "tollgate.request":
        problems.append(f"type {ev.get('type')!r}, expected 'tollgate.request'")
    data = ev.get("data")
    if not isinstance(data, dict):
        return problems + ["data is not an object"]
    for field in EVENT_FIELDS:
        if field not in data:
            problems.append(f"data.{field} missing")
    for field in ID_FIELDS:
        if field in data and not isinstance(data[field], str):
            problems.append(f"data.{field} is {type(data[field]).__name__}, expected a decimal string")
    if "subject" in ev and "consumer_id" in data and ev["subject"] != data["consumer_id"]:
        problems.append(f"subject {ev['subject']!r} != data.consumer_id {data['consumer_id']!r}")
    return problems


def cmd_events(args):
    if args.check:
        for n, ev, raw in read_events(args.file):
            if ev is None:
                print(f"line {n}: not JSON: {raw.strip()[:200]}")
                continue
            for p in check_event(ev):
                print(f"line {n}: {p}")
        return 0
    for _, ev, _ in read_events(args.file):
        if not isinstance(ev, dict) or not isinstance(ev.get("data"), dict):
            continue
        data = dict(ev["data"])
        if args.key_id is not None and str(data.get("key_id")) != args.key_id:
            continue
        if args.consumer_id is not None and str(data.get("consumer_id")) != args.consumer_id:
            continue
        data["flags"] = flag_names(data.get("flags"))
        data["id"] = ev.get("id")
        data["time"] = ev.get("time")
        try:
            print(args.format.format(**data))
        except (KeyError, IndexError, ValueError) as e:
            print(f"format-error:{e}")
    return 0


def cmd_counter(args):
    try:
        with open(args.file) as f:
            rows = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        print(f"counter: cannot read {args.file}: {e}", file=sys.stderr)
        return 1
    if isinstance(rows, dict):  # tolerate {"counters": [...]}
        rows = rows.get("counters", [])
    for row in rows:
        if str(row.get("consumer_id")) == args.consumer and str(row.get("api_id")) == args.api:
            paths = [args.field.split(".")]
            if "." not in args.field:  # status classes may be nested: "status": {"2xx": n}
                paths.append(["status", args.field])
            for path in paths:
                value = row
                for part in path:
                    value = value.get(part) if isinstance(value, dict) else None
                if value is not None:
                    print(value)
                    return 0
            print(0)
            return 0
    print(0)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def connecting(name):
        """A subcommand that talks to --addr:--port, within --timeout."""
        c = sub.add_parser(name)
        c.add_argument("--addr", required=True)
        c.add_argument("--port", type=int, required=True)
        c.add_argument("--timeout", type=float, default=3.0)
        return c

    p = connecting("flood")
    p.add_argument("--path", default="/v1/ok")
    p.add_argument("--key", default="")
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--header", action="append", default=[], help="extra 'Name: value' line")
    p.set_defaults(fn=cmd_flood)

    p = connecting("rate")
    p.add_argument("--path", default="/v1/ok")
    p.add_argument("--key", default="")
    p.add_argument("--keys-file", help="one key a line, used in turn (instead of --key)")
    p.add_argument("--rps", type=float, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--warmup", type=float, default=0.0,
                   help="seconds at the same rate first, reported apart (warmup_by_status)")
    p.add_argument("--threads", type=int, default=16)
    p.set_defaults(fn=cmd_rate)

    p = connecting("pipeline")
    p.add_argument("--key", default="")
    p.add_argument("--hold", type=float, default=0.0,
                   help="seconds to keep the connection open after the answers")
    p.add_argument("--gap", type=float, default=0.0,
                   help="send the requests one by one, this many seconds apart "
                        "(0: all in one write)")
    p.add_argument("--keyless", type=int, default=0,
                   help="send the first this many requests without the key")
    p.add_argument("--chunked-first", action="store_true",
                   help="the first request is a POST with an empty chunked body")
    p.add_argument("--late", type=int, default=0,
                   help="send the last this many requests once the first answer is read")
    p.add_argument("paths", nargs="+", help='"/path" (a GET) or "METHOD /path"')
    p.set_defaults(fn=cmd_pipeline)

    p = connecting("upload")
    p.add_argument("--key", required=True)
    p.add_argument("--lookalike-key", required=True)
    p.add_argument("--chunked", action="store_true")
    p.add_argument("--path", default="/v1/created", help="the POST's path")
    p.add_argument("--then", default="/v1/ok")
    p.set_defaults(fn=cmd_upload)

    p = connecting("pieces")
    p.add_argument("--gap", type=float, default=0.05)
    p.add_argument("--long-len", type=int, default=2000)
    p.add_argument("pieces", nargs="+")
    p.set_defaults(fn=cmd_pieces)

    p = connecting("phantom")
    p.add_argument("--iface", required=True, help="the client's interface, for the frame")
    p.add_argument("--fake-body", type=int, default=0,
                   help="the dropped request is a POST whose body is this long")
    p.add_argument("--then", default="", help="a keyless GET of this path behind it")
    p.add_argument("--path", default="/v1/ok")
    p.add_argument("--key", default="")
    p.set_defaults(fn=cmd_phantom)

    p = connecting("gapped")
    p.add_argument("--iface", required=True, help="the client's interface, for the frame")
    p.add_argument("--path", default="/v1/created")
    p.add_argument("--key", default="")
    p.set_defaults(fn=cmd_gapped)

    p = connecting("duplicate")
    p.add_argument("--iface", required=True, help="the client's interface, for the frame")
    p.add_argument("--path", default="/v1/ok")
    p.add_argument("--key", required=True)
    p.add_argument("--longer", type=int, default=0, help="the copy runs this many bytes past")
    p.set_defaults(fn=cmd_duplicate)

    p = connecting("lostbody")
    p.add_argument("--key", required=True)
    p.add_argument("--path", default="/v1/created")
    p.set_defaults(fn=cmd_lostbody)

    p = connecting("smuggle")
    p.add_argument("--key", required=True, help="the smuggled GET's key")
    p.add_argument("--post-key", default="", help="the chunked POST's key (none: keyless)")
    p.add_argument("--path", default="/health/upload")
    p.add_argument("--layout", choices=("own", "one", "split", "trailer"), default="own")
    p.set_defaults(fn=cmd_smuggle)

    p = sub.add_parser("newkey")
    p.add_argument("--version", type=int, default=1, choices=range(1, 10))
    p.set_defaults(fn=cmd_newkey)

    p = sub.add_parser("digest")
    p.add_argument("--secret-file", required=True)
    p.add_argument("key")
    p.set_defaults(fn=cmd_digest)

    p = sub.add_parser("events")
    p.add_argument("file")
    p.add_argument("--key-id")
    p.add_argument("--consumer-id")
    p.add_argument("--format", default="{status} {latency_us} {flags}")
    p.add_argument("--check", action="store_true")
    p.set_defaults(fn=cmd_events)

    p = sub.add_parser("counter")
    p.add_argument("file")
    p.add_argument("consumer")
    p.add_argument("api")
    p.add_argument("field")
    p.set_defaults(fn=cmd_counter)

    args = ap.parse_args()
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
