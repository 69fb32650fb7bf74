#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""demo-report.py - the figures of `make demo` (scripts/demo.sh), read back.

  wait    --clients F --counters F [--timeout S]
          until the API's usage of every consumer (GET /v1/consumers/{id}/
          usage, the Postgres rollups billing writes) holds every request the
          kernel counted (tollgatectl counters --json); exit 1 on timeout.

  report  --clients F --counters F --period YYYY-MM [--events F]
          [--summary F] [--cleanup-json J]
          prints the tables: per consumer what was sent, what the kernel
          counted and what the API reports; top endpoints; geography; SLA and
          alerts; deprecation; each consumer's invoice with its lines. With
          --summary, writes the same figures as JSON.

Everything is read through the REST API with the admin token, except the
kernel counters (tollgatectl), what the load clients saw (their output) and
the sample API's request log. --clients is the JSON demo.sh writes.
"""

import argparse
import datetime as dt
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

VERDICTS = ("missing_key", "unknown_key", "revoked_key", "suspended", "forbidden_api",
            "over_limit", "quota_exhausted")


class Api:
    def __init__(self, base, token):
        self.base = base
        self.token = token

    def get(self, path, **query):
        q = {k: v for k, v in query.items() if v is not None}
        url = self.base + path + ("?" + urllib.parse.urlencode(q) if q else "")
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            body = e.read().decode(errors="replace")[:300]
            raise RuntimeError(f"GET {path} answered {e.code}: {body}") from None


def rfc3339(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_clients(path):
    with open(path) as f:
        return json.load(f)


def kernel_counts(path):
    """{consumer_id: {"admitted", "refused": {verdict: n}, "status": {...},
    "unanswered", "apis": {api_id: admitted}}} from tollgatectl counters --json."""
    with open(path) as f:
        rows = json.load(f)
    out = {}
    for r in rows:
        c = out.setdefault(r["consumer_id"], {"admitted": 0, "refused": {v: 0 for v in VERDICTS},
                                              "status": {}, "unanswered": 0, "apis": {}})
        c["admitted"] += r["requests"]
        c["unanswered"] += r.get("unanswered", 0)
        c["apis"][r["api_id"]] = c["apis"].get(r["api_id"], 0) + r["requests"]
        for v, n in r["refused"].items():
            c["refused"][v] = c["refused"].get(v, 0) + n
        for k, n in r["status"].items():
            c["status"][k] = c["status"].get(k, 0) + n
    for c in out.values():
        c["refused_total"] = sum(c["refused"].values())
    return out


def client_result(path):
    """What a load client saw: {"sent", "by_status", "answered"}; wrk's
    DEMO-RESULT line or tgclient.py flood's JSON."""
    with open(path) as f:
        text = f.read()
    m = re.search(r"^DEMO-RESULT (\{.*\})$", text, re.M)
    if m:
        res = json.loads(m.group(1))
    else:
        flood = json.loads(text.strip().splitlines()[-1])
        by = {}
        for r in flood["results"]:
            k = str(r["status"])
            if r.get("headers", {}).get("server") == "tollgate":
                k = "kernel-" + k
            by[k] = by.get(k, 0) + 1
        res = {"sent": len(flood["results"]), "by_status": by}
    res["answered"] = sum(n for k, n in res["by_status"].items() if k not in ("0", "kernel-0"))
    return res


def server_counts(path, keys):
    """Requests that reached the sample API, per consumer name (by key)."""
    out = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            name = keys.get(parts[-1], "no valid key") if parts else None
            out[name] = out.get(name, 0) + 1
    return out


