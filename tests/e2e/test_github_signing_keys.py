#!/usr/bin/python3
"""GitHub signing keys (issue 9): with --github-api-url the server also reads the keys a user
registered for signing (GET /users/{login}/ssh_signing_keys on the loopback fakegithub.py).

- alice publishes no .keys at all and registers her key only for signing: her receipt verifies;
  without --github-api-url the same receipt is refused (so the API is what made the difference).
- erin's .keys hold only her RSA key, her ed25519 key is a signing key: both her receipts verify.
- the API down (500 / connection closed) does not break .keys verification: bob's receipt is
  verified at once (201, not pending); alice's (signing key only) waits as pending and turns
  verified when the API comes back.
- the token from --github-token-file is sent as Bearer to the API.
- `gpuproof-cli verify --github-api-url` reads the same union of keys ($GITHUB_TOKEN as Bearer);
  with the API down, .keys still verify and a receipt only a signing key could verify is exit 2.
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
from gpserver import KeyServer, Server, Vectors, SLOW, VECTORS  # noqa: E402
from fakegithub import FakeGitHub  # noqa: E402

gpserver.skip_unless_server()

TOKEN = "ghs_signingKeysTestToken0123456789"


def split_keys(tmp):
    """keys/ (.keys files) and signing/ (signing keys) directories for the fakes."""
    keys, signing = os.path.join(tmp, "keys"), os.path.join(tmp, "signing")
    shutil.copytree(os.path.join(VECTORS, "github"), keys)
    os.makedirs(signing)
    shutil.move(os.path.join(keys, "alice.keys"), os.path.join(signing, "alice.keys"))
    with open(os.path.join(keys, "erin.keys")) as f:
        lines = [line for line in f if line.strip()]
    with open(os.path.join(keys, "erin.keys"), "w") as f:
        f.writelines(line for line in lines if line.startswith("ssh-rsa"))
    with open(os.path.join(signing, "erin.keys"), "w") as f:
        f.writelines(line for line in lines if not line.startswith("ssh-rsa"))
    return keys, signing


class SigningKeysTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gp-signing-")
        self.keys_dir, self.signing_dir = split_keys(self.tmp)
        self.vec = Vectors()
        self.token_file = os.path.join(self.tmp, "token")
        with open(self.token_file, "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(self.token_file, 0o600)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def post(self, srv, name):
        st, h, body = srv.post_receipt(self.vec.raw(self.vec.by_name(name)))
        return st, json.loads(body)

    def test_signing_key_only_verifies(self):
        with KeyServer(keys_dir=self.keys_dir) as ks, FakeGitHub(self.signing_dir) as gh:
            work = os.path.join(self.tmp, "a")
            os.makedirs(work)
            with Server(work, ks.url, args=["--rate-limit", "0", "--github-api-url", gh.url,
                                            "--github-token-file", self.token_file]) as srv:
                st, doc = self.post(srv, "alice-ed25519-0-clean")
                self.assertEqual(st, 201, doc)
                self.assertEqual(doc["status"], "verified")
                self.assertEqual(doc["key_type"], "ssh-ed25519")
                for name in ("erin-rsa-0-clean", "erin-ed25519-1-clean", "bob-ecdsa-0-clean"):
                    st, doc = self.post(srv, name)
                    self.assertEqual(st, 201, (name, doc))
                st, doc = self.post(srv, "mallory-claims-alice")
                self.assertEqual(st, 422, doc)  # a forgery still fails against both key sets
                log = srv.log()
            reqs = [r for r in gh.requests() if r["path"].endswith("/ssh_signing_keys")]
            self.assertTrue(reqs)
            self.assertTrue(all(r["authorization"] == "Bearer " + TOKEN for r in reqs), reqs)
            self.assertTrue(all("per_page=100" in r["query"] for r in reqs))
            self.assertNotIn(TOKEN, log)
            # without the API the same receipt has no key to verify it
            work = os.path.join(self.tmp, "b")
            os.makedirs(work)
            with Server(work, ks.url, args=["--rate-limit", "0"]) as srv:
                st, doc = self.post(srv, "alice-ed25519-0-clean")
                self.assertEqual(st, 422, doc)

    def test_api_down_does_not_break_keys(self):
        for mode in ("500", "down"):
            with self.subTest(mode=mode), KeyServer(keys_dir=self.keys_dir) as ks, \
                    FakeGitHub(self.signing_dir, mode=mode) as gh:
                work = os.path.join(self.tmp, "down-" + mode)
                os.makedirs(work)
                with Server(work, ks.url, args=["--rate-limit", "0", "--github-api-url", gh.url,
                                                "--retry-min-ms", "200", "--retry-max-ms", "400",
                                                "--key-timeout-ms", "1500"]) as srv:
                    t0 = time.time()
                    st, doc = self.post(srv, "bob-ecdsa-0-clean")
                    self.assertEqual(st, 201, doc)  # verified by .keys, not pending
                    self.assertLess(time.time() - t0, 5 * SLOW)
                    st, doc = self.post(srv, "erin-rsa-0-clean")
                    self.assertEqual(st, 201, doc)
                    st, doc = self.post(srv, "alice-ed25519-0-clean")
                    self.assertEqual(st, 202, doc)  # only a signing key could verify it
                    rid = doc["id"]
                    gh.control("mode/ok")
                    deadline = time.time() + 20 * SLOW
                    while time.time() < deadline:
                        if srv.get_json("/api/receipts/" + rid)[1]["status"] == "verified":
                            break
                        time.sleep(0.2)
                    self.assertEqual(srv.get_json("/api/receipts/" + rid)[1]["status"], "verified")
                    st, doc = srv.get_json("/api/commits/2c6362308d6f0ac578fee055f120fa766638b970")
                    self.assertEqual(doc["validated_by"], ["alice", "bob", "erin"])


    def test_cli_verify_reads_signing_keys(self):
        """gpuproof-cli verify --github-api-url: the same union of keys as the server."""
        cli = os.path.abspath(os.environ.get("GP_CLI_BIN", "build/gpuproof-cli"))
        if not os.access(cli, os.X_OK):
            self.skipTest("gpuproof-cli not built")
        clone = os.path.join(self.tmp, "clone")
        subprocess.run(["git", "clone", "-q", os.path.join(VECTORS, "repo.bundle"), clone], check=True)
        keys_url = "file://" + self.keys_dir + "/{user}.keys"

        def verify(name, *extra, env=None):
            item = self.vec.by_name(name)
            sha = json.loads(self.vec.raw(item))["repo"]["commit_sha"]
            subprocess.run(["git", "-C", clone, "checkout", "-q", sha], check=True)
            p = subprocess.run([cli, "verify", "--receipt", os.path.join(VECTORS, item["file"]), "--repo", clone,
                                "--max-age-days", "0", "--github-keys-url", keys_url, "--json"] + list(extra),
                               capture_output=True, text=True, timeout=60 * SLOW,
                               env=dict(os.environ, **(env or {})))
            return p.returncode, p.stdout + p.stderr

        with FakeGitHub(self.signing_dir) as gh:
            # alice has no .keys: without the API her receipt cannot verify, with it it does
            rc, out = verify("alice-ed25519-0-clean")
            self.assertEqual(rc, 1, out)
            self.assertIn("publishes no SSH keys", out)
            rc, out = verify("alice-ed25519-0-clean", "--github-api-url", gh.url, env={"GITHUB_TOKEN": TOKEN})
            self.assertEqual(rc, 0, out)
            self.assertIn('"signature": "valid"', out.replace(" ", "").replace('":"', '": "'))
            # erin: RSA in .keys, ed25519 only for signing; both verify with the API
            for name in ("erin-rsa-0-clean", "erin-ed25519-1-clean"):
                rc, out = verify(name, "--github-api-url", gh.url)
                self.assertEqual(rc, 0, (name, out))
            rc, out = verify("mallory-claims-alice", "--github-api-url", gh.url)
            self.assertEqual(rc, 1, out)  # a forgery still fails against both key sets
            reqs = [r for r in gh.requests() if r["path"] == "/users/alice/ssh_signing_keys"]
            self.assertEqual(reqs[0]["authorization"], "Bearer " + TOKEN)
            self.assertNotIn(TOKEN, out)
            gh.control("mode/500")
            # the API down: .keys still verify bob; erin's ed25519 receipt is unknown (exit 2), not bad
            rc, out = verify("bob-ecdsa-0-clean", "--github-api-url", gh.url)
            self.assertEqual(rc, 0, out)
            rc, out = verify("erin-ed25519-1-clean", "--github-api-url", gh.url)
            self.assertEqual(rc, 2, out)
            self.assertIn("signing keys could not be fetched", out)


if __name__ == "__main__":
    unittest.main()
