"""End-to-end tests of the server-rendered pages (issue 3 pages, issue 6).

Starts the real gpuproof-server on a free loopback port with a fresh database and a loopback key
server, posts every valid vector of tests/vectors/pytest-gpu-proof-v1 plus a hostile receipt
(signed here with a fresh Ed25519 key served for the login "eve-hostile"), then fetches every
page and checks what a person would read: the signers, the validated state, the failed test,
and that no string from a receipt opens a tag.

The helpers at the top (KeyServer, Server, hostile_receipt, seed) are also used by
tests/browser/test_browser.py.
"""
import base64
import hashlib
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

VECTORS = os.environ.get("GP_VECTORS") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "vectors", "pytest-gpu-proof-v1")
SERVER_BIN = os.environ.get("GP_SERVER_BIN", "")
SOURCE_DIR = os.environ.get("GP_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

C1 = "2c6362308d6f0ac578fee055f120fa766638b970"  # all passed, validated by five signers
C2 = "67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0"  # a failure, a skip, a dirty tree
C3 = "0123456789abcdef0123456789abcdef01234567"  # the hostile receipt's commit
C4 = "0123456fedcba9876543210fedcba9876543210f"  # shares C3's first 7 digits: an ambiguous prefix
HOSTILE_LOGIN = "eve-hostile"

# Payloads: none of them may reach a page as markup.
P_SCRIPT = "<script>alert(1)</script>"
P_IMG = "<img src=x onerror=alert(2)>"
P_SVG = "\"><svg onload=alert(3)>"
P_ATTR = "' autofocus onfocus=alert(4) x='"
SIGNERS = {}  # vector file -> signer, filled by seed()
PAYLOAD_MARKERS = ["<script>alert", "<img src=x", "<svg onload", "onfocus=alert(4) x='"]


class KeyServer:
    """Loopback stand-in for https://github.com/{user}.keys."""

    def __init__(self, keys):
        self.keys = dict(keys)  # login -> text
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                m = re.fullmatch(r"/([A-Za-z0-9-]+)\.keys", self.path)
                body = owner.keys.get(m.group(1)) if m else None
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def template(self):
        return "http://127.0.0.1:%d/{user}.keys" % self.port

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Server:
    """The real gpuproof-server on a free loopback port with a fresh database."""

    def __init__(self, keys_url, workdir):
        self.workdir = workdir
        self.log_path = os.path.join(workdir, "server.log")
        self.log = open(self.log_path, "wb")
        args = [SERVER_BIN, "--listen", "127.0.0.1:0", "--db", os.path.join(workdir, "gp.db"),
                "--github-keys-url", keys_url, "--ledger-key", os.path.join(workdir, "ledger.key")]
        env = dict(os.environ)
        env.setdefault("GPUPROOF_WEB_DIR", os.path.join(SOURCE_DIR, "web"))
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, cwd=workdir, env=env)
        self.base = None
        deadline = time.time() + 60
        lines = []
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line.decode(errors="replace"))
            m = re.search(r"listening on (http://[0-9.:\[\]a-z]+/)", lines[-1])
            if m:
                self.base = m.group(1).rstrip("/")
                break
        if not self.base:
            self.close()
            raise RuntimeError("server did not start: %s\n%s" % ("".join(lines), self.read_log()))
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for _ in iter(self.proc.stdout.readline, b""):
            pass

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-4000:].decode(errors="replace")
        except OSError:
            return ""

    def request(self, path, method="GET", body=None, headers=None):
        """(status, headers, body bytes); never follows redirects."""
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(req, timeout=30) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def post_receipt(self, data):
        return self.request("/api/receipts", "POST", data, {"Content-Type": "application/json"})

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def ed25519_keypair():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def sshstr(b):
        return len(b).to_bytes(4, "big") + b

    blob = sshstr(b"ssh-ed25519") + sshstr(raw)
    line = "ssh-ed25519 " + base64.b64encode(blob).decode()
    fp = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return key, line, fp


