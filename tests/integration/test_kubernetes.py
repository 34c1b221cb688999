"""test_kubernetes: ascoord driving the kubernetes backend (the scale subresource) against tests/servers/fake_arm.py."""

import json
import os
import time
import unittest

from ascale_test import TempDir, ascoord_check, coordinator_section, line_of, section, write_token
from test_backends import TOKEN, Coordinator, FakeArm

SCALE = "/apis/apps/v1/namespaces/prod/deployments/web-app/scale"
MERGE_PATCH = "application/merge-patch+json"

FORBIDDEN = {"status": 403, "reason": "Forbidden",
             "message": 'deployments.apps "web-app" is forbidden: User "system:serviceaccount:ml:ascale" '
                        'cannot patch resource "deployments/scale" in API group "apps" in the namespace "ml"'}


class TimedFakeArm(FakeArm):
    """FakeArm with the helpers of these tests."""

    def faults(self, *faults):
        self.call("/_fake/faults", {"next": list(faults)})

    def scale_requests(self, method=None):
        got = self.requests(method)
        for r in got:
            assert r["path"] == SCALE, r
        return got


def kube_config(tmp, port, reconcile="1s", extra=""):
    state = os.path.join(tmp, "state")
    os.makedirs(state, exist_ok=True)

    def config(sock):
        return (coordinator_section(sock, state, settle=0, reconcile_every=reconcile) +
                section("autoscale web", deployment="web-app", backend="kubernetes",
                        api="http://127.0.0.1:%d/" % port, namespace="prod",
                        token_file=os.path.join(tmp, "arm.token"), retry_delay="100ms", max_attempts=3) +
                section("profile web default", min_count=3, max_count=5, count=3) + extra)
    return config


def last(st):
    return st["backend"]["last_result"] or {}


def ok_at(count):
    return lambda s: s["count"] == count and last(s).get("status") == "ok" and s["backend"]["operation"] is None


