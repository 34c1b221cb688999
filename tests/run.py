#!/usr/bin/env python3
"""run: every unit test binary, then the integration tests, with one summary line."""

import argparse
import os
import re
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CMOCKA = {
    "passed": re.compile(r"^\[  PASSED  \] (\d+) test"),
    "failed": re.compile(r"^\[  FAILED  \] (\d+) test"),
    "skipped": re.compile(r"^\[  SKIPPED \] (\d+) test"),
}


def run_units(build, only):
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    tdir = os.path.join(build, "tests")
    names = sorted(n for n in os.listdir(tdir) if n.startswith("test_")) if os.path.isdir(tdir) else []
    for name in names:
        if only and not any(o in name for o in only):
            continue
        path = os.path.join(tdir, name)
        if not os.access(path, os.X_OK) or os.path.isdir(path):
            continue
        start = time.monotonic()
        try:
            p = subprocess.run([path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, errors="replace", timeout=300)
            out, rc = p.stdout, p.returncode
        except subprocess.TimeoutExpired as e:
            out, rc = (e.stdout or "") + "\n(timed out)\n", -1
        counts = {k: 0 for k in totals}
        for line in out.splitlines():
            for k, rx in CMOCKA.items():
                m = rx.match(line)
                if m:
                    counts[k] += int(m.group(1))
        if rc != 0 and counts["failed"] == 0:
            counts["failed"] = 1  # crashed or timed out: count the binary once
        for k in totals:
            totals[k] += counts[k]
        status = "ok" if rc == 0 else "FAIL"
        print(f"unit  {name:<28} {status:<4} {counts['passed']:>3} passed "
              f"{counts['failed']:>2} failed {counts['skipped']:>2} skipped "
              f"({time.monotonic() - start:.1f}s)", flush=True)
        if rc != 0 or counts["skipped"]:
            # show the failing or skipping lines, not the whole log
            keep = [l for l in out.splitlines()
                    if rc != 0 or "SKIP" in l or "skip" in l]
            print("\n".join("      " + l for l in keep[-60:]), flush=True)
    return totals


def run_fuzz(build, seconds, only, seed):
    """Each libFuzzer target for a while, from its seed corpus; a crash fails it.

    With a fixed seed (make check uses 1) the inputs come in the same order on
    every run, so a slower machine only tries a prefix of what a longer run
    here has tried: make check cannot fail by chance. seed 0 picks one at
    random, for hunting."""
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    fdir = os.path.join(build, "fuzz")
    names = sorted(n for n in os.listdir(fdir) if n.startswith("fuzz_")) if os.path.isdir(fdir) else []
    for name in names:
        path = os.path.join(fdir, name)
        if (only and not any(o in name for o in only)) or not os.access(path, os.X_OK) \
                or os.path.isdir(path):
            continue
        work = os.path.join(fdir, "corpus", name)
        os.makedirs(work, exist_ok=True)
        seeds = os.path.join(HERE, "fuzz", "corpus_" + name[len("fuzz_"):])
        cmd = [path, f"-max_total_time={seconds}", f"-seed={seed}", "-timeout=10", "-rss_limit_mb=2048",
               f"-artifact_prefix={fdir}/", work] + ([seeds] if os.path.isdir(seeds) else [])
        start = time.monotonic()
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           errors="replace", timeout=seconds + 120)
        ok = p.returncode == 0
        totals["passed" if ok else "failed"] += 1
        runs = re.findall(r"#(\d+)\s+DONE", p.stdout)
        print(f"fuzz  {name:<28} {'ok' if ok else 'FAIL':<4} {runs[-1] if runs else '?'} runs "
              f"({time.monotonic() - start:.1f}s)", flush=True)
        if not ok:
            print("\n".join("      " + l for l in p.stdout.splitlines()[-40:]), flush=True)
    return totals


class CountingResult(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1


def run_integration(build, only):
    os.environ["ASCALE_BUILD"] = os.path.abspath(build)
    os.environ["ASCALE_SRC"] = os.path.dirname(HERE)
    idir = os.path.join(HERE, "integration")
    if not os.path.isdir(idir):
        return {"passed": 0, "failed": 0, "skipped": 0}
    loader = unittest.TestLoader()
    suite = loader.discover(idir, pattern="test_*.py", top_level_dir=idir)
    if only:
        def keep(s):
            out = unittest.TestSuite()
            for t in s:
                if isinstance(t, unittest.TestSuite):
                    out.addTest(keep(t))
                elif any(o in t.id() for o in only) or t.id().startswith("unittest.loader"):
                    # a module that failed to import always shows
                    out.addTest(t)
            return out
        suite = keep(suite)
    runner = unittest.TextTestRunner(verbosity=2, resultclass=CountingResult, stream=sys.stdout)
    res = runner.run(suite)
    return {"passed": res.passed,
            "failed": len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses),
            "skipped": len(res.skipped)}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default="build")
    ap.add_argument("--units-only", action="store_true")
    ap.add_argument("--fuzz-seconds", type=int, default=0, help="run each fuzz target this long")
    ap.add_argument("--fuzz-seed", type=int, default=1, help="libFuzzer's seed (0: random)")
    ap.add_argument("only", nargs="*", help="run only tests whose name contains one of these")
    args = ap.parse_args()
    totals = run_units(args.build, args.only)
    if args.fuzz_seconds:
        fz = run_fuzz(args.build, args.fuzz_seconds, args.only, args.fuzz_seed)
        for k in totals:
            totals[k] += fz[k]
    if not args.units_only:
        integ = run_integration(args.build, args.only)
        for k in totals:
            totals[k] += integ[k]
    print(f"{totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
    return 1 if totals["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
