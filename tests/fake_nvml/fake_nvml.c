/*
 * fake_nvml.c - a stand-in libnvidia-ml.so.1 for the tests: two devices with fixed properties,
 * built by tests/e2e/test_nvml_fake.py with `cc -shared -fPIC` and loaded by gpuproof-cli through
 * GPUPROOF_NVML_LIB.
 *
 * Compute processes: FAKE_NVML_PROCS="DEV:COMM:MIB,..." reports every live process whose
 * /proc/<pid>/comm is COMM as running on device DEV holding MIB MiB. So a test names the
 * processes it starts (a copy of sleep called gp_gpuworker) and the fake says they use a GPU.
 * FAKE_NVML_FIXED="DEV:PID:MIB,..." reports PID itself, live or not (a pid from another PID
 * namespace, as NVML shows host pids inside a container).
 * FAKE_NVML_INIT_FAIL=1 makes nvmlInit fail as without a loaded driver.
 * FAKE_NVML_CC=on|off|unsupported sets the confidential computing state (default off).
 * Built with -DFAKE_NO_V3 it lacks nvmlDeviceGetComputeRunningProcesses_v3 (older drivers).
 * Device 1 answers NOT_SUPPORTED for ECC, as GeForce boards do.
 * The layouts are the real nvml.h's (see lib/nvml.c).
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int nvmlReturn_t;
typedef struct fake_dev *nvmlDevice_t;

typedef struct {
    char busIdLegacy[16];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;

typedef struct {
    unsigned long long total, free, used;
} nvmlMemory_t;

typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId, computeInstanceId;
} nvmlProcessInfo_t;

typedef struct {
    unsigned int environment, ccFeature, devToolsMode;
} nvmlConfComputeSystemState_t;

struct fake_dev {
    const char *name, *uuid, *bus;
    unsigned long long mib;
    int major, minor, ecc, mig;
};

static struct fake_dev devs[2] = {
    {"NVIDIA Fake H200", "GPU-0f0e0d0c-0000-4000-8000-000000000000", "00000000:19:00.0", 143771, 9,
     0, 1, 0},
    {"NVIDIA Fake L4", "GPU-1f1e1d1c-1111-4111-8111-111111111111", "00000000:3B:00.0", 23034, 8, 9,
     -1, 0},
};
static int initialized;

static int dev_index(nvmlDevice_t d)
{
    if (d == &devs[0]) return 0;
    if (d == &devs[1]) return 1;
    return -1;
}

#define CHECK(d)                                                                                   \
    do {                                                                                           \
        if (!initialized) return 1;     /* UNINITIALIZED */                                        \
        if (dev_index(d) < 0) return 2; /* INVALID_ARG */                                          \
    } while (0)

static nvmlReturn_t copy_str(char *dst, unsigned int len, const char *src)
{
    if (!dst) return 2;
    if (strlen(src) + 1 > len) return 7; /* INSUFFICIENT_SIZE */
    strcpy(dst, src);
    return 0;
}

nvmlReturn_t nvmlInit_v2(void)
{
    const char *f = getenv("FAKE_NVML_INIT_FAIL");
    if (f && *f == '1') return 9; /* DRIVER_NOT_LOADED */
    initialized = 1;
    return 0;
}

nvmlReturn_t nvmlShutdown(void)
{
    initialized = 0;
    return 0;
}

const char *nvmlErrorString(nvmlReturn_t r)
{
    return r == 9 ? "Driver Not Loaded" : r == 3 ? "Not Supported" : "Fake Error";
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *n)
{
    if (!initialized) return 1;
    *n = 2;
    return 0;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d)
{
    if (!initialized) return 1;
    if (i >= 2) return 2;
    *d = &devs[i];
    return 0;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *buf, unsigned int len)
{
    CHECK(d);
    return copy_str(buf, len, d->name);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *buf, unsigned int len)
{
    CHECK(d);
    return copy_str(buf, len, d->uuid);
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t d, nvmlPciInfo_t *p)
{
    CHECK(d);
    memset(p, 0, sizeof(*p));
    snprintf(p->busIdLegacy, sizeof(p->busIdLegacy), "%s", d->bus + 4);
    strcpy(p->busId, d->bus);
    p->pciDeviceId = 0x233510de;
    return 0;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m)
{
    CHECK(d);
    m->total = d->mib * 1024ULL * 1024ULL + 123456; /* not a whole number of MiB */
    m->used = 1024ULL * 1024ULL;
    m->free = m->total - m->used;
    return 0;
}

nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t d, int *major, int *minor)
{
    CHECK(d);
    *major = d->major;
    *minor = d->minor;
    return 0;
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *buf, unsigned int len)
{
    if (!initialized) return 1;
    return copy_str(buf, len, "580.159.03");
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *v)
{
    if (!initialized) return 1;
    *v = 12080;
    return 0;
}

nvmlReturn_t nvmlDeviceGetEccMode(nvmlDevice_t d, int *cur, int *pend)
{
    CHECK(d);
    if (d->ecc < 0) return 3; /* NOT_SUPPORTED */
    *cur = *pend = d->ecc;
    return 0;
}

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t d, unsigned int *cur, unsigned int *pend)
{
    CHECK(d);
    *cur = *pend = (unsigned int)d->mig;
    return 0;
}

nvmlReturn_t nvmlSystemGetConfComputeState(nvmlConfComputeSystemState_t *st)
{
    const char *cc = getenv("FAKE_NVML_CC");
    if (!initialized) return 1;
    if (cc && !strcmp(cc, "unsupported")) return 3;
    memset(st, 0, sizeof(*st));
    st->ccFeature = cc && !strcmp(cc, "on");
    return 0;
}

/* Fills up to `cap` entries for device `dev` from FAKE_NVML_PROCS; returns how many match. */
static void put(nvmlProcessInfo_t *out, unsigned int cap, unsigned int *n, unsigned int pid,
                unsigned long long mib)
{
    if (*n < cap) {
        memset(&out[*n], 0, sizeof(out[*n]));
        out[*n].pid = pid;
        out[*n].usedGpuMemory = mib * 1024ULL * 1024ULL;
        out[*n].gpuInstanceId = out[*n].computeInstanceId = 0xFFFFFFFFu;
    }
    (*n)++;
}

static unsigned int find_procs(int dev, nvmlProcessInfo_t *out, unsigned int cap)
{
    const char *spec = getenv("FAKE_NVML_PROCS"), *fixed = getenv("FAKE_NVML_FIXED");
    unsigned int n = 0;
    char *copy, *save = NULL;
    if (fixed && (copy = strdup(fixed))) {
        for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
            int d;
            unsigned int pid;
            unsigned long long mib;
            if (sscanf(item, "%d:%u:%llu", &d, &pid, &mib) == 3 && d == dev)
                put(out, cap, &n, pid, mib);
        }
        free(copy);
        save = NULL;
    }
    if (!spec || !(copy = strdup(spec))) return n;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        int d;
        char comm[64];
        unsigned long long mib;
        DIR *proc;
        struct dirent *de;
        if (sscanf(item, "%d:%63[^:]:%llu", &d, comm, &mib) != 3 || d != dev) continue;
        if (!(proc = opendir("/proc"))) continue;
        while ((de = readdir(proc))) {
            char path[300], buf[64] = "";
            FILE *f;
            if (!isdigit((unsigned char)de->d_name[0])) continue;
            snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
            if (!(f = fopen(path, "r"))) continue;
            if (fgets(buf, sizeof(buf), f)) buf[strcspn(buf, "\n")] = '\0';
            fclose(f);
            if (strcmp(buf, comm)) continue;
            put(out, cap, &n, (unsigned int)atoi(de->d_name), mib);
        }
        closedir(proc);
    }
    free(copy);
    return n;
}

static nvmlReturn_t procs(nvmlDevice_t d, unsigned int *count, nvmlProcessInfo_t *infos)
{
    unsigned int n;
    CHECK(d);
    if (!count) return 2;
    n = find_procs(dev_index(d), infos, infos ? *count : 0);
    if (n > *count || (n && !infos)) {
        *count = n;
        return 7; /* INSUFFICIENT_SIZE */
    }
    *count = n;
    return 0;
}

#ifndef FAKE_NO_V3
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *count,
                                                     nvmlProcessInfo_t *infos)
{
    return procs(d, count, infos);
}
#endif

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t d, unsigned int *count,
                                                     nvmlProcessInfo_t *infos)
{
    return procs(d, count, infos);
}
