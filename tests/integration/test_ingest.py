"""test_ingest: the real ascoord taking agent streams from tests/bench/loadgen: registry, staleness, faults, limits."""

import json
import os
import signal
import socket
import subprocess
import time
import unittest

from ascale_test import (ASCOORD, BUILD, Ascoord, TempDir, ascoord_check, coordinator_section, free_port,
                         section, wait_for, write_keys)

LOADGEN = os.path.join(BUILD, "bench", "loadgen")


def config_text(sock, port, keys, max_instances, state):
    """A sim endpoint of 3 instances, 2 to 5, listening on port for agents with a key of keys; one rule
    names Percentage CPU by its alias."""
    return (coordinator_section(sock, state, settle="2s", startup_grace=0, listen="127.0.0.1:%d" % port,
                                key_file=keys, max_instances=max_instances) +
            section("autoscale web", deployment="blue", endpoint="my-endpoint", backend="sim") +
            section("profile web default", min_count=2, max_count=5, count=3) +
            section("rule web default scale-out", condition="CpuUtilizationPercentage > 70 avg 3s",
                    timegrain="avg 1s", scale="out 2") +
            section("rule web default scale-in", condition="Percentage CPU < 30 avg 3s", timegrain="avg 1s",
                    scale="in 1"))


class Daemon(Ascoord):
    def __init__(self, tmp, max_instances=1000):
        self.tmp = tmp
        self.port = free_port()
        self.keys = write_keys(os.path.join(tmp, "keys"))
        super().__init__(tmp, lambda sock: config_text(sock, self.port, self.keys, max_instances, tmp))

    def agents(self):
        return json.loads(self.asctl("agents", "--json"))

    def loadgen(self, *args, keys=None, wait=True):
        cmd = [LOADGEN, "--port", str(self.port), "--key-file", keys or self.keys, *args]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if not wait:
            return p
        out, err = p.communicate(timeout=120)
        if p.returncode != 0:
            raise AssertionError(f"loadgen failed: {err}")
        return {line.split()[0]: int(line.split()[1]) for line in out.splitlines()}


