#!/usr/bin/env bash
# test-api-analytics.sh - the dashboard's analytics reads (dashboard-api/
# analytics.h) against a real Postgres and Redis, through
# build/tests/analytics-driver (no HTTP):
#   - a python helper makes raw usage events (several consumers, APIs,
#     endpoints, countries, statuses, refused, unanswered, summaries, random
#     latencies), rolls them up as billing/usage.c does (minute, hour and day
#     rows, histograms with lib/histogram.h's bucket formula) and computes
#     every expected figure from the raw events on its own;
#   - usage series at minute, hour and day granularity: every point's counts,
#     empty buckets filled with zeros, totals, p50/p99 equal to the histogram
#     model and within 2 % of the true nearest-rank percentiles; per-API
#     usage; ranges rounded out to the step; -E2BIG, -ERANGE, -EINVAL, -EDOM;
#   - top endpoints (order, error rates, percentiles) and geo over a range
#     mixing day rows and hour rows at its edges;
#   - SLA windows (uptime, failures, p99, targets met or not) and the alerts
#     overlapping the range; consumers still on a deprecated API;
#   - realtime counts from Redis, and -EIO with Redis down;
#   - the upcoming invoice: the seed plan's 12,345 units are USD 10.17 to the
#     cent, and every consumer's upcoming invoice has the lines and total that
#     `tollgate-billing invoice` then writes (adjustments included), for a
#     fixed month and for the current one.
# Run: BUILD=/abs/build bash tests/integration/test-api-analytics.sh (as root).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tg_init analytics
tg_need psql redis-server redis-cli
DRIVER="$BUILD/tests/analytics-driver"
[ -x "$DRIVER" ] || tg_fatal "$DRIVER not built (make build/tests/analytics-driver)"
[ -x "$BUILD/tollgate-billing" ] || tg_fatal "$BUILD/tollgate-billing not built"
tg_postgres_up
RPORT=$(tg_free_port)
tg_spawn "$TG_DIR/redis.log" redis-server --port "$RPORT" --bind 127.0.0.1 --save '' \
	--appendonly no --dir "$TG_DIR"
REDIS_PID=$TG_SPAWNED
for ((i = 0; i < 50; i++)); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

cat >"$TG_DIR/tollgate.conf" <<EOF
[postgres]
dsn = $TG_PG_DSN
[redis]
url = redis://127.0.0.1:$RPORT
EOF
billing() { "$BUILD/tollgate-billing" --config "$TG_DIR/tollgate.conf" "$@"; }
billing migrate >"$TG_DIR/billing-migrate.log" 2>&1 || tg_fatal "migrate failed"

# --- the raw events, their rollups and the expected figures ------------------
cat >"$TG_DIR/analytics.py" <<'PY'
"""Raw usage events, rolled up as billing/usage.c does; expected figures."""
import datetime as dt
import json
import math
import random
import sys


def ts(s):
    return int(dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")
               .replace(tzinfo=dt.timezone.utc).timestamp())


