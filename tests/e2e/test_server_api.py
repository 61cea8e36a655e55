#!/usr/bin/python3
"""End-to-end tests of gpuproof-server's intake and JSON API (issue 3, api.md).

Starts the real binary on a free loopback port with a fresh database and the loopback key server
(tests/tools/keyserver.py), POSTs every vector of the manifest and checks each status of api.md's
table, the summaries, the commit question for both commits of the bundle, the browsing routes,
the limits (413, 415, 411, 405, 429), the pending path (key source down -> 202 -> verified
without another POST) and a restart on the same database (/raw byte-identical).
"""
import base64
import hashlib
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import gpserver  # noqa: E402
from gpserver import KeyServer, Server, Vectors, SLOW  # noqa: E402

gpserver.skip_unless_server()

C1 = "2c6362308d6f0ac578fee055f120fa766638b970"
C2 = "67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0"
VALID_SIGNERS = ["alice", "bob", "carol", "dave", "erin"]


def published_keys():
    """login -> {fingerprint: type} from the vectors' github/*.keys."""
    out = {}
    d = os.path.join(gpserver.VECTORS, "github")
    for fn in os.listdir(d):
        login = fn[:-5]
        out[login] = {}
        with open(os.path.join(d, fn)) as f:
            for line in f:
                parts = line.split()
                if len(parts) < 2:
                    continue
                blob = base64.b64decode(parts[1])
                fp = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
                out[login][fp] = parts[0]
    return out


def wait_for(pred, timeout):
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return pred()