class KubernetesBackend(unittest.TestCase):
    def setUp(self):
        self.fake = TimedFakeArm(capacity=1)
        self.addCleanup(self.fake.stop)

    def start(self, tmp, token=TOKEN, **kw):
        """The real ascoord with -v: its log then holds every request line (method, URL, attempt)."""
        c = Coordinator(tmp, self.fake.port, token, kube_config(tmp, self.fake.port, **kw), args=("-v",))
        self.addCleanup(c.stop)
        return c

    def stop(self, c):
        """Stops ascoord; its log (debug included) never holds the token."""
        self.assertEqual(c.stop(), 0, c.output())
        out = c.output()
        self.assertIn("GET http://127.0.0.1:%d%s (attempt 1)" % (self.fake.port, SCALE), out)
        self.assertNotIn(TOKEN, out)
        self.assertNotIn("Bearer", out)
        return out

    def test_start_read_patch_adopt(self):
        with TempDir() as tmp:
            c = self.start(tmp, reconcile="1s")
            # the fake starts at 1, below min_count 3: read with GET, then one PATCH to 3
            st = c.wait(ok_at(3), 15, "count 3")
            self.assertEqual(st["backend"]["type"], "kubernetes")
            self.assertEqual(st["state"], "running")
            self.assertIsNotNone(st["reconciled_at"])
            reqs = self.fake.scale_requests()
            self.assertEqual(reqs[0]["method"], "GET", reqs)
            self.assertEqual(reqs[0]["body"], "")
            patches = [r for r in reqs if r["method"] == "PATCH"]
            self.assertEqual(len(patches), 1, reqs)
            self.assertEqual(json.loads(patches[0]["body"]), {"spec": {"replicas": 3}})
            self.assertEqual(patches[0]["ctype"], MERGE_PATCH)
            self.assertTrue(all(r["auth"] == "Bearer " + TOKEN for r in reqs), reqs)
            self.assertTrue(all(r["method"] in ("GET", "PATCH") for r in reqs), reqs)
            self.assertIn("count 1 read from the backend", c.output())
            self.assertIn("count 1 -> 3 set (ok, HTTP 200, 1 attempt): spec.replicas 3", c.output())

            # scaled behind ascoord's back, within max: adopted at the next reconcile, not undone
            self.fake.call("/_fake/capacity", {"capacity": 4})
            st = c.wait(lambda s: s["count"] == 4 and last(s).get("status") == "ok", 8, "count 4 adopted")
            self.assertIn("status.replicas 4", last(st)["message"])
            gets = len(self.fake.scale_requests("GET"))
            deadline = time.monotonic() + 10
            while len(self.fake.scale_requests("GET")) < gets + 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertGreaterEqual(len(self.fake.scale_requests("GET")), gets + 2)  # reconciles go on
            self.assertEqual(c.status()["count"], 4)
            self.assertEqual(len(self.fake.scale_requests("PATCH")), 1)

            # and below min_count behind its back: adopted, then set back up to min
            self.fake.call("/_fake/capacity", {"capacity": 2})
            c.wait(ok_at(3), 10, "count 3 again")
            patches = self.fake.scale_requests("PATCH")
            self.assertEqual([json.loads(p["body"]) for p in patches],
                             [{"spec": {"replicas": 3}}] * 2)
            out = self.stop(c)
            self.assertIn("count changed outside ascale: 3 -> 4: adopted", out)
            self.assertIn("count changed outside ascale: 4 -> 2: adopted", out)

    def test_server_error_is_retried(self):
        with TempDir() as tmp:
            # the first GET answers 500, its retry 200; then the PATCH answers 503, its retry 200
            self.fake.faults(500, "slow:0", 503)
            c = self.start(tmp, reconcile="1h")
            c.wait(ok_at(3), 15, "count 3")
            reqs = self.fake.scale_requests()
            self.assertEqual([r["method"] for r in reqs[:4]], ["GET", "GET", "PATCH", "PATCH"], reqs)
            self.assertEqual(len(self.fake.scale_requests("PATCH")), 2)
            # each retry came after a backoff (retry_delay 100ms, jittered: at least 50 ms)
            self.assertGreaterEqual(reqs[1]["time"] - reqs[0]["time"], 0.04)
            self.assertGreaterEqual(reqs[3]["time"] - reqs[2]["time"], 0.04)
            out = self.stop(c)
            self.assertIn("kubernetes GET: HTTP 500, retrying in", out)
            self.assertIn("kubernetes PATCH: HTTP 503, retrying in", out)
            self.assertIn("count 1 read from the backend", out)
            self.assertIn("count 1 -> 3 set (ok, HTTP 200, 2 attempts)", out)
            self.assertNotIn("failed", out)
            self.assertNotIn("cannot read", out)

    def test_too_many_requests_honours_retry_after(self):
        with TempDir() as tmp:
            # the PATCH is refused with 429 and Retry-After: 2 (retry_delay alone would be 100 ms)
            self.fake.faults("slow:0", {"status": 429, "retry_after": 2})
            c = self.start(tmp, reconcile="1h")
            c.wait(ok_at(3), 20, "count 3")
            patches = self.fake.scale_requests("PATCH")
            self.assertEqual(len(patches), 2, patches)
            # the server's Retry-After (2 s), not the 100 ms backoff: a wait at least that long
            # (a lower bound only: a loaded machine makes it longer, never shorter)
            gap = patches[1]["time"] - patches[0]["time"]
            self.assertGreaterEqual(gap, 1.5, patches)
            out = self.stop(c)
            self.assertIn("kubernetes PATCH: HTTP 429, retrying in 2000 ms", out)
            self.assertIn("count 1 -> 3 set (ok, HTTP 200, 2 attempts)", out)

    def test_forbidden_fails_at_once(self):
        with TempDir() as tmp:
            # the first GET goes through; every request after it is refused 403 until the reset
            self.fake.faults("slow:0", *[FORBIDDEN] * 200)
            c = self.start(tmp, reconcile="1s")
            st = c.wait(lambda s: last(s).get("http_status") == 403, 15, "a 403")
            res = last(st)
            self.assertEqual(res["status"], "failed")
            self.assertEqual(res["attempts"], 1)
            self.assertIn("Forbidden: " + FORBIDDEN["message"], res["message"])  # the Status reason: message
            self.assertEqual(st["count"], 1)
            # the PATCH's own outcome is in the action status shows
            self.assertIn("is forbidden", c.status()["last_action"]["message"])
            # no retries: every request of every operation was a single attempt
            time.sleep(2)
            st = c.status()
            self.assertEqual(st["count"], 1)
            self.assertEqual(last(st)["status"], "failed")
            self.assertGreaterEqual(len(self.fake.scale_requests("PATCH")), 1)
            out = c.output()
            self.assertEqual(out.count("setting the count to 3 failed (failed, HTTP 403, 1 attempt): "
                                       "PATCH scale: HTTP 403: Forbidden: " + FORBIDDEN["message"]), 1, out)
            self.assertNotIn("retrying", out)

            # the refusal lifted: the next reconcile reads the count again
            self.fake.call("/_fake/reset", {})
            c.wait(lambda s: last(s).get("status") == "ok", 10, "the backend answers again")
            out = self.stop(c)
            self.assertIn("the backend answers again", out)

    def test_wrong_token(self):
        with TempDir() as tmp:
            c = self.start(tmp, token="wrong-token", reconcile="1h")
            st = c.wait(lambda s: last(s).get("status") is not None, 10, "a result")
            res = last(st)
            self.assertEqual((res["status"], res["http_status"]), ("failed", 401))
            self.assertIn("Unauthorized", res["message"])
            self.assertEqual(st["state"], "starting")
            time.sleep(1.5)
            self.assertEqual(self.fake.scale_requests("PATCH"), [])
            self.assertTrue(all(r["auth"] == "Bearer wrong-token" for r in self.fake.requests()))
            # a token refresher replaces the file: read again, and the count is set
            os.rename(write_token(os.path.join(tmp, "arm.token.new"), TOKEN), os.path.join(tmp, "arm.token"))
            c.wait(ok_at(3), 10, "count 3 with the new token")
            out = self.stop(c)
            self.assertNotIn("wrong-token", out)
            self.assertIn("changed, read again", out)
            self.assertEqual(out.count("cannot read the count"), 1, out)


