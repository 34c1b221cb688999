"""test_history_cmd: the real asctl history on hand-written history files (table, --json, filters, --id)."""

import datetime
import json
import os
import re
import subprocess
import unittest

from ascale_test import ASCTL, TempDir

ID_SCALE_OUT = "0f8e7d6c-5b4a-4938-8271-605f4e3d2c1b"
ID_FAILED = "11111111-2222-4333-8444-555555555555"


def decision(time, before, after, reason, observed=83.2, profile="weekday peak", cause="rule"):
    def state(fired):
        return "missing" if observed is None else "fired" if fired() else "not fired"
    return {
        "time": time, "setting": "web", "profile": profile, "before": before, "after": after,
        "cause": cause, "applied": before != after, "flapping_adjusted": False, "reason": reason,
        "rules": [
            {"rule": "cpu-high", "observed": observed, "operator": ">", "threshold": 70,
             "state": state(lambda: observed > 70), "estimate": None, "samples": 300},
            {"rule": "cpu-low", "observed": observed, "operator": "<", "threshold": 30,
             "state": state(lambda: observed < 30), "estimate": None, "samples": 300},
        ],
    }


# The rotated file: older records.
ROTATED = [
    {"id": "aaaaaaaa-0000-4000-8000-000000000001", "time": "2026-01-05T08:00:00.000Z", "setting": "web",
     "event": "profile", "profile": "weekday peak", "from": 3, "to": 3, "reason": "no rule fired",
     "decision": decision("2026-01-05T08:00:00.000Z", 3, 3, "no rule fired", observed=50.0),
     "previous_profile": "default"},
    {"id": "aaaaaaaa-0000-4000-8000-000000000002", "time": "2026-01-05T08:30:00.000Z", "setting": "batch",
     "event": "external_change", "from": 2, "to": 4},
]

# The current file: newer records.
REASON_OUT = "rule cpu-high fired (Percentage CPU 83.2, threshold > 70): scale out from 3 to 7"
CURRENT = [
    {"id": ID_SCALE_OUT, "time": "2026-01-05T09:55:00.000Z", "setting": "web", "event": "scale",
     "direction": "out", "profile": "weekday peak", "rule": "cpu-high", "cause": "rule", "from": 3, "to": 7,
     "reason": REASON_OUT, "decision": decision("2026-01-05T09:55:00.000Z", 3, 7, REASON_OUT),
     "outcome": "succeeded", "completed": "2026-01-05T09:55:01.234Z", "count": 7, "message": "",
     "http_status": 200, "attempts": 1},
    {"id": "bbbbbbbb-0000-4000-8000-000000000003", "time": "2026-01-05T10:00:00.000Z", "setting": "batch",
     "event": "api_failure", "operation": "get", "outcome": "failed", "http_status": 503, "attempts": 3,
     "message": "Service Unavailable"},
    {"id": ID_FAILED, "time": "2026-01-05T10:05:00.000Z", "setting": "web", "event": "scale",
     "direction": "in", "profile": "weekday peak", "rule": "cpu-low", "cause": "rule", "from": 7, "to": 5,
     "reason": "rule cpu-low fired (Percentage CPU 21.5, threshold < 30): scale in from 7 to 5",
     "decision": decision("2026-01-05T10:05:00.000Z", 7, 5, "rule cpu-low fired", observed=21.5),
     "outcome": "failed", "completed": "2026-01-05T10:05:09.000Z", "count": 7,
     "message": "quota exceeded for the endpoint", "http_status": 409, "attempts": 1, "after_restart": True},
    {"id": "bbbbbbbb-0000-4000-8000-000000000005", "time": "2026-01-05T10:06:00.000Z", "setting": "web",
     "event": "metrics_missing", "profile": "weekday peak", "from": 7, "to": 7,
     "reason": "rule cpu-high: no data in its window; rule cpu-low: no data in its window",
     "decision": decision("2026-01-05T10:06:00.000Z", 7, 7, "no data", observed=None)},
    {"id": "bbbbbbbb-0000-4000-8000-000000000006", "time": "2026-01-05T10:07:00.000Z", "setting": "web",
     "event": "scale", "direction": "in", "profile": "weekday peak", "rule": None, "cause": "clamp",
     "from": 7, "to": 6, "reason": "count 7 is outside profile weekday peak's [2, 6]: clamp to 6",
     "decision": decision("2026-01-05T10:07:00.000Z", 7, 6, "clamp", cause="clamp"),
     "outcome": "succeeded", "completed": "2026-01-05T10:07:01.000Z", "count": 6, "message": "ok",
     "http_status": 200, "attempts": 1},
]

