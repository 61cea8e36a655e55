#!/usr/bin/python3
"""gpuproof-cli ledger verify against a ledger server written here in Python.

Part 1: the server is not gpuproof-server but a small, independent implementation of the
ledger endpoints of ledger.md written here (Ed25519 from python3-cryptography, C2SP signed notes
built by hand, RFC 9162 proofs from tests/tools/rfc9162.py), so that each case can make it
misbehave in one precise way: rewrite history, roll back, fork, rotate its key, serve a bad
signature, a forged proof, a receipt that is not in the log. The CLI must accept the honest
server and exit 1, loudly, for each lie, without remembering the lie.

Part 2 (when GP_SERVER_BIN is built): the real gpuproof-server with the vector receipts; the CLI
verifies checkpoints and inclusion, then the database is edited behind the server's back (two
leaves swapped, the last leaf deleted and another receipt appended in its place) and a client
holding the earlier checkpoint must notice.
"""
import base64
import hashlib
import json
import os
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SRC = os.environ.get("GP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.environ.get("GP_CLI_BIN", "")
sys.path.insert(0, os.path.join(SRC, "tests", "tools"))
import rfc9162  # noqa: E402
import gpserver  # noqa: E402

EM_DASH = "\u2014"


def b64(data):
    return base64.b64encode(data).decode()


class Key:
    def __init__(self, name):
        self.name = name
        self.priv = Ed25519PrivateKey.generate()
        self.pub = self.priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.id = hashlib.sha256(name.encode() + b"\n\x01" + self.pub).digest()[:4]

    def vkey(self):
        return "%s+%s+%s" % (self.name, self.id.hex(), b64(b"\x01" + self.pub))

    def sign(self, text):
        sig = self.priv.sign(text.encode())
        return "%s\n%s %s %s\n" % (text, EM_DASH, self.name, b64(self.id + sig))


def entry(i):
    rid = hashlib.sha256(b"receipt %d" % i).hexdigest()
    doc = {"v": 1, "receipt": rid, "repo": "o/r", "commit": "%040x" % i, "signer": "alice",
           "key_fingerprint": "SHA256:x", "verified_at": "2026-11-28T17:22:05Z"}
    return rid, json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


class Ledger:
    """The server's state; tests change it between CLI runs."""

    def __init__(self, origin="test.example/ledger"):
        self.origin = origin
        self.key = Key(origin)
        self.entries = []
        self.rids = []
        self.served_size = None      # serve a checkpoint of this size instead of the full tree
        self.lag = 0                 # serve checkpoints one entry short this many more times
        self.checkpoint_override = None
        self.proof_hook = None       # f(kind, hashes) -> hashes
        self.summary_hook = None     # f(summary) -> summary
        self.fail_status = None      # answer every request with this status

    def append(self, k):
        for _ in range(k):
            rid, e = entry(len(self.entries))
            self.rids.append(rid)
            self.entries.append(e)

    def leaves(self):
        return [rfc9162.leaf_hash(e) for e in self.entries]

    def checkpoint(self):
        if self.checkpoint_override is not None:
            return self.checkpoint_override
        n = len(self.entries) if self.served_size is None else self.served_size
        if self.lag > 0:
            self.lag -= 1
            n -= 1
        text = "%s\n%d\n%s\n" % (self.origin, n, b64(rfc9162.mth(self.leaves()[:n])))
        return self.key.sign(text)


def make_handler(ledger):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def send(self, status, body, ctype="application/json"):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def problem(self, status, detail):
            self.send(status, json.dumps({"type": "about:blank", "title": "error",
                                          "status": status, "detail": detail}),
                      "application/problem+json")

        def do_GET(self):
            if ledger.fail_status:
                return self.problem(ledger.fail_status, "broken on purpose")
            url = urllib.parse.urlsplit(self.path)
            q = {k: int(v[0]) for k, v in urllib.parse.parse_qs(url.query).items()
                 if v[0].isdigit()}
            leaves = ledger.leaves()
            if url.path == "/api/ledger/key":
                return self.send(200, ledger.key.vkey() + "\n", "text/plain; charset=utf-8")
            if url.path == "/api/ledger/checkpoint":
                return self.send(200, ledger.checkpoint(), "text/plain; charset=utf-8")
            if url.path == "/api/ledger/proof/consistency":
                m, n = q.get("first", -1), q.get("second", -1)
                if not 0 <= m <= n <= len(leaves):
                    return self.problem(400, "beyond the tree")
                hashes = rfc9162.proof(m, leaves[:n])
                if ledger.proof_hook:
                    hashes = ledger.proof_hook("consistency", hashes)
                return self.send(200, json.dumps({"first": m, "second": n,
                                                  "hashes": [b64(h) for h in hashes]}))
            if url.path == "/api/ledger/proof/inclusion":
                i, n = q.get("index", -1), q.get("tree_size", -1)
                if not 0 <= i < n <= len(leaves):
                    return self.problem(400, "beyond the tree")
                hashes = rfc9162.path(i, leaves[:n])
                if ledger.proof_hook:
                    hashes = ledger.proof_hook("inclusion", hashes)
                return self.send(200, json.dumps({"index": i, "tree_size": n,
                                                  "hashes": [b64(h) for h in hashes]}))
            if url.path.startswith("/api/receipts/"):
                rid = url.path.rsplit("/", 1)[1]
                if rid not in ledger.rids:
                    return self.problem(404, "no such receipt")
                i = ledger.rids.index(rid)
                summary = {"id": rid, "status": "verified",
                           "ledger": {"index": i, "entry": ledger.entries[i].decode()}}
                if ledger.summary_hook:
                    summary = ledger.summary_hook(summary)
                return self.send(200, json.dumps(summary))
            return self.problem(404, "not found")

    return Handler


class Server:
    def __init__(self, ledger):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(ledger))
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


