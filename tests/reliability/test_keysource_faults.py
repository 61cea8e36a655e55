#!/usr/bin/python3
"""test_keysource_faults.py - a failing key source never holds intake and never loses a receipt.

For each fault of the loopback GitHub (tests/tools/keyserver.py): slow (30 s), 500, 429, garbage,
a huge body, closing without an answer, accepting and never answering, a body that drips one byte
a second, and a closed port: receipts of signers whose keys are not cached are POSTed
concurrently. Each POST must answer within a few seconds (the server's default key fetch timeout
is 4 s) with 202 pending, and other requests (healthz, a GET) must stay fast meanwhile. Then the
source recovers and every pending receipt must become verified without another POST (the
background worker), with its ledger leaf; nothing is lost, nothing stored twice. Last, SIGTERM
while fetches hang: every POST is still answered 202, the server stops cleanly, and the receipts
become verified after a restart.
"""
import http.client
import json
import os
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rtools  # noqa: E402
from rtools import KeyDir, KeyServer, Server, Signer  # noqa: E402

SLOWF = 2.5 if rtools.SANITIZE else 1.0
POST_BOUND = 7.0 * SLOWF      # the default key fetch timeout is 4 s
# Other requests meanwhile: key fetches run on the server's key-fetch threads with the POST's
# connection suspended, so no HTTP thread waits for one; a GET answers at once (was 4.5 s when
# the fetch held the HTTP thread that took the POST and every connection libmicrohttpd gave it).
FAST_BOUND = 1.5 if rtools.SANITIZE else 1.0
RECOVER_BOUND = 30.0 * SLOWF  # pending -> verified once the source is back (retry max 1 s here)
# fast failures first; the slow ones open the server's key-fetch breaker (5 s), waited out between
FAULTS = ["500", "429", "garbage", "huge", "down", "closed", "slow", "hang", "drip"]
SLOW_FAULTS = ("slow", "hang", "drip")
BREAKER_S = 5.5
PER_FAULT = 3


def timed(fn, *a, **kw):
    t = time.time()
    r = fn(*a, **kw)
    return r, time.time() - t


