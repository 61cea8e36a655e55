#!/usr/bin/python3
"""test_cli_run.py - `gpuproof-cli run` on a sample git repository with a small pytest suite.

1. pytest (Debian's python3-pytest, run as /usr/bin/python3 -m pytest): passing, failing, erroring,
   skipped, xfail, parametrized (non-ASCII ids too) and class-based tests. The receipt's node ids
   equal `pytest --collect-only -q`'s, in order; outcomes and counts are right; the exit status is
   pytest's; repo, fingerprint, session and environment blocks are what git, `gpuproof-cli
   fingerprint` and the interpreter say.
2. Receipts signed with ed25519, ecdsa p256/p384 and rsa keys (ssh-keygen'd here) pass the
   independent verifier tests/tools/pyverify.py and `gpuproof-cli verify` (a passing selection
   passes every check; the full suite fails only on its failed/skipped tests).
3. The code changing under the tests (a test edits a tracked file; the command commits) -> exit 2,
   no receipt. Missing, stale or empty report -> exit 2, no receipt. A command that is not pytest
   without --junit -> exit 2 before it runs. No key -> exit 2, no receipt.
4. --junit with a ctest-style report written by the command: generic node ids, outcomes, the
   command's exit status kept.
5. --unsigned writes "signature": null; SIGTERM to the CLI reaches the test process group, which
   dies, and the CLI exits 128+15 without a receipt; --help.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CLI = os.path.abspath(os.environ.get("GP_CLI_BIN", "build/gpuproof-cli"))
SRC = os.environ.get("GP_SOURCE_DIR", os.getcwd())
PYVERIFY = os.path.join(SRC, "tests", "tools", "pyverify.py")
PY = "/usr/bin/python3"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


TEST_KERN = r'''
import os
import pytest


def test_relu():
    assert max(0, -1) == 0


@pytest.mark.parametrize("shape", ["2x2", "\u00fc\u00d78", "fp16", "\u2603", "a::b", "1.5"])
def test_shapes(shape):
    assert shape


class TestBatch:
    def test_batched(self):
        pass

    @pytest.mark.parametrize("n", [1, 2])
    def test_sizes(self, n):
        assert n < 2

    class TestInner:
        def test_deep(self):
            pass


def test_broken():
    assert 0, "boom"


@pytest.mark.skip(reason="needs hopper")
def test_hopper_only():
    pass


@pytest.fixture
def bad():
    raise RuntimeError("setup")


def test_setup_error(bad):
    pass


@pytest.mark.xfail
def test_xfail():
    assert 0


def test_mutates():
    # edits a tracked file when asked to: the code under test changes during the run
    if os.environ.get("GP_MUTATE"):
        with open(os.path.join(os.path.dirname(__file__), "..", "src", "kern.py"), "a") as f:
            f.write("# changed\n")


def test_slow():
    if os.environ.get("GP_SLOW"):
        with open(os.environ["GP_SLOW"], "w") as f:
            f.write(str(os.getpid()))
        import time
        time.sleep(60)
'''

TEST_PASS = '''
def test_one():
    assert 1


class TestTwo:
    def test_two(self):
        assert 2
'''

EXPECTED = {
    "tests/test_kern.py::test_relu": "passed",
    "tests/test_kern.py::test_shapes[2x2]": "passed",
    "tests/test_kern.py::test_shapes[\\xfc\\xd78]": "passed",
    "tests/test_kern.py::test_shapes[fp16]": "passed",
    "tests/test_kern.py::test_shapes[\\u2603]": "passed",
    "tests/test_kern.py::test_shapes[a::b]": "passed",
    "tests/test_kern.py::test_shapes[1.5]": "passed",
    "tests/test_kern.py::TestBatch::test_batched": "passed",
    "tests/test_kern.py::TestBatch::test_sizes[1]": "passed",
    "tests/test_kern.py::TestBatch::test_sizes[2]": "failed",
    "tests/test_kern.py::TestBatch::TestInner::test_deep": "passed",
    "tests/test_kern.py::test_broken": "failed",
    "tests/test_kern.py::test_hopper_only": "skipped",
    "tests/test_kern.py::test_setup_error": "failed",
    "tests/test_kern.py::test_xfail": "skipped",
    "tests/test_kern.py::test_mutates": "passed",
    "tests/test_kern.py::test_slow": "passed",
    "tests/test_pass.py::test_one": "passed",
    "tests/test_pass.py::TestTwo::test_two": "passed",
}


def run(args, cwd, env, timeout=180):
    p = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def git(repo, *args):
    return subprocess.run(["git", "-C", repo] + list(args), check=True, capture_output=True,
                          text=True).stdout.strip()


def make_env(home):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GPUPROOF_") and k not in ("SSH_AUTH_SOCK", "SSH_AGENT_PID")}
    env.update({
        "HOME": home, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com", "PYTHONDONTWRITEBYTECODE": "1",
        "GPUPROOF_NVML_LIB": "/nonexistent/libnvidia-ml.so.1", "LC_ALL": "C.UTF-8",
        "TMPDIR": os.path.join(home, "tmpdir"),
    })
    os.makedirs(env["TMPDIR"])
    return env


def make_repo(tmp, env):
    repo = os.path.join(tmp, "gpukernels")
    os.makedirs(os.path.join(repo, "src"))
    os.makedirs(os.path.join(repo, "tests"))
    os.makedirs(os.path.join(repo, "tests", "empty"))
    with open(os.path.join(repo, "src", "kern.py"), "w") as f:
        f.write("def relu(x):\n    return max(0, x)\n")
    with open(os.path.join(repo, "tests", "test_kern.py"), "w") as f:
        f.write(TEST_KERN)
    with open(os.path.join(repo, "tests", "test_pass.py"), "w") as f:
        f.write(TEST_PASS)
    with open(os.path.join(repo, "tests", "empty", "README"), "w") as f:
        f.write("no tests here\n")
    with open(os.path.join(repo, ".gitignore"), "w") as f:
        f.write(".pytest_cache/\n__pycache__/\n*.json\n*.xml\n")
    subprocess.run(["git", "init", "-q", "-b", "main", repo], check=True, env=env)
    git(repo, "add", "-A")
    subprocess.run(["git", "-C", repo, "commit", "-qm", "kernels"], check=True, env=env)
    git(repo, "remote", "add", "origin", "git@github.com:alice/gpukernels.git")
    return repo


def keygen(tmp, name, kind, bits):
    path = os.path.join(tmp, name)
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-b", str(bits), "-N", "", "-C", name, "-f",
                    path], check=True)
    return path


def collect_ids(repo, env, *sel):
    rc, out, err = run([PY, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
                       + list(sel), repo, env)
    return [line for line in out.splitlines() if "::" in line]


def verify_both(receipt, repo, keys_dir, *flags):
    rc1, out, err = run([CLI, "verify", "--receipt", receipt, "--repo", repo, "--github-keys-url",
                         "file://" + keys_dir + "/{user}.keys", "--json"] + list(flags), repo,
                        os.environ)
    try:
        v1 = json.loads(out)
    except ValueError:
        v1 = {"error": out + err}
    rc2, out, err = run([PY, PYVERIFY, "--receipt", receipt, "--keys-dir", keys_dir, "--repo",
                         repo] + list(flags), repo, os.environ)
    try:
        v2 = json.loads(out)
    except ValueError:
        v2 = {"error": out + err}
    return rc1, v1, rc2, v2


def main():
    if not os.access(CLI, os.X_OK):
        print("gpuproof-cli not built: skipped")
        return 77
    if subprocess.run([PY, "-c", "import pytest"], capture_output=True).returncode != 0:
        print("python3-pytest missing: skipped")
        return 77
    tmp = tempfile.mkdtemp(prefix="gp-run-")
    try:
        env = make_env(tmp)
        repo = make_repo(tmp, env)
        keys_dir = os.path.join(tmp, "keys")
        os.makedirs(keys_dir)
        keys = [("ed25519", keygen(tmp, "k_ed25519", "ed25519", 256)),
                ("ecdsa-p256", keygen(tmp, "k_p256", "ecdsa", 256)),
                ("ecdsa-p384", keygen(tmp, "k_p384", "ecdsa", 384)),
                ("rsa", keygen(tmp, "k_rsa", "rsa", 3072))]
        with open(os.path.join(keys_dir, "alice.keys"), "w") as f:
            for _, k in keys:
                f.write(open(k + ".pub").read().split(" ")[0] + " " +
                        open(k + ".pub").read().split(" ")[1] + "\n")
        head = git(repo, "rev-parse", "HEAD")
        rc, fp_out, _ = run([CLI, "fingerprint", "--json"], repo, env)
        fp = json.loads(fp_out)

        # -- 1. the full suite, as pytest sees it -----------------------------------------------
        want_ids = collect_ids(repo, env, "tests")
        check(sorted(want_ids) == sorted(EXPECTED), "the sample suite collects as planned: %r"
              % want_ids)
        prc, _, _ = run([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], repo, env)
        check(prc == 1, "pytest itself exits 1 on this suite (got %d)" % prc)
        out_file = os.path.join(repo, "gpu-proof.json")
        rc, out, err = run([CLI, "run", "--key", keys[0][1], "--signer", "alice", "--", PY, "-m",
                            "pytest", "-q", "tests"], repo, env)
        check(rc == prc, "run exits with pytest's status %d (got %d): %s" % (prc, rc, err[-2000:]))
        check("generated xml file" in out, "pytest's output streams through")
        check(os.path.exists(out_file), "receipt written to the default gpu-proof.json")
        r = json.load(open(out_file))
        ids = [t["node_id"] for t in r["tests"]]
        check(ids == want_ids, "node ids equal `pytest --collect-only -q`, in order:\n%r\n%r"
              % (ids, want_ids))
        check(r["session"]["node_ids"] == ids, "session.node_ids are the tests, same order")
        for t in r["tests"]:
            check(t["outcome"] == EXPECTED.get(t["node_id"]), "%s is %s" % (t["node_id"],
                                                                           t["outcome"]))
            check(isinstance(t["duration_s"], float) and t["duration_s"] >= 0 and
                  round(t["duration_s"], 4) == t["duration_s"], "duration of %s" % t["node_id"])
            check(t["checks"] == [], "checks are an empty list")
        counts = {o: sum(1 for t in r["tests"] if t["outcome"] == o)
                  for o in ("passed", "failed", "skipped")}
        check(counts == {"passed": 14, "failed": 3, "skipped": 2}, "counts %r" % counts)
        check(r["schema_version"] == "1" and r["mode"] == "local", "schema_version and mode")
        check(r["repo"] == {"remote_url": "git@github.com:alice/gpukernels.git",
                            "github_username": "alice", "commit_sha": head, "branch": "main",
                            "dirty": False}, "repo block %r" % r["repo"])
        check(r["fingerprint"] == fp, "fingerprint equals `gpuproof-cli fingerprint`: %r"
              % r["fingerprint"])
        check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["session"]["started_at"])
              and r["session"]["started_at"] <= r["session"]["ended_at"], "session times")
        e = r["environment"]
        pyver = subprocess.run([PY, "-c", "import platform, pytest; print(platform.python_version()"
                                ", pytest.__version__)"], capture_output=True,
                               text=True).stdout.split()
        check(e.get("python_version") == pyver[0] and e.get("pytest_version") == pyver[1],
              "python and pytest versions %r" % e)
        check(e.get("platform") == "linux", "platform")
        check(e.get("tool") == {"name": "gpuproof-cli", "version": e["tool"]["version"]},
              "environment.tool")
        check(e.get("gpu_info") is None and e.get("gpus") == [], "no NVML: gpu_info null, gpus []")
        check("plugin_version" not in e, "no plugin_version claimed")
        check(r["signature"]["signer"] == "alice" and r["signature"]["algorithm"] == "ed25519",
              "signature block")
        raw = open(out_file, encoding="ascii").read()
        check(raw.startswith('{\n  "environment": {') and raw.endswith("}\n"),
              "written indented with sorted keys, ASCII, newline at the end")
        rc1, v1, rc2, v2 = verify_both(out_file, repo, keys_dir, "--allow-skipped")
        check(rc1 == 1 and v1.get("signature") == "valid" and v1.get("fingerprint") == "ok"
              and v1.get("tests") == "failed", "gpuproof-cli verify: valid, fails on tests: %r"
              % v1)
        check(rc2 == 1 and v2.get("signature") == "valid", "pyverify: signature valid: %r" % v2)
        check(os.listdir(env["TMPDIR"]) == [], "the private report directory is removed")

        # -- 2. every key type, a passing selection: every check passes ------------------------
        for kind, key in keys:
            out_k = os.path.join(tmp, "receipt-%s.json" % kind)
            rc, out, err = run([CLI, "run", "--key", key, "--signer", "alice", "--mode", "ci-gpu",
                                "--out", out_k, "--", PY, "-m", "pytest", "-q",
                                "tests/test_pass.py"], repo, env)
            check(rc == 0, "%s: passing run exits 0 (%s)" % (kind, err[-1500:]))
            if not check(os.path.exists(out_k), "%s: receipt written" % kind):
                continue
            rk = json.load(open(out_k))
            check(rk["mode"] == "ci-gpu", "--mode ci-gpu recorded")
            check([t["node_id"] for t in rk["tests"]] == collect_ids(repo, env,
                                                                      "tests/test_pass.py"),
                  "%s: node ids of the selection" % kind)
            rc1, v1, rc2, v2 = verify_both(out_k, repo, keys_dir)
            check(rc1 == 0 and v1.get("ok") is True, "%s: gpuproof-cli verify passes: %r"
                  % (kind, v1))
            check(rc2 == 0 and v2.get("ok") is True, "%s: pyverify passes: %r" % (kind, v2))

        # the `pytest` script form (here a wrapper with an env shebang, as pip installs them)
        bindir = os.path.join(tmp, "bin")
        os.makedirs(bindir)
        with open(os.path.join(bindir, "pytest"), "w") as f:
            f.write("#!/usr/bin/env python3\nimport sys, pytest\nsys.exit(pytest.main())\n")
        os.chmod(os.path.join(bindir, "pytest"), 0o755)
        out_s = os.path.join(tmp, "script.json")
        env_s = dict(env, PATH=bindir + ":/usr/bin:/bin")
        rc, out, err = run([CLI, "run", "--unsigned", "--out", out_s, "--", "pytest", "-q",
                            "tests/test_pass.py"], repo, env_s)
        if check(rc == 0 and os.path.exists(out_s), "pytest script form (%d) %s" % (rc, err)):
            rs = json.load(open(out_s))
            check([t["node_id"] for t in rs["tests"]] == collect_ids(repo, env,
                                                                     "tests/test_pass.py"),
                  "pytest script form: node ids")
            check(rs["environment"].get("pytest_version") == pyver[1] and
                  rs["environment"].get("python_version") == pyver[0],
                  "versions through an env shebang: %r" % rs["environment"])

        # -- 3. the code changes under the tests: no receipt ---------------------------------
        os.unlink(out_file)
        env_m = dict(env, GP_MUTATE="1")
        rc, out, err = run([CLI, "run", "--key", keys[0][1], "--signer", "alice", "--", PY, "-m",
                            "pytest", "-q", "tests/test_kern.py::test_mutates"], repo, env_m)
        check(rc == 2 and "changed while the tests ran" in err, "a test editing a tracked file: "
              "exit 2 (%d) %s" % (rc, err[-500:]))
        check(not os.path.exists(out_file), "no receipt when the code changed")
        git(repo, "checkout", "--", "src/kern.py")

        report = os.path.join(repo, "report.xml")
        moving = ("git commit -q --allow-empty -m moved && %s -m pytest -q tests/test_pass.py "
                  "--junitxml=%s" % (PY, report))
        rc, out, err = run([CLI, "run", "--key", keys[0][1], "--signer", "alice", "--junit", report,
                            "--", "/bin/sh", "-c", moving], repo, env)
        check(rc == 2 and "HEAD moved" in err, "HEAD moved during the run: exit 2 (%d) %s"
              % (rc, err[-500:]))
        check(not os.path.exists(out_file), "no receipt when HEAD moved")
        git(repo, "reset", "-q", "--hard", head)

        # -- missing, stale, empty reports; not pytest without --junit; no key --------------
        rc, out, err = run([CLI, "run", "--key", keys[0][1], "--signer", "alice", "--junit",
                            os.path.join(tmp, "nothere.xml"), "--", "true"], repo, env)
        check(rc == 2 and "no JUnit report" in err, "missing report: exit 2 (%d) %s" % (rc, err))
        stale = os.path.join(tmp, "stale.xml")
        shutil.copy(os.path.join(SRC, "tests", "data", "junit", "ctest.xml"), stale)
        rc, out, err = run([CLI, "run", "--key", keys[0][1], "--signer", "alice", "--junit", stale,
                            "--", "true"], repo, env)
        check(rc == 2 and "not written by this run" in err, "stale report: exit 2 (%d) %s"
              % (rc, err))
        rc, out, err = run([CLI, "run", "--key", keys[0][1], "--signer", "alice", "--", PY, "-m",
                            "pytest", "-q", "tests/empty"], repo, env)
        check(rc == 2 and "no tests" in err, "empty pytest run: exit 2 (%d) %s" % (rc, err[-500:]))
        marker = os.path.join(tmp, "ran")
        rc, out, err = run([CLI, "run", "--key", keys[0][1], "--signer", "alice", "--", "/bin/sh",
                            "-c", "touch " + marker], repo, env)
        check(rc == 2 and "--junit" in err and not os.path.exists(marker),
              "not pytest, no --junit: exit 2 before running (%d) %s" % (rc, err))
        rc, out, err = run([CLI, "run", "--signer", "alice", "--", PY, "-m", "pytest", "-q",
                            "tests/test_pass.py"], repo, env)
        check(rc == 2 and not os.path.exists(out_file), "no usable key: exit 2, no receipt (%d) %s"
              % (rc, err[-500:]))
        env_nosigner = dict(env)
        git(repo, "remote", "set-url", "origin", "/srv/git/gpukernels.git")
        rc, out, err = run([CLI, "run", "--key", keys[0][1], "--", PY, "-m", "pytest", "-q",
                            "tests/test_pass.py"], repo, env_nosigner)
        check(rc == 2 and "no signer" in err and not os.path.exists(out_file),
              "no signer: exit 2, no receipt (%d) %s" % (rc, err[-300:]))
        git(repo, "remote", "set-url", "origin", "git@github.com:alice/gpukernels.git")
        # the signer falls back to origin's owner, with a warning
        rc, out, err = run([CLI, "run", "--key", keys[0][1], "--", PY, "-m", "pytest", "-q",
                            "tests/test_pass.py"], repo, env)
        check(rc == 0 and "owner of the origin remote" in err and
              json.load(open(out_file))["repo"]["github_username"] == "alice",
              "signer from the origin owner (%d) %s" % (rc, err[-300:]))
        os.unlink(out_file)

        # -- 4. --junit with a ctest-style report the command writes --------------------------
        ct = os.path.join(tmp, "ctest-out.xml")
        writer = ("import shutil, sys; shutil.copy(%r, %r); sys.exit(8)"
                  % (os.path.join(SRC, "tests", "data", "junit", "ctest.xml"), ct))
        ct_receipt = os.path.join(tmp, "ctest-receipt.json")
        rc, out, err = run([CLI, "run", "--key", keys[1][1], "--signer", "alice", "--junit", ct,
                            "--out", ct_receipt, "--", PY, "-c", writer], repo, env)
        check(rc == 8, "ctest run keeps the command's status 8 (%d) %s" % (rc, err[-500:]))
        if check(os.path.exists(ct_receipt), "ctest receipt written"):
            rc_ = json.load(open(ct_receipt))
            check([(t["node_id"], t["outcome"]) for t in rc_["tests"]] ==
                  [("passes", "passed"), ("fails", "failed"), ("skips", "skipped"),
                   ("off", "skipped")], "ctest tests %r" % rc_["tests"])
            check(rc_["tests"][0]["duration_s"] == 0.0098, "ctest duration rounded to 4 places")
            check("pytest_version" not in rc_["environment"], "no pytest version for ctest")
            rc1, v1, rc2, v2 = verify_both(ct_receipt, repo, keys_dir, "--allow-skipped")
            check(v1.get("signature") == "valid" and v2.get("signature") == "valid",
                  "ctest receipt signature valid: %r %r" % (v1, v2))

        # -- 5. --unsigned, signals, help ----------------------------------------------------
        uns = os.path.join(tmp, "unsigned.json")
        rc, out, err = run([CLI, "run", "--unsigned", "--out", uns, "--", PY, "-m", "pytest", "-q",
                            "tests/test_pass.py"], repo, env)
        check(rc == 0 and json.load(open(uns)).get("signature", 1) is None,
              "--unsigned writes signature null (%d) %s" % (rc, err[-300:]))
        rc1, v1, rc2, v2 = verify_both(uns, repo, keys_dir, "--allow-unsigned")
        check(v1.get("signature") == "unsigned" and rc1 == 0, "verify --allow-unsigned: %r" % v1)

        pidfile = os.path.join(tmp, "slow.pid")
        sig_out = os.path.join(tmp, "sig.json")
        p = subprocess.Popen([CLI, "run", "--key", keys[0][1], "--signer", "alice", "--out",
                              sig_out, "--", PY, "-m", "pytest", "-q",
                              "tests/test_kern.py::test_slow"], cwd=repo,
                             env=dict(env, GP_SLOW=pidfile), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 30
        while not os.path.exists(pidfile) and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        p.send_signal(signal.SIGTERM)
        try:
            _, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        check(p.returncode == 128 + signal.SIGTERM, "SIGTERM: exit 143 (%r) %s"
              % (p.returncode, err[-500:]))
        check(not os.path.exists(sig_out), "no receipt from a killed run")
        if os.path.exists(pidfile):
            tpid = int(open(pidfile).read())
            time.sleep(0.2)
            check(not os.path.exists("/proc/%d" % tpid) or
                  open("/proc/%d/stat" % tpid).read().split(")")[1].split()[0] == "Z",
                  "the test process got the signal too")

        # -- 6. --submit to the real server, then `check` says the commit is validated ---------
        server_bin = os.environ.get("GP_SERVER_BIN", "")
        if server_bin and os.access(server_bin, os.X_OK):
            sys.path.insert(0, os.path.join(SRC, "tests", "tools"))
            import gpserver
            with gpserver.Server(tmp, keys_url="file://" + keys_dir + "/{user}.keys") as srv:
                url = "http://127.0.0.1:%d" % srv.port
                sub = os.path.join(tmp, "submitted.json")
                rc, out, err = run([CLI, "run", "--key", keys[2][1], "--signer", "alice",
                                    "--submit", "--server", url, "--out", sub, "--", PY, "-m",
                                    "pytest", "-q", "tests/test_pass.py"], repo, env)
                check(rc == 0 and os.path.exists(sub), "run --submit exits 0 (%d) %s"
                      % (rc, err[-800:]))
                check("verified" in out + err, "submit reports the receipt verified: %s %s"
                      % (out[-500:], err[-500:]))
                st, body = srv.get_json("/api/commits/" + head)
                check(st == 200 and body and body.get("validated") is True,
                      "the server says the commit is validated: %r" % body)
                rc, out, err = run([CLI, "check", head, "--server", url], repo, env)
                check(rc == 0, "gpuproof-cli check: validated (%d) %s %s" % (rc, out, err))
                # a failing run is submitted too, and the exit status stays pytest's
                rc, out, err = run([CLI, "run", "--key", keys[2][1], "--signer", "alice",
                                    "--submit", "--server", url, "--out", sub, "--", PY, "-m",
                                    "pytest", "-q", "tests/test_kern.py::test_broken"], repo, env)
                check(rc == 1 and "verified" in out + err, "failing run submitted, exit 1 (%d) %s"
                      % (rc, err[-500:]))
                # an unreachable server: the tests passed, the submit failed -> exit 2
                srv.stop()
                rc, out, err = run([CLI, "run", "--key", keys[2][1], "--signer", "alice",
                                    "--submit", "--server", url, "--out", sub, "--", PY, "-m",
                                    "pytest", "-q", "tests/test_pass.py"], repo,
                                   env, timeout=300)
                check(rc == 2 and os.path.exists(sub), "submit to a stopped server: exit 2, "
                      "receipt kept (%d) %s" % (rc, err[-300:]))
        else:
            print("GP_SERVER_BIN not built: --submit not tested", file=sys.stderr)

        rc, out, err = run([CLI, "run", "--help"], repo, env)
        check(rc == 0 and "--junit" in out and "--unsigned" in out, "run --help")
        rc, out, err = run([CLI, "run", "--unsigned", "--junit", os.path.join(tmp, "r.xml"), "--",
                            "/nonexistent/runner"], repo, env)
        check(rc == 2 and "cannot run '/nonexistent/runner'" in err, "a command that cannot be "
              "started: exit 2 (%d) %s" % (rc, err))
        rc, out, err = run([CLI, "run", "--unsigned"], repo, env)
        check(rc == 2 and "no test command" in err, "no command: exit 2")
        rc, out, err = run([CLI, "run", "--bogus", "--", "true"], repo, env)
        check(rc == 2, "unknown option: exit 2")
        rc, out, err = run([CLI, "run", "--mode", "cloud", "--", PY, "-m", "pytest"], repo, env)
        check(rc == 2 and "--mode" in err, "bad --mode: exit 2")
        rc, out, err = run([CLI, "run", "--key", keys[0][1], "--signer", "alice", "--", PY, "-m",
                            "pytest", "-q", "tests/test_pass.py"], tmp, env)
        check(rc == 2 and "not inside a git repository" in err, "outside git: exit 2 (%d) %s"
              % (rc, err))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
