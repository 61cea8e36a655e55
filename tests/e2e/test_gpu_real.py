#!/usr/bin/python3
"""test_gpu_real.py - gpu-info and run against the machine's real NVIDIA driver (skipped, exit 77,
where libnvidia-ml.so.1 or libcuda.so.1 cannot be loaded, which is every machine without a GPU).

1. `gpuproof-cli gpu-info --json`: nvml true, every device with a name, a GPU- UUID, a PCI bus id,
   memory, a compute capability, driver and CUDA driver versions (unsupported fields may be null,
   never an error). Printed in full, for the record.
2. `gpuproof-cli run --junit` of a tiny CUDA program (the driver API through ctypes: no nvcc
   needed) that allocates 512 MiB on CUDA device 0 (CUDA_DEVICE_ORDER=PCI_BUS_ID, so NVML index 0)
   and holds it for 2 s: the receipt's gpus[0] says used_by_tests true with a peak of at least
   512 MiB, and gpu_info is gpus[0] in the plugin's three-field form. The program prints what NVML
   lists for device 0 and its own pid, so a failure (a PID namespace hiding the pids, say) can be
   understood from the output.
"""
import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

CLI = os.path.abspath(os.environ.get("GP_CLI_BIN", "build/gpuproof-cli"))
PY = os.environ.get("PYTHON", "/usr/bin/python3")
failures = []

WORKLOAD = r'''
import ctypes, os, sys, time
report = sys.argv[1]
cuda = ctypes.CDLL("libcuda.so.1")
def ck(r, what):
    if r != 0:
        sys.exit("%s failed: CUresult %d" % (what, r))
ck(cuda.cuInit(0), "cuInit")
dev = ctypes.c_int()
ck(cuda.cuDeviceGet(ctypes.byref(dev), 0), "cuDeviceGet")
ctx = ctypes.c_void_p()
ck(cuda.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev), "cuDevicePrimaryCtxRetain")
ck(cuda.cuCtxSetCurrent(ctx), "cuCtxSetCurrent")
ptr = ctypes.c_uint64()
ck(cuda.cuMemAlloc_v2(ctypes.byref(ptr), ctypes.c_size_t(512 << 20)), "cuMemAlloc")
ck(cuda.cuMemsetD8_v2(ptr, ctypes.c_ubyte(7), ctypes.c_size_t(512 << 20)), "cuMemsetD8")
ck(cuda.cuCtxSynchronize(), "cuCtxSynchronize")
time.sleep(0.5)
try:
    nv = ctypes.CDLL("libnvidia-ml.so.1")
    class P(ctypes.Structure):
        _fields_ = [("pid", ctypes.c_uint), ("mem", ctypes.c_ulonglong),
                    ("gi", ctypes.c_uint), ("ci", ctypes.c_uint)]
    nv.nvmlInit_v2()
    h = ctypes.c_void_p()
    nv.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(h))
    arr, n = (P * 64)(), ctypes.c_uint(64)
    r = nv.nvmlDeviceGetComputeRunningProcesses_v3(h, ctypes.byref(n), arr)
    print("diag: workload pid %d, NVML rc %d, device 0 processes %r" % (
        os.getpid(), r, [(arr[i].pid, arr[i].mem >> 20) for i in range(n.value)]),
        file=sys.stderr)
except OSError as e:
    print("diag: NVML from the workload: %s" % e, file=sys.stderr)
time.sleep(1.5)
cuda.cuMemFree_v2(ptr)
cuda.cuDevicePrimaryCtxRelease(dev)
with open(report, "w") as f:
    f.write('<testsuite><testcase classname="cuda" name="alloc_512mib" time="2.0"/></testsuite>')
'''


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


