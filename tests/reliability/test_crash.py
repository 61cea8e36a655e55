#!/usr/bin/python3
"""test_crash.py - crash consistency: no acknowledged receipt is ever lost or stored twice.

Many client threads POST distinct, validly signed receipts (and now and then resubmit one that
was acknowledged) while the server is killed with SIGKILL at random moments and restarted on the
same database. After each kill, on the database the dead server left:
  - PRAGMA integrity_check is "ok";
  - no receipt id and no ledger leaf is stored twice, leaf indexes are 0..n-1, every verified
    receipt has its leaf;
  - `gpuproof-server check-ledger --db` passes (leaves recomputed from the receipts, root from
    the leaves, checkpoints);
  - every receipt that got 201/200/202 so far is stored;
and after the restart the receipts acknowledged in that cycle answer GET /api/receipts/{id} with
their id and /raw with the exact bytes that were posted. At the end all acknowledged receipts are
fetched again. One signer in five is a user the key source fails for (500): those receipts are
acknowledged with 202 pending and must survive the kills too; at the end the source heals and
every one of them must become verified, with its ledger leaf.

GP_CRASH_CYCLES (default 20), GP_CRASH_THREADS (default 8), GP_CRASH_SEED.
"""
import http.client
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rtools  # noqa: E402
from rtools import KeyDir, KeyServer, Server, Signer  # noqa: E402

CYCLES = int(os.environ.get("GP_CRASH_CYCLES", "20"))
THREADS = int(os.environ.get("GP_CRASH_THREADS", "8"))
SEED = int(os.environ.get("GP_CRASH_SEED", str(int(time.time()))))
LOAD_MIN, LOAD_MAX = (0.3, 1.2) if rtools.SANITIZE else (0.1, 0.8)


class Load:
    def __init__(self, signers):
        self.signers = signers
        self.lock = threading.Lock()
        self.port = None
        self.stop = False
        self.nonce = 0
        self.acked = {}        # id -> raw bytes
        self.cycle_acked = []  # ids acknowledged since the last kill
        self.uncertain = 0     # requests cut by a kill (may or may not be stored)
        self.resubmits = 0
        self.statuses = {}
        self.errors = []

    def next_receipt(self, rnd):
        with self.lock:
            if self.acked and rnd.random() < 0.1:
                rid = rnd.choice(list(self.acked))
                return rid, self.acked[rid], True
            self.nonce += 1
            n = self.nonce
        s = self.signers[n % len(self.signers)]
        doc = rtools.receipt(s.login, repo="octo/crash%d" % (n % 3), nonce=n, extra_tests=n % 4)
        raw = s.sign(doc)
        return rtools.receipt_id(raw), raw, False

    def client(self, k):
        try:
            self.client_loop(k)
        except Exception:
            with self.lock:
                self.errors.append("client %d: %s" % (k, traceback.format_exc()))

    def client_loop(self, k):
        rnd = random.Random(SEED * 1000 + k)
        while not self.stop:
            port = self.port
            if port is None:
                time.sleep(0.01)
                continue
            rid, raw, again = self.next_receipt(rnd)
            try:
                status, _, body = rtools.post(port, raw, timeout=30)
            except OSError:
                with self.lock:
                    if not again:
                        self.uncertain += 1
                time.sleep(0.01)
                continue
            with self.lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if status in (200, 201, 202):
                    try:
                        got = json.loads(body)["id"]
                    except (ValueError, KeyError, TypeError):
                        got = None
                    if got != rid:
                        self.errors.append("POST answered %d with id %r for receipt %s" % (status, got, rid))
                    if again:
                        self.resubmits += 1
                        if status not in (200, 202):
                            self.errors.append("resubmitted acknowledged receipt %s answered %d" % (rid, status))
                    elif rid not in self.acked:
                        self.acked[rid] = raw
                        self.cycle_acked.append(rid)
                else:
                    self.errors.append("POST answered %d: %s" % (status, body[:200]))


def check_db(db, acked):
    problems = []
    ic = rtools.db_query(db, "PRAGMA integrity_check")
    if ic != [("ok",)]:
        problems.append("integrity_check: %r" % (ic[:5],))
    dup = rtools.db_query(db, "SELECT id, count(*) FROM receipts GROUP BY id HAVING count(*) > 1")
    if dup:
        problems.append("receipts stored twice: %r" % dup[:5])
    dupl = rtools.db_query(db, "SELECT receipt_id, count(*) FROM ledger_leaves GROUP BY receipt_id HAVING count(*) > 1")
    if dupl:
        problems.append("receipts with two ledger leaves: %r" % dupl[:5])
    n, mx = rtools.db_query(db, "SELECT count(*), coalesce(max(idx), -1) FROM ledger_leaves")[0]
    if n != mx + 1:
        problems.append("ledger leaf indexes are not 0..n-1: %d leaves, max index %d" % (n, mx))
    noleaf = rtools.db_query(db, "SELECT count(*) FROM receipts WHERE status = 'verified' "
                                 "AND id NOT IN (SELECT receipt_id FROM ledger_leaves)")[0][0]
    if noleaf:
        problems.append("%d verified receipts have no ledger leaf" % noleaf)
    stored = {r[0] for r in rtools.db_query(db, "SELECT id FROM receipts")}
    missing = [rid for rid in acked if rid not in stored]
    if missing:
        problems.append("%d acknowledged receipts are not stored, e.g. %s" % (len(missing), missing[:3]))
    rc, out = rtools.check_ledger(db)
    if rc != 0:
        problems.append("check-ledger exited %d:\n%s" % (rc, out[-3000:]))
    check_db.found = len(acked) - len(missing)
    return problems, len(stored), n


