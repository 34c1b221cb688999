"""test_backends: ascoord driving a real backend (azureml) against tests/servers/fake_arm.py."""

import json
import os
import subprocess
import time
import unittest

from ascale_test import (ASCTL, Ascoord, FakeServer, TempDir, ascoord_check, azureml_section,
                         coordinator_section, line_of, section, write_token)

TOKEN = "test-token-1234"


def config_text(sock, port, token_file, state):
    """The setting of these tests: azureml at fake_arm on port, between 3 and 5 instances."""
    return (coordinator_section(sock, state, settle=0, reconcile_every="2s") +
            azureml_section(port, token_file, poll_interval="100ms", retry_delay="100ms", max_attempts=2) +
            section("profile web default", min_count=3, max_count=5, count=3))


class FakeArm(FakeServer):
    def __init__(self, capacity=1, lifetime=90):
        super().__init__("fake_arm.py", "--token", TOKEN, "--capacity", str(capacity), "--lifetime",
                         str(lifetime))


class Coordinator(Ascoord):
    """ascoord with token in tmp/arm.token, on config(sock) or else the azureml setting above."""

    def __init__(self, tmp, port, token, config=None, args=()):
        token_file = write_token(os.path.join(tmp, "arm.token"), token)

        def default(sock):
            return config_text(sock, port, token_file, tmp)
        super().__init__(tmp, config or default, args)

    def wait(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            st = self.status()
            if pred(st):
                return st
            if self.proc.poll() is not None:
                raise AssertionError("ascoord exited: " + self.output())
            if time.monotonic() > deadline:
                raise AssertionError("%s: not within %ss: %s\n%s" % (what, timeout, json.dumps(st),
                                                                    self.output()))
            time.sleep(0.2)


def last_ok(st):
    last = st["backend"]["last_result"]
    return last is not None and last["status"] == "ok"


def assert_adopted(case, c, fake):
    """The endpoint's count changed from 3 to 4 behind ascale's back, within max: adopted at the next
    reconcile and kept, with no set of its own (one PATCH in all, the first set's)."""
    st = c.wait(lambda s: s["count"] == 4, 8, "count 4 adopted")
    case.assertTrue(last_ok(st))
    time.sleep(1.5)
    case.assertEqual(c.status()["count"], 4)
    case.assertEqual(len(fake.requests("PATCH")), 1)
    case.assertIn("changed outside ascale: 3 -> 4", c.output())


class AzureMLBackend(unittest.TestCase):
    def setUp(self):
        self.fake = FakeArm(capacity=1)
        self.addCleanup(self.fake.stop)

    def test_set_then_reconcile(self):
        with TempDir() as tmp:
            c = Coordinator(tmp, self.fake.port, TOKEN)
            try:
                # the fake starts at 1, below min_count 3: one PATCH to 3
                st = c.wait(lambda s: s["count"] == 3 and last_ok(s) and
                            s["backend"]["operation"] is None, 15, "count 3")
                self.assertEqual(st["backend"]["type"], "azureml")
                self.assertEqual(st["state"], "running")
                self.assertIsNotNone(st["reconciled_at"])
                patches = self.fake.requests("PATCH")
                self.assertEqual(len(patches), 1, patches)
                self.assertEqual(json.loads(patches[0]["body"]), {"sku": {"capacity": 3}})
                self.assertEqual(patches[0]["auth"], "Bearer " + TOKEN)
                self.assertTrue(all(r["auth"] == "Bearer " + TOKEN for r in self.fake.requests()))
                self.assertIn("set", c.output())

                # changed behind ascale's back, within max: adopted at the next reconcile
                self.fake.call("/_fake/capacity", {"capacity": 4})
                assert_adopted(self, c, self.fake)

                text = subprocess.run([ASCTL, "--socket", c.sock, "status"], stdout=subprocess.PIPE,
                                      text=True, timeout=20).stdout
                self.assertIn("backend azureml", text)
                self.assertIn("backend: last get ok", text)
            finally:
                self.assertEqual(c.stop(), 0, c.output())

    def test_unauthorized(self):
        with TempDir() as tmp:
            c = Coordinator(tmp, self.fake.port, "wrong-token")
            try:
                st = c.wait(lambda s: s["backend"]["last_result"] is not None, 10, "a result")
                last = st["backend"]["last_result"]
                self.assertEqual(last["status"], "failed")
                self.assertEqual(last["http_status"], 401)
                self.assertIn("The access token is invalid.", last["message"])
                self.assertEqual(st["state"], "starting")
                self.assertIsNone(st["reconciled_at"])
                # the ticks keep retrying; nothing is set, nothing crashes
                time.sleep(2.5)
                self.assertEqual(c.status()["state"], "starting")
                self.assertEqual(self.fake.requests("PATCH"), [])
                self.assertGreaterEqual(len(self.fake.requests("GET")), 2)
                out = c.output()
                self.assertEqual(out.count("cannot read the count"), 1, out)
            finally:
                self.assertEqual(c.stop(), 0, c.output())

    def test_token_command(self):
        """The token from a command printing az's JSON; run again after a 401 when the token rotated."""
        with TempDir() as tmp:
            script = os.path.join(tmp, "get-token")
            with open(script, "w") as f:
                f.write("#!/bin/sh\necho run >> %s/runs\n"
                        "printf '{\"accessToken\": \"%%s\", \"expires_on\": %%d}\\n' \"$(cat %s/current)\" "
                        "$(( $(date +%%s) + 3600 ))\n" % (tmp, tmp))
            os.chmod(script, 0o755)
            with open(os.path.join(tmp, "current"), "w") as f:
                f.write(TOKEN)

            def config(sock):
                text = config_text(sock, self.fake.port, "-", tmp)
                return text.replace("token_file = -", "token_command = %s --resource arm" % script)

            c = Coordinator(tmp, self.fake.port, TOKEN, config)
            try:
                c.wait(lambda s: s["count"] == 3 and last_ok(s), 15, "count 3 with the command's token")
                self.assertEqual(self.fake.requests("PATCH")[0]["auth"], "Bearer " + TOKEN)
                # the token rotates: the next request gets 401, the command runs again, the request is resent
                with open(os.path.join(tmp, "current"), "w") as f:
                    f.write("rotated-token-5678")
                self.fake.call("/_fake/token", {"token": "rotated-token-5678"})
                self.fake.call("/_fake/capacity", {"capacity": 4})
                c.wait(lambda s: s["count"] == 4 and last_ok(s), 10, "count 4 read with the new token")
                with open(os.path.join(tmp, "runs")) as f:
                    self.assertGreaterEqual(len(f.read().split()), 2)
                out = c.output()
                self.assertNotIn(TOKEN, out)
                self.assertNotIn("rotated-token-5678", out)
            finally:
                self.assertEqual(c.stop(), 0, c.output())


class SimBackend(unittest.TestCase):
    def test_operation_in_flight(self):
        """A slow set: the count stays until it completes; status shows the operation."""
        with TempDir() as tmp:
            def config(sock):
                text = config_text(sock, 1, "-", tmp)
                head, _, tail = text.partition("[autoscale web]")
                return (head + "[autoscale web]\ndeployment = blue\nbackend = sim\ninitial = 1\n"
                        "delay = 3s\n\n[profile web default]" + tail.partition("[profile web default]")[2])

            c = Coordinator(tmp, 0, TOKEN, config)
            try:
                st = c.wait(lambda s: s["backend"]["operation"] is not None and
                            s["backend"]["operation"]["kind"] == "set", 5, "a set in flight")
                self.assertEqual(st["backend"]["operation"]["capacity"], 3)
                self.assertEqual(st["count"], 1)
                time.sleep(1.5)
                self.assertEqual(c.status()["count"], 1)
                st = c.wait(lambda s: s["count"] == 3, 5, "count 3")
                self.assertEqual(st["backend"]["type"], "sim")
                self.assertEqual(st["last_action"]["to"], 3)
                self.assertEqual(st["last_action"]["outcome"], "succeeded")
                out = c.output()
                self.assertEqual(out.count("waiting for the operation in flight"), 1, out)
            finally:
                self.assertEqual(c.stop(), 0, c.output())

            # the sim endpoint's count is kept in state.json: a restart finds 3, not initial's 1
            c = Coordinator(tmp, 0, TOKEN, config)
            try:
                st = c.wait(lambda s: s["state"] == "running", 5, "running again")
                self.assertEqual(st["count"], 3)
                time.sleep(1.5)
                self.assertIsNone(c.status()["backend"]["operation"])
                self.assertNotIn("scale 1 -> 3", c.output())
            finally:
                self.assertEqual(c.stop(), 0, c.output())


class BackendConfig(unittest.TestCase):
    def check(self, tmp, extra, backend="azureml", drop=None):
        conf = os.path.join(tmp, "ascoord.conf")
        token_file = write_token(os.path.join(tmp, "arm.token"), TOKEN)
        text = config_text(os.path.join(tmp, "s"), 1, token_file, tmp)
        text = text.replace("backend = azureml", "backend = " + backend)
        if drop:
            text = "".join(l for l in text.splitlines(True) if not l.startswith(drop + " ="))
        return conf, ascoord_check(conf, text + extra)

    def test_good(self):
        with TempDir() as tmp:
            _, p = self.check(tmp, "")
            self.assertEqual(p.returncode, 0, p.stdout)

    def test_started_as_the_daemon_would(self):
        with TempDir() as tmp:
            _, p = self.check(tmp, "", drop="workspace")
            self.assertEqual(p.returncode, 2, p.stdout)
            self.assertIn("autoscale web: backend azureml needs workspace", p.stdout)
            os.unlink(os.path.join(tmp, "arm.token"))
            _, p = self.check(tmp, "")
            self.assertEqual(p.returncode, 0, p.stdout)
            os.unlink(os.path.join(tmp, "arm.token"))
            p = ascoord_check(os.path.join(tmp, "ascoord.conf"))
            self.assertEqual(p.returncode, 2, p.stdout)
            self.assertIn("arm.token", p.stdout)

    def test_unknown_key(self):
        with TempDir() as tmp:
            conf, p = self.check(tmp, "[autoscale web]\nbogus = 1\n")
            self.assertEqual(p.returncode, 2, p.stdout)
            line = line_of(conf, "bogus = 1")
            self.assertIn("%s:%d: unknown key 'bogus' in [autoscale web] for backend azureml" %
                          (conf, line), p.stdout)

    def test_bad_value(self):
        with TempDir() as tmp:
            conf, p = self.check(tmp, "[autoscale web]\nmax_attempts = 0\n")
            self.assertEqual(p.returncode, 2, p.stdout)
            self.assertIn("%s:%d: " % (conf, line_of(conf, "max_attempts = 0")), p.stdout)


if __name__ == "__main__":
    unittest.main()
