#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""report.py - samples and the report of scripts/bench-peers.sh.

  report.py record SAMPLES WRK_OUT FIELD=VALUE...
      appends one JSON line to SAMPLES: wrk's figures (the "wrk-json" line
      keys.lua prints, and the "client-cpu-s" line of the CPU wrapper) from
      WRK_OUT (/dev/null: none) and the fields (numbers where they parse).

  report.py seconds-for SAMPLES CONTENDER COUNT
      whole seconds wrk needs for COUNT requests at the contender's median
      saturation throughput in SAMPLES, with a third more (3-90).

  report.py report SAMPLES --xdp-cost FILE --json OUT [--meta K=V...]
      prints the markdown table (medians with min-max over the rounds, and
      ratios to each contender's baseline) and writes every sample, the
      summary and the targets to OUT.

  report.py profile-merge OUT TABLE...
      sums `bpf-lines --calls` tables (BENCH_PROFILE=1: one a run) by
      function and source line into OUT, a table of the same form.
"""
import argparse
import json
import re
import statistics
import sys

CONTENDERS = [
    ("none", "no gateway"),
    ("noop", "no-op XDP"),
    ("noop_msg", "no-op XDP + no-op sk_msg"),
    ("tg_host", "tollgate (host)"),
    ("tg_global", "tollgate (global, Redis)"),
    ("tg_ab", "tollgate (host), BENCH_AB_BUILD"),
    ("haproxy", "HAProxy"),
    ("nginx", "nginx limit_req"),
    ("node", "fastify + Redis"),
]
USERSPACE = ("haproxy", "nginx", "node")
BASELINE = {"tg_host": "noop", "tg_global": "noop", "tg_ab": "tg_host", "haproxy": "none", "nginx": "none",
            "node": "none", "noop": "none", "noop_msg": "noop"}


def number(s):
    if s.startswith("{"):
        return json.loads(s)
    for conv in (int, float):
        try:
            return conv(s)
        except ValueError:
            pass
    return s


def cmd_record(args):
    sample = {}
    if args.wrk_out != "/dev/null":
        text = open(args.wrk_out).read()
        m = re.search(r"^wrk-json (\{.*\})\s*$", text, re.M)
        if m:
            sample["wrk"] = json.loads(m.group(1))
        m = re.search(r"^client-cpu-s ([\d.]+)", text, re.M)
        if m:
            sample["client_cpu_s"] = float(m.group(1))
    for kv in args.fields:
        k, _, v = kv.partition("=")
        sample[k] = number(v)
    with open(args.samples, "a") as f:
        f.write(json.dumps(sample) + "\n")
    return 0


def spread(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def rps(s):
    w = s["wrk"]
    return w["requests"] / (w["duration_us"] / 1e6) if w["duration_us"] else None


def server_cpu_us(s):
    """Busy µs of the server's CPU per request of an admitted-path run."""
    b, n = s.get("server_cpu_busy_s"), s["wrk"]["requests"]
    return b / n * 1e6 if b is not None and n else None


def bpf_ns(s):
    """ns of tollgate's programs per request of a run with BENCH_BPF_STATS=1."""
    p, n = s.get("bpf_progs"), s["wrk"]["requests"]
    return sum(v[0] for v in p.values()) / n if p and n else None


def wrk_summary(ss):
    """Throughput and latency of the wrk runs ss: medians and spread."""
    return {
        "rps": spread([rps(s) for s in ss]),
        "p50_us": spread([s["wrk"]["p50_us"] for s in ss]),
        "p99_us": spread([s["wrk"]["p99_us"] for s in ss]),
        "p999_us": spread([s["wrk"]["p999_us"] for s in ss]),
        "non_2xx": sum(s["wrk"]["non_2xx"] for s in ss),
        "socket_errors": sum(s["wrk"]["connect_errors"] + s["wrk"]["read_errors"] +
                             s["wrk"]["write_errors"] + s["wrk"]["timeouts"] for s in ss),
    }


def summarize(samples):
    out = {}
    for c, _ in CONTENDERS:
        o = {}
        for phase in ("fixed", "saturation"):
            ss = [s for s in samples if s.get("phase") == phase and s.get("contender") == c]
            if not ss:
                continue
            o[phase] = wrk_summary(ss)
            # what each request cost the CPU that ran out: busy time of the
            # server's CPU and of the client's, per request
            for side in ("server", "client"):
                o[phase][f"{side}_cpu_us_per_req"] = spread(
                    [s[f"{side}_cpu_busy_s"] / s["wrk"]["requests"] * 1e6 for s in ss
                     if s.get(f"{side}_cpu_busy_s") is not None and s["wrk"]["requests"]])
        for s in samples:
            if s.get("contender") != c or not s.get("bpf_after"):
                continue
            b0, b1 = s.get("bpf_before", {}), s.get("bpf_after", {})
            s["bpf_progs"] = {k: [v[0] - b0.get(k, [0, 0])[0], v[1] - b0.get(k, [0, 0])[1]]
                              for k, v in b1.items()}
            s["bpf_s"] = sum(v[0] for v in s["bpf_progs"].values()) / 1e9
        for phase in ("fixed", "saturation"):
            ss = [s for s in samples if s.get("phase") == phase and s.get("contender") == c
                  and "bpf_progs" in s]
            if ss:
                # BENCH_BPF_STATS=1: ns per admitted request by program (medians)
                o[phase]["bpf_ns_per_req"] = {
                    k: statistics.median(s["bpf_progs"].get(k, [0, 0])[0] /
                                         max(1, s["wrk"]["requests"]) for s in ss)
                    for k in sorted({k for s in ss for k in s["bpf_progs"]})}
        ss = [s for s in samples if s.get("phase") == "reject" and s.get("contender") == c]
        for s in ss:
            s.setdefault("bpf_progs", {})
            s.setdefault("bpf_s", 0)
            s["limiter_cpu_s"] = s["userspace_cpu_s"] + s["bpf_s"]
        if ss:
            def per_m(field, s):
                n = s["wrk"]["non_2xx"]
                return s[field] / n * 1e6 if n else None
            o["reject"] = {
                "refusals_per_s": spread([s["wrk"]["non_2xx"] / (s["wrk"]["duration_us"] / 1e6)
                                          for s in ss]),
                "admitted_per_s": spread([(s["wrk"]["requests"] - s["wrk"]["non_2xx"]) /
                                          (s["wrk"]["duration_us"] / 1e6) for s in ss]),
                "limiter_cpu_s_per_m": spread([per_m("limiter_cpu_s", s) for s in ss]),
                "bpf_cpu_s_per_m": spread([per_m("bpf_s", s) for s in ss]),
                "userspace_cpu_s_per_m": spread([per_m("userspace_cpu_s", s) for s in ss]),
                "client_cpu_s_per_m": spread([per_m("client_cpu_s", s) for s in ss]),
                "server_cpu_s_per_m": spread([per_m("server_cpu_s", s) for s in ss]),
                "machine_cpu_s_per_m": spread([per_m("machine_cpu_s", s) for s in ss]),
                "client_closing": spread([s.get("client_closing") for s in ss]),
                "socket_errors": sum(s["wrk"]["connect_errors"] + s["wrk"]["read_errors"] +
                                     s["wrk"]["write_errors"] + s["wrk"]["timeouts"] for s in ss),
            }
            progs = sorted({k for s in ss for k in s["bpf_progs"]})
            if progs:
                # per program: ns per refusal and runs per refusal (medians)
                o["reject"]["bpf_per_refusal"] = {
                    k: {"ns": statistics.median(s["bpf_progs"].get(k, [0, 0])[0] /
                                                max(1, s["wrk"]["non_2xx"]) for s in ss),
                        "runs": statistics.median(s["bpf_progs"].get(k, [0, 0])[1] /
                                                  max(1, s["wrk"]["non_2xx"]) for s in ss)}
                    for k in progs}
        ss = [s for s in samples if s.get("phase") == "saturation" and s.get("contender") == c
              and s.get("agent_cpu_s")]
        if ss and c.startswith("tg_"):
            o["saturation"]["agent_cpu_s_per_m_admitted"] = spread(
                [s["agent_cpu_s"] / max(1, s["wrk"]["requests"] - s["wrk"]["non_2xx"]) * 1e6
                 for s in ss])
        ss = [s for s in samples if s.get("phase") == "accuracy" and s.get("contender") == c]
        if ss:
            s = ss[0]
            secs = s["wrk"]["duration_us"] / 1e6
            admitted = s["wrk"]["requests"] - s["wrk"]["non_2xx"]
            expected = s["rate"] * secs + s["burst"]
            o["accuracy"] = {"admitted": admitted, "expected": expected, "seconds": secs,
                             "kernel_admitted": s.get("kernel_admitted"),
                             "offered_per_s": s["wrk"]["requests"] / secs,
                             "ratio": admitted / expected}
        ss = [s for s in samples if s.get("phase") == "accuracy_global" and s.get("contender") == c]
        if ss:
            secs = max(s["wrk"]["duration_us"] for s in ss) / 1e6
            admitted = sum(s["wrk"]["requests"] - s["wrk"]["non_2xx"] for s in ss)
            expected = ss[0]["rate"] * secs + ss[0]["burst"]
            o["accuracy_global"] = {
                "admitted": admitted, "expected": expected, "seconds": secs,
                "per_host_admitted": [s["wrk"]["requests"] - s["wrk"]["non_2xx"] for s in ss],
                "kernel_admitted": sum(s.get("kernel_admitted", 0) for s in ss),
                "offered_per_s": sum(s["wrk"]["requests"] for s in ss) / secs,
                "ratio": admitted / expected}
        ss = [s for s in samples if s.get("phase") == "memory" and s.get("contender") == c]
        if ss:
            s = ss[0]
            if c.startswith("tg_"):
                kib = s.get("agent_rss_kib", 0) + s.get("maps_memlock_kib", 0)
            else:
                kib = s.get("proc_pss_kib", 0) + s.get("redis_rss_kib", 0)
            o["memory"] = dict(s, total_mib=kib / 1024, requests=s["wrk"]["requests"])
            o["memory"].pop("wrk", None)
        if o:
            out[c] = o
    for c, _ in CONTENDERS:
        # side by side: the API port and an unwatched port at the same time
        by_round = {}
        for s in samples:
            if s.get("phase") == "side" and s.get("contender") == c:
                by_round.setdefault(s.get("round"), {})[s.get("port")] = s
        pairs = [v for v in by_round.values() if "api" in v and "other" in v]
        if not pairs:
            continue
        o = out.setdefault(c, {})
        o["side"] = {port: wrk_summary([v[port] for v in pairs]) for port in ("api", "other")}
        for k in ("p50_us", "p99_us"):
            o["side"][f"{k}_ratio"] = spread([v["api"]["wrk"][k] / v["other"]["wrk"][k] for v in pairs
                                              if v["other"]["wrk"][k]])
    ss = [s for s in samples if s.get("phase") == "memory_server"]
    if ss:
        out.setdefault("none", {})["memory"] = {"total_mib": ss[0]["server_pss_kib"] / 1024,
                                                "server_rss_kib": ss[0]["server_rss_kib"]}
    # ratios to each contender's baseline
    for c, o in out.items():
        base = out.get(BASELINE.get(c, ""), {})
        for phase in ("fixed", "saturation"):
            if phase not in o or phase not in base:
                continue
            o[phase]["ratio"] = {k: (o[phase][k]["median"] / base[phase][k]["median"]
                                     if o[phase].get(k) and base[phase].get(k) and
                                     base[phase][k]["median"] else None)
                                 for k in ("rps", "p50_us", "p99_us", "p999_us",
                                           "server_cpu_us_per_req", "client_cpu_us_per_req")}
            o[phase]["ratio"]["baseline"] = BASELINE[c]
            # the same ratios round by round: a round runs every contender
            # back to back, so a slow stretch of the machine hits both sides
            by_round = {}
            for s in samples:
                if s.get("phase") == phase and s.get("contender") in (c, BASELINE[c]):
                    by_round.setdefault(s.get("round"), {})[s["contender"]] = s
            paired = {}
            for k, fn in (("rps", rps), ("p50_us", lambda s: s["wrk"]["p50_us"]),
                          ("server_cpu_us_per_req", server_cpu_us),
                          ("bpf_ns_per_req", bpf_ns)):
                xs = [fn(v[c]) / fn(v[BASELINE[c]]) for v in by_round.values()
                      if c in v and BASELINE[c] in v and fn(v[c]) is not None and
                      fn(v[BASELINE[c]])]
                if xs:
                    paired[k] = spread(xs)
            o[phase]["paired_ratio"] = paired
    return out


def fmt_num(x, digits=0):
    if x is None:
        return "n/a"
    if abs(x) >= 1000 and digits == 0:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def cell(s, digits=0, unit=""):
    if not s:
        return "n/a"
    u = f" {unit}" if unit else ""
    if s["n"] == 1:
        return f"{fmt_num(s['median'], digits)}{u}"
    return (f"{fmt_num(s['median'], digits)}{u} "
            f"({fmt_num(s['min'], digits)}–{fmt_num(s['max'], digits)})")


def verdict(ok):
    return "met" if ok else "**MISSED**"


def cmd_report(args):
    samples = [json.loads(line) for line in open(args.samples) if line.strip()]
    meta = {}
    for kv in args.meta or []:
        k, _, v = kv.partition("=")
        meta[k] = number(v)
    summ = summarize(samples)
    xdp = json.load(open(args.xdp_cost)) if args.xdp_cost else []
    cols = [(c, name) for c, name in CONTENDERS if c in summ]
    targets = {}

    def row(label, fn, target=""):
        cells = []
        for c, _ in cols:
            try:
                v = fn(c, summ[c])
            except (KeyError, TypeError, ZeroDivisionError):
                v = None
            cells.append(v if v is not None else "-")
        print(f"| {label} | " + " | ".join(cells) + f" | {target} |")

    def ratio_txt(c, o, phase, key):
        r = o[phase].get("ratio", {}).get(key)
        if r is None or c in ("none",):
            return ""
        return f" ×{r:.2f}"

    def paired_txt(c, o, phase, key):
        p = o[phase].get("paired_ratio", {}).get(key)
        if not p or c == "none":
            return None
        return f"×{p['median']:.2f} (×{p['min']:.2f}–×{p['max']:.2f})"

    def lat(phase, key):
        return lambda c, o: cell(o[phase][key], 0, "µs") + ratio_txt(c, o, phase, key)

    def bpf_row(phase):
        """ns of tollgate's programs per request (BENCH_BPF_STATS=1), with
        the ratio round by round where the baseline has them too (tg_ab)"""
        if not any(summ[c].get(phase, {}).get("bpf_ns_per_req") for c, _ in cols):
            return
        row(f"{'fixed load' if phase == 'fixed' else phase}: ns of tollgate's programs per "
            "request (BENCH_BPF_STATS=1), ratio round by round",
            lambda c, o: f"{sum(o[phase]['bpf_ns_per_req'].values()):.0f} ns" +
            (f" {paired_txt(c, o, phase, 'bpf_ns_per_req')}"
             if paired_txt(c, o, phase, "bpf_ns_per_req") else ""))

    fr = meta.get("fixed_rps", "?")
    # targets
    tg = summ.get("tg_host", {})
    best_user = None
    for c in USERSPACE:
        v = summ.get(c, {}).get("reject", {}).get("limiter_cpu_s_per_m")
        if v and (best_user is None or v["median"] < best_user[1]):
            best_user = (c, v["median"])
    tg_cpu = tg.get("reject", {}).get("limiter_cpu_s_per_m")
    if tg_cpu and best_user:
        f = best_user[1] / tg_cpu["median"] if tg_cpu["median"] else None
        targets["cpu_per_million_refusals"] = {
            "tollgate": tg_cpu["median"], "best_userspace": best_user[0],
            "best_userspace_value": best_user[1], "factor": f, "target_factor": 20,
            "met": bool(f and f >= 20)}
    # targets: judged on the median of the per-round ratios, and met only if
    # the ratio of the medians agrees
    def paired_target(phase, key, target, ok):
        r = tg.get(phase, {}).get("ratio", {}).get(key)
        p = (tg.get(phase, {}).get("paired_ratio", {}).get(key) or {}).get("median")
        if r is None or p is None:
            return None
        return {"ratio": r, "paired_ratio": p, "target": target, "met": ok(r) and ok(p)}

    for phase in ("fixed", "saturation"):
        t = paired_target(phase, "p50_us", 1.05, lambda x: x <= 1.05)
        if t:
            targets[f"p50_ratio_{phase}"] = t
    side = tg.get("side", {}).get("p50_us_ratio")
    if side:
        targets["p50_ratio_side_by_side"] = {
            "ratio": side["median"], "target": 1.05, "met": side["median"] <= 1.05,
            "control_noop": (summ.get("noop", {}).get("side", {}).get("p50_us_ratio") or {}).get("median")}
    t = paired_target("saturation", "rps", 0.95, lambda x: x >= 0.95)
    if t:
        targets["throughput_ratio_saturation"] = t
    a = tg.get("accuracy")
    if a:
        targets["accuracy_host"] = {"ratio": a["ratio"], "target_pct": 1,
                                    "met": abs(a["ratio"] - 1) <= 0.01}
    a = summ.get("tg_global", {}).get("accuracy_global")
    if a:
        targets["accuracy_global"] = {"ratio": a["ratio"], "target_pct": 5,
                                      "met": abs(a["ratio"] - 1) <= 0.05}

    def tgt(name, text):
        t = targets.get(name)
        if t and "paired_ratio" in t:
            return f"{text} (of the medians and round by round): {verdict(t['met'])}"
        return f"{text}: {verdict(t['met'])}" if t else text

    print()
    print(f"tollgate against userspace gateways: medians of {meta.get('runs', '?')} interleaved "
          f"rounds (min–max), {meta.get('cpus', '?')} CPUs (servers on CPU "
          f"{meta.get('server_cpu', '?')}, wrk on CPU {meta.get('client_cpu', '?')}); "
          f"×r = ratio to the baseline (tollgate and no-op sk_msg: no-op XDP; proxies: no "
          f"gateway; BENCH_AB_BUILD: tollgate (host))")
    print()
    print("| figure | " + " | ".join(name for _, name in cols) + " | target |")
    print("|---|" + "---:|" * len(cols) + "---|")
    row(f"fixed load ({fr} req/s offered): req/s",
        lambda c, o: cell(o["fixed"]["rps"]))
    row("fixed load: p50", lat("fixed", "p50_us"),
        tgt("p50_ratio_fixed", "tollgate ≤ ×1.05"))
    row("fixed load: p50, ratio to the baseline round by round",
        lambda c, o: paired_txt(c, o, "fixed", "p50_us"))
    def side_txt(key):
        def fn(c, o):
            sd = o["side"]
            return (f"{sd['api'][key]['median']:.0f} / {sd['other'][key]['median']:.0f} µs, "
                    f"×{sd[key + '_ratio']['median']:.2f} (×{sd[key + '_ratio']['min']:.2f}–"
                    f"×{sd[key + '_ratio']['max']:.2f})")
        return fn
    half = (meta["fixed_conns"] + 1) // 2 if isinstance(meta.get("fixed_conns"), int) else "?"
    row(f"fixed load side by side ({half} conns to the API port and {half} to a port tollgate "
        f"does not watch, same server, at once): p50 API port / other port, ratio round by round",
        side_txt("p50_us"), tgt("p50_ratio_side_by_side", "tollgate ≤ ×1.05; no-op XDP: the control"))
    row("fixed load side by side: p99 API port / other port, ratio round by round", side_txt("p99_us"))
    row("fixed load: p99", lat("fixed", "p99_us"))
    row("fixed load: p99.9", lat("fixed", "p999_us"))
    bpf_row("fixed")
    row(f"saturation ({meta.get('connections', '?')} conns): req/s",
        lambda c, o: cell(o["saturation"]["rps"]) + ratio_txt(c, o, "saturation", "rps"),
        tgt("throughput_ratio_saturation", "tollgate ≥ ×0.95"))
    row("saturation: req/s, ratio to the baseline round by round",
        lambda c, o: paired_txt(c, o, "saturation", "rps"))
    row(f"saturation: server's CPU (CPU {meta.get('server_cpu', '?')}) µs busy per request",
        lambda c, o: cell(o["saturation"]["server_cpu_us_per_req"], 2) +
        ratio_txt(c, o, "saturation", "server_cpu_us_per_req"))
    row("saturation: server's CPU per request, ratio to the baseline round by round",
        lambda c, o: paired_txt(c, o, "saturation", "server_cpu_us_per_req"))
    bpf_row("saturation")
    row(f"saturation: client's CPU (CPU {meta.get('client_cpu', '?')}) µs busy per request",
        lambda c, o: cell(o["saturation"]["client_cpu_us_per_req"], 2) +
        ratio_txt(c, o, "saturation", "client_cpu_us_per_req"))
    row("saturation: p50", lat("saturation", "p50_us"),
        tgt("p50_ratio_saturation", "tollgate ≤ ×1.05"))
    row("saturation: p99", lat("saturation", "p99_us"))
    row("saturation: p99.9", lat("saturation", "p999_us"))
    row("non-2xx / socket errors in the admitted runs",
        lambda c, o: f"{o['fixed']['non_2xx'] + o['saturation']['non_2xx']} / "
                     f"{o['fixed']['socket_errors'] + o['saturation']['socket_errors']}")
    row("tollgate-agent CPU s per million admitted requests at saturation (metering: one "
        "event each, JSON lines to events_file)",
        lambda c, o: cell(o["saturation"]["agent_cpu_s_per_m_admitted"], 2, "s")
        if c.startswith("tg_") else None)
    row(f"rejection ({meta.get('flood_keys', '?')} keys over their limit): refusals/s",
        lambda c, o: cell(o["reject"]["refusals_per_s"]))
    cpu_txt = ("tollgate ≥ 20× fewer than the best userspace"
               + (f" ({targets['cpu_per_million_refusals']['factor']:.1f}×)"
                  if targets.get("cpu_per_million_refusals", {}).get("factor") else ""))

    def limiter_cpu(c, o):
        v = cell(o["reject"]["limiter_cpu_s_per_m"], 2, "s")
        if c.startswith("tg_"):
            b = o["reject"]["bpf_cpu_s_per_m"]["median"]
            u = o["reject"]["userspace_cpu_s_per_m"]["median"]
            v += f" (BPF {b:.2f} + agent{'+Redis' if c == 'tg_global' else ''} {u:.2f})"
        return v
    row("limiter CPU s per million refusals", limiter_cpu,
        tgt("cpu_per_million_refusals", cpu_txt))
    row("client (wrk) CPU s per million refusals",
        lambda c, o: cell(o["reject"]["client_cpu_s_per_m"], 2, "s"))
    row("API server CPU s per million refusals",
        lambda c, o: cell(o["reject"]["server_cpu_s_per_m"], 2, "s"))
    row("whole machine busy CPU s per million refusals",
        lambda c, o: cell(o["reject"]["machine_cpu_s_per_m"], 2, "s"))
    row("client sockets still closing 1 s after the run (LAST-ACK, CLOSING, FIN-WAIT-1)",
        lambda c, o: cell(o["reject"]["client_closing"]))
    row(f"accuracy, one host, 3× the limit for {meta.get('accuracy_s', '?')} s: admitted ÷ "
        f"(rate × s + burst)",
        lambda c, o: f"{o['accuracy']['ratio']:.4f} ({o['accuracy']['admitted']:,} of "
                     f"{o['accuracy']['expected']:,.0f}; {o['accuracy']['offered_per_s']:,.0f}/s "
                     f"offered)",
        tgt("accuracy_host", "tollgate within 1 %"))
    row("accuracy, global scope, three hosts",
        lambda c, o: f"{o['accuracy_global']['ratio']:.4f} ({o['accuracy_global']['admitted']:,} "
                     f"of {o['accuracy_global']['expected']:,.0f}; "
                     f"{o['accuracy_global']['offered_per_s']:,.0f}/s offered)",
        tgt("accuracy_global", "within 5 %"))
    mk = meta.get("memory_keys", "?")
    row(f"memory at {mk:,} keys, MiB" if isinstance(mk, int) else "memory, MiB",
        lambda c, o: (f"{o['memory']['total_mib']:.1f}" +
                      (f" (agent {o['memory']['agent_rss_kib'] / 1024:.1f} + maps "
                       f"{o['memory']['maps_memlock_kib'] / 1024:.1f})" if c.startswith("tg_") else
                       f" (node {o['memory']['proc_pss_kib'] / 1024:.1f} + Redis "
                       f"{o['memory']['redis_rss_kib'] / 1024:.1f})" if c == "node" else
                       " (API server)" if c == "none" else "")))

    def xdp_row(label, case_re, target_ns=None):
        cases = [x for x in xdp if re.search(case_re, x["case"])]
        if not cases:
            return
        x = cases[0]

        def fn(c, o):
            if c == "noop":
                return f"{x['noop_ns']:.0f} ns"
            if c in ("tg_host", "tg_global"):
                return f"{x['tg_ns']:.0f} ns (+{x['added_ns']:.0f})"
            return None
        t = ""
        if target_ns:
            t = f"added ≤ {target_ns} ns: {verdict(x['added_ns'] <= target_ns)}"
        row(f"per packet, {label} ({x['header_bytes']} header B; BPF_PROG_TEST_RUN)", fn, t)
    xdp_row("admitted request, kept-alive connection", r"^admitted request, kept-alive", 500)
    xdp_row("admitted request, kept-alive, the CPU's caches flushed before it",
            r"^admitted request, kept-alive connection, caches cold")
    xdp_row("refused over_limit (429 in-kernel)", r"^refused over_limit")
    xdp_row("non-request segment", r"^non-request segment \(body\)", 50)
    print()
    for c in ("tg_host", "tg_global", "tg_ab"):
        b = summ.get(c, {}).get("reject", {}).get("bpf_per_refusal")
        if b:
            print(f"{dict(CONTENDERS)[c]}: BPF time per refusal: " + ", ".join(
                f"{k} {v['ns']:.0f} ns over {v['runs']:.1f} runs" for k, v in sorted(b.items())
                if v["runs"]) + ".")
        for phase, at in (("fixed", "at the fixed load"), ("saturation", "at saturation")):
            b = summ.get(c, {}).get(phase, {}).get("bpf_ns_per_req")
            if b:
                print(f"{dict(CONTENDERS)[c]}: BPF time per request {at} (BENCH_BPF_STATS=1, "
                      "medians): " + ", ".join(f"{k} {v:.0f} ns" for k, v in sorted(b.items())
                                              if v) + f"; {sum(b.values()):.0f} ns in all.")
    m = summ.get("tg_host", {}).get("memory", {}).get("maps")
    if isinstance(m, str) and m:
        parts = sorted(((int(v) if v.isdigit() else 0, k) for k, _, v in
                        (x.partition(":") for x in m.split(","))), reverse=True)
        print("tollgate's maps at that size (memlock; hash maps are preallocated to the "
              "configured max_* sizes): " +
              ", ".join(f"{k} {v / 1024:.1f} MiB" for v, k in parts if v >= 512) + ".")
    print("Limiter CPU: tollgate = run_time_ns of its BPF programs (kernel.bpf_stats_enabled) + "
          "tollgate-agent's user+system time (+ its redis-server's in global scope); HAProxy and "
          "nginx = their processes' user+system time; fastify = node + its redis-server. "
          "tollgate answers a refusal with 429 + FIN, so its client reconnects for every "
          "refusal (TCP handshakes the proxies, which keep the connection, do not pay).")

    doc = {"meta": meta, "summary": summ, "targets": targets, "xdp_cost": xdp,
           "samples": samples}
    with open(args.json, "w") as f:
        json.dump(doc, f, indent=2)
    return 0


def cmd_seconds_for(args):
    """whole seconds for COUNT requests at the contender's median saturation
    throughput, a third more, at least 3 and at most 90"""
    xs = [rps(s) for line in open(args.samples) if line.strip()
          for s in [json.loads(line)]
          if s.get("phase") == "saturation" and s.get("contender") == args.contender]
    if not xs:
        return 1
    secs = int(args.count * 4 / 3 / statistics.median(xs)) + 2
    print(max(3, min(90, secs)))
    return 0


PROFILE_HEAD = re.compile(r"^(\d+) samples with program \d+ on the stack \(of (\d+) read\), "
                          r"(\d+) of them in what it called")
PROFILE_LINE = re.compile(r"^\s*(\d+)\s+[\d.]+%\s+(\S+)\s+(\S+) ?(.*)$")


def cmd_profile_merge(args):
    """sum `bpf-lines --calls` tables (one a run, each from its own load of
    the program) by function and source line into one table like theirs"""
    lines, text = {}, {}
    total = read = inner = 0
    for path in args.tables:
        with open(path) as f:
            head = PROFILE_HEAD.match(f.readline())
            if not head:
                print(f"report.py: {path}: not a bpf-lines --calls table", file=sys.stderr)
                return 1
            total += int(head.group(1))
            read += int(head.group(2))
            inner += int(head.group(3))
            for n, line in enumerate(f, 2):
                m = PROFILE_LINE.match(line.rstrip("\n"))
                if not m:
                    print(f"report.py: {path}:{n}: not a line of a bpf-lines table",
                          file=sys.stderr)
                    return 1
                key = (m.group(2), m.group(3))
                lines[key] = lines.get(key, 0) + int(m.group(1))
                text.setdefault(key, m.group(4))
    with open(args.out, "w") as out:
        out.write(f"{total} samples with the program on the stack (of {read} read) in "
                  f"{len(args.tables)} runs, {inner} of them in what it called "
                  "(counted at the line that called)\n")
        for key, count in sorted(lines.items(), key=lambda kv: (-kv[1], kv[0])):
            share = 100.0 * count / total if total else 0.0
            out.write(f"{count:6d} {share:5.1f}%  {key[0]:<24} {key[1]:<22} {text[key]}\n")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("record")
    p.add_argument("samples")
    p.add_argument("wrk_out")
    p.add_argument("fields", nargs="*")
    p = sub.add_parser("report")
    p.add_argument("samples")
    p.add_argument("--xdp-cost")
    p.add_argument("--json", required=True)
    p.add_argument("--meta", nargs="*")
    p = sub.add_parser("seconds-for")
    p.add_argument("samples")
    p.add_argument("contender")
    p.add_argument("count", type=int)
    p = sub.add_parser("profile-merge")
    p.add_argument("out")
    p.add_argument("tables", nargs="+")
    args = ap.parse_args()
    return {"record": cmd_record, "report": cmd_report, "seconds-for": cmd_seconds_for,
            "profile-merge": cmd_profile_merge}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
