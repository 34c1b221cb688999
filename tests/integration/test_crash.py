"""test_crash: kill -9 the real ascoord before, during and after scale operations; a randomized run with faults.

An asagent streams to ascoord, whose setting scales an azureml deployment played by tests/servers/fake_arm.py.
The rule fires whenever there is data (Percentage CPU >= 0), so the coordinator scales out once per cooldown.
"""

import json
import os
import random
import signal
import time
import unittest

from ascale_test import (Agent, Ascoord, TempDir, azureml_section, coordinator_section, free_port, section,
                         write_keys, write_token)
from test_backends import TOKEN, FakeArm


class Stack(Ascoord):
    """fake_arm, one asagent and an ascoord that can be killed and started again on the same state_dir."""

    def __init__(self, tmp, capacity=2, min_count=2, max_count=6, cooldown="30s", reconcile="1h"):
        self.tmp = tmp
        self.fake = FakeArm(capacity=capacity, lifetime=900)
        self.state = os.path.join(tmp, "state")
        self.port = free_port()
        self.keys = write_keys(os.path.join(tmp, "keys"))
        token_file = write_token(os.path.join(tmp, "arm.token"), TOKEN)
        self.exits = []

        def config(sock):
            return (coordinator_section(sock, self.state, settle="200ms", startup_grace="3s",
                                        reconcile_every=reconcile, listen="127.0.0.1:%d" % self.port,
                                        key_file=self.keys) +
                    azureml_section(self.fake.port, token_file, poll_interval="200ms", retry_delay="100ms",
                                    retry_max="1s", max_attempts=4) +
                    section("profile web default", min_count=min_count, max_count=max_count,
                            count=min_count) +
                    section("rule web default out", condition="Percentage CPU >= 0 avg 2s",
                            timegrain="avg 1s", scale="out 1", cooldown=cooldown))
        super().__init__(tmp, config)
        agent_dir = os.path.join(tmp, "agent")
        os.mkdir(agent_dir)
        self.agent = Agent(agent_dir, source="procfs", instance="i1", deployment="blue",
                           endpoint="my-endpoint", coordinator="127.0.0.1:%d" % self.port,
                           key_file=self.keys, report_interval="1s")

    def start(self, log_mode="a"):
        """Every start, the first one too, marked in the log."""
        with open(self.logpath, log_mode) as log:
            log.write("---- start ----\n")
        super().start("a")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.exits.append(self.proc.wait(10))
        os.unlink(self.sock)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.exits.append(self.proc.wait(10))
        self.agent.stop()
        self.fake.stop()

    def status(self):
        """The setting's status, or None while ascoord does not answer."""
        try:
            return super().status()
        except AssertionError:
            return None

    def patches(self):
        return [json.loads(r["body"])["sku"]["capacity"] for r in self.fake.requests("PATCH")]

    def history(self, event=None):
        path = os.path.join(self.state, "history.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            recs = [json.loads(line) for line in f]
        return [r for r in recs if event is None or r["event"] == event]

    def saved(self):
        with open(os.path.join(self.state, "state.json")) as f:
            return json.load(f)["settings"]["web"]

    def wait(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            v = pred()
            if v:
                return v
            if self.proc.poll() is not None:
                raise AssertionError("ascoord exited: " + self.output())
            if time.monotonic() > deadline:
                raise AssertionError("%s: not within %ss\n%s" % (what, timeout, self.output()))
            time.sleep(0.1)


class Crash(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root (control socket group, state under a root-owned tmp)")
        self.tmpdir = TempDir()
        self.tmp = self.tmpdir.__enter__()
        self.addCleanup(self.tmpdir.__exit__, None, None, None)

    def stack(self, **kw):
        s = Stack(self.tmp, **kw)
        self.addCleanup(s.stop)
        return s

    def assert_once(self, s, capacity):
        """One PATCH to capacity, and one scale record in the history, which succeeded."""
        self.assertEqual(s.patches().count(capacity), 1, s.output())
        recs = [r for r in s.history("scale") if r["to"] == capacity]
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(recs[0]["outcome"], "succeeded", recs)
        self.assertEqual(len({r["id"] for r in s.history()}), len(s.history()))
        return recs[0]

    def test_kill_before_an_operation(self):
        s = self.stack()
        s.kill9()
        self.assertEqual(s.patches(), [])
        s.start()
        s.wait(lambda: 3 in s.patches(), 30, "the first scale-out")
        s.wait(lambda: s.history("scale"), 10, "its history record")
        self.assert_once(s, 3)

    def test_kill_during_an_operation(self):
        s = self.stack()
        s.fake.call("/_fake/config", {"op_seconds": 4})   # Azure's operation takes 4 s, polled or not
        s.wait(lambda: 3 in s.patches(), 30, "the PATCH to 3")
        s.kill9()
        saved = s.saved()
        self.assertEqual(saved["operation"]["capacity"], 3, saved)
        self.assertEqual(s.history("scale"), [])
        s.start()
        st = s.wait(lambda: (lambda t: t if t and t["count"] == 3 and t["state"] == "running" else None)(
            s.status()), 30, "the operation finished after the restart")
        rec = s.wait(lambda: s.history("scale"), 10, "its history record")[0]
        self.assertEqual(rec["id"], saved["operation"]["id"])
        self.assertTrue(rec.get("after_restart"), rec)
        self.assertIsNone(s.saved()["operation"])
        # the cooldown the action started still holds: no second scale-out for a while
        self.assertGreater(st["cooldown_left_s"], 10, st)
        time.sleep(5)
        self.assertEqual(s.patches(), [3], s.output())
        self.assert_once(s, 3)
        self.assertIn("in cooldown until", s.output())

    def test_kill_after_an_operation(self):
        s = self.stack()
        s.fake.call("/_fake/config", {"patch_status": 200, "polls": 0})
        s.wait(lambda: s.history("scale"), 30, "the first scale-out")
        s.kill9()
        s.start()
        s.wait(lambda: (lambda t: t and t["state"] == "running" and t["ticks"] > 3)(s.status()), 30,
               "evaluating again")
        time.sleep(3)
        self.assertEqual(s.patches(), [3], s.output())
        self.assert_once(s, 3)
        self.assertGreater(s.status()["cooldown_left_s"], 5)

    def test_random_faults_keep_the_count_in_bounds(self):
        """Faults, counts changed behind its back and kill -9 at random: every PATCH within [2, 5]."""
        # a fixed seed in make check; ASCALE_TEST_SEED=0 draws one, ASCALE_TEST_SECONDS runs longer
        seed = int(os.environ.get("ASCALE_TEST_SEED", "5")) or random.randrange(1, 1 << 30)
        rnd = random.Random(seed)
        s = self.stack(capacity=2, min_count=2, max_count=5, cooldown="2s", reconcile="1s")
        deadline = time.monotonic() + float(os.environ.get("ASCALE_TEST_SECONDS", "40"))
        kills = 0
        while time.monotonic() < deadline:
            time.sleep(rnd.uniform(0.5, 2.0))
            what = rnd.random()
            if what < 0.35:
                s.fake.call("/_fake/faults", {"next": [rnd.choice(
                    [500, 503, {"status": 429, "retry_after": 1}, "drop", "slow:1", 409])]})
            elif what < 0.7:
                s.fake.call("/_fake/capacity", {"capacity": rnd.randint(0, 9)})
            elif what < 0.8 and kills < 3:
                s.kill9()
                kills += 1
                s.start()
            elif what < 0.9:
                s.fake.call("/_fake/config", {"patch_status": rnd.choice([200, 202]),
                                              "polls": rnd.randint(0, 2)})
        sent = s.patches()
        self.assertTrue(sent, "no PATCH at all: " + s.output())
        self.assertTrue(all(2 <= c <= 5 for c in sent), "seed %d: %s" % (seed, sent))
        self.assertEqual(s.exits, [-signal.SIGKILL] * kills)
        self.assertNotIn(TOKEN, s.output())
        for rec in s.history():
            if rec["event"] == "scale":
                self.assertTrue(2 <= rec["to"] <= 5, rec)


if __name__ == "__main__":
    unittest.main()
