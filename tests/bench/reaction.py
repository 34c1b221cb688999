#!/usr/bin/env python3
"""reaction: a load step on a real asagent → the azureml PATCH a real ascoord sends to fake_arm, end to end on loopback.

Run alone with `python3 tests/bench/reaction.py [--build build]`; tests/bench/run.py calls measure().
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

WINDOW_S = 10           # the rule's window: Percentage CPU > 40 avg 10s
BUDGET_S = WINDOW_S + 2  # DESIGN.md: load step → scaling API call ≤ window + 2 s
GIVE_UP_S = 60


def make_cgroup():
    """A cgroup of our own for the load (the agent measures only it, so that whatever else runs on
    this shared machine neither scales early nor late), or None: the whole machine is measured."""
    from ascale_test import cgroup2_mount
    root = cgroup2_mount() if os.geteuid() == 0 else None
    if not root:
        return None
    cg = os.path.join(root, "ascale-bench-reaction-%d" % os.getpid())
    try:
        os.mkdir(cg)
    except OSError:
        return None
    return cg


def measure(build):
    """{"seconds": load step → PATCH or None, "error": str or None, "source": the agent's, "scope":
    "cgroup" or "machine", "baseline"/"observed": the window's average before the step and at the
    decision, "decision_grain_s": the decided grain's end after the step}."""
    os.environ.setdefault("ASCALE_BUILD", build)
    from ascale_test import (Agent, Load, TempDir, azureml_section, coordinator_section, free_port,
                             parse_time, section, wait_for, write_keys)
    from test_backends import TOKEN, Coordinator, FakeArm

    out = {"seconds": None, "error": None, "source": "?", "scope": "machine", "observed": None,
           "baseline": None, "decision_grain_s": None}
    loads, agent, coord, cg = [], None, None, make_cgroup()
    fake = FakeArm(capacity=2, lifetime=GIVE_UP_S + 120)
    tmpdir = TempDir()
    tmp = tmpdir.__enter__()
    try:
        port = free_port()
        keys = write_keys(os.path.join(tmp, "keys"))
        state = os.path.join(tmp, "state")
        os.mkdir(state)

        def conf(sock):
            return (coordinator_section(sock, state, settle="1s", startup_grace=0, reconcile_every="1h",
                                        listen="127.0.0.1:%d" % port, key_file=keys) +
                    azureml_section(fake.port, os.path.join(tmp, "arm.token"), poll_interval="100ms",
                                    retry_delay="100ms") +
                    section("profile web default", min_count=1, max_count=10, count=2) +
                    section("rule web default scale-out", condition="Percentage CPU > 40 avg %ds" % WINDOW_S,
                            timegrain="avg 1s", scale="out 1"))
        coord = Coordinator(tmp, fake.port, TOKEN, conf)
        adir = os.path.join(tmp, "agent")
        os.mkdir(adir)
        extra = {"cgroup": cg} if cg else {}
        agent = Agent(adir, source="auto", instance="vm-a", deployment="blue", endpoint="my-endpoint",
                      coordinator="127.0.0.1:%d" % port, key_file=keys, report_interval="1s", **extra)
        m = agent.wait_ready()
        out["source"] = m.get("source", "?")
        out["scope"] = "cgroup" if cg else "machine"

        # steady before the step: the count read (2), the agent live, a full window of idle grains
        st = wait_for(lambda: (lambda s: s if s["count"] == 2 and s["instances"]["live"] == 1 and
                               s["rules"][0].get("observed") is not None else None)(coord.status()), 20)
        if not st:
            out["error"] = "not steady in 20 s: %s" % json.dumps(coord.status())
            return out
        t0 = st["ticks"]
        st = wait_for(lambda: (lambda s: s if s["ticks"] >= t0 + WINDOW_S + 1 else None)(coord.status()),
                      WINDOW_S + 10)
        if not st:
            out["error"] = "ascoord does not tick"
            return out
        out["baseline"] = st["rules"][0].get("observed")
        if fake.requests("PATCH"):
            out["error"] = "scaled before the load step (baseline %s %%)" % out["baseline"]
            return out

        # the step: a spinner on every CPU
        step = time.time()
        for cpu in range(os.cpu_count()):
            loads.append(Load(cpu, 100, cgroup=cg))
        patches = wait_for(lambda: fake.requests("PATCH"), GIVE_UP_S, step=0.05)
        if not patches:
            out["error"] = "no PATCH within %d s" % GIVE_UP_S
            return out
        out["seconds"] = patches[0]["time"] - step
        body = json.loads(patches[0]["body"])
        if body != {"sku": {"capacity": 3}}:
            out["error"] = "unexpected PATCH %s" % patches[0]["body"]
        # the decision behind it, once the set completed: the window's average and its grain's end
        dec = wait_for(lambda: coord.status().get("last_action"), 5) or {}
        rules = [r for r in (dec.get("decision") or dec).get("rules", []) if r.get("rule") == "scale-out"]
        if rules:
            out["observed"] = rules[0].get("observed")
        if dec.get("time"):
            out["decision_grain_s"] = parse_time(dec["time"]) - step
        return out
    finally:
        for l in loads:
            l.stop()
        if agent:
            agent.stop()
        if coord:
            coord.stop()
        fake.stop()
        if cg:
            for _ in range(50):
                try:
                    os.rmdir(cg)
                    break
                except OSError:
                    time.sleep(0.1)
        tmpdir.__exit__(None, None, None)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    os.environ["ASCALE_BUILD"] = build
    print(json.dumps(measure(build)))


if __name__ == "__main__":
    main()