def iso(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


NOW = ts("2026-10-15T12:00:00Z")
MINUTE_FROM = ts("2026-10-01T00:00:00Z")  # minute rows kept from here (14 days)
METHODS = {0: "", 1: "GET", 2: "POST", 5: "DELETE"}
ENDPOINTS = {1: ["/v1/orders", "/v1/orders/{id}", "/v1/orders/{id}/items"],
             2: ["/v0/things"], 3: ["/v1/search", ""]}
PLAN_OF = {100: 10, 101: 11, 102: 10, 0: 0}
SEED_UNITS = 12345  # consumer 100's billable units in October


# lib/histogram.h: 64 exact buckets, then 32 per power of two
def hindex(v):
    if v < 64:
        return v
    e = v.bit_length() - 1
    return 64 + (e - 6) * 32 + ((v >> (e - 5)) & 31)


def hvalue(i):
    if i < 64:
        return i
    w = (i - 64) // 32 + 1
    low = (32 + (i - 64) % 32) << w
    return low + ((1 << w) - 1) // 2


def rank(q, total):  # nearest rank, q as the decimal it is written as
    return (total + 1) // 2 if q == "0.5" else (99 * total + 99) // 100


def percentiles(samples):
    """(model p50, model p99, true p50, true p99) in us, None if no sample."""
    if not samples:
        return None
    samples = sorted(samples)
    hist = {}
    for v in samples:
        hist[hindex(v)] = hist.get(hindex(v), 0) + 1
    out = []
    for q in ("0.5", "0.99"):
        r, seen = rank(q, len(samples)), 0
        for i in sorted(hist):
            seen += hist[i]
            if seen >= r:
                out.append(hvalue(i))
                break
    for q in ("0.5", "0.99"):
        out.append(samples[rank(q, len(samples)) - 1])
    return out


def event(t, c, api, status=200, verdict=0, unanswered=False, summary=False, count=1,
          latency=None, method=None, endpoint=None, country=None, rnd=random):
    if method is None:
        method = rnd.choice([1, 1, 1, 2, 5])
    if endpoint is None:
        endpoint = rnd.choice(ENDPOINTS[api])
    if endpoint == "":
        method = 0
    if country is None:
        country = rnd.choice(["US", "US", "US", "DE", "DE", "JP", "BR", "--"])
    if latency is None:
        latency = (rnd.randint(5, 63) if rnd.random() < 0.05
                   else int(min(rnd.lognormvariate(math.log(20000), 0.8), 2_000_000)))
    answered = verdict == 0 and 100 <= status <= 599 and not unanswered and not summary
    return dict(t=t, c=c, plan=PLAN_OF[c], api=api, method=method, endpoint=endpoint,
                country=country, status=status if answered else 0, verdict=verdict,
                unanswered=unanswered, summary=summary, count=count,
                latency=latency if answered else 0,
                bin=rnd.randint(100, 2000) if not summary else 0,
                bout=rnd.randint(100, 60000) if answered else 0)


def generate():
    rnd = random.Random(20261015)
    evs = []
    start, end = ts("2026-09-25T00:00:00Z"), NOW
    dense_from, dense_to = ts("2026-10-15T09:00:00Z"), ts("2026-10-15T11:00:00Z")
    while len(evs) < 6000:
        t = rnd.randrange(start, end)
        if dense_from <= t < dense_to:
            continue  # the SLA and minute checks own this window
        c = rnd.choice([100, 100, 101, 102])
        api = rnd.choice([1, 1, 2, 3])
        x = rnd.random()
        if x < 0.80:
            e = event(t, c, api, rnd.choice([200, 200, 201, 204, 301]), rnd=rnd)
        elif x < 0.87:
            e = event(t, c, api, rnd.choice([400, 404, 429]), rnd=rnd)
        elif x < 0.90:
            e = event(t, c, api, rnd.choice([500, 503]), rnd=rnd)
        elif x < 0.93:
            e = event(t, c, api, unanswered=True, rnd=rnd)
        elif x < 0.97:
            e = event(t, c, api, verdict=6, rnd=rnd)  # over the limit: refused
        elif x < 0.98:
            e = event(t, 0, api, verdict=1, rnd=rnd)  # no key: refused, consumer 0
        else:
            e = event(t, c, api, summary=True, count=rnd.randint(5, 50), rnd=rnd)
        evs.append(e)
    # 09:00-11:00 on the 15th: API 1 minute by minute, with quiet minutes, a
    # failure burst (10:00-10:15) and a latency spike (10:30-10:35)
    for m in range(120):
        t0 = dense_from + 60 * m
        if 20 <= m < 30 or m in (47, 95):
            continue  # gaps
        for _ in range(rnd.randint(4, 8)):
            t = t0 + rnd.randrange(60)
            c = rnd.choice([100, 100, 101])
            lat = rnd.randint(5000, 150000)
            status = 200
            if 60 <= m < 75 and rnd.random() < 0.3:
                status = 503
            if 90 <= m < 95:
                lat = rnd.randint(400000, 800000)
            evs.append(event(t, c, 1, status, latency=lat, rnd=rnd))
        if m % 10 == 3:
            evs.append(event(t0 + 5, 100, 1, verdict=6, rnd=rnd))
            evs.append(event(t0 + 7, 101, 3, unanswered=True, rnd=rnd))
    # consumer 100's October billable units up to SEED_UNITS with one summary
    units = sum(billable(e) for e in evs
                if e["c"] == 100 and ts("2026-10-01T00:00:00Z") <= e["t"] < ts("2026-11-01T00:00:00Z"))
    assert units < SEED_UNITS, units
    evs.append(event(ts("2026-10-02T03:04:05Z"), 100, 3, summary=True, count=SEED_UNITS - units,
                     endpoint="", country="--", rnd=rnd))
    evs.sort(key=lambda e: e["t"])
    return evs


def billable(e):  # DESIGN §6; plans 10 and 11 do not bill server errors
    if e["verdict"] != 0:
        return 0
    sc = e["status"] // 100
    return e["count"] if 1 <= sc <= 4 or e["summary"] else 0


def rollups(evs):
    tiers = {"rollup_minute": {}, "rollup_hour": {}, "rollup_day": {}}
    for e in evs:
        sc = e["status"] // 100
        base = (e["c"], e["api"], e["plan"], sc, e["verdict"])
        dims = (e["method"], e["endpoint"], e["country"])
        keys = []
        if e["t"] >= MINUTE_FROM:
            keys.append(("rollup_minute", (e["t"] // 60 * 60,) + base))
        keys.append(("rollup_hour", (e["t"] // 3600 * 3600,) + base + dims))
        keys.append(("rollup_day", (e["t"] // 86400 * 86400,) + base + dims))
        for table, k in keys:
            r = tiers[table].setdefault(k, dict(requests=0, summarized=0, unanswered=0,
                                                 bin=0, bout=0, lat=0, hist={}))
            r["requests"] += e["count"]
            r["summarized"] += e["count"] if e["summary"] else 0
            r["unanswered"] += e["count"] if e["unanswered"] else 0
            r["bin"] += e["bin"]
            r["bout"] += e["bout"]
            if sc and not e["summary"]:
                r["lat"] += e["latency"] * e["count"]
                i = hindex(e["latency"])
                r["hist"][i] = r["hist"].get(i, 0) + e["count"]
    out = ["CREATE TABLE rollup_minute_p2026 PARTITION OF rollup_minute FOR VALUES FROM"
           " ('2026-01-01 00:00:00+00') TO ('2027-01-01 00:00:00+00');",
           "CREATE TABLE rollup_hour_p2026 PARTITION OF rollup_hour FOR VALUES FROM"
           " ('2026-01-01 00:00:00+00') TO ('2027-01-01 00:00:00+00');",
           "CREATE TABLE rollup_day_p2026 PARTITION OF rollup_day FOR VALUES FROM"
           " ('2026-01-01 00:00:00+00') TO ('2027-01-01 00:00:00+00');"]
    for table, rows in tiers.items():
        vals = []
        for k, r in sorted(rows.items()):
            hist = "{" + ",".join("%d,%d" % (i, n) for i, n in sorted(r["hist"].items())) + "}"
            dims = ""
            if table != "rollup_minute":
                dims = ", %d, '%s', '%s'" % (k[6], k[7], k[8])
            vals.append("(to_timestamp(%d), %d, %d, %d, %d, %d%s, %d, %d, %d, 0, %d, %d, %d, '%s')"
                        % (k[0], k[1], k[3], k[2], k[4], k[5], dims, r["requests"],
                           r["summarized"], r["unanswered"], r["bin"], r["bout"], r["lat"], hist))
        cols = ("ts, consumer_id, plan_id, api_id, status_class, verdict"
                + (", method, endpoint, country" if table != "rollup_minute" else "")
                + ", requests, summarized, unanswered, unattributed, bytes_in, bytes_out,"
                  " latency_sum_us, hist")
        for i in range(0, len(vals), 500):
            out.append("INSERT INTO %s (%s) VALUES\n%s;" % (table, cols, ",\n".join(vals[i:i + 500])))
    # the minute totals, as billing adds them with its minute rows
    out.append("SELECT tg_minute_totals_rebuild('-infinity', 'infinity');")
    return "\n".join(out) + "\n"


# --- expected figures, from the raw events -----------------------------------

def figures(evs):
    f = dict(requests=0, refused=0, errors_4xx=0, errors_5xx=0, unanswered=0,
             bytes_in=0, bytes_out=0, answered=0, good=0, lat=[])
    for e in evs:
        f["requests"] += e["count"]
        f["bytes_in"] += e["bin"]
        f["bytes_out"] += e["bout"]
        if e["verdict"]:
            f["refused"] += e["count"]
            continue
        sc = e["status"] // 100
        if e["unanswered"]:
            f["unanswered"] += e["count"]
        if sc and not e["summary"]:
            f["answered"] += e["count"]
            f["good"] += e["count"] if sc <= 4 else 0
            f["errors_4xx"] += e["count"] if sc == 4 else 0
            f["errors_5xx"] += e["count"] if sc == 5 else 0
            f["lat"] += [e["latency"]] * e["count"]
    return f


def select(evs, c, api, t0, t1):
    return [e for e in evs if (not c or e["c"] == c) and (not api or e["api"] == api)
            and t0 <= e["t"] < t1]


def round4(num, den):  # half up, 4 decimals, as the C code and Postgres round
    return ((num * 20000 + den) // (2 * den)) / 10000.0


class Mismatch(Exception):
    pass


def same(what, want, seen):
    if want != seen:
        raise Mismatch("%s: expected %r, seen %r" % (what, want, seen))


def check_ms(what, pct, idx, seen):
    """seen (ms) equals the histogram model and is within 2 % of the truth."""
    if pct is None:
        return same(what, None, seen)
    model, truth = pct[idx], pct[idx + 2]
    if seen is None or abs(seen - model / 1000.0) > 1e-9:
        raise Mismatch("%s: expected %r ms (bucket of %r us), seen %r" % (what, model / 1000.0, truth, seen))
    if abs(model - truth) > 0.02 * truth:
        raise Mismatch("%s: %r ms is more than 2 %% off the true %r us" % (what, seen, truth))


def check_usage(evs, got, a):
    step = {"minute": 60, "hour": 3600, "day": 86400}[a["granularity"]]
    t0, t1 = a["from"] // step * step, -(-a["to"] // step) * step
    same("points", (t1 - t0) // step, len(got))
    nonzero = gaps = 0
    for n, p in enumerate(got):
        t = t0 + n * step
        f = figures(select(evs, a["consumer"], a["api"], t, t + step))
        same("ts of point %d" % n, iso(t), p["ts"])
        for k in ("requests", "refused", "errors_4xx", "errors_5xx", "unanswered",
                  "bytes_in", "bytes_out"):
            same("%s at %s" % (k, iso(t)), f[k], p[k])
        pct = percentiles(f["lat"])
        check_ms("p50 at %s" % iso(t), pct, 0, p["p50_ms"])
        check_ms("p99 at %s" % iso(t), pct, 1, p["p99_ms"])
        nonzero += f["requests"] > 0
        gaps += f["requests"] == 0
    tot = figures(select(evs, a["consumer"], a["api"], t0, t1))
    same("total requests", tot["requests"], sum(p["requests"] for p in got))
    return "ok %d points, %d with traffic, %d empty, %d requests" % (len(got), nonzero, gaps, tot["requests"])


def dims_events(evs, a):
    t0, t1 = a["from"] // 3600 * 3600, -(-a["to"] // 3600) * 3600
    return select(evs, a["consumer"], a["api"], t0, t1)


def check_endpoints(evs, got, a):
    groups = {}
    for e in dims_events(evs, a):
        if e["endpoint"]:
            groups.setdefault((e["method"], e["endpoint"]), []).append(e)
    # by requests, then method code and endpoint
    want = sorted(groups.items(), key=lambda kv: (-sum(e["count"] for e in kv[1]), kv[0]))
    want = [((METHODS[k[0]], k[1]), es) for k, es in want[:a["limit"] or 10]]
    same("endpoints", [k for k, _ in want], [(g["method"], g["endpoint"]) for g in got])
    for (k, es), g in zip(want, got):
        f = figures(es)
        for n in ("requests", "refused", "errors_4xx", "errors_5xx", "unanswered"):
            same("%s of %s" % (n, k), f[n], g[n])
        outcomes = f["answered"] + f["unanswered"]
        rate = round4(f["errors_4xx"] + f["errors_5xx"] + f["unanswered"], outcomes) if outcomes else 0
        same("error_rate of %s" % (k,), rate, g["error_rate"])
        pct = percentiles(f["lat"])
        check_ms("p50 of %s" % (k,), pct, 0, g["p50_ms"])
        check_ms("p99 of %s" % (k,), pct, 1, g["p99_ms"])
    return "ok " + " > ".join("%s %s %d" % (g["method"], g["endpoint"], g["requests"]) for g in got)


def check_geo(evs, got, a):
    c = {}
    for e in dims_events(evs, a):
        c[e["country"]] = c.get(e["country"], 0) + e["count"]
    want = [{"country": k, "requests": v} for k, v in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))]
    same("geo", want, got)
    return "ok " + " ".join("%s:%d" % (g["country"], g["requests"]) for g in got)


def check_sla(evs, got, a):
    w, target_uptime, target_p99 = a["window"], 99.0, 200
    t0, t1 = a["from"] // w * w, -(-a["to"] // w) * w
    same("windows", (t1 - t0) // w, len(got["windows"]))
    breached = {"uptime": [], "latency": []}
    tot_req = tot_fail = 0
    for n, win in enumerate(got["windows"]):
        t = t0 + n * w
        f = figures(select(evs, 0, a["api"], t, t + w))
        req = f["answered"] + f["unanswered"]
        fail = req - f["good"]
        tot_req, tot_fail = tot_req + req, tot_fail + fail
        same("window_start", iso(t), win["window_start"])
        same("requests at %s" % iso(t), req, win["requests"])
        same("failures at %s" % iso(t), fail, win["failures"])
        same("uptime at %s" % iso(t), round4(f["good"] * 100, req) if req else None, win["uptime"])
        same("latency_requests at %s" % iso(t), len(f["lat"]), win["latency_requests"])
        pct = percentiles(f["lat"])
        check_ms("p99 at %s" % iso(t), pct, 1, win["p99_ms"])
        um = None if req < 20 else f["good"] * 100 >= target_uptime * req
        lm = None if len(f["lat"]) < 20 else pct[3] <= target_p99 * 1000
        same("uptime_met at %s" % iso(t), um, win["uptime_met"])
        same("latency_met at %s" % iso(t), lm, win["latency_met"])
        if um is False:
            breached["uptime"].append(iso(t)[11:16])
        if lm is False:
            breached["latency"].append(iso(t)[11:16])
    same("total requests", tot_req, got["requests"])
    same("total failures", tot_fail, got["failures"])
    pct = percentiles(figures(select(evs, 0, a["api"], t0, t1))["lat"])
    check_ms("total p99", pct, 1, got["p99_ms"])
    return "ok uptime breached %s; latency breached %s" % (",".join(breached["uptime"]),
                                                          ",".join(breached["latency"]))


def check_deprecation(evs, got, a):
    since, until = a["now"] - 7 * 86400, a["now"]
    per = {}
    for e in evs:
        if e["api"] == a["api"] and e["verdict"] == 0 and e["c"] and since <= e["t"] // 3600 * 3600 < until:
            p = per.setdefault(e["c"], [0, 0])
            p[0] += e["count"]
            p[1] = max(p[1], e["t"] // 60 * 60)
    want = [(str(c), n, iso(last)) for c, (n, last) in sorted(per.items(), key=lambda kv: (-kv[1][0], kv[0]))]
    same("consumers", want, [(x["consumer_id"], x["requests"], x["last_seen_at"]) for x in got["consumers"]])
    same("since", iso(since), got["since"])
    return "ok " + " ".join("%s:%d" % (x["consumer_id"], x["requests"]) for x in got["consumers"])


def main():
    if sys.argv[1] == "gen":
        evs = generate()
        with open(sys.argv[2] + "/events.json", "w") as f:
            json.dump(evs, f)
        with open(sys.argv[2] + "/rollups.sql", "w") as f:
            f.write(rollups(evs))
        print(len(evs))
        return
    # check KIND EVENTS OUTPUT key=value...
    kind, evs = sys.argv[2], json.load(open(sys.argv[3]))
    try:
        got = json.load(open(sys.argv[4]))
    except ValueError as e:
        print("no JSON: %s" % e)
        return
    a = dict(consumer=0, api=0, limit=0)
    for kv in sys.argv[5:]:
        k, v = kv.split("=", 1)
        a[k] = v if k == "granularity" else (ts(v) if "T" in v else int(v))
    try:
        print({"usage": check_usage, "endpoints": check_endpoints, "geo": check_geo,
               "sla": check_sla, "deprecation": check_deprecation}[kind](evs, got, a))
    except Mismatch as e:
        print(str(e))


main()
PY
PY_A="$TG_DIR/analytics.py"
n_events=$("$PYTHON" "$PY_A" gen "$TG_DIR") || tg_fatal "event generation failed"
tg_log "$n_events raw events"

# catalog: API 1 with SLA targets, API 2 deprecated, API 3 plain; the seed
# plan, a volume plan; consumers 100-103 with keys since September, 104 with
# a key made today, 105 without any
tg_psql "
INSERT INTO apis (id, name, sla_uptime, sla_p99_ms) VALUES (1, 'orders', 99.0, 200);
INSERT INTO apis (id, name, version, deprecated_at, sunset_at) VALUES
 (2, 'legacy', '0', '2026-10-01 00:00:00+00', '2027-01-01 00:00:00+00');
INSERT INTO apis (id, name) VALUES (3, 'search');
INSERT INTO plans (id, name, rate_per_sec, burst, currency, tiers_mode, tiers) VALUES
 (10, 'Seed', 100, 100, 'USD', 'graduated',
  '[{\"up_to\": 1000, \"unit_price\": \"0\"}, {\"up_to\": 10000, \"unit_price\": \"0.001\"},
    {\"up_to\": null, \"unit_price\": \"0.0005\"}]'),
 (11, 'Bulk', 100, 100, 'USD', 'volume',
  '[{\"up_to\": 1000, \"unit_price\": \"0.01\"},
    {\"up_to\": null, \"unit_price\": \"0.005\", \"flat_price\": \"5\"}]');
INSERT INTO consumers (id, name, email) VALUES (100, 'Ada', 'ada@example.com'),
 (101, 'Bo', 'bo@example.com'), (102, 'Cy', 'cy@example.com'), (103, 'Dee', ''),
 (104, 'Eve', ''), (105, 'Fay', '');
INSERT INTO api_keys (id, consumer_id, plan_id, digest, prefix, created_at) VALUES
 (1000, 100, 10, repeat('a', 32), 'tg_1aaaa', '2026-09-01'),
 (1001, 101, 11, repeat('b', 32), 'tg_1bbbb', '2026-09-01'),
 (1002, 102, 10, repeat('c', 32), 'tg_1cccc', '2026-09-01'),
 (1003, 103, 10, repeat('d', 32), 'tg_1dddd', '2026-09-01'),
 (1004, 104, 10, repeat('e', 32), 'tg_1eeee', now());
" >/dev/null || tg_fatal "catalog setup failed"
psql -X -q -v ON_ERROR_STOP=1 "$TG_PG_DSN" -f "$TG_DIR/rollups.sql" >/dev/null ||
	tg_fatal "rollup rows failed"
tg_log "rollup rows: $(tg_psql "SELECT (SELECT count(*) FROM rollup_minute) || ' minute, ' ||
	(SELECT count(*) FROM rollup_hour) || ' hour, ' || (SELECT count(*) FROM rollup_day) || ' day'")"

NOW=2026-10-15T12:00:00Z
drv() { "$DRIVER" --dsn "$TG_PG_DSN" "$@"; }
# check NAME KIND DRIVER-ARGS... -- CHECK-ARGS...: run the driver, compare in python
check() {
	local name=$1 kind=$2 out="$TG_DIR/out.$RANDOM.json" dargs=() cargs=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do dargs+=("$1"); shift; done
	shift
	cargs=("$@")
	drv "$kind" --now "$NOW" "${dargs[@]}" >"$out" 2>"$out.err"
	assert_match "$name" '^ok' \
		"$("$PYTHON" "$PY_A" check "$kind" "$TG_DIR/events.json" "$out" "${cargs[@]}") $(cat "$out.err")"
	LAST_OUT=$out
}
# errno_of DRIVER-ARGS...: the -EXXX the driver fails with, or "ok"
errno_of() {
	local err
	if err=$(drv "$@" --now "$NOW" 2>&1 >/dev/null); then echo ok; else
		sed -n 's/^error: -\([A-Z0-9]*\).*/\1/p' <<<"$err"; fi
}
jq_py() { # FILE PYTHON-EXPR-ON-d
	"$PYTHON" -c "import json, sys; d = json.load(open(sys.argv[1])); print($2)" "$1"
}

# --- usage series ------------------------------------------------------------
check "minute series of consumer 100 over 2 h: counts, gaps, p50/p99 per minute" usage \
	--consumer 100 --granularity minute --from 2026-10-15T09:00:00Z --to 2026-10-15T11:00:00Z \
	-- consumer=100 granularity=minute from=2026-10-15T09:00:00Z to=2026-10-15T11:00:00Z
assert_eq "the quiet minutes 09:20-09:29 are zero points with null percentiles" \
	"10 0 None None" "$(jq_py "$LAST_OUT" "len([p for p in d[20:30] if p['requests'] == 0]), \
	d[25]['bytes_in'], d[25]['p50_ms'], d[25]['p99_ms']")"
check "hour series of consumer 100 over 2 days" usage \
	--consumer 100 --granularity hour --from 2026-10-14T00:00:00Z --to 2026-10-16T00:00:00Z \
	-- consumer=100 granularity=hour from=2026-10-14T00:00:00Z to=2026-10-16T00:00:00Z
check "day series of consumer 100, from before its first request" usage \
	--consumer 100 --granularity day --from 2026-09-20T00:00:00Z --to 2026-10-16T00:00:00Z \
	-- consumer=100 granularity=day from=2026-09-20T00:00:00Z to=2026-10-16T00:00:00Z
check "day series of consumer 102 on API 3 only" usage \
	--consumer 102 --api 3 --granularity day --from 2026-09-25T00:00:00Z --to 2026-10-16T00:00:00Z \
	-- consumer=102 api=3 granularity=day from=2026-09-25T00:00:00Z to=2026-10-16T00:00:00Z
check "per-API usage: API 1, every consumer (refusals without a consumer too), hourly" usage \
	--api 1 --granularity hour --from 2026-10-13T00:00:00Z --to 2026-10-15T12:00:00Z \
	-- api=1 granularity=hour from=2026-10-13T00:00:00Z to=2026-10-15T12:00:00Z
check "a range off the step is rounded out to whole minutes" usage \
	--consumer 101 --granularity minute --from 2026-10-15T09:59:30Z --to 2026-10-15T10:30:01Z \
	-- consumer=101 granularity=minute from=2026-10-15T09:59:30Z to=2026-10-15T10:30:01Z
assert_eq "... 09:59 to 10:31: 32 points" "32 2026-10-15T09:59:00Z" \
	"$(jq_py "$LAST_OUT" "len(d), d[0]['ts']")"
check "a day without requests is all zeros" usage \
	--consumer 100 --granularity hour --from 2026-10-20T00:00:00Z --to 2026-10-21T00:00:00Z \
	-- consumer=100 granularity=hour from=2026-10-20T00:00:00Z to=2026-10-21T00:00:00Z
assert_eq "minute granularity over 2 days is too many points" E2BIG \
	"$(errno_of usage --consumer 100 --granularity minute --from 2026-10-13T00:00:00Z --to 2026-10-15T00:00:00Z)"
assert_eq "1500 points is the limit, not beyond" "ok E2BIG" \
	"$(errno_of usage --consumer 100 --granularity minute --from 2026-10-14T00:00:00Z --to 2026-10-15T01:00:00Z) $(
	errno_of usage --consumer 100 --granularity minute --from 2026-10-14T00:00:00Z --to 2026-10-15T01:01:00Z)"
assert_eq "minute granularity before the minute retention (14 days) is refused" "ERANGE ok" \
	"$(errno_of usage --consumer 100 --granularity minute --from 2026-09-30T23:00:00Z --to 2026-10-01T01:00:00Z) $(
	errno_of usage --consumer 100 --granularity minute --from 2026-10-01T00:00:00Z --to 2026-10-01T01:00:00Z)"
assert_eq "... unless billing.minute_retention is longer" ok \
	"$(errno_of usage --consumer 100 --granularity minute --minute-retention 30 --from 2026-09-30T23:00:00Z --to 2026-10-01T01:00:00Z)"
assert_eq "from after to is invalid" EINVAL \
	"$(errno_of usage --consumer 100 --granularity hour --from 2026-10-15T00:00:00Z --to 2026-10-14T00:00:00Z)"
assert_eq "an SLA window that is not whole minutes is invalid" EDOM \
	"$(errno_of sla --api 1 --window 90 --from 2026-10-15T09:00:00Z --to 2026-10-15T11:00:00Z)"

# --- top endpoints and geo: day rows inside, hour rows at the edges ----------
RANGE=(--from 2026-10-03T05:30:00Z --to 2026-10-12T17:10:00Z)
CRANGE=(from=2026-10-03T05:30:00Z to=2026-10-12T17:10:00Z)
check "top endpoints of consumer 100: order, counts, error rates, p50/p99" endpoints \
	--consumer 100 "${RANGE[@]}" -- consumer=100 "${CRANGE[@]}"
tg_log "$(jq_py "$LAST_OUT" "[(e['method'], e['endpoint'], e['requests'], e['error_rate'], e['p50_ms'], e['p99_ms']) for e in d]")"
check "top 2 endpoints of every consumer on API 1" endpoints \
	--api 1 --limit 2 "${RANGE[@]}" -- api=1 limit=2 "${CRANGE[@]}"
assert_eq "a limit above 100 is refused" EDOM "$(errno_of endpoints --consumer 100 --limit 101 "${RANGE[@]}")"
check "geo of consumer 100" geo --consumer 100 "${RANGE[@]}" -- consumer=100 "${CRANGE[@]}"
check "geo of consumer 101 within one day (hour rows only)" geo \
	--consumer 101 --from 2026-10-05T01:00:00Z --to 2026-10-05T20:00:00Z \
	-- consumer=101 from=2026-10-05T01:00:00Z to=2026-10-05T20:00:00Z
check "geo of everyone over whole days (day rows only)" geo \
	--from 2026-09-25T00:00:00Z --to 2026-10-15T00:00:00Z -- from=2026-09-25T00:00:00Z to=2026-10-15T00:00:00Z

# --- SLA ---------------------------------------------------------------------
tg_psql "
INSERT INTO alerts (id, kind, api_id, state, opened_at, resolved_at, breached_windows, details) VALUES
 (1, 'sla_uptime', 1, 'resolved', '2026-10-15 10:00:00+00', '2026-10-15 10:15:00+00', 3,
  '{\"uptime\": 80.5}'),
 (2, 'sla_latency', 1, 'open', '2026-10-15 10:30:00+00', NULL, 1, '{\"p99_ms\": 790.5}'),
 (3, 'sla_uptime', 1, 'resolved', '2026-10-14 08:00:00+00', '2026-10-14 08:05:00+00', 1, '{}'),
 (4, 'sla_uptime', 3, 'open', '2026-10-15 10:00:00+00', NULL, 1, '{}');
" >/dev/null || tg_fatal "alerts setup failed"
check "SLA of API 1 on 5-minute windows: uptime, failures, p99, targets met" sla \
	--api 1 --window 300 --from 2026-10-15T09:00:00Z --to 2026-10-15T11:00:00Z \
	-- api=1 window=300 from=2026-10-15T09:00:00Z to=2026-10-15T11:00:00Z
assert_match "... the failure burst and the latency spike are the breached windows" \
	'uptime breached 10:00,10:05,10:10; latency breached 10:30$' \
	"$("$PYTHON" "$PY_A" check sla "$TG_DIR/events.json" "$LAST_OUT" api=1 window=300 \
		from=2026-10-15T09:00:00Z to=2026-10-15T11:00:00Z)"
assert_eq "... the quiet windows have no verdict" "None None" \
	"$(jq_py "$LAST_OUT" "d['windows'][4]['uptime_met'], d['windows'][4]['latency_met']")"
assert_eq "... targets and the alerts overlapping the range, oldest first" \
	"99.0 200 20 ['1:sla_uptime:resolved:2026-10-15T10:15:00Z', '2:sla_latency:open:None'] 790.5" \
	"$(jq_py "$LAST_OUT" "d['target_uptime'], d['target_p99_ms'], d['min_requests'], \
	[b['id'] + ':' + b['kind'] + ':' + b['state'] + ':' + str(b['resolved_at']) for b in d['breaches']], \
	d['breaches'][1]['details']['p99_ms']")"
check "SLA of API 1 on hour windows (hour rows) over two days" sla \
	--api 1 --granularity hour --from 2026-10-14T00:00:00Z --to 2026-10-15T12:00:00Z \
	-- api=1 window=3600 from=2026-10-14T00:00:00Z to=2026-10-15T12:00:00Z
assert_eq "an API without targets: null targets, no verdicts" "None None set()" \
	"$(drv sla --now "$NOW" --api 3 --granularity hour --from 2026-10-15T00:00:00Z --to 2026-10-15T12:00:00Z |
	"$PYTHON" -c "import json, sys; d = json.load(sys.stdin); print(d['target_uptime'], d['target_p99_ms'], \
	{w['uptime_met'] for w in d['windows'] if w['uptime_met'] is not None})")"
assert_eq "an unknown API is not found" ENOENT \
	"$(errno_of sla --api 99 --granularity hour --from 2026-10-15T00:00:00Z --to 2026-10-15T12:00:00Z)"

# --- deprecation -------------------------------------------------------------
tg_psql "INSERT INTO notices (consumer_id, api_id, week, requests, created_at) VALUES
 (101, 2, '2026-10-12', 5, '2026-10-12 08:00:00+00')" >/dev/null
check "consumers still on deprecated API 2 in the last 7 days, busiest first" deprecation \
	--api 2 -- api=2 now=$NOW
assert_eq "... with the API's dates and the notice sent" \
	"legacy 2026-10-01T00:00:00Z 2027-01-01T00:00:00Z {'101': '2026-10-12T08:00:00Z'}" \
	"$(jq_py "$LAST_OUT" "d['name'], d['deprecated_at'], d['sunset_at'], \
	{c['consumer_id']: c['notified_at'] for c in d['consumers'] if c['notified_at']}")"
assert_eq "an unknown API is not found" ENOENT "$(errno_of deprecation --api 99)"

# --- realtime from Redis -----------------------------------------------------
for kv in 100:1:20261015:500 100:2:20261015:70 100:0:20261015:3 100:1:20261014:999 \
	101:1:20261015:42; do
	IFS=: read -r c a d n <<<"$kv"
	redis-cli -p "$RPORT" SET "usage:$c:$a:$d" "$n" >/dev/null
done
assert_eq "realtime: today's counters per API, busiest first (yesterday's and others' left out)" \
	'{"consumer_id":"100","day":"2026-10-15","as_of":"2026-10-15T12:00:00Z","requests":573,"apis":[{"api_id":"1","name":"orders","requests":500},{"api_id":"2","name":"legacy","requests":70},{"api_id":null,"name":null,"requests":3}]}' \
	"$(drv --redis "redis://127.0.0.1:$RPORT" realtime --consumer 100 --now "$NOW")"
assert_eq "realtime of a consumer without counters today" '0 []' \
	"$(drv --redis "redis://127.0.0.1:$RPORT" realtime --consumer 102 --now "$NOW" |
	"$PYTHON" -c "import json, sys; d = json.load(sys.stdin); print(d['requests'], d['apis'])")"
assert_eq "realtime of an unknown consumer" ENOENT \
	"$(errno_of --redis "redis://127.0.0.1:$RPORT" realtime --consumer 999)"
tg_stop_pid "$REDIS_PID" 5
assert_eq "realtime with Redis down fails with -EIO (the route's 503)" EIO \
	"$(errno_of --redis "redis://127.0.0.1:$RPORT" realtime --consumer 100)"

# --- the upcoming invoice ----------------------------------------------------
# Cy was invoiced for September and 101 units arrived late: October charges them
tg_psql "
INSERT INTO invoices (id, consumer_id, period, period_start, period_end, currency, status,
 total_minor, finalized_at) VALUES (900, 102, '2026-09-01', '2026-09-01 00:00:00+00',
 '2026-10-01 00:00:00+00', 'USD', 'finalized', 0, '2026-10-01 02:00:00+00');
INSERT INTO invoice_adjustments (source_invoice_id, plan_id, units, amount_minor, unit_price, tier)
 VALUES (900, 10, 101, 5, 0.0005, 2);
" >/dev/null || tg_fatal "adjustment setup failed"

upcoming_lines() { # CONSUMER NOW: plan|kind|tier|description|quantity|unit_price|amount_minor;... total
	drv upcoming --consumer "$1" ${2:+--now "$2"} | "$PYTHON" -c "
import json, sys
d = json.load(sys.stdin)
print(';'.join('|'.join(str(l[k]) for k in ('plan_id', 'kind', 'tier', 'description', 'quantity',
	'unit_price', 'amount_minor')) for l in d['lines']), d['currency'], d['total_minor'])"
}
billed_lines() { # CONSUMER PERIOD: the same from the invoice billing wrote
	tg_psql "SELECT coalesce(string_agg(l.plan_id || '|' || l.kind || '|' || l.tier || '|' ||
		l.description || '|' || l.quantity || '|' || trim_scale(l.unit_price) || '|' ||
		l.amount_minor, ';' ORDER BY l.line_no), '') || ' ' || i.currency || ' ' || i.total_minor
		FROM invoices i LEFT JOIN invoice_lines l ON l.invoice_id = i.id
		WHERE i.consumer_id = $1 AND i.period = '$2-01' GROUP BY i.id"
}

drv upcoming --consumer 100 --now "$NOW" >"$TG_DIR/upcoming-100.json"
assert_eq "the seed plan, 12,345 units: 1000 free + 9000 x 0.001 + 2345 x 0.0005 = USD 10.17" \
	"USD 10.17 1017 | 1000 0 0.00 | 9000 0.001 9.00 | 2345 0.0005 1.17" \
	"$(jq_py "$TG_DIR/upcoming-100.json" "' '.join([d['currency'], d['total'], str(d['total_minor'])] + \
	['| %d %s %s' % (l['quantity'], l['unit_price'], l['amount']) for l in d['lines']])")"
assert_eq "... as an invoice object of DESIGN §7 for October" \
	"None 100 2026-10 2026-10-01T00:00:00Z 2026-11-01T00:00:00Z upcoming Seed: tier 2, units 1001-10000 at 0.001 USD" \
	"$(jq_py "$TG_DIR/upcoming-100.json" "d['id'], d['consumer_id'], d['period'], d['period_start'], \
	d['period_end'], d['status'], d['lines'][1]['description']")"
for c in 100 101 102 103; do
	before[$c]=$(upcoming_lines $c "$NOW")
done
assert_match "Cy's upcoming invoice charges September's late units" 'adjustment 2026-09\|101\|0.0005\|5' \
	"${before[102]}"
assert_eq "nothing to invoice: no key, no usage" ENODATA "$(errno_of upcoming --consumer 105)"
assert_eq "an unknown consumer" ENOENT "$(errno_of upcoming --consumer 999)"

billing invoice --period 2026-10 >"$TG_DIR/billing-invoice-oct.log" 2>&1
assert_eq "tollgate-billing invoice --period 2026-10 succeeds" 0 $?
for c in 100 101 102 103; do
	assert_eq "consumer $c: upcoming invoice = what billing wrote for October" \
		"${before[$c]}" "$(billed_lines $c 2026-10)"
	assert_eq "consumer $c: and still the same once billing's draft exists" \
		"${before[$c]}" "$(upcoming_lines $c "$NOW")"
done

# the current month on the real clock: Eve's key is new, her usage is today's
MONTH=$(date -u +%Y-%m)
tg_psql "INSERT INTO rollup_day (ts, consumer_id, plan_id, api_id, status_class, verdict, method,
	endpoint, country, requests, summarized, unanswered, unattributed, bytes_in, bytes_out,
	latency_sum_us, hist) VALUES
	(date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', 104, 10, 1, 2, 0, 1,
	 '/v1/orders', 'US', 1500, 0, 0, 0, 0, 0, 0, '{}'),
	(date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', 104, 10, 1, 5, 0, 1,
	 '/v1/orders', 'US', 40, 0, 0, 0, 0, 0, 0, '{}')" >/dev/null
eve=$(upcoming_lines 104 "")
assert_eq "this month so far: 1500 units, 500 of them at 0.001 = USD 0.50 (5xx not billed)" \
	"10|tier|0|Seed: tier 1, units 1-1000 at 0 USD|1000|0|0;10|tier|1|Seed: tier 2, units 1001-10000 at 0.001 USD|500|0.001|50 USD 50" \
	"$eve"
billing invoice --period "$MONTH" >"$TG_DIR/billing-invoice-now.log" 2>&1
assert_eq "... equal to billing's invoice for $MONTH" "$eve" "$(billed_lines 104 "$MONTH")"

tg_summary
