"""test_demo: `make demo` (packaging/demo.sh) scales its simulated endpoint out and back in, and cleans up."""

import os
import re
import signal
import subprocess
import time
import unittest

from ascale_test import BUILD, cgroup2_mount, need_root

SRC = os.path.join(os.path.dirname(__file__), "..", "..")
SHORT = {"DEMO_IDLE": "2", "DEMO_LOAD": "35", "DEMO_AFTER": "45"}


def start(**env):
    return subprocess.Popen(["sh", os.path.join(SRC, "packaging", "demo.sh"), BUILD],
                            env={**os.environ, **SHORT, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def demo_dir(out):
    m = re.search(r"^demo: its files are in (\S+), removed at the end\.$", out, re.M)
    return m.group(1) if m else None


class Demo(unittest.TestCase):
    def setUp(self):
        need_root(self)

    def assertCleanedUp(self, out):
        d = demo_dir(out)
        self.assertTrue(d, out)
        self.assertFalse(os.path.exists(d), out)
        left = subprocess.run(["pgrep", "-f", d], stdout=subprocess.PIPE, text=True).stdout
        self.assertEqual(left, "", "processes left behind")
        load = subprocess.run(["pgrep", "-f", "ascale-demo-load"], stdout=subprocess.PIPE, text=True).stdout
        self.assertEqual(load, "", "load left behind")
        root = cgroup2_mount()
        if root:
            self.assertEqual([n for n in os.listdir(root) if n.startswith("ascale-demo-")], [])

    def test_scales_out_under_load_and_back_in(self):
        p = start()
        out, _ = p.communicate(timeout=240)
        self.assertEqual(p.returncode, 0, out)
        history = out[out.index("--- what ascoord did"):]
        rows = [l.split() for l in history.splitlines() if " demo " in l]
        outs = [r for r in rows if r[2:4] == ["scale", "out"]]
        ins = [r for r in rows if r[2:4] == ["scale", "in"]]
        self.assertTrue(outs and outs[0][4] == "1→2" and outs[0][5] == "succeeded", out)
        self.assertTrue(ins and ins[-1][4].endswith("→1") and ins[-1][5] == "succeeded", out)
        self.assertLess(rows.index(outs[0]), rows.index(ins[-1]), out)
        self.assertIn("instances 1 live", out)
        self.assertCleanedUp(out)

    def test_bad_timing_is_refused(self):
        p = start(DEMO_LOAD="1m")
        out, _ = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 2, out)
        self.assertIn("whole seconds, not '1m'", out)

    def test_ctrl_c_cleans_up(self):
        p = start(DEMO_IDLE="1", DEMO_LOAD="600")    # ends in time only if Ctrl-C stops the load
        deadline = time.monotonic() + 120
        seen = ""
        while "--- load" not in seen and time.monotonic() < deadline:
            seen += p.stdout.readline()
        self.assertIn("--- load", seen)
        os.killpg(p.pid, signal.SIGINT)
        rest, _ = p.communicate(timeout=120)    # a hang guard: sanitizer builds on a busy machine are slow
        self.assertNotEqual(p.returncode, 0)
        self.assertCleanedUp(seen + rest)


if __name__ == "__main__":
    unittest.main()
