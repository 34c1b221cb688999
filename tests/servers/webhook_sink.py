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
import os
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakebase  # noqa: E402


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

    def log(self, post):
        """Records a POST and takes its fault (under the lock)."""
        fault = self.next_fault(urllib.parse.urlsplit(post["path"]).path)
        self.posts.append(post)
        return fault


class Handler(fakebase.Handler):
    server_version = "webhook_sink/1"
    methods = ("POST",)
    control_prefix = "/_sink/"

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/_sink/posts":
            with self.server.state.lock:
                self.reply(200, self.server.state.posts)
        else:
            self.reply(404, {"error": "no such page"})

    def log_entry(self, method, body):
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        self.post = {"path": self.path, "headers": dict(self.headers.items()), "body": body,
                     "json": parsed, "answer": 200}
        return self.post

    def api(self, method, url, body):
        self.reply(200, {"ok": True})

    def fault_played(self, answer):
        self.post["answer"] = answer

    def fault_reply(self, status, fault, headers):
        self.reply(status, {"error": "sink fault %d" % status}, headers)

    def control(self, method, path, body):
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args = fakebase.parse_args(ap)
    # a client that went away (a request dropped, a test that stopped waiting) is no error here
    return fakebase.serve(Handler, State(), args, quiet=(ConnectionError, OSError))


if __name__ == "__main__":
    sys.exit(main())
