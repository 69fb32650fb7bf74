#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""mkkeys.py - the API keys of `make bench` (scripts/bench-peers.sh).

  mkkeys.py --secret-file F --out DIR SET=COUNT:FIRST_ID:PLAN_ID...

For each SET, COUNT fresh keys (tg_1 + 39 base62 characters, the format of
tgclient.py newkey) with key ids and consumer ids FIRST_ID, FIRST_ID + 1, ...
(one consumer per key, so every key has its own bucket) on PLAN_ID. Writes:

  DIR/SET.keys     the raw keys, one per line (wrk's keys.lua reads them)
  DIR/SET.tgkeys   tollgate keys_file lines: digest key_id consumer_id plan_id
  DIR/SET.redis    the same as Redis commands for `redis-cli --pipe` (RESP):
                   HSET apikey:DIGEST key_id .. consumer_id .. plan_id ..
                   is_active 1 suspended 0

The digest is SipHash-2-4-128 under the secret of version 1 (tgclient.py's
independent implementation); bench-peers.sh checks one against tollgatectl.
"""
import argparse
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "tests", "integration"))
from tgclient import siphash128  # noqa: E402

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def resp(*args):
    out = [f"*{len(args)}\r\n"]
    for a in args:
        a = str(a)
        out.append(f"${len(a.encode())}\r\n{a}\r\n")
    return "".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--secret-file", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("sets", nargs="+", metavar="SET=COUNT:FIRST_ID:PLAN_ID")
    args = ap.parse_args()

    secret = None
    with open(args.secret_file) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2 and parts[0] == "1":
                secret = bytes.fromhex(parts[1])
    if secret is None:
        print(f"mkkeys: no version-1 secret in {args.secret_file}", file=sys.stderr)
        return 1
    rng = random.SystemRandom()
    for spec in args.sets:
        name, _, nums = spec.partition("=")
        count, first, plan = (int(x) for x in nums.split(":"))
        with open(os.path.join(args.out, name + ".keys"), "w") as raw, \
                open(os.path.join(args.out, name + ".tgkeys"), "w") as tg, \
                open(os.path.join(args.out, name + ".redis"), "w") as red:
            for i in range(count):
                key = "tg_1" + "".join(rng.choices(BASE62, k=39))
                digest = siphash128(secret, key.encode()).hex()
                kid = first + i
                raw.write(key + "\n")
                tg.write(f"{digest} {kid} {kid} {plan}\n")
                red.write(resp("HSET", "apikey:" + digest, "key_id", kid, "consumer_id", kid,
                               "plan_id", plan, "is_active", 1, "suspended", 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
