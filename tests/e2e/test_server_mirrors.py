#!/usr/bin/python3
"""With --mirrors, a clean receipt's code fingerprint is recomputed from the bare mirror of its
repository at its commit (issue 3): a match validates, a mismatch and a commit the mirror does not
hold are reasons. Receipts are signed here with a fresh Ed25519 key published for the login "zed"
by the loopback key server, so that the test can forge the digest and the commit.
"""
import base64
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import gpserver  # noqa: E402
from gpserver import KeyServer, Server, Vectors  # noqa: E402

gpserver.skip_unless_server()

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

C1 = "2c6362308d6f0ac578fee055f120fa766638b970"


def sshstr(b):
    return struct.pack(">I", len(b)) + b


class MirrorTest(unittest.TestCase):
    def setUp(self):
        if not shutil.which("git"):
            self.skipTest("git is not installed")
        self.tmp = tempfile.mkdtemp(prefix="gp-mirror-")
        self.vec = Vectors()
        keys_dir = os.path.join(self.tmp, "keys")
        shutil.copytree(os.path.join(gpserver.VECTORS, "github"), keys_dir)
        self.key = Ed25519PrivateKey.generate()
        pk = self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        with open(os.path.join(keys_dir, "zed.keys"), "w") as f:
            f.write("ssh-ed25519 " + base64.b64encode(sshstr(b"ssh-ed25519") + sshstr(pk)).decode() + "\n")
        mirrors = os.path.join(self.tmp, "mirrors")
        os.makedirs(os.path.join(mirrors, "alice"))
        subprocess.run(["git", "clone", "-q", "--mirror", os.path.join(gpserver.VECTORS, "repo.bundle"),
                        os.path.join(mirrors, "alice", "gpukernels.git")], check=True)
        self.keys = KeyServer(keys_dir=keys_dir).start()
        self.srv = Server(self.tmp, self.keys.url, args=["--mirrors", mirrors, "--rate-limit", "0"]).start()

    def tearDown(self):
        try:
            self.srv.stop()
        finally:
            self.keys.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def signed(self, edit):
        doc = json.loads(self.vec.raw(self.vec.by_name("alice-ed25519-0-clean")))
        edit(doc)
        doc.pop("signature", None)
        msg = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("ascii")
        doc["signature"] = {"algorithm": "ed25519", "backend": "ssh-local", "signer": "zed",
                            "key_fingerprint": "SHA256:claimed", "value": base64.b64encode(self.key.sign(msg)).decode()}
        return json.dumps(doc, indent=2).encode()

    def post(self, raw):
        st, h, body = self.srv.post_receipt(raw)
        self.assertEqual(st, 201, body)
        return json.loads(body)

    def test_fingerprint_checked_against_the_mirror(self):
        ok = self.post(self.vec.raw(self.vec.by_name("alice-ed25519-0-clean")))
        self.assertTrue(ok["validates"], ok["reasons"])
        mine = self.post(self.signed(lambda d: d["environment"].update(extra="x")))
        self.assertTrue(mine["validates"], mine["reasons"])
        self.assertNotEqual(mine["key_fingerprint"], "SHA256:claimed")
        forged = self.post(self.signed(lambda d: d["fingerprint"].update(digest="0" * 64)))
        self.assertFalse(forged["validates"])
        self.assertTrue(any("fingerprint does not match" in r for r in forged["reasons"]), forged["reasons"])
        absent = self.post(self.signed(lambda d: d["repo"].update(commit_sha="1" * 40)))
        self.assertFalse(absent["validates"])
        self.assertTrue(any("not in the mirror" in r for r in absent["reasons"]), absent["reasons"])
        other = self.post(self.signed(lambda d: d["repo"].update(remote_url="https://github.com/zed/elsewhere.git")))
        self.assertTrue(other["validates"], other["reasons"])  # no mirror of zed/elsewhere: not checked
        st, doc = self.srv.get_json("/api/commits/" + C1)
        self.assertEqual(doc["validated_by"], ["alice", "zed"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
