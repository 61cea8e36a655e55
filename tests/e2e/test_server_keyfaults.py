#!/usr/bin/python3
"""Key source faults (issues 3 and 7): whatever the loopback key server does wrong -- not
answering, 500, 429, garbage, a huge body, answering too slowly -- a POST is answered within a
bounded time with 202 pending, and the receipt turns verified once the source recovers, without
another POST. A stale cached key set is still used when the source is down.
"""
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
sys.path.insert(0, os.path.join(HERE, "..", "reliability"))
import gpserver  # noqa: E402
from gpserver import KeyServer, Server, Vectors, SLOW  # noqa: E402

gpserver.skip_unless_server()

from rtools import KeyDir, Signer  # noqa: E402

CASES = [("down", "alice-ed25519-0-clean"), ("500", "bob-ecdsa-0-clean"), ("429", "carol-rsa-0-clean"),
         ("garbage", "dave-ecdsa-0-clean"), ("huge", "erin-rsa-0-clean"), ("slow", "erin-ed25519-1-clean")]


class KeyFaultTest(unittest.TestCase):
    def test_faults_go_pending_then_verified(self):
        tmp = tempfile.mkdtemp(prefix="gp-faults-")
        vec = Vectors()
        keys = KeyServer(extra=["--slow-seconds", "20"]).start()
        srv = Server(tmp, keys.url, args=["--key-timeout-ms", "1500", "--retry-min-ms", "200",
                                          "--retry-max-ms", "500", "--rate-limit", "0"]).start()
        try:
            for mode, name in CASES:
                keys.set_mode(mode)
                t0 = time.time()
                st, h, body = srv.post_receipt(vec.raw(vec.by_name(name)))
                took = time.time() - t0
                self.assertEqual(st, 202, (mode, body))
                self.assertEqual(json.loads(body)["status"], "pending")
                self.assertLess(took, 5 * SLOW, "%s: intake held the request %.1f s" % (mode, took))
            st, h, m = srv.request("GET", "/metrics")
            self.assertIn('gpuproof_receipts{status="pending"} 6', m.decode())
            keys.set_mode("ok")
            deadline = time.time() + 30 * SLOW
            pending = {vec.by_name(n)["receipt_id"] for _, n in CASES}
            while pending and time.time() < deadline:
                for rid in list(pending):
                    if srv.get_json("/api/receipts/" + rid)[1]["status"] == "verified":
                        pending.discard(rid)
                time.sleep(0.2)
            self.assertEqual(pending, set())
            st, doc = srv.get_json("/api/commits/2c6362308d6f0ac578fee055f120fa766638b970")
            self.assertEqual(doc["validated_by"], ["alice", "bob", "carol", "dave", "erin"])
        finally:
            if srv.proc:
                srv.stop()
            keys.stop()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_stale_cache_used_when_source_down(self):
        tmp = tempfile.mkdtemp(prefix="gp-stale-")
        vec = Vectors()
        keys = KeyServer().start()
        srv = Server(tmp, keys.url, args=["--key-cache-ttl", "0", "--key-timeout-ms", "1500",
                                          "--rate-limit", "0"]).start()
        try:
            st, h, body = srv.post_receipt(vec.raw(vec.by_name("alice-ed25519-0-clean")))
            self.assertEqual(st, 201, body)
            keys.set_mode("down")
            st, h, body = srv.post_receipt(vec.raw(vec.by_name("alice-failed-and-skipped")))
            self.assertEqual(st, 201, body)  # the expired set still verifies
            st, h, body = srv.post_receipt(vec.raw(vec.by_name("mallory-claims-alice")))
            self.assertEqual(st, 422, body)  # stale set fails, the refresh cannot answer... and was just tried
        finally:
            srv.stop()
            keys.stop()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_new_key_refreshes_the_cache_once(self):
        def receipt(signer, run):
            doc = json.loads(vec.raw(vec.by_name("alice-ed25519-0-clean")))
            doc["environment"]["run"] = run
            return signer.sign(doc, indent=False)

        tmp = tempfile.mkdtemp(prefix="gp-refresh-")
        vec = Vectors()
        k1, k2, ghost = Signer("zed"), Signer("zed"), Signer("ghost")  # zed's key, then a second one
        keys_dir = KeyDir(os.path.join(tmp, "keys"), [k1]).path
        keys = KeyServer(keys_dir=keys_dir).start()
        srv = Server(tmp, keys.url, args=["--key-cache-ttl", "3600", "--rate-limit", "0"]).start()
        try:
            self.assertEqual(srv.post_receipt(receipt(k1, 1))[0], 201)
            with open(os.path.join(keys_dir, "zed.keys"), "w") as f:
                f.write(k1.line + "\n" + k2.line + "\n")
            time.sleep(5.5)  # a refresh is asked for at most every 5 s per login
            st, h, body = srv.post_receipt(receipt(k2, 2))
            self.assertEqual(st, 201, body)
            st, h, body = srv.post_receipt(receipt(Signer("zed"), 3))  # a key zed never published
            self.assertEqual(st, 422, body)
            st, h, body = srv.post_receipt(receipt(ghost, 4))  # no ghost.keys: 404
            self.assertEqual(st, 422, body)
            self.assertIn("publishes no keys", json.loads(body)["detail"])
            # the refreshed set was written through to SQLite: after a restart, with the source
            # down, it still verifies k2 (and still knows ghost publishes none)
            srv.stop()
            keys.set_mode("down")
            srv.start()
            st, h, body = srv.post_receipt(receipt(k2, 5))
            self.assertEqual(st, 201, body)
            st, h, body = srv.post_receipt(receipt(ghost, 6))
            self.assertEqual(st, 422, body)
            # stored before: 200 with the stored summary, nothing stored twice
            st, h, body = srv.post_receipt(receipt(k2, 2))
            self.assertEqual(st, 200, body)
            self.assertEqual(json.loads(body)["ledger"]["index"], 1)
        finally:
            srv.stop()
            keys.stop()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
