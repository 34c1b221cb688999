"""test_http_backend: ascoord driving the generic http backend against tests/servers/fake_scaler.py."""

import json
import os
import subprocess
import time
import unittest

from ascale_test import FakeServer, TempDir, ascoord_check, coordinator_section, line_of, section
from test_backends import Coordinator, assert_adopted, last_ok

API_KEY = "key-secret-4242"


def config_text(tmp, sock, port, extra=""):
    """The pool at fake_scaler on port, between 3 and 5; extra: more lines of [autoscale web]."""
    url = "http://127.0.0.1:%d/v1/pools/blue" % port
    return (coordinator_section(sock, tmp, settle=0, reconcile_every="2s") +
            section("autoscale web", deployment="blue", endpoint="pool-api", backend="http", url=url,
                    method="PATCH", header=["X-Api-Key: " + API_KEY, "X-Team: ml"],
                    body='{"spec": {"replicas": {{capacity}}}, "from": "{{previous}}", '
                         '"pool": "{{setting}}/{{deployment}}"}',
                    get_url=url, get_pointer="/status/replicas", retry_delay="100ms", max_attempts=2) +
            extra +
            section("profile web default", min_count=3, max_count=5, count=3))


class FakeScaler(FakeServer):
    def __init__(self, count):
        super().__init__("fake_scaler.py", "--count", str(count), "--field", "spec.replicas",
                         "--lifetime", "60")


class HttpBackend(unittest.TestCase):
    def setUp(self):
        self.fake = FakeScaler(count=1)
        self.addCleanup(self.fake.stop)

    def test_read_set_adopt(self):
        with TempDir() as tmp:
            c = Coordinator(tmp, self.fake.port, "unused",
                            lambda sock: config_text(tmp, sock, self.fake.port))
            try:
                # read 1 through get_url, below min_count 3: one PATCH to 3
                st = c.wait(lambda s: s["count"] == 3 and last_ok(s) and
                            s["backend"]["operation"] is None, 15, "count 3")
                self.assertEqual(st["backend"]["type"], "http")
                self.assertIn("count 1 read from the backend", c.output())
                gets = self.fake.requests("GET")
                self.assertGreaterEqual(len(gets), 1)
                self.assertEqual(gets[0]["path"], "/v1/pools/blue")
                patches = self.fake.requests("PATCH")
                self.assertEqual(len(patches), 1, patches)
                self.assertEqual(self.fake.requests("PUT") + self.fake.requests("POST"), [])
                self.assertEqual(json.loads(patches[0]["body"]),
                                 {"spec": {"replicas": 3}, "from": "1", "pool": "web/blue"})
                self.assertEqual(patches[0]["headers"]["Content-Type"], "application/json")
                # every request carries the configured headers
                for r in self.fake.requests():
                    self.assertEqual(r["headers"].get("X-Api-Key"), API_KEY, r)
                    self.assertEqual(r["headers"].get("X-Team"), "ml", r)
                    self.assertNotIn("Authorization", r["headers"])

                # changed behind ascale's back, within max: adopted at the next reconcile
                self.fake.call("/_fake/count", {"count": 4})
                assert_adopted(self, c, self.fake)
                self.assertNotIn(API_KEY, c.output())
            finally:
                self.assertEqual(c.stop(), 0, c.output())

    def test_refused_set(self):
        """The API refuses the count: failed at once (no retry) with its message; the count is kept."""
        with TempDir() as tmp:
            # the API reads spec.replicas; this body sends another field
            extra = "body = {\"replicas\": {{capacity}}}\n"
            c = Coordinator(tmp, self.fake.port, "unused",
                            lambda sock: config_text(tmp, sock, self.fake.port, extra))
            try:
                st = c.wait(lambda s: s["last_action"] is not None, 15, "a refused set")
                last = st["last_action"]
                self.assertEqual(last["outcome"], "failed")
                self.assertEqual(last["http_status"], 400)
                self.assertEqual(last["attempts"], 1)
                self.assertIn("expected a count (an integer >= 0) at spec.replicas", last["message"])
                self.assertEqual(st["count"], 1)
                first = self.fake.requests("PATCH")[0]
                self.assertEqual(json.loads(first["body"]), {"replicas": 3})
                # the setting holds a minute after a failed set: no second PATCH meanwhile
                time.sleep(3)
                self.assertEqual(len(self.fake.requests("PATCH")), 1)
                self.assertEqual(c.output().count("waiting for the hold after a failed action"), 1)
            finally:
                self.assertEqual(c.stop(), 0, c.output())

    def test_check_bad_header(self):
        with TempDir() as tmp:
            sock = os.path.join(tmp, "ascoord.sock")
            text = config_text(tmp, sock, self.fake.port, "header = X Bad Name: %s\n" % API_KEY)
            conf = os.path.join(tmp, "ascoord.conf")
            p = ascoord_check(conf, text, stderr=subprocess.PIPE)
            line = line_of(conf, "header = X Bad Name: %s" % API_KEY)
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
            self.assertIn("%s:%d: header: expected 'Name: value'" % (conf, line), p.stderr)
            self.assertNotIn(API_KEY, p.stdout + p.stderr)
            self.assertEqual(self.fake.requests(), [])

    def test_check_ok(self):
        with TempDir() as tmp:
            sock = os.path.join(tmp, "ascoord.sock")
            conf = os.path.join(tmp, "ascoord.conf")
            p = ascoord_check(conf, config_text(tmp, sock, self.fake.port), stderr=subprocess.PIPE)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("configuration OK", p.stdout)


if __name__ == "__main__":
    unittest.main()
