#!/usr/bin/env python3
"""fake_arm: a loopback stand-in for the Azure ML ARM deployment API and the Kubernetes scale subresource.

Prints its port on stdout, records every request, and takes orders under /_fake/:
  GET  /_fake/requests           every API request so far: [{"method","path","body","auth","ctype"}]
  POST /_fake/reset              forgets requests and faults
  POST /_fake/faults             {"next": [500, {"status": 429, "retry_after": 1}, "slow:2", "drop",
                                  {"status": 403, "reason": "Forbidden", "message": "..."}]}
  POST /_fake/capacity           {"capacity": N}: changes every deployment behind the client's back
  POST /_fake/token              {"token": "..."}: the bearer token expected from now on
  POST /_fake/config             {"patch_status": 200|201|202, "polls": N, "final": "Succeeded"|"Failed"|"Canceled",
                                  "op_seconds": S}  (S > 0: an operation also ends by itself S seconds after it
                                  began, polled or not, as Azure's do)
Stops by itself after --lifetime seconds.
"""
import argparse
import json
import os
import re
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakebase  # noqa: E402

API_VERSION = "2024-04-01"
ARM_RE = re.compile(r"^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/"
                    r"Microsoft\.MachineLearningServices/workspaces/([^/]+)/"
                    r"onlineEndpoints/([^/]+)/deployments/([^/]+)$")
OP_RE = re.compile(r"^/subscriptions/([^/]+)/providers/Microsoft\.MachineLearningServices/"
                   r"locations/fake/mlAsyncOperations/([0-9]+)$")
K8S_RE = re.compile(r"^/apis/apps/v1/namespaces/([^/]+)/deployments/([^/]+)/scale$")


class State(fakebase.State):
    def __init__(self, token, capacity):
        super().__init__()
        self.token = token
        self.default_capacity = capacity
        self.capacity = {}      # resource path -> count
        self.prov = {}          # resource path -> provisioningState
        self.ops = {}           # id -> {"path", "capacity", "polls_left", "final"}
        self.next_op = 1
        self.patch_status = 202
        self.polls = 1
        self.final = "Succeeded"
        self.op_seconds = 0.0

    def log(self, entry):
        fault = super().log(entry)
        self.finish_due()
        return fault

    def finish(self, op):
        """Ends an operation (under the lock)."""
        if op["final"] == "Succeeded":
            self.capacity[op["path"]] = op["capacity"]
        self.prov[op["path"]] = op["final"]
        op["done"] = True

    def finish_due(self):
        """Ends the operations older than op_seconds (under the lock)."""
        now = time.monotonic()
        for op in self.ops.values():
            if not op["done"] and self.op_seconds > 0 and now - op["began"] >= self.op_seconds:
                self.finish(op)

    def get_capacity(self, path):
        return self.capacity.setdefault(path, self.default_capacity)