ALL = ROTATED + CURRENT


def line(rec):
    return json.dumps(rec, separators=(",", ":")) + "\n"


def write_history(d, rotated=ROTATED, current=CURRENT, bad=False):
    with open(os.path.join(d, "history.jsonl.1"), "w") as f:
        f.writelines(line(r) for r in rotated)
    with open(os.path.join(d, "history.jsonl"), "w") as f:
        f.write(line(current[0]))
        if bad:
            f.write("{\"id\": \"torn\", \"time\n")  # line 2: not JSON
        f.writelines(line(r) for r in current[1:])


def history(d, *args, columns="200"):
    env = dict(os.environ, COLUMNS=columns)
    return subprocess.run([ASCTL, "history", "--state-dir", d, *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=30, env=env)


def json_lines(text):
    return [json.loads(x) for x in text.splitlines()]


def rfc3339(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class Table(unittest.TestCase):
    def test_table_across_rotation(self):
        with TempDir() as d:
            write_history(d)
            p = history(d)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stderr, "")
            lines = p.stdout.splitlines()
            self.assertEqual(lines[0].split(), ["TIME", "SETTING", "EVENT", "FROM→TO", "OUTCOME",
                                                "RULE/CAUSE", "REASON"])
            rows = lines[1:]
            self.assertEqual(len(rows), len(ALL))
            # oldest first: the rotated file, then the current one
            self.assertEqual([r.split()[0] for r in rows], [r["time"] for r in ALL])
            self.assertRegex(rows[0], r"web\s+profile\s+3→3\s+-\s+-\s+weekday peak in force \(was default\)")
            self.assertRegex(rows[1], r"batch\s+external_change\s+2→4\s+-\s+-\s+the count changed outside ascale")
            self.assertRegex(rows[2], r"web\s+scale out\s+3→7\s+succeeded\s+cpu-high\s+rule cpu-high fired")
            self.assertRegex(rows[3], r"batch\s+api_failure\s+-\s+failed\s+get\s+HTTP 503: Service Unavailable")
            self.assertRegex(rows[4], r"scale in\s+7→5\s+failed\s+cpu-low\s+HTTP 409: quota exceeded")
            self.assertRegex(rows[6], r"scale in\s+7→6\s+succeeded\s+clamp\s+count 7 is outside")
            # the columns line up: every row's event starts where the heading's does
            col = lines[0].index("EVENT")
            for r in rows:
                self.assertIn(r[col:col + 5], ("profi", "exter", "scale", "api_f", "metri"))

    def test_reason_cut_to_width(self):
        with TempDir() as d:
            write_history(d)
            p = history(d, columns="120")
            self.assertEqual(p.returncode, 0, p.stderr)
            for r in p.stdout.splitlines():
                self.assertLessEqual(len(r), 120, r)
            self.assertTrue(any(len(r) == 120 for r in p.stdout.splitlines()))
            # the reason keeps 24 columns however narrow the terminal
            for r in history(d, columns="40").stdout.splitlines()[1:]:
                self.assertLessEqual(len(r.split("  ")[-1].strip()), 24, r)
            self.assertIn("…", p.stdout)
            self.assertNotIn(REASON_OUT, p.stdout)
            self.assertIn(REASON_OUT, history(d, columns="300").stdout)

    def test_default_last_20(self):
        with TempDir() as d:
            recs = [dict(CURRENT[0], id=f"cccccccc-0000-4000-8000-{i:012d}",
                         time=f"2026-01-06T10:{i:02d}:00.000Z", **{"from": i, "to": i + 1}) for i in range(30)]
            write_history(d, rotated=[], current=recs)
            p = history(d)
            rows = p.stdout.splitlines()
            self.assertEqual(len(rows), 1 + 20 + 1)
            self.assertIn("10→11", rows[1])
            self.assertIn("29→30", rows[20])
            self.assertIn("the last 20 of 30 records", rows[-1])
            p = history(d, "-n", "3")
            rows = p.stdout.splitlines()
            self.assertEqual(len(rows), 1 + 3)
            self.assertIn("27→28", rows[1])
            self.assertEqual(len(json_lines(history(d, "--json").stdout)), 30)
            self.assertEqual([r["from"] for r in json_lines(history(d, "--json", "--last", "2").stdout)], [28, 29])


class Json(unittest.TestCase):
    def test_json_records_as_they_are(self):
        with TempDir() as d:
            write_history(d)
            p = history(d, "--json")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(json_lines(p.stdout), ALL)

    def test_filters(self):
        with TempDir() as d:
            write_history(d)
            got = json_lines(history(d, "--json", "--setting", "batch").stdout)
            self.assertEqual([r["event"] for r in got], ["external_change", "api_failure"])
            got = json_lines(history(d, "--json", "--event", "scale").stdout)
            self.assertEqual([r["id"] for r in got], [r["id"] for r in ALL if r["event"] == "scale"])
            got = json_lines(history(d, "--json", "-e", "profile,api_failure", "--event", "metrics_missing").stdout)
            self.assertEqual([r["event"] for r in got], ["profile", "api_failure", "metrics_missing"])
            got = json_lines(history(d, "--json", "-S", "web", "-e", "scale", "-n", "1").stdout)
            self.assertEqual([r["to"] for r in got], [6])
            got = json_lines(history(d, "--json", "--since", "2026-01-05T10:00:00Z").stdout)
            self.assertEqual([r["time"] for r in got], [r["time"] for r in CURRENT[1:]])
            got = json_lines(history(d, "--json", "--since", "2026-01-05T11:00:00+01:00").stdout)
            self.assertEqual(len(got), 4)
            got = json_lines(history(d, "--json", "--since", "2026-01-06").stdout)
            self.assertEqual(got, [])
            p = history(d, "--setting", "nope")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, f"no record matches ({len(ALL)} in the history)\n")

    def test_since_duration(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        recs = [dict(CURRENT[1], id=f"dddddddd-0000-4000-8000-{h:012d}",
                     time=rfc3339(now - datetime.timedelta(hours=h))) for h in (5, 3, 1)]
        recs[1]["time"] = "yesterday"  # a time that does not read is not known to be recent
        with TempDir() as d:
            write_history(d, rotated=[], current=recs)
            self.assertEqual([r["id"] for r in json_lines(history(d, "--json", "--since", "2h").stdout)],
                             [recs[2]["id"]])
            self.assertEqual(len(json_lines(history(d, "--json", "--since", "6h").stdout)), 2)
            self.assertEqual(len(json_lines(history(d, "--json").stdout)), 3)


class Detail(unittest.TestCase):
    def test_id_why(self):
        with TempDir() as d:
            write_history(d)
            p = history(d, "--id", ID_SCALE_OUT)
            self.assertEqual(p.returncode, 0, p.stderr)
            out = p.stdout
            self.assertRegex(out, r"(?m)^id\s+" + ID_SCALE_OUT + "$")
            self.assertRegex(out, r"(?m)^reason\s+" + re.escape(REASON_OUT) + "$")
            self.assertRegex(out, r"(?m)^outcome\s+succeeded$")
            self.assertRegex(out, r"(?m)^http_status\s+200$")
            self.assertRegex(out, r"(?m)^count\s+3→7 \(applied\)$")
            self.assertRegex(out, r"(?m)^\s+RULE\s+OBSERVED\s+THRESHOLD\s+STATE\s+SAMPLES$")
            self.assertRegex(out, r"(?m)^\s+cpu-high\s+83\.2\s+> 70\s+fired\s+300$")
            self.assertRegex(out, r"(?m)^\s+cpu-low\s+83\.2\s+< 30\s+not fired\s+300$")
            # one record: nothing of the others
            self.assertNotIn("quota", out)

    def test_id_failed_in_full(self):
        with TempDir() as d:
            write_history(d)
            p = history(d, "--id", ID_FAILED)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertRegex(p.stdout, r"(?m)^message\s+quota exceeded for the endpoint$")
            self.assertRegex(p.stdout, r"(?m)^after_restart\s+true$")
            self.assertRegex(p.stdout, r"(?m)^\s+cpu-low\s+21\.5\s+< 30\s+fired\s+300$")
            self.assertEqual(json_lines(history(d, "--id", ID_FAILED, "--json").stdout), [CURRENT[2]])

    def test_id_unknown(self):
        with TempDir() as d:
            write_history(d)
            p = history(d, "--id", "nope")
            self.assertEqual(p.returncode, 1)
            self.assertIn("no record with id nope", p.stderr)
            self.assertEqual(p.stdout, "")


class Errors(unittest.TestCase):
    def test_bad_line_reported_and_skipped(self):
        with TempDir() as d:
            write_history(d, bad=True)
            p = history(d, "--json")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(json_lines(p.stdout), ALL)
            self.assertIn(os.path.join(d, "history.jsonl") + ":2:", p.stderr)
            p = history(d)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(len(p.stdout.splitlines()), 1 + len(ALL))
            self.assertIn("history.jsonl:2:", p.stderr)

    def test_no_history_yet(self):
        with TempDir() as d:
            p = history(d)
            self.assertEqual((p.returncode, p.stdout, p.stderr), (0, "no history yet\n", ""))
            p = history(d, "--json")
            self.assertEqual((p.returncode, p.stdout, p.stderr), (0, "", ""))

    def test_unreadable(self):
        with TempDir() as d:
            p = history(os.path.join(d, "missing"))
            self.assertEqual(p.returncode, 1)
            self.assertIn("no such directory", p.stderr)
            # a history file that cannot be read (a directory: unreadable even for root)
            os.mkdir(os.path.join(d, "history.jsonl"))
            p = history(d)
            self.assertEqual(p.returncode, 1)
            self.assertIn("history.jsonl", p.stderr)
            self.assertEqual(p.stdout, "")

    def test_bad_options(self):
        with TempDir() as d:
            write_history(d)
            for args in (["--event", "bogus"], ["--event", "scale,"], ["-n", "0"], ["--last", "x"],
                         ["--since", "soon"], ["--since", "0"], ["--bogus"], ["--id"], ["extra"],
                         ["--state-dir", ""], ["--setting", ""]):
                p = history(d, *args)
                self.assertEqual(p.returncode, 2, args)
                self.assertIn("asctl history --help", p.stderr, args)
                self.assertEqual(p.stdout, "", args)
            p = subprocess.run([ASCTL, "history", "--help"], stdout=subprocess.PIPE, text=True, timeout=30)
            self.assertEqual(p.returncode, 0)
            self.assertIn("--state-dir DIR", p.stdout)
            p = subprocess.run([ASCTL, "--help"], stdout=subprocess.PIPE, text=True, timeout=30)
            self.assertIn("history", p.stdout)


if __name__ == "__main__":
    unittest.main()
