"""Browser tests of the pages (issue 6): Debian's chromium driven by playwright-core.

Starts the real server seeded with the shared vectors and a signed hostile receipt (the helpers of
tests/e2e/test_pages.py), then runs browse.js, which follows dashboard -> repository -> commit ->
receipt -> raw, uses the lookup box, checks what a person sees and that the hostile payloads stay
text, and saves screenshots under $GP_BUILD_DIR/screenshots/. Exits 77 (skipped) when chromium,
node or playwright-core is missing: run tests/browser/setup.sh (make test does).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import test_pages  # noqa: E402


def main():
    reason = test_pages.skip_reason()
    if reason:
        print("skipped: " + reason)
        return 77
    if not os.access("/usr/bin/chromium", os.X_OK):
        print("skipped: /usr/bin/chromium is missing; run tests/browser/setup.sh")
        return 77
    node = shutil.which("node")
    if not node:
        print("skipped: node is missing; run tests/browser/setup.sh")
        return 77
    if not os.path.isfile(os.path.join(HERE, "node_modules", "playwright-core", "package.json")):
        print("skipped: playwright-core is not installed; run tests/browser/setup.sh")
        return 77

    build = os.environ.get("GP_BUILD_DIR") or os.getcwd()
    shots = os.path.join(build, "screenshots")
    os.makedirs(shots, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="gp-browser-")
    ks = srv = None
    try:
        ks, srv, ids, hostile_id = test_pages.start_all(workdir)
        seed = {
            "c1": test_pages.C1, "c2": test_pages.C2, "c3": test_pages.C3,
            "hostile_id": hostile_id, "hostile_login": test_pages.HOSTILE_LOGIN,
            "signers": ["alice", "bob", "carol", "dave", "erin"],
        }
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        env["HOME"] = workdir  # chromium writes its profile under HOME
        try:
            rc = subprocess.run([node, os.path.join(HERE, "browse.js"), srv.base, json.dumps(seed), shots],
                                cwd=HERE, env=env, timeout=300).returncode
        except subprocess.TimeoutExpired:
            print("browser checks timed out")
            rc = 1
        print("screenshots in " + shots)
        if rc != 0:
            print("server log (tail):\n" + srv.read_log())
        return 0 if rc == 0 else 1
    finally:
        if srv:
            srv.close()
        if ks:
            ks.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
