"""gpserver.py - start the real gpuproof-server and the loopback key server from Python tests.

    from gpserver import KeyServer, Server, Vectors
    with KeyServer() as ks, Server(tmpdir, keys_url=ks.url) as srv:
        status, headers, body = srv.post_receipt(bytes)

Everything listens on 127.0.0.1 with a free port; processes are stopped (and their stderr checked
for sanitizer reports) on exit. GP_SANITIZE=1 lengthens the timeouts.
"""
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("GP_SOURCE_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
VECTORS = os.environ.get("GP_VECTORS") or os.path.join(SOURCE_DIR, "tests", "vectors", "pytest-gpu-proof-v1")
SERVER_BIN = os.environ.get("GP_SERVER_BIN", "")
SANITIZE = os.environ.get("GP_SANITIZE") == "1"
SLOW = 4.0 if SANITIZE else 1.0
PYTHON = "/usr/bin/python3"


def start_with_port_file(cmd, port_file, what):
    """Starts cmd, a loopback server that writes its port to port_file; (process, port)."""
    if os.path.exists(port_file):
        os.unlink(port_file)
    proc = subprocess.Popen(cmd)
    deadline = time.time() + 20
    while not os.path.exists(port_file):
        if time.time() > deadline or proc.poll() is not None:
            proc.kill()
            proc.wait()
            raise RuntimeError("%s did not start" % what)
        time.sleep(0.02)
    with open(port_file) as f:
        return proc, int(f.read())


def skip_unless_server():
    if not SERVER_BIN or not os.access(SERVER_BIN, os.X_OK):
        print("GP_SERVER_BIN is not set or not executable: skipping", file=sys.stderr)
        sys.exit(77)


class Vectors:
    def __init__(self):
        with open(os.path.join(VECTORS, "manifest.json")) as f:
            self.manifest = json.load(f)
        self.items = self.manifest["vectors"]

    def raw(self, item):
        with open(os.path.join(VECTORS, item["file"]), "rb") as f:
            return f.read()

    def by_name(self, name):
        for v in self.items:
            if os.path.basename(v["file"]) == name + ".json":
                return v
        raise KeyError(name)


class KeyServer:
    """tests/tools/keyserver.py in a subprocess."""

    def __init__(self, keys_dir=None, mode="ok", port=0, extra=()):
        self.dir = keys_dir or os.path.join(VECTORS, "github")
        self.tmp = tempfile.mkdtemp(prefix="gp-keys-")
        self.port_file = os.path.join(self.tmp, "port")
        self.mode = mode
        self.port = port
        self.extra = list(extra)
        self.proc = None

    def start(self):
        self.proc, self.port = start_with_port_file(
            [PYTHON, os.path.join(HERE, "keyserver.py"), "--dir", self.dir, "--port-file", self.port_file,
             "--port", str(self.port), "--mode", self.mode] + self.extra, self.port_file, "keyserver")
        return self

    @property
    def url(self):
        return "http://127.0.0.1:%d/{user}.keys" % self.port

    def set_mode(self, mode):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", "/__control/mode/" + mode)
        r = c.getresponse()
        r.read()
        c.close()
        assert r.status == 200, r.status

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Server:
    """The real gpuproof-server on 127.0.0.1:0 with its own database."""

    def __init__(self, workdir, keys_url, args=(), db=None):
        self.workdir = workdir
        self.db = db or os.path.join(workdir, "gp.db")
        self.keys_url = keys_url
        self.args = list(args)
        self.proc = None
        self.stderr_path = None
        self.port = None
        self.verifier = None
        self.starts = 0

    def start(self):
        self.starts += 1
        self.stderr_path = os.path.join(self.workdir, "server-%d.log" % self.starts)
        self.errf = open(self.stderr_path, "wb")
        cmd = [SERVER_BIN, "--listen", "127.0.0.1:0", "--db", self.db, "--github-keys-url", self.keys_url,
               "--ledger-origin", "test.example/gpuproof"] + self.args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.errf)
        deadline = time.time() + 30 * SLOW
        while True:
            line = self.proc.stdout.readline().decode()
            if not line:
                raise RuntimeError("gpuproof-server exited: " + self.log())
            if "verifier key:" in line:
                self.verifier = line.split("verifier key:", 1)[1].strip()
            if "listening on http://" in line:
                hostport = line.split("http://", 1)[1].strip().rstrip("/")
                self.port = int(hostport.rsplit(":", 1)[1])
                break
            if time.time() > deadline:
                raise RuntimeError("gpuproof-server did not start")
        return self

    def log(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        """Stops the server; returns its exit status. Fails on sanitizer reports."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30 * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("gpuproof-server did not stop on signal %d" % sig)
        rc = self.proc.returncode
        self.proc.stdout.close()
        self.errf.close()
        self.proc = None
        log = self.log()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if marker in log:
                raise AssertionError("sanitizer report in the server log:\n" + log[-6000:])
        return rc

    def request(self, method, path, body=None, headers=None, timeout=30):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout * SLOW)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def get_json(self, path):
        status, headers, body = self.request("GET", path)
        return status, json.loads(body) if body else None

    def post_receipt(self, raw, ctype="application/json"):
        return self.request("POST", "/api/receipts", body=raw, headers={"Content-Type": ctype})

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.proc:
            try:
                self.stop()
            except AssertionError:
                if exc[0] is None:
                    raise