def hostile_receipt(key, fp, commit=C3, clean=False):
    """A validly signed receipt whose strings are XSS payloads, with one failed test
    (or, with clean=True, only passing tests)."""
    tests = [
        {"node_id": "tests/test_x.py::test_" + P_SCRIPT, "outcome": "passed" if clean else "failed", "duration_s": 0.25,
         "checks": [{"name": P_IMG, "outcome": "failed", "metadata": {"note": P_SCRIPT, "html": P_IMG}}]},
        {"node_id": "tests/test_x.py::test_img[" + P_IMG + "]", "outcome": "passed", "duration_s": 0.0002,
         "checks": [{"name": "ok", "outcome": "passed", "metadata": {"attr": P_ATTR, "svg": P_SVG}}]},
        {"node_id": "tests/test_x.py::test_attr[" + P_SVG + P_ATTR + "]", "outcome": "passed", "duration_s": 0.1,
         "checks": []},
    ]
    receipt = {
        "schema_version": "1",
        "mode": "local",
        "repo": {"remote_url": "git@github.com:alice/gpukernels.git", "github_username": HOSTILE_LOGIN,
                 "commit_sha": commit, "branch": "main" + P_SCRIPT, "dirty": False},
        "fingerprint": {"algorithm": "sha256", "included_paths": ["src", "tests"], "file_count": 1,
                        "digest": "0" * 64},
        "session": {"started_at": "2026-11-28T17:40:00Z", "ended_at": "2026-11-28T17:40:05Z",
                    "node_ids": [t["node_id"] for t in tests]},
        "tests": tests,
        "environment": {
            "python_version": "3.11.2" + P_IMG, "platform": "linux" + P_SCRIPT, "pytest_version": "7.2.1",
            "plugin_version": "0.1.0",
            "gpu_info": {"name": "NVIDIA " + P_IMG, "driver_version": P_SCRIPT, "memory": "80 GiB" + P_SVG},
            "gpus": [{"name": "NVIDIA " + P_IMG, "uuid": "GPU-" + P_SVG, "pci_bus_id": P_ATTR,
                      "memory_total_mib": 81559, "compute_capability": "9.0", "driver_version": P_SCRIPT,
                      "cuda_driver_version": "12.4" + P_IMG, "ecc": True, "mig": False, "cc": False,
                      "used_by_tests": True, "peak_memory_mib": 2048}],
        },
    }
    canon = json.dumps(receipt, sort_keys=True, separators=(",", ":")).encode()
    receipt["signature"] = {"algorithm": "ed25519", "backend": "ssh-local", "signer": HOSTILE_LOGIN,
                            "key_fingerprint": fp, "value": base64.b64encode(key.sign(canon)).decode()}
    return json.dumps(receipt, indent=2, sort_keys=True).encode()


def vector_keys():
    keys = {}
    kdir = os.path.join(VECTORS, "github")
    for name in os.listdir(kdir):
        if name.endswith(".keys"):
            with open(os.path.join(kdir, name)) as f:
                keys[name[:-5]] = f.read()
    return keys


def seed(server):
    """Posts every valid vector and the hostile receipt; returns {file: receipt id}."""
    with open(os.path.join(VECTORS, "manifest.json")) as f:
        manifest = json.load(f)
    ids = {}
    for v in manifest["vectors"]:
        if v["expect"] != "valid":
            continue
        with open(os.path.join(VECTORS, v["file"]), "rb") as f:
            status, _, body = server.post_receipt(f.read())
        if status not in (200, 201):
            raise AssertionError("POST %s: %d %s" % (v["file"], status, body[:300]))
        ids[v["file"]] = json.loads(body)["id"]
        SIGNERS[v["file"]] = v["signer"]
    return ids


def start_all(workdir):
    """Key server (vector keys + a fresh hostile key), server, seeded. Returns (ks, srv, ids, hostile_id)."""
    key, line, fp = ed25519_keypair()
    keys = vector_keys()
    keys[HOSTILE_LOGIN] = line + "\n"
    ks = KeyServer(keys)
    try:
        srv = Server(ks.template, workdir)
    except Exception:
        ks.close()
        raise
    try:
        ids = seed(srv)
        status, _, body = srv.post_receipt(hostile_receipt(key, fp))
        if status not in (200, 201):
            raise AssertionError("POST hostile receipt: %d %s" % (status, body[:500]))
        hostile_id = json.loads(body)["id"]
        status, _, body = srv.post_receipt(hostile_receipt(key, fp, C4, clean=True))
        if status not in (200, 201):
            raise AssertionError("POST second hostile receipt: %d %s" % (status, body[:500]))
    except Exception:
        srv.close()
        ks.close()
        raise
    return ks, srv, ids, hostile_id


def skip_reason():
    if not SERVER_BIN or not os.access(SERVER_BIN, os.X_OK):
        return "gpuproof-server is not built (GP_SERVER_BIN=%r)" % SERVER_BIN
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return "python3-cryptography is not installed"
    return None


class PagesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="gp-pages-")
        cls.ks, cls.srv, cls.ids, cls.hostile_id = start_all(cls.workdir)

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()
        cls.ks.close()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    # -- helpers --

    def page(self, path, status=200):
        st, headers, body = self.srv.request(path)
        text = body.decode("utf-8")  # must be valid UTF-8
        self.assertEqual(st, status, "%s -> %d: %s" % (path, st, text[:300]))
        ctype = headers.get("Content-Type", "")
        self.assertTrue(ctype.startswith("text/html"), "%s: Content-Type %r" % (path, ctype))
        self.assert_safe(path, text, headers)
        return text

    def assert_safe(self, path, text, headers):
        for marker in PAYLOAD_MARKERS:
            self.assertNotIn(marker, text, "%s: a receipt string reached the page unescaped" % path)
        # the only script is the external app.js; no inline styles or handlers anywhere
        scripts = re.findall(r"<script\b[^>]*>", text, re.I)
        self.assertLessEqual(len(scripts), 1, path)
        for s in scripts:
            self.assertEqual(s, '<script src="/static/app.js" defer>', path)
        self.assertIsNone(re.search(r"\sstyle\s*=", text, re.I), path)
        self.assertIsNone(re.search(r"\son[a-z]+\s*=\s*[\"']", text, re.I), path)
        for tag in re.findall(r"<img\b[^>]*>", text, re.I):
            self.assertRegex(tag, r'src="/badge/', path)
        csp = headers.get("Content-Security-Policy", "")
        self.assertIn("default-src 'none'", csp, "%s: no Content-Security-Policy" % path)
        self.assertIn("script-src 'self'", csp, path)
        self.assertNotIn("unsafe-inline", csp, path)
        self.assertEqual(headers.get("X-Content-Type-Options", ""), "nosniff", path)

    def assert_alternate(self, text, href):
        self.assertIn('<link rel="alternate" type="application/json" href="%s">' % href, text)
        st, headers, body = self.srv.request(href.replace("&amp;", "&"))
        self.assertEqual(st, 200, href)
        json.loads(body)

    # -- the pages --

    def test_dashboard(self):
        text = self.page("/")
        self.assertIn("alice/gpukernels", text)
        self.assertIn('href="/repos/alice/gpukernels"', text)
        for login in ("alice", "bob", HOSTILE_LOGIN):
            self.assertIn('href="/signers/%s"' % login, text)
        self.assertIn('action="/lookup"', text)
        self.assert_alternate(text, "/api/repos")

    def test_repository(self):
        text = self.page("/repos/alice/gpukernels")
        self.assertIn('href="/commits/%s"' % C1, text)
        self.assertIn('href="/commits/%s"' % C2, text)
        self.assertIn('href="/commits/%s"' % C3, text)
        self.assertIn(">validated</span>", text)
        self.assertIn(">failed</span>", text)
        self.assertIn("<caption>", text)
        self.assert_alternate(text, "/api/repos/alice/gpukernels/commits")
        self.page("/repos/nobody/nothing", 404)

    def test_commit_validated(self):
        text = self.page("/commits/" + C1)
        m = re.search(r'<p class="verdict verdict-ok"[^>]*>(.*?)</p>', text, re.S)
        self.assertIsNotNone(m, "no validated verdict")
        verdict = re.sub(r"<[^>]+>", "", m.group(1))
        self.assertTrue(verdict.startswith("GPU-validated by "), verdict)
        for login in ("alice", "bob", "carol", "dave", "erin"):
            self.assertIn(login, verdict)
        self.assertIn("SHA256:", text)
        self.assertIn("ssh-ed25519", text)
        self.assertIn("ecdsa-sha2-nistp", text)
        self.assertIn("/api/receipts/%s/raw" % self.ids["receipts/alice-ed25519-0-clean.json"], text)
        self.assertIn("tests/test_kern.py::test_relu", text)
        self.assertIn('<th scope="col">Outcome</th>', text)
        self.assert_alternate(text, "/api/commits/" + C1)
        # upper-case hex is the same commit
        self.assertIn("GPU-validated by", self.page("/commits/" + C1.upper()))

    def test_commit_not_validated(self):
        text = self.page("/commits/" + C2)
        m = re.search(r'<p class="verdict verdict-bad"[^>]*>(.*?)</p>', text, re.S)
        self.assertIsNotNone(m, "no not-validated verdict")
        verdict = re.sub(r"<[^>]+>", "", m.group(1)).replace("&#39;", "'")
        self.assertEqual(verdict, "Not GPU-validated: 1 test failed in alice's run")
        self.assertIn("tests/test_kern.py::test_broken", text)
        self.assertIn('class="outcome-failed"', text)
        # failures first: the failed test comes before the first passed one
        self.assertLess(text.index("test_broken"), text.index("tests/test_kern.py::test_relu"))
        self.assertIn("Why this receipt does not validate", text)
        self.assertIn("dirty", text)
        only = self.page("/commits/%s?only=failed" % C2)
        self.assertIn("test_broken", only)
        self.assertNotIn("tests/test_kern.py::test_relu<", only)

    def test_commit_unknown(self):
        text = self.page("/commits/" + "f" * 40)
        self.assertIn("No receipts for this commit yet", text)
        self.page("/commits/not-a-sha", 404)

    def test_hostile_commit_and_receipt(self):
        text = self.page("/commits/" + C3)
        self.assertIn("Not GPU-validated: 1 test failed in", text)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", text)
        self.assertIn("&lt;img src=x onerror=alert(2)&gt;", text)
        text = self.page("/receipts/" + self.hostile_id)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", text)
        self.assertIn("&#39; autofocus onfocus=alert(4) x=&#39;", text)
        self.assertIn("used by the tests (peak 2048 MiB)", text)
        self.page("/signers/" + HOSTILE_LOGIN)

    def test_receipt_pages(self):
        for name, rid in self.ids.items():
            text = self.page("/receipts/" + rid)
            signer = SIGNERS[name]
            self.assertIn('href="/signers/%s"' % signer, text, name)
            self.assertIn('href="/api/receipts/%s/raw"' % rid, text)
            self.assert_alternate(text, "/api/receipts/" + rid)
        self.page("/receipts/" + "0" * 64, 404)
        self.page("/receipts/xyz", 404)

    def test_signer(self):
        text = self.page("/signers/alice")
        self.assertIn("<h1>alice</h1>", text)
        self.assertIn("SHA256:", text)
        self.assert_alternate(text, "/api/signers/alice")
        self.page("/signers/-bad-", 404)

    def test_lookup(self):
        st, headers, _ = self.srv.request("/lookup?q=" + C1[:7])
        self.assertEqual(st, 303)
        self.assertEqual(urllib.parse.urlsplit(headers.get("Location", "")).path, "/commits/" + C1)
        st, headers, _ = self.srv.request("/lookup?q=" + C1.upper())
        self.assertEqual(st, 303)
        self.assertEqual(urllib.parse.urlsplit(headers.get("Location", "")).path, "/commits/" + C1)
        st, headers, _ = self.srv.request("/lookup?q=alice")
        self.assertEqual(st, 303)
        self.assertEqual(urllib.parse.urlsplit(headers.get("Location", "")).path, "/signers/alice")
        text = self.page("/lookup?q=" + C3[:7])  # C3 and C4 share it
        self.assertIn("Which one?", text)
        self.assertIn('href="/commits/%s"' % C3, text)
        self.assertIn('href="/commits/%s"' % C4, text)
        st, headers, _ = self.srv.request("/lookup?q=" + C4[:8])
        self.assertEqual(st, 303)
        self.assertEqual(urllib.parse.urlsplit(headers.get("Location", "")).path, "/commits/" + C4)
        text = self.page("/lookup?q=deadbee", 404)
        self.assertIn("Nothing found", text)
        self.page("/lookup?q=" + urllib.parse.quote(P_SCRIPT), 400)

    def test_badge(self):
        for sha, word in ((C1, "validated"), (C2, "failed"), ("e" * 40, "not validated")):
            st, headers, body = self.srv.request("/badge/alice/gpukernels/%s.svg" % sha)
            self.assertEqual(st, 200)
            self.assertTrue(headers.get("Content-Type", "").startswith("image/svg+xml"))
            self.assertIn(">%s</text>" % word, body.decode())
            # short-lived: a badge must not show yesterday's state for long
            cc = headers.get("Cache-Control", "")
            m = re.search(r"max-age=(\d+)", cc)
            self.assertTrue("no-store" in cc or "no-cache" in cc or (m and int(m.group(1)) <= 300), cc)

    def test_static(self):
        for path, ctype in (("/static/style.css", "text/css"), ("/static/app.js", "text/javascript")):
            st, headers, body = self.srv.request(path)
            self.assertEqual(st, 200, path)
            self.assertTrue(headers.get("Content-Type", "").startswith(ctype), path)
        for path in ("/static/../migrations/001.sql", "/static/%2e%2e/web/layout.html",
                     "/static/..%2flayout.html", "/static/%2E%2E%2Flayout.html", "/static/layout.html",
                     "/static/nope.css"):
            st, headers, body = self.srv.request(path)
            self.assertIn(st, (400, 404), path)
            self.assertNotIn(b"{{", body, path)

    def test_unknown_page_is_html(self):
        text = self.page("/no/such/page", 404)
        self.assertIn("Not found", text)


if __name__ == "__main__":
    reason = skip_reason()
    if reason:
        print("skipped: " + reason)
        sys.exit(77)
    unittest.main(verbosity=2)