class KubernetesConfig(unittest.TestCase):
    def check(self, tmp, extra):
        write_token(os.path.join(tmp, "arm.token"), TOKEN)
        conf = os.path.join(tmp, "ascoord.conf")
        return conf, ascoord_check(conf, kube_config(tmp, 1, extra=extra)(os.path.join(tmp, "s")))

    def test_good(self):
        with TempDir() as tmp:
            _, p = self.check(tmp, "")
            self.assertEqual(p.returncode, 0, p.stdout)
            self.assertIn("configuration OK (1 settings)", p.stdout)

    def test_bad_namespace(self):
        with TempDir() as tmp:
            conf, p = self.check(tmp, "[autoscale web]\nnamespace = Prod_1\n")
            self.assertEqual(p.returncode, 2, p.stdout)
            self.assertIn("%s:%d: namespace: expected a Kubernetes name" %
                          (conf, line_of(conf, "namespace = Prod_1")), p.stdout)

    def test_bad_api(self):
        with TempDir() as tmp:
            conf, p = self.check(tmp, "[autoscale web]\napi = ftp://k8s.example\n")
            self.assertEqual(p.returncode, 2, p.stdout)
            self.assertIn("%s:%d: api: expected an http:// or https:// URL" %
                          (conf, line_of(conf, "api = ftp://k8s.example")), p.stdout)

    def test_azure_key_is_not_a_kubernetes_key(self):
        with TempDir() as tmp:
            conf, p = self.check(tmp, "[autoscale web]\nworkspace = ws-1\n")
            self.assertEqual(p.returncode, 2, p.stdout)
            self.assertIn("%s:%d: unknown key 'workspace' in [autoscale web] for backend kubernetes" %
                          (conf, line_of(conf, "workspace = ws-1")), p.stdout)

    def test_missing_token_file(self):
        with TempDir() as tmp:
            conf, p = self.check(tmp, "")
            os.unlink(os.path.join(tmp, "arm.token"))
            p = ascoord_check(conf)
            self.assertEqual(p.returncode, 2, p.stdout)
            self.assertIn("arm.token", p.stdout)


if __name__ == "__main__":
    unittest.main()
