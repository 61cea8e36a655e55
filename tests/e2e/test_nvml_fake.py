#!/usr/bin/python3
"""test_nvml_fake.py - GPU capture of `gpuproof-cli gpu-info` and `run` against a fake NVML.

tests/fake_nvml/fake_nvml.c is built here with `cc -shared -fPIC` into GP_BUILD_DIR (twice: with
and without nvmlDeviceGetComputeRunningProcesses_v3) and loaded through GPUPROOF_NVML_LIB. It has
two devices and reports as their compute processes whatever live process has a given name
(FAKE_NVML_PROCS="DEV:COMM:MIB").

1. gpu-info --json: both devices with every field; NOT_SUPPORTED (device 1's ECC, confidential
   computing when unsupported) is null, never an error; text output names them.
2. run: the test command starts a process named gp_gpuworker (device 1, 777 MiB) two levels down
   (and one that outlives its parent, re-parented to the CLI); meanwhile a process outside the run
   named gp_outsider sits on device 0. The receipt says device 1 used_by_tests with peak 777 and
   device 0 not used (peak 0); gpu_info is device 0 in the plugin's three-field form.
3. The same with the _v2-only library.
4. Without NVML (GPUPROOF_NVML_LIB=/nonexistent) and with a driver that fails nvmlInit: gpu-info
   says "no NVIDIA driver (NVML) found on this machine", exits 0; --json {"nvml": false,
   "gpus": []}; run writes gpu_info null and gpus [].
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

CLI = os.path.abspath(os.environ.get("GP_CLI_BIN", "build/gpuproof-cli"))
SRC = os.environ.get("GP_SOURCE_DIR", os.getcwd())
BUILD = os.environ.get("GP_BUILD_DIR", "build")
PY = "/usr/bin/python3"
failures = []

DEVICE_KEYS = {"index", "name", "uuid", "pci_bus_id", "memory_total_mib", "compute_capability",
               "driver_version", "cuda_driver_version", "ecc_enabled", "mig_enabled",
               "confidential_compute"}


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


def run(args, cwd=None, env=None, timeout=120):
    p = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def build_fake(out_dir):
    src = os.path.join(SRC, "tests", "fake_nvml", "fake_nvml.c")
    libs = {}
    for name, flags in (("v3", []), ("v2", ["-DFAKE_NO_V3"])):
        d = os.path.join(out_dir, name)
        os.makedirs(d, exist_ok=True)
        lib = os.path.join(d, "libnvidia-ml.so.1")
        subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-o", lib, src]
                       + flags, check=True)
        libs[name] = lib
    return libs


def base_env(home):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GPUPROOF_", "FAKE_NVML")) and k != "SSH_AUTH_SOCK"}
    env.update({"HOME": home, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"})
    return env


def check_devices(gpus, what, usage=False):
    check(len(gpus) == 2, "%s: two devices" % what)
    if len(gpus) != 2:
        return
    keys = DEVICE_KEYS | ({"used_by_tests", "peak_memory_mib"} if usage else set())
    for g in gpus:
        check(set(g) == keys, "%s: device fields %r" % (what, sorted(g)))
    d0, d1 = gpus
    check(d0["index"] == 0 and d0["name"] == "NVIDIA Fake H200" and
          d0["uuid"] == "GPU-0f0e0d0c-0000-4000-8000-000000000000" and
          d0["pci_bus_id"] == "00000000:19:00.0" and d0["memory_total_mib"] == 143771 and
          d0["compute_capability"] == "9.0" and d0["ecc_enabled"] is True and
          d0["mig_enabled"] is False, "%s: device 0 %r" % (what, d0))
    check(d1["index"] == 1 and d1["name"] == "NVIDIA Fake L4" and d1["compute_capability"] == "8.9"
          and d1["memory_total_mib"] == 23034 and d1["ecc_enabled"] is None,
          "%s: device 1 (ECC not supported -> null) %r" % (what, d1))
    for g in gpus:
        check(g["driver_version"] == "580.159.03" and g["cuda_driver_version"] == "12.8",
              "%s: driver 580.159.03, CUDA 12.8" % what)


WORKLOAD = r'''
import os, shutil, subprocess, sys, time
tmp, report = sys.argv[1], sys.argv[2]
worker = os.path.join(tmp, "gp_gpuworker")
shutil.copy("/bin/sleep", worker)
# one left running after its parent exits (re-parented to the CLI), and meanwhile one two
# levels down (sh -> gp_gpuworker): for 0.7 s both hold device 1's memory
subprocess.Popen(["/bin/sh", "-c", '"$0" 1.2 & exit 0', worker]).wait()
subprocess.run(["/bin/sh", "-c", '"$0" 0.7', worker], check=True)
time.sleep(0.8)
with open(report, "w") as f:
    f.write('<testsuite><testcase classname="gpu" name="kernel_runs" time="1.2"/></testsuite>')
'''


def main():
    if not os.access(CLI, os.X_OK):
        print("gpuproof-cli not built: skipped")
        return 77
    if not shutil.which("cc"):
        print("no C compiler: skipped")
        return 77
    tmp = tempfile.mkdtemp(prefix="gp-nvml-")
    outsider = None
    try:
        libs = build_fake(os.path.join(BUILD, "fake_nvml"))
        env = base_env(tmp)

        # -- 1. gpu-info ---------------------------------------------------------------------
        e = dict(env, GPUPROOF_NVML_LIB=libs["v3"])
        rc, out, err = run([CLI, "gpu-info", "--json"], env=e)
        check(rc == 0, "gpu-info --json exits 0 (%d) %s" % (rc, err))
        info = json.loads(out) if rc == 0 else {}
        check(info.get("nvml") is True, "nvml: true")
        check_devices(info.get("gpus", []), "gpu-info")
        check(all(g["confidential_compute"] is False for g in info.get("gpus", [])),
              "confidential computing off")
        rc, out, err = run([CLI, "gpu-info", "--json"], env=dict(e, FAKE_NVML_CC="on"))
        check(all(g["confidential_compute"] is True for g in json.loads(out)["gpus"]),
              "confidential computing on")
        rc, out, err = run([CLI, "gpu-info", "--json"], env=dict(e, FAKE_NVML_CC="unsupported"))
        check(rc == 0 and all(g["confidential_compute"] is None for g in json.loads(out)["gpus"]),
              "confidential computing not supported -> null")
        rc, out, err = run([CLI, "gpu-info"], env=e)
        check(rc == 0 and "NVIDIA Fake H200" in out and "NVIDIA Fake L4" in out and
              "580.159.03" in out, "gpu-info text: %s" % out)

        # -- 2. run: which device did the tests use? ------------------------------------------
        repo = os.path.join(tmp, "repo")
        os.makedirs(os.path.join(repo, "src"))
        with open(os.path.join(repo, "src", "k.cu"), "w") as f:
            f.write("__global__ void k() {}\n")
        with open(os.path.join(repo, "workload.py"), "w") as f:
            f.write(WORKLOAD)
        subprocess.run(["git", "init", "-q", "-b", "main", repo], check=True, env=env)
        subprocess.run(["git", "-C", repo, "add", "-A"], check=True, env=env)
        subprocess.run(["git", "-C", repo, "commit", "-qm", "k"], check=True, env=env)
        out_sleep = os.path.join(tmp, "gp_outsider")
        shutil.copy("/bin/sleep", out_sleep)
        outsider = subprocess.Popen([out_sleep, "120"])
        procs = "0:gp_outsider:300,1:gp_gpuworker:777"
        for variant in ("v3", "v2"):
            receipt = os.path.join(tmp, "receipt-%s.json" % variant)
            report = os.path.join(tmp, "report-%s.xml" % variant)
            work = os.path.join(tmp, "work-" + variant)
            os.makedirs(work)
            e = dict(env, GPUPROOF_NVML_LIB=libs[variant], FAKE_NVML_PROCS=procs)
            rc, out, err = run([CLI, "run", "--unsigned", "--paths", "src", "--junit", report,
                                "--out", receipt, "--", PY, "workload.py", work, report],
                               cwd=repo, env=e)
            check(rc == 0, "%s: run exits 0 (%d) %s" % (variant, rc, err[-1000:]))
            if not check(os.path.exists(receipt), "%s: receipt written" % variant):
                continue
            r = json.load(open(receipt))
            env_ = r["environment"]
            check_devices(env_.get("gpus", []), "run " + variant, usage=True)
            gpus = env_.get("gpus", [])
            if len(gpus) == 2:
                check(gpus[0]["used_by_tests"] is False and gpus[0]["peak_memory_mib"] == 0,
                      "%s: device 0 (only an outside process) not used by the tests: %r"
                      % (variant, gpus[0]))
                check(gpus[1]["used_by_tests"] is True and gpus[1]["peak_memory_mib"] == 777 * 2,
                      "%s: device 1 used by the tests, peak 2 x 777 MiB while both workers ran: "
                      "%r" % (variant, gpus[1]))
            check(env_.get("gpu_info") == {"name": "NVIDIA Fake H200",
                                           "driver_version": "580.159.03",
                                           "memory": "143771 MiB"},
                  "%s: gpu_info three-field form of device 0: %r" % (variant, env_.get("gpu_info")))
            check([t["node_id"] for t in r["tests"]] == ["gpu::kernel_runs"],
                  "generic node id classname::name")

        # a run whose processes never touch a GPU: both devices unused
        receipt = os.path.join(tmp, "receipt-idle.json")
        report = os.path.join(tmp, "report-idle.xml")
        e = dict(env, GPUPROOF_NVML_LIB=libs["v3"], FAKE_NVML_PROCS=procs)
        writer = ("open(%r, 'w').write('<testsuite><testcase name=\"t\"/></testsuite>')" % report)
        rc, out, err = run([CLI, "run", "--unsigned", "--paths", "src", "--junit", report, "--out",
                            receipt, "--", PY, "-c", writer], cwd=repo, env=e)
        if check(rc == 0 and os.path.exists(receipt), "idle run (%d) %s" % (rc, err[-500:])):
            gpus = json.load(open(receipt))["environment"]["gpus"]
            check([g["used_by_tests"] for g in gpus] == [False, False] and
                  [g["peak_memory_mib"] for g in gpus] == [0, 0], "idle run used no GPU: %r" % gpus)

        # a pid this PID namespace does not show (NVML in a container reports host pids) on
        # device 0: whether the tests used it cannot be told -> null, not false
        receipt = os.path.join(tmp, "receipt-foreign.json")
        report = os.path.join(tmp, "report-foreign.xml")
        e = dict(env, GPUPROOF_NVML_LIB=libs["v3"], FAKE_NVML_PROCS=procs,
                 FAKE_NVML_FIXED="0:4194399:100")
        writer = ("open(%r, 'w').write('<testsuite><testcase name=\"t\"/></testsuite>')" % report)
        rc, out, err = run([CLI, "run", "--unsigned", "--paths", "src", "--junit", report, "--out",
                            receipt, "--", PY, "-c", writer], cwd=repo, env=e)
        if check(rc == 0 and os.path.exists(receipt), "foreign pid run (%d) %s" % (rc, err[-500:])):
            gpus = json.load(open(receipt))["environment"]["gpus"]
            check(gpus[0]["used_by_tests"] is None and gpus[1]["used_by_tests"] is False,
                  "a foreign pid makes device 0 unknown (null), device 1 stays false: %r" % gpus)

        # -- 4. no NVML ---------------------------------------------------------------------
        for what, e in (("no library", dict(env, GPUPROOF_NVML_LIB="/nonexistent/libnvml.so")),
                        ("nvmlInit fails", dict(env, GPUPROOF_NVML_LIB=libs["v3"],
                                                FAKE_NVML_INIT_FAIL="1"))):
            rc, out, err = run([CLI, "gpu-info"], env=e)
            check(rc == 0 and "no NVIDIA driver (NVML) found on this machine" in out,
                  "%s: gpu-info says so and exits 0 (%d) %r %r" % (what, rc, out, err))
            rc, out, err = run([CLI, "gpu-info", "--json"], env=e)
            j = json.loads(out) if rc == 0 else {}
            check(rc == 0 and j.get("nvml") is False and j.get("gpus") == [],
                  "%s: gpu-info --json %r" % (what, out))
            receipt = os.path.join(tmp, "receipt-none.json")
            report = os.path.join(tmp, "report-none-%d.xml" % len(what))
            writer = ("open(%r, 'w').write('<testsuite><testcase name=\"t\"/></testsuite>')"
                      % report)
            rc, out, err = run([CLI, "run", "--unsigned", "--paths", "src", "--junit", report,
                                "--out", receipt, "--", PY, "-c", writer], cwd=repo, env=e)
            if check(rc == 0, "%s: run exits 0 without NVML (%d) %s" % (what, rc, err)):
                env_ = json.load(open(receipt))["environment"]
                check(env_.get("gpu_info", 1) is None and env_.get("gpus") == [],
                      "%s: gpu_info null, gpus []" % what)
        rc, out, err = run([CLI, "gpu-info", "--help"], env=env)
        check(rc == 0 and "--json" in out, "gpu-info --help")
        rc, out, err = run([CLI, "gpu-info", "extra"], env=env)
        check(rc == 2, "gpu-info with an argument: exit 2")
    finally:
        if outsider:
            outsider.kill()
            outsider.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
