#!/usr/bin/env python3
"""run: make bench — every figure beside its budget, and the peer measured in the same run."""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

ROWS = []


def row(what, value, unit, budget="", peer="", ratio=""):
    ROWS.append((what, value if isinstance(value, str) else f"{value:.3g}" if value < 100 else f"{value:.0f}",
                 unit, budget, peer, ratio))
    print(f"  {what}: {ROWS[-1][1]} {unit}", file=sys.stderr, flush=True)


def run_kv(cmd):
    """A bench binary's 'name value unit' lines as a dict."""
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True, timeout=600).stdout
    kv = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            kv[parts[0]] = float(parts[1])
    return kv


def proc_cpu_s(pid):
    """CPU time of every live thread of pid, in seconds, from schedstat (ns: exact, unlike
    the 10 ms ticks of /proc/PID/stat; threads that have exited are not counted, which
    can only flatter a multi-threaded peer)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total / 1e9


def proc_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def bench_ring(build):
    kv = run_kv([os.path.join(build, "bench", "bench_ring")])
    for k, v in kv.items():
        budget = "≤ 200 ns" if k.startswith("ring_write") else "never blocks writer" if "reader" in k else ""
        row(k.replace("_", " "), v, "ns/slot", budget)


def agent_progs(pid):
    from test_agent import agent_progs as progs
    return progs(pid)


def start_agent(build, tmp, **keys):
    from ascale_test import Agent
    return Agent(tmp, **keys)


def bench_agent_vs_node_exporter(build, seconds):
    """Agent at 10 Hz and node_exporter scraped at 1 Hz, side by side over the same seconds."""
    ne_bin = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    with tempfile.TemporaryDirectory(prefix="ascale-bench-") as tmp:
        a = start_agent(build, tmp, sample_interval="100ms", ring_seconds="600", source="auto")
        a.wait_ready()
        ne = None
        if ne_bin:
            ne = subprocess.Popen([ne_bin, "--web.listen-address=127.0.0.1:19100"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)
        a0, n0 = proc_cpu_s(a.proc.pid), proc_cpu_s(ne.pid) if ne else 0
        t0 = time.monotonic()
        scrapes = 0
        while time.monotonic() - t0 < seconds:
            if ne:
                try:
                    urllib.request.urlopen("http://127.0.0.1:19100/metrics", timeout=5).read()
                    scrapes += 1
                except OSError:
                    pass
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t0) % 1.0))
        dt = time.monotonic() - t0
        a_cpu = 100 * (proc_cpu_s(a.proc.pid) - a0) / dt
        a_rss = proc_rss_mib(a.proc.pid)
        source = json.loads(subprocess.run([os.path.join(build, "asctl"), "metrics", "--ring", a.ring,
                                            "--json"], stdout=subprocess.PIPE, text=True).stdout)["source"]
        if ne:
            n_cpu = 100 * (proc_cpu_s(ne.pid) - n0) / dt
            n_rss = proc_rss_mib(ne.pid)
            ne.terminate()
            ne.wait()
        a.stop()
    ratio = f"{n_cpu / a_cpu:.0f}× less (≥ 10×)" if ne and a_cpu > 0 else ""
    row(f"agent CPU at 10 Hz ({source})", a_cpu, "% of a core", "≤ 0.2 %",
        f"node_exporter 1 Hz: {n_cpu:.3g} %" if ne else "node_exporter missing", ratio)
    row("agent RSS", a_rss, "MiB", "≤ 8 MiB",
        f"node_exporter: {n_rss:.1f} MiB" if ne else "", f"{n_rss / a_rss:.1f}× less" if ne else "")
    if ne and scrapes < dt * 0.8:
        print(f"warning: only {scrapes} node_exporter scrapes in {dt:.0f}s", file=sys.stderr)


def bench_ingest(build, agents, seconds, peak_agents=200, peak_seconds=10):
    """(a) agents simulated agents x 8 metrics at 1 Hz into a real ascoord over loopback
    (tests/bench/loadgen): CPU, RSS, losses, and the delay from a frame's arrival (the read()
    that completed it) to its grain being in the store, from ascoord's own histogram;
    (b) peak_agents flooding for peak_seconds: records/s, and per core of ascoord's CPU."""
    from ascale_test import control_request
    from test_ingest import Daemon

    def stats(sock):
        """The control socket's `stats` (asctl agents would list every instance too)."""
        return json.loads(control_request(sock, b'{"v": 1, "command": "stats"}\n', timeout=30))

    def run(n, secs, *extra):
        with tempfile.TemporaryDirectory(prefix="ascale-bench-") as tmp:
            d = Daemon(tmp, max_instances=n + 100)
            try:
                c0 = proc_cpu_s(d.proc.pid)
                t0 = time.monotonic()
                lg = d.loadgen("--agents", str(n), "--metrics", "8", "--seconds", str(secs), *extra)
                dt = time.monotonic() - t0
                cpu_s = proc_cpu_s(d.proc.pid) - c0
                rss = proc_rss_mib(d.proc.pid)
                time.sleep(1)
                ing = stats(d.sock).get("ingest", {})
            finally:
                d.stop()
        return lg, ing, dt, cpu_s, rss

    lg, ing, dt, cpu_s, rss = run(agents, seconds)
    sent = lg.get("loadgen_aggregates_sent", 0)
    got = ing.get("aggregates", 0)
    lat = ing.get("latency_us", {})
    row(f"coordinator ingest CPU ({agents} agents x 8 metrics, 1 Hz)", 100 * cpu_s / dt, "% of a core",
        "≤ 30 %")
    row("coordinator ingest RSS", rss, "MiB", "≤ 256 MiB")
    row("aggregates lost", sent - got, "frames", "0", f"{got} of {sent} stored")
    row("ingest rate", got * 8 / dt, "records/s", "", f"over {dt:.0f} s")
    row("frame read → grain in the store, p99", lat.get("p99", 0), "µs", "",
        f"p50 {lat.get('p50', 0):.3g} µs, max {lat.get('max', 0):.0f} µs, {lat.get('count', 0)} frames")
    row("ACKs: agents whose last aggregate was not acknowledged", lg.get("loadgen_acked_behind", 0),
        "agents", "0", f"{lg.get('loadgen_acks', 0)} ACKs")

    lg, ing, dt, cpu_s, rss = run(peak_agents, peak_seconds, "--flood", "--prefix", "flood-")
    got = ing.get("aggregates", 0)
    lat = ing.get("latency_us", {})
    share = cpu_s / dt if dt else 0
    row(f"peak ingest ({peak_agents} agents flooding, 8 metrics)", got * 8 / dt, "records/s", "",
        f"ascoord at {100 * share:.0f} % of a core")
    row("peak ingest per core of ascoord", got * 8 / cpu_s if cpu_s else 0, "records/s/core",
        "≥ 266,667", "the 1 Hz budget, 80,000 records/s in 30 % of a core, as a rate")
    row("frame read → grain in the store under flood, p99", lat.get("p99", 0), "µs", "",
        f"p50 {lat.get('p50', 0):.3g} µs, max {lat.get('max', 0):.0f} µs")


