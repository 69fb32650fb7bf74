#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""mkmmdb.py - write a small MaxMind DB (format 2.0) country database.

For tests and the demo, which must not depend on a downloaded GeoLite2
database: reads lines "CIDR COUNTRY" (e.g. "10.77.0.0/16 DE"; IPv4 or IPv6;
'#' starts a comment) and writes a database that libmaxminddb and mmdblookup
read like GeoLite2-Country.mmdb, as far as the country goes: every network's
data is the map {"country": {"iso_code": "DE"}}.

The layout is MaxMind's (https://maxmind.github.io/MaxMind-DB/): an IPv6
search tree (ip_version 6) with the IPv4 space at ::/96, also reachable
through the IPv4-mapped prefix ::ffff:0:0/96, as MaxMind's own databases are;
the 16-byte separator; the data section; the metadata after
"\\xab\\xcd\\xefMaxMind.com". A more specific network wins over a wider one
that holds it, whatever the order of the lines.

Usage: mkmmdb.py [--input FILE] [--record-size 24|28|32] [--build-epoch N]
                 [--description TEXT] OUTPUT
Input defaults to stdin; build_epoch to $SOURCE_DATE_EPOCH or now.
Only the Python 3 standard library.
"""

import argparse
import ipaddress
import os
import re
import struct
import sys
import time

METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"
DATA_SEPARATOR = 16  # zero bytes between the search tree and the data section
DATABASE_TYPE = "tollgate-test-country"

# data field types (MaxMind DB spec, "Output Data Section")
T_UTF8, T_UINT16, T_UINT32, T_MAP, T_UINT64, T_ARRAY = 2, 5, 6, 7, 9, 11


def encode_control(type_, size):
    """The control byte(s) of a field of TYPE holding SIZE bytes or entries."""
    if size < 29:
        size_bits, extra = size, b""
    elif size < 29 + 256:
        size_bits, extra = 29, bytes([size - 29])
    elif size < 285 + 65536:
        size_bits, extra = 30, struct.pack(">H", size - 285)
    elif size < 65821 + (1 << 24):
        size_bits, extra = 31, struct.pack(">I", size - 65821)[1:]
    else:
        raise ValueError("field too large")
    if type_ <= 7:
        return bytes([(type_ << 5) | size_bits]) + extra
    return bytes([size_bits, type_ - 7]) + extra  # extended type


def encode(value, type_=None):
    """One value in the MaxMind DB encoding: str, dict (keys str), list, or an
    unsigned int whose TYPE is given (T_UINT16, T_UINT32, T_UINT64)."""
    if isinstance(value, str):
        b = value.encode("utf-8")
        return encode_control(T_UTF8, len(b)) + b
    if isinstance(value, dict):
        out = encode_control(T_MAP, len(value))
        for k, v in value.items():
            out += encode(k) + (encode(*v) if isinstance(v, tuple) else encode(v))
        return out
    if isinstance(value, list):
        out = encode_control(T_ARRAY, len(value))
        for v in value:
            out += encode(v)
        return out
    if isinstance(value, int) and type_ in (T_UINT16, T_UINT32, T_UINT64):
        bits = {T_UINT16: 16, T_UINT32: 32, T_UINT64: 64}[type_]
        if not 0 <= value < (1 << bits):
            raise ValueError(f"{value} does not fit in {bits} bits")
        b = value.to_bytes((value.bit_length() + 7) // 8, "big")  # 0: no bytes
        return encode_control(type_, len(b)) + b
    raise TypeError(f"cannot encode {value!r}")


class Node:
    """A node of the search tree; each record is a Node, a country (str) or
    None (no data)."""

    __slots__ = ("records", "index")

    def __init__(self, fill=None):
        self.records = [fill, fill]
        self.index = -1


def insert(root, bits, prefix_len, country):
    """Put COUNTRY on the network whose first PREFIX_LEN of 128 BITS are set."""
    node = root
    for depth in range(prefix_len):
        bit = (bits >> (127 - depth)) & 1
        if depth == prefix_len - 1:
            node.records[bit] = country
            return
        child = node.records[bit]
        if not isinstance(child, Node):
            # a wider network (or nothing) here: split it, both halves keep it
            child = Node(child)
            node.records[bit] = child
        node = child


def parse(lines, source):
    """[(network, country)] from "CIDR COUNTRY" lines; errors name the line."""
    nets = []
    for n, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise SystemExit(f"{source}:{n}: expected 'CIDR COUNTRY', got '{line}'")
        try:
            net = ipaddress.ip_network(parts[0], strict=True)
        except ValueError as e:
            raise SystemExit(f"{source}:{n}: {e}")
        if not re.fullmatch(r"[A-Z]{2}", parts[1]):
            raise SystemExit(f"{source}:{n}: '{parts[1]}' is not a two-letter country code (A-Z)")
        if net.prefixlen == 0:
            raise SystemExit(f"{source}:{n}: a /0 network would be the whole tree; use /1 halves")
        nets.append((net, parts[1]))
    return nets


def build_tree(nets):
    """The root of the IPv6 tree: IPv4 networks at ::/96, wider networks first
    so that more specific ones split them."""
    root = Node()
    placed = [(int(net.network_address), net.prefixlen + (96 if net.version == 4 else 0), country)
              for net, country in nets]
    for bits, plen, country in sorted(placed, key=lambda x: x[1]):
        insert(root, bits, plen, country)
    if any(net.version == 4 for net, _ in nets):
        # ::ffff:0:0/96 (IPv4-mapped) leads to the same IPv4 subtree as ::/96
        ipv4_root = root
        for _ in range(96):
            ipv4_root = ipv4_root.records[0]
            if not isinstance(ipv4_root, Node):
                break
        mapped = int(ipaddress.IPv6Address("::ffff:0:0"))
        node = root
        for depth in range(96):
            bit = (mapped >> (127 - depth)) & 1
            if depth == 95:
                if node.records[bit] is None:
                    node.records[bit] = ipv4_root
                break
            child = node.records[bit]
            if not isinstance(child, Node):
                if child is not None:
                    break  # an IPv6 network of the input holds ::ffff:0:0/96: it wins
                child = Node()
                node.records[bit] = child
            node = child
    return root


def number_nodes(root):
    """Nodes in breadth-first order, each numbered once (the IPv4-mapped alias
    makes the tree a DAG)."""
    order = [root]
    root.index = 0
    for node in order:  # grows while it is walked: breadth first
        for r in node.records:
            if isinstance(r, Node) and r.index < 0:
                r.index = len(order)
                order.append(r)
    return order


def write_db(nets, out, record_size=None, build_epoch=None, description=None):
    root = build_tree(nets)
    nodes = number_nodes(root)
    node_count = len(nodes)

    # data section: one record per country, shared by its networks
    data, offsets = b"", {}
    for country in sorted({c for _, c in nets}):
        offsets[country] = len(data)
        data += encode({"country": {"iso_code": country}})

    def record_value(r):
        if isinstance(r, Node):
            return r.index
        if r is None:
            return node_count  # "no data"
        return node_count + DATA_SEPARATOR + offsets[r]

    largest = node_count + DATA_SEPARATOR + len(data)
    if record_size is None:
        record_size = next(s for s in (24, 28, 32) if largest < (1 << s))
    if largest >= (1 << record_size):
        raise SystemExit(f"record_size {record_size} cannot address {largest}")

    tree = bytearray()
    for node in nodes:
        left, right = (record_value(r) for r in node.records)
        if record_size == 24:
            tree += left.to_bytes(3, "big") + right.to_bytes(3, "big")
        elif record_size == 28:
            tree += (left & 0xFFFFFF).to_bytes(3, "big")
            tree.append(((left >> 24) << 4) | (right >> 24))
            tree += (right & 0xFFFFFF).to_bytes(3, "big")
        else:
            tree += left.to_bytes(4, "big") + right.to_bytes(4, "big")

    if build_epoch is None:
        build_epoch = int(os.environ.get("SOURCE_DATE_EPOCH", time.time()))
    metadata = {
        "binary_format_major_version": (2, T_UINT16),
        "binary_format_minor_version": (0, T_UINT16),
        "build_epoch": (int(build_epoch), T_UINT64),
        "database_type": DATABASE_TYPE,
        "description": {"en": description or "tollgate test country database (scripts/mkmmdb.py)"},
        "ip_version": (6, T_UINT16),
        "languages": ["en"],
        "node_count": (node_count, T_UINT32),
        "record_size": (record_size, T_UINT16),
    }
    out.write(bytes(tree) + bytes(DATA_SEPARATOR) + data + METADATA_MARKER + encode(metadata))
    return node_count, record_size


def main():
    ap = argparse.ArgumentParser(description="Write a MaxMind DB country database from "
                                 "'CIDR COUNTRY' lines.")
    ap.add_argument("output", help="the .mmdb file to write")
    ap.add_argument("--input", "-i", help="the lines (default: stdin)")
    ap.add_argument("--record-size", type=int, choices=(24, 28, 32),
                    help="bits per record (default: the smallest that fits)")
    ap.add_argument("--build-epoch", type=int, help="default: $SOURCE_DATE_EPOCH or now")
    ap.add_argument("--description", help="metadata description (en)")
    args = ap.parse_args()

    if args.input:
        with open(args.input, encoding="utf-8") as f:
            nets = parse(f, args.input)
    else:
        nets = parse(sys.stdin, "<stdin>")
    if not nets:
        raise SystemExit("no networks in the input")
    tmp = args.output + ".tmp"
    with open(tmp, "wb") as f:
        node_count, record_size = write_db(nets, f, args.record_size, args.build_epoch,
                                           args.description)
    os.replace(tmp, args.output)  # a reader never sees half a database
    print(f"{args.output}: {len(nets)} networks, {node_count} nodes, record_size {record_size}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
