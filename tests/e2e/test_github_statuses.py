#!/usr/bin/python3
"""GitHub commit statuses (issue 9), against the loopback fakegithub.py, which records the posts.

- validate / fail: the clean commit gets success "GPU-validated by alice" (then "..., bob"), the
  commit with a failing run failure "Not GPU-validated: 1 test failed in alice's run"; context
  gpu-proof, target_url the audit page under --public-url; the token is sent as Bearer.
- pending: the key server down -> pending "Receipt pending verification", and success once the
  key server is back, without another POST.
- a failing API (500 twice) is retried and the status eventually recorded.
- the outbox survives a restart, and only the latest state per commit is sent (coalesced).
- a policy change that re-evaluates receipts at start queues the statuses it changes.
- a 4xx other than 429 is given up after a few tries (logged); a 429's Retry-After is waited.
- the token never appears in the logs; a token file others can read is refused at start.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import gpserver  # noqa: E402
from gpserver import KeyServer, Server, Vectors, SLOW  # noqa: E402
from fakegithub import FakeGitHub  # noqa: E402

gpserver.skip_unless_server()

TOKEN = "ghp_statusTestTokenABCDEF0123456789xyz"
CLEAN = "2c6362308d6f0ac578fee055f120fa766638b970"
FAILING = "67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0"
REPO = "alice/gpukernels"
PUBLIC = "https://gpuproof.example.org/"


class StatusTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gp-status-")
        self.vec = Vectors()
        self.token_file = os.path.join(self.tmp, "token")
        with open(self.token_file, "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(self.token_file, 0o600)
        self.keys = KeyServer().start()
        self.gh = FakeGitHub().start()
        self.srv = None

    def tearDown(self):
        try:
            if self.srv and self.srv.proc:
                self.srv.stop()
        finally:
            self.keys.stop()
            self.gh.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, extra=()):
        self.srv = Server(self.tmp, self.keys.url,
                          args=["--rate-limit", "0", "--github-api-url", self.gh.url,
                                "--github-token-file", self.token_file, "--public-url", PUBLIC,
                                "--retry-min-ms", "150", "--retry-max-ms", "400"] + list(extra))
        return self.srv.start()

    def post(self, name, expect):
        st, h, body = self.srv.post_receipt(self.vec.raw(self.vec.by_name(name)))
        self.assertEqual(st, expect, body)
        return json.loads(body)

    def wait_status(self, sha, state, description=None, timeout=15):
        """Waits until the latest recorded post for sha has this state; returns it."""
        deadline = time.time() + timeout * SLOW
        last = None
        while time.time() < deadline:
            posts = [p for p in self.gh.statuses() if p["sha"] == sha]
            last = posts[-1] if posts else None
            if last and last["state"] == state and (description is None or last["description"] == description):
                return last
            time.sleep(0.1)
        self.fail("no %s status for %s (last: %r)" % (state, sha, last))

    def check_common(self, post, sha):
        self.assertEqual(post["repo"], REPO)
        self.assertEqual(post["context"], "gpu-proof")
        self.assertEqual(post["target_url"], "https://gpuproof.example.org/commits/" + sha)
        self.assertEqual(post["authorization"], "Bearer " + TOKEN)
        self.assertLessEqual(len(post["description"].encode()), 140)

    def logs(self):
        out = ""
        for name in os.listdir(self.tmp):
            if name.startswith("server-") and name.endswith(".log"):
                with open(os.path.join(self.tmp, name), errors="replace") as f:
                    out += f.read()
        return out

    def test_transitions(self):
        self.start()
        self.post("alice-ed25519-0-clean", 201)
        p = self.wait_status(CLEAN, "success", "GPU-validated by alice")
        self.check_common(p, CLEAN)
        self.post("bob-ecdsa-0-clean", 201)
        p = self.wait_status(CLEAN, "success", "GPU-validated by alice, bob")
        self.check_common(p, CLEAN)
        self.post("alice-failed-and-skipped", 201)
        p = self.wait_status(FAILING, "failure", "Not GPU-validated: 1 test failed in alice's run")
        self.check_common(p, FAILING)
        # resubmitting (200) and a rejected receipt (422) change no state: nothing more is posted
        self.post("alice-ed25519-0-clean", 200)
        self.post("mallory-claims-alice", 422)
        time.sleep(1.0 * SLOW)
        states = [(p["sha"], p["state"], p["description"]) for p in self.gh.statuses()]
        self.assertEqual(states, [(CLEAN, "success", "GPU-validated by alice"),
                                  (CLEAN, "success", "GPU-validated by alice, bob"),
                                  (FAILING, "failure", "Not GPU-validated: 1 test failed in alice's run")])
        self.srv.stop()
        self.assertNotIn(TOKEN, self.logs())

    def test_pending_then_success_with_failing_api(self):
        self.start()
        self.keys.set_mode("down")
        doc = self.post("carol-rsa-0-clean", 202)
        self.assertEqual(doc["status"], "pending")
        p = self.wait_status(CLEAN, "pending", "Receipt pending verification")
        self.check_common(p, CLEAN)
        # the API fails the next two posts with 500; the success is retried until it lands
        self.gh.control("fail/2/500")
        self.keys.set_mode("ok")
        p = self.wait_status(CLEAN, "success", "GPU-validated by carol", timeout=30)
        self.check_common(p, CLEAN)
        posts = [r for r in self.gh.requests() if r["method"] == "POST"]
        self.assertEqual([r["answered"] for r in posts], [201, 500, 500, 201])
        self.assertTrue(all(json.loads(r["body"])["state"] == s
                            for r, s in zip(posts, ["pending", "success", "success", "success"])))
        self.srv.stop()
        log = self.logs()
        self.assertIn("not delivered", log)
        self.assertNotIn(TOKEN, log)

    def test_outbox_survives_restart_and_coalesces(self):
        self.gh.control("mode/down")
        self.start()
        self.keys.set_mode("down")
        self.post("dave-ecdsa-0-clean", 202)  # pending ...
        time.sleep(0.5 * SLOW)
        self.keys.set_mode("ok")
        deadline = time.time() + 20 * SLOW
        while self.srv.get_json("/api/commits/" + CLEAN)[1]["validated_by"] != ["dave"]:
            self.assertLess(time.time(), deadline, "dave's receipt was not verified")
            time.sleep(0.1)
        self.srv.stop()  # ... then verified, while GitHub could not be reached
        self.assertEqual(self.gh.statuses(), [])
        self.gh.control("mode/ok")
        self.start()
        p = self.wait_status(CLEAN, "success", "GPU-validated by dave")
        self.check_common(p, CLEAN)
        time.sleep(0.5 * SLOW)
        # only the latest state was delivered: the pending one was replaced before it got out
        self.assertEqual([(p["sha"], p["state"]) for p in self.gh.statuses()], [(CLEAN, "success")])

    def test_policy_change_queues_statuses(self):
        self.start()
        self.post("alice-ed25519-0-clean", 201)
        self.wait_status(CLEAN, "success", "GPU-validated by alice")
        self.srv.stop()
        policy = os.path.join(self.tmp, "policy.json")
        with open(policy, "w") as f:
            json.dump({"repos": {REPO: {"allowed_signers": ["bob"]}}}, f)
        self.start(["--policy", policy])  # re-evaluated at start: alice no longer validates
        p = self.wait_status(CLEAN, "failure")
        self.assertEqual(p["description"],
                         "Not GPU-validated: signer alice is not allowed for alice/gpukernels (alice's run)")
        self.check_common(p, CLEAN)

    def test_4xx_given_up(self):
        self.start()
        self.gh.control("fail/10/422")
        self.post("erin-rsa-0-clean", 201)
        deadline = time.time() + 20 * SLOW
        while "given up" not in self.srv.log():
            self.assertLess(time.time(), deadline, "a 422 was not given up: " + self.srv.log()[-2000:])
            time.sleep(0.1)
        n = len([r for r in self.gh.requests() if r["method"] == "POST"])
        self.assertEqual(n, 3)
        time.sleep(1.0 * SLOW)
        self.assertEqual(len([r for r in self.gh.requests() if r["method"] == "POST"]), 3)
        self.assertEqual(self.gh.statuses(), [])

    def test_429_retry_after_honoured(self):
        # --retry-min-ms is 150: without Retry-After (1 s on the fake's 429) it would come back sooner
        self.start()
        self.post("alice-ed25519-0-clean", 201)  # alice's keys fetched (the 429 must hit a POST)
        self.wait_status(CLEAN, "success", "GPU-validated by alice")
        self.gh.control("fail/1/429")
        self.post("alice-failed-and-skipped", 201)
        self.wait_status(FAILING, "failure")
        posts = [r for r in self.gh.requests() if r["method"] == "POST" and r["path"].endswith(FAILING)]
        self.assertEqual([r["answered"] for r in posts], [429, 201])
        self.assertGreaterEqual(posts[1]["at"] - posts[0]["at"], 0.95)

    def test_token_file_mode_checked(self):
        os.chmod(self.token_file, 0o644)
        r = subprocess.run([gpserver.SERVER_BIN, "--listen", "127.0.0.1:0", "--db",
                            os.path.join(self.tmp, "x.db"), "--github-api-url", self.gh.url,
                            "--github-token-file", self.token_file],
                           capture_output=True, timeout=60 * SLOW)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"chmod 600", r.stderr)
        self.assertNotIn(TOKEN.encode(), r.stdout + r.stderr)
        h = subprocess.run([gpserver.SERVER_BIN, "--help"], capture_output=True, timeout=30)
        for flag in (b"--github-api-url", b"--github-token-file", b"--public-url"):
            self.assertIn(flag, h.stdout)


if __name__ == "__main__":
    unittest.main()
