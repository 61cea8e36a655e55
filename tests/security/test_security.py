#!/usr/bin/python3
"""test_security.py - the defences, each with a test that fails if the defence goes away.

XSS: one validly signed receipt carries a distinct HTML payload in every string a page shows
(node ids, check names and metadata, branch, remote URL, GPU names and fields, platform and
versions, included paths, fingerprint algorithm...), and its signer's key line has one in its
comment. Every page (dashboard, repository, commit, receipt, signer, lookup, badge) must hold no
raw payload tag, must hold the escaped form of the payloads it shows, and the CSP must forbid
inline script.
SQL: quotes, semicolons, comments and UNION in every path segment and query parameter, and a
stored receipt whose strings are SQL: only 4xx or correct empty answers, the strings stored
literally, the database intact.
SSRF: signer logins and repository URLs that are paths, URLs, or traversal: refused (400) before
any fetch -- the loopback key server must see no request for them.
Replay: the same signature on another repository's URL or another commit -> 422; the same
receipt again -> 200 and one row.
Policy: a receipt validly signed by a real user's key for a repository the policy does not
accept -> 403, nothing stored.
"""
import http.client
import json
import os
import re
import sys
import tempfile
import traceback
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reliability"))
import rtools  # noqa: E402
from rtools import KeyDir, KeyServer, Server, Signer  # noqa: E402

failures = []
C1 = "a" * 40


def expect(cond, msg):
    if not cond:
        failures.append(msg)


def payload(tag):
    return '<b id=xss-%s>"\'&<script>x</script>' % tag


RAW_MARK = re.compile(rb"<b id=xss-|<script>x</script>")
ESC_MARK = re.compile(rb"&lt;b id=xss-([a-z0-9_.-]+)")


def xss_receipt(signer):
    P = payload
    tests = [
        {"node_id": "tests/test_x.py::test_a[" + P("nodeid") + "]", "outcome": "failed", "duration_s": 0.5,
         "checks": [{"name": P("checkname"), "outcome": "failed",
                     "metadata": {P("metakey"): P("metavalue"), "nested": {"deep": [P("metalist")]}}}]},
        {"node_id": "tests/test_x.py::test_b", "outcome": "skipped", "duration_s": 0.0, "checks": []},
    ]
    doc = rtools.receipt(signer.login, repo="octo/xss", commit=C1)
    doc["tests"] = tests
    doc["session"]["node_ids"] = [t["node_id"] for t in tests]
    doc["repo"]["branch"] = P("branch")
    doc["fingerprint"]["included_paths"] = [P("paths"), "tests"]
    doc["environment"].update({
        "python_version": P("pyver"), "platform": P("platform"), "pytest_version": P("pytestver"),
        "plugin_version": P("pluginver"),
        "gpu_info": {"name": P("gpuinfoname"), "driver_version": P("gpuinfodriver"), "memory": P("gpuinfomem")},
        "gpus": [{"name": P("gpuname"), "uuid": P("gpuuuid"), "pci_bus_id": P("gpupci"), "memory_total_mib": 81559,
                  "compute_capability": P("gpucc"), "driver_version": P("gpudriver"),
                  "cuda_driver_version": P("gpucuda"), "ecc": True, "mig": False, "cc": False,
                  "used_by_tests": True, "peak_memory_mib": 10}]})
    return doc


def check_page(srv, path, seen_escaped):
    st, h, body = srv.request("GET", path)
    ctype = h.get("content-type", "")
    csp = h.get("content-security-policy", "")
    expect(st == 200 or (st == 303 and path.startswith("/lookup")), "GET %s: %d" % (path, st))
    expect(csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp and
           ("script-src 'self'" in csp or "default-src 'none'" in csp), "GET %s: CSP %r" % (path, csp))
    expect(h.get("x-content-type-options") == "nosniff", "GET %s: no nosniff" % path)
    m = RAW_MARK.search(body)
    expect(not m, "GET %s (%s): raw payload %r" % (path, ctype, body[max(0, m.start() - 80):m.end() + 40] if m else b""))
    seen_escaped.update(x.decode() for x in ESC_MARK.findall(body))
    return body