def usage_totals(api, path, t0, t1):
    data = api.get(path, granularity="minute", **{"from": rfc3339(t0 // 60 * 60),
                                                   "to": rfc3339(t1)})["data"]
    tot = {k: sum(p[k] for p in data) for k in
           ("requests", "refused", "errors_4xx", "errors_5xx", "unanswered", "bytes_in",
            "bytes_out")}
    tot["admitted"] = tot["requests"] - tot["refused"]
    return tot


def api_figures(api, cl, now):
    """The API's usage per consumer id, and of consumer 0 (calls without a
    valid key: the per-API usage minus the consumers')."""
    t0, t1 = cl["from"] - 60, now + 60
    per = {c["id"]: usage_totals(api, f"/v1/consumers/{c['id']}/usage", t0, t1)
           for c in cl["consumers"]}
    all_apis = [usage_totals(api, f"/v1/apis/{a}/usage", t0, t1) for a in cl["apis"].values()]
    anon = {}
    for k in all_apis[0]:
        anon[k] = sum(a[k] for a in all_apis) - sum(p[k] for p in per.values())
    per["0"] = anon
    return per


def cmd_wait(args):
    cl = load_clients(args.clients)
    api = Api(cl["api_url"], open(cl["admin_token_file"]).read().strip())
    kernel = kernel_counts(args.counters)
    ids = [c["id"] for c in cl["consumers"]] + ["0"]
    deadline = time.monotonic() + args.timeout
    t_start = time.monotonic()
    last = ""
    while True:
        per = api_figures(api, cl, int(time.time()))
        missing = []
        for cid in ids:
            k = kernel.get(cid, {"admitted": 0, "refused_total": 0})
            a = per[cid]
            if (a["admitted"], a["refused"]) != (k["admitted"], k["refused_total"]):
                missing.append(f"consumer {cid}: {a['admitted']}/{k['admitted']} admitted, "
                               f"{a['refused']}/{k['refused_total']} refused")
        if not missing:
            print(f"billing has every request the kernel counted "
                  f"({time.monotonic() - t_start:.1f} s after the traffic ended)")
            return 0
        msg = "; ".join(missing)
        if msg != last:
            print(f"  not yet in the rollups: {msg}", flush=True)
            last = msg
        if time.monotonic() > deadline:
            return 1
        time.sleep(1)


# --- tables -------------------------------------------------------------------

def table(title, header, rows, note=None):
    print(f"\n{title}")
    if not rows:
        print("  (none)")
        return
    cells = [[str(c) for c in header]] + [[("" if c is None else str(c)) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    num = [all(re.fullmatch(r"-?[\d.,]+( ms| %)?|-|", r[i]) for r in cells[1:])
           for i in range(len(header))]

    def fmt(r):
        return "  " + "  ".join(c.rjust(w) if n else c.ljust(w)
                                for c, w, n in zip(r, widths, num)).rstrip()
    print(fmt(cells[0]))
    print("  " + "  ".join("-" * w for w in widths))
    for r in cells[1:]:
        print(fmt(r))
    if note:
        for line in note.splitlines():
            print(f"  {line}")


def ms(v):
    return "-" if v is None else f"{v:.1f} ms"


def statuses(by):
    order = sorted(by, key=lambda k: (k.startswith("kernel-"), k))
    return " ".join(f"{k}:{by[k]}" for k in order) or "-"


def refused_text(refused):
    parts = [f"{n} {v}" for v, n in refused.items() if n]
    return ", ".join(parts) if parts else "0"


def cmd_report(args):
    cl = load_clients(args.clients)
    api = Api(cl["api_url"], open(cl["admin_token_file"]).read().strip())
    kernel = kernel_counts(args.counters)
    now = int(time.time())
    per = api_figures(api, cl, now)
    keys = cl["keys"]
    server = server_counts(cl["server_log"], keys)
    summary = {"period": args.period, "from": rfc3339(cl["from"]), "to": rfc3339(cl["to"]),
               "plans": cl["plans"], "apis": cl["apis"], "consumers": [], "problems": []}
    plan_names = {pid: p["name"] for pid, p in cl["plans"].items()}

    # 1. sent, kernel, API, Redis, server
    rows = []
    for c in cl["consumers"]:
        res = client_result(c["load"])
        k = kernel.get(c["id"], {"admitted": 0, "refused": {}, "refused_total": 0, "status": {},
                                 "unanswered": 0})
        a = per[c["id"]]
        rt = api.get(f"/v1/consumers/{c['id']}/usage/realtime")
        agree = (k["admitted"] + k["refused_total"] == res["sent"]
                 and (a["admitted"], a["refused"]) == (k["admitted"], k["refused_total"])
                 and rt["requests"] == k["admitted"] and server.get(c["name"], 0) == k["admitted"])
        if not agree:
            summary["problems"].append(f"{c['name']}: the counts disagree")
        rows.append([c["name"], plan_names[c["plan_id"]], c["addr"], res["sent"], k["admitted"],
                     refused_text(k["refused"]), a["admitted"], a["refused"], rt["requests"],
                     server.get(c["name"], 0), "yes" if agree else "NO"])
        summary["consumers"].append({
            "name": c["name"], "id": c["id"], "plan_id": c["plan_id"], "key_id": c["key_id"],
            "addr": c["addr"], "client": res, "kernel": k, "api_usage": a,
            "realtime": rt["requests"], "server_received": server.get(c["name"], 0)})
    anon_res = [client_result(x["load"]) for x in cl["anonymous"]]
    k0 = kernel.get("0", {"admitted": 0, "refused": {}, "refused_total": 0})
    sent0 = sum(r["sent"] for r in anon_res)
    agree0 = (k0["refused_total"] + k0["admitted"] == sent0
              and per["0"]["refused"] == k0["refused_total"] and server.get("no valid key", 0) == 0)
    if not agree0:
        summary["problems"].append("calls without a valid key: the counts disagree")
    rows.append(["no valid key", "-", ", ".join(x["addr"] for x in cl["anonymous"]), sent0,
                 k0["admitted"], refused_text(k0["refused"]), per["0"]["admitted"],
                 per["0"]["refused"], "-", server.get("no valid key", 0),
                 "yes" if agree0 else "NO"])
    summary["anonymous"] = {"client": anon_res, "sent": sent0, "kernel": k0, "api_usage": per["0"]}
    table("Requests per consumer: sent by the clients, counted by the kernel, reported by the API",
          ["consumer", "plan", "source", "sent", "admitted", "refused (kernel)", "API admitted",
           "API refused", "Redis today", "server got", "agree"], rows,
          "sent: requests wrk/tgclient.py wrote; admitted, refused: tollgatectl counters --json "
          "(the kernel's tg_counters map)\n"
          "API: GET /v1/consumers/{id}/usage (the Postgres rollups billing wrote from Kafka); "
          "no valid key: GET /v1/apis/{id}/usage\n"
          "minus the consumers'; Redis today: GET /v1/consumers/{id}/usage/realtime; "
          "server got: the sample API's own request log")

    rows = []
    for c, s in zip(cl["consumers"], summary["consumers"]):
        res = s["client"]
        rows.append([c["name"], res["sent"], statuses(res["by_status"]),
                     res["sent"] - res["answered"]])
    for x, res in zip(cl["anonymous"], anon_res):
        rows.append([x["name"], res["sent"], statuses(res["by_status"]),
                     res["sent"] - res["answered"]])
    table("What the clients saw (kernel-NNN: answered by tollgate's XDP program, not the server)",
          ["client", "sent", "answers by status", "unread at the end"], rows,
          "unread: requests still in flight when wrk's run ended (the server answered them; "
          "wrk had stopped reading)")

    # 2. top endpoints
    rows = []
    summary["endpoints"] = {}
    frm, to = rfc3339(cl["from"] - 3600), rfc3339(now + 3600)
    for c in cl["consumers"]:
        eps = api.get(f"/v1/consumers/{c['id']}/usage/endpoints", limit=5,
                      **{"from": frm, "to": to})["data"]
        summary["endpoints"][c["name"]] = eps
        for e in eps:
            rows.append([c["name"], e["method"], e["endpoint"], e["requests"],
                         f"{100 * e['error_rate']:.1f} %", ms(e["p50_ms"]), ms(e["p99_ms"])])
    table("Top endpoints (GET /v1/consumers/{id}/usage/endpoints; templates: numbers -> {id})",
          ["consumer", "method", "endpoint", "requests", "errors", "p50", "p99"], rows,
          "errors: 4xx, 5xx and unanswered among the admitted requests; p50/p99 from the "
          "rollups' latency histograms (within 2 %)")

    # 3. geography
    rows = []
    seen = {}
    if args.events:
        try:
            with open(args.events) as f:
                for line in f:
                    ev = json.loads(line)
                    d = ev.get("data", ev)
                    if d.get("verdict") == "admitted":
                        key = (d["consumer_id"], d["client_ip"], d["country"])
                        seen[key] = seen.get(key, 0) + d.get("count", 1)
        except (OSError, ValueError):
            seen = {}
    summary["geo"] = {}
    for c, sc in zip(cl["consumers"], summary["consumers"]):
        geo = api.get(f"/v1/consumers/{c['id']}/usage/geo", **{"from": frm, "to": to})["data"]
        summary["geo"][c["name"]] = geo
        sc["geoip_country"] = c.get("country", "--")
        sc["event_countries"] = {}
        for (cid, _, cc), n in seen.items():
            if cid == c["id"]:
                sc["event_countries"][cc] = sc["event_countries"].get(cc, 0) + n
        addrs = ", ".join(f"{ip} {cc} ({n})" for (cid, ip, cc), n in sorted(seen.items())
                          if cid == c["id"])
        rows.append([c["name"], " ".join(f"{g['country']}:{g['requests']}" for g in geo),
                     addrs or "-"])
    table("Geography (GET /v1/consumers/{id}/usage/geo) and the source addresses in the "
          "agent's events", ["consumer", "countries (requests)", "client address, country "
                             "(admitted events)"], rows,
          "The agent looks up each event's client address in agent.geoip_db (libmaxminddb); "
          "here a database scripts/mkmmdb.py\n"
          "built for the demo's addresses (a host would use GeoLite2-Country.mmdb). \"--\": "
          "refusals the kernel counted without\n"
          "their address (the 429s), or an address in no network of the database. The "
          "addresses come from the usage\nevents on Kafka (tollgatectl events --json).")

    # 4. SLA
    rows = []
    summary["sla"] = {}
    sla_from = rfc3339(cl["from"] // 60 * 60)
    sla_to = rfc3339((cl["to"] // 60 + 1) * 60)
    breaches = []
    for name, aid in cl["apis"].items():
        s = api.get(f"/v1/apis/{aid}/sla", window=60, granularity="minute",
                    **{"from": sla_from, "to": sla_to})
        summary["sla"][name] = s
        for w in s["windows"]:
            if not w["requests"]:
                continue
            met = []
            for k, label in (("uptime_met", "uptime"), ("latency_met", "p99")):
                met.append(f"{label} " + {True: "met", False: "BREACHED", None: "n/a"}[w[k]])
            rows.append([f"{name} ({aid})", f"{s['target_uptime']} % / {s['target_p99_ms']} ms",
                         f"{w['window_start'][11:16]}-{w['window_end'][11:16]}", w["requests"],
                         w["failures"], "-" if w["uptime"] is None else f"{w['uptime']:.2f} %",
                         ms(w["p99_ms"]), ", ".join(met)])
        breaches += [(name, b) for b in s["breaches"]]
    table("SLA per API, 60 s windows (GET /v1/apis/{id}/sla)",
          ["API", "target uptime / p99", "window (UTC)", "requests", "failures", "uptime", "p99",
           "verdict"], rows,
          "failures: 5xx and unanswered admitted requests; a window with fewer than "
          "min_requests (20) requests has no verdict")
    alerts = api.get("/v1/alerts")["data"]
    summary["alerts"] = alerts
    rows = []
    api_names = {v: k for k, v in cl["apis"].items()}
    for a in alerts:
        d = a.get("details") or {}
        what = ""
        if a["kind"] == "sla_uptime":
            what = f"uptime {d.get('uptime')} % < {d.get('target_uptime')} %"
        elif a["kind"] == "sla_latency":
            what = f"p99 {d.get('p99_ms')} ms > {d.get('target_p99_ms')} ms"
        rows.append([a["id"], a["kind"], api_names.get(a.get("api_id"), a.get("api_id") or "-"),
                     a["state"], a["opened_at"], a["breached_windows"], what])
    table("Alerts (GET /v1/alerts)", ["id", "kind", "API", "state", "opened", "windows", "why"],
          rows)

    # 5. deprecation
    rows = []
    summary["deprecation"] = {}
    for name, aid in cl["apis"].items():
        d = api.get(f"/v1/apis/{aid}/deprecation")
        summary["deprecation"][name] = d
        if not d.get("deprecated_at"):
            continue
        for c in d["consumers"]:
            rows.append([f"{name} ({aid})", d["deprecated_at"][:10], (d.get("sunset_at") or "-")[:10],
                         c["name"], c["requests"], c["last_seen_at"], c["notified_at"] or "not yet"])
    table("Deprecation: consumers still calling a deprecated API in the last 7 days "
          "(GET /v1/apis/{id}/deprecation)",
          ["API", "deprecated", "sunset", "consumer", "requests", "last seen", "notice sent"],
          rows, "notices: one per consumer, API and week, written by tollgate-billing's "
          "deprecation job (outbox + billing.notify_webhook_url)")

    # 6. invoices
    summary["invoices"] = {}
    for c, s in zip(cl["consumers"], summary["consumers"]):
        invs = [i for i in api.get(f"/v1/consumers/{c['id']}/invoices")["data"]
                if i["period"] == args.period]
        try:
            upcoming = api.get(f"/v1/consumers/{c['id']}/invoices/upcoming")
        except RuntimeError as e:
            upcoming = {"error": str(e)}
        inv = invs[0] if invs else None
        s["invoice"] = inv
        s["upcoming"] = upcoming
        if not inv:
            summary["problems"].append(f"{c['name']}: no invoice for {args.period}")
            print(f"\nInvoice of {c['name']} for {args.period}: none")
            continue
        same = ([(l["description"], l["quantity"], l["amount"]) for l in inv["lines"]] ==
                [(l["description"], l["quantity"], l["amount"]) for l in upcoming.get("lines", [])]
                and inv["total"] == upcoming.get("total"))
        s["upcoming_agrees"] = same
        rows = [[l["description"], l["quantity"], l["unit_price"], l["amount"]]
                for l in inv["lines"]]
        rows.append(["total", "", "", inv["total"]])
        recon = inv.get("reconciliation")
        note = (f"invoice {inv['id']}, {inv['status']} (finalized after the period ends + "
                f"billing.grace_period); GET /v1/consumers/{c['id']}/invoices/upcoming "
                f"{'agrees' if same else 'DIFFERS: ' + str(upcoming.get('total'))}")
        if recon:
            note += f"\nreconciliation: {json.dumps(recon)[:300]}"
        billable = sum(n for k, n in s["kernel"]["status"].items() if k[0] in "1234")
        table(f"Invoice of {c['name']} for {args.period} ({plan_names[c['plan_id']]} plan; "
              f"{billable} billable: admitted and answered below 500)",
              ["line", "quantity", "unit price", f"amount ({inv['currency']})"], rows, note)

    if args.summary:
        summary["cleanup"] = json.loads(args.cleanup_json) if args.cleanup_json else {}
        with open(args.summary, "w") as f:
            json.dump(summary, f, indent=1)
    if summary["problems"]:
        print("\nPROBLEMS: " + "; ".join(summary["problems"]))
    else:
        print("\nEvery count agrees: sent = admitted + refused for every client; the kernel, "
              "the rollups, Redis and the server saw the same requests.")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("wait", "report"):
        p = sub.add_parser(name)
        p.add_argument("--clients", required=True)
        p.add_argument("--counters", required=True)
        if name == "wait":
            p.add_argument("--timeout", type=float, default=90)
        else:
            p.add_argument("--period", required=True)
            p.add_argument("--events")
            p.add_argument("--summary")
            p.add_argument("--cleanup-json")
    args = ap.parse_args()
    try:
        return cmd_wait(args) if args.cmd == "wait" else cmd_report(args)
    except (RuntimeError, OSError, ValueError, KeyError) as e:
        print(f"demo-report.py: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
