#!/usr/bin/python3
"""test_cli_sign.py - `gpuproof-cli sign` with key files and through a real ssh-agent.

Keys are made here with ssh-keygen: ed25519, ecdsa P-256 and P-384, rsa (unencrypted files), and
passphrase-protected ed25519 / P-256 / P-384 keys that are added to a real `ssh-agent` with
`ssh-add` (passphrase fed by an SSH_ASKPASS script). A clean receipt of the vectors' repository is
re-signed by each and must pass
  - tests/tools/pyverify.py, the independent verifier (json + python3-cryptography), and
  - `gpuproof-cli verify --github-keys-url file://DIR/{user}.keys --repo CLONE`;
after tampering with the signed file both must fail. Also: the file is written as the plugin
writes it (indent=2, sorted keys, "\\n"), the signature block names the key ssh-keygen -l prints,
key discovery (GPUPROOF_KEY, git config user.signingKey with a .pub, ~/.ssh/id_*, agent only),
signer discovery (GPUPROOF_SIGNER, gpuproof.signer, origin owner with a warning), and the errors
that say what to do (encrypted key not in the agent, P-384 in the agent, no key, no signer).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CLI = os.environ.get("GP_CLI_BIN", "build/gpuproof-cli")
VEC = os.environ.get("GP_VECTORS", "tests/vectors/pytest-gpu-proof-v1")
SRC = os.environ.get("GP_SOURCE_DIR", ".")
PYVERIFY = os.path.join(SRC, "tests", "tools", "pyverify.py")
PASS = "agent pass phrase"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def run(args, env, cwd=None):
    p = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=120)
    return p.returncode, p.stdout, p.stderr


def keygen(path, typ, bits=None, passphrase=""):
    args = ["ssh-keygen", "-q", "-t", typ, "-N", passphrase, "-C", "sign-test", "-f", path]
    if bits:
        args[4:4] = ["-b", str(bits)]
    subprocess.run(args, check=True, stdin=subprocess.DEVNULL, capture_output=True)
    fp = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", path + ".pub"], check=True, capture_output=True,
                        text=True).stdout.split()[1]
    return fp


def main():
    if not os.access(CLI, os.X_OK):
        print("gpuproof-cli not built: skipped")
        return 77
    for tool in ("ssh-keygen", "ssh-agent", "ssh-add", "setsid", "git"):
        if not shutil.which(tool):
            print("%s not installed: skipped" % tool)
            return 77
    tmp = tempfile.mkdtemp(prefix="gp-sign-")
    agent = None
    try:
        home = os.path.join(tmp, "home")
        keys = os.path.join(tmp, "keys")
        github = os.path.join(tmp, "github")
        for d in (home, keys, github):
            os.makedirs(d)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GPUPROOF_", "SSH_", "GIT_"))}
        env.update(HOME=home, GIT_CONFIG_GLOBAL=os.path.join(home, "gitconfig"), GIT_CONFIG_NOSYSTEM="1")
        open(env["GIT_CONFIG_GLOBAL"], "w").close()
        keys_url = "file://" + github + "/{user}.keys"

        clone = os.path.join(tmp, "clone")
        subprocess.run(["git", "clone", "-q", os.path.join(VEC, "repo.bundle"), clone], check=True, env=env)
        manifest = json.load(open(os.path.join(VEC, "manifest.json")))
        subprocess.run(["git", "-C", clone, "checkout", "-q", manifest["commits"][0]], check=True, env=env)
        base = json.load(open(os.path.join(VEC, "receipts", "alice-ed25519-0-clean.json")))
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        base["session"]["started_at"] = base["session"]["ended_at"] = now

        def fresh(name):
            path = os.path.join(tmp, name + ".json")
            with open(path, "w") as f:
                json.dump(base, f, indent=1)  # another spelling: sign must rewrite it the plugin's way
            return path

        def both_verify(path, login, expect_ok, what):
            rc, out, err = run([sys.executable, PYVERIFY, "--receipt", path, "--keys-dir", github, "--repo", clone], env)
            check((rc == 0) == expect_ok, "%s: pyverify exit %d %s %s" % (what, rc, out, err))
            rc, out, err = run([CLI, "verify", "--receipt", path, "--repo", clone, "--github-keys-url", keys_url,
                                "--json"], env)
            obj = json.loads(out) if out.strip() else {}
            check((rc == 0) == expect_ok and obj.get("signature") == ("valid" if expect_ok else "invalid"),
                  "%s: gpuproof-cli verify exit %d %s %s" % (what, rc, out, err))

        def tamper(path):
            doc = json.load(open(path))
            doc["tests"][0]["duration_s"] = 1.5
            with open(path, "w") as f:
                json.dump(doc, f, indent=2, sort_keys=True)

        # 1. key files of every type
        files = [("ed", "ed25519", None, "ed25519"), ("p256", "ecdsa", 256, "ecdsa-sha256"),
                 ("p384", "ecdsa", 384, "ecdsa-sha256"), ("rsa", "rsa", 3072, "rsa-pss-sha256")]
        for name, typ, bits, alg in files:
            key = os.path.join(keys, name)
            fp = keygen(key, typ, bits)
            login = "signer-" + name
            shutil.copy(key + ".pub", os.path.join(github, login + ".keys"))
            path = fresh(name)
            rc, out, err = run([CLI, "sign", "--key", key, "--signer", login, path], env)
            check(rc == 0, "sign with %s: exit %d %s" % (name, rc, err))
            text = open(path).read()
            doc = json.loads(text)
            check(text == json.dumps(doc, indent=2, sort_keys=True) + "\n", "%s: not written as the plugin writes" % name)
            sig = doc.get("signature") or {}
            check(sig.get("algorithm") == alg and sig.get("backend") == "ssh-local" and sig.get("signer") == login
                  and sig.get("key_fingerprint") == fp, "%s: signature block %r" % (name, sig))
            check({k: v for k, v in doc.items() if k != "signature"} == {k: v for k, v in base.items() if k != "signature"},
                  "%s: sign changed the receipt's content" % name)
            both_verify(path, login, True, "file key " + name)
            tamper(path)
            both_verify(path, login, False, "tampered, file key " + name)

        # 2. ssh-agent with passphrase-protected keys
        sock = os.path.join(tmp, "agent.sock")
        agent = subprocess.Popen(["ssh-agent", "-D", "-a", sock], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        askpass = os.path.join(tmp, "askpass")
        with open(askpass, "w") as f:
            f.write("#!/bin/sh\necho '%s'\n" % PASS)
        os.chmod(askpass, 0o700)
        aenv = dict(env, SSH_AUTH_SOCK=sock)
        addenv = dict(aenv, SSH_ASKPASS=askpass, SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
        for name, typ, bits in (("enc-ed", "ed25519", None), ("enc-p256", "ecdsa", 256), ("enc-p384", "ecdsa", 384)):
            key = os.path.join(keys, name)
            keygen(key, typ, bits, PASS)
            shutil.copy(key + ".pub", os.path.join(github, "signer-" + name + ".keys"))
        # an encrypted key that is not in the agent yet: the message says to ssh-add it
        path = fresh("noagent")
        rc, out, err = run([CLI, "sign", "--key", os.path.join(keys, "enc-ed"), "--signer", "signer-enc-ed", path], aenv)
        check(rc == 2 and "ssh-add" in err and "passphrase" in err, "encrypted key not in agent: %d %s" % (rc, err))
        rc, out, err = run([CLI, "sign", "--key", os.path.join(keys, "enc-ed"), "--signer", "signer-enc-ed", path], env)
        check(rc == 2 and "ssh-add" in err, "encrypted key, no agent: %d %s" % (rc, err))
        for name in ("enc-ed", "enc-p256", "enc-p384"):
            p = subprocess.run(["setsid", "-w", "ssh-add", os.path.join(keys, name)], env=addenv,
                               stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
            check(p.returncode == 0, "ssh-add %s: %s" % (name, p.stderr))
        for name, alg in (("enc-ed", "ed25519"), ("enc-p256", "ecdsa-sha256")):
            login = "signer-" + name
            path = fresh(name)
            rc, out, err = run([CLI, "sign", "--key", os.path.join(keys, name), "--signer", login, path], aenv)
            check(rc == 0, "sign through the agent with %s: %d %s" % (name, rc, err))
            sig = json.load(open(path)).get("signature") or {}
            check(sig.get("backend") == "ssh-agent" and sig.get("algorithm") == alg, "%s: %r" % (name, sig))
            both_verify(path, login, True, "agent key " + name)
            tamper(path)
            both_verify(path, login, False, "tampered, agent key " + name)
            # the .pub file names the agent's key as well
            path = fresh(name + "-pub")
            rc, out, err = run([CLI, "sign", "--key", os.path.join(keys, name + ".pub"), "--signer", login, path], aenv)
            check(rc == 0, "sign with %s.pub through the agent: %d %s" % (name, rc, err))
            both_verify(path, login, True, "agent key via .pub " + name)
        path = fresh("p384agent")
        rc, out, err = run([CLI, "sign", "--key", os.path.join(keys, "enc-p384"), "--signer", "signer-enc-p384", path],
                           aenv)
        check(rc == 2 and "P-384" in err and "sshsig" in err, "P-384 in the agent: %d %s" % (rc, err))
        # ... but it can make an SSHSIG, which gpuproof-cli verify accepts
        rc, out, err = run([CLI, "sign", "--format", "sshsig", "--key", os.path.join(keys, "enc-p384"), "--signer",
                            "signer-enc-p384", path], aenv)
        sig = json.load(open(path)).get("signature") or {}
        check(rc == 0 and sig.get("algorithm") == "sshsig" and sig.get("namespace") == "gpu-proof",
              "P-384 agent key, --format sshsig: %d %s %r" % (rc, err, sig))
        rc, out, err = run([CLI, "verify", "--receipt", path, "--repo", clone, "--github-keys-url", keys_url, "--json"],
                           env)
        check(rc == 0 and json.loads(out)["signature"] == "valid", "sshsig receipt verifies: %d %s" % (rc, out))
        tamper(path)
        rc, out, err = run([CLI, "verify", "--receipt", path, "--repo", clone, "--github-keys-url", keys_url, "--json"],
                           env)
        check(rc == 1 and json.loads(out)["signature"] == "invalid", "tampered sshsig receipt: %d %s" % (rc, out))

        # 3. discovery: agent only (no key files in ~/.ssh), GPUPROOF_KEY, user.signingKey, ~/.ssh/id_*
        path = fresh("agentonly")
        rc, out, err = run([CLI, "sign", "--signer", "signer-enc-ed", path], aenv)
        doc = json.load(open(path))
        check(rc == 0 and doc["signature"]["backend"] == "ssh-agent", "agent-only discovery: %d %s" % (rc, err))
        both_verify(path, "signer-enc-ed", True, "agent-only discovery")
        path = fresh("envkey")
        rc, out, err = run([CLI, "sign", path], dict(env, GPUPROOF_KEY=os.path.join(keys, "p256"),
                                                    GPUPROOF_SIGNER="signer-p256"))
        check(rc == 0 and json.load(open(path))["signature"]["signer"] == "signer-p256", "GPUPROOF_KEY/SIGNER: %s" % err)
        both_verify(path, "signer-p256", True, "GPUPROOF_KEY")
        subprocess.run(["git", "-C", clone, "config", "user.signingKey", os.path.join(keys, "rsa.pub")], check=True, env=env)
        subprocess.run(["git", "-C", clone, "config", "gpg.format", "ssh"], check=True, env=env)
        subprocess.run(["git", "-C", clone, "config", "gpuproof.signer", "signer-rsa"], check=True, env=env)
        path = fresh("gitconfig")
        rc, out, err = run([CLI, "sign", "--repo", clone, path], env)
        check(rc == 0 and json.load(open(path))["signature"]["algorithm"] == "rsa-pss-sha256",
              "git config user.signingKey (.pub beside its private key): %d %s" % (rc, err))
        both_verify(path, "signer-rsa", True, "git config user.signingKey")
        os.makedirs(os.path.join(home, ".ssh"))
        shutil.copy(os.path.join(keys, "ed"), os.path.join(home, ".ssh", "id_ed25519"))
        path = fresh("default")
        rc, out, err = run([CLI, "sign", "--signer", "signer-ed", path], env, cwd=tmp)
        check(rc == 0 and json.load(open(path))["signature"]["backend"] == "ssh-local", "~/.ssh/id_ed25519: %s" % err)
        both_verify(path, "signer-ed", True, "~/.ssh/id_ed25519")
        # signer from the origin remote, with a warning
        path = fresh("origin")
        subprocess.run(["git", "-C", clone, "config", "--unset", "gpuproof.signer"], check=True, env=env)
        rc, out, err = run([CLI, "sign", "--repo", clone, path], env)
        check(rc == 0 and "organisation" in err, "signer from origin: %d %s" % (rc, err))
        check(json.load(open(path))["signature"]["signer"] == "alice", "origin owner is alice")

        leftovers = [f for f in os.listdir(tmp) if ".tmp-" in f]
        check(not leftovers, "temporary files left behind: %r" % leftovers)

        # 4. errors
        empty_home = os.path.join(tmp, "empty")
        os.makedirs(empty_home)
        rc, out, err = run([CLI, "sign", "--signer", "x", fresh("nokey")], dict(env, HOME=empty_home), cwd=tmp)
        check(rc == 2 and "ssh-keygen" in err, "no key: %d %s" % (rc, err))
        nosigner = fresh("nosigner")
        doc = json.load(open(nosigner))
        doc["repo"]["remote_url"] = None
        json.dump(doc, open(nosigner, "w"))
        rc, out, err = run([CLI, "sign", "--key", os.path.join(keys, "ed"), nosigner], env, cwd=tmp)
        check(rc == 2 and "--signer" in err, "no signer: %d %s" % (rc, err))
        rc, out, err = run([CLI, "sign", "--key", os.path.join(keys, "ed"), fresh("receiptorigin")], env, cwd=tmp)
        check(rc == 0 and "organisation" in err, "signer from the receipt's remote: %d %s" % (rc, err))
        rc, out, err = run([CLI, "sign", "--key", os.path.join(keys, "ed"), "--signer", "-bad-", fresh("badsigner")], env)
        check(rc == 2, "invalid signer: %d" % rc)
        rc, out, err = run([CLI, "sign", "--key", os.path.join(keys, "missing"), "--signer", "x", fresh("m")], env)
        check(rc == 2 and "does not exist" in err, "missing key: %d %s" % (rc, err))
        bad = os.path.join(tmp, "bad.json")
        with open(bad, "w") as f:
            f.write('{"a": 1, "a": 2}')
        rc, out, err = run([CLI, "sign", "--key", os.path.join(keys, "ed"), "--signer", "x", bad], env)
        check(rc == 2 and open(bad).read() == '{"a": 1, "a": 2}', "malformed receipt left alone: %d %s" % (rc, err))
    finally:
        if agent:
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