def test_xss(srv, ks_dir):
    # the signer's key comment is hostile too (shown where a key is)
    evil = Signer("xss-signer")
    evil.line = evil.line.rsplit(" ", 1)[0] + " " + payload("keycomment")
    KeyDir(ks_dir, [evil])
    doc = xss_receipt(evil)
    raw = evil.sign(doc)
    st, _, body = rtools.post(srv.port, raw)
    expect(st == 201, "POST xss receipt: %d %s" % (st, body[:300]))
    rid = json.loads(body)["id"] if st in (200, 201) else "0" * 64
    # mode: a hostile value is either refused by validation or escaped
    doc2 = rtools.receipt(evil.login, repo="octo/xss", commit=C1, nonce=2, mode=payload("mode"))
    st2, _, body2 = rtools.post(srv.port, evil.sign(doc2))
    expect(st2 in (201, 400), "POST mode payload: %d %s" % (st2, body2[:200]))
    seen = set()
    pages = ["/", "/repos/octo/xss", "/commits/" + C1, "/receipts/" + rid, "/signers/" + evil.login,
             "/lookup?q=" + C1[:10], "/lookup?q=" + evil.login, "/?q=" + urllib.parse.quote(payload("query")),
             "/commits/" + C1 + "?filter=" + urllib.parse.quote(payload("filter"))]
    if st2 == 201:
        pages.append("/receipts/" + json.loads(body2)["id"])
    for p in pages:
        check_page(srv, p, seen)
    stb, hb, svg = srv.request("GET", "/badge/octo/xss/%s.svg" % C1)
    expect(stb == 200 and not RAW_MARK.search(svg), "badge: %d %r" % (stb, svg[:200]))
    # 404 pages reflect nothing raw either
    st, _, body = srv.request("GET", "/repos/" + urllib.parse.quote("<b id=xss-404>") + "/x")
    expect(not RAW_MARK.search(body), "404 page reflects the path raw")
    # the payloads of the fields a page shows were there, escaped (proves the check saw them)
    must = {"nodeid", "checkname", "metavalue", "branch", "gpuname"}
    expect(must <= seen, "escaped payloads missing from the pages: %s (seen %s)" % (sorted(must - seen), sorted(seen)))
    print("xss: %d pages, escaped fields seen: %s" % (len(pages) + 1, ",".join(sorted(seen))))
    return rid


def test_sql(srv, rid):
    before = rtools.db_query(srv.db, "SELECT count(*) FROM receipts")[0][0]
    inj = ["' OR '1'='1", "'; DROP TABLE receipts; --", "\" OR 1=1 --", "1 UNION SELECT raw FROM receipts",
           "%27%20OR%201%3D1--", "x'||(SELECT id FROM receipts LIMIT 1)||'", "*", "%", "_", "\\", "'--"]
    n = 0
    for v in inj:
        q = urllib.parse.quote(v, safe="")
        for path in ["/api/receipts/" + q, "/api/receipts/%s/raw" % q, "/api/commits/" + q, "/api/commits/%s?repo=%s" % (C1, q),
                     "/api/signers/" + q, "/api/repos/%s/xss/commits" % q, "/api/repos/octo/%s/commits" % q,
                     "/api/repos/octo/xss/commits?cursor=" + q, "/api/repos/octo/xss/commits?limit=" + q,
                     "/api/ledger/proof?index=" + q, "/commits/" + q, "/signers/" + q, "/repos/octo/" + q,
                     "/receipts/" + q, "/lookup?q=" + q, "/api/lookup?q=" + q, "/badge/octo/%s/%s.svg" % (q, C1)]:
            st, _, body = srv.request("GET", path)
            n += 1
            expect(st < 500, "GET %s: %d" % (path, st))
            if st == 200 and path.startswith("/api/") and "repo=" in path:
                doc = json.loads(body)
                expect(doc.get("receipts") == [] and doc.get("validated") is False,
                       "GET %s: an injected repo filter matched receipts: %r" % (path, body[:200]))
            if st == 200 and path.startswith("/api/signers/"):
                expect(json.loads(body).get("receipts") == [], "GET %s matched receipts" % path)
            if st == 200 and "cursor=" in path:
                doc = json.loads(body)
                expect(not doc.get("commits"), "GET %s: an injected cursor returned commits %r" % (path, body[:200]))
    # values that are SQL are stored and served literally
    s = Signer("sql-signer")
    KeyDir(srv.ks_dir, [s])
    doc = rtools.receipt(s.login, repo="octo/sql", nonce=3, branch="main'; DROP TABLE receipts; --",
                         node_prefix="tests/t.py::test_x' OR '1'='1")
    st, _, body = rtools.post(srv.port, s.sign(doc))
    expect(st == 201, "POST sql receipt: %d %s" % (st, body[:200]))
    if st == 201:
        summ = json.loads(body)
        expect(summ.get("branch") == "main'; DROP TABLE receipts; --", "branch not stored literally: %r" % summ.get("branch"))
    after = rtools.db_query(srv.db, "SELECT count(*) FROM receipts")[0][0]
    expect(after == before + 1, "receipts %d before, %d after the injections (+1 expected)" % (before, after))
    expect(rtools.db_query(srv.db, "PRAGMA integrity_check") == [("ok",)], "integrity_check after injections")
    st, _, body = srv.request("GET", "/api/receipts/" + rid)
    expect(st == 200, "the xss receipt is gone after the injections: %d" % st)
    print("sql: %d injected requests" % n)


