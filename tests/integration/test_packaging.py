"""test_packaging: the .deb and .rpm hold the programs, configuration, man pages and units."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from ascale_test import BUILD

SRC = os.environ.get("ASCALE_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))


def needed(program):
    """The sonames of the shared libraries program needs itself (its NEEDED entries)."""
    return set(re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]", run("readelf", "-d", program)))


def linked_packages(program):
    """The Debian packages (dpkg -S) of the libraries needed(program), found where ldd finds them."""
    sonames = needed(program)
    pkgs = set()
    for line in run("ldd", program).splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if not m or m.group(1) not in sonames:
            continue
        lib = m.group(2)
        for path in (lib, os.path.realpath(lib), "/usr" + lib, lib.removeprefix("/usr")):
            p = subprocess.run(["dpkg", "-S", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            if p.returncode == 0:
                pkgs.add(p.stdout.split(":")[0])
                break
        else:
            raise AssertionError(f"{program}: no package holds {lib}")
    return pkgs


def run(*cmd):
    return subprocess.run(cmd, cwd=SRC, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=300, check=True).stdout


class Packaging(unittest.TestCase):
    def test_deb(self):
        if not shutil.which("dpkg-deb"):
            self.skipTest("dpkg-deb is missing")
        deb = run("sh", "packaging/deb.sh", BUILD).strip().splitlines()[-1]
        files = run("dpkg-deb", "-c", deb)
        for want in ("./usr/sbin/asagent", "./usr/bin/asctl", "./etc/ascale/asagent.conf",
                     "./lib/systemd/system/asagent.service", "./usr/share/man/man8/asagent.8.gz"):
            self.assertIn(want, files)
        self.assertEqual(run("dpkg-deb", "-f", deb, "Package").strip(), "ascale")
        self.assertIn("/etc/ascale/asagent.conf", run("dpkg-deb", "-I", deb, "conffiles"))
        depends = {d.split()[0] for d in run("dpkg-deb", "-f", deb, "Depends").split(",")}
        with tempfile.TemporaryDirectory() as root:
            run("dpkg-deb", "-x", deb, root)
            for prog in ("usr/sbin/asagent", "usr/sbin/ascoord", "usr/bin/asctl"):
                missing = linked_packages(os.path.join(root, prog)) - depends
                self.assertEqual(missing, set(), f"{prog} links libraries of packages Depends lacks")
        with tempfile.TemporaryDirectory() as root:
            run("dpkg-deb", "-x", deb, root)
            out = run(os.path.join(root, "usr/bin/asctl"), "--version")
            self.assertIn("0.", out)
            unit = open(os.path.join(root, "lib/systemd/system/asagent.service")).read()
            self.assertIn("ExecStart=/usr/sbin/asagent -f", unit)
            self.assertIn("Type=notify", unit)

    def test_rpm(self):
        if not shutil.which("rpmbuild"):
            self.skipTest("rpmbuild is missing")
        rpm = run("sh", "packaging/rpm.sh", BUILD).strip().splitlines()[-1]
        files = run("rpm", "-qlp", rpm).split()
        for want in ("/usr/sbin/asagent", "/usr/bin/asctl", "/etc/ascale/asagent.conf",
                     "/usr/lib/systemd/system/asagent.service"):
            self.assertIn(want, files)
        self.assertIn("/etc/ascale/asagent.conf", run("rpm", "-qcp", rpm).split())
        requires = run("rpm", "-qRp", rpm).split("\n")
        for prog in ("asagent", "ascoord", "asctl"):
            for soname in needed(os.path.join(BUILD, prog)):
                self.assertTrue(any(r.startswith(soname + "()") for r in requires), f"{prog}: {soname}")

    def test_unit_files_verify(self):
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze is missing")
        with tempfile.TemporaryDirectory() as tmp:
            for name in os.listdir(os.path.join(SRC, "packaging", "systemd")):
                text = open(os.path.join(SRC, "packaging", "systemd", name)).read()
                path = os.path.join(tmp, name)
                with open(path, "w") as f:
                    f.write(text.replace("@SBINDIR@", os.path.abspath(BUILD)))
                p = subprocess.run(["systemd-analyze", "verify", "--man=no", path], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
                # verify also complains about the host; only lines about our unit count
                ours = [l for l in p.stdout.splitlines() if name in l]
                self.assertEqual(ours, [], "\n".join(ours))


if __name__ == "__main__":
    unittest.main()
