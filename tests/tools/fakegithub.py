#!/usr/bin/python3
"""fakegithub.py - a loopback stand-in for the parts of the GitHub REST API gpuproof uses.

    python3 fakegithub.py --port-file F [--port 0] [--signing-dir DIR] [--mode ok]

    GET  /users/<login>/ssh_signing_keys   JSON array [{"id", "key", "title", "created_at"}] built
                                           from DIR/<login>.keys (one key per line); 404 when absent
    POST /repos/<owner>/<repo>/statuses/<sha>
                                           recorded, answered 201 with the status as GitHub does

Every API request is recorded (method, path, query, Authorization header, body). Controls, which
always answer whatever the mode:

    GET /__control/mode/<ok|down|500|429>  persistent mode ("down" closes the connection unanswered)
    GET /__control/fail/<n>[/<status>]     the next n API requests answer <status> (default 500)
    GET /__control/statuses                {"statuses": [{"repo","sha","state","description",
                                           "context","target_url","authorization"}], ...} the
                                           status posts that were answered 201, in order
    GET /__control/requests                every API request seen, with the status answered
"""
import argparse
import http.server
import json
import os
import re
import socketserver
import sys
import threading
import time

LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
STATUS_PATH = re.compile(r"^/repos/([A-Za-z0-9._-]+)/([A-Za-z0-9._-]+)/statuses/([0-9a-f]{40}|[0-9a-f]{64})$")


class State:
    def __init__(self, args):
        self.signing_dir = args.signing_dir
        self.mode = args.mode
        self.fail_left = 0
        self.fail_status = 500
        self.statuses = []
        self.requests = []
        self.lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakegithub/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def send(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if status == 429:
            self.send_header("Retry-After", "1")
        self.end_headers()
        self.wfile.write(body)

    def control(self, path):
        st = self.server.state
        parts = path.split("/")[2:]
        with st.lock:
            if parts[:1] == ["mode"] and len(parts) == 2 and parts[1] in ("ok", "down", "500", "429"):
                st.mode = parts[1]
                return self.send(200, {"mode": st.mode})
            if parts[:1] == ["fail"] and len(parts) in (2, 3):
                st.fail_left = int(parts[1])
                st.fail_status = int(parts[2]) if len(parts) == 3 else 500
                return self.send(200, {"fail": st.fail_left, "status": st.fail_status})
            if parts == ["statuses"]:
                return self.send(200, {"statuses": list(st.statuses)})
            if parts == ["requests"]:
                return self.send(200, {"requests": list(st.requests)})
        return self.send(404, {"message": "unknown control"})

    def api(self, method):
        st = self.server.state
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record = {"method": method, "path": path, "query": query, "at": time.time(),
                  "authorization": self.headers.get("Authorization"),
                  "accept": self.headers.get("Accept"),
                  "body": body.decode(errors="replace")}
        with st.lock:
            mode = st.mode
            forced = None
            if st.fail_left > 0:
                st.fail_left -= 1
                forced = st.fail_status
            st.requests.append(record)
        if mode == "down" and forced is None:
            record["answered"] = None
            self.close_connection = True
            self.connection.shutdown(2)
            return
        status = forced or (int(mode) if mode in ("500", "429") else None)
        if status:
            record["answered"] = status
            return self.send(status, {"message": "fake failure %d" % status})
        m = re.match(r"^/users/([^/]+)/ssh_signing_keys$", path)
        if method == "GET" and m and LOGIN.match(m.group(1)):
            file = os.path.join(st.signing_dir or "/nonexistent", m.group(1) + ".keys")
            if not os.path.exists(file):
                record["answered"] = 404
                return self.send(404, {"message": "Not Found"})
            with open(file) as f:
                keys = [line.strip() for line in f if line.strip()]
            doc = [{"id": i + 1, "key": k, "title": "signing key %d" % (i + 1),
                    "created_at": "2026-11-01T00:00:00Z"} for i, k in enumerate(keys)]
            record["answered"] = 200
            return self.send(200, doc)
        m = STATUS_PATH.match(path)
        if method == "POST" and m:
            try:
                doc = json.loads(body)
                ok = isinstance(doc, dict) and doc.get("state") in ("error", "failure", "pending", "success")
            except ValueError:
                ok = False
            if not ok or self.headers.get("Content-Type", "").split(";")[0] != "application/json":
                record["answered"] = 422
                return self.send(422, {"message": "Validation Failed"})
            if not (self.headers.get("Authorization") or "").startswith("Bearer "):
                record["answered"] = 401
                return self.send(401, {"message": "Requires authentication"})
            entry = {"repo": m.group(1) + "/" + m.group(2), "sha": m.group(3),
                     "state": doc.get("state"), "description": doc.get("description"),
                     "context": doc.get("context"), "target_url": doc.get("target_url"),
                     "authorization": self.headers.get("Authorization")}
            with st.lock:
                st.statuses.append(entry)
            record["answered"] = 201
            return self.send(201, dict(entry, id=len(st.statuses)))
        record["answered"] = 404
        return self.send(404, {"message": "Not Found"})

    def do_GET(self):
        if self.path.startswith("/__control/"):
            return self.control(self.path)
        return self.api("GET")

    def do_POST(self):
        return self.api("POST")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--signing-dir")
    ap.add_argument("--mode", default="ok", choices=("ok", "down", "500", "429"))
    args = ap.parse_args()
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.state = State(args)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(tmp, args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


class FakeGitHub:
    """This script in a subprocess, for tests: `with FakeGitHub(signing_dir) as gh: gh.url`."""

    def __init__(self, signing_dir=None, mode="ok"):
        import tempfile
        self.signing_dir = signing_dir
        self.mode = mode
        self.tmp = tempfile.mkdtemp(prefix="gp-fakegh-")
        self.port_file = os.path.join(self.tmp, "port")
        self.port = 0
        self.proc = None

    def start(self):
        from gpserver import start_with_port_file
        cmd = [sys.executable, os.path.abspath(__file__), "--port-file", self.port_file,
               "--port", str(self.port), "--mode", self.mode]
        if self.signing_dir:
            cmd += ["--signing-dir", self.signing_dir]
        self.proc, self.port = start_with_port_file(cmd, self.port_file, "fakegithub")
        return self

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def control(self, path):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request("GET", "/__control/" + path)
            r = c.getresponse()
            doc = json.loads(r.read())
            assert r.status == 200, (path, r.status)
            return doc
        finally:
            c.close()

    def statuses(self):
        return self.control("statuses")["statuses"]

    def requests(self):
        return self.control("requests")["requests"]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


if __name__ == "__main__":
    sys.exit(main())
