"""test_exec_backend: ascoord driving the exec backend: a script reads and sets the count."""

import os
import time
import unittest

from ascale_test import TempDir, ascoord_check, coordinator_section, line_of, section
from test_backends import Coordinator, last_ok

# The endpoint: its count in DIR/count; every call appends one line to DIR/calls:
# action|capacity|previous|setting|endpoint|deployment|args|INVOCATION_ID|ASCALE_TEST_KEEP
SCRIPT = """\
#!/bin/sh
DIR={tmp}
printf '%s|%s|%s|%s|%s|%s|%s|%s|%s\\n' "$ASCALE_ACTION" "${{ASCALE_CAPACITY-unset}}" \\
    "${{ASCALE_PREVIOUS-unset}}" "$ASCALE_SETTING" "$ASCALE_ENDPOINT" "$ASCALE_DEPLOYMENT" "$*" \\
    "${{INVOCATION_ID-unset}}" "${{ASCALE_TEST_KEEP-unset}}" >> "$DIR/calls"
if [ -f "$DIR/fail" ]; then cat "$DIR/fail" >&2; exit 1; fi
case "$ASCALE_ACTION" in
get) cat "$DIR/count" ;;
set) echo "$ASCALE_CAPACITY" > "$DIR/count" ;;
*) exit 64 ;;
esac
"""

FIELDS = ("action", "capacity", "previous", "setting", "endpoint", "deployment", "args", "invocation",
          "keep")


def setup_endpoint(tmp, count):
    script = os.path.join(tmp, "scale.sh")
    with open(script, "w") as f:
        f.write(SCRIPT.format(tmp=tmp))
    os.chmod(script, 0o755)
    with open(os.path.join(tmp, "count"), "w") as f:
        f.write("%d\n" % count)
    return script


def calls(tmp):
    try:
        with open(os.path.join(tmp, "calls")) as f:
            return [dict(zip(FIELDS, line.rstrip("\n").split("|"))) for line in f]
    except FileNotFoundError:
        return []


def config_text(tmp, sock, script, drop=None):
    text = (coordinator_section(sock, tmp, settle=0, reconcile_every="2s") +
            section("autoscale web", deployment="blue", endpoint="pool-api", backend="exec",
                    command="%s --via 'exec backend'" % script, timeout="10s", retry_delay="100ms",
                    max_attempts=2) +
            section("profile web default", min_count=3, max_count=5, count=3))
    if drop:
        text = "".join(l for l in text.splitlines(True) if not l.startswith(drop + " ="))
    return text


