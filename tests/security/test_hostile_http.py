#!/usr/bin/python3
"""test_hostile_http.py - hostile HTTP never gets a 5xx and never stops the server serving.

Against the real server (--conn-timeout 3, rate limit off): oversized bodies (413, declared and
chunked) and headers (4xx), a chunked body that never ends (closed by the server's timeout while
others are served), slowloris (300 idle half-sent requests while a normal client gets answers in
under a second), wrong methods (405 with Allow), wrong content types (415), HTTP/1.0 and 1.1
without a length (411), malformed request lines, path traversal in static paths (never a file
outside web/static), and GP_HOSTILE_MUTATIONS (default 1000) randomly mutated signed receipts:
byte flips, truncation, field type swaps, deep nesting, huge numbers, NaN/Infinity, duplicate
keys, unicode junk. Every answer is checked; /healthz must answer after each group.
"""
import json
import os
import random
import socket
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reliability"))
import rtools  # noqa: E402
from rtools import KeyDir, KeyServer, Server, Signer, raw_exchange, status_of  # noqa: E402

MUTATIONS = int(os.environ.get("GP_HOSTILE_MUTATIONS", "1000"))
SEED = int(os.environ.get("GP_HOSTILE_SEED", str(int(time.time()))))
SLOWF = 3.0 if rtools.SANITIZE else 1.0
FAST = 1.0 * SLOWF
failures = []
figures = {"requests": 0, "mutations": 0, "by_status": {}}


def expect(cond, msg):
    if not cond:
        failures.append(msg)


def count(st):
    figures["requests"] += 1
    figures["by_status"][str(st)] = figures["by_status"].get(str(st), 0) + 1


def healthy(srv, what):
    t = time.time()
    try:
        st, _, _ = srv.request("GET", "/healthz", timeout=10)
    except OSError as e:
        st = repr(e)
    dt = time.time() - t
    expect(st == 200 and dt < FAST, "after %s: healthz %r in %.2f s" % (what, st, dt))


def raw(srv, data, timeout=5.0):
    resp = raw_exchange(srv.port, data, timeout=timeout)
    st = status_of(resp)
    count(st)
    return st, resp


