"""test_notify: the real ascoord sends Azure's autoscale webhook (payload 1.0) to tests/servers/webhook_sink.py."""

import json
import os
import subprocess
import time
import unittest

from ascale_test import (ASCTL, FakeServer, TempDir, ascoord_check, azureml_section, coordinator_section,
                         line_of, section, write_token)
from test_backends import TOKEN, Coordinator, FakeArm

SECRET = "sig=Zm9vYmFyLXNlY3JldA"


def config_text(sock, state, arm_port, token_file, notify):
    """azureml at fake_arm on arm_port, between 3 and 5 instances, notifying the URLs of notify."""
    return (coordinator_section(sock, state, settle=0, reconcile_every="1s", notify_retry_delay="100ms",
                                notify_retry_max="200ms", notify_attempts=3) +
            azureml_section(arm_port, token_file, poll_interval="100ms", retry_delay="100ms", notify=notify) +
            section("profile web default", min_count=3, max_count=5, count=3))


class Sink(FakeServer):
    def __init__(self):
        super().__init__("webhook_sink.py", "--lifetime", "60")

    def posts(self):
        return self.call("/_sink/posts")


def stats(sock, json_out=True):
    p = subprocess.run([ASCTL, "--socket", sock, "stats"] + (["--json"] if json_out else []),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=20)
    if p.returncode != 0:
        raise AssertionError("asctl stats: " + p.stderr)
    return json.loads(p.stdout) if json_out else p.stdout


class Webhooks(unittest.TestCase):
    def setUp(self):
        self.fake = FakeArm(capacity=1)
        self.addCleanup(self.fake.stop)
        self.sink = Sink()
        self.addCleanup(self.sink.stop)

    def start(self, tmp, notify):
        state = os.path.join(tmp, "state")

        def config(sock):
            return config_text(sock, state, self.fake.port, os.path.join(tmp, "arm.token"), notify)

        c = Coordinator(tmp, self.fake.port, TOKEN, config)
        self.addCleanup(c.stop)
        return c, state

    def test_scale_out_is_notified(self):
        with TempDir() as tmp:
            hook = "%s/hook/a?%s" % (self.sink.base, SECRET)
            c, state = self.start(tmp, [hook, "%s/hook/b" % self.sink.base])
            c.wait(lambda s: s["count"] == 3, 15, "the clamp to 3")
            deadline = time.monotonic() + 10
            while len(self.sink.posts()) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            posts = self.sink.posts()
            self.assertEqual(sorted(p["path"] for p in posts), ["/hook/a?" + SECRET, "/hook/b"])
            body = posts[0]["json"]
            self.assertEqual(posts[0]["headers"].get("Content-Type"), "application/json")
            self.assertEqual(body["version"], "1.0")
            self.assertEqual(body["status"], "Activated")
            self.assertEqual(body["operation"], "Scale Out")
            ctx = body["context"]
            self.assertEqual((ctx["oldCapacity"], ctx["newCapacity"]), ("1", "3"))
            self.assertEqual(ctx["name"], "web")
            self.assertEqual(ctx["resourceName"], "blue")
            self.assertEqual(ctx["subscriptionId"], "sub-1")
            self.assertEqual(ctx["resourceGroupName"], "rg-1")
            self.assertEqual(ctx["resourceId"], "/subscriptions/sub-1/resourceGroups/rg-1/providers/"
                             "Microsoft.MachineLearningServices/workspaces/ws-1/onlineEndpoints/"
                             "my-endpoint/deployments/blue")
            # properties: the action's history record, with its correlation id and outcome
            with open(os.path.join(state, "history.jsonl")) as f:
                recs = [json.loads(l) for l in f if '"event":"scale"' in l]
            self.assertEqual(len(recs), 1)
            self.assertEqual(body["properties"]["id"], recs[0]["id"])
            self.assertEqual(body["properties"]["outcome"], "succeeded")
            self.assertEqual(body["properties"]["cause"], "clamp")
            self.assertEqual(stats(c.sock)["notify"]["sent"], 2)
            table = stats(c.sock, json_out=False)
            self.assertRegex(table, r"(?m)^notify\.sent +2$")
            self.assertRegex(table, r"(?m)^ingest\.bad_hmac +0$")
            c.stop()
            self.assertNotIn(SECRET, c.output())
            self.assertNotIn("/hook/", c.output())

    def test_failing_webhook_never_blocks_scaling(self):
        with TempDir() as tmp:
            self.sink.call("/_sink/faults", {"next": ["slow:3"] + [500] * 20})
            c, _ = self.start(tmp, ["%s/hook" % self.sink.base])
            c.wait(lambda s: s["count"] == 3, 15, "the clamp to 3, whatever the webhook does")
            # a change behind its back, then the clamp again: scaling goes on while webhooks fail
            self.fake.call("/_fake/capacity", {"capacity": 9})
            c.wait(lambda s: s["count"] == 5, 15, "the change adopted, then the clamp to 5")
            self.assertIn("count changed outside ascale: 3 -> 9: adopted", c.output())
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                n = stats(c.sock)["notify"]
                if n["failed"] >= 1 and n["pending"] == 0:
                    break
                time.sleep(0.2)
            self.assertGreaterEqual(n["failed"], 1, n)
            self.assertGreaterEqual(n["retried"], 2, n)
            self.assertIn("webhook", c.output().lower())

    def test_bad_notify_is_a_config_error(self):
        with TempDir() as tmp:
            conf = os.path.join(tmp, "c.conf")
            text = config_text(os.path.join(tmp, "s"), tmp, 1, os.path.join(tmp, "t"),
                               ["ftp://example.com/%s" % SECRET])
            write_token(os.path.join(tmp, "t"), TOKEN)
            p = ascoord_check(conf, text)
            line = line_of(conf, "notify = ftp://example.com/%s" % SECRET)
            self.assertEqual(p.returncode, 2, p.stdout)
            self.assertIn("%s:%d: notify:" % (conf, line), p.stdout)
            self.assertNotIn(SECRET, p.stdout)


if __name__ == "__main__":
    unittest.main()