class ExecBackend(unittest.TestCase):
    def setUp(self):
        # systemd's per-service variables must not reach the command; others must
        saved = {k: os.environ.get(k) for k in ("INVOCATION_ID", "ASCALE_TEST_KEEP")}
        os.environ["INVOCATION_ID"] = "0123456789abcdef"
        os.environ["ASCALE_TEST_KEEP"] = "kept"

        def restore():
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self.addCleanup(restore)

    def test_get_then_scale_into_the_profile(self):
        with TempDir() as tmp:
            script = setup_endpoint(tmp, 1)
            c = Coordinator(tmp, 0, "", lambda sock: config_text(tmp, sock, script))
            try:
                # the script reports 1, below min_count 3: one set to 3
                st = c.wait(lambda s: s["count"] == 3 and last_ok(s) and
                            s["backend"]["operation"] is None, 15, "count 3")
                self.assertEqual(st["backend"]["type"], "exec")
                with open(os.path.join(tmp, "count")) as f:
                    self.assertEqual(f.read(), "3\n")
                got = calls(tmp)
                first = got[0]
                self.assertEqual(first["action"], "get")
                self.assertEqual(first["capacity"], "unset")
                self.assertEqual(first["previous"], "")
                sets = [x for x in got if x["action"] == "set"]
                self.assertEqual(len(sets), 1, got)
                self.assertEqual(sets[0], {"action": "set", "capacity": "3", "previous": "1",
                                           "setting": "web", "endpoint": "pool-api", "deployment": "blue",
                                           "args": "--via exec backend", "invocation": "unset",
                                           "keep": "kept"})

                # above max_count behind ascale's back: adopted, then brought down to 5
                with open(os.path.join(tmp, "count"), "w") as f:
                    f.write("9\n")
                st = c.wait(lambda s: s["count"] == 5 and last_ok(s) and
                            s["backend"]["operation"] is None, 20, "count 5")
                sets = [x for x in calls(tmp) if x["action"] == "set"]
                self.assertEqual([(x["capacity"], x["previous"]) for x in sets], [("3", "1"), ("5", "9")])
                with open(os.path.join(tmp, "count")) as f:
                    self.assertEqual(f.read(), "5\n")
                gets = [x for x in calls(tmp) if x["action"] == "get"]
                self.assertTrue(all(x["capacity"] == "unset" for x in gets), gets)
                out = c.output()
                self.assertIn("changed outside ascale: 3 -> 9", out)
                # the environment is never logged
                self.assertNotIn("ASCALE_", out)
                self.assertNotIn("exec backend", out)
            finally:
                self.assertEqual(c.stop(), 0, c.output())

    def test_failing_command(self):
        with TempDir() as tmp:
            script = setup_endpoint(tmp, 4)
            with open(os.path.join(tmp, "fail"), "w") as f:
                f.write("connecting\nERROR: pool-api: permission denied\n")
            c = Coordinator(tmp, 0, "", lambda sock: config_text(tmp, sock, script))
            try:
                st = c.wait(lambda s: s["backend"]["last_result"] is not None, 10, "a result")
                last = st["backend"]["last_result"]
                self.assertEqual(last["status"], "failed")
                self.assertIn("scale.sh exited with 1: ERROR: pool-api: permission denied", last["message"])
                self.assertEqual(st["state"], "starting")
                # the ticks keep trying; logged once, nothing set
                time.sleep(2.5)
                self.assertGreaterEqual(len(calls(tmp)), 2)
                self.assertEqual([x for x in calls(tmp) if x["action"] == "set"], [])
                self.assertEqual(c.output().count("cannot read the count"), 1, c.output())
                # it works again: the count is read and evaluated
                os.unlink(os.path.join(tmp, "fail"))
                st = c.wait(lambda s: s["count"] == 4 and last_ok(s), 10, "count 4")
                self.assertIn("the backend answers again", c.output())
            finally:
                self.assertEqual(c.stop(), 0, c.output())


class ExecConfig(unittest.TestCase):
    def check(self, tmp, text):
        conf = os.path.join(tmp, "ascoord.conf")
        return conf, ascoord_check(conf, text)

    def test_good(self):
        with TempDir() as tmp:
            script = setup_endpoint(tmp, 1)
            _, p = self.check(tmp, config_text(tmp, os.path.join(tmp, "s"), script))
            self.assertEqual(p.returncode, 0, p.stdout)
            self.assertIn("configuration OK", p.stdout)
            # -t runs nothing
            self.assertEqual(calls(tmp), [])

    def test_missing_command(self):
        with TempDir() as tmp:
            text = config_text(tmp, os.path.join(tmp, "s"), "unused", drop="command")
            conf, p = self.check(tmp, text)
            self.assertEqual(p.returncode, 2, p.stdout)
            # at the section's (inih reports lines by key: its first key's)
            line = line_of(conf, "deployment = blue")
            self.assertIn("%s:%d: autoscale web: backend exec needs command" % (conf, line), p.stdout)

    def test_bad_command(self):
        with TempDir() as tmp:
            text = config_text(tmp, os.path.join(tmp, "s"), os.path.join(tmp, "missing.sh"))
            conf, p = self.check(tmp, text)
            self.assertEqual(p.returncode, 2, p.stdout)
            line = [i for i, l in enumerate(text.splitlines()) if l.startswith("command =")][0] + 1
            self.assertIn("%s:%d: autoscale web: command: %s/missing.sh: No such file or directory" %
                          (conf, line, tmp), p.stdout)
            text = text.replace("--via 'exec backend'", "--via 'exec backend")
            conf, p = self.check(tmp, text)
            self.assertEqual(p.returncode, 2, p.stdout)
            self.assertIn("%s:%d: command: a quote is not closed" % (conf, line), p.stdout)


if __name__ == "__main__":
    unittest.main()
