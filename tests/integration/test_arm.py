"""test_arm: asctl export --arm and import --arm on the real binary: round trips, fixtures, refusals."""

import json
import os
import subprocess
import tempfile
import unittest

from ascale_test import ASCTL

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
DATA = os.path.join(ROOT, "tests", "data")


def asctl(*args, stdin=None):
    return subprocess.run([ASCTL, *args], input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=30)


class ArmTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def export(self, conf, *extra):
        p = asctl("export", "--arm", "--config", conf, *extra)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def test_round_trip(self):
        for conf in ("engine/full.conf", "arm/multi.conf"):
            first = self.export(os.path.join(DATA, conf))
            src = os.path.join(self.tmp.name, "first.json")
            with open(src, "w") as f:
                json.dump(first, f)
            out = os.path.join(self.tmp.name, "back.conf")
            p = asctl("import", "--arm", src, "-o", out)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(self.export(out), first, conf)

    def test_fixtures(self):
        for name in ("rt-full.json", "rt-multi.json"):
            path = os.path.join(DATA, "arm", name)
            with open(path) as f:
                want = json.load(f)
            p = asctl("import", "--arm", path, "--json")
            self.assertEqual(p.returncode, 0, p.stderr)
            summary = json.loads(p.stdout)
            conf = os.path.join(self.tmp.name, "fixture.conf")
            with open(conf, "w") as f:
                f.write(summary["config"])
            t = summary["target"]
            got = self.export(conf, "--subscription", t["subscription"], "--resource-group",
                              t["resource_group"], "--workspace", t["workspace"],
                              "--location", t["location"])
            self.assertEqual(got, want, name)

    def test_az_show(self):
        with open(os.path.join(DATA, "arm", "import-az-show.json")) as f:
            text = f.read()
        p = asctl("import", "--arm", "-", stdin=text)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(DATA, "arm", "import-az-show.conf")) as f:
            want = f.read()
        body = "".join(line + "\n" for line in p.stdout.splitlines() if not line.startswith(";"))
        self.assertEqual(body, want)

    def test_bad_input(self):
        cases = {
            "not json {": "expected JSON",
            "[1, 2": "expected JSON",
            '"text"': "expected an autoscale setting object, not a string",
            '{"name": "x", "targetResourceUri": "/a/b", "profiles": [{"name": "d", "capacity": '
            '{"minimum": "1", "maximum": "2", "default": "9"}}]}': "profiles[0].capacity: default 9",
        }
        for text, msg in cases.items():
            path = os.path.join(self.tmp.name, "bad.json")
            with open(path, "w") as f:
                f.write(text)
            p = asctl("import", "--arm", path)
            self.assertEqual(p.returncode, 2, text)
            self.assertIn(msg, p.stderr)
            self.assertIn(path, p.stderr)
            self.assertEqual(p.stdout, "")

    def test_usage(self):
        self.assertEqual(asctl("import", os.path.join(DATA, "arm", "rt-full.json")).returncode, 2)
        self.assertEqual(asctl("export", "--config", os.path.join(DATA, "engine", "full.conf")).returncode, 2)
        p = asctl("export", "--arm", "--config", os.path.join(DATA, "engine", "full.conf"), "--setting", "nope")
        self.assertEqual(p.returncode, 2)
        self.assertIn("no autoscale setting named 'nope'", p.stderr)
        p = asctl("export", "--arm", "--config", os.path.join(DATA, "engine", "errors.conf"))
        self.assertEqual(p.returncode, 2)
        p = asctl("export", "--arm", "--config", os.path.join(DATA, "engine", "full.conf"), "--setting", "batch")
        self.assertEqual(json.loads(p.stdout)["name"], "batch")


if __name__ == "__main__":
    unittest.main()
