"""test_coordinator: the real ascoord: start-up, ticking, the control socket and asctl status."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import unittest

from ascale_test import (ASCOORD, ASCTL, Ascoord, TempDir, ascoord_check, coordinator_section, need_root,
                         control_request, section, wait_for)


def config_text(sock, group, state):
    """A sim endpoint of 3 instances, 2 to 5, with rules on metrics no agent sends."""
    return (coordinator_section(sock, state, settle=0, control_group=group) +
            section("autoscale web", deployment="blue", endpoint="my-endpoint", backend="sim") +
            section("profile web default", min_count=2, max_count=5, count=3) +
            section("rule web default scale-out", condition="Percentage CPU > 70 avg 5m", scale="out 2") +
            section("rule web default scale-in", condition="Percentage CPU < 30 avg 5m", scale="in 1"))


class Coordinator(Ascoord):
    def __init__(self, tmp, group="nogroup", extra=""):
        super().__init__(tmp, lambda sock: config_text(sock, group, tmp) + extra)


class Notified:
    """ascoord -c tmp/c.conf (holding text) as systemd starts it: its NOTIFY_SOCKET is ours, its log tmp/log."""

    def __init__(self, tmp, text):
        self.conf = os.path.join(tmp, "c.conf")
        self.write(text)
        path = os.path.join(tmp, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(10)
        self.log = open(os.path.join(tmp, "log"), "w+")
        self.proc = subprocess.Popen([ASCOORD, "-c", self.conf], stderr=self.log,
                                     env=dict(os.environ, NOTIFY_SOCKET=path))

    def write(self, text):
        with open(self.conf, "w") as f:
            f.write(text)

    def notified(self, what):
        """The notifications up to the one holding what."""
        got = ""
        while what not in got:
            got += self.sock.recv(4096).decode()
        return got

    def output(self):
        with open(self.log.name) as f:
            return f.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.sock.close()
        self.log.close()


def asctl(sock, *args, wrap=()):
    return subprocess.run(list(wrap) + [ASCTL, "--socket", sock, *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=20)


class CoordinatorControl(unittest.TestCase):
    def test_status_after_ticks(self):
        with TempDir() as tmp:
            c = Coordinator(tmp)
            try:
                time.sleep(2.2)
                p = asctl(c.sock, "status", "--json")
                self.assertEqual(p.returncode, 0, p.stderr)
                st = json.loads(p.stdout)["settings"][0]
                self.assertEqual(st["setting"], "web")
                self.assertEqual((st["count"], st["min"], st["max"], st["default"]), (3, 2, 5, 3))
                self.assertEqual(st["profile"], "default")
                self.assertGreaterEqual(st["ticks"], 1)
                self.assertEqual([r["state"] for r in st["rules"]], ["missing", "missing"])
                self.assertIn("missing", st["last_decision"]["reason"])
                p = asctl(c.sock, "status", "web")
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn("scale-out  Percentage CPU > 70 avg 5m", p.stdout)
                p = asctl(c.sock, "status", "nope")
                self.assertEqual(p.returncode, 2)
                self.assertIn("no setting named 'nope'", p.stderr)
            finally:
                self.assertEqual(c.stop(), 0)
            self.assertFalse(os.path.exists(c.sock))

    def test_not_running(self):
        with TempDir() as tmp:
            p = asctl(os.path.join(tmp, "none.sock"), "status")
            self.assertEqual(p.returncode, 1)
            self.assertIn("ascoord is not running", p.stderr)

    def test_malformed_requests_get_errors(self):
        with TempDir() as tmp:
            c = Coordinator(tmp)
            try:
                cases = [
                    (b"hello\n", "malformed request"),
                    (b"[1,2]\n", "not an object"),
                    (b'{"v":2,"command":"status"}\n', "unsupported request version"),
                    (b'{"v":1}\n', 'expected a "command"'),
                    (b'{"v":1,"command":"frobnicate"}\n', "unknown command"),
                    (b'{"v":1,"command":"status","setting":"x"}\n', "no setting named"),
                    (b"\xff\xfe\x00garbage\n", "malformed request"),
                    (b"x" * 70000, "longer than 65536"),
                ]
                for data, want in cases:
                    reply = json.loads(control_request(c.sock, data))
                    self.assertFalse(reply["ok"], data[:40])
                    self.assertIn(want, reply["error"])
                # a client that says nothing is dropped, and the daemon lives on
                s = socket.socket(socket.AF_UNIX)
                s.connect(c.sock)
                s.settimeout(10)
                self.assertEqual(s.recv(10), b"")
                s.close()
                reply = json.loads(control_request(c.sock, b'{"v":1,"command":"version"}\n'))
                self.assertTrue(reply["ok"])
                self.assertIsNone(c.proc.poll())
            finally:
                self.assertEqual(c.stop(), 0)

    def test_access_control(self):
        need_root(self)
        if not shutil.which("setpriv"):
            self.skipTest("setpriv is missing")
        member = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        stranger = ["setpriv", "--reuid=4242", "--regid=4242", "--clear-groups"]
        with TempDir() as tmp:
            os.chmod(tmp, 0o755)
            c = Coordinator(tmp, group="nogroup")
            try:
                self.assertEqual(os.stat(c.sock).st_mode & 0o777, 0o660)
                p = asctl(c.sock, "status", wrap=member)
                self.assertEqual(p.returncode, 0, p.stderr)
                p = asctl(c.sock, "status", wrap=stranger)
                self.assertEqual(p.returncode, 1)
                self.assertIn("access denied", p.stderr)
                # past the file mode, the coordinator checks the peer itself
                os.chmod(c.sock, 0o666)
                p = asctl(c.sock, "status", wrap=stranger)
                self.assertEqual(p.returncode, 1)
                self.assertIn("access denied: root or group members only", p.stderr)
            finally:
                c.stop()

    def test_second_coordinator_refused(self):
        with TempDir() as tmp:
            c = Coordinator(tmp)
            try:
                p = subprocess.run([ASCOORD, "-f", "-c", c.conf], stderr=subprocess.PIPE,
                                   text=True, timeout=10)
                self.assertEqual(p.returncode, 1)
                self.assertIn("another coordinator is answering there", p.stderr)
                reply = json.loads(control_request(c.sock, b'{"v":1,"command":"version"}\n'))
                self.assertEqual(reply["ok"], True)
            finally:
                c.stop()

    def test_bad_config(self):
        with TempDir() as tmp:
            conf = os.path.join(tmp, "bad.conf")
            p = ascoord_check(conf, "[coordinator]\nlisten = nowhere\n", stderr=subprocess.PIPE)
            self.assertEqual(p.returncode, 2)
            self.assertIn(f"{conf}:2: listen: expected HOST:PORT", p.stderr)

    def test_notify_ready(self):
        with TempDir() as tmp, Notified(tmp, config_text(os.path.join(tmp, "c.sock"), "", tmp)) as c:
            self.assertIn("STATUS=evaluating 1 settings", c.notified("READY=1"))
            c.proc.send_signal(signal.SIGTERM)
            self.assertEqual(c.proc.wait(10), 0)

    def test_sighup_reloads_in_place_or_refuses(self):
        """SIGHUP: a configuration that fails -t's checks is refused and the running one stays; a good one
        takes over in the same process (RELOADING=1, then READY=1), and state.json carries the count."""
        with TempDir() as tmp:
            csock = os.path.join(tmp, "c.sock")
            text = config_text(csock, "", tmp)

            def settings():
                p = asctl(csock, "status", "--json")
                return [(s["setting"], s["count"]) for s in json.loads(p.stdout)["settings"]] if p.returncode == 0 else []

            with Notified(tmp, text) as c:
                c.notified("READY=1")
                self.assertEqual(settings(), [("web", 3)])
                c.write(text + "[autoscale api]\nbackend = nowhere\n")
                c.proc.send_signal(signal.SIGHUP)
                self.assertTrue(wait_for(lambda: "not reloaded" in c.output(), 10), c.output())
                self.assertIn("backend: expected azureml, kubernetes, http, exec or sim", c.output())
                self.assertIsNone(c.proc.poll())
                self.assertEqual(settings(), [("web", 3)])

                c.write(text.replace("count = 3", "count = 4") +
                        section("autoscale api", deployment="green", backend="sim") +
                        section("profile api default", min_count=1, max_count=3, count=1))
                c.proc.send_signal(signal.SIGHUP)
                self.assertIn("RELOADING=1", c.notified("RELOADING=1"))
                self.assertIn("STATUS=evaluating 2 settings", c.notified("READY=1"))
                self.assertIsNone(c.proc.poll())     # the same process, started again in place
                # web's count 3 came from state.json (the sim endpoint's), not from the new default 4
                self.assertEqual(wait_for(lambda: sorted(settings()), 10), [("api", 1), ("web", 3)])
                c.proc.send_signal(signal.SIGTERM)
                self.assertEqual(c.proc.wait(10), 0)

if __name__ == "__main__":
    unittest.main()