def main():
    if not os.access(CLI, os.X_OK):
        print("gpuproof-cli not built: skipped")
        return 77
    for lib in ("libnvidia-ml.so.1", "libcuda.so.1"):
        try:
            ctypes.CDLL(lib)
        except OSError:
            print("%s cannot be loaded (no NVIDIA driver): skipped" % lib)
            return 77
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GPUPROOF_", "CUDA_VISIBLE"))}
    env.update({"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "GIT_CONFIG_GLOBAL": "/dev/null",
                "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "t",
                "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
                "GIT_COMMITTER_EMAIL": "t@example.com"})

    p = subprocess.run([CLI, "gpu-info", "--json"], capture_output=True, text=True, env=env,
                       timeout=120)
    print("gpu-info --json:\n" + p.stdout + p.stderr)
    check(p.returncode == 0, "gpu-info exits 0")
    info = json.loads(p.stdout) if p.returncode == 0 else {}
    check(info.get("nvml") is True and len(info.get("gpus", [])) >= 1, "NVML with a device")
    for g in info.get("gpus", []):
        check(isinstance(g.get("name"), str) and g["name"], "device %s has a name" % g.get("index"))
        check(isinstance(g.get("uuid"), str) and g["uuid"].startswith(("GPU-", "MIG-")),
              "device uuid %r" % g.get("uuid"))
        check(isinstance(g.get("pci_bus_id"), str) and re.fullmatch(
            r"[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]", g["pci_bus_id"]),
            "PCI bus id %r" % g.get("pci_bus_id"))
        check(isinstance(g.get("memory_total_mib"), int) and g["memory_total_mib"] > 0, "memory")
        check(re.fullmatch(r"\d+\.\d+", g.get("compute_capability") or ""), "compute capability")
        check(re.fullmatch(r"\d+\.\d+(\.\d+)*", g.get("driver_version") or ""), "driver version")
        check(re.fullmatch(r"\d+\.\d+", g.get("cuda_driver_version") or ""), "CUDA version")
        for k in ("ecc_enabled", "mig_enabled", "confidential_compute"):
            check(g.get(k) in (True, False, None), "%s is a bool or null" % k)

    tmp = tempfile.mkdtemp(prefix="gp-gpu-")
    try:
        repo = os.path.join(tmp, "repo")
        os.makedirs(os.path.join(repo, "src"))
        with open(os.path.join(repo, "src", "workload.py"), "w") as f:
            f.write(WORKLOAD)
        subprocess.run(["git", "init", "-q", "-b", "main", repo], check=True, env=env)
        subprocess.run(["git", "-C", repo, "add", "-A"], check=True, env=env)
        subprocess.run(["git", "-C", repo, "commit", "-qm", "w"], check=True, env=env)
        report = os.path.join(tmp, "report.xml")
        receipt = os.path.join(tmp, "receipt.json")
        p = subprocess.run([CLI, "run", "--unsigned", "--paths", "src", "--junit", report,
                            "--out", receipt, "--", PY, "src/workload.py", report], cwd=repo,
                           env=env, capture_output=True, text=True, timeout=300)
        print("run:\n" + p.stdout + p.stderr)
        check(p.returncode == 0, "run of the CUDA program exits 0")
        if check(os.path.exists(receipt), "receipt written"):
            e = json.load(open(receipt))["environment"]
            print("environment:\n" + json.dumps(e, indent=2))
            gpus = e.get("gpus", [])
            if check(len(gpus) >= 1, "gpus recorded"):
                u = gpus[0].get("used_by_tests")
                check(u is True, "device 0 used by the tests: %r%s" % (u, (
                    " (null: NVML listed pids this PID namespace does not show, e.g. host pids "
                    "inside a container; see the diag line above)") if u is None else ""))
                check((gpus[0].get("peak_memory_mib") or 0) >= 512,
                      "peak memory at least 512 MiB: %r" % gpus[0].get("peak_memory_mib"))
                for g in gpus[1:]:
                    check(g.get("used_by_tests") is not True, "device %s not used" % g["index"])
                check(e.get("gpu_info") == {"name": gpus[0]["name"],
                                            "driver_version": gpus[0]["driver_version"],
                                            "memory": "%d MiB" % gpus[0]["memory_total_mib"]},
                      "gpu_info is device 0's three fields")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
