"""ascale_test: shared pieces of the integration tests (binaries, the agent, the coordinator and its configs,
the fake servers, loads, /proc/stat)."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

BUILD = os.environ.get("ASCALE_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
ASAGENT = os.path.join(BUILD, "asagent")
ASCOORD = os.path.join(BUILD, "ascoord")
ASCTL = os.path.join(BUILD, "asctl")
SERVERS = os.path.join(os.path.dirname(__file__), "..", "servers")


def wait_for(pred, timeout, step=0.2):
    """pred() until it is true or timeout seconds passed; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


def need_root(test):
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root (eBPF, cgroups)")


def cgroup2_mount():
    """The cgroup v2 mount point, or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] == "cgroup2":
                return left.split()[4]
    return None


def proc_stat():
    """Machine-wide (busy, total) jiffies, busy as the agent's procfs source counts it."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = v
    busy = user + nice + system + irq + softirq + steal
    return busy, busy + idle + iowait


def proc_stat_cpu(cpu):
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                v = [int(x) for x in line.split()[1:9]]
                user, nice, system, idle, iowait, irq, softirq, steal = v
                busy = user + nice + system + irq + softirq + steal
                return busy, busy + idle + iowait
    raise KeyError(cpu)


def forks():
    """Processes created since boot (/proc/stat "processes")."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("processes "):
                return int(line.split()[1])
    raise KeyError("processes")


def task_runtime_ns():
    """Sum of every live thread's run time (schedstat, exact nanoseconds, idle tasks excluded)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # the thread ended while we walked
    return total


