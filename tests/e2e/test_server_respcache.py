#!/usr/bin/python3
"""test_server_respcache.py - GET /api/commits/{sha} answers are cached (server/respcache.c) and
never stale: every commit of the database makes the cached answers stale, whether the write came
from intake or from the background worker; GETs keep the connection alive.
"""
import http.client
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import gpserver  # noqa: E402
from gpserver import KeyServer, Server, Vectors, SLOW  # noqa: E402

gpserver.skip_unless_server()

C1 = "2c6362308d6f0ac578fee055f120fa766638b970"


class RespCacheTest(unittest.TestCase):
    def test_answers_follow_every_commit(self):
        tmp = tempfile.mkdtemp(prefix="gp-respcache-")
        vec = Vectors()
        keys = KeyServer().start()
        srv = Server(tmp, keys.url, args=["--rate-limit", "0"]).start()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30 * SLOW)

            def get(path):
                conn.request("GET", path)
                r = conn.getresponse()
                body = r.read()
                self.assertNotEqual((r.getheader("Connection") or "").lower(), "close", "GET closed the connection")
                return r.status, body

            st, empty = get("/api/commits/" + C1)
            self.assertEqual(st, 200)
            self.assertEqual(json.loads(empty)["receipts"], [])
            self.assertEqual(get("/api/commits/" + C1)[1], empty)          # served again, same bytes
            clean = [v for v in vec.items if v["expect"] == "valid" and v["commit"] == C1
                     and v["tests"]["failed"] == 0 and v["tests"]["skipped"] == 0 and "clean" in v["file"]]
            self.assertGreaterEqual(len(clean), 2)
            seen = []
            for v in clean[:3]:
                st, _, body = srv.post_receipt(vec.raw(v))
                self.assertEqual(st, 201, body)
                seen.append(v["receipt_id"])
                for path in ("/api/commits/" + C1, "/api/commits/" + C1.upper()):
                    st, body = get(path)
                    doc = json.loads(body)
                    self.assertEqual(st, 200)
                    self.assertEqual(doc["commit"], C1)
                    self.assertEqual(sorted(r["id"] for r in doc["receipts"]), sorted(seen), "stale answer")
                    self.assertTrue(doc["validated"])
            # a repo filter is a different question
            st, body = get("/api/commits/" + C1 + "?repo=nobody/nothing")
            self.assertEqual((st, json.loads(body)["receipts"]), (200, []))
            # errors are not cached and stay errors
            self.assertEqual(get("/api/commits/xyz")[0], 400)
            self.assertEqual(get("/api/commits/xyz")[0], 400)
            conn.close()
            self.assertEqual(srv.stop(), 0)
        finally:
            if srv.proc:
                srv.stop()
            keys.stop()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_worker_write_is_seen(self):
        """A pending receipt verified by the background worker (not a request) shows at once."""
        tmp = tempfile.mkdtemp(prefix="gp-respcache2-")
        vec = Vectors()
        keys = KeyServer(mode="down").start()
        srv = Server(tmp, keys.url, args=["--retry-min-ms", "100", "--retry-max-ms", "300",
                                          "--rate-limit", "0"]).start()
        try:
            v = vec.by_name("bob-ecdsa-0-clean")
            st, _, body = srv.post_receipt(vec.raw(v))
            self.assertEqual(st, 202, body)
            st, doc = srv.get_json("/api/commits/" + C1)
            self.assertFalse(doc["validated"])
            st, doc = srv.get_json("/api/commits/" + C1)   # now from the cache
            self.assertFalse(doc["validated"])
            keys.set_mode("ok")
            deadline = time.time() + 20 * SLOW
            while time.time() < deadline:
                st, doc = srv.get_json("/api/commits/" + C1)
                if doc["validated"]:
                    break
                time.sleep(0.1)
            self.assertTrue(doc["validated"], doc)
            self.assertEqual(doc["validated_by"], ["bob"])
            self.assertEqual(srv.stop(), 0)
        finally:
            if srv.proc:
                srv.stop()
            keys.stop()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
