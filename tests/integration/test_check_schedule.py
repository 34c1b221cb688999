"""test_check_schedule: the real asctl check and asctl schedule, in text and JSON."""

import json
import os
import subprocess
import tempfile
import unittest

from ascale_test import ASCTL

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "check")
WARNINGS = os.path.join(DATA, "warnings.conf")
GOOD = os.path.join(DATA, "good.conf")
INVALID = os.path.join(DATA, "invalid.conf")
SCHEDULE = os.path.join(DATA, "schedule.conf")


def asctl(*args):
    return subprocess.run([ASCTL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=60)


class Check(unittest.TestCase):
    def test_good(self):
        p = asctl("check", "--config", GOOD, "--now", "2026-03-01", "--strict")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("valid: 1 setting, 0 warnings, 0 notes", p.stdout)
        p = asctl("check", "--config", GOOD, "--now", "2026-03-01", "--json")
        self.assertEqual(json.loads(p.stdout), [])

    def test_warnings_text(self):
        p = asctl("check", "--config", WARNINGS, "--now", "2026-03-01T12:00:00Z")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 11)  # ten findings and the summary
        self.assertIn(f"{WARNINGS}:19: warning: web/default/in: flap risk: at count 2", p.stdout)
        self.assertIn(f"{WARNINGS}:66: warning: web/old-launch: fixed-date profile", p.stdout)
        self.assertIn(f"{WARNINGS}:59: warning: web/monday-morning: recurring profile", p.stdout)
        self.assertIn("7 warnings, 3 notes", lines[-1])
        p = asctl("check", "--config", WARNINGS, "--now", "2026-03-01", "--strict")
        self.assertEqual(p.returncode, 1)

    def test_warnings_json(self):
        p = asctl("check", "--config", WARNINGS, "--now", "2026-03-01", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        found = json.loads(p.stdout)
        self.assertEqual(len(found), 10)
        byline = {(f["code"], f["line"]): f for f in found}
        flap = byline[("flap-risk", 19)]
        self.assertEqual((flap["severity"], flap["file"], flap["setting"], flap["profile"], flap["rule"]),
                         ("warning", WARNINGS, "web", "default", "in"))
        self.assertIsNone(byline[("no-scale-in", 30)]["rule"])
        self.assertEqual(byline[("percent-floor", 77)]["severity"], "note")
        for f in found:
            self.assertEqual(set(f), {"severity", "file", "line", "setting", "profile", "rule", "code", "message"})

    def test_now_moves_past(self):
        p = asctl("check", "--config", GOOD, "--now", "2027-01-01", "--json")
        self.assertEqual([(f["code"], f["line"]) for f in json.loads(p.stdout)], [("past", 41)])

    def test_invalid(self):
        p = asctl("check", "--config", INVALID)
        self.assertEqual(p.returncode, 2)
        self.assertIn(f"{INVALID}:7: min_count 2 is above max_count 1", p.stderr)
        self.assertIn(f"{INVALID}:10: condition: column 16", p.stderr)
        p = asctl("check", "--config", INVALID, "--json")
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stderr, "")
        errs = json.loads(p.stdout)
        self.assertEqual(sorted(e["line"] for e in errs), [7, 10])
        self.assertTrue(all(e["severity"] == "error" and e["file"] == INVALID for e in errs))

    def test_missing_and_usage(self):
        p = asctl("check", "--config", os.path.join(DATA, "nothing-here.conf"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("No such file", p.stderr)
        self.assertEqual(asctl("check").returncode, 2)
        self.assertEqual(asctl("check", "--config", GOOD, "--now", "yesterday").returncode, 2)
        self.assertEqual(asctl("check", "--help").returncode, 0)

    def test_garbage(self):
        with tempfile.NamedTemporaryFile("wb", suffix=".conf") as f:
            f.write(b"[autoscale web]\ndeployment = \xff\x00x\n[profile web default\ncount=99999\n")
            f.flush()
            p = asctl("check", "--config", f.name, "--json")
            self.assertEqual(p.returncode, 2)
            self.assertTrue(all(e["line"] for e in json.loads(p.stdout)))


class Schedule(unittest.TestCase):
    def test_dst_text(self):
        p = asctl("schedule", "--config", SCHEDULE, "--setting", "web",
                  "--from", "2026-03-06T03:00:00Z", "--days", "4")
        self.assertEqual(p.returncode, 0, p.stderr)
        rows = [line.split() for line in p.stdout.splitlines()]
        self.assertEqual(rows[0][:3], ["SETTING", "START", "(UTC)"])
        peaks = [r for r in rows[1:] if r[8] == "peak"]
        # Friday 09:00 PST is 17:00 UTC; Monday 09:00 PDT is 16:00 UTC
        self.assertEqual(peaks[0][1:5], ["2026-03-06", "17:00", "2026-03-06", "09:00-08:00"])
        self.assertEqual(peaks[1][1:5], ["2026-03-09", "16:00", "2026-03-09", "09:00-07:00"])
        self.assertEqual(peaks[1][5], "America/Los_Angeles")
        self.assertEqual(peaks[1][9:], ["4", "8", "4"])

    def test_dst_json(self):
        p = asctl("schedule", "--config", SCHEDULE, "--setting", "web",
                  "--from", "2026-10-30T02:00:00Z", "--days", "4", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        got = [(i["start"], i["end"], i["profile"]) for i in json.loads(p.stdout)]
        self.assertEqual(got, [
            ("2026-10-30T02:00:00Z", "2026-10-30T16:00:00Z", "default"),
            ("2026-10-30T16:00:00Z", "2026-10-31T01:00:00Z", "peak"),
            ("2026-10-31T01:00:00Z", "2026-11-02T17:00:00Z", "default"),
            ("2026-11-02T17:00:00Z", "2026-11-03T02:00:00Z", "peak"),
        ])
        self.assertEqual(len(got), 4)
        self.assertEqual(json.loads(p.stdout)[3]["start_local"], "2026-11-02T09:00:00-08:00")

    def test_all_settings(self):
        p = asctl("schedule", "--config", SCHEDULE, "--from", "2026-12-24", "--days", "2", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        batch = [(i["start"], i["profile"]) for i in json.loads(p.stdout) if i["setting"] == "batch"]
        self.assertEqual(batch, [("2026-12-24T00:00:00Z", "default"), ("2026-12-24T06:00:00Z", "holiday")])

    def test_bad(self):
        p = asctl("schedule", "--config", INVALID)
        self.assertEqual(p.returncode, 2)
        self.assertIn(f"{INVALID}:10:", p.stderr)
        self.assertEqual(asctl("schedule", "--config", SCHEDULE, "--setting", "nope").returncode, 2)
        self.assertEqual(asctl("schedule", "--config", SCHEDULE, "--days", "400").returncode, 2)
        self.assertEqual(asctl("schedule", "--config", SCHEDULE, "--from", "2026-13-01").returncode, 2)


if __name__ == "__main__":
    unittest.main()