def bench_wire(build):
    """One 8-metric AGGREGATE: encode with its HMAC, decode with verification."""
    kv = run_kv([os.path.join(build, "bench", "bench_wire")])
    row("wire AGGREGATE encode + HMAC (8 metrics)", kv["wire_aggregate_encode_ns"], "ns/frame")
    row("wire AGGREGATE decode + verify (8 metrics)", kv["wire_aggregate_decode_ns"], "ns/frame",
        "10k agents at 1 Hz: " + f"{kv['wire_aggregate_decode_ns'] * 1e4 / 1e9 * 100:.2f} % of a core")


def bench_engine(build):
    """Engine tick cost (100 settings x 10 rules, 1 h windows at 1 s) and asctl simulate's core on a day."""
    kv = run_kv([os.path.join(build, "bench", "bench_engine")])
    row("engine tick (100 settings x 10 rules)", kv["engine_tick_us"], "µs/tick", "≤ 1000 µs")
    row("engine tick, worst of 2000", kv["engine_tick_max_us"], "µs/tick", "≤ 1000 µs")
    row("engine store (1000 series of 3600 grains)", kv["engine_store_mib"], "MiB")
    row("simulate a day (8.64 M rows, CSV parse included)", kv["simulate_day_s"], "s", "≤ 15 s")
    row("simulate throughput", kv["simulate_rows_per_s"], "rows/s", "≥ 576,000 rows/s")
    row("simulate peak RSS", kv["engine_rss_mib"], "MiB")


