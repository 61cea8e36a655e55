#!/usr/bin/python3
"""test_cli_submit.py - `gpuproof-cli submit` and `gpuproof-cli check`.

1. Against a loopback stub server started here (scripted answers, records what it received):
   the exact file bytes are POSTed with Content-Type application/json; 201 and 200 exit 0 and print
   id, status and the audit URL; 429 with Retry-After and 500 are retried until success; a server
   that keeps failing gives exit 2 in bounded time; 422/403 exit 1 and 400/413/415 exit 2 with the
   problem detail; connection refused exits 2; check: validated exit 0 ("GPU-validated by alice,
   bob"), not validated exit 1 with the receipts' reasons, 400 exit 2, --json, --repo narrowing.
2. Against the real gpuproof-server (GP_SERVER_BIN) when it is built: the vectors submitted (201,
   then 200 on resubmission, 422 unsigned, 400 malformed), then `check` of the bundle's commits.
"""
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

CLI = os.environ.get("GP_CLI_BIN", "build/gpuproof-cli")
SERVER = os.environ.get("GP_SERVER_BIN", "build/gpuproof-server")
VEC = os.environ.get("GP_VECTORS", "tests/vectors/pytest-gpu-proof-v1")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


class Stub(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.script = []     # list of (status, headers, body) answered in order; the last repeats
        self.received = []   # (method, path, content_type, body)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, body):
        srv = self.server
        srv.received.append((self.command, self.path, self.headers.get("Content-Type"), body))
        status, headers, payload = srv.script.pop(0) if len(srv.script) > 1 else srv.script[0]
        data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
        self.send_response(status)
        ctype = "application/problem+json" if status >= 400 else "application/json"
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.answer(self.rfile.read(n))

    def do_GET(self):
        self.answer(b"")


def cli(*args, env=None, timeout=120):
    p = subprocess.run([CLI] + list(args), capture_output=True, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


# the id of receipts/alice-ed25519-0-clean.json: submit only trusts a summary of the receipt it sent
RID = "74e89dba2904a9b89c968fa7c8e047c30693f126719ad2d894be1946df81752b"


def summary(status="verified", rid=RID, validates=True, reasons=()):
    return {"id": rid, "status": status, "url": "/receipts/" + rid, "validates": validates, "reasons": list(reasons),
            "signer": "alice", "commit": "2c6362308d6f0ac578fee055f120fa766638b970"}


def problem(status, detail):
    return {"type": "about:blank", "title": "problem %d" % status, "status": status, "detail": detail}


def stub_tests(tmp, env):
    receipt = os.path.join(VEC, "receipts", "alice-ed25519-0-clean.json")
    raw = open(receipt, "rb").read()
    srv = Stub()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        # 201, exact bytes, content type, output
        srv.script = [(201, {"Location": "/api/receipts/x"}, summary())]
        rc, out, err = cli("submit", "--server", srv.url, receipt, env=env)
        check(rc == 0, "201: exit %d %s" % (rc, err))
        check(srv.received and srv.received[-1][0] == "POST" and srv.received[-1][1] == "/api/receipts",
              "POST /api/receipts: %r" % (srv.received[-1][:2] if srv.received else None,))
        check(srv.received[-1][2] == "application/json", "content type %r" % srv.received[-1][2])
        check(srv.received[-1][3] == raw, "the file's exact bytes are sent")
        check(RID in out and "verified" in out and srv.url + "/receipts/" + RID in out, "output: %s" % out)
        # 200 on resubmission; GPUPROOF_SERVER; trailing slash
        srv.script = [(200, {}, summary())]
        rc, out, err = cli("submit", receipt, env=dict(env, GPUPROOF_SERVER=srv.url + "/"))
        check(rc == 0 and "verified" in out, "200 via GPUPROOF_SERVER: %d %s %s" % (rc, out, err))
        check(srv.received[-1][1] == "/api/receipts", "path with a trailing-slash server: %s" % srv.received[-1][1])
        # 202 pending
        srv.script = [(202, {}, summary(status="pending"))]
        rc, out, err = cli("submit", "--server", srv.url, receipt, env=env)
        check(rc == 0 and "pending" in out, "202: %d %s" % (rc, out))
        # 429 with Retry-After, then 201
        srv.received.clear()
        srv.script = [(429, {"Retry-After": "1"}, problem(429, "slow down")), (201, {}, summary())]
        t0 = time.time()
        rc, out, err = cli("submit", "--server", srv.url, "--json", receipt, env=env)
        dt = time.time() - t0
        check(rc == 0 and len(srv.received) == 2, "429 then 201: exit %d, %d requests" % (rc, len(srv.received)))
        check(dt >= 0.9, "Retry-After: 1 honoured (%.2f s)" % dt)
        obj = json.loads(out)
        check(obj.get("ok") is True and obj.get("http_status") == 201 and obj.get("id") == RID, "--json: %s" % out)
        # 500 then 503 then success
        srv.received.clear()
        srv.script = [(500, {}, problem(500, "oops")), (503, {}, problem(503, "busy")), (201, {}, summary())]
        rc, out, err = cli("submit", "--server", srv.url, receipt, env=env)
        check(rc == 0 and len(srv.received) == 3, "5xx retried: exit %d, %d requests" % (rc, len(srv.received)))
        # always 503: bounded tries, exit 2
        srv.received.clear()
        srv.script = [(503, {}, problem(503, "down"))]
        t0 = time.time()
        rc, out, err = cli("submit", "--server", srv.url, receipt, env=env)
        check(rc == 2 and 2 <= len(srv.received) <= 5 and time.time() - t0 < 60,
              "503 forever: exit %d after %d tries" % (rc, len(srv.received)))
        # refusals
        for status, want in ((422, 1), (403, 1), (400, 2), (413, 2), (415, 2)):
            srv.received.clear()
            srv.script = [(status, {}, problem(status, "detail for %d" % status))]
            rc, out, err = cli("submit", "--server", srv.url, receipt, env=env)
            check(rc == want and "detail for %d" % status in err and len(srv.received) == 1,
                  "%d: exit %d (want %d), %d tries, %s" % (status, rc, want, len(srv.received), err))
        # several files: the worst exit wins
        srv.script = [(201, {}, summary()), (422, {}, problem(422, "unsigned"))]
        rc, out, err = cli("submit", "--server", srv.url, receipt, receipt, env=env)
        check(rc == 1, "201 + 422: exit %d" % rc)
        # missing file, no server
        rc, out, err = cli("submit", "--server", srv.url, os.path.join(tmp, "none.json"), env=env)
        check(rc == 2, "missing file: %d" % rc)
        rc, out, err = cli("submit", receipt, env=env)
        check(rc == 2 and "--server" in err, "no server: %d %s" % (rc, err))

        # check
        sha = "2c6362308d6f0ac578fee055f120fa766638b970"
        srv.received.clear()
        srv.script = [(200, {}, {"commit": sha, "validated": True, "validated_by": ["alice", "bob"],
                                 "receipts": [summary()]})]
        rc, out, err = cli("check", sha, "--server", srv.url, "--repo", "alice/gpukernels", env=env)
        check(rc == 0 and "GPU-validated by alice, bob" in out, "check validated: %d %s %s" % (rc, out, err))
        check(srv.received[-1][1] == "/api/commits/%s?repo=alice/gpukernels" % sha, "check path %s" % srv.received[-1][1])
        srv.script = [(200, {}, {"commit": sha, "validated": False, "validated_by": [],
                                 "receipts": [summary(validates=False, reasons=["1 test failed: tests/t.py::x"])]})]
        rc, out, err = cli("check", sha.upper(), "--server", srv.url, env=env)
        check(rc == 1 and "Not GPU-validated" in out and "1 test failed: tests/t.py::x" in out,
              "check not validated: %d %s" % (rc, out))
        check(srv.received[-1][1] == "/api/commits/" + sha, "sha lower-cased: %s" % srv.received[-1][1])
        rc, out, err = cli("check", sha, "--server", srv.url, "--json", env=env)
        check(rc == 1 and json.loads(out)["validated"] is False, "check --json: %d %s" % (rc, out))
        srv.script = [(400, {}, problem(400, "bad sha"))]
        rc, out, err = cli("check", sha, "--server", srv.url, env=env)
        check(rc == 2 and "bad sha" in err, "check 400: %d %s" % (rc, err))
        srv.script = [(429, {"Retry-After": "0"}, problem(429, "slow")), (200, {}, {"commit": sha, "validated": True,
                                                                                   "validated_by": ["carol"], "receipts": []})]
        rc, out, err = cli("check", sha, "--server", srv.url, env=env)
        check(rc == 0 and "carol" in out, "check retried after 429: %d %s" % (rc, out))
        rc, out, err = cli("check", "not-a-commit", "--server", srv.url, env=env)
        check(rc == 2, "check of a non-commit: %d" % rc)
        rc, out, err = cli("check", sha, "--server", srv.url, "--repo", "../etc", env=env)
        check(rc == 2, "check --repo validated: %d" % rc)
    finally:
        srv.shutdown()
        srv.server_close()
    # nothing listening
    rc, out, err = cli("submit", "--server", "http://127.0.0.1:9", receipt, env=env, timeout=90)
    check(rc == 2, "connection refused: exit %d" % rc)


def real_server_tests(tmp, env):
    db = os.path.join(tmp, "srv.db")
    proc = subprocess.Popen([SERVER, "--listen", "127.0.0.1:0", "--db", db, "--github-keys-url",
                             "file://" + os.path.abspath(VEC) + "/github/{user}.keys"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    url = None
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if "listening on " in line:
                url = line.split("listening on ", 1)[1].strip().rstrip("/")
                break
        if not url:
            check(False, "real server did not start")
            return
        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
        manifest = json.load(open(os.path.join(VEC, "manifest.json")))
        for v in manifest["vectors"]:
            path = os.path.join(VEC, v["file"])
            rc, out, err = cli("submit", "--server", url, "--json", path, env=env)
            want = {"valid": 0, "invalid_signature": 1, "unsigned": 1, "bad_request": 2}[v["expect"]]
            check(rc == want, "real server, %s: exit %d, want %d (%s %s)" % (v["file"], rc, want, out, err))
            if v["expect"] == "valid":
                obj = json.loads(out.splitlines()[0])
                check(obj.get("id") == v["receipt_id"] and obj.get("http_status") in (200, 201),
                      "real server, %s: %s" % (v["file"], out))
                if obj.get("ledger") is not None:
                    check(obj["ledger"].get("verified") is True, "ledger inclusion of %s: %s" % (v["file"], out))
                rc, out, err = cli("submit", "--server", url, "--json", path, env=env)
                check(rc == 0 and json.loads(out.splitlines()[0]).get("http_status") == 200,
                      "real server resubmission of %s: %s" % (v["file"], out))
        first, second = manifest["commits"]
        rc, out, err = cli("check", first, "--server", url, env=env)
        check(rc == 0 and "GPU-validated by" in out and "alice" in out and "bob" in out,
              "real server check %s: %d %s %s" % (first, rc, out, err))
        rc, out, err = cli("check", second, "--server", url, env=env)
        check(rc == 1 and "Not GPU-validated" in out, "real server check %s: %d %s" % (second, rc, out))
        rc, out, err = cli("check", "f" * 40, "--server", url, "--json", env=env)
        check(rc == 1 and json.loads(out)["validated"] is False, "real server unknown commit: %d %s" % (rc, out))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    if not os.access(CLI, os.X_OK):
        print("gpuproof-cli not built: skipped")
        return 77
    tmp = tempfile.mkdtemp(prefix="gp-submit-")
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GPUPROOF_")}
        env.update(HOME=tmp, XDG_STATE_HOME=os.path.join(tmp, "state"), GIT_CONFIG_GLOBAL=os.devnull,
                   GIT_CONFIG_NOSYSTEM="1")
        stub_tests(tmp, env)
        if os.access(SERVER, os.X_OK):
            real_server_tests(tmp, env)
        else:
            print("gpuproof-server not built: real-server part skipped")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
