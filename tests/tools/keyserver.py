#!/usr/bin/python3
"""keyserver.py - a loopback stand-in for https://github.com/<login>.keys, for tests.

    python3 keyserver.py --dir tests/vectors/pytest-gpu-proof-v1/github --port-file F [--port 0]
                         [--mode ok] [--host 127.0.0.1]

Serves GET /<login>.keys from DIR/<login>.keys (404 when absent). --port 0 picks a free port;
the chosen port is written to --port-file (atomically, once listening). Faults for key-source
tests, switched at start (--mode) or at run time with GET /__control/mode/<mode>:

    ok        serve the files
    down      close the connection without answering
    500       answer 500
    429       answer 429 with Retry-After
    slow      answer after --slow-seconds (default 30)
    garbage   200 with bytes that are no key lines
    huge      200 with a body of --huge-bytes (default 8 MiB)
    notfound  404 for every login
    hang      accept the request and never answer (until the mode changes, at most --hang-seconds)
    drip      200 with key-list headers, then one byte a second (a body that never ends in time)

--fail-prefix P answers 500 for every login that starts with P whatever the mode (a source that
fails for some users); GET /__control/failprefix/<P> changes it, /__control/failprefix/ clears it.
GET /__control/stats returns {"mode": ..., "requests": {login: count}} as JSON; the control
endpoints always answer, whatever the mode. SIGUSR1 switches to "down", SIGUSR2 back to "ok".
"""
import argparse
import http.server
import json
import os
import re
import signal
import socketserver
import sys
import threading
import time

LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
MODES = ("ok", "down", "500", "429", "slow", "garbage", "huge", "notfound", "hang", "drip")


class State:
    def __init__(self, args):
        self.dir = args.dir
        self.mode = args.mode
        self.slow = args.slow_seconds
        self.huge = args.huge_bytes
        self.hang = args.hang_seconds
        self.fail_prefix = args.fail_prefix
        self.requests = {}
        self.lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "keyserver/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def send(self, status, body, ctype="text/plain; charset=utf-8", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        st = self.server.state
        path = self.path.split("?", 1)[0]
        if path.startswith("/__control/"):
            rest = path[len("/__control/"):]
            if rest.startswith("mode/") and rest[5:] in MODES:
                st.mode = rest[5:]
                return self.send(200, (st.mode + "\n").encode())
            if rest.startswith("failprefix/"):
                st.fail_prefix = rest[len("failprefix/"):]
                return self.send(200, (st.fail_prefix + "\n").encode())
            if rest == "stats":
                with st.lock:
                    doc = {"mode": st.mode, "requests": dict(st.requests)}
                return self.send(200, json.dumps(doc).encode(), "application/json")
            return self.send(404, b"unknown control\n")
        m = re.match(r"^/([^/]+)\.keys$", path)
        login = m.group(1) if m else None
        with st.lock:
            st.requests[login or path] = st.requests.get(login or path, 0) + 1
        mode = st.mode
        if st.fail_prefix and login and login.startswith(st.fail_prefix):
            return self.send(500, b"internal error for this user\n")
        if mode == "down":
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        if mode == "500":
            return self.send(500, b"internal error\n")
        if mode == "429":
            return self.send(429, b"slow down\n", extra={"Retry-After": "60"})
        if mode == "slow":
            time.sleep(st.slow)
        if mode == "hang":
            deadline = time.time() + st.hang
            while st.mode == "hang" and time.time() < deadline:
                time.sleep(0.05)
            self.close_connection = True
            return
        if mode == "drip":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(100000):
                    if st.mode != "drip":
                        break
                    self.wfile.write(b"s")
                    self.wfile.flush()
                    time.sleep(1.0)
            except OSError:
                pass
            self.close_connection = True
            return
        if mode == "garbage":
            return self.send(200, b"<html>\x00\xff this is not a key list </html>\n")
        if mode == "huge":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(st.huge))
            self.end_headers()
            chunk = b"A" * 65536
            left = st.huge
            try:
                while left > 0:
                    n = min(left, len(chunk))
                    self.wfile.write(chunk[:n])
                    left -= n
            except OSError:
                pass
            return
        if mode == "notfound" or not login or not LOGIN.match(login):
            return self.send(404, b"Not Found\n")
        fn = os.path.join(st.dir, login + ".keys")
        try:
            with open(fn, "rb") as f:
                body = f.read()
        except OSError:
            return self.send(404, b"Not Found\n")
        return self.send(200, body)

    do_HEAD = do_GET


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):  # a client that hung up: not our concern
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--mode", default="ok", choices=MODES)
    ap.add_argument("--slow-seconds", type=float, default=30.0)
    ap.add_argument("--huge-bytes", type=int, default=8 << 20)
    ap.add_argument("--hang-seconds", type=float, default=120.0)
    ap.add_argument("--fail-prefix", default="")
    args = ap.parse_args()
    srv = Server((args.host, args.port), Handler)
    srv.state = State(args)
    signal.signal(signal.SIGUSR1, lambda *_: setattr(srv.state, "mode", "down"))
    signal.signal(signal.SIGUSR2, lambda *_: setattr(srv.state, "mode", "ok"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    else:
        print(port, flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