def check_served(srv, ids, acked):
    problems = []
    for rid in ids:
        st, body = srv.get_json("/api/receipts/" + rid)
        if st != 200 or body.get("id") != rid:
            problems.append("GET /api/receipts/%s: %d %r" % (rid, st, body))
            continue
        st, _, raw = srv.request("GET", "/api/receipts/%s/raw" % rid)
        if st != 200 or raw != acked[rid]:
            problems.append("GET /api/receipts/%s/raw: %d, %s" % (rid, st, "bytes differ" if st == 200 else raw[:200]))
    return problems


def main():
    rtools.skip_unless_server()
    t0 = time.time()
    rnd = random.Random(SEED)
    print("seed %d, %d cycles, %d client threads" % (SEED, CYCLES, THREADS))
    signers = [Signer("crash-%d" % i) for i in range(4)] + [Signer("pend-0")]
    failures = []
    with tempfile.TemporaryDirectory(prefix="gp-crash-") as tmp:
        KeyDir(os.path.join(tmp, "keys"), signers)
        ks = KeyServer(keys_dir=os.path.join(tmp, "keys"), extra=["--fail-prefix", "pend-"]).start()
        srv = Server(tmp, ks.url, args=["--rate-limit", "0", "--threads", "4", "--retry-min-ms", "200",
                                        "--retry-max-ms", "1000"])
        load = Load(signers)
        threads = [threading.Thread(target=load.client, args=(k,), daemon=True) for k in range(THREADS)]
        leaves = stored = pending = 0
        cycles_done = 0
        try:
            srv.start()
            load.port = srv.port
            for t in threads:
                t.start()
            for cycle in range(CYCLES):
                time.sleep(rnd.uniform(LOAD_MIN, LOAD_MAX))
                with load.lock:
                    load.port = None
                    srv.proc.send_signal(signal.SIGKILL)
                srv.stop(signal.SIGKILL)  # reaps it, checks its log for sanitizer reports
                with load.lock:
                    acked = dict(load.acked)
                    fresh = list(load.cycle_acked)
                    load.cycle_acked = []
                problems, stored, leaves = check_db(srv.db, acked)
                srv.start()
                problems += check_served(srv, fresh[:200], acked)
                load.port = srv.port
                cycles_done += 1
                if problems:
                    failures.append("cycle %d: %s" % (cycle + 1, "\n  ".join(problems)))
                    break
                print("cycle %2d: %5d acknowledged (%d new), %5d stored, %5d ledger leaves" %
                      (cycle + 1, len(acked), len(fresh), stored, leaves), flush=True)
            time.sleep(0.3)
            load.stop = True
            for t in threads:
                t.join(60)
            srv.stop()  # SIGTERM: clean shutdown must lose nothing either
            acked = dict(load.acked)
            problems, stored, leaves = check_db(srv.db, acked)
            failures += problems
            pending = rtools.db_query(srv.db, "SELECT count(*) FROM receipts WHERE status = 'pending'")[0][0]
            # the key source heals: every pending receipt becomes verified without another POST
            c = http.client.HTTPConnection("127.0.0.1", ks.port, timeout=10)
            c.request("GET", "/__control/failprefix/")
            c.getresponse().read()
            c.close()
            srv.start()
            deadline = time.time() + (120 if rtools.SANITIZE else 60)
            left = pending
            while time.time() < deadline:
                left = rtools.db_query(srv.db, "SELECT count(*) FROM receipts WHERE status != 'verified'")[0][0]
                if not left:
                    break
                time.sleep(0.5)
            if left:
                failures.append("%d receipts still not verified after the key source healed" % left)
            failures += check_served(srv, list(acked), acked)
            srv.stop()
            problems, stored, leaves = check_db(srv.db, acked)
            failures += problems
            if leaves != stored:
                failures.append("%d receipts but %d ledger leaves after all were verified" % (stored, leaves))
            srv.start()
            st, _, _ = srv.request("GET", "/healthz")
            if st != 200:
                failures.append("healthz %d after the last restart" % st)
            srv.stop()
        except Exception:
            failures.append(traceback.format_exc())
        finally:
            load.stop = True
            if srv.proc:
                try:
                    srv.stop(signal.SIGKILL)
                except AssertionError as e:
                    failures.append(str(e))
            ks.stop()
        failures += load.errors[:20]
        if not load.acked:
            failures.append("no receipt was acknowledged: the load did not run")
        found = getattr(check_db, "found", 0)
        print("FIGURES crash: cycles=%d acknowledged=%d found=%d pending_at_end=%d resubmitted=%d uncertain=%d "
              "stored=%d ledger_leaves=%d statuses=%s seconds=%.1f" %
              (cycles_done, len(load.acked), found, pending, load.resubmits,
               load.uncertain, stored, leaves, json.dumps(load.statuses, sort_keys=True), time.time() - t0))
        if failures:
            for f in failures:
                print("FAIL:", f, file=sys.stderr)
            return 1
        if cycles_done < CYCLES:
            print("FAIL: only %d of %d cycles" % (cycles_done, CYCLES), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
