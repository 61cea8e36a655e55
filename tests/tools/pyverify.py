#!/usr/bin/python3
"""pyverify.py - an independent verifier of schema-v1 receipts, written from receipt-v1.md with
Python's json and python3-cryptography, making the checks pytest-gpu-proof's `gpu-proof verify`
makes: signature with the signer's published keys, code fingerprint against a repository's working
tree (git ls-files + hashlib), commit is HEAD or an ancestor, no failed test, at least one test,
no skipped test (unless allowed), not dirty (unless allowed), GPU info (if required), age.

It shares no code with gpuproof: it is the reference the C implementation is tested against.

usage: pyverify.py --receipt FILE --keys-dir DIR [--repo DIR] [--signature-only]
                   [--github-user LOGIN] [--allow-unsigned] [--allow-skipped] [--allow-dirty]
                   [--require-gpu] [--max-age-days N]
Keys are read from DIR/<login>.keys (the text GitHub serves at github.com/<login>.keys).
Prints one JSON object {"ok", "signature", "problems", ...}; exit 0 ok, 1 a check failed,
2 malformed receipt.
"""
import argparse
import base64
import calendar
import hashlib
import json
import os
import re
import subprocess
import sys
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

LOGIN_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class Malformed(Exception):
    pass


def no_duplicates(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise Malformed("repeated key %r" % k)
        obj[k] = v
    return obj


def reject_constant(name):
    raise Malformed("%s is not JSON" % name)


def load_receipt(path):
    raw = open(path, "rb").read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("not UTF-8")
    if text.startswith("\ufeff"):
        raise Malformed("BOM")
    try:
        doc = json.loads(text, object_pairs_hook=no_duplicates, parse_constant=reject_constant)
    except ValueError as e:
        raise Malformed("not JSON: %s" % e)
    if not isinstance(doc, dict):
        raise Malformed("not an object")
    if doc.get("schema_version") != "1":
        raise Malformed("schema_version is not \"1\"")
    for k in ("repo", "fingerprint", "session", "environment"):
        if not isinstance(doc.get(k), dict):
            raise Malformed("%s is not an object" % k)
    if not isinstance(doc["repo"].get("dirty"), bool):
        raise Malformed("repo.dirty is not a boolean")
    if not isinstance(doc.get("tests"), list):
        raise Malformed("tests is not a list")
    for t in doc["tests"]:
        if not isinstance(t, dict) or not isinstance(t.get("node_id"), str) or t.get("outcome") not in (
                "passed", "failed", "skipped"):
            raise Malformed("bad test entry")
    for k in ("started_at", "ended_at"):
        if not isinstance(doc["session"].get(k), str) or not TIME_RE.match(doc["session"][k]):
            raise Malformed("session.%s layout" % k)
    sig = doc.get("signature")
    if sig is not None:
        if not isinstance(sig, dict):
            raise Malformed("signature is not an object")
        if sig.get("algorithm") not in ("ed25519", "ecdsa-sha256", "rsa-pss-sha256", "sshsig"):
            raise Malformed("unknown algorithm")
        if not isinstance(sig.get("signer"), str) or not LOGIN_RE.match(sig["signer"]):
            raise Malformed("signer is not a GitHub login")
        v = sig.get("value")
        if not isinstance(v, str):
            raise Malformed("value is not a string")
        if v:
            try:
                base64.b64decode(v, validate=True)
            except Exception:
                raise Malformed("value is not base64")
    return doc


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("ascii")


def signed_bytes(doc):
    return canonical({k: v for k, v in doc.items() if k != "signature"})


def load_keys(keys_dir, login):
    path = os.path.join(keys_dir, login + ".keys")
    keys = []
    if not os.path.exists(path):
        return keys
    for line in open(path, encoding="ascii", errors="replace"):
        line = line.strip()
        if not line:
            continue
        try:
            keys.append((line.split()[0], serialization.load_ssh_public_key(line.encode())))
        except Exception:
            continue  # unknown types are skipped
    return keys


def verify_signature(doc, keys):
    sig = doc["signature"]
    msg = signed_bytes(doc)
    value = base64.b64decode(sig["value"], validate=True)
    alg = sig["algorithm"]
    for _, key in keys:
        try:
            if alg == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(value, msg)
                return True
            if alg == "ecdsa-sha256" and isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(value, msg, ec.ECDSA(hashes.SHA256()))
                return True
            if alg == "rsa-pss-sha256" and isinstance(key, rsa.RSAPublicKey):
                key.verify(value, msg,
                           padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH),
                           hashes.SHA256())
                return True
        except InvalidSignature:
            continue
    return False