def test_ssrf(srv, ks):
    s = Signer("ssrf-ok")
    KeyDir(srv.ks_dir, [s])
    logins = ["../evil", "a@b", "x/../../", "http://169.254.169.254/latest", "evil.com#", "%2e%2e", "a?b=c", "-abc",
              "abc-", "a--b", "a" * 40, "a b", "a\nb", "a/b", "..", ".", "a\\b", "{user}", "127.0.0.1:22", "\u0430lice",
              "a%00b", "evil.com/x?y=", "@evil.com", "a:b@evil"]
    n = 0
    for login in logins:
        doc = rtools.receipt(login, nonce=len(login))
        raw = s.sign(doc)
        d = json.loads(raw)
        d["signature"]["signer"] = login
        st, _, body = rtools.post(srv.port, json.dumps(d).encode())
        n += 1
        expect(st == 400, "signer %r: %d %s" % (login, st, body[:200]))
    for url in ["git@github.com:../../etc.git", "https://github.com/a/b/../../c", "https://evil.com/x/y.git",
                "http://169.254.169.254/a/b", "file:///etc/passwd", "git@github.com:a/..", "ssh://git@github.com/%2e%2e/x.git",
                "https://github.com/a/b?x=../../y", "https://github.com/{user}/x", "git@evil.com:a/b.git"]:
        doc = rtools.receipt(s.login, nonce=1000 + n)
        doc["repo"]["remote_url"] = url
        st, _, body = rtools.post(srv.port, s.sign(doc))
        n += 1
        expect(st in (201, 400), "remote_url %r: %d %s" % (url, st, body[:200]))
        if st == 201:
            repo = json.loads(body).get("repo")
            expect(repo is None or re.fullmatch(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+", repo) and ".." not in repo,
                   "remote_url %r gave repo %r" % (url, repo))
    c = http.client.HTTPConnection("127.0.0.1", ks.port, timeout=10)
    c.request("GET", "/__control/stats")
    seen = json.loads(c.getresponse().read())["requests"]
    c.close()
    legit = {"xss-signer", "sql-signer", "ssrf-ok", "replay-signer"}
    bad = {k: v for k, v in seen.items() if k not in legit}
    expect(not bad, "the key server was asked for %r" % bad)
    print("ssrf: %d hostile logins and URLs, key server saw only %s" % (n, sorted(seen)))


def test_replay(srv):
    s = Signer("replay-signer")
    KeyDir(srv.ks_dir, [s])
    doc = rtools.receipt(s.login, repo="octo/original", nonce=77)
    raw = s.sign(doc)
    st, _, body = rtools.post(srv.port, raw)
    expect(st == 201, "replay original: %d %s" % (st, body[:200]))
    rid = rtools.receipt_id(raw)
    st, _, body = rtools.post(srv.port, raw)
    expect(st == 200 and json.loads(body).get("id") == rid, "resubmission: %d" % st)
    n = rtools.db_query(srv.db, "SELECT count(*) FROM receipts WHERE id = ?", (rid,))[0][0]
    expect(n == 1, "resubmitted receipt stored %d times" % n)
    for field, value in (("remote_url", "git@github.com:octo/other.git"), ("remote_url", "https://github.com/octo/original"),
                         ("commit_sha", "b" * 40), ("branch", "release"), ("dirty", True),
                         ("github_username", "alice")):
        d = json.loads(raw)
        d["repo"][field] = value
        st, _, body = rtools.post(srv.port, json.dumps(d).encode())
        expect(st in (422, 400), "replay with %s=%r: %d %s" % (field, value, st, body[:200]))
    d = json.loads(raw)
    d["tests"][0]["outcome"] = "failed"
    st, _, body = rtools.post(srv.port, json.dumps(d).encode())
    expect(st == 422, "replay with an outcome changed: %d" % st)
    rows = rtools.db_query(srv.db, "SELECT count(*) FROM receipts WHERE signer = ?", (s.login,))[0][0]
    expect(rows == 1, "replays stored: %d rows for the signer" % rows)
    print("replay: 7 altered replays refused, resubmission idempotent")


def test_policy(tmp):
    """A real user's valid signature for a repository the policy does not accept: 403."""
    pol = os.path.join(tmp, "policy.json")
    with open(pol, "w") as f:
        json.dump({"accept_unknown_repos": False, "repos": {"octo/allowed": {"allowed_signers": ["real-user"]}}}, f)
    user, other = Signer("real-user"), Signer("other-user")
    kd = os.path.join(tmp, "pkeys")
    KeyDir(kd, [user, other])
    ks = KeyServer(keys_dir=kd).start()
    srv = Server(os.path.join(tmp), ks.url, args=["--policy", pol, "--rate-limit", "0"], db=os.path.join(tmp, "policy.db"))
    try:
        srv.start()
        cases = [(user, "octo/notallowed", 403), (user, "evil/allowed", 403), (other, "octo/allowed", 403),
                 (user, "octo/allowed", 201)]
        for i, (signer, repo, want) in enumerate(cases):
            raw = signer.sign(rtools.receipt(signer.login, repo=repo, nonce=500 + i))
            st, _, body = rtools.post(srv.port, raw)
            expect(st == want, "policy: %s for %s: %d (want %d) %s" % (signer.login, repo, st, want, body[:200]))
            if want == 403:
                n = rtools.db_query(srv.db, "SELECT count(*) FROM receipts WHERE id = ?", (rtools.receipt_id(raw),))[0][0]
                expect(n == 0, "a refused receipt was stored")
        print("policy: %d cases" % len(cases))
    finally:
        srv.stop()
        ks.stop()


def main():
    rtools.skip_unless_server()
    with tempfile.TemporaryDirectory(prefix="gp-security-") as tmp:
        kd = os.path.join(tmp, "keys")
        KeyDir(kd)
        ks = KeyServer(keys_dir=kd).start()
        srv = Server(tmp, ks.url, args=["--rate-limit", "0"])
        srv.ks_dir = kd
        try:
            srv.start()
            rid = "0" * 64
            for fn, args in ((test_xss, (srv, kd)), (test_sql, None), (test_ssrf, (srv, ks)), (test_replay, (srv,))):
                try:
                    if fn is test_sql:
                        fn(srv, rid)
                    else:
                        r = fn(*args)
                        if fn is test_xss:
                            rid = r
                except Exception:
                    failures.append("%s: %s" % (fn.__name__, traceback.format_exc()))
            log = srv.log()
            expect('"status":500' not in log, "a 500 in the request log")
            srv.stop()
            rc, out = rtools.check_ledger(srv.db)
            expect(rc == 0, "check-ledger after the attacks: " + out[-1000:])
        except Exception:
            failures.append(traceback.format_exc())
        finally:
            if srv.proc:
                try:
                    srv.stop()
                except AssertionError as e:
                    failures.append(str(e))
            ks.stop()
        try:
            test_policy(tmp)
        except Exception:
            failures.append("test_policy: " + traceback.format_exc())
    for f in failures[:40]:
        print("FAIL:", f, file=sys.stderr)
    print("FIGURES security: failures=%d" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
