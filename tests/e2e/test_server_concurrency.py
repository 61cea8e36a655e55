#!/usr/bin/python3
"""Many clients at once (issue 3): distinct receipts posted concurrently are each acknowledged
once (201), each stored once, each in the ledger once; the group commit batches them; the
ledger's leaves and checkpoints agree (check-ledger) after a clean shutdown. Receipts are signed
here with a fresh Ed25519 key published for the login "zed" by the loopback key server.
"""
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
sys.path.insert(0, os.path.join(HERE, "..", "reliability"))
import gpserver  # noqa: E402
from gpserver import KeyServer, Server, Vectors, SLOW  # noqa: E402

gpserver.skip_unless_server()

from rtools import KeyDir, Signer  # noqa: E402

N = 60 if gpserver.SANITIZE else 200


def signed_runs(zed, vec, name, runs):
    """The vector receipt `name` with environment.run set to each of runs, signed by zed."""
    base = json.loads(vec.raw(vec.by_name(name)))
    out = []
    for run in runs:
        doc = json.loads(json.dumps(base))
        doc["environment"]["run"] = run
        out.append(zed.sign(doc, indent=False))
    return out


class ConcurrencyTest(unittest.TestCase):
    def test_concurrent_distinct_receipts(self):
        tmp = tempfile.mkdtemp(prefix="gp-conc-")
        vec = Vectors()
        zed = Signer("zed")
        keys_dir = KeyDir(os.path.join(tmp, "keys"), [zed]).path
        receipts = signed_runs(zed, vec, "alice-ed25519-0-clean", range(N))
        keys = KeyServer(keys_dir=keys_dir).start()
        srv = Server(tmp, keys.url, args=["--threads", "16", "--rate-limit", "0"]).start()
        try:
            with concurrent.futures.ThreadPoolExecutor(32) as ex:
                results = list(ex.map(lambda raw: srv.post_receipt(raw), receipts))
            ids = set()
            for st, h, body in results:
                self.assertEqual(st, 201, body)
                ids.add(json.loads(body)["id"])
            self.assertEqual(len(ids), N)
            # resubmitting concurrently: all 200, nothing new
            with concurrent.futures.ThreadPoolExecutor(32) as ex:
                again = list(ex.map(lambda raw: srv.post_receipt(raw)[0], receipts[: N // 2]))
            self.assertEqual(set(again), {200})
            indexes = set()
            for rid in ids:
                st, doc = srv.get_json("/api/receipts/" + rid)
                indexes.add(doc["ledger"]["index"])
            self.assertEqual(indexes, set(range(N)))
            st, h, metrics = srv.request("GET", "/metrics")
            text = metrics.decode()
            self.assertIn("gpuproof_ledger_size %d" % N, text)
            batches = int(re.search(r"gpuproof_commit_batches_total (\d+)", text).group(1))
            jobs = int(re.search(r"gpuproof_commit_jobs_total (\d+)", text).group(1))
            # the resubmits verified again and found their id at the insert (ON CONFLICT): a job
            # each that stored nothing (the ledger size above and the indexes say so)
            self.assertEqual(jobs, N + N // 2)
            print("group commit: %d receipts in %d transactions" % (jobs, batches))
            self.assertEqual(srv.stop(), 0)
            p = subprocess.run([gpserver.SERVER_BIN, "check-ledger", "--db", srv.db, "--ledger-key",
                                os.path.join(tmp, "ledger.key"), "--ledger-origin", "test.example/gpuproof"],
                               capture_output=True, timeout=120 * SLOW)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        finally:
            if srv.proc:
                srv.stop()
            keys.stop()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_sigkill_loses_nothing_acknowledged(self):
        tmp = tempfile.mkdtemp(prefix="gp-kill-")
        vec = Vectors()
        zed = Signer("zed")
        keys_dir = KeyDir(os.path.join(tmp, "keys"), [zed]).path
        keys = KeyServer(keys_dir=keys_dir).start()
        srv = Server(tmp, keys.url, args=["--threads", "8", "--rate-limit", "0"]).start()
        acked = {}
        try:
            for cycle in range(3):
                receipts = signed_runs(zed, vec, "bob-ecdsa-0-clean", ("%d-%d" % (cycle, i) for i in range(N)))

                def post(raw):
                    try:
                        st, h, body = srv.post_receipt(raw)
                        return st, body
                    except OSError:
                        return None, None

                with concurrent.futures.ThreadPoolExecutor(16) as ex:
                    futs = [ex.submit(post, raw) for raw in receipts]
                    import time
                    time.sleep(0.05 * SLOW * (cycle + 1))
                    srv.stop(sig=9)
                    for f in futs:
                        st, body = f.result()
                        if st in (200, 201):
                            acked[json.loads(body)["id"]] = True
                srv.start()
                for rid in acked:
                    st, doc = srv.get_json("/api/receipts/" + rid)
                    self.assertEqual((st, doc["status"]), (200, "verified"), rid)
            self.assertEqual(srv.stop(), 0)
            p = subprocess.run([gpserver.SERVER_BIN, "check-ledger", "--db", srv.db, "--ledger-key",
                                os.path.join(tmp, "ledger.key"), "--ledger-origin", "test.example/gpuproof"],
                               capture_output=True, timeout=120 * SLOW)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            print("SIGKILL: %d acknowledged receipts all found after 3 kills" % len(acked))
        finally:
            if srv.proc:
                srv.stop()
            keys.stop()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
