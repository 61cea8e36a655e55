#!/usr/bin/python3
"""test_cli_verify.py - `gpuproof-cli verify` and `gpuproof-cli fingerprint` on the shared vectors.

1. Every vector of manifest.json through `gpuproof-cli verify --json`, keys from the vectors'
   github/ folder (file: template), --repo a clone of repo.bundle checked out at the vector's commit:
   valid -> "signature": "valid"; invalid_signature -> "invalid"; unsigned -> "unsigned";
   bad_request -> exit 2 with {"ok": false, "error": ...}. Clean valid receipts pass every check
   (exit 0); the failed-and-skipped / dirty ones fail the right checks (exit 1).
2. `gpuproof-cli fingerprint` in the clone at each commit prints the digest the clean receipts
   carry, and `--commit` computes the same from the commit's tree.
3. The flags: --allow-unsigned, --allow-skipped, --expected-skips (exact match), --allow-dirty,
   --require-gpu, --github-user, --max-age-days, a commit that is not an ancestor, keys that cannot
   be fetched (exit 2), --help.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

CLI = os.environ.get("GP_CLI_BIN", "build/gpuproof-cli")
VEC = os.environ.get("GP_VECTORS", "tests/vectors/pytest-gpu-proof-v1")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def cli(*args, cwd=None):
    p = subprocess.run([CLI] + list(args), capture_output=True, text=True, cwd=cwd, timeout=120)
    return p.returncode, p.stdout, p.stderr


def verify_json(receipt, repo, *extra):
    rc, out, err = cli("verify", "--receipt", receipt, "--repo", repo, "--github-keys-url",
                       "file://" + os.path.abspath(VEC) + "/github/{user}.keys", "--max-age-days", "36500",
                       "--json", *extra)
    try:
        obj = json.loads(out)
    except ValueError:
        obj = None
    return rc, obj, err


def git(repo, *args):
    return subprocess.run(["git", "-C", repo] + list(args), check=True, capture_output=True, text=True).stdout


def main():
    if not os.access(CLI, os.X_OK):
        print("gpuproof-cli not built: skipped")
        return 77
    manifest = json.load(open(os.path.join(VEC, "manifest.json")))
    tmp = tempfile.mkdtemp(prefix="gp-verify-")
    try:
        clone = os.path.join(tmp, "clone")
        subprocess.run(["git", "clone", "-q", os.path.join(VEC, "repo.bundle"), clone], check=True)
        git(clone, "config", "advice.detachedHead", "false")
        head_commit = manifest["commits"][-1]

        # 1. every vector
        for v in manifest["vectors"]:
            receipt = os.path.abspath(os.path.join(VEC, v["file"]))
            commit = v.get("commit")
            git(clone, "checkout", "-q", commit if commit in manifest["commits"] else head_commit)
            rc, obj, err = verify_json(receipt, clone)
            name = v["file"]
            expect = v["expect"]
            if expect == "bad_request":
                check(rc == 2, "%s: exit %d, want 2 (%s)" % (name, rc, err.strip()))
                check(obj is not None and obj.get("ok") is False and obj.get("error"),
                      "%s: --json error object %r" % (name, obj))
                continue
            check(obj is not None, "%s: no JSON (%s)" % (name, err.strip()))
            if obj is None:
                continue
            want = {"valid": "valid", "invalid_signature": "invalid", "unsigned": "unsigned"}[expect]
            check(obj.get("signature") == want, "%s: signature %r, want %r" % (name, obj.get("signature"), want))
            for k in ("ok", "signature", "fingerprint", "commit", "tests", "skips", "dirty", "gpu", "age", "problems"):
                check(k in obj, "%s: member %s missing" % (name, k))
            t = v.get("tests") or {}
            doc = json.load(open(receipt, encoding="utf-8"))
            clean = expect == "valid" and not doc["repo"]["dirty"] and not t.get("failed") and not t.get("skipped")
            if clean:
                check(rc == 0 and obj["ok"] is True, "%s: clean valid receipt fails: %r" % (name, obj))
                check(obj["fingerprint"] == "ok" and obj["commit"] == "ok", "%s: %r" % (name, obj))
            else:
                check(rc == 1 and obj["ok"] is False and obj["problems"], "%s: want exit 1, got %d %r" % (name, rc, obj))
            if t.get("failed"):
                check(obj["tests"] == "failed", "%s: tests %r" % (name, obj["tests"]))
            if t.get("skipped"):
                check(obj["skips"] == "failed", "%s: skips %r" % (name, obj["skips"]))
            if "dirty" in name:
                check(obj["dirty"] == "failed", "%s: dirty %r" % (name, obj["dirty"]))

        # 2. fingerprint command per commit, working tree and --commit
        for commit in manifest["commits"]:
            digests = set()
            for v in manifest["vectors"]:
                if v.get("commit") == commit and v.get("fingerprint") == "matches_commit":
                    digests.add(json.load(open(os.path.join(VEC, v["file"])))["fingerprint"]["digest"])
            check(len(digests) == 1, "clean receipts of %s disagree on the digest: %r" % (commit, digests))
            want = digests.pop()
            git(clone, "checkout", "-q", commit)
            rc, out, err = cli("fingerprint", "--repo", clone)
            check(rc == 0 and out.split()[0] == want, "fingerprint at %s: %r %s, want %s" % (commit, out, err, want))
            rc, out, err = cli("fingerprint", "--json", cwd=clone)
            check(rc == 0 and json.loads(out)["digest"] == want, "fingerprint --json at %s: %r" % (commit, out))
            check(rc == 0 and json.loads(out)["file_count"] == 3, "file count at %s: %r" % (commit, out))
            git(clone, "checkout", "-q", head_commit)
            rc, out, err = cli("fingerprint", "--repo", clone, "--commit", commit, "--json")
            check(rc == 0 and json.loads(out)["digest"] == want, "fingerprint --commit %s: %r %s" % (commit, out, err))
            check(rc == 0 and json.loads(out)["commit"] == commit, "fingerprint --commit names the commit")
        rc, out, err = cli("fingerprint", "--repo", clone, "--commit", "0" * 40)
        check(rc == 2, "fingerprint --commit of an unknown commit: exit %d" % rc)
        rc, out, err = cli("fingerprint", "--repo", tmp)
        check(rc == 2, "fingerprint outside a repository: exit %d" % rc)

        # 3. flags
        first, second = manifest["commits"]
        r = lambda n: os.path.abspath(os.path.join(VEC, "receipts", n + ".json"))
        git(clone, "checkout", "-q", first)
        rc, obj, _ = verify_json(r("unsigned"), clone, "--allow-unsigned")
        check(rc == 0 and obj["signature"] == "unsigned" and obj["ok"], "--allow-unsigned: %d %r" % (rc, obj))
        rc, obj, _ = verify_json(r("alice-ed25519-0-clean"), clone, "--require-gpu")
        check(rc == 1 and obj["gpu"] == "failed", "--require-gpu without gpu_info: %d %r" % (rc, obj))
        rc, obj, _ = verify_json(r("alice-ed25519-0-clean"), clone, "--github-user", "bob")
        check(rc == 1 and obj["signature"] == "invalid", "--github-user bob: %d %r" % (rc, obj))
        rc, obj, _ = verify_json(r("tamper-signer"), clone, "--github-user", "alice")
        check(rc == 0 and obj["signature"] == "valid", "--github-user alice on tamper-signer: %d %r" % (rc, obj))
        # first commit checked out: the second commit's receipt names a commit that is not an ancestor
        rc, obj, _ = verify_json(r("alice-failed-and-skipped"), clone, "--allow-skipped")
        check(rc == 1 and obj["commit"] == "failed", "descendant commit: %r" % (obj,))
        git(clone, "checkout", "-q", second)
        rc, obj, _ = verify_json(r("alice-ed25519-0-clean"), clone)
        check(obj["commit"] == "ok", "ancestor commit: %r" % (obj,))
        # skips: allowed, exact expected list, wrong list
        fs = json.load(open(r("alice-failed-and-skipped")))
        skipped = [t["node_id"] for t in fs["tests"] if t["outcome"] == "skipped"]
        rc, obj, _ = verify_json(r("alice-failed-and-skipped"), clone, "--allow-skipped")
        check(obj["skips"] == "ok" and obj["tests"] == "failed", "--allow-skipped: %r" % (obj,))
        exp = os.path.join(tmp, "skips.txt")
        with open(exp, "w") as f:
            f.write("# expected skips\n\n" + "\n".join(skipped) + "\n")
        rc, obj, _ = verify_json(r("alice-failed-and-skipped"), clone, "--expected-skips", exp)
        check(obj["skips"] == "ok", "--expected-skips exact: %r" % (obj,))
        with open(exp, "a") as f:
            f.write("tests/test_kern.py::test_not_skipped\n")
        rc, obj, _ = verify_json(r("alice-failed-and-skipped"), clone, "--expected-skips", exp)
        check(obj["skips"] == "failed", "--expected-skips with an extra id: %r" % (obj,))
        with open(exp, "w") as f:
            f.write("# nothing\n")
        rc, obj, _ = verify_json(r("alice-failed-and-skipped"), clone, "--expected-skips", exp)
        check(obj["skips"] == "failed", "--expected-skips missing the skipped test: %r" % (obj,))
        rc, obj, _ = verify_json(r("alice-dirty"), clone, "--allow-dirty")
        check(obj["dirty"] == "ok", "--allow-dirty: %r" % (obj,))
        # age: the vectors were written 2026-11-28; a limit of 1 day only holds until the 29th
        rc, out, _ = cli("verify", "--receipt", r("alice-ed25519-0-clean"), "--repo", clone, "--github-keys-url",
                         "file://" + os.path.abspath(VEC) + "/github/{user}.keys", "--max-age-days", "1", "--json")
        import time, calendar
        ended = calendar.timegm(time.strptime(json.load(open(r("alice-ed25519-0-clean")))["session"]["ended_at"],
                                              "%Y-%m-%dT%H:%M:%SZ"))
        want_age = "ok" if time.time() - ended <= 86400 else "failed"
        check(json.loads(out)["age"] == want_age, "--max-age-days 1: %s, want %s" % (out, want_age))
        # keys unreachable: exit 2
        rc, out, err = cli("verify", "--receipt", r("alice-ed25519-0-clean"), "--repo", clone, "--github-keys-url",
                           "http://127.0.0.1:9/{user}.keys", "--json")
        check(rc == 2 and json.loads(out)["ok"] is False, "unreachable keys: exit %d %s" % (rc, out))
        # a login without keys: signature invalid, not an error
        rc, obj, _ = verify_json(r("alice-ed25519-0-clean"), clone, "--github-user", "nobody-here")
        check(rc == 1 and obj["signature"] == "invalid", "user without keys: %d %r" % (rc, obj))
        # missing receipt, bad flag values, --help
        rc, out, _ = cli("verify", "--receipt", os.path.join(tmp, "none.json"), "--json")
        check(rc == 2 and json.loads(out)["ok"] is False, "missing receipt: %d" % rc)
        rc, _, _ = cli("verify", "--max-age-days", "x")
        check(rc == 2, "bad --max-age-days: %d" % rc)
        for cmd in ("verify", "fingerprint", "sign", "submit", "check"):
            rc, out, _ = cli(cmd, "--help")
            check(rc == 0 and "usage: gpuproof-cli " + cmd in out, "%s --help" % cmd)
        # human output
        git(clone, "checkout", "-q", first)
        rc, out, _ = cli("verify", "--receipt", r("alice-ed25519-0-clean"), "--repo", clone, "--github-keys-url",
                         "file://" + os.path.abspath(VEC) + "/github/{user}.keys", "--max-age-days", "36500")
        check(rc == 0 and "OK" in out and "SHA256:" in out, "human output: %s" % out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