class ServerAPITest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gp-api-")
        cls.vec = Vectors()
        cls.keys = KeyServer().start()
        cls.srv = Server(cls.tmp, cls.keys.url, args=["--retry-min-ms", "100", "--rate-limit", "0"]).start()
        cls.posted = {}  # id -> raw bytes first posted
        cls.seen_ids = set()
        cls.results = []
        for v in cls.vec.items:
            raw = cls.vec.raw(v)
            status, headers, body = cls.srv.post_receipt(raw)
            again = cls.srv.post_receipt(raw) if status in (200, 201) else None
            cls.results.append((v, status, headers, body, again))
            rid = v.get("receipt_id")
            if status == 201:
                cls.posted[rid] = raw

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.srv.proc:
                cls.srv.stop()
        finally:
            cls.keys.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_01_every_vector_gets_its_status(self):
        first = set()
        keys = published_keys()
        for v, status, headers, body, again in self.results:
            name = v["file"]
            exp = v["expect"]
            if exp == "valid":
                rid = v["receipt_id"]
                want = 200 if rid in first else 201
                first.add(rid)
                self.assertEqual(status, want, (name, body))
                if want == 201:
                    self.assertEqual(headers.get("location"), "/api/receipts/" + rid)
                doc = json.loads(body)
                self.assertEqual(doc["id"], rid)
                self.assertEqual(doc["status"], "verified", name)
                self.assertEqual(doc["signer"], v["signer"])
                self.assertEqual(doc["commit"], v["commit"])
                self.assertEqual(doc["repo"], "alice/gpukernels")
                self.assertIn(doc["key_fingerprint"], keys[v["signer"]], name)
                self.assertEqual(doc["key_type"], keys[v["signer"]][doc["key_fingerprint"]])
                self.assertEqual(doc["counts"]["passed"], v["tests"]["passed"])
                self.assertEqual(doc["counts"]["total"], sum(v["tests"].values()))
                self.assertEqual(doc["url"], "/receipts/" + rid)
                self.assertIsInstance(doc["ledger"]["index"], int)
                self.assertEqual(json.loads(doc["ledger"]["entry"])["receipt"], rid)
                self.assertEqual(again[0], 200, name)
                self.assertEqual(json.loads(again[2]), doc)
            elif exp in ("invalid_signature", "unsigned"):
                self.assertEqual(status, 422, (name, body))
            elif exp == "bad_request":
                self.assertEqual(status, 400, (name, body))
            else:
                self.fail("unknown expectation " + exp)
            if status >= 400:
                self.assertEqual(headers["content-type"], "application/problem+json", name)
                p = json.loads(body)
                self.assertEqual(p["status"], status)
                for k in ("type", "title", "detail"):
                    self.assertTrue(p.get(k), (name, p))

    def test_02_invalid_and_unsigned_are_not_stored(self):
        for v, status, headers, body, again in self.results:
            if v["expect"] in ("invalid_signature", "unsigned") and v.get("receipt_id"):
                st, doc = self.srv.get_json("/api/receipts/" + v["receipt_id"])
                self.assertEqual(st, 404, v["file"])

    def test_03_commit_validated_by_every_valid_signer(self):
        st, doc = self.srv.get_json("/api/commits/" + C1)
        self.assertEqual(st, 200)
        self.assertTrue(doc["validated"])
        self.assertEqual(doc["validated_by"], VALID_SIGNERS)
        self.assertEqual(doc["commit"], C1)
        received = [r["received_at"] for r in doc["receipts"]]
        self.assertEqual(received, sorted(received, reverse=True))
        self.assertEqual(len(doc["receipts"]), 6)
        for r in doc["receipts"]:
            self.assertTrue(r["validates"], r)
            self.assertEqual(r["reasons"], [])
        st2, upper = self.srv.get_json("/api/commits/" + C1.upper())
        self.assertEqual(st2, 200)
        self.assertEqual(upper["validated_by"], VALID_SIGNERS)
        st3, scoped = self.srv.get_json("/api/commits/" + C1 + "?repo=alice/gpukernels")
        self.assertEqual(scoped["validated_by"], VALID_SIGNERS)
        st4, other = self.srv.get_json("/api/commits/" + C1 + "?repo=bob/other")
        self.assertEqual((st4, other["validated"], other["receipts"]), (200, False, []))

    def test_04_failed_skipped_dirty_commit_not_validated(self):
        st, doc = self.srv.get_json("/api/commits/" + C2)
        self.assertEqual(st, 200)
        self.assertFalse(doc["validated"])
        self.assertEqual(doc["validated_by"], [])
        self.assertEqual(len(doc["receipts"]), 2)
        reasons = " | ".join(r for rec in doc["receipts"] for r in rec["reasons"])
        self.assertIn("1 test failed: tests/test_kern.py::test_broken", reasons)
        self.assertIn("1 test skipped", reasons)
        self.assertIn("dirty", reasons)
        for rec in doc["receipts"]:
            self.assertEqual(rec["status"], "verified")
            self.assertFalse(rec["validates"])

    def test_05_commit_argument_checks(self):
        for bad in ("abc", C1[:39], C1 + "0", "g" * 40, "../" + C1):
            st, headers, body = self.srv.request("GET", "/api/commits/" + bad)
            self.assertEqual(st, 400 if "/" not in bad[:3] else st, bad)
            if "/" not in bad:
                self.assertEqual(st, 400, bad)
                self.assertEqual(headers["content-type"], "application/problem+json")
        st, doc = self.srv.get_json("/api/commits/" + "ab" * 32)
        self.assertEqual((st, doc["validated"], doc["receipts"]), (200, False, []))
        st, _, _ = self.srv.request("GET", "/api/commits/" + C1 + "?repo=not-a-repo")
        self.assertEqual(st, 400)

    def test_06_receipt_routes(self):
        rid = self.vec.by_name("alice-ed25519-0-clean")["receipt_id"]
        st, doc = self.srv.get_json("/api/receipts/" + rid)
        self.assertEqual(st, 200)
        for k in ("id", "status", "repo", "commit", "branch", "signer", "key_fingerprint", "key_type", "mode",
                  "dirty", "started_at", "ended_at", "received_at", "counts", "gpus", "validates", "reasons",
                  "ledger", "url"):
            self.assertIn(k, doc)
        self.assertEqual(doc["gpus"], [])
        st, headers, raw = self.srv.request("GET", "/api/receipts/" + rid + "/raw")
        self.assertEqual(st, 200)
        self.assertEqual(raw, self.posted[rid])
        self.assertTrue(headers["content-type"].startswith("application/json"))
        self.assertEqual(self.srv.request("GET", "/api/receipts/" + "0" * 64)[0], 404)
        self.assertEqual(self.srv.request("GET", "/api/receipts/nothex")[0], 404)
        self.assertEqual(self.srv.request("GET", "/api/receipts/" + "0" * 64 + "/raw")[0], 404)

    def test_07_browsing(self):
        st, doc = self.srv.get_json("/api/repos")
        self.assertEqual(st, 200)
        self.assertEqual([r["repo"] for r in doc["repos"]], ["alice/gpukernels"])
        self.assertEqual(doc["repos"][0]["commits"], 2)
        st, page1 = self.srv.get_json("/api/repos/alice/gpukernels/commits?limit=1")
        self.assertEqual(st, 200)
        self.assertEqual(len(page1["commits"]), 1)
        self.assertIsNotNone(page1["next_cursor"])
        st, page2 = self.srv.get_json("/api/repos/alice/gpukernels/commits?limit=1&cursor=" + page1["next_cursor"])
        self.assertEqual(st, 200)
        self.assertEqual(len(page2["commits"]), 1)
        self.assertIsNone(page2["next_cursor"])
        states = {c["commit"]: c for c in page1["commits"] + page2["commits"]}
        self.assertEqual(states[C1]["state"], "validated")
        self.assertEqual(states[C1]["validated_by"], VALID_SIGNERS)
        self.assertEqual(states[C2]["state"], "failed")
        st, _, _ = self.srv.request("GET", "/api/repos/alice/gpukernels/commits?limit=0")
        self.assertEqual(st, 400)
        st, _, _ = self.srv.request("GET", "/api/repos/alice/gpukernels/commits?cursor=zzz")
        self.assertEqual(st, 400)
        st, doc = self.srv.get_json("/api/signers/erin")
        self.assertEqual(st, 200)
        self.assertEqual(len(doc["receipts"]), 2)
        self.assertEqual(self.srv.request("GET", "/api/signers/-bad-")[0], 400)
        st, doc = self.srv.get_json("/api/signers/nobody")
        self.assertEqual((st, doc["receipts"]), (200, []))
        # the latest receipts, newest received first, as the dashboard refreshes them
        st, doc = self.srv.get_json("/api/receipts?limit=3")
        self.assertEqual(st, 200)
        self.assertEqual(len(doc["receipts"]), 3)
        received = [r["received_at"] for r in doc["receipts"]]
        self.assertEqual(received, sorted(received, reverse=True))
        self.assertEqual(self.srv.request("GET", "/api/receipts?limit=0")[0], 400)
        self.assertEqual(self.srv.request("GET", "/api/receipts?limit=x")[0], 400)
        st, hdrs, _ = self.srv.request("PUT", "/api/receipts")
        self.assertEqual(st, 405)

    def test_08_limits(self):
        # 415 before the size, 413, 411, 405
        st, h, body = self.srv.post_receipt(b"{}", ctype="text/plain")
        self.assertEqual(st, 415)
        # a declared length over the limit is refused before the body is read; 415 comes first
        for ctype, want in ((b"text/plain", b" 415 "), (b"application/json", b" 413 ")):
            s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=20 * SLOW)
            s.sendall(b"POST /api/receipts HTTP/1.1\r\nHost: x\r\nContent-Type: " + ctype +
                      b"\r\nContent-Length: %d\r\n\r\n" % (3 << 20))
            got = s.recv(4096)
            s.close()
            self.assertIn(want, got.split(b"\r\n")[0])
            self.assertIn(b"application/problem+json", got)
        st, h, body = self.srv.post_receipt(b"{}", ctype="application/json; charset=utf-8")
        self.assertEqual(st, 400)
        # chunked over the limit
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=20 * SLOW)
        s.sendall(b"POST /api/receipts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
        try:
            for _ in range(20):
                s.sendall(chunk)
            s.sendall(b"0\r\n\r\n")
        except OSError:
            pass
        got = s.recv(4096)
        s.close()
        self.assertIn(b" 413 ", got.split(b"\r\n")[0])
        # 411: no length, not chunked
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=20 * SLOW)
        s.sendall(b"POST /api/receipts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
        got = s.recv(4096)
        s.close()
        self.assertIn(b" 411 ", got.split(b"\r\n")[0])
        st, h, body = self.srv.request("PUT", "/api/receipts", body=b"{}")
        self.assertEqual(st, 405)
        self.assertEqual(h["allow"], "GET, HEAD, POST")
        st, h, body = self.srv.request("DELETE", "/api/commits/" + C1)
        self.assertEqual(st, 405)
        self.assertIn("GET", h["allow"])
        self.assertEqual(self.srv.request("GET", "/api/nothing")[0], 404)

    def test_09_operations(self):
        st, doc = self.srv.get_json("/healthz")
        self.assertEqual((st, doc["status"]), (200, "ok"))
        st, h, body = self.srv.request("GET", "/metrics")
        self.assertEqual(st, 200)
        text = body.decode()
        self.assertIn('gpuproof_http_requests_total{route="post_receipts",status="201"}', text)
        self.assertIn("gpuproof_http_request_duration_seconds_bucket", text)
        self.assertIn('gpuproof_receipts{status="verified"} 8', text)
        self.assertIn("gpuproof_ledger_size 8", text)
        self.assertIn('gpuproof_key_fetches_total{result="ok"}', text)
        log = self.srv.log()
        lines = [json.loads(l) for l in log.splitlines() if l.startswith('{"time"')]
        self.assertTrue(lines)
        for k in ("method", "path", "status", "duration_ms", "bytes", "client"):
            self.assertIn(k, lines[0])

    def test_10_restart_keeps_everything(self):
        before = {rid: self.srv.get_json("/api/receipts/" + rid)[1] for rid in self.posted}
        st, commit_before = self.srv.get_json("/api/commits/" + C1)
        self.assertEqual(self.srv.stop(), 0)
        self.srv.start()
        for rid, raw in self.posted.items():
            st, doc = self.srv.get_json("/api/receipts/" + rid)
            self.assertEqual(st, 200)
            self.assertEqual(doc, before[rid])
            st, h, got = self.srv.request("GET", "/api/receipts/" + rid + "/raw")
            self.assertEqual(got, raw)
        st, commit_after = self.srv.get_json("/api/commits/" + C1)
        self.assertEqual(commit_after, commit_before)


class PendingTest(unittest.TestCase):
    """Key source down -> 202 pending -> key source back -> verified without another POST."""

    def test_pending_then_verified(self):
        tmp = tempfile.mkdtemp(prefix="gp-pending-")
        vec = Vectors()
        keys = KeyServer(mode="down").start()
        srv = Server(tmp, keys.url, args=["--retry-min-ms", "100", "--retry-max-ms", "400"]).start()
        try:
            v = vec.by_name("bob-ecdsa-0-clean")
            bad = vec.by_name("mallory-claims-alice")
            st, h, body = srv.post_receipt(vec.raw(v))
            self.assertEqual(st, 202, body)
            doc = json.loads(body)
            self.assertEqual(doc["status"], "pending")
            self.assertFalse(doc["validates"])
            self.assertIsNone(doc["ledger"])
            st, h, body = srv.post_receipt(vec.raw(bad))
            self.assertEqual(st, 202, body)
            st, h, body = srv.post_receipt(vec.raw(v))
            self.assertEqual(st, 200)
            self.assertEqual(json.loads(body)["status"], "pending")
            st, c = srv.get_json("/api/commits/" + C1)
            self.assertFalse(c["validated"])
            time.sleep(0.5)
            keys.set_mode("500")
            time.sleep(0.5)
            keys.set_mode("ok")
            doc = wait_for(lambda: (lambda d: d if d["status"] != "pending" else None)(
                srv.get_json("/api/receipts/" + v["receipt_id"])[1]), 20)
            self.assertEqual(doc["status"], "verified")
            self.assertTrue(doc["validates"])
            self.assertEqual(doc["ledger"]["index"], 0)
            doc = wait_for(lambda: (lambda d: d if d["status"] != "pending" else None)(
                srv.get_json("/api/receipts/" + bad["receipt_id"])[1]), 20)
            self.assertEqual(doc["status"], "rejected")
            self.assertFalse(doc["validates"])
            self.assertIsNone(doc["ledger"])
            st, c = srv.get_json("/api/commits/" + C1)
            self.assertEqual(c["validated_by"], ["bob"])
            self.assertEqual(srv.stop(), 0)
        finally:
            if srv.proc:
                srv.stop()
            keys.stop()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_pending_survives_restart(self):
        tmp = tempfile.mkdtemp(prefix="gp-pending2-")
        vec = Vectors()
        keys = KeyServer(mode="down").start()
        srv = Server(tmp, keys.url, args=["--retry-min-ms", "100", "--retry-max-ms", "300"]).start()
        try:
            v = vec.by_name("carol-rsa-0-clean")
            st, h, body = srv.post_receipt(vec.raw(v))
            self.assertEqual(st, 202)
            self.assertEqual(srv.stop(), 0)
            keys.set_mode("ok")
            srv.start()
            doc = wait_for(lambda: (lambda d: d if d["status"] == "verified" else None)(
                srv.get_json("/api/receipts/" + v["receipt_id"])[1]), 20)
            self.assertEqual(doc["status"], "verified")
            self.assertEqual(doc["key_type"], "ssh-rsa")
        finally:
            if srv.proc:
                srv.stop()
            keys.stop()
            shutil.rmtree(tmp, ignore_errors=True)


class LimitsTest(unittest.TestCase):
    def test_rate_limit_429(self):
        tmp = tempfile.mkdtemp(prefix="gp-rate-")
        keys = KeyServer().start()
        srv = Server(tmp, keys.url, args=["--rate-limit", "0.5/3"]).start()
        try:
            statuses = [srv.request("GET", "/api/repos")[:2] for _ in range(6)]
            codes = [s for s, h in statuses]
            self.assertEqual(codes[:3], [200, 200, 200])
            self.assertIn(429, codes)
            h = [h for s, h in statuses if s == 429][0]
            self.assertGreaterEqual(int(h["retry-after"]), 1)
            self.assertEqual(h["content-type"], "application/problem+json")
            self.assertEqual(srv.request("GET", "/healthz")[0], 200)  # operations are not limited
        finally:
            srv.stop()
            keys.stop()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_rate_limit_per_client_behind_trusted_proxy(self):
        """--trusted-proxy: the client is X-Forwarded-For's rightmost untrusted address."""
        tmp = tempfile.mkdtemp(prefix="gp-proxy-")
        keys = KeyServer().start()
        srv = Server(tmp, keys.url, args=["--rate-limit", "0.5/2", "--trusted-proxy", "10.9.9.9, 127.0.0.1"]).start()

        def get(xff):
            return srv.request("GET", "/api/repos", headers={"X-Forwarded-For": xff} if xff else None)[0]
        try:
            # two clients behind the proxy each get their own bucket of 2
            self.assertEqual([get("203.0.113.5"), get("203.0.113.5"), get("203.0.113.5")], [200, 200, 429])
            self.assertEqual([get("198.51.100.7"), get("2001:db8::1")], [200, 200])
            # what a client writes on the left does not choose its bucket; a trusted hop is skipped
            self.assertEqual(get("1.2.3.4, 203.0.113.5"), 429)
            self.assertEqual(get("203.0.113.5, 10.9.9.9"), 429)
            # not an address: the peer (the proxy itself) is the client
            self.assertEqual([get("unknown"), get("bad, 203.0.113.9<"), get(None)], [200, 200, 429])
            log = srv.log()
            self.assertIn('"client":"203.0.113.5"', log.replace(" ", ""))
        finally:
            srv.stop()
            keys.stop()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_policy_403_and_reasons(self):
        tmp = tempfile.mkdtemp(prefix="gp-policy-")
        pol = os.path.join(tmp, "policy.json")
        with open(pol, "w") as f:
            json.dump({"accept_unknown_repos": False,
                       "defaults": {"require_gpu": True},
                       "repos": {"alice/gpukernels": {"allowed_signers": ["alice", "bob"],
                                                      "allowed_modes": ["ci-gpu"]}}}, f)
        vec = Vectors()
        keys = KeyServer().start()
        srv = Server(tmp, keys.url, args=["--policy", pol]).start()
        try:
            st, h, body = srv.post_receipt(vec.raw(vec.by_name("carol-rsa-0-clean")))
            self.assertEqual(st, 403, body)
            self.assertIn("carol", json.loads(body)["detail"])
            st, h, body = srv.post_receipt(vec.raw(vec.by_name("alice-ed25519-0-clean")))
            self.assertEqual(st, 201, body)
            doc = json.loads(body)
            self.assertFalse(doc["validates"])
            self.assertIn("no GPU information", doc["reasons"])
            self.assertTrue(any("mode" in r for r in doc["reasons"]), doc["reasons"])
            srv.stop()
            # an unknown key in the policy is a startup error
            with open(pol, "w") as f:
                json.dump({"defaults": {"allow_dirt": True}}, f)
            bad = Server(tmp, keys.url, args=["--policy", pol])
            with self.assertRaises(RuntimeError):
                bad.start()
            self.assertIn("allow_dirt", bad.log())
            bad.proc.wait(10)
            bad.proc.stdout.close()
            bad.errf.close()
            # a changed policy re-evaluates stored receipts
            with open(pol, "w") as f:
                json.dump({"defaults": {}}, f)
            srv.start()
            st, doc = srv.get_json("/api/commits/" + C1)
            self.assertEqual(doc["validated_by"], ["alice"])
        finally:
            if srv.proc:
                srv.stop()
            keys.stop()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_policy_settings_reasons(self):
        tmp = tempfile.mkdtemp(prefix="gp-policy2-")
        pol = os.path.join(tmp, "policy.json")
        hop, broken, missing = ("tests/test_kern.py::test_hopper_only", "tests/test_kern.py::test_broken",
                                "tests/test_kern.py::test_missing")
        with open(pol, "w") as f:
            json.dump({"repos": {"alice/gpukernels": {"expected_skips": [hop], "allow_dirty": True,
                                                      "required_node_ids": [broken, missing]}}}, f)
        vec = Vectors()
        keys = KeyServer().start()
        srv = Server(tmp, keys.url, args=["--policy", pol]).start()
        try:
            def reasons(name):
                st, h, body = srv.post_receipt(vec.raw(vec.by_name(name)))
                self.assertEqual(st, 201, body)
                return json.loads(body)["reasons"]
            r = reasons("alice-failed-and-skipped")
            self.assertIn("1 test failed: " + broken, r)
            self.assertIn("required test %s did not pass (failed)" % broken, r)
            self.assertIn("required test %s did not run" % missing, r)
            self.assertFalse(any("skip" in x for x in r), r)
            self.assertFalse(any("dirty" in x for x in r), r)
            r = reasons("alice-dirty")
            self.assertFalse(any("dirty" in x for x in r), r)
            r = reasons("alice-ed25519-0-clean")
            self.assertIn("expected skip %s was not skipped" % hop, r)
        finally:
            srv.stop()
            keys.stop()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_newer_database_refused(self):
        import sqlite3
        tmp = tempfile.mkdtemp(prefix="gp-newer-")
        keys = KeyServer().start()
        srv = Server(tmp, keys.url).start()
        srv.stop()
        con = sqlite3.connect(srv.db)
        con.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 'x')")
        con.commit()
        con.close()
        try:
            with self.assertRaises(RuntimeError):
                srv.start()
            self.assertIn("newer", srv.log())
            srv.proc.wait(10)
            srv.proc.stdout.close()
            srv.errf.close()
            srv.proc = None
        finally:
            keys.stop()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
