#!/usr/bin/python3
"""test_hostile_server.py - gpuproof-cli against a server that lies, stalls or attacks.

A loopback stand-in for a gpuproof server answers every request in one hostile way: bodies that
are not JSON, JSON of the wrong types, nesting 100,000 deep, 50 MB bodies, NUL bytes, empty
bodies, redirects to elsewhere, 5xx/429 with absurd Retry-After values (huge numbers, dates far
ahead, negative), garbage checkpoints and proofs. `gpuproof-cli check`, `submit` and
`ledger verify` must each end with a clean error (exit 1 or 2, a message), within a bounded time,
without a crash or a sanitizer report (run under ASan+UBSan by make test).
"""
import http.server
import json
import os
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.environ.get("GP_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.environ.get("GP_CLI_BIN", "")
VEC = os.environ.get("GP_VECTORS") or os.path.join(SRC, "tests", "vectors", "pytest-gpu-proof-v1")
SAN = os.environ.get("GP_SANITIZE") == "1"
SHA = "2c6362308d6f0ac578fee055f120fa766638b970"
BOUND = 60.0 if SAN else 30.0


def body_for(mode):
    """(status, headers, body) for one hostile mode."""
    if mode == "garbage":
        return 200, {"Content-Type": "application/json"}, b"<html>\x00\xff not json"
    if mode == "wrongtypes":
        return 200, {"Content-Type": "application/json"}, json.dumps(
            {"commit": 5, "validated": "yes", "validated_by": {"a": 1}, "receipts": "all", "id": [],
             "status": 7, "url": None, "ledger": "x", "size": -1, "root_hash": 5, "checkpoint": [],
             "inclusion": {"proof": "x"}, "proof": [1, 2], "tree_size": "big"}).encode()
    if mode == "deep":
        return 200, {"Content-Type": "application/json"}, b"[" * 100000 + b"]" * 100000
    if mode == "huge":
        return 200, {"Content-Type": "application/json"}, None  # streamed
    if mode == "nul":
        return 200, {"Content-Type": "application/json"}, b'{"commit":"a\\u0000b","validated":true,"validated_by":["x\\u0000"],"receipts":[]}'
    if mode == "empty":
        return 200, {"Content-Type": "application/json"}, b""
    if mode == "redirect":
        return 302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""
    if mode == "retry-huge":
        return 503, {"Retry-After": "9223372036854775807"}, b"{}"
    if mode == "retry-big":
        return 429, {"Retry-After": "99999999999999"}, b"{}"
    if mode == "retry-date":
        return 503, {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}, b"{}"
    if mode == "retry-neg":
        return 503, {"Retry-After": "-5"}, b"{}"
    if mode == "problem-huge":
        return 400, {"Content-Type": "application/problem+json"}, json.dumps(
            {"title": "x" * 100000, "detail": "\x1b[31m" + "y" * 100000, "status": "400"}).encode()
    if mode == "badcheckpoint":
        return 200, {"Content-Type": "text/plain"}, (b"test.example/gpuproof\n18446744073709551615\n" + b"A" * 44 +
                                                      b"\n\n\xe2\x80\x94 test.example/gpuproof AAAA\n")
    return 500, {}, b"{}"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        st, hdrs, body = body_for(self.server.mode)
        self.send_response(st)
        for k, v in hdrs.items():
            self.send_header(k, v)
        if body is None:
            size = 50 << 20
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b"[" * 65536
            try:
                for _ in range(size // len(chunk)):
                    self.wfile.write(chunk)
            except OSError:
                pass
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass

    do_GET = do_POST = answer


class Srv(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, *a):
        pass


def main():
    if not CLI or not os.access(CLI, os.X_OK):
        print("GP_CLI_BIN is not set: skipping", file=sys.stderr)
        return 77
    srv = Srv(("127.0.0.1", 0), Handler)
    srv.mode = "garbage"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d" % srv.server_address[1]
    failures = []
    runs = 0
    modes = ["garbage", "wrongtypes", "deep", "huge", "nul", "empty", "redirect", "retry-huge", "retry-big",
             "retry-date", "retry-neg", "problem-huge", "badcheckpoint"]
    text_modes = ("garbage", "wrongtypes", "nul", "problem-huge", "deep")
    with tempfile.TemporaryDirectory(prefix="gp-hostile-srv-") as tmp:
        rec = os.path.join(VEC, "receipts", "alice-ed25519-0-clean.json")
        env = dict(os.environ, HOME=tmp, GIT_CONFIG_NOSYSTEM="1")
        for mode in modes:
            srv.mode = mode
            for name, args in (("check", ["check", SHA, "--server", url, "--json"]),
                               ("check-text", ["check", SHA, "--server", url]),
                               ("submit", ["submit", "--server", url, rec]),
                               ("ledger", ["ledger", "verify", "--server", url, "--state", os.path.join(tmp, "st-" + mode)])):
                if name == "check-text" and mode not in text_modes:
                    continue
                t = time.time()
                try:
                    p = subprocess.run([CLI] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=BOUND * 3,
                                       env=env, cwd=tmp)
                    rc, out, err = p.returncode, p.stdout, p.stderr
                except subprocess.TimeoutExpired:
                    rc, out, err = "timeout", b"", b""
                dt = time.time() - t
                runs += 1
                what = "%s against %s" % (name, mode)
                if rc not in (1, 2):
                    failures.append("%s: exit %r (want 1 or 2)\n%s" % (what, rc, err.decode(errors="replace")[-1500:]))
                if dt > BOUND:
                    failures.append("%s: took %.1f s" % (what, dt))
                for marker in (b"AddressSanitizer", b"LeakSanitizer", b"runtime error:"):
                    if marker in err:
                        failures.append("%s: sanitizer report:\n%s" % (what, err.decode(errors="replace")[-2500:]))
                if rc in (1, 2) and not err.strip() and not out.strip():
                    failures.append("%s: exit %d without a message" % (what, rc))
                if b"\x1b" in err or b"\x1b" in out:
                    failures.append("%s: the server's escape sequence reached the terminal" % what)
                if len(err) > 20000:
                    failures.append("%s: %d bytes of stderr (the server's text is not bounded)" % (what, len(err)))
    srv.shutdown()
    print("FIGURES hostile_server: modes=%d cli_runs=%d failures=%d" % (len(modes), runs, len(failures)))
    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