FAILURES = []


def run(args, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    p = subprocess.run([CLI, "ledger"] + args, capture_output=True, text=True, env=env,
                       timeout=120)
    return p.returncode, p.stdout, p.stderr


def expect(name, got, want_rc, must_say=None):
    rc, out, err = got
    ok = rc == want_rc and (must_say is None or must_say in out + err)
    if "Sanitizer" in err or "runtime error" in err:
        ok = False
    print("%s %s (rc %d, want %d)" % ("ok  " if ok else "FAIL", name, rc, want_rc))
    if not ok:
        FAILURES.append(name)
        print("  stdout: %s\n  stderr: %s" % (out.strip()[:2000], err.strip()[:2000]))
    return got


def state_size(path, url):
    with open(path) as f:
        return json.load(f)["servers"][url]["size"]


def main():
    if not CLI or not os.access(CLI, os.X_OK):
        print("SKIP: GP_CLI_BIN (%r) is not built" % CLI)
        return 77
    tmp = tempfile.mkdtemp(prefix="gp-ledger-cli-")
    ledger = Ledger()
    server = Server(ledger)
    try:
        scenarios(tmp, ledger, server)
        if gpserver.SERVER_BIN and os.access(gpserver.SERVER_BIN, os.X_OK):
            real_server(os.path.join(tmp, "real"))
        else:
            print("note: GP_SERVER_BIN is not built; the real-server part did not run")
    finally:
        server.close()
        subprocess.run(["rm", "-rf", tmp])
    if FAILURES:
        print("FAILED: %s" % ", ".join(FAILURES))
        return 1
    print("all ledger CLI checks passed")
    return 0


def scenarios(tmp, ledger, server):
    url = server.url
    state = os.path.join(tmp, "state.json")
    verify = ["verify", "--server", url, "--state", state]

    expect("--help", run(["verify", "--help"]), 0, "--key VKEY")
    expect("unknown option", run(["verify", "--bogus"]), 2)
    expect("no subcommand", run([]), 2)

    # Trust on first use, loudly; the state file is made 0600 and remembers key and checkpoint.
    ledger.append(3)
    expect("first use", run(verify), 0, "TRUSTING THE LEDGER KEY")
    st = os.stat(state)
    if stat.S_IMODE(st.st_mode) != 0o600 or state_size(state, url) != 3:
        FAILURES.append("state file mode/content")
    with open(state) as f:
        if json.load(f)["servers"][url]["key"] != ledger.key.vkey():
            FAILURES.append("state file key")

    # Honest growth: consistent, no warning any more; --json reports the previous checkpoint.
    ledger.append(4)
    rc, out, err = expect("append", run(verify + ["--json"]), 0)
    doc = json.loads(out) if out.strip() else {}
    if not (doc.get("ok") and doc.get("consistent") and doc.get("size") == 7
            and doc.get("previous", {}).get("size") == 3 and doc.get("key_source") == "state file"
            and "TRUSTING" not in err):
        FAILURES.append("append --json: %s" % out)
    expect("same size again", run(verify), 0, "consistent with the checkpoint of size 7")
    ledger.append(9)  # 16: a power of two
    expect("append to 16", run(verify), 0)
    ledger.append(1)
    expect("append to 17", run(verify), 0)

    # History rewritten: leaf 5 changed, a leaf appended, freshly signed. Must fail and not be
    # remembered.
    saved = list(ledger.entries)
    ledger.entries[5] = b'{"forged":true}'
    ledger.append(1)
    expect("rewritten history", run(verify), 1, "NOT consistent")
    if state_size(state, url) != 17:
        FAILURES.append("a rejected checkpoint was remembered")
    # Two leaves swapped.
    ledger.entries = list(saved)
    ledger.entries[2], ledger.entries[3] = ledger.entries[3], ledger.entries[2]
    ledger.append(2)
    expect("swapped leaves", run(verify), 1, "NOT consistent")
    ledger.entries = list(saved)
    ledger.rids = ledger.rids[:17]

    # Rolled back: a properly signed checkpoint of a smaller tree.
    ledger.served_size = 10
    expect("rollback", run(verify), 1, "shrank")
    ledger.served_size = None
    # A fork at the same size: different root, same size, signed.
    ledger.entries[16] = b'{"fork":1}'
    expect("fork at equal size", run(verify), 1, "NOT consistent")
    ledger.entries = list(saved)
    expect("honest again", run(verify), 0)

    # A forged consistency proof for an honest append.
    ledger.append(3)
    ledger.proof_hook = lambda kind, h: [bytes([h[0][0] ^ 1]) + h[0][1:]] + h[1:] if h else h
    expect("forged consistency proof", run(verify), 1, "NOT consistent")
    ledger.proof_hook = lambda kind, h: h[:-1]
    expect("truncated consistency proof", run(verify), 1, "NOT consistent")
    ledger.proof_hook = None

    # Bad signatures: the text changed under the signature; another key; another key's name.
    good = ledger.checkpoint()
    text, sig = good.split("\n\n", 1)
    lines = text.split("\n")
    ledger.checkpoint_override = "%s\n%d\n%s\n\n%s" % (lines[0], int(lines[1]) + 1, lines[2], sig)
    expect("tampered checkpoint", run(verify), 1, "does not verify")
    old_key = ledger.key
    ledger.key = Key(ledger.origin)
    ledger.checkpoint_override = None
    expect("rotated key", run(verify), 1, "does not verify")
    expect("rotated key, fresh state, pinned old key",
           run(["verify", "--server", url, "--state", os.path.join(tmp, "s2.json"),
                "--key", old_key.vkey()]), 1, "does not verify")
    ledger.key = old_key
    ledger.checkpoint_override = "garbage\n"
    expect("malformed checkpoint", run(verify), 1)
    ledger.checkpoint_override = None

    # Pinning with --key on a fresh state: no trust-on-first-use warning.
    rc, out, err = expect("pinned --key", run(["verify", "--server", url, "--state",
                                               os.path.join(tmp, "s3.json"), "--key",
                                               ledger.key.vkey()]), 0)
    if "TRUSTING" in err:
        FAILURES.append("--key still warned about first use")
    expect("bad --key", run(verify + ["--key", "nonsense"]), 2)

    # Inclusion of a receipt, via --receipt.
    expect("receipt included", run(verify + ["--receipt", ledger.rids[4]]), 0,
           "included at index 4 of tree size 20")
    rc, out, _ = expect("receipt --json", run(verify + ["--receipt", ledger.rids[19], "--json"]), 0)
    if out.strip() and not json.loads(out).get("receipt", {}).get("included"):
        FAILURES.append("--receipt --json")
    ledger.proof_hook = lambda kind, h: (rfc9162.path(5, ledger.leaves()) if kind == "inclusion"
                                         else h)
    expect("inclusion proof of another leaf", run(verify + ["--receipt", ledger.rids[4]]), 1,
           "NOT in the ledger")
    ledger.proof_hook = None

    def other_entry(s):
        s["ledger"]["entry"] = ledger.entries[3].decode()
        return s
    ledger.summary_hook = other_entry
    expect("entry of another receipt", run(verify + ["--receipt", ledger.rids[4]]), 1,
           "names another receipt")

    def altered_entry(s):
        e = json.loads(s["ledger"]["entry"])
        e["signer"] = "mallory"
        s["ledger"]["entry"] = json.dumps(e, sort_keys=True, separators=(",", ":"))
        return s
    ledger.summary_hook = altered_entry
    expect("altered entry", run(verify + ["--receipt", ledger.rids[4]]), 1, "NOT in the ledger")

    def pending(s):
        s["status"] = "pending"
        s["ledger"] = None
        return s
    ledger.summary_hook = pending
    expect("receipt not in the ledger", run(verify + ["--receipt", ledger.rids[4]]), 1,
           "not in the ledger")
    ledger.summary_hook = None
    expect("unknown receipt", run(verify + ["--receipt", "ab" * 32]), 2, "404")
    expect("malformed receipt id", run(verify + ["--receipt", "xyz"]), 2)

    # Checkpoints lag behind appends: the client waits for one that covers the receipt.
    ledger.append(1)
    ledger.lag = 2
    expect("lagging checkpoint", run(verify + ["--receipt", ledger.rids[20]]), 0,
           "included at index 20 of tree size 21")
    if state_size(state, url) != 21:
        FAILURES.append("after the lagging checkpoint the state should hold size 21")

    # Default state location from XDG_STATE_HOME.
    xdg = os.path.join(tmp, "xdg")
    expect("XDG_STATE_HOME", run(["verify", "--server", url + "/"], {"XDG_STATE_HOME": xdg}), 0,
           "TRUSTING")
    path = os.path.join(xdg, "gpuproof", "ledger-state.json")
    if not os.path.exists(path) or state_size(path, url) != 21:
        FAILURES.append("state not under $XDG_STATE_HOME/gpuproof or not keyed by the base URL")

    # Could not check: the server errs, is down, or the state file is damaged: exit 2.
    ledger.fail_status = 503
    expect("server error", run(verify), 2, "503")
    ledger.fail_status = None
    with open(os.path.join(tmp, "bad.json"), "w") as f:
        f.write("{not json")
    expect("damaged state", run(["verify", "--server", url, "--state",
                                 os.path.join(tmp, "bad.json")]), 2, "damaged")
    server.close()
    expect("server down", run(verify), 2)
    expect("state intact at the end", (0 if state_size(state, url) == 21 else 1, "", ""), 0)


def wait_checkpoint(srv, size):
    deadline = time.time() + 15 * gpserver.SLOW
    while time.time() < deadline:
        st, _, body = srv.request("GET", "/api/ledger/checkpoint")
        if st == 200 and int(body.decode().split("\n")[1]) >= size:
            return
        time.sleep(0.1)
    FAILURES.append("the server signed no checkpoint of size %d" % size)


def real_server(tmp):
    os.makedirs(tmp)
    vec = gpserver.Vectors()
    names = ["alice-ed25519-0-clean", "bob-ecdsa-0-clean", "carol-rsa-0-clean",
             "dave-ecdsa-0-clean", "erin-rsa-0-clean", "erin-ed25519-1-clean"]
    items = [vec.by_name(n) for n in names]
    later = vec.by_name("alice-failed-and-skipped")
    state = os.path.join(tmp, "state.json")
    with gpserver.KeyServer() as keys:
        srv = gpserver.Server(tmp, keys.url, args=["--rate-limit", "0"]).start()
        try:
            url = "http://127.0.0.1:%d" % srv.port
            verify = ["verify", "--server", url, "--state", state]
            for it in items[:4]:
                st, _, body = srv.post_receipt(vec.raw(it))
                if st != 201:
                    FAILURES.append("real server: POST %s answered %d %s" % (it["file"], st, body))
                    return
            wait_checkpoint(srv, 4)
            expect("real: pinned key", run(verify + ["--key", srv.verifier]), 0, "pinned with --key")
            expect("real: trust on first use", run(["verify", "--server", url, "--state",
                                                     os.path.join(tmp, "tofu.json")]), 0, "TRUSTING")
            for i, it in enumerate(items[:4]):
                expect("real: receipt %d included" % i, run(verify + ["--receipt", it["receipt_id"]]),
                       0, "included at index %d" % i)
            for it in items[4:]:
                srv.post_receipt(vec.raw(it))
            wait_checkpoint(srv, 6)
            expect("real: grown to 6", run(verify), 0, "consistent with the checkpoint of size 4")
            srv.stop()

            # Two leaves swapped behind the server's back: bob's receipt now claims index 2.
            db = sqlite3.connect(srv.db)
            db.executescript("UPDATE ledger_leaves SET idx = -1 WHERE idx = 1;"
                             "UPDATE ledger_leaves SET idx = 1 WHERE idx = 2;"
                             "UPDATE ledger_leaves SET idx = 2 WHERE idx = -1;")
            db.commit()
            db.close()
            srv.start()
            url = "http://127.0.0.1:%d" % srv.port
            verify = ["verify", "--server", url, "--state", state]
            # The state is keyed by URL and the port changed: pin the key for the new URL, and
            # carry the last checkpoint over as a client that kept the same address would have it.
            with open(state) as f:
                doc = json.load(f)
            old = [k for k in doc["servers"] if k != url][0]
            doc["servers"][url] = doc["servers"].pop(old)
            with open(state, "w") as f:
                json.dump(doc, f)
            # The server still points receipt 1 at leaf 1 (receipts.leaf_idx), whose entry now
            # names receipt 2; the client checks the entry it is given against the receipt id.
            expect("real: swapped leaves, inclusion", run(verify + ["--receipt", items[1]["receipt_id"]]),
                   1, "names another receipt")
            srv.stop()
            db = sqlite3.connect(srv.db)
            db.executescript("UPDATE ledger_leaves SET idx = -1 WHERE idx = 1;"
                             "UPDATE ledger_leaves SET idx = 1 WHERE idx = 2;"
                             "UPDATE ledger_leaves SET idx = 2 WHERE idx = -1;"
                             # the last leaf deleted, with its subtree hashes and checkpoint
                             "DELETE FROM ledger_leaves WHERE idx = 5;"
                             # covering the tracks: the receipt no longer names its leaf, so that
                             # the server appends the next receipt in its place
                             "UPDATE receipts SET leaf_idx = NULL WHERE leaf_idx = 5;"
                             "DELETE FROM ledger_nodes WHERE (level = 0 AND idx = 5) OR (level = 1 AND idx = 2);"
                             "DELETE FROM checkpoints WHERE size = 6;")
            db.commit()
            db.close()
            srv.start()
            new_url = "http://127.0.0.1:%d" % srv.port
            with open(state) as f:
                doc = json.load(f)
            doc["servers"][new_url] = doc["servers"].pop(url)
            with open(state, "w") as f:
                json.dump(doc, f)
            url = new_url
            verify = ["verify", "--server", url, "--state", state]
            wait_checkpoint(srv, 5)
            expect("real: deleted leaf", run(verify), 1, "shrank")
            # Another receipt takes the deleted leaf's place: same size, another root.
            st, _, body = srv.post_receipt(vec.raw(later))
            wait_checkpoint(srv, 6)
            expect("real: replaced leaf", run(verify), 1, "NOT consistent")
            # A client that never saw the old tree is satisfied: only history can tell.
            expect("real: fresh client", run(["verify", "--server", url, "--state",
                                              os.path.join(tmp, "fresh.json"), "--key",
                                              srv.verifier]), 0)
        finally:
            if srv.proc:
                try:
                    srv.stop()
                except AssertionError as exc:
                    FAILURES.append("real server: %s" % exc)


if __name__ == "__main__":
    sys.exit(main())
