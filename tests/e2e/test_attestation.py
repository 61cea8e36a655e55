#!/usr/bin/python3
"""in-toto attestations (issue 9): GET /api/receipts/{id}/attestation, checked by a verifier
written here from the specs, not from the server's code:

- DSSE (secure-systems-lab/dsse, protocol.md / envelope.md): envelope {payloadType, payload
  (base64), signatures [{keyid, sig}]}, signature = Ed25519 over
  PAE = "DSSEv1" SP len(type) SP type SP len(body) SP body.
- the key: the ledger verifier key string (C2SP signed-note: NAME+KEYID+base64(0x01 || pk)),
  key id = SHA-256(NAME || "\\n" || 0x01 || pk)[:4].
- in-toto Statement v1 with the test-result predicate v0.1.
Then `gpuproof-cli verify-attestation` against the same server: by receipt id with the key
pinned, trusted on first use through the state file, from a saved file, and refusing a tampered
envelope or another key.
"""
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import gpserver  # noqa: E402
from gpserver import KeyServer, Server, Vectors, SLOW  # noqa: E402

gpserver.skip_unless_server()

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:  # pragma: no cover
    print("python3-cryptography is missing: skipping", file=sys.stderr)
    sys.exit(77)

CLI = os.environ.get("GP_CLI_BIN", "")
CLEAN = "2c6362308d6f0ac578fee055f120fa766638b970"
FAILING = "67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0"


def pae(payload_type, body):
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def parse_vkey(vkey):
    name, keyid_hex, b64 = vkey.split("+", 2)  # base64 may hold "+"
    raw = base64.b64decode(b64, validate=True)
    assert len(raw) == 33 and raw[0] == 1, "not an Ed25519 note key"
    pk = raw[1:]
    assert hashlib.sha256(name.encode() + b"\n" + b"\x01" + pk).digest()[:4].hex() == keyid_hex
    return Ed25519PublicKey.from_public_bytes(pk)


def verify_envelope(env, vkey):
    """Returns the statement, or raises."""
    pub = parse_vkey(vkey)
    if set(env) - {"payload", "payloadType", "signatures"}:
        raise ValueError("unknown envelope members")
    body = base64.b64decode(env["payload"], validate=True)
    msg = pae(env["payloadType"], body)
    ok = False
    for s in env["signatures"]:
        if s.get("keyid") not in (None, "", vkey):
            continue
        try:
            pub.verify(base64.b64decode(s["sig"], validate=True), msg)
            ok = True
        except InvalidSignature:
            pass
    if not ok:
        raise InvalidSignature("no signature verifies")
    if env["payloadType"] != "application/vnd.in-toto+json":
        raise ValueError("not an in-toto payload")
    return json.loads(body)


class AttestationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gp-attest-")
        cls.vec = Vectors()
        cls.keys = KeyServer().start()
        cls.srv = Server(cls.tmp, cls.keys.url, args=["--rate-limit", "0", "--public-url",
                                                      "https://gp.example.org/"]).start()
        cls.ids = {}
        for name in ("alice-ed25519-0-clean", "alice-failed-and-skipped", "alice-dirty"):
            st, h, body = cls.srv.post_receipt(cls.vec.raw(cls.vec.by_name(name)))
            assert st == 201, body
            cls.ids[name] = json.loads(body)["id"]
        cls.keys.set_mode("down")
        st, h, body = cls.srv.post_receipt(cls.vec.raw(cls.vec.by_name("carol-rsa-0-clean")))
        assert st == 202, body
        cls.ids["pending"] = json.loads(body)["id"]
        st, h, vk = cls.srv.request("GET", "/api/ledger/key")
        cls.vkey = vk.decode().strip()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.stop()
        finally:
            cls.keys.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def envelope(self, rid):
        st, h, body = self.srv.request("GET", "/api/receipts/%s/attestation" % rid)
        self.assertEqual(st, 200, body)
        self.assertTrue(h["content-type"].startswith("application/json"))
        return json.loads(body)

    def test_clean_receipt_passes(self):
        rid = self.ids["alice-ed25519-0-clean"]
        env = self.envelope(rid)
        self.assertEqual(env["signatures"][0]["keyid"], self.vkey)
        stmt = verify_envelope(env, self.vkey)
        self.assertEqual(stmt["_type"], "https://in-toto.io/Statement/v1")
        self.assertEqual(stmt["subject"], [{"name": "git+https://github.com/alice/gpukernels@" + CLEAN,
                                            "digest": {"gitCommit": CLEAN}}])
        self.assertEqual(stmt["predicateType"], "https://in-toto.io/attestation/test-result/v0.1")
        p = stmt["predicate"]
        self.assertEqual(p["result"], "PASSED")
        raw = self.vec.raw(self.vec.by_name("alice-ed25519-0-clean"))
        receipt = json.loads(raw)
        self.assertEqual(p["passedTests"], [t["node_id"] for t in receipt["tests"]])
        self.assertEqual(p["warnedTests"], [])
        self.assertEqual(p["failedTests"], [])
        self.assertEqual(p["url"], "https://gp.example.org/commits/" + CLEAN)
        conf = p["configuration"][0]
        self.assertEqual(conf["uri"], "https://gp.example.org/api/receipts/%s/raw" % rid)
        self.assertEqual(conf["digest"]["sha256"], hashlib.sha256(raw).hexdigest())
        self.assertEqual(conf["annotations"]["receipt_id"], rid)
        self.assertEqual(conf["annotations"]["signer"], "alice")
        self.assertIsInstance(conf["annotations"]["ledger_index"], int)

    def test_failing_receipts(self):
        for name in ("alice-failed-and-skipped", "alice-dirty"):
            stmt = verify_envelope(self.envelope(self.ids[name]), self.vkey)
            p = stmt["predicate"]
            receipt = json.loads(self.vec.raw(self.vec.by_name(name)))
            by = lambda o: [t["node_id"] for t in receipt["tests"] if t["outcome"] == o]  # noqa: E731
            self.assertEqual(p["result"], "FAILED")
            self.assertEqual((p["passedTests"], p["warnedTests"], p["failedTests"]),
                             (by("passed"), by("skipped"), by("failed")))
            self.assertEqual(len(p["failedTests"]), 1)
            self.assertEqual(stmt["subject"][0]["digest"]["gitCommit"], FAILING)

    def test_tampering_is_detected(self):
        env = self.envelope(self.ids["alice-ed25519-0-clean"])
        stmt = json.loads(base64.b64decode(env["payload"]))
        stmt["predicate"]["result"] = "PASSED"
        stmt["predicate"]["failedTests"] = []
        stmt["subject"][0]["digest"]["gitCommit"] = FAILING
        forged = dict(env, payload=base64.b64encode(json.dumps(stmt).encode()).decode())
        with self.assertRaises(InvalidSignature):
            verify_envelope(forged, self.vkey)
        with self.assertRaises(InvalidSignature):
            verify_envelope(dict(env, payloadType="application/json"), self.vkey)
        # another key does not verify it
        other = "test.example/gpuproof+%s+%s"
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives import serialization
        pk = Ed25519PrivateKey.generate().public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        kid = hashlib.sha256(b"test.example/gpuproof\n\x01" + pk).digest()[:4].hex()
        other = other % (kid, base64.b64encode(b"\x01" + pk).decode())
        with self.assertRaises(InvalidSignature):
            verify_envelope(dict(env, signatures=[{"keyid": other, "sig": env["signatures"][0]["sig"]}]), other)

    def test_only_verified_receipts(self):
        for rid in (self.ids["pending"], "0" * 64, "zz", self.ids["pending"][:10]):
            st, h, body = self.srv.request("GET", "/api/receipts/%s/attestation" % rid)
            self.assertEqual(st, 404, (rid, body))
            self.assertEqual(h["content-type"], "application/problem+json")

    def cli(self, *args, env=None):
        e = dict(os.environ, XDG_STATE_HOME=os.path.join(self.tmp, "state"), HOME=self.tmp)
        e.pop("GPUPROOF_SERVER", None)
        r = subprocess.run([CLI, "verify-attestation"] + list(args), capture_output=True,
                           timeout=60 * SLOW, env=e)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def test_cli(self):
        if not CLI or not os.access(CLI, os.X_OK):
            self.skipTest("GP_CLI_BIN not set")
        server = "http://127.0.0.1:%d" % self.srv.port
        rid = self.ids["alice-ed25519-0-clean"]
        rc, out, err = self.cli("--server", server, "--receipt-id", rid, "--key", self.vkey)
        self.assertEqual(rc, 0, err)
        self.assertIn("result  PASSED (6 passed, 0 warned, 0 failed)", out)
        # trust on first use through the state file, then pinned from it
        rc, out, err = self.cli("--server", server, "--receipt-id", rid, "--json")
        self.assertEqual(rc, 0, err)
        self.assertIn("FIRST USE", err)
        doc = json.loads(out)
        self.assertEqual((doc["ok"], doc["result"], doc["key_source"]), (True, "PASSED", "first use"))
        rc, out, err = self.cli("--server", server, "--receipt-id", self.ids["alice-failed-and-skipped"], "--json")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual((doc["result"], doc["key_source"]), ("FAILED", "state file"))
        rc, out, err = self.cli("--server", server, "--receipt-id", self.ids["alice-failed-and-skipped"],
                                "--require-passed")
        self.assertEqual(rc, 1, err)
        # saved envelopes: as served, tampered, and checked with another key
        env = self.envelope(rid)
        good = os.path.join(self.tmp, "good.json")
        with open(good, "w") as f:
            json.dump(env, f)
        rc, out, err = self.cli("--envelope", good, "--key", self.vkey)
        self.assertEqual(rc, 0, err)
        stmt = json.loads(base64.b64decode(env["payload"]))
        stmt["subject"][0]["digest"]["gitCommit"] = FAILING
        bad = os.path.join(self.tmp, "bad.json")
        with open(bad, "w") as f:
            json.dump(dict(env, payload=base64.b64encode(json.dumps(stmt).encode()).decode()), f)
        rc, out, err = self.cli("--envelope", bad, "--key", self.vkey)
        self.assertEqual(rc, 1, err)
        self.assertIn("NOT VERIFIED", err)
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives import serialization
        pk = Ed25519PrivateKey.generate().public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        kid = hashlib.sha256(b"test.example/gpuproof\n\x01" + pk).digest()[:4].hex()
        other = "test.example/gpuproof+%s+%s" % (kid, base64.b64encode(b"\x01" + pk).decode())
        rc, out, err = self.cli("--envelope", good, "--key", other)
        self.assertEqual(rc, 1, err)
        # a failing commit verifies too (exit 0 without --require-passed); a pending one is not attested
        rc, out, err = self.cli("--server", server, "--receipt-id", self.ids["alice-dirty"], "--key", self.vkey)
        self.assertEqual(rc, 0, err)
        rc, out, err = self.cli("--server", server, "--receipt-id", self.ids["pending"], "--key", self.vkey)
        self.assertEqual(rc, 2, err)  # 404: not attested
        rc, out, err = self.cli("--server", server)
        self.assertEqual(rc, 2)


if __name__ == "__main__":
    unittest.main()
