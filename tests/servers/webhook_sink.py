#!/usr/bin/env python3
"""webhook_sink: a loopback webhook receiver that records what it is sent and fails on request.

Prints its port on stdout, answers every POST outside /_sink/ with 200 {"ok": true} unless a
fault is queued, and takes orders under /_sink/:
  GET  /_sink/posts              every POST so far: [{"path", "headers", "body", "json", "answer"}]
                                 (path with its query; json: the parsed body or null;
                                 answer: the status sent, "drop" or "slow:N")
  POST /_sink/reset              forgets posts and faults
  POST /_sink/faults             {"next": [500, {"status": 429, "retry_after": 1}, 404, "slow:3", "drop"],
                                  "path": "/hook"}: played one a POST, in order; with "path",
                                 only for POSTs to that path (query aside), before the shared ones
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
    def __init__(self):
        self.lock = threading.Lock()
        self.posts = []
        self.faults = {}        # path ("" for any) -> [fault, ...]

    def next_fault(self, path):
        for key in (path, ""):
            queue = self.faults.get(key)
            if queue:
                return queue.pop(0)
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "webhook_sink/1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, obj=None, headers=None):
        data = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > BODY_MAX:
            raise ValueError("body too large")
        return self.rfile.read(n).decode("utf-8", "replace") if n else ""

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/_sink/posts":
            with self.server.state.lock:
                self.reply(200, self.server.state.posts)
        else:
            self.reply(404, {"error": "no such page"})

    def do_POST(self):
        st = self.server.state
        try:
            body = self.read_body()
        except ValueError:
            self.reply(413, {"error": "body too large"})
            return
        url = urllib.parse.urlsplit(self.path)
        if url.path.startswith("/_sink/"):
            self.control(url.path, body)
            return
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        with st.lock:
            fault = st.next_fault(url.path)
            post = {"path": self.path, "headers": dict(self.headers.items()), "body": body,
                    "json": parsed, "answer": 200}
            st.posts.append(post)
        self.play(fault, post)

    def play(self, fault, post):
        """Answers one webhook POST, as the fault says."""
        if fault is None:
            self.reply(200, {"ok": True})
            return
        if isinstance(fault, str) and fault.startswith("slow:"):
            post["answer"] = fault
            time.sleep(min(float(fault[5:]), 30))
            self.reply(200, {"ok": True})
            return
        if fault == "drop":
            post["answer"] = "drop"
            self.close_connection = True
            self.connection.close()
            return
        if isinstance(fault, int):
            fault = {"status": fault}
        status = int(fault.get("status", 500))
        headers = {}
        if "retry_after" in fault:
            headers["Retry-After"] = str(fault["retry_after"])
        post["answer"] = status
        self.reply(status, {"error": "sink fault %d" % status}, headers)

    def control(self, path, body):
        st = self.server.state
        try:
            req = json.loads(body) if body else {}
            if not isinstance(req, dict):
                raise ValueError
        except ValueError:
            self.reply(400, {"error": "expected a JSON object"})
            return
        with st.lock:
            if path == "/_sink/reset":
                st.posts.clear()
                st.faults.clear()
                self.reply(200, {})
            elif path == "/_sink/faults":
                nxt = req.get("next", [])
                if not isinstance(nxt, list):
                    self.reply(400, {"error": "next: expected a list"})
                    return
                st.faults.setdefault(str(req.get("path", "")), []).extend(nxt)
                self.reply(200, {"queued": sum(len(q) for q in st.faults.values())})
            else:
                self.reply(404, {"error": "no such control"})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # a client that went away (a request dropped, a test that stopped waiting) is no error here
        if not isinstance(sys.exc_info()[1], (ConnectionError, OSError)):
            super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lifetime", type=float, default=120.0)
    args = ap.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    server.state = State()
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