def bpf_stats(enable):
    path = "/proc/sys/kernel/bpf_stats_enabled"
    with open(path) as f:
        old = f.read().strip()
    with open(path, "w") as f:
        f.write("1" if enable else "0")
    return old


class NopProgram:
    """tests/bench/nop.bpf.c attached to sched_switch through libbpf: the cost of any hook there."""

    def __init__(self, build):
        import ctypes
        obj_path = os.path.join(build, "bench", "nop.bpf.o")
        subprocess.run(["clang", "-g", "-O2", "-target", "bpf", "-c",
                        os.path.join(HERE, "nop.bpf.c"), "-o", obj_path], check=True)
        lib = self.lib = ctypes.CDLL("libbpf.so.1")
        for name, res, args in (("bpf_object__open_file", ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_void_p]),
                                ("bpf_object__load", ctypes.c_int, [ctypes.c_void_p]),
                                ("bpf_object__next_program", ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_void_p]),
                                ("bpf_program__attach", ctypes.c_void_p, [ctypes.c_void_p]),
                                ("bpf_link__destroy", ctypes.c_int, [ctypes.c_void_p]),
                                ("bpf_object__close", None, [ctypes.c_void_p]),
                                ("libbpf_get_error", ctypes.c_long, [ctypes.c_void_p])):
            getattr(lib, name).restype = res
            getattr(lib, name).argtypes = args
        self.obj = lib.bpf_object__open_file(obj_path.encode(), None)
        if not self.obj or lib.libbpf_get_error(self.obj) or lib.bpf_object__load(self.obj):
            raise OSError("cannot load nop.bpf.o")
        self.link = lib.bpf_program__attach(lib.bpf_object__next_program(self.obj, None))
        if not self.link or lib.libbpf_get_error(self.link):
            raise OSError("cannot attach nop.bpf.o")

    def progs(self):
        out = subprocess.run(["bpftool", "prog", "show", "name", "nop_switch", "--json"],
                             stdout=subprocess.PIPE, text=True).stdout
        p = json.loads(out) if out.strip() else []
        return p if isinstance(p, list) else [p]

    def close(self):
        self.lib.bpf_link__destroy(self.link)
        self.lib.bpf_object__close(self.obj)


def stats_per_run(progs_fn, run):
    """run() with BPF run-time stats on; the programs' ns per run over it."""
    old = bpf_stats(True)
    try:
        before = {p["id"]: p for p in progs_fn()}
        run()
        after = progs_fn()
    finally:
        bpf_stats(old == "1")
    for p in after:
        b = before.get(p["id"], {})
        cnt = p.get("run_cnt", 0) - b.get("run_cnt", 0)
        if cnt > 0:
            return (p.get("run_time_ns", 0) - b.get("run_time_ns", 0)) / cnt
    return None


