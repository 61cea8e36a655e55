#!/usr/bin/python3
"""End-to-end tests of the server's receipt ledger (issue 5, ledger.md).

Submits the vectors, then checks with code written here and in tests/tools/rfc9162.py (shares
nothing with lib/): every entry and leaf hash, every inclusion proof against the signed
checkpoint's root, consistency proofs between every size and across a later append, the
checkpoint's Ed25519 signature and key id (python3-cryptography), 400 for proofs beyond the tree;
then `gpuproof-server check-ledger` passes, and fails naming the index once a row of the
database is edited behind the server's back (a receipt's outcome, a summary column, a deleted
leaf, two swapped leaves).
"""
import base64
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import gpserver  # noqa: E402
import rfc9162  # noqa: E402
from gpserver import KeyServer, Server, Vectors, SLOW  # noqa: E402

gpserver.skip_unless_server()

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: E402
from cryptography.exceptions import InvalidSignature  # noqa: E402

ORIGIN = "test.example/gpuproof"


def parse_vkey(vkey):
    name, keyid, b64 = vkey.split("+", 2)
    raw = base64.b64decode(b64)
    assert raw[0] == 1 and len(raw) == 33, "not an Ed25519 verifier key"
    pk = raw[1:]
    want = hashlib.sha256(name.encode() + b"\n" + b"\x01" + pk).digest()[:4]
    assert want.hex() == keyid, "key id does not match"
    return name, bytes.fromhex(keyid), pk


def open_checkpoint(note, vkey):
    """Verifies the signed note; returns (size, root bytes)."""
    name, keyid, pk = parse_vkey(vkey)
    text, sep, sigs = note.partition("\n\n")
    assert sep, "no blank line"
    text += "\n"
    ok = False
    for line in sigs.splitlines():
        assert line.startswith("\u2014 "), line
        sname, sb64 = line[2:].split(" ")
        blob = base64.b64decode(sb64)
        if sname == name and blob[:4] == keyid:
            Ed25519PublicKey.from_public_bytes(pk).verify(blob[4:], text.encode())
            ok = True
    assert ok, "no signature by the server's key"
    lines = text.split("\n")
    assert lines[0] == ORIGIN, lines[0]
    return int(lines[1]), base64.b64decode(lines[2])


class LedgerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gp-ledger-")
        cls.vec = Vectors()
        cls.keys = KeyServer().start()
        cls.srv = Server(cls.tmp, cls.keys.url, args=["--rate-limit", "0"]).start()
        cls.ids = []
        for v in cls.vec.items:
            if v["expect"] != "valid" or v["file"].startswith("receipts/variant-") or "erin-ed25519" in v["file"]:
                continue
            st, h, body = cls.srv.post_receipt(cls.vec.raw(v))
            assert st == 201, (v["file"], st, body)
            cls.ids.append(v["receipt_id"])

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.srv.proc:
                cls.srv.stop()
        finally:
            cls.keys.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def checkpoint(self, size, timeout=10):
        deadline = time.time() + timeout * SLOW
        while True:
            st, h, body = self.srv.request("GET", "/api/ledger/checkpoint")
            self.assertEqual(st, 200)
            self.assertTrue(h["content-type"].startswith("text/plain"))
            n, root = open_checkpoint(body.decode(), self.srv.verifier)
            if n >= size or time.time() > deadline:
                self.assertEqual(n, size)
                return root
            time.sleep(0.1)

    def entries(self, n):
        out = []
        for i in range(n):
            st, doc = self.srv.get_json("/api/ledger/entries/%d" % i)
            self.assertEqual(st, 200)
            self.assertEqual(doc["index"], i)
            entry = doc["entry"].encode()
            self.assertEqual(base64.b64decode(doc["leaf_hash"]), rfc9162.leaf_hash(entry))
            out.append(entry)
        return out

    def test_1_key_and_entries(self):
        st, h, body = self.srv.request("GET", "/api/ledger/key")
        self.assertEqual(st, 200)
        self.assertEqual(body.decode().strip(), self.srv.verifier)
        parse_vkey(self.srv.verifier)
        entries = self.entries(len(self.ids))
        for i, rid in enumerate(self.ids):
            e = json.loads(entries[i])
            self.assertEqual(sorted(e), ["commit", "key_fingerprint", "receipt", "repo", "signer", "v", "verified_at"])
            self.assertEqual((e["v"], e["receipt"], e["repo"]), (1, rid, "alice/gpukernels"))
            # canonical: sorted keys, no spaces
            self.assertEqual(entries[i], json.dumps(e, sort_keys=True, separators=(",", ":")).encode())
            st, summ = self.srv.get_json("/api/receipts/" + rid)
            self.assertEqual(summ["ledger"], {"index": i, "entry": entries[i].decode()})
            self.assertEqual(e["key_fingerprint"], summ["key_fingerprint"])

    def test_2_proofs(self):
        n = len(self.ids)
        root = self.checkpoint(n)
        leaves = [rfc9162.leaf_hash(e) for e in self.entries(n)]
        self.assertEqual(rfc9162.mth(leaves), root)
        for i in range(n):
            for size in range(i + 1, n + 1):
                st, doc = self.srv.get_json("/api/ledger/proof/inclusion?index=%d&tree_size=%d" % (i, size))
                self.assertEqual(st, 200)
                self.assertEqual((doc["index"], doc["tree_size"]), (i, size))
                proof = [base64.b64decode(x) for x in doc["hashes"]]
                self.assertTrue(rfc9162.verify_inclusion(leaves[i], i, size, rfc9162.mth(leaves[:size]), proof))
                if proof:
                    bad = [bytes([proof[0][0] ^ 1]) + proof[0][1:]] + proof[1:]
                    self.assertFalse(rfc9162.verify_inclusion(leaves[i], i, size, rfc9162.mth(leaves[:size]), bad))
        for m in range(0, n + 1):
            st, doc = self.srv.get_json("/api/ledger/proof/consistency?first=%d&second=%d" % (m, n))
            self.assertEqual(st, 200)
            proof = [base64.b64decode(x) for x in doc["hashes"]]
            if 0 < m < n:
                self.assertTrue(rfc9162.verify_consistency(m, n, rfc9162.mth(leaves[:m]), root, proof))
            else:
                self.assertEqual(proof, [])
        for path in ("/api/ledger/proof/inclusion?index=%d&tree_size=%d" % (n, n),
                     "/api/ledger/proof/inclusion?index=0&tree_size=%d" % (n + 1),
                     "/api/ledger/proof/inclusion?index=x&tree_size=1",
                     "/api/ledger/proof/consistency?first=1&second=%d" % (n + 1),
                     "/api/ledger/proof/consistency?first=3&second=2"):
            st, h, body = self.srv.request("GET", path)
            self.assertEqual(st, 400, path)
            self.assertEqual(h["content-type"], "application/problem+json")
        self.assertEqual(self.srv.request("GET", "/api/ledger/entries/%d" % n)[0], 404)

    def test_3_append_is_consistent(self):
        n = len(self.ids)
        old_root = self.checkpoint(n)
        v = self.vec.by_name("erin-ed25519-1-clean")
        st, h, body = self.srv.post_receipt(self.vec.raw(v))
        self.assertEqual(st, 201)
        self.assertEqual(json.loads(body)["ledger"]["index"], n)
        new_root = self.checkpoint(n + 1)
        st, doc = self.srv.get_json("/api/ledger/proof/consistency?first=%d&second=%d" % (n, n + 1))
        proof = [base64.b64decode(x) for x in doc["hashes"]]
        self.assertTrue(rfc9162.verify_consistency(n, n + 1, old_root, new_root, proof))
        self.__class__.ids.append(v["receipt_id"])

    def test_3b_tiles(self):
        n = len(self.ids)
        self.checkpoint(n)
        entries = self.entries(n)
        st, h, body = self.srv.request("GET", "/ledger/checkpoint")
        self.assertEqual(st, 200)
        self.assertEqual(body, self.srv.request("GET", "/api/ledger/checkpoint")[2])
        st, h, tile = self.srv.request("GET", "/ledger/tile/0/000.p/%d" % n)
        self.assertEqual(st, 200)
        self.assertEqual(tile, b"".join(rfc9162.leaf_hash(e) for e in entries))
        st, h, bundle = self.srv.request("GET", "/ledger/tile/entries/000.p/%d" % n)
        self.assertEqual(st, 200)
        got, off = [], 0
        while off < len(bundle):
            ln = int.from_bytes(bundle[off:off + 2], "big")
            got.append(bundle[off + 2:off + 2 + ln])
            off += 2 + ln
        self.assertEqual(got, entries)
        for path in ("/ledger/tile/0/000", "/ledger/tile/0/000.p/%d" % (n + 1), "/ledger/tile/1/000.p/1",
                     "/ledger/tile/0/x000", "/ledger/tile/0/0000", "/ledger/tile/0/000.p/0", "/ledger/tiles"):
            self.assertEqual(self.srv.request("GET", path)[0], 404, path)

    def run_check(self, db):
        p = subprocess.run([gpserver.SERVER_BIN, "check-ledger", "--db", db, "--ledger-key",
                            os.path.join(self.tmp, "ledger.key"), "--ledger-origin", ORIGIN],
                           capture_output=True, timeout=120 * SLOW)
        return p.returncode, p.stdout.decode() + p.stderr.decode()

    def copy_db(self, name):
        dst = os.path.join(self.tmp, name)
        src = sqlite3.connect(self.srv.db)
        out = sqlite3.connect(dst)
        src.backup(out)
        src.close()
        out.close()
        return dst

    def test_4_check_ledger(self):
        self.assertEqual(self.srv.stop(), 0)
        rc, out = self.run_check(self.srv.db)
        self.assertEqual(rc, 0, out)
        self.assertIn("ok", out)

        # a receipt's outcome edited in its stored bytes
        db = self.copy_db("outcome.db")
        con = sqlite3.connect(db)
        idx, rid = con.execute("SELECT idx, receipt_id FROM ledger_leaves WHERE idx = 2").fetchone()
        raw = con.execute("SELECT raw FROM receipts WHERE id = ?", (rid,)).fetchone()[0]
        tampered = raw.replace(b'"outcome": "passed"', b'"outcome": "failed"', 1)
        self.assertNotEqual(raw, tampered)
        con.execute("UPDATE receipts SET raw = ?, failed = failed + 1, passed = passed - 1 WHERE id = ?", (tampered, rid))
        con.commit()
        con.close()
        rc, out = self.run_check(db)
        self.assertEqual(rc, 1, out)
        self.assertIn("first at index 2", out)

        # only a summary column edited
        db = self.copy_db("column.db")
        con = sqlite3.connect(db)
        rid = con.execute("SELECT receipt_id FROM ledger_leaves WHERE idx = 4").fetchone()[0]
        con.execute("UPDATE receipts SET failed = 0, dirty = 0 WHERE id = ?", (rid,))
        con.execute("UPDATE receipts SET failed = 3 WHERE id = ?", (rid,))
        con.commit()
        con.close()
        rc, out = self.run_check(db)
        self.assertEqual(rc, 1, out)
        self.assertIn("first at index 4", out)

        # a leaf deleted
        db = self.copy_db("deleted.db")
        con = sqlite3.connect(db)
        con.execute("DELETE FROM ledger_leaves WHERE idx = 3")
        con.commit()
        con.close()
        rc, out = self.run_check(db)
        self.assertEqual(rc, 1, out)
        self.assertIn("first at index 3", out)

        # two leaves swapped (all their columns)
        db = self.copy_db("swapped.db")
        con = sqlite3.connect(db)
        a = con.execute("SELECT receipt_id, entry, leaf_hash FROM ledger_leaves WHERE idx = 1").fetchone()
        b = con.execute("SELECT receipt_id, entry, leaf_hash FROM ledger_leaves WHERE idx = 5").fetchone()
        con.execute("UPDATE ledger_leaves SET receipt_id = 'x' WHERE idx = 1")
        con.execute("UPDATE ledger_leaves SET receipt_id = ?, entry = ?, leaf_hash = ? WHERE idx = 5", a)
        con.execute("UPDATE ledger_leaves SET receipt_id = ?, entry = ?, leaf_hash = ? WHERE idx = 1", b)
        con.commit()
        con.close()
        rc, out = self.run_check(db)
        self.assertEqual(rc, 1, out)
        self.assertIn("first at index 1", out)

        # swapped, and the attacker also rewrote every stored hash: the signed checkpoints catch it
        con = sqlite3.connect(db)
        leaves = [r[0] for r in con.execute("SELECT leaf_hash FROM ledger_leaves ORDER BY idx")]
        con.execute("DELETE FROM ledger_nodes")
        level, idx = 0, leaves
        while idx:
            for i, h in enumerate(idx):
                con.execute("INSERT INTO ledger_nodes (level, idx, hash) VALUES (?, ?, ?)", (level, i, h))
            idx = [rfc9162.node_hash(idx[2 * i], idx[2 * i + 1]) for i in range(len(idx) // 2)]
            level += 1
        con.commit()
        con.close()
        rc, out = self.run_check(db)
        self.assertEqual(rc, 1, out)
        self.assertIn("differs from the signed checkpoint", out)

        self.srv.start()  # tearDownClass stops it


if __name__ == "__main__":
    unittest.main(verbosity=2)
