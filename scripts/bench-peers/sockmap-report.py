#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""sockmap-report.py - the report of scripts/bench-sockmap.sh.

  sockmap-report.py SAMPLES --json OUT [--meta K=V...]

SAMPLES holds one JSON line per run (report.py record): phases "fixed" and
"saturation" for the contenders nginx and tg_sockmap, "reject" for
tg_sockmap and nginx_limit. Prints the markdown table (medians with min-max
over the rounds; ×r = tollgate's median over nginx's alone, or, for the
rejection, tollgate's setup over nginx limit_req) and writes the samples, the
summary and the meta data to OUT.
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import cell, number, rps, spread, wrk_summary  # noqa: E402

COLUMNS = [
    ("nginx", "nginx TLS, no limiter"),
    ("tg_sockmap", "nginx TLS + tollgate (sockmap)"),
    ("nginx_limit", "nginx TLS + limit_req"),
]


def socket_errors(w):
    return w["connect_errors"] + w["read_errors"] + w["write_errors"] + w["timeouts"]


def per_million(value, count):
    return value / count * 1e6 if count else None


def summarize(samples):
    out = {}
    for c, _ in COLUMNS:
        o = {}
        for phase in ("fixed", "saturation"):
            ss = [s for s in samples if s.get("phase") == phase and s.get("contender") == c]
            if not ss:
                continue
            o[phase] = wrk_summary(ss)
            o[phase]["nginx_cpu_s_per_m"] = spread([per_million(s["nginx_cpu_s"], s["wrk"]["requests"])
                                                    for s in ss])
            if c == "tg_sockmap":
                o[phase]["agent_cpu_s_per_m"] = spread(
                    [per_million(s["agent_cpu_s"], s["wrk"]["requests"]) for s in ss])
        ss = [s for s in samples if s.get("phase") == "reject" and s.get("contender") == c]
        for s in ss:
            b0, b1 = s.get("bpf_before") or {}, s.get("bpf_after") or {}
            s["bpf_progs"] = {k: [v[0] - b0.get(k, [0, 0])[0], v[1] - b0.get(k, [0, 0])[1]]
                              for k, v in b1.items()}
            s["bpf_s"] = sum(v[0] for v in s["bpf_progs"].values()) / 1e9
            q0, q1 = s.get("answers_before") or {}, s.get("answers_after") or {}
            s["answers"] = {k: v - q0.get(k, 0) for k, v in q1.items() if v - q0.get(k, 0)}
            s["refusals"] = s["wrk"]["non_2xx"]
            s["tollgate_cpu_s"] = s["bpf_s"] + s["agent_cpu_s"]
            s["server_side_cpu_s"] = s["nginx_cpu_s"] + s["agent_cpu_s"] + s["server_cpu_s"]
        if ss:
            def pm(field):
                return spread([per_million(s[field], s["refusals"]) for s in ss])
            secs = [s["wrk"]["duration_us"] / 1e6 for s in ss]
            o["reject"] = {
                "refusals_per_s": spread([s["refusals"] / t for s, t in zip(ss, secs)]),
                "admitted_per_s": spread([(s["wrk"]["requests"] - s["refusals"]) / t
                                          for s, t in zip(ss, secs)]),
                "bpf_cpu_s_per_m": pm("bpf_s"),
                "agent_cpu_s_per_m": pm("agent_cpu_s"),
                "tollgate_cpu_s_per_m": pm("tollgate_cpu_s"),
                "nginx_cpu_s_per_m": pm("nginx_cpu_s"),
                "server_cpu_s_per_m": pm("server_cpu_s"),
                "server_side_cpu_s_per_m": pm("server_side_cpu_s"),
                "client_cpu_s_per_m": pm("client_cpu_s"),
                "machine_cpu_s_per_m": pm("machine_cpu_s"),
                "socket_errors": sum(socket_errors(s["wrk"]) for s in ss),
                "answers": {k: sum(s["answers"].get(k, 0) for s in ss)
                            for k in sorted({k for s in ss for k in s["answers"]})},
                "refusals": sum(s["refusals"] for s in ss),
            }
            progs = sorted({k for s in ss for k in s["bpf_progs"]})
            if progs:
                o["reject"]["bpf_per_refusal"] = {
                    k: {"ns": statistics.median(s["bpf_progs"].get(k, [0, 0])[0] /
                                                max(1, s["refusals"]) for s in ss),
                        "runs": statistics.median(s["bpf_progs"].get(k, [0, 0])[1] /
                                                  max(1, s["refusals"]) for s in ss)}
                    for k in progs}
        if o:
            out[c] = o

    # tollgate over nginx alone, admitted path: the ratio of the medians, and
    # the spread of the per-round ratios (the rounds are interleaved)
    tg, base = out.get("tg_sockmap", {}), out.get("nginx", {})
    for phase in ("fixed", "saturation"):
        if phase not in tg or phase not in base:
            continue
        ratio = {}
        for k in ("rps", "p50_us", "p99_us", "p999_us"):
            ratio[k] = tg[phase][k]["median"] / base[phase][k]["median"] \
                if base[phase][k]["median"] else None
            per_round = []
            by_round = {s["round"]: s for s in samples
                        if s.get("phase") == phase and s.get("contender") == "nginx"}
            for s in samples:
                if s.get("phase") == phase and s.get("contender") == "tg_sockmap" and \
                        s["round"] in by_round:
                    b = by_round[s["round"]]
                    bv = rps(b) if k == "rps" else b["wrk"][k]
                    tv = rps(s) if k == "rps" else s["wrk"][k]
                    if bv:
                        per_round.append(tv / bv)
            ratio[k + "_per_round"] = spread(per_round)
        tg[phase]["ratio"] = ratio
    # tollgate's setup over nginx limit_req, rejection
    tr, nr = tg.get("reject"), out.get("nginx_limit", {}).get("reject")
    if tr and nr:
        tr["ratio_to_limit_req"] = {
            k: (tr[k]["median"] / nr[k]["median"] if tr[k] and nr[k] and nr[k]["median"]
                else None)
            for k in ("refusals_per_s", "nginx_cpu_s_per_m", "server_side_cpu_s_per_m",
                      "machine_cpu_s_per_m")}
    return out


def cmd_report(args):
    samples = [json.loads(line) for line in open(args.samples) if line.strip()]
    meta = {}
    for kv in args.meta or []:
        k, _, v = kv.partition("=")
        meta[k] = number(v)
    summ = summarize(samples)
    cols = [(c, name) for c, name in COLUMNS if c in summ]

    def row(label, fn):
        cells = []
        for c, _ in cols:
            try:
                v = fn(c, summ[c])
            except (KeyError, TypeError, ZeroDivisionError):
                v = None
            cells.append(v if v is not None else "-")
        print(f"| {label} | " + " | ".join(cells) + " |")

    def adm_ratio(c, o, phase, key):
        if c != "tg_sockmap":
            return ""
        r = o[phase].get("ratio", {}).get(key)
        return f" ×{r:.2f}" if r is not None else ""

    def adm(phase, key, unit="", digits=0):
        return lambda c, o: (cell(o[phase][key], digits, unit) + adm_ratio(c, o, phase, key)
                             if c != "nginx_limit" else None)

    def rej_ratio(c, o, key):
        if c != "tg_sockmap":
            return ""
        r = o["reject"].get("ratio_to_limit_req", {}).get(key)
        return f" ×{r:.2f}" if r is not None else ""

    def rej(key, digits=2, unit="s"):
        return lambda c, o: cell(o["reject"][key], digits, unit) + rej_ratio(c, o, key)

    print()
    print(f"sockmap mode behind nginx with TLS (scripts/bench-sockmap.sh): medians of "
          f"{meta.get('runs', '?')} interleaved rounds (min–max), {meta.get('cpus', '?')} CPUs "
          f"(nginx, API server and agent on CPU {meta.get('server_cpu', '?')}, wrk over HTTPS on "
          f"CPU {meta.get('client_cpu', '?')}); ×r = tollgate over nginx alone (admitted path), "
          f"over nginx limit_req (rejection)")
    print()
    print("| figure | " + " | ".join(name for _, name in cols) + " |")
    print("|---|" + "---:|" * len(cols))
    row(f"fixed load ({meta.get('fixed_rps', '?')} req/s offered): req/s", adm("fixed", "rps"))
    row("fixed load: p50", adm("fixed", "p50_us", "µs"))
    row("fixed load: p99", adm("fixed", "p99_us", "µs"))
    row(f"saturation ({meta.get('connections', '?')} conns): req/s", adm("saturation", "rps"))
    row("saturation: p50", adm("saturation", "p50_us", "µs"))
    row("saturation: p99", adm("saturation", "p99_us", "µs"))
    row("non-2xx / socket errors in the admitted runs",
        lambda c, o: f"{o['fixed']['non_2xx'] + o['saturation']['non_2xx']} / "
                     f"{o['fixed']['socket_errors'] + o['saturation']['socket_errors']}")
    row("front nginx CPU s per million admitted requests at saturation",
        adm("saturation", "nginx_cpu_s_per_m", "s", 1))
    row("tollgate-agent CPU s per million admitted requests at saturation (metering)",
        lambda c, o: cell(o["saturation"]["agent_cpu_s_per_m"], 2, "s")
        if c == "tg_sockmap" else None)
    row(f"rejection ({meta.get('flood_keys', '?')} keys over their limit): refusals/s",
        lambda c, o: cell(o["reject"]["refusals_per_s"]) + rej_ratio(c, o, "refusals_per_s"))
    row("(a) tollgate's own CPU s per million refusals: BPF + agent",
        lambda c, o: (cell(o["reject"]["tollgate_cpu_s_per_m"], 2, "s") +
                      f" ({o['reject']['bpf_cpu_s_per_m']['median']:.2f} + "
                      f"{o['reject']['agent_cpu_s_per_m']['median']:.2f})")
        if c == "tg_sockmap" else None)
    row("(b) front nginx CPU s per million refusals", rej("nginx_cpu_s_per_m"))
    row("API server CPU s per million refusals", rej("server_cpu_s_per_m"))
    row("server side: front nginx + agent + API server, CPU s per million refusals",
        rej("server_side_cpu_s_per_m"))
    row("client (wrk) CPU s per million refusals", rej("client_cpu_s_per_m"))
    row("whole machine busy CPU s per million refusals", rej("machine_cpu_s_per_m"))
    row("refusals answered 429 (responder: over_limit answers)",
        lambda c, o: (f"{o['reject']['answers'].get('over_limit', 0):,} of "
                      f"{o['reject']['refusals']:,}") if c == "tg_sockmap" else
        f"{o['reject']['refusals']:,} (all 429)" if c == "nginx_limit" else None)
    print()
    b = summ.get("tg_sockmap", {}).get("reject", {}).get("bpf_per_refusal")
    if b:
        print("tollgate: BPF time per refusal: " + ", ".join(
            f"{k} {v['ns']:.0f} ns over {v['runs']:.1f} runs" for k, v in sorted(b.items())
            if v["runs"]) + ".")
    print("(a) = run_time_ns of tollgate's BPF programs (kernel.bpf_stats_enabled) + "
          "tollgate-agent's user+system time, its refusal responder thread included. "
          "(b) = the front nginx's processes' user+system time; tg_skmsg runs inside nginx's "
          "write to the API server, so (b) contains most of (a)'s BPF time too: add the agent, "
          "not (a), to (b) for tollgate's setup (the server-side row does). With tollgate a "
          "refusal costs nginx a failed write, a retry on a new connection to the responder "
          "and a new upstream connection to the API server (the refused one is closed), and "
          "one error-log line at level alert (writev() failed (13: Permission denied)); "
          "limit_req answers 429 itself on the kept-alive connection and logs one "
          "\"limiting requests\" line (level error, its default). Both nginx log at level "
          "error, nginx's default.")

    doc = {"meta": meta, "summary": summ, "samples": samples}
    with open(args.json, "w") as f:
        json.dump(doc, f, indent=2)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("samples")
    ap.add_argument("--json", required=True)
    ap.add_argument("--meta", nargs="*")
    return cmd_report(ap.parse_args())


if __name__ == "__main__":
    sys.exit(main())