@unittest.skipUnless(os.path.exists(LOADGEN), "build/bench/loadgen not built")
class TestIngest(unittest.TestCase):
    def setUp(self):
        self.tmpdir = TempDir()
        self.tmp = self.tmpdir.__enter__()
        self.d = None

    def tearDown(self):
        if self.d:
            rc = self.d.stop()
            self.assertEqual(rc, 0, self.d.output())
        self.tmpdir.__exit__(None, None, None)

    def test_stream_alias_and_goodbye(self):
        self.d = Daemon(self.tmp)
        p = self.d.loadgen("--agents", "50", "--metrics", "8", "--seconds", "6", "--cpu", "80",
                           wait=False)
        time.sleep(4.5)
        a = self.d.agents()
        live = [x for x in a["agents"] if x["state"] == "live"]
        self.assertEqual(len(live), 50, a["ingest"])
        for x in live:
            self.assertEqual(x["deployment"], "blue")
            self.assertIsNotNone(x["connection"])
            self.assertEqual(len(x["metrics"]), 8)
            self.assertEqual(x["metrics"]["Percentage CPU"]["last"], 80.0)
            self.assertEqual(x["metrics"]["Percentage CPU"]["max"], 85.0)
            self.assertLess(abs(x["clock_offset_ms"]), 1000)
        # the rule naming the alias sees the data "Percentage CPU" carries
        st = self.d.status()
        rules = {r["rule"]: r for r in st["rules"]}
        self.assertAlmostEqual(rules["scale-out"]["observed"], 80.0, places=3, msg=st)
        self.assertAlmostEqual(rules["scale-in"]["observed"], 80.0, places=3, msg=st)
        self.assertEqual(st["instances"], {"live": 50, "stale": 0})
        table = self.d.asctl("agents")
        self.assertIn("Percentage-CPU", table.splitlines()[0])
        out, err = p.communicate(timeout=30)
        kv = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()}
        self.assertEqual(kv["loadgen_frames_refused"], 0)
        self.assertEqual(kv["loadgen_connect_failures"], 0)
        # every frame sent was accepted, nothing counted as bad
        ing = wait_for(lambda: (lambda i: i if i["frames"] == kv["loadgen_frames_sent"] else None)(
            self.d.agents()["ingest"]), 5)
        self.assertIsNotNone(ing, self.d.agents()["ingest"])
        for k in ("bad_length", "bad_version", "unknown_key", "bad_hmac", "replayed", "malformed",
                  "future_samples", "refused_limit"):
            self.assertEqual(ing[k], 0, k)
        # GOODBYE: stale at once; status counts them
        st = wait_for(lambda: (lambda s: s if s["instances"]["stale"] == 50 else None)(
            self.d.status()), 3 + 2)
        self.assertEqual(st["instances"], {"live": 0, "stale": 50}, st)
        self.assertIn("said goodbye", self.d.output())

    def test_acks_and_latency(self):
        self.d = Daemon(self.tmp)
        kv = self.d.loadgen("--agents", "10", "--seconds", "4", "--rate", "4")
        self.assertEqual(kv["loadgen_sessions"], 10)
        self.assertEqual(kv["loadgen_connections_closed"], 0)
        # 1.1: ACKs came, and each agent's last one names its last aggregate
        self.assertGreater(kv["loadgen_acks"], 0, kv)
        self.assertLessEqual(kv["loadgen_acks"], kv["loadgen_aggregates_sent"], kv)
        self.assertEqual(kv["loadgen_acked_behind"], 0, kv)
        ing = self.d.agents()["ingest"]
        self.assertGreaterEqual(ing["acks"], kv["loadgen_acks"], ing)
        # the read-to-stored delay of every aggregate
        lat = ing["latency_us"]
        self.assertEqual(lat["count"], ing["aggregates"], ing)
        self.assertEqual(lat["count"], kv["loadgen_aggregates_sent"], ing)
        self.assertGreater(lat["p50"], 0, lat)
        self.assertLessEqual(lat["p50"], lat["p99"])
        self.assertLessEqual(lat["p99"], lat["max"])
        self.assertLess(lat["max"], 10e6, lat)
        # a 1.0 agent gets no ACK and keeps working
        kv = self.d.loadgen("--agents", "5", "--seconds", "3", "--minor", "0", "--prefix", "old-")
        self.assertEqual(kv["loadgen_sessions"], 5)
        self.assertEqual(kv["loadgen_acks"], 0)
        self.assertEqual(kv["loadgen_frames_skipped"], 0)
        self.assertEqual(kv["loadgen_connections_closed"], 0)
        self.assertGreater(kv["loadgen_aggregates_sent"], 0)
        ing2 = self.d.agents()["ingest"]
        self.assertEqual(ing2["acks"], ing["acks"], ing2)
        self.assertEqual(ing2["aggregates"], ing["aggregates"] + kv["loadgen_aggregates_sent"], ing2)
        for k in ("bad_hmac", "replayed", "malformed", "closed_error"):
            self.assertEqual(ing2[k], 0, k)

    def test_killed_agents_go_stale(self):
        self.d = Daemon(self.tmp)
        p = self.d.loadgen("--agents", "20", "--seconds", "60", wait=False)
        self.assertTrue(wait_for(lambda: self.d.status()["instances"]["live"] == 20, 10), self.d.status())
        p.send_signal(signal.SIGKILL)
        p.communicate()
        t0 = time.monotonic()
        # three report intervals of 1 s, plus the once-a-second sweep, plus slack
        st = wait_for(lambda: (lambda s: s if s["instances"]["stale"] == 20 else None)(
            self.d.status()), 3 + 1 + 2)
        self.assertIsNotNone(st, self.d.status())
        self.assertGreater(time.monotonic() - t0, 1.5)
        self.assertIn("stale: nothing for", self.d.output())
        # they come back: the same instances, a new boot
        kv = self.d.loadgen("--agents", "20", "--seconds", "2")
        self.assertEqual(kv["loadgen_frames_refused"], 0)
        a = self.d.agents()
        self.assertEqual(len(a["agents"]), 20)
        self.assertEqual(a["ingest"]["returned"], 20)

    def test_bad_input_closes_and_counts(self):
        self.d = Daemon(self.tmp)
        # a key id the coordinator does not know
        other = write_keys(os.path.join(self.tmp, "other"), key_id=7)
        kv = self.d.loadgen("--agents", "3", "--seconds", "1", "--prefix", "badkey-", keys=other)
        self.assertEqual(kv["loadgen_sessions"], 0)
        # every 3rd frame with a corrupted HMAC
        kv = self.d.loadgen("--agents", "5", "--seconds", "3", "--bad-hmac", "3", "--prefix", "hmac-")
        self.assertGreater(kv["loadgen_frames_corrupted"], 0)
        # garbage, a frame of another major, and a frame too long
        for data in (os.urandom(300), b"ASCW\x07\x00\x03\x00" + b"\x40\x00\x00\x00" + b"\0" * 60,
                     b"ASCW\x01\x00\x01\x00" + (1 << 20).to_bytes(4, "little") + b"\0" * 60):
            s = socket.create_connection(("127.0.0.1", self.d.port), timeout=5)
            s.sendall(data)
            try:
                s.recv(4096)  # a refusal or the close
            except OSError:
                pass
            s.close()
        ing = self.d.agents()["ingest"]
        self.assertGreaterEqual(ing["unknown_key"], 3, ing)
        self.assertGreaterEqual(ing["bad_hmac"], 1, ing)
        self.assertGreaterEqual(ing["malformed"], 1, ing)
        self.assertGreaterEqual(ing["bad_version"], 1, ing)
        self.assertGreaterEqual(ing["bad_length"], 1, ing)
        self.assertEqual(self.d.proc.poll(), None)
        self.d.status()

    def test_instance_flood_refused(self):
        self.d = Daemon(self.tmp, max_instances=20)
        kv = self.d.loadgen("--agents", "30", "--seconds", "2")
        self.assertEqual(kv["loadgen_sessions"], 20)
        self.assertGreaterEqual(kv["loadgen_frames_refused"], 10)
        a = self.d.agents()
        self.assertEqual(len(a["agents"]), 20)
        self.assertGreaterEqual(a["ingest"]["refused_limit"], 10)
        self.assertGreaterEqual(a["ingest"]["hello_refused"], 10)

    def test_listen_needs_key_file(self):
        conf = os.path.join(self.tmp, "c.conf")
        p = ascoord_check(conf, "[coordinator]\nlisten = 127.0.0.1:7410\ncontrol_socket = /tmp/x.sock\n",
                          stderr=subprocess.PIPE)
        self.assertEqual(p.returncode, 2)
        self.assertIn(f"{conf}:2: listen needs key_file", p.stderr)

    def test_key_file_readable_by_others_refused(self):
        keys = write_keys(os.path.join(self.tmp, "keys"))
        os.chmod(keys, 0o644)
        conf = os.path.join(self.tmp, "c.conf")
        with open(conf, "w") as f:
            f.write(config_text(os.path.join(self.tmp, "s.sock"), free_port(), keys, 10, self.tmp))
        p = subprocess.run([ASCOORD, "-f", "-c", conf], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=10)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("key_file", p.stderr)


if __name__ == "__main__":
    unittest.main()
