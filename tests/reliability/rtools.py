"""rtools.py - shared helpers of the reliability and security suites.

    from rtools import Signer, KeyDir, receipt, post, db_query

Receipts are signed here with fresh Ed25519 keys (python3-cryptography) the way receipt-v1.md
says: the signature covers json.dumps(receipt_without_signature, sort_keys=True,
separators=(",", ":")); the id is SHA-256 of the canonical bytes of the whole receipt. The keys
are served by tests/tools/keyserver.py (a loopback GitHub) from a KeyDir.
"""
import base64
import hashlib
import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("GP_SOURCE_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "tools"))

from gpserver import KeyServer, Server, SANITIZE, SERVER_BIN, skip_unless_server  # noqa: E402,F401

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

C_DEFAULT = "2c6362308d6f0ac578fee055f120fa766638b970"


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def receipt_id(raw):
    return hashlib.sha256(canonical(json.loads(raw))).hexdigest()


class Signer:
    """A GitHub login with a fresh Ed25519 key; .line is its .keys line."""

    def __init__(self, login):
        self.login = login
        self.key = Ed25519PrivateKey.generate()
        pub = self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

        def sshstr(b):
            return len(b).to_bytes(4, "big") + b

        blob = sshstr(b"ssh-ed25519") + sshstr(pub)
        self.line = "ssh-ed25519 " + base64.b64encode(blob).decode() + " " + login + "@test"
        self.fp = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")

    def sign(self, doc, indent=True):
        """Signs doc (a dict without "signature") in place; returns the receipt bytes."""
        doc.pop("signature", None)
        sig = self.key.sign(canonical(doc))
        doc["signature"] = {"algorithm": "ed25519", "backend": "ssh-local", "signer": self.login,
                            "key_fingerprint": self.fp, "value": base64.b64encode(sig).decode()}
        if indent:
            return json.dumps(doc, indent=2, sort_keys=True).encode()
        return canonical(doc)


class KeyDir:
    """A directory of <login>.keys files for keyserver.py --dir."""

    def __init__(self, path, signers=()):
        self.path = path
        os.makedirs(path, exist_ok=True)
        for s in signers:
            self.add(s)

    def add(self, signer):
        with open(os.path.join(self.path, signer.login + ".keys"), "w") as f:
            f.write(signer.line + "\n")


def receipt(login, repo="octo/gpukernels", commit=C_DEFAULT, nonce=0, outcome="passed", extra_tests=0,
            node_prefix="tests/test_kern.py::test_relu", branch="main", mode="local", gpus=None):
    """A schema-v1 receipt dict (unsigned). nonce makes receipts distinct."""
    nodes = ["%s_%d" % (node_prefix, nonce)] + ["%s_%d_x%d" % (node_prefix, nonce, i) for i in range(extra_tests)]
    tests = [{"node_id": n, "outcome": outcome, "duration_s": 0.001,
              "checks": [{"name": "relu", "outcome": outcome, "metadata": {"block": 256, "n": nonce}}]}
             for n in nodes]
    env = {"python_version": "3.11.2", "platform": "linux", "pytest_version": "7.2.1", "plugin_version": "0.1.0",
           "gpu_info": None}
    if gpus is not None:
        env["gpus"] = gpus
    return {
        "schema_version": "1",
        "mode": mode,
        "repo": {"remote_url": "git@github.com:%s.git" % repo, "github_username": login, "commit_sha": commit,
                 "branch": branch, "dirty": False},
        "fingerprint": {"algorithm": "sha256", "included_paths": ["src", "tests"], "file_count": 1,
                        "digest": hashlib.sha256(b"fp%d" % nonce).hexdigest()},
        "session": {"started_at": "2026-11-28T17:40:00Z", "ended_at": "2026-11-28T17:40:05Z", "node_ids": nodes},
        "tests": tests,
        "environment": env,
    }


def request(port, method, path, body=None, headers=None, timeout=10.0):
    """One request on a fresh connection: (status, {lower-case header: value}, body bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()


def post(port, raw, timeout=10.0, ctype="application/json"):
    return request(port, "POST", "/api/receipts", raw, {"Content-Type": ctype}, timeout)


def raw_exchange(port, data, timeout=5.0, read_limit=1 << 20):
    """Sends bytes on a raw socket, returns what comes back until close or timeout."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if data:
            try:
                s.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered early (e.g. 413) and closed: read what it said
        out = b""
        while len(out) < read_limit:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out:
                head, _, rest = out.partition(b"\r\n\r\n")
                for ln in head.split(b"\r\n"):
                    if ln.lower().startswith(b"content-length:"):
                        if len(rest) >= int(ln.split(b":", 1)[1]):
                            return out
        return out
    finally:
        s.close()


def status_of(resp):
    """Status code of a raw HTTP response, or None."""
    if not resp.startswith(b"HTTP/"):
        return None
    try:
        return int(resp.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def db_query(db, sql, args=()):
    """Read-only query on the server's database (works while the server runs: WAL)."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def check_ledger(db, origin="test.example/gpuproof"):
    """Runs gpuproof-server check-ledger (origin: gpserver.Server's); returns (rc, output)."""
    p = subprocess.run([SERVER_BIN, "check-ledger", "--db", db, "--ledger-origin", origin], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=300)
    return p.returncode, p.stdout.decode(errors="replace")
