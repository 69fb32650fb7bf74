#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""bench-api-paths.py - the request paths of scripts/bench-api.sh.

Draws the consumer of every request by Zipf over the ranks (rank r read with
weight 1 / r^s: the heavy consumers' dashboards are the busy ones), and
writes one file of paths per route, DIR/paths-ROUTE.txt, plus DIR/paths-mix.txt
with the routes interleaved at the weights of MIX below. Consumer of rank r
is id 100000 + r (scripts/bench-api-data.sql).

  bench-api-paths.py --dir DIR --consumers N --minute-consumers M
                     --invoices FILE --now UNIX [--count N] [--zipf S] [--seed N]

--invoices: lines "CONSUMER_ID INVOICE_ID" (the invoices to read).
"""
import argparse
import bisect
import itertools
import random
import sys
import time

# route -> share of the mixed run (a dashboard session: charts first)
MIX = {
    "usage_hour_7d": 0.25,
    "usage_day_30d": 0.15,
    "usage_minute_1d": 0.10,
    "endpoints_7d": 0.20,
    "upcoming_invoice": 0.10,
    "invoice": 0.10,
    "invoice_list": 0.10,
}


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--consumers", type=int, required=True)
    ap.add_argument("--minute-consumers", type=int, required=True)
    ap.add_argument("--invoices", required=True)
    ap.add_argument("--now", type=int, required=True)
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--zipf", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)

    def sampler(n):
        cum = list(itertools.accumulate(1.0 / r ** a.zipf for r in range(1, n + 1)))
        return lambda: bisect.bisect_left(cum, rng.random() * cum[-1]) + 1

    any_rank = sampler(a.consumers)
    minute_rank = sampler(min(a.minute_consumers, a.consumers))
    invoices = {}
    with open(a.invoices) as f:
        for line in f:
            cid, iid = line.split()
            invoices.setdefault(int(cid), []).append(iid)
    if not invoices:
        sys.exit("bench-api-paths.py: no invoices in " + a.invoices)

    to = a.now - a.now % 60
    week, day, month = rfc3339(to - 7 * 86400), rfc3339(to - 86400), rfc3339(to - 30 * 86400)
    end = rfc3339(to)

    def consumer(rank):
        return 100000 + rank

    def invoice_path():
        while True:  # a consumer without an invoice (none in this dataset) is skipped
            ids = invoices.get(consumer(any_rank()))
            if ids:
                return f"/v1/invoices/{rng.choice(ids)}"

    routes = {
        "usage_hour_7d": lambda: f"/v1/consumers/{consumer(any_rank())}/usage"
        f"?from={week}&to={end}&granularity=hour",
        "usage_day_30d": lambda: f"/v1/consumers/{consumer(any_rank())}/usage"
        f"?from={month}&to={end}&granularity=day",
        "usage_minute_1d": lambda: f"/v1/consumers/{consumer(minute_rank())}/usage"
        f"?from={day}&to={end}&granularity=minute",
        "endpoints_7d": lambda: f"/v1/consumers/{consumer(any_rank())}/usage/endpoints"
        f"?from={week}&to={end}",
        "upcoming_invoice": lambda: f"/v1/consumers/{consumer(any_rank())}/invoices/upcoming",
        "invoice": invoice_path,
        "invoice_list": lambda: f"/v1/consumers/{consumer(any_rank())}/invoices",
    }
    for name, draw in routes.items():
        with open(f"{a.dir}/paths-{name}.txt", "w") as f:
            for _ in range(a.count):
                f.write(draw() + "\n")
    names = list(MIX)
    weights = [MIX[n] for n in names]
    with open(f"{a.dir}/paths-mix.txt", "w") as f:
        for _ in range(a.count):
            f.write(routes[rng.choices(names, weights)[0]]() + "\n")


if __name__ == "__main__":
    main()
