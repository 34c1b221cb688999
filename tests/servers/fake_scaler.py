#!/usr/bin/env python3
"""fake_scaler: a loopback stand-in for a generic scaling API, for the http backend.

Prints its port on stdout, records every request, and takes orders under /_fake/:
  GET  /_fake/requests   every API request so far: [{"method","path","headers","body"}]
  POST /_fake/reset      forgets requests and faults; the count goes back to --count, the field to --field
  POST /_fake/faults     {"next": [500, {"status": 429, "retry_after": 1}, {"status": 400, "body": "text"},
                          "slow:2", "drop"]}: how the next API requests are answered, one each
  POST /_fake/count      {"count": N}: changes the count behind the client's back (any JSON value is
                         kept as given, so that a test can make the API answer nonsense)
  POST /_fake/config     {"field": "spec.replicas", "max": M}: where PUT/POST/PATCH bodies hold the
                         count, and the largest count the API grants (a quota; null: none)
The API, on any other path:
  GET                    {"status": {"replicas": N}}
  PUT, POST, PATCH       a JSON body holding the count at the field (default "capacity"): 200 with
                         {"status": {"replicas": N}} (N capped at max); 400 {"message": "..."} when the
                         count is missing or bad
Stops by itself after --lifetime seconds.
"""
import argparse
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY_MAX = 1 << 20


class State:
    def __init__(self, count, field):
        self.lock = threading.Lock()
        self.initial = (count, field)
        self.count = count
        self.field = field
        self.max = None
        self.requests = []
        self.faults = []

    def reset(self):
        self.count, self.field = self.initial
        self.max = None
        self.requests.clear()
        self.faults.clear()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake_scaler/1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, data, ctype="application/json", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def reply(self, status, obj, headers=None):
        self.send(status, json.dumps(obj).encode(), headers=headers)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > BODY_MAX:
            raise ValueError("body too large")
        return self.rfile.read(n).decode("utf-8", "replace") if n else ""

    def do_GET(self):
        self.handle_any("GET")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_POST(self):
        self.handle_any("POST")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def handle_any(self, method):
        st = self.server.state
        try:
            body = self.read_body()
        except ValueError:
            self.reply(413, {"message": "body too large"})
            return
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/_fake/"):
            self.control(method, path, body)
            return
        headers = {}
        for k in self.headers.keys():
            headers.setdefault(k, ", ".join(self.headers.get_all(k)))
        with st.lock:
            st.requests.append({"method": method, "path": self.path, "headers": headers, "body": body})
            fault = st.faults.pop(0) if st.faults else None
        if fault is not None and self.fault(fault):
            return
        self.api(method, body)

    def fault(self, f):
        """Plays one queued fault; True when the request was answered (or dropped)."""
        if isinstance(f, str) and f.startswith("slow:"):
            time.sleep(min(float(f[5:]), 30))
            return False
        if f == "drop":
            self.close_connection = True
            self.connection.close()
            return True
        if isinstance(f, int):
            f = {"status": f}
        status = int(f.get("status", 500))
        headers = {}
        if "retry_after" in f:
            headers["Retry-After"] = str(f["retry_after"])
        if "body" in f:
            self.send(status, str(f["body"]).encode(), "text/plain", headers)
        else:
            self.reply(status, {"message": "fake fault %d" % status}, headers)
        return True

    def control(self, method, path, body):
        st = self.server.state
        try:
            req = json.loads(body) if body else {}
        except ValueError:
            self.reply(400, {"message": "bad json"})
            return
        with st.lock:
            if path == "/_fake/requests" and method == "GET":
                self.reply(200, st.requests)
            elif path == "/_fake/reset" and method == "POST":
                st.reset()
                self.reply(200, {})
            elif path == "/_fake/faults" and method == "POST":
                st.faults.extend(req.get("next", []))
                self.reply(200, {"queued": len(st.faults)})
            elif path == "/_fake/count" and method == "POST" and "count" in req:
                st.count = req["count"]
                self.reply(200, {})
            elif path == "/_fake/config" and method == "POST":
                st.field = str(req.get("field", st.field))
                st.max = req.get("max", st.max)
                self.reply(200, {})
            else:
                self.reply(404, {"message": "no such control"})

    def api(self, method, body):
        st = self.server.state
        if method == "GET":
            with st.lock:
                self.reply(200, {"status": {"replicas": st.count}})
            return
        if method == "DELETE":
            self.reply(405, {"message": "method not allowed"})
            return
        with st.lock:
            field = st.field
        try:
            v = json.loads(body)
            for name in field.split("."):
                v = v[name]
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            self.reply(400, {"message": "expected a count (an integer >= 0) at %s in the body" % field})
            return
        with st.lock:
            if st.max is not None:
                v = min(v, int(st.max))
            st.count = v
            self.reply(200, {"status": {"replicas": v}})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--field", default="capacity")
    ap.add_argument("--lifetime", type=float, default=120.0)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.state = State(args.count, args.field)
    server.timeout = 0.2
    sys.stdout.write("%d\n" % server.server_address[1])
    sys.stdout.flush()
    deadline = time.monotonic() + args.lifetime
    while time.monotonic() < deadline:
        server.handle_request()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