class Handler(fakebase.Handler):
    server_version = "fake_arm/1"
    methods = ("GET", "PATCH", "POST", "PUT")
    too_large = {"error": {"code": "TooLarge", "message": "body too large"}}

    # ---- plumbing ----
    def azure_error(self, status, code, message, headers=None):
        self.reply(status, {"error": {"code": code, "message": message}}, headers)

    def k8s_error(self, status, reason, message, headers=None):
        self.reply(status, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                            "message": message, "reason": reason, "code": status}, headers)

    def log_entry(self, method, body):
        return {"method": method, "path": self.path, "body": body,
                "auth": self.headers.get("Authorization", ""),
                "ctype": self.headers.get("Content-Type", ""), "time": time.time()}

    def fault_reply(self, status, f, headers):
        message = f.get("message", "fake fault %d" % status)
        if urllib.parse.urlsplit(self.path).path.startswith("/apis/"):
            self.k8s_error(status, f.get("reason", "InternalError"), message, headers)
        else:
            self.azure_error(status, f.get("reason", "FakeFault"), message, headers)

    # ---- control API ----
    def control(self, method, path, body):
        st = self.server.state
        try:
            req = json.loads(body) if body else {}
        except ValueError:
            self.reply(400, {"error": "bad json"})
            return
        with st.lock:
            if path == "/_fake/requests" and method == "GET":
                self.reply(200, st.requests)
            elif path == "/_fake/reset" and method == "POST":
                st.requests.clear()
                st.faults.clear()
                st.capacity.clear()
                st.prov.clear()
                st.patch_status, st.polls, st.final, st.op_seconds = 202, 1, "Succeeded", 0.0
                self.reply(200, {})
            elif path == "/_fake/faults" and method == "POST":
                st.faults.extend(req.get("next", []))
                self.reply(200, {"queued": len(st.faults)})
            elif path == "/_fake/capacity" and method == "POST":
                st.default_capacity = int(req["capacity"])
                for k in st.capacity:
                    st.capacity[k] = st.default_capacity
                self.reply(200, {})
            elif path == "/_fake/token" and method == "POST":
                st.token = str(req["token"])
                self.reply(200, {})
            elif path == "/_fake/config" and method == "POST":
                st.patch_status = int(req.get("patch_status", st.patch_status))
                st.polls = int(req.get("polls", st.polls))
                st.final = str(req.get("final", st.final))
                st.op_seconds = float(req.get("op_seconds", st.op_seconds))
                self.reply(200, {})
            else:
                self.reply(404, {"error": "no such control"})

    # ---- the APIs ----
    def authorized(self):
        return self.headers.get("Authorization", "") == "Bearer " + self.server.state.token

    def api(self, method, url, body):
        m = K8S_RE.match(url.path)
        if m:
            self.kubernetes(method, m, body)
            return
        m = ARM_RE.match(url.path)
        op = OP_RE.match(url.path)
        if not m and not op:
            self.azure_error(404, "NotFound", "no such resource")
            return
        if not self.authorized():
            self.azure_error(401, "InvalidAuthenticationToken",
                             "The access token is invalid.")
            return
        q = urllib.parse.parse_qs(url.query)
        if q.get("api-version") != [API_VERSION]:
            self.azure_error(400, "InvalidApiVersionParameter",
                             "The api-version '%s' is invalid." % ",".join(q.get("api-version", [])))
            return
        if op:
            self.operation(int(op.group(2)))
        elif method == "GET":
            self.deployment_get(url.path, m)
        elif method == "PATCH":
            self.deployment_patch(url.path, m, body)
        else:
            self.azure_error(405, "MethodNotAllowed", "method not allowed")

    def deployment(self, path, m):
        st = self.server.state
        return {"id": path, "name": m.group(5), "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
                "sku": {"name": "Default", "tier": "Standard", "capacity": st.get_capacity(path)},
                "properties": {"provisioningState": st.prov.get(path, "Succeeded"),
                               "endpointComputeType": "Managed"}}

    def deployment_get(self, path, m):
        with self.server.state.lock:
            self.reply(200, self.deployment(path, m))

    def deployment_patch(self, path, m, body):
        st = self.server.state
        try:
            cap = json.loads(body)["sku"]["capacity"]
            if not isinstance(cap, int) or cap < 0:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            self.azure_error(400, "BadRequest", "expected {\"sku\":{\"capacity\":N}}")
            return
        with st.lock:
            if st.prov.get(path, "Succeeded") in ("Updating", "Scaling"):
                self.azure_error(409, "Conflict", "an operation is in progress")
                return
            if st.patch_status != 202 and st.polls == 0:
                st.capacity[path] = cap
                self.reply(st.patch_status, self.deployment(path, m))
                return
            oid = st.next_op
            st.next_op += 1
            st.ops[oid] = {"path": path, "capacity": cap, "polls_left": st.polls, "final": st.final,
                           "began": time.monotonic(), "done": False}
            st.prov[path] = "Updating"
            host = self.headers.get("Host", "127.0.0.1")
            op_url = ("http://%s/subscriptions/%s/providers/Microsoft.MachineLearningServices/"
                      "locations/fake/mlAsyncOperations/%d?api-version=%s" % (host, m.group(1), oid, API_VERSION))
            headers = {"Azure-AsyncOperation": op_url, "Location": op_url + "&location=1",
                       "Retry-After": "0"}
            if st.patch_status == 202:
                self.reply(202, None, headers)
            else:
                self.reply(st.patch_status, self.deployment(path, m), headers)

    def operation(self, oid):
        st = self.server.state
        with st.lock:
            op = st.ops.get(oid)
            if op is None:
                self.azure_error(404, "NotFound", "no such operation")
                return
            if not op["done"] and op["polls_left"] > 0 and st.op_seconds <= 0:
                op["polls_left"] -= 1
                self.reply(200, {"status": "InProgress"}, {"Retry-After": "0"})
                return
            if not op["done"] and st.op_seconds > 0:
                self.reply(200, {"status": "InProgress"}, {"Retry-After": "1"})
                return
            if not op["done"]:
                st.finish(op)
            body = {"status": op["final"]}
            if op["final"] != "Succeeded":
                body["error"] = {"code": "DeploymentFailed", "message": "fake operation " + op["final"]}
            self.reply(200, body)

    def kubernetes(self, method, m, body):
        st = self.server.state
        if not self.authorized():
            self.k8s_error(401, "Unauthorized", "Unauthorized")
            return
        path = m.group(0)
        if method == "PATCH":
            if self.headers.get("Content-Type", "") != "application/merge-patch+json":
                self.k8s_error(415, "UnsupportedMediaType", "the body of the request was in an unknown format")
                return
            try:
                n = json.loads(body)["spec"]["replicas"]
                if not isinstance(n, int) or n < 0:
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                self.k8s_error(422, "Invalid", "spec.replicas: Invalid value")
                return
            with st.lock:
                st.capacity[path] = n
        elif method != "GET":
            self.k8s_error(405, "MethodNotAllowed", "method not allowed")
            return
        with st.lock:
            n = st.get_capacity(path)
        self.reply(200, {"kind": "Scale", "apiVersion": "autoscaling/v1",
                         "metadata": {"name": m.group(2), "namespace": m.group(1)},
                         "spec": {"replicas": n}, "status": {"replicas": n, "selector": "app=" + m.group(2)}})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--token", default="fake-token")
    ap.add_argument("--capacity", type=int, default=1)
    args = fakebase.parse_args(ap)
    return fakebase.serve(Handler, State(args.token, args.capacity), args)


if __name__ == "__main__":
    sys.exit(main())