class Agent:
    """A real asagent in the foreground with its own config and ring in a temp dir."""

    def __init__(self, tmp, wrap=(), env=None, **keys):
        self.dir = tmp
        self.ring = os.path.join(tmp, "asagent.ring")
        self.conf = os.path.join(tmp, "asagent.conf")
        self.keys = {"ring_path": self.ring, "sample_interval": "100ms", "ring_seconds": "120"}
        self.keys.update(keys)
        self.write_conf()
        self.logpath = os.path.join(tmp, "asagent.log")
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen(list(wrap) + [ASAGENT, "-f", "-c", self.conf], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def write_conf(self, **keys):
        self.keys.update(keys)
        with open(self.conf, "w") as f:
            f.write("[agent]\n")
            for k, v in self.keys.items():
                f.write(f"{k} = {v}\n")

    def wait_ready(self, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"asagent exited {self.proc.returncode}: {self.output()}")
            if os.path.exists(self.ring):
                m = metrics(self.ring, check=False)
                if m is not None and m.get("latest"):
                    return m
            time.sleep(0.05)
        raise AssertionError(f"asagent not ready in {timeout}s: {self.output()}")

    def output(self):
        with open(self.logpath) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def metrics(ring, *args, check=True):
    p = subprocess.run([ASCTL, "metrics", "--ring", ring, "--json", *args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=20)
    if p.returncode != 0:
        if check:
            raise AssertionError(f"asctl metrics failed ({p.returncode}): {p.stderr}")
        return None
    return json.loads(p.stdout)


def samples_between(ring, t0, t1, metric="Percentage CPU"):
    """Values of metric from the samples whose real time lies in (t0, t1] (Unix seconds)."""
    held = int(time.time() - t0) + 5
    m = metrics(ring, "--since", f"{held}s", "--per-cpu")
    out = []
    for s in m.get("samples", []):
        t = parse_time(s["time"])
        v = s["values"].get(metric)
        if t0 < t <= t1 and v is not None:
            out.append(v)
    return out


def parse_time(text):
    """RFC 3339 UTC with optional fraction → Unix seconds."""
    import datetime
    base, _, frac = text.rstrip("Z").partition(".")
    t = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return t.timestamp() + (float("0." + frac) if frac else 0.0)


class Load:
    """Busy processes: cpu_load percent of one CPU each, pinned, optionally in a cgroup."""

    def __init__(self, cpu, load=100, cgroup=None):
        # A plain spinner has no reason to switch; a partial load sleeps and spins in 10 ms cycles.
        code = (
            "import os,sys,time\n"
            f"os.sched_setaffinity(0,{{{cpu}}})\n"
            f"load={load}/100\n"
            "if load>=1:\n"
            "    while True: pass\n"
            "period=0.01\n"
            "while True:\n"
            "    t=time.monotonic()\n"
            "    while time.monotonic()-t<period*load: pass\n"
            "    time.sleep(period*(1-load))\n"
        )
        self.proc = subprocess.Popen(["python3", "-c", code])
        if cgroup:
            with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
                f.write(str(self.proc.pid))

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def free_port():
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_keys(path, key_id=1):
    """A key file of one random HMAC key (id key_id), readable by its owner only, at path (returned)."""
    with open(path, "w") as f:
        f.write(f"{key_id} {os.urandom(32).hex()}\n")
    os.chmod(path, 0o600)
    return path


def section(name, /, **keys):
    """A section of a config file: [name], a `key = value` line for each of keys in their order (a
    list as value repeats the key), a blank line."""
    lines = ["[%s]\n" % name]
    for k, v in keys.items():
        lines += ["%s = %s\n" % (k, x) for x in (v if isinstance(v, list) else [v])]
    return "".join(lines) + "\n"


def coordinator_section(sock, state, **keys):
    """[coordinator] as the tests run ascoord: a tick a second, the control socket sock for the group
    nogroup, state_dir state; keys add to these or replace them."""
    return section("coordinator", **{"evaluate_every": "1s", "control_socket": sock,
                                     "control_group": "nogroup", "state_dir": state, **keys})


def azureml_section(arm_port, token_file, **keys):
    """[autoscale web] on the azureml backend: deployment blue of my-endpoint in workspace ws-1 of
    subscription sub-1, resource group rg-1, at fake_arm on arm_port; keys add to these or replace them."""
    return section("autoscale web", **{"deployment": "blue", "endpoint": "my-endpoint",
                                       "backend": "azureml", "arm": "http://127.0.0.1:%d" % arm_port,
                                       "subscription": "sub-1", "resource_group": "rg-1",
                                       "workspace": "ws-1", "token_file": token_file, **keys})


def write_token(path, token):
    """A bearer token file (token_file) holding token, at path (returned)."""
    with open(path, "w") as f:
        f.write(token + "\n")
    return path


def ascoord_check(conf, text=None, stderr=subprocess.STDOUT):
    """ascoord -t -c conf, with text written to conf first if given: the finished process, its
    stderr in its stdout unless stderr=subprocess.PIPE keeps them apart."""
    if text is not None:
        with open(conf, "w") as f:
            f.write(text)
    return subprocess.run([ASCOORD, "-t", "-c", conf], stdout=subprocess.PIPE, stderr=stderr, text=True,
                          timeout=20)


def line_of(path, line):
    """The number of the first line of the file at path that is line."""
    with open(path) as f:
        return [l.rstrip("\n") for l in f].index(line) + 1


def control_request(sock, data, timeout=10):
    """Sends bytes to the control socket sock, returns the reply line (decoded) or ''."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(sock)
        s.sendall(data)
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf.decode()


class Ascoord:
    """A real ascoord in the foreground on tmp/ascoord.conf, its control socket tmp/ascoord.sock,
    its output in tmp/ascoord.log."""

    def __init__(self, tmp, config, args=()):
        """Writes config(sock), the configuration's text, and starts ascoord -f with args."""
        self.sock = os.path.join(tmp, "ascoord.sock")
        self.conf = os.path.join(tmp, "ascoord.conf")
        self.logpath = os.path.join(tmp, "ascoord.log")
        self.args = args
        with open(self.conf, "w") as f:
            f.write(config(self.sock))
        self.start(log_mode="w")

    def start(self, log_mode="a"):
        """Starts ascoord (again), its output after what the log holds ("a") or instead ("w");
        returns once its control socket is there."""
        with open(self.logpath, log_mode) as log:
            self.proc = subprocess.Popen([ASCOORD, "-f", "-c", self.conf, *self.args], stdout=log,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("ascoord did not start: " + self.output())
            time.sleep(0.05)

    def output(self):
        with open(self.logpath) as f:
            return f.read()

    def asctl(self, *args):
        """asctl --socket SOCK ARGS: its output; an AssertionError when it fails."""
        p = subprocess.run([ASCTL, "--socket", self.sock, *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=20)
        if p.returncode != 0:
            raise AssertionError(f"asctl {args} failed: {p.stderr}\n{self.output()}")
        return p.stdout

    def status(self):
        """The first setting of asctl status --json."""
        return json.loads(self.asctl("status", "--json"))["settings"][0]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        return self.proc.returncode


class FakeServer:
    """One of the loopback servers of tests/servers/ (script), on the port it prints first."""

    def __init__(self, script, *args):
        self.proc = subprocess.Popen([sys.executable, os.path.join(SERVERS, script), *args],
                                     stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())
        self.base = "http://127.0.0.1:%d" % self.port

    def call(self, path, obj=None):
        """GET path, or POST obj to it as JSON: the answer's JSON (None when empty)."""
        data = None if obj is None else json.dumps(obj).encode()
        req = urllib.request.Request(self.base + path, data=data, method="GET" if obj is None else "POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")

    def requests(self, method=None):
        """The API requests logged so far (of fake_arm and fake_scaler), of that method if given."""
        return [r for r in self.call("/_fake/requests") if method is None or r["method"] == method]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()


class TempDir:
    def __enter__(self):
        self.t = tempfile.TemporaryDirectory(prefix="ascale-test-")
        return self.t.name

    def __exit__(self, *a):
        self.t.cleanup()