def bench_hook(build, rounds):
    """The hook's cost per switch (BPF run-time stats) and pipe ping-pong throughput without a
    hook, with the agent, and with an empty program on the same tracepoint, from one run.

    Throughput is measured with run-time stats off (they cost time of their own); the
    per-switch costs are read in separate runs with them on."""
    pingpong = [os.path.join(build, "bench", "pingpong"), "2", str(os.cpu_count() - 1)]
    if os.geteuid() != 0:
        row("eBPF hook", "skipped", "(needs root)")
        return
    run = lambda: run_kv(pingpong)["pingpong_trips_per_s"]
    without, agent, nop = [], [], []
    with tempfile.TemporaryDirectory(prefix="ascale-bench-") as tmp:
        for _ in range(rounds):
            without.append(run())
            a = start_agent(build, tmp, source="ebpf")
            a.wait_ready()
            agent.append(run())
            a.stop()
            n = NopProgram(build)
            nop.append(run())
            n.close()
        a = start_agent(build, tmp, source="ebpf")
        a.wait_ready()
        agent_ns = stats_per_run(lambda: agent_progs(a.proc.pid), run)
        a.stop()
    n = NopProgram(build)
    nop_ns = stats_per_run(n.progs, run)
    n.close()
    if agent_ns is not None and nop_ns is not None:
        row("eBPF hook cost (run-time stats)", agent_ns, "ns/switch", "≤ 100 ns",
            f"empty program: {nop_ns:.0f} ns", f"body ≈ {agent_ns - nop_ns:.0f} ns")
    w0, w1, w2 = (statistics.median(x) for x in (without, agent, nop))
    row("same-CPU ping-pong, agent hooked", w1, "trips/s", "≤ 2 % loss",
        f"no hook {w0:.0f}; empty program {w2:.0f} ({100 * (1 - w2 / w0):+.1f} %)",
        f"{100 * (1 - w1 / w0):+.1f} % loss")


def bench_reaction(build):
    """A load step on a real asagent to the scaling PATCH a real ascoord sends to fake_arm (reaction.py)."""
    from reaction import BUDGET_S, GIVE_UP_S, WINDOW_S, measure
    try:
        m = measure(build)
    except Exception as e:     # a failure is a row in the table, not the end of the bench
        m = {"seconds": None, "error": f"{type(e).__name__}: {e}".splitlines()[0][:120]}
    what = f"reaction: load step → azureml PATCH (Percentage CPU > 40 avg {WINDOW_S}s"
    what += f", {m.get('source', '?')}, {m.get('scope', '?')})"
    budget = f"≤ {BUDGET_S} s (window + 2 s)"
    if m["seconds"] is None or m["error"]:
        row(what, "failed", "s" if m["seconds"] is not None else "", budget,
            m["error"] or f"no PATCH within {GIVE_UP_S} s")
        return
    detail = []
    if m.get("decision_grain_s") is not None:
        detail.append(f"decided on the grain ending at +{m['decision_grain_s']:.1f} s")
    if m.get("observed") is not None:
        detail.append(f"avg {m['observed']:.0f} %")
    row(what, m["seconds"], "s", budget, "Azure autoscale: minutes; Kubernetes HPA: 30–60 s",
        ", ".join(detail))


def print_table():
    head = ("what", "measured", "unit", "budget", "peer / baseline", "ratio")
    widths = [max(len(str(r[i])) for r in ROWS + [head]) for i in range(len(head))]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths))
    print(line)
    print("-" * len(line))
    for r in ROWS:
        print("  ".join(str(c).rjust(w) if i == 1 else str(c).ljust(w)
                        for i, (c, w) in enumerate(zip(r, widths))))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default="build")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--agents", type=int, default=10000)
    ap.add_argument("--ingest-seconds", type=int, default=60)
    ap.add_argument("--only", choices=["reaction", "hook"], help="measure one part only")
    args = ap.parse_args()
    os.environ["ASCALE_BUILD"] = os.path.abspath(args.build)
    build = os.path.abspath(args.build)
    print("measuring (figures vary on a shared machine)...", file=sys.stderr)
    if args.only == "reaction":
        bench_reaction(build)
        print_table()
        return
    if args.only == "hook":
        bench_hook(build, args.rounds)
        print_table()
        return
    bench_ring(build)
    bench_engine(build)
    bench_wire(build)
    bench_ingest(build, args.agents, args.ingest_seconds)
    bench_hook(build, args.rounds)
    bench_agent_vs_node_exporter(build, args.seconds)
    bench_reaction(build)
    print_table()


if __name__ == "__main__":
    main()
