#!/usr/bin/python3
"""Cross-check lib/merkle.c against the independent RFC 9162 verifier (tests/tools/rfc9162.py).

Runs the verifier's own self-test (RFC 9162 2.1.5 vectors), then has the C unit test binary
dump the proofs lib/merkle.c generates for trees of 1..100 leaves and checks every one: the
Python code recomputes the root from the leaves, generates the RFC's PATH/PROOF itself and
requires byte-identical proofs, verifies them, and requires altered copies to fail. A few proofs
also go through the script's command line, so that its exit status is tested too.
"""
import json
import os
import subprocess
import sys
import tempfile

SRC = os.environ.get("GP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("GP_BUILD_DIR", ".")
TOOL = os.path.join(SRC, "tests", "tools", "rfc9162.py")
sys.path.insert(0, os.path.dirname(TOOL))
import rfc9162  # noqa: E402


def flip(h):
    return bytes([h[0] ^ 0x01]) + h[1:]


def main():
    rc = subprocess.run([sys.executable, TOOL, "selftest"]).returncode
    if rc != 0:
        print("FAIL: rfc9162.py selftest exited %d" % rc)
        return 1
    dumper = os.path.join(BUILD, "test_merkle")
    if not os.access(dumper, os.X_OK):
        print("SKIP: %s not built" % dumper)
        return 77
    leaves = [rfc9162.leaf_hash(b"gpuproof leaf %d" % i) for i in range(100)]
    checked = 0
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "proofs.jsonl")
        subprocess.run([dumper, "--dump", out], check=True)
        with open(out) as f:
            lines = [json.loads(x) for x in f]
    if not lines:
        print("FAIL: the C dumper wrote no proofs")
        return 1
    for t in lines:
        p = [rfc9162.unb64(x) for x in t["proof"]]
        if t["kind"] == "inclusion":
            i, n = t["index"], t["size"]
            leaf, root = rfc9162.unb64(t["leaf"]), rfc9162.unb64(t["root"])
            assert leaf == leaves[i], t
            assert root == rfc9162.mth(leaves[:n]), ("root differs", t)
            assert p == rfc9162.path(i, leaves[:n]), ("PATH differs", t)
            assert rfc9162.verify_inclusion(leaf, i, n, root, p), t
            assert not rfc9162.verify_inclusion(flip(leaf), i, n, root, p), t
            assert not rfc9162.verify_inclusion(leaf, i, n, flip(root), p), t
            assert not rfc9162.verify_inclusion(leaf, i, n, root, p + [root]), t
            for k in range(len(p)):
                assert not rfc9162.verify_inclusion(leaf, i, n, root, p[:k] + [flip(p[k])] + p[k + 1:])
            if p:
                assert not rfc9162.verify_inclusion(leaf, i, n, root, p[:-1]), t
            if n > 1:
                assert not rfc9162.verify_inclusion(leaf, (i + 1) % n, n, root, p), t
        else:
            m, n = t["first"], t["second"]
            r1, r2 = rfc9162.unb64(t["root1"]), rfc9162.unb64(t["root2"])
            assert r1 == rfc9162.mth(leaves[:m]) and r2 == rfc9162.mth(leaves[:n]), t
            assert p == rfc9162.proof(m, leaves[:n]), ("PROOF differs", t)
            assert rfc9162.verify_consistency(m, n, r1, r2, p), t
            assert not rfc9162.verify_consistency(m, n, r1, r2, p + [r2]), t
            if m > 0:
                assert not rfc9162.verify_consistency(m, n, flip(r1), r2, p), t
                assert not rfc9162.verify_consistency(m, n, r1, flip(r2), p), t
            for k in range(len(p)):
                assert not rfc9162.verify_consistency(m, n, r1, r2, p[:k] + [flip(p[k])] + p[k + 1:])
            if p:
                assert not rfc9162.verify_consistency(m, n, r1, r2, p[:-1]), t
        checked += 1

    # The command line: one valid and one forged proof of each kind.
    incl = next(t for t in lines if t["kind"] == "inclusion" and t["size"] == 7 and t["index"] == 3)
    cons = next(t for t in lines if t["kind"] == "consistency" and t["first"] == 3 and t["second"] == 7)
    args_i = ["inclusion", incl["leaf"], "3", "7", incl["root"]] + incl["proof"]
    args_c = ["consistency", "3", "7", cons["root1"], cons["root2"]] + cons["proof"]
    forged_i = list(args_i)
    forged_i[2] = "4"
    forged_c = args_c[:-1]
    for args, want in ((args_i, 0), (args_c, 0), (forged_i, 1), (forged_c, 1), (["nonsense"], 2)):
        got = subprocess.run([sys.executable, TOOL] + args, stdout=subprocess.DEVNULL).returncode
        if got != want:
            print("FAIL: rfc9162.py %s exited %d, want %d" % (args[0], got, want))
            return 1
    print("ok: %d proofs from lib/merkle.c match the independent RFC 9162 verifier" % checked)
    return 0


if __name__ == "__main__":
    sys.exit(main())
