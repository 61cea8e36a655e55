#!/usr/bin/python3
"""test_server_migrate.py - a database written at schema 2 opens at the current schema, losing
nothing (migrations/0003_lean_rows.sql: the canonical column dropped, receipts name their ledger
leaf, ledger_leaves rebuilt without its receipt_id index).

A schema-2 database is built here from migrations/0001 and 0002 and the rows a real server
stored (the vectors, plus one receipt left pending because its signer's keys could not be
fetched), as schema 2 held them (canonical bytes included, receipt_id UNIQUE). The server then
opens it and must: record version 3; answer every receipt's summary exactly as before,
ledger index and entry included; pass check-ledger; append the next receipt at the next index;
verify the pending one into the ledger once its keys can be fetched; and pass check-ledger again.
"""
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
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reliability"))
import gpserver  # noqa: E402
from gpserver import KeyServer, Server, Vectors, SLOW  # noqa: E402
from rtools import canonical  # noqa: E402

gpserver.skip_unless_server()

SRC = os.environ.get("GP_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MIGRATIONS = os.path.join(SRC, "migrations")
ORIGIN = "test.example/gpuproof"
V2_TABLES = ("signer_keys", "ledger_nodes", "checkpoints", "meta", "signer_signing_keys", "github_statuses")


def columns(db, table):
    return [r[1] for r in db.execute("PRAGMA table_info(%s)" % table)]


def build_v2(src_path, dst_path):
    """The schema-2 form of the (current-schema) database at src_path."""
    dst = sqlite3.connect(dst_path)
    dst.execute("PRAGMA journal_mode=WAL")
    for name in ("0001_init.sql", "0002_github.sql"):
        with open(os.path.join(MIGRATIONS, name)) as f:
            dst.executescript(f.read())
    dst.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "applied_at TEXT NOT NULL)")
    dst.executemany("INSERT INTO schema_migrations VALUES (?, ?, '2026-11-01T00:00:00Z')",
                    [(1, "0001_init.sql"), (2, "0002_github.sql")])
    dst.execute("ATTACH DATABASE ? AS cur", ("file:%s?mode=ro" % src_path,))
    rcols = [c for c in columns(dst, "receipts") if c != "canonical"]
    rows = dst.execute("SELECT %s FROM cur.receipts ORDER BY seq" % ", ".join(rcols)).fetchall()
    raw_at = rcols.index("raw")
    for row in rows:
        canon = canonical(json.loads(row[raw_at]))
        dst.execute("INSERT INTO receipts (%s, canonical) VALUES (%s)" % (", ".join(rcols), ", ".join(
            "?" * (len(rcols) + 1))), tuple(row) + (canon,))
    dst.execute("INSERT INTO ledger_leaves SELECT idx, receipt_id, entry, leaf_hash FROM cur.ledger_leaves")
    for t in V2_TABLES:
        cols = ", ".join(columns(dst, t))
        dst.execute("INSERT INTO %s (%s) SELECT %s FROM cur.%s" % (t, cols, cols, t))
    dst.commit()
    dst.execute("DETACH DATABASE cur")
    dst.close()


class MigrateTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gp-migrate-")
        self.keys = KeyServer().start()

    def tearDown(self):
        self.keys.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def check_ledger(self, db):
        p = subprocess.run([gpserver.SERVER_BIN, "check-ledger", "--db", db, "--ledger-origin", ORIGIN],
                           capture_output=True, timeout=120 * SLOW)
        return p.returncode, p.stdout.decode() + p.stderr.decode()

    def test_schema2_database_upgrades(self):
        vec = Vectors()
        valid = [v for v in vec.items if v["expect"] == "valid" and not v["file"].startswith("receipts/variant-")
                 and "erin-" not in v["file"]]
        self.assertGreaterEqual(len(valid), 4)
        first, later = valid[:-1], valid[-1]
        # posted while the key source is down, erin's keys never fetched before: stored pending
        pending = vec.by_name("erin-rsa-0-clean")

        cur_dir = os.path.join(self.tmp, "cur")
        os.makedirs(cur_dir)
        srv = Server(cur_dir, self.keys.url, args=["--rate-limit", "0"])
        with srv:
            for v in first:
                st, _, body = srv.post_receipt(vec.raw(v))
                self.assertEqual(st, 201, (v["file"], body))
            self.keys.set_mode("down")
            st, _, body = srv.post_receipt(vec.raw(pending))
            self.assertEqual(st, 202, body)
            before = {v["receipt_id"]: srv.get_json("/api/receipts/" + v["receipt_id"])[1] for v in first}
            deadline = time.time() + 10 * SLOW
            while time.time() < deadline:  # the checkpoint of every leaf, as check-ledger wants
                st, _, body = srv.request("GET", "/api/ledger/checkpoint")
                if st == 200 and body.decode().split("\n")[1] == str(len(first)):
                    break
                time.sleep(0.1)

        old_dir = os.path.join(self.tmp, "v2")
        os.makedirs(old_dir)
        old = os.path.join(old_dir, "gp.db")
        build_v2(srv.db, old)
        shutil.copy(os.path.join(cur_dir, "ledger.key"), os.path.join(old_dir, "ledger.key"))
        db = sqlite3.connect(old)
        self.assertIn("canonical", columns(db, "receipts"))
        self.assertEqual(db.execute("SELECT max(version) FROM schema_migrations").fetchone()[0], 2)
        db.close()
        rc, out = self.check_ledger(old)  # it reads, never migrates
        self.assertEqual(rc, 2, out)
        self.assertIn("has schema version 2", out)

        self.keys.set_mode("ok")
        srv2 = Server(old_dir, self.keys.url, args=["--rate-limit", "0"], db=old)
        with srv2:
            for rid, doc in before.items():
                st, now = srv2.get_json("/api/receipts/" + rid)
                self.assertEqual(st, 200, rid)
                self.assertEqual(now, doc, "summary of %s changed by the migration" % rid)
            st, _, body = srv2.post_receipt(vec.raw(later))
            self.assertEqual(st, 201, body)
            doc = json.loads(body)
            self.assertEqual(doc["ledger"]["index"], len(first), "the next receipt takes the next leaf")
            st, again = srv2.get_json("/api/receipts/" + later["receipt_id"])
            self.assertEqual(again, doc, "the 201 answer is what GET answers")
            deadline = time.time() + 60 * SLOW
            while time.time() < deadline:
                st, p = srv2.get_json("/api/receipts/" + pending["receipt_id"])
                if p["status"] == "verified":
                    break
                time.sleep(0.2)
            self.assertEqual(p["status"], "verified", "the pending receipt is verified after the migration")
            self.assertEqual(p["ledger"]["index"], len(first) + 1)
        db = sqlite3.connect(old)
        self.assertEqual(db.execute("SELECT max(version) FROM schema_migrations").fetchone()[0], 3)
        self.assertNotIn("canonical", columns(db, "receipts"))
        self.assertEqual(db.execute("SELECT count(*) FROM receipts WHERE status = 'verified' AND "
                                    "leaf_idx IS NULL").fetchone()[0], 0)
        idx = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND "
                                        "tbl_name = 'ledger_leaves'")]
        self.assertEqual(idx, [], "ledger_leaves keeps no index beside its primary key")
        db.close()
        rc, out = self.check_ledger(old)
        self.assertEqual(rc, 0, "check-ledger after the migration: " + out)

        # a leaf that names a receipt whose row names another leaf is reported
        db = sqlite3.connect(old)
        db.execute("UPDATE receipts SET leaf_idx = NULL WHERE leaf_idx = 1")
        db.execute("UPDATE receipts SET leaf_idx = 1 WHERE leaf_idx = 0")
        db.commit()
        db.close()
        rc, out = self.check_ledger(old)
        self.assertEqual(rc, 1, out)
        self.assertIn("which names 1 as its leaf", out)
        self.assertIn("which names no leaf", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
