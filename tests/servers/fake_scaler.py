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
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakebase  # noqa: E402


class State(fakebase.State):
    def __init__(self, count, field):
        super().__init__()
        self.initial = (count, field)
        self.count = count
        self.field = field
        self.max = None

    def reset(self):
        self.count, self.field = self.initial
        self.max = None
        self.requests.clear()
        self.faults.clear()


class Handler(fakebase.Handler):
    server_version = "fake_scaler/1"
    methods = ("GET", "PUT", "POST", "PATCH", "DELETE")
    too_large = {"message": "body too large"}

    def log_entry(self, method, body):
        headers = {}
        for k in self.headers.keys():
            headers.setdefault(k, ", ".join(self.headers.get_all(k)))
        return {"method": method, "path": self.path, "headers": headers, "body": body}

    def fault_reply(self, status, f, headers):
        if "body" in f:
            self.send(status, str(f["body"]).encode(), "text/plain", headers)
        else:
            self.reply(status, {"message": "fake fault %d" % status}, headers)

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

    def api(self, method, url, body):
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
    args = fakebase.parse_args(ap)
    return fakebase.serve(Handler, State(args.count, args.field), args)


if __name__ == "__main__":
    sys.exit(main())