def main():
    rtools.skip_unless_server()
    failures = []
    figures = {"posted": 0, "pending": 0, "verified_after_recovery": 0, "max_post_s": 0.0, "max_get_s": 0.0}
    with tempfile.TemporaryDirectory(prefix="gp-keyfault-") as tmp:
        keydir = KeyDir(os.path.join(tmp, "keys"))
        ks = KeyServer(keys_dir=keydir.path, extra=["--slow-seconds", "30"]).start()
        port = ks.port
        srv = Server(tmp, ks.url, args=["--rate-limit", "0", "--retry-min-ms", "200", "--retry-max-ms", "1000"])
        try:
            srv.start()
            # a signer whose keys are cached, for the "other requests stay fast" probe
            warm = Signer("warm-signer")
            keydir.add(warm)
            st, _, body = rtools.post(srv.port, warm.sign(rtools.receipt(warm.login, nonce=1)))
            if st != 201:
                raise AssertionError("warm-up POST: %d %s" % (st, body[:300]))
            warm_id = json.loads(body)["id"]
            all_ids = {warm_id}
            for fault in FAULTS:
                if fault in SLOW_FAULTS:
                    time.sleep(BREAKER_S)
                # more stuck fetches than HTTP threads (4): queued requests must not wait a timeout each
                n = PER_FAULT * 2 if fault in SLOW_FAULTS else PER_FAULT
                signers = [Signer("fault-%s-%d" % (fault, i)) for i in range(n)]
                for s in signers:
                    keydir.add(s)
                if fault == "closed":
                    ks.stop()
                else:
                    ks.set_mode(fault)
                results = [None] * n
                ids = []

                def one(i):
                    raw = signers[i].sign(rtools.receipt(signers[i].login, nonce=100 + i, repo="octo/faults"))
                    ids.append(rtools.receipt_id(raw))
                    try:
                        results[i] = timed(rtools.post, srv.port, raw, timeout=60)
                    except Exception as e:  # noqa: BLE001
                        results[i] = ((None, {}, repr(e).encode()), 0.0)

                threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
                for t in threads:
                    t.start()
                time.sleep(0.3)
                # while the fetches are stuck, other requests answer quickly
                for path in ("/healthz", "/api/receipts/" + warm_id, "/"):
                    (st, _, _), dt = timed(srv.request, "GET", path)
                    figures["max_get_s"] = max(figures["max_get_s"], dt)
                    if st != 200 or dt > FAST_BOUND:
                        failures.append("%s: GET %s took %.2f s (status %d) while key fetches were stuck" %
                                        (fault, path, dt, st))
                for t in threads:
                    t.join(120)
                for i, ((st, _, body), dt) in enumerate(results):
                    figures["posted"] += 1
                    figures["max_post_s"] = max(figures["max_post_s"], dt)
                    if dt > POST_BOUND:
                        failures.append("%s: POST took %.2f s (bound %.1f s)" % (fault, dt, POST_BOUND))
                    if st != 202:
                        failures.append("%s: POST answered %r, want 202 pending: %s" % (fault, st, body[:300]))
                        continue
                    doc = json.loads(body)
                    if doc.get("status") != "pending":
                        failures.append("%s: 202 with status %r" % (fault, doc.get("status")))
                    figures["pending"] += 1
                all_ids.update(ids)
                if fault != "closed":
                    c = http.client.HTTPConnection("127.0.0.1", ks.port, timeout=10)
                    c.request("GET", "/__control/stats")
                    seen = json.loads(c.getresponse().read())["requests"]
                    c.close()
                    if not any(seen.get(s.login) for s in signers):
                        failures.append("%s: the key server saw no fetch for %s: the fault was not exercised" %
                                        (fault, [s.login for s in signers]))
                # recovery
                if fault == "closed":
                    ks = KeyServer(keys_dir=keydir.path, port=port, extra=["--slow-seconds", "30"]).start()
                else:
                    ks.set_mode("ok")
                deadline = time.time() + RECOVER_BOUND
                left = set(ids)
                while left and time.time() < deadline:
                    for rid in list(left):
                        st, doc = srv.get_json("/api/receipts/" + rid)
                        if st == 200 and doc.get("status") == "verified":
                            left.discard(rid)
                            figures["verified_after_recovery"] += 1
                            if not doc.get("ledger") or doc["ledger"].get("index") is None:
                                failures.append("%s: verified receipt %s has no ledger index" % (fault, rid))
                        elif st != 200 or doc.get("status") not in ("pending", "verified"):
                            failures.append("%s: receipt %s is %d %r" % (fault, rid, st, doc))
                            left.discard(rid)
                    time.sleep(0.2)
                if left:
                    failures.append("%s: %d receipts still not verified %.0f s after the source recovered" %
                                    (fault, len(left), RECOVER_BOUND))
                print("%-8s: %d POSTs, slowest %.2f s, all verified after recovery: %s" %
                      (fault, n, max(r[1] for r in results), not left), flush=True)
            # SIGTERM while key fetches are stuck: every POST is still answered (202 pending), the
            # server stops cleanly, and the acknowledged receipts become verified after a restart
            time.sleep(BREAKER_S)
            ks.set_mode("hang")
            n = 12  # more than the server's key-fetch threads (4): some wait in its queue
            signers = [Signer("shutdown-%d" % i) for i in range(n)]
            for s in signers:
                keydir.add(s)
            raws = [s.sign(rtools.receipt(s.login, nonce=500 + i, repo="octo/faults")) for i, s in enumerate(signers)]
            results = [None] * n

            def post_one(i):
                try:
                    results[i] = timed(rtools.post, srv.port, raws[i], timeout=60)
                except Exception as e:  # noqa: BLE001
                    results[i] = ((None, {}, repr(e).encode()), 0.0)

            threads = [threading.Thread(target=post_one, args=(i,)) for i in range(n)]
            for t in threads:
                t.start()
            time.sleep(0.5)
            t0 = time.time()
            rc = srv.stop()
            stop_s = time.time() - t0
            for t in threads:
                t.join(120)
            if rc != 0:
                failures.append("shutdown with key fetches stuck: exit status %r" % rc)
            if stop_s > POST_BOUND:
                failures.append("shutdown with key fetches stuck took %.2f s (bound %.1f s)" % (stop_s, POST_BOUND))
            acked = []
            for i, ((st, _, body), dt) in enumerate(results):
                if st != 202:
                    failures.append("shutdown: POST answered %r, want 202 pending: %s" % (st, body[:300]))
                else:
                    acked.append(rtools.receipt_id(raws[i]))
            all_ids.update(acked)
            print("shutdown: %d POSTs answered 202 while stopping in %.2f s" % (len(acked), stop_s), flush=True)
            ks.set_mode("ok")
            srv.start()
            deadline = time.time() + RECOVER_BOUND
            left = set(acked)
            while left and time.time() < deadline:
                for rid in list(left):
                    st, doc = srv.get_json("/api/receipts/" + rid)
                    if st == 200 and doc.get("status") == "verified":
                        left.discard(rid)
                time.sleep(0.2)
            if left:
                failures.append("shutdown: %d acknowledged receipts not verified after the restart" % len(left))
            # nothing lost, nothing twice
            rows = rtools.db_query(srv.db, "SELECT id, status FROM receipts")
            stored = {r[0]: r[1] for r in rows}
            if len(rows) != len(stored):
                failures.append("duplicate receipt rows")
            for rid in all_ids:
                if stored.get(rid) != "verified":
                    failures.append("receipt %s is %r in the database" % (rid, stored.get(rid)))
            srv.stop()
            rc, out = rtools.check_ledger(srv.db)
            if rc != 0:
                failures.append("check-ledger: " + out[-2000:])
        except Exception:
            failures.append(traceback.format_exc())
        finally:
            if srv.proc:
                try:
                    srv.stop()
                except AssertionError as e:
                    failures.append(str(e))
            ks.stop()
    print("FIGURES keysource: faults=%d posted=%d pending=%d verified_after_recovery=%d max_post_s=%.2f "
          "max_get_s=%.3f" % (len(FAULTS), figures["posted"], figures["pending"], figures["verified_after_recovery"],
                              figures["max_post_s"], figures["max_get_s"]))
    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
