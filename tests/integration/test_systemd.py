"""test_systemd: the .deb on a Debian 12 root booted with real systemd (systemd-nspawn -b): the units start
as Type=notify, keep their watchdog fed, stream agent to coordinator inside their sandboxes, reload and stop."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

from ascale_test import BUILD, need_root

SRC = os.path.join(os.path.dirname(__file__), "..", "..")
CHECK = os.path.join(os.path.dirname(__file__), "systemd_check.sh")
# debootstrap takes a minute: the root is made once and copied for every run
CACHE = os.environ.get("ASCALE_TEST_ROOT", "/var/cache/ascale-test/bookworm")
MIRROR = os.environ.get("ASCALE_TEST_MIRROR", "http://deb.debian.org/debian")


def bookworm_root():
    """A minimal Debian 12 root with systemd, made by debootstrap into CACHE once."""
    stamp = os.path.join(CACHE, ".ascale-test-complete")
    if os.path.exists(stamp):
        return CACHE
    shutil.rmtree(CACHE, ignore_errors=True)
    os.makedirs(os.path.dirname(CACHE), exist_ok=True)
    try:
        p = subprocess.run(["debootstrap", "--variant=minbase", "--include=systemd,systemd-sysv,dbus", "bookworm",
                            CACHE, MIRROR], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
        why = p.stdout.strip().splitlines()[-1:] if p.returncode else None
    except subprocess.TimeoutExpired:
        why = "no root after 5 minutes"
    if why:
        shutil.rmtree(CACHE, ignore_errors=True)
        raise unittest.SkipTest(f"debootstrap could not make a Debian 12 root from {MIRROR}: {why}")
    open(stamp, "w").close()
    return CACHE


def nspawn(root, *args, timeout=300):
    """systemd-nspawn on root, not registered with machined (PID 1 here is not systemd)."""
    return subprocess.run(["systemd-nspawn", "-q", "-D", root, "--register=no", "--keep-unit",
                           "--capability=all", "--system-call-filter=bpf perf_event_open", *args],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)


def sections(text):
    """The check script's output: {section name: its text}."""
    out, name = {}, None
    for line in text.splitlines():
        if line.startswith("== "):
            name = line[3:]
            out[name] = ""
        elif name:
            out[name] += line + "\n"
    return out


class Systemd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("systemd-nspawn", "debootstrap", "dpkg-deb"):
            if not shutil.which(tool):
                raise unittest.SkipTest(f"{tool} is missing (make deps installs it)")
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (systemd-nspawn)")
        cls.tmp = tempfile.mkdtemp(prefix="ascale-systemd-", dir="/var/tmp")
        cls.root = os.path.join(cls.tmp, "root")
        try:
            subprocess.run(["cp", "-a", "--reflink=auto", bookworm_root(), cls.root], check=True, timeout=300)
            deb = subprocess.run(["sh", "packaging/deb.sh", BUILD], cwd=SRC, stdout=subprocess.PIPE, text=True,
                                 check=True, timeout=300).stdout.strip().splitlines()[-1]
            shutil.copy(deb, os.path.join(cls.root, "var/tmp/ascale.deb"))
            # apt takes the Depends from Debian: a library missing from them would fail the units below
            p = nspawn(cls.root, "apt-get", "install", "-y", "-q", "--no-install-recommends",
                       "/var/tmp/ascale.deb")
            if p.returncode != 0:
                raise AssertionError("installing the .deb failed:\n" + p.stdout)
            shutil.copy(CHECK, os.path.join(cls.root, "usr/local/bin/ascale-check"))
            with open(os.path.join(cls.root, "etc/systemd/system/ascale-check.service"), "w") as f:
                f.write("[Unit]\nAfter=multi-user.target\n[Service]\nType=oneshot\n"
                        "ExecStart=/usr/local/bin/ascale-check\n")
            os.symlink("/etc/systemd/system/ascale-check.service",
                       os.path.join(cls.root, "etc/systemd/system/multi-user.target.wants/ascale-check.service"))
            boot = nspawn(cls.root, "-b", timeout=240)
            with open(os.path.join(cls.root, "var/tmp/ascale-check.out")) as f:
                cls.out = f.read()
        except BaseException:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise
        cls.s = sections(cls.out)
        cls.boot = boot.stdout

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def section(self, name):
        self.assertIn(name, self.s, f"the check did not get to '{name}':\n{self.out}\n{self.boot[-3000:]}")
        return self.s[name]

    def test_units_start_as_notify_and_feed_the_watchdog(self):
        self.assertIn("end", self.s, self.out)
        self.assertEqual(self.section("start").strip(), "rc=0", self.section("journal"))
        self.assertEqual(self.section("active").split(), ["active", "active"], self.section("journal"))
        # WatchdogSec=2s and 8 s later: a daemon that did not ping would have been restarted
        self.assertEqual(self.section("restarts").split(), ["0", "0"], self.section("journal"))

    def test_agent_samples_with_ebpf_and_streams_in_its_sandbox(self):
        m = json.loads(self.section("metrics"))
        self.assertEqual(m["source"], "ebpf", self.section("journal"))
        self.assertEqual(m["state"], "live")
        agents = json.loads(self.section("agents"))["agents"]
        self.assertEqual([(a["deployment"], a["state"]) for a in agents], [("blue", "live")])
        web = json.loads(self.section("status"))["settings"][0]
        self.assertEqual(web["instances"]["live"], 1)
        self.assertIn("state.json", self.section("state_dir").split())

    def test_reload_and_stop(self):
        self.assertEqual(self.section("reload").split(), ["rc=0", "active"], self.section("journal"))
        self.assertEqual(self.section("reload_coordinator").split(), ["rc=0", "active", "same-pid", "0", "answers"],
                         self.section("journal"))
        self.assertIn("reloading: ascoord starts again in place", self.section("journal"))
        self.assertEqual(json.loads(self.section("stopped"))["state"], "stopped")


if __name__ == "__main__":
    unittest.main()