def test_limits(srv, receipt):
    # declared body over the limit (1 MiB): 413 before reading it
    st, resp = raw(srv, b"POST /api/receipts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 5000000\r\nConnection: close\r\n\r\n" + b"{" * 1000)
    expect(st == 413, "declared 5 MB body: %r" % resp[:200])
    # a real body over the limit, sent whole
    big = b'{"x":"' + b"a" * (2 << 20) + b'"}'
    st, resp = raw(srv, b"POST /api/receipts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(big) + big, timeout=10)
    expect(st == 413, "2 MiB body: %r" % resp[:200])
    # chunked over the limit
    chunk = b"a" * 65536
    data = (b"POST /api/receipts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    data += (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 20 + b"0\r\n\r\n"
    st, resp = raw(srv, data, timeout=10)
    expect(st == 413, "chunked 1.3 MiB body: %r" % resp[:200])
    # chunked within the limit works (a valid receipt)
    data = (b"POST /api/receipts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    for i in range(0, len(receipt), 100):
        part = receipt[i:i + 100]
        data += b"%x\r\n" % len(part) + part + b"\r\n"
    data += b"0\r\n\r\n"
    st, resp = raw(srv, data)
    expect(st in (200, 201), "chunked valid receipt: %r" % resp[:300])
    # headers over the connection memory limit
    st, resp = raw(srv, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 200000 + b"\r\n\r\n")
    expect(st is not None and 400 <= st < 500, "200 kB header: %r" % resp[:200])
    st, resp = raw(srv, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-H: v\r\n" * 20000 + b"\r\n")
    expect(st is not None and 400 <= st < 500, "20000 headers: %r" % resp[:200])
    st, resp = raw(srv, b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    expect(st is not None and 400 <= st < 500, "100 kB URL: %r" % resp[:200])
    healthy(srv, "size limits")


def test_length_and_lines(srv, receipt):
    for name, data, want in [
        ("HTTP/1.0 POST without length", b"POST /api/receipts HTTP/1.0\r\nContent-Type: application/json\r\n\r\n" +
         receipt, (411, 400)),
        ("HTTP/1.1 POST without length", b"POST /api/receipts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
         b"\r\nConnection: close\r\n\r\n", (411,)),
        ("HTTP/1.0 GET", b"GET /healthz HTTP/1.0\r\n\r\n", (200,)),
        ("bad Content-Length", b"POST /api/receipts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Content-Length: -5\r\n\r\n", (400, 413)),
        ("two Content-Lengths", b"POST /api/receipts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Content-Length: 2\r\nContent-Length: 7\r\n\r\n{}xxxxx", (400, 413)),
    ]:
        st, resp = raw(srv, data)
        expect(st in want, "%s: want %s, got %r" % (name, want, resp[:200]))
    for data in [b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", b"\x00\x01\x02\r\n\r\n",
                 b"GET /%zz%00 HTTP/1.1\r\nHost: x\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
                 b"G\xffT / HTTP/1.1\r\n\r\n", b"GET /healthz HTTP/1.1\r\nHost: x\r\n Folded: y\r\n\r\n",
                 b"\r\n\r\n\r\n", b"POST /api/receipts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                 b"Content-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"]:
        st, resp = raw(srv, data)
        # MHD may answer 4xx or just close; never 5xx, except 505 for an HTTP version it does not speak
        # (RFC 9110 15.6.6 names that status for exactly this)
        expect(st is None or st < 500 or (st == 505 and b"HTTP/9.9" in data),
               "malformed %r: %r" % (data[:40], resp[:200]))
    healthy(srv, "malformed request lines")


def test_methods_types(srv, receipt):
    for m in ("PUT", "DELETE", "PATCH", "OPTIONS"):
        st, h, body = srv.request(m, "/api/receipts", body=b"{}", headers={"Content-Type": "application/json"})
        count(st)
        expect(st == 405 and "POST" in h.get("allow", ""), "%s /api/receipts: %d allow=%r" % (m, st, h.get("allow")))
        expect(h.get("content-type", "").startswith("application/problem+json"), "%s: not a problem+json" % m)
    for m, path in (("POST", "/healthz"), ("DELETE", "/api/repos"), ("PUT", "/"), ("POST", "/api/commits/" + "a" * 40)):
        st, h, _ = srv.request(m, path, body=b"x", headers={"Content-Type": "application/json"})
        count(st)
        expect(st == 405 and "GET" in h.get("allow", ""), "%s %s: %d allow=%r" % (m, path, st, h.get("allow")))
    for ct in ("text/plain", "application/jsonx", "application/x-www-form-urlencoded", "multipart/form-data; b=x",
               "", "application/json-patch+json", "text/json"):
        hdrs = {"Content-Type": ct} if ct else {}
        st, _, body = srv.request("POST", "/api/receipts", body=receipt, headers=hdrs)
        count(st)
        expect(st == 415, "Content-Type %r: %d %s" % (ct, st, body[:100]))
    # 415 is decided before the size
    st, resp = raw(srv, b"POST /api/receipts HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                        b"Content-Length: 9000000\r\nConnection: close\r\n\r\n")
    expect(st == 415, "text/plain with a 9 MB length: %r" % resp[:150])
    healthy(srv, "methods and types")


def test_traversal(srv):
    paths = ["/static/../../etc/passwd", "/static/../../../../../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd",
             "/static/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "/static/%252e%252e/%252e%252e/etc/passwd",
             "/static/..%2f..%2f..%2fetc%2fpasswd", "/static/....//....//etc/passwd", "/static/..\\..\\etc\\passwd",
             "/static/%c0%ae%c0%ae/etc/passwd", "/static//etc/passwd", "/static/../templates/layout.html",
             "/static/%2e%2e/templates/layout.html", "/static/../../CMakeLists.txt", "/static/.%2e/.%2e/etc/passwd",
             "/static/../../../../../../proc/self/environ", "/../../etc/passwd",
             "/%2e%2e/%2e%2e/etc/passwd", "/static/./../web/static/../../etc/passwd"]
    for p in paths:
        st, resp = raw(srv, b"GET " + p.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        body = resp.partition(b"\r\n\r\n")[2]
        expect(st is not None and 400 <= st < 500, "GET %s: %r" % (p, resp[:120]))
        for leak in (b"root:", b"cmake_minimum_required", b"{{", b"GP_", b"PATH="):
            expect(leak not in body, "GET %s leaked %r" % (p, leak))
    # the real static files are served; "%00" is not decoded (a NUL would cut the name), so a
    # name holding it matches nothing, and other escapes still work
    st, _, body = srv.request("GET", "/static/app.js")
    count(st)
    expect(st == 200 and body, "GET /static/app.js: %d" % st)
    st, resp = raw(srv, b"GET /static/app.js%00.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    expect(st == 404, "GET /static/app.js%%00.css: %r" % resp[:120])
    st, resp = raw(srv, b"GET /static/app%2Ejs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    expect(st == 200 and resp.endswith(body), "GET /static/app%%2Ejs: %r" % resp[:120])
    healthy(srv, "path traversal")


def test_never_ending(srv):
    """A chunked body that never ends and a slowloris crowd; others keep being served."""
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(b"POST /api/receipts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n10\r\n{\"schema_version\r\n")
    crowd = []
    try:
        for i in range(300):
            c = socket.create_connection(("127.0.0.1", srv.port))
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow-%d: " % i)
            crowd.append(c)
        worst = 0.0
        for i in range(20):
            t = time.time()
            st, _, _ = srv.request("GET", "/healthz" if i % 2 else "/api/repos", timeout=10)
            dt = time.time() - t
            worst = max(worst, dt)
            expect(st == 200, "during slowloris: status %d" % st)
        figures["slowloris_worst_s"] = round(worst, 3)
        expect(worst < FAST, "a normal client waited %.2f s among 300 idle connections" % worst)
        # the server's idle timeout (3 s here) closes the never-ending body and the crowd
        s.settimeout(15)
        t = time.time()
        try:
            while s.recv(4096):
                pass
        except (socket.timeout, ConnectionResetError):
            pass
        dt = time.time() - t
        expect(dt < 10, "a chunked body that never ends was held %.1f s (timeout 3 s)" % dt)
        crowd[0].settimeout(15)
        try:
            data = crowd[0].recv(4096)
        except (socket.timeout, ConnectionResetError):
            data = b"timeout"
        expect(data == b"" or status_of(data) in (408, 400), "an idle half-sent request was not closed: %r" % data[:80])
    finally:
        s.close()
        for c in crowd:
            c.close()
    healthy(srv, "slowloris")


def nest(depth):
    return "[" * depth + "]" * depth


def mutate(rnd, doc, raw_bytes):
    """One hostile variant of a signed receipt: (kind, bytes)."""
    k = rnd.randrange(12)
    if k == 0:
        b = bytearray(raw_bytes)
        for _ in range(rnd.randint(1, 8)):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        return "byteflip", bytes(b)
    if k == 1:
        return "truncate", raw_bytes[:rnd.randrange(len(raw_bytes))]
    d = json.loads(json.dumps(doc))
    paths = []

    def walk(o, p):
        paths.append(p)
        if isinstance(o, dict):
            for key in o:
                walk(o[key], p + [key])
        elif isinstance(o, list):
            for i, v in enumerate(o):
                walk(v, p + [i])

    walk(d, [])
    p = rnd.choice(paths[1:])
    parent = d
    for key in p[:-1]:
        parent = parent[key]
    last = p[-1]
    swaps = [None, True, 0, -1, 1.5, "", "x" * 5000, [], {}, [1, "a"], {"a": None}, 10 ** 40, -10 ** 40,
             "\u202e\ud7ff\u0000", "<script>alert(1)</script>", "'; DROP TABLE receipts; --", 1e308, "../../etc"]
    if k in (2, 3, 4):
        parent[last] = rnd.choice(swaps)
        return "typeswap", json.dumps(d).encode()
    if k == 5:
        if isinstance(parent, dict):
            del parent[last]
        else:
            parent.pop(last)
        return "delete", json.dumps(d).encode()
    if k == 6:
        txt = json.dumps(d)
        return "deepnest", txt.replace('"schema_version"', '"zz":%s,"schema_version"' % nest(rnd.choice([100, 1000, 5000, 50000])), 1).encode()
    if k == 7:
        parent[last] = 0
        txt = json.dumps(d)
        num = rnd.choice(["1" + "0" * 5000, "-" + "9" * 3000, "1e999999", "1" * 400 + ".5e-99999", "0." + "0" * 4000 + "1",
                          "NaN", "Infinity", "-Infinity", "01", "1.", ".5", "0x10", "1e", "+1"])
        return "number", txt.replace('": 0', '": ' + num, 1).encode()
    if k == 8:
        txt = json.dumps(d)
        return "dupkey", txt.replace('{', '{"schema_version": "1", ', 1).encode()
    if k == 9:
        junk = rnd.choice([b"\xff\xfe", b"\xed\xa0\x80", b"\xc0\xaf", b"\x00", b"\\ud800", b"\xf4\x90\x80\x80"])
        b = bytearray(raw_bytes)
        i = raw_bytes.find(b'"', rnd.randrange(len(raw_bytes)))
        if i < 0:
            i = 1
        b[i + 1:i + 1] = junk
        return "unicode", bytes(b)
    if k == 10:
        return "trailing", raw_bytes + rnd.choice([b"x", b"{}", b"\x00", b",", b"]"])
    lst = [{"node_id": "t::%d" % i, "outcome": "passed", "duration_s": 0.0, "checks": []} for i in range(rnd.choice([1000, 20000]))]
    d["tests"] = lst
    return "bigarray", json.dumps(d).encode()


def test_mutations(srv, signer):
    rnd = random.Random(SEED)
    doc = rtools.receipt(signer.login, nonce=7, extra_tests=3)
    good = signer.sign(doc)
    kinds = {}
    for i in range(MUTATIONS):
        kind, body = mutate(rnd, doc, good)
        if len(body) > (1 << 20):
            # over the limit: the server may answer 413 before the body is sent, and close
            st, r = raw(srv, b"POST /api/receipts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body, timeout=10)
            figures["mutations"] += 1
            kinds.setdefault(kind, {}).setdefault(st, 0)
            kinds[kind][st] += 1
            if st not in (413, None):
                failures.append("mutation %d (%s, %d bytes): %r" % (i, kind, len(body), r[:200]))
            continue
        try:
            st, _, resp = srv.request("POST", "/api/receipts", body=body, headers={"Content-Type": "application/json"},
                                      timeout=30)
        except OSError as e:
            failures.append("mutation %d (%s): connection failed: %r" % (i, kind, e))
            continue
        count(st)
        figures["mutations"] += 1
        kinds.setdefault(kind, {}).setdefault(st, 0)
        kinds[kind][st] += 1
        if st >= 500 or st not in (200, 201, 400, 403, 413, 422):
            failures.append("mutation %d (%s): %d %s" % (i, kind, st, resp[:200]))
        elif st >= 400:
            try:
                p = json.loads(resp)
                if p.get("status") != st or not p.get("detail"):
                    failures.append("mutation %d (%s): problem details %r" % (i, kind, p))
            except ValueError:
                failures.append("mutation %d (%s): %d without problem details" % (i, kind, st))
        if i % 100 == 99:
            healthy(srv, "mutation %d" % i)
    figures["mutation_kinds"] = kinds
    # nothing but the signed content of the good receipt can have been stored as verified (the
    # signature block's own unsigned members -- backend, key_fingerprint -- may differ: the id covers
    # them, the signature does not)
    signed = rtools.canonical({k: v for k, v in doc.items() if k != "signature"})
    other = rtools.canonical({k: v for k, v in rtools.receipt(signer.login, nonce=1).items()})  # test_limits'
    rows = rtools.db_query(srv.db, "SELECT raw FROM receipts WHERE status = 'verified' AND signer = ?", (signer.login,))
    figures["verified_variants"] = len(rows)
    for (r,) in rows:
        d = json.loads(r)
        d.pop("signature", None)
        c = rtools.canonical(d)
        if c == other:
            continue
        at = next((i for i in range(min(len(c), len(signed))) if c[i] != signed[i]), min(len(c), len(signed)))
        expect(c == signed, "a mutated receipt verified; its signed bytes differ at %d: %r vs %r" %
               (at, c[max(0, at - 60):at + 60], signed[max(0, at - 60):at + 60]))


def main():
    rtools.skip_unless_server()
    t0 = time.time()
    print("seed %d, %d mutations" % (SEED, MUTATIONS))
    with tempfile.TemporaryDirectory(prefix="gp-hostile-") as tmp:
        signer = Signer("hostile-http")
        KeyDir(os.path.join(tmp, "keys"), [signer])
        ks = KeyServer(keys_dir=os.path.join(tmp, "keys")).start()
        srv = Server(tmp, ks.url, args=["--rate-limit", "0", "--conn-timeout", "3"])
        try:
            srv.start()
            receipt = signer.sign(rtools.receipt(signer.login, nonce=1))
            for fn, args in ((test_limits, (srv, receipt)), (test_length_and_lines, (srv, receipt)),
                             (test_methods_types, (srv, receipt)), (test_traversal, (srv,)),
                             (test_never_ending, (srv,)), (test_mutations, (srv, signer))):
                t = time.time()
                try:
                    fn(*args)
                except Exception:
                    failures.append("%s: %s" % (fn.__name__, traceback.format_exc()))
                print("%-22s %.1f s" % (fn.__name__, time.time() - t), flush=True)
            healthy(srv, "everything")
            log = srv.log()
            srv.stop()
            expect('"status":500' not in log, "a 500 in the request log")
        except Exception:
            failures.append(traceback.format_exc())
        finally:
            if srv.proc:
                try:
                    srv.stop()
                except AssertionError as e:
                    failures.append(str(e))
            ks.stop()
    print("FIGURES hostile: requests=%d mutations=%d by_status=%s slowloris_worst_s=%s seconds=%.1f" %
          (figures["requests"], figures["mutations"], json.dumps(figures["by_status"], sort_keys=True),
           figures.get("slowloris_worst_s"), time.time() - t0))
    print("mutation kinds -> statuses: %s" % json.dumps(figures.get("mutation_kinds", {}), sort_keys=True))
    for f in failures[:40]:
        print("FAIL:", f, file=sys.stderr)
    if len(failures) > 40:
        print("FAIL: ... %d more" % (len(failures) - 40), file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