def fingerprint(repo, paths):
    out = subprocess.run(["git", "-C", repo, "ls-files", "-z", "--"] + list(paths), check=True,
                         capture_output=True).stdout
    files = {}
    for p in out.split(b"\0"):
        if not p:
            continue
        full = os.path.join(repo, p.decode())
        if not os.path.isfile(full):
            continue
        with open(full, "rb") as f:
            files[p.decode()] = hashlib.sha256(f.read()).hexdigest()
    digest = hashlib.sha256(json.dumps({"files": files}, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return digest, len(files)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--receipt", default="gpu-proof.json")
    ap.add_argument("--keys-dir", required=True)
    ap.add_argument("--repo")
    ap.add_argument("--github-user")
    ap.add_argument("--signature-only", action="store_true")
    ap.add_argument("--allow-unsigned", action="store_true")
    ap.add_argument("--allow-skipped", action="store_true")
    ap.add_argument("--allow-dirty", action="store_true")
    ap.add_argument("--require-gpu", action="store_true")
    ap.add_argument("--max-age-days", type=int, default=30)
    a = ap.parse_args()

    try:
        doc = load_receipt(a.receipt)
    except Malformed as e:
        print(json.dumps({"ok": False, "error": str(e)}))
        return 2
    problems = []
    result = {}
    sig = doc.get("signature")
    if sig is None or not sig.get("value"):
        result["signature"] = "unsigned"
        if not a.allow_unsigned:
            problems.append("unsigned")
    else:
        login = a.github_user or sig["signer"]
        ok = verify_signature(doc, load_keys(a.keys_dir, login))
        result["signature"] = "valid" if ok else "invalid"
        if not ok:
            problems.append("signature does not verify with %s's keys" % login)
    if not a.signature_only:
        fp = doc["fingerprint"]
        if a.repo:
            digest, _ = fingerprint(a.repo, fp.get("included_paths") or [])
            if digest != fp.get("digest"):
                problems.append("fingerprint differs from the working tree")
            sha = doc["repo"].get("commit_sha")
            if sha:
                head = subprocess.run(["git", "-C", a.repo, "rev-parse", "HEAD"], capture_output=True,
                                      text=True).stdout.strip()
                anc = subprocess.run(["git", "-C", a.repo, "merge-base", "--is-ancestor", sha, "HEAD"],
                                     capture_output=True).returncode == 0
                if sha != head and not anc:
                    problems.append("commit is not HEAD nor an ancestor")
        tests = doc["tests"]
        if not tests:
            problems.append("no tests")
        if any(t["outcome"] == "failed" for t in tests):
            problems.append("a test failed")
        if any(t["outcome"] == "skipped" for t in tests) and not a.allow_skipped:
            problems.append("a test was skipped")
        if doc["repo"]["dirty"] and not a.allow_dirty:
            problems.append("dirty")
        if a.require_gpu:
            env = doc["environment"]
            if env.get("gpu_info") is None and not env.get("gpus"):
                problems.append("no GPU info")
        ended = calendar.timegm(time.strptime(doc["session"]["ended_at"], "%Y-%m-%dT%H:%M:%SZ"))
        now = time.time()
        if ended > now + 300:
            problems.append("ended in the future")
        if a.max_age_days and now - ended > a.max_age_days * 86400:
            problems.append("too old")
    result["ok"] = not problems
    result["problems"] = problems
    print(json.dumps(result, sort_keys=True))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
