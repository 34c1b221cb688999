"""test_simulate: the real `asctl simulate` on traces: JSON events, the table, and bad input."""

import json
import os
import subprocess
import tempfile
import unittest

from ascale_test import ASCTL

SRC = os.environ.get("ASCALE_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.path.join(SRC, "tests", "data", "traces")


def simulate(*args):
    return subprocess.run([ASCTL, "simulate", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=60)


def data(name):
    return os.path.join(DATA, name)


class SimulateTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="ascale-sim-")

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_json_events(self):
        p = simulate("--config", data("spike.conf"), "--trace", data("spike.csv"), "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        events = [json.loads(line) for line in p.stdout.splitlines()]
        for e in events:
            for key in ("time", "event", "setting", "profile"):
                self.assertIn(key, e)
            self.assertTrue(e["time"].endswith("Z"))
            self.assertIn(e["event"], ("scale", "flapping", "profile", "metrics_missing", "metrics_recovered"))
        self.assertEqual([(e["time"], e["event"]) for e in events], [
            ("2026-01-05T00:00:00.000Z", "profile"),
            ("2026-01-05T00:00:00.000Z", "metrics_missing"),
            ("2026-01-05T00:01:00.000Z", "metrics_recovered"),
            ("2026-01-05T00:15:00.000Z", "scale"),
            ("2026-01-05T00:25:00.000Z", "scale"),
        ])
        scale = events[3]
        self.assertEqual((scale["from"], scale["to"], scale["rule"], scale["cause"]), (2, 3, "out", "rule"))
        self.assertIn("scale out from 2 to 3", scale["reason"])
        self.assertEqual((events[4]["from"], events[4]["to"]), (3, 4))

    def test_json_clamp_and_missing(self):
        p = simulate("-c", data("profile.conf"), "-t", data("profile.csv"), "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        scales = [json.loads(l) for l in p.stdout.splitlines() if '"scale"' in l]
        self.assertEqual([(s["time"], s["from"], s["to"], s["cause"], s["rule"]) for s in scales], [
            ("2026-01-05T09:00:00.000Z", 2, 4, "clamp", None),
            ("2026-01-05T10:00:00.000Z", 4, 3, "clamp", None),
        ])
        p = simulate("-c", data("missing.conf"), "-t", data("missing.csv"), "--json", "--count", "1",
                     "--from", "2026-01-05T00:05:00Z", "--setting", "web")
        self.assertEqual(p.returncode, 0, p.stderr)
        events = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertEqual([e["event"] for e in events],
                         ["profile", "metrics_missing", "scale", "metrics_recovered"])
        self.assertEqual((events[2]["cause"], events[2]["rule"], events[2]["to"]), ("missing", None, 3))

    def test_json_flapping(self):
        p = simulate("-c", data("flap.conf"), "-t", data("flap.csv"), "--json", "-n", "4",
                     "--until", "1767571800")
        self.assertEqual(p.returncode, 0, p.stderr)
        events = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertEqual([e["event"] for e in events], ["profile", "scale", "flapping"])
        self.assertTrue(events[1]["flapping_adjusted"])
        self.assertEqual((events[2]["from"], events[2]["wanted"], events[2]["rule"]), (3, 1, "in"))

    def test_table(self):
        p = simulate("-c", data("spike.conf"), "-t", data("spike.csv"))
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["TIME", "SETTING", "PROFILE", "EVENT", "FROM→TO", "RULE", "REASON"])
        self.assertIn("2→3", lines[4])
        self.assertEqual(lines[-1], "30 ticks, 2 scale actions, 60 samples; final count 4")
        # aligned: every row's EVENT starts in the heading's column
        col = lines[0].index("EVENT")
        for line in lines[1:-1]:
            self.assertEqual(line[col - 2:col], "  ")

    def test_bad_config(self):
        conf = self.write("bad.conf", "[autoscale web]\ndeployment = blue\n[profile web default]\ncount = many\n")
        p = simulate("-c", conf, "-t", data("spike.csv"))
        self.assertEqual(p.returncode, 2)
        self.assertIn(f"{conf}:4: ", p.stderr)
        self.assertEqual(p.stdout, "")

    def test_bad_trace(self):
        trace = self.write("bad.csv", "time,instance,metric,value\n# ok\n"
                                      "2026-01-05T00:00:00Z,a,Percentage CPU,50\n"
                                      "2026-01-05T00:00:01Z,a,Percentage CPU\n")
        p = simulate("-c", data("spike.conf"), "-t", trace, "--json")
        self.assertEqual(p.returncode, 2)
        self.assertIn(f"{trace}:4: expected 4 fields as in the header, found 3", p.stderr)
        trace = self.write("late.csv", "time,instance,metric,value\n"
                                       "1767571200,a,Percentage CPU,50\n"
                                       "1767571260,a,Percentage CPU,50\n"
                                       "1767571230,a,Percentage CPU,50\n")
        p = simulate("-c", data("spike.conf"), "-t", trace)
        self.assertEqual(p.returncode, 2)
        self.assertIn(f"{trace}:4: time 2026-01-05T00:00:30.000Z: expected samples in time order", p.stderr)
        p = simulate("-c", data("spike.conf"), "-t", os.path.join(self.tmp.name, "none.csv"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("none.csv: cannot open", p.stderr)

    def test_bad_usage(self):
        p = simulate("-c", data("spike.conf"), "-t", data("spike.csv"), "--setting", "nope")
        self.assertEqual(p.returncode, 2)
        self.assertIn("nope", p.stderr)
        for args in (["-t", data("spike.csv")], ["-c", data("spike.conf")],
                     ["-c", data("spike.conf"), "-t", data("spike.csv"), "--count", "x"],
                     ["-c", data("spike.conf"), "-t", data("spike.csv"), "--from", "yesterday"],
                     ["-c", data("spike.conf"), "-t", data("spike.csv"), "--from", "100", "--until", "50"],
                     ["-c", data("spike.conf"), "-t", data("spike.csv"), "extra"]):
            p = simulate(*args)
            self.assertEqual(p.returncode, 2, args)
            self.assertNotEqual(p.stderr, "", args)
        p = simulate("--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("usage: asctl simulate", p.stdout)

    def test_stdin(self):
        with open(data("spike.csv")) as f:
            p = subprocess.run([ASCTL, "simulate", "-c", data("spike.conf"), "-t", "-", "--json"], stdin=f,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stdout.splitlines()), 5)


if __name__ == "__main__":
    unittest.main()
