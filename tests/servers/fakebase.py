"""fakebase: the plumbing the loopback test servers of tests/servers/ share.

A server subclasses Handler (JSON answers, bodies, the request log, queued faults) and, when it
keeps a plain request log and fault queue, State; its main() ends in
    return serve(TheHandler, the_state, parse_args(parser))
which adds --lifetime to the parser, prints the port on the first stdout line and serves on
127.0.0.1 until the lifetime ends.
"""
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY_MAX = 1 << 20


class State:
    """What a server keeps between requests: a lock, the request log and the queued faults."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.faults = []

    def log(self, entry):
        """Records one API request and takes the fault queued for it, or None (under the lock)."""
        self.requests.append(entry)
        return self.faults.pop(0) if self.faults else None


class Handler(BaseHTTPRequestHandler):
    """Answers each method in `methods` with handle_any(): paths under `control_prefix` go to
    control(); the others are logged (log_entry(), the state's log()), played the next queued
    fault (play_fault(), fault_reply()) and answered by api()."""
    protocol_version = "HTTP/1.1"
    methods = ()
    control_prefix = "/_fake/"
    too_large = {"error": "body too large"}     # the answer to a body over BODY_MAX

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for method in cls.methods:
            if "do_" + method not in cls.__dict__:
                setattr(cls, "do_" + method, lambda self, method=method: self.handle_any(method))

    def log_message(self, fmt, *args):
        pass

    # ---- answers and bodies ----
    def send(self, status, data, ctype="application/json", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def reply(self, status, obj=None, headers=None):
        """Answers obj as JSON (None: an empty body)."""
        self.send(status, b"" if obj is None else json.dumps(obj).encode(), headers=headers)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > BODY_MAX:
            raise ValueError("body too large")
        return self.rfile.read(n).decode("utf-8", "replace") if n else ""

    # ---- one request ----
    def handle_any(self, method):
        try:
            body = self.read_body()
        except ValueError:
            self.reply(413, self.too_large)
            return
        url = urllib.parse.urlsplit(self.path)
        if url.path.startswith(self.control_prefix):
            self.control(method, url.path, body)
            return
        entry = self.log_entry(method, body)
        st = self.server.state
        with st.lock:
            fault = st.log(entry)
        if fault is not None and self.play_fault(fault):
            return
        self.api(method, url, body)

    def play_fault(self, f):
        """Plays one queued fault: "slow:N" waits N seconds (30 at most) before the usual answer,
        "drop" closes the connection unanswered, a status or {"status", "retry_after", ...} is
        answered by fault_reply(). True when the request was answered (or dropped)."""
        if isinstance(f, str) and f.startswith("slow:"):
            self.fault_played(f)
            time.sleep(min(float(f[5:]), 30))
            return False
        if f == "drop":
            self.fault_played(f)
            self.close_connection = True
            self.connection.close()
            return True
        if isinstance(f, int):
            f = {"status": f}
        status = int(f.get("status", 500))
        headers = {}
        if "retry_after" in f:
            headers["Retry-After"] = str(f["retry_after"])
        self.fault_played(status)
        self.fault_reply(status, f, headers)
        return True

    # ---- what a server fills in ----
    def control(self, method, path, body):
        """Answers a request to the control API."""
        raise NotImplementedError

    def log_entry(self, method, body):
        """What the request log keeps of an API request."""
        raise NotImplementedError

    def api(self, method, url, body):
        """Answers an API request (url: urlsplit of the path)."""
        raise NotImplementedError

    def fault_reply(self, status, fault, headers):
        """Answers a fault of that status (fault: the queued dict; headers: Retry-After, if any)."""
        raise NotImplementedError

    def fault_played(self, answer):
        """Told of a fault about to be played: "slow:N", "drop" or the status."""


class Server(ThreadingHTTPServer):
    daemon_threads = True
    quiet = (BrokenPipeError, ConnectionResetError)

    def handle_error(self, request, client_address):
        """A client that went away mid-answer (a killed coordinator) is part of the tests."""
        if not isinstance(sys.exc_info()[1], self.quiet):
            super().handle_error(request, client_address)


def parse_args(parser):
    """Adds --lifetime to the server's argparse parser and parses the command line."""
    parser.add_argument("--lifetime", type=float, default=120.0)
    return parser.parse_args()


def serve(handler_class, state, args, quiet=Server.quiet):
    """Serves on a free port of 127.0.0.1, printed on the first stdout line, for args.lifetime
    seconds; quiet: the exceptions of a client gone away, not reported on stderr. Returns 0."""
    server = Server(("127.0.0.1", 0), handler_class)
    server.quiet = quiet
    server.state = state
    server.timeout = 0.2
    sys.stdout.write("%d\n" % server.server_address[1])
    sys.stdout.flush()
    deadline = time.monotonic() + args.lifetime
    while time.monotonic() < deadline:
        server.handle_request()
    server.server_close()
    return 0
