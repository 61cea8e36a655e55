/*
 * nvml.c - GPU devices and per-device use by a process tree, through NVML loaded with dlopen
 * (see nvml.h).
 *
 * No CUDA or NVML headers are needed: the few types used are declared below with the layout of
 * the real nvml.h (R470 and later, unchanged through R580):
 *   nvmlPciInfo_t      char busIdLegacy[16]; unsigned domain, bus, device, pciDeviceId,
 *                      pciSubSystemId; char busId[32];                          (68 bytes)
 *   nvmlMemory_t       unsigned long long total, free, used;
 *   nvmlProcessInfo_t  unsigned pid; unsigned long long usedGpuMemory; unsigned gpuInstanceId,
 *                      computeInstanceId;                (24 bytes; _v3 and _v2 of the query)
 *   nvmlProcessInfo_v1_t  unsigned pid; unsigned long long usedGpuMemory;   (16 bytes; _v1)
 *   nvmlConfComputeSystemState_t  unsigned environment, ccFeature, devToolsMode;
 * Process entries are read by offset (pid at 0, usedGpuMemory at 8 in every version) with the
 * stride of the version called, and buffers get slack past the last entry, so a driver that wrote
 * a longer struct could not overrun them.
 */
#include "nvml.h"

#include "error.h"
#include "proctree.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the NVML ABI subset ---------------------------------------------------------------- */

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;

enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
};

#define NVML_DEVICE_NAME_V2_BUFFER_SIZE 96
#define NVML_DEVICE_UUID_V2_BUFFER_SIZE 96
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE 32
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE 16
#define NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE 80
#define NVML_VALUE_NOT_AVAILABLE_ULL (~0ULL)

typedef struct {
    char busIdLegacy[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
} nvmlPciInfo_t;

typedef struct {
    unsigned long long total, free, used;
} nvmlMemory_t;

typedef struct {
    unsigned int environment, ccFeature, devToolsMode;
} nvmlConfComputeSystemState_t;

#define PROC_PID_OFF 0
#define PROC_MEM_OFF 8
#define PROC_STRIDE_V2 24 /* nvmlProcessInfo_t (_v2, _v3) */
#define PROC_STRIDE_V1 16 /* nvmlProcessInfo_v1_t */
#define PROC_SLACK 64     /* bytes past the last entry */
#define PROC_MAX 8192     /* entries asked for at most */

typedef struct nvml_api {
    nvmlReturn_t (*init)(void);
    nvmlReturn_t (*shutdown)(void);
    const char *(*error_string)(nvmlReturn_t);
    nvmlReturn_t (*count)(unsigned int *);
    nvmlReturn_t (*handle)(unsigned int, nvmlDevice_t *);
    nvmlReturn_t (*name)(nvmlDevice_t, char *, unsigned int);
    nvmlReturn_t (*uuid)(nvmlDevice_t, char *, unsigned int);
    nvmlReturn_t (*pci)(nvmlDevice_t, nvmlPciInfo_t *);
    nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t *);
    nvmlReturn_t (*cc)(nvmlDevice_t, int *, int *);
    nvmlReturn_t (*driver)(char *, unsigned int);
    nvmlReturn_t (*cuda)(int *);
    nvmlReturn_t (*ecc)(nvmlDevice_t, int *, int *);
    nvmlReturn_t (*mig)(nvmlDevice_t, unsigned int *, unsigned int *);
    nvmlReturn_t (*conf_compute)(nvmlConfComputeSystemState_t *);
    nvmlReturn_t (*procs)(nvmlDevice_t, unsigned int *, void *);
    size_t proc_stride;
} nvml_api;

/* ---- state ------------------------------------------------------------------------------ */

typedef struct dev_usage {
    bool listed;  /* the process list could be read at least once */
    bool foreign; /* it named a pid this PID namespace does not show */
    bool used;
    unsigned long long peak; /* bytes */
    bool peak_unknown;       /* a tree process with NVML_VALUE_NOT_AVAILABLE memory */
} dev_usage;

struct gp_gpus {
    void *dl;
    nvml_api api;
    bool initialized;
    char driver[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE];
    char cuda[16];
    gp_tri conf_compute;
    gp_gpu *devs;
    nvmlDevice_t *handles;
    size_t ndevs;

    /* sampler */
    pthread_t thread;
    bool running, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pid_t root;
    unsigned interval_ms;
    size_t samples;
    dev_usage *usage;
    unsigned char *procbuf;
    size_t proccap; /* entries */
    pid_t *tree;    /* pids known to be below root */
    size_t ntree, treecap;
};

static const char *nv_err(const gp_gpus *g, nvmlReturn_t rc)
{
    static _Thread_local char tmp[32];
    const char *s = g->api.error_string ? g->api.error_string(rc) : NULL;
    if (s) return s;
    snprintf(tmp, sizeof(tmp), "NVML error %d", rc);
    return tmp;
}

static void *sym(void *dl, const char *a, const char *b, const char *c)
{
    void *p = dlsym(dl, a);
    if (!p && b) p = dlsym(dl, b);
    if (!p && c) p = dlsym(dl, c);
    return p;
}

/* Keeps printable ASCII; the driver's strings are ASCII, anything else is not trusted. */
static void clean_string(char *s, size_t cap)
{
    s[cap - 1] = '\0';
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) *s = '?';
}

static void read_device(gp_gpus *g, unsigned i, nvmlDevice_t h, gp_gpu *d)
{
    const nvml_api *a = &g->api;
    nvmlPciInfo_t pci;
    nvmlMemory_t mem;
    int cur = 0, pend = 0, major = 0, minor = 0;
    unsigned int ucur = 0, upend = 0;

    memset(d, 0, sizeof(*d));
    d->index = i;
    d->memory_total_mib = -1;
    d->cc_major = d->cc_minor = -1;
    d->ecc_enabled = d->mig_enabled = GP_TRI_UNKNOWN;
    d->used_by_tests = GP_TRI_UNKNOWN;
    if (a->name && a->name(h, d->name, sizeof(d->name)) == NVML_SUCCESS)
        clean_string(d->name, sizeof(d->name));
    else
        d->name[0] = '\0';
    if (a->uuid && a->uuid(h, d->uuid, sizeof(d->uuid)) == NVML_SUCCESS)
        clean_string(d->uuid, sizeof(d->uuid));
    else
        d->uuid[0] = '\0';
    memset(&pci, 0, sizeof(pci));
    if (a->pci && a->pci(h, &pci) == NVML_SUCCESS) {
        memcpy(d->pci_bus_id, pci.busId, sizeof(d->pci_bus_id));
        clean_string(d->pci_bus_id, sizeof(d->pci_bus_id));
    }
    if (a->memory && a->memory(h, &mem) == NVML_SUCCESS)
        d->memory_total_mib = (int64_t)(mem.total / (1024ULL * 1024ULL));
    if (a->cc && a->cc(h, &major, &minor) == NVML_SUCCESS && major >= 0 && minor >= 0 &&
        major < 1000 && minor < 1000) {
        d->cc_major = major;
        d->cc_minor = minor;
    }
    if (a->ecc && a->ecc(h, &cur, &pend) == NVML_SUCCESS)
        d->ecc_enabled = cur ? GP_TRI_TRUE : GP_TRI_FALSE;
    if (a->mig && a->mig(h, &ucur, &upend) == NVML_SUCCESS)
        d->mig_enabled = ucur ? GP_TRI_TRUE : GP_TRI_FALSE;
}

int gp_gpus_open(gp_gpus **out, const char *lib_path)
{
    gp_gpus *g = NULL;
    nvml_api *a;
    unsigned int n = 0;
    nvmlReturn_t rc;
    int error = 0;
    const char *path = lib_path && *lib_path ? lib_path : "libnvidia-ml.so.1";

    *out = NULL;
    if (!(g = calloc(1, sizeof(*g)))) return gp_error_setf(GP_ERROR, "out of memory");
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->conf_compute = GP_TRI_UNKNOWN;
    if (!(g->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
        error = gp_error_setf(GP_ENOTFOUND, "no NVIDIA driver (NVML) found on this machine (%s)",
                              dlerror());
        goto done;
    }
    a = &g->api;
    a->init = sym(g->dl, "nvmlInit_v2", "nvmlInit", NULL);
    a->shutdown = sym(g->dl, "nvmlShutdown", NULL, NULL);
    a->error_string = sym(g->dl, "nvmlErrorString", NULL, NULL);
    a->count = sym(g->dl, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount", NULL);
    a->handle = sym(g->dl, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex", NULL);
    a->name = sym(g->dl, "nvmlDeviceGetName", NULL, NULL);
    a->uuid = sym(g->dl, "nvmlDeviceGetUUID", NULL, NULL);
    a->pci = sym(g->dl, "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2", NULL);
    a->memory = sym(g->dl, "nvmlDeviceGetMemoryInfo", NULL, NULL);
    a->cc = sym(g->dl, "nvmlDeviceGetCudaComputeCapability", NULL, NULL);
    a->driver = sym(g->dl, "nvmlSystemGetDriverVersion", NULL, NULL);
    a->cuda =
        sym(g->dl, "nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion", NULL);
    a->ecc = sym(g->dl, "nvmlDeviceGetEccMode", NULL, NULL);
    a->mig = sym(g->dl, "nvmlDeviceGetMigMode", NULL, NULL);
    a->conf_compute = sym(g->dl, "nvmlSystemGetConfComputeState", NULL, NULL);
    if ((a->procs = sym(g->dl, "nvmlDeviceGetComputeRunningProcesses_v3",
                        "nvmlDeviceGetComputeRunningProcesses_v2", NULL)))
        a->proc_stride = PROC_STRIDE_V2;
    else if ((a->procs = sym(g->dl, "nvmlDeviceGetComputeRunningProcesses", NULL, NULL)))
        a->proc_stride = PROC_STRIDE_V1;
    if (!a->init || !a->shutdown || !a->count || !a->handle) {
        error = gp_error_setf(GP_ENOTFOUND,
                              "%s is not a usable NVML library (nvmlInit, "
                              "nvmlDeviceGetCount or nvmlDeviceGetHandleByIndex "
                              "missing)",
                              path);
        goto done;
    }
    if ((rc = a->init()) != NVML_SUCCESS) {
        error = gp_error_setf(GP_ENOTFOUND,
                              "no NVIDIA driver (NVML) usable on this machine: "
                              "nvmlInit: %s",
                              nv_err(g, rc));
        goto done;
    }
    g->initialized = true;
    if ((rc = a->count(&n)) != NVML_SUCCESS) {
        error = gp_error_setf(GP_ERROR, "nvmlDeviceGetCount: %s", nv_err(g, rc));
        goto done;
    }
    if (n > 1024) n = 1024;
    if (a->driver && a->driver(g->driver, sizeof(g->driver)) == NVML_SUCCESS)
        clean_string(g->driver, sizeof(g->driver));
    else
        g->driver[0] = '\0';
    {
        int v = 0;
        if (a->cuda && a->cuda(&v) == NVML_SUCCESS && v > 0)
            snprintf(g->cuda, sizeof(g->cuda), "%d.%d", v / 1000, (v % 1000) / 10);
    }
    {
        nvmlConfComputeSystemState_t st;
        memset(&st, 0, sizeof(st));
        if (a->conf_compute && a->conf_compute(&st) == NVML_SUCCESS)
            g->conf_compute = st.ccFeature ? GP_TRI_TRUE : GP_TRI_FALSE;
    }
    if (n) {
        g->devs = calloc(n, sizeof(*g->devs));
        g->handles = calloc(n, sizeof(*g->handles));
        g->usage = calloc(n, sizeof(*g->usage));
        if (!g->devs || !g->handles || !g->usage) {
            error = gp_error_setf(GP_ERROR, "out of memory");
            goto done;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        nvmlDevice_t h = NULL;
        if ((rc = a->handle(i, &h)) != NVML_SUCCESS) {
            /* a device NVML cannot open (lost, no permission) is listed with what is known */
            memset(&g->devs[g->ndevs], 0, sizeof(g->devs[0]));
            g->devs[g->ndevs].index = i;
            g->devs[g->ndevs].memory_total_mib = -1;
            g->devs[g->ndevs].cc_major = g->devs[g->ndevs].cc_minor = -1;
            g->devs[g->ndevs].ecc_enabled = g->devs[g->ndevs].mig_enabled = GP_TRI_UNKNOWN;
            g->devs[g->ndevs].used_by_tests = GP_TRI_UNKNOWN;
            g->handles[g->ndevs++] = NULL;
            continue;
        }
        read_device(g, i, h, &g->devs[g->ndevs]);
        g->handles[g->ndevs++] = h;
    }
    *out = g;
    g = NULL;
done:
    gp_gpus_free(g);
    return error;
}

void gp_gpus_free(gp_gpus *g)
{
    if (!g) return;
    gp_gpus_sample_stop(g);
    if (g->initialized && g->api.shutdown) g->api.shutdown();
    if (g->dl) dlclose(g->dl);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g->devs);
    free(g->handles);
    free(g->usage);
    free(g->procbuf);
    free(g->tree);
    free(g);
}

size_t gp_gpus_count(const gp_gpus *g)
{
    return g ? g->ndevs : 0;
}

const gp_gpu *gp_gpus_device(const gp_gpus *g, size_t i)
{
    return g && i < g->ndevs ? &g->devs[i] : NULL;
}

const char *gp_gpus_driver_version(const gp_gpus *g)
{
    return g ? g->driver : "";
}

const char *gp_gpus_cuda_driver_version(const gp_gpus *g)
{
    return g ? g->cuda : "";
}

gp_tri gp_gpus_confidential_compute(const gp_gpus *g)
{
    return g ? g->conf_compute : GP_TRI_UNKNOWN;
}

/* ---- sampling --------------------------------------------------------------------------- */

static bool tree_has(const gp_gpus *g, pid_t pid)
{
    for (size_t i = 0; i < g->ntree; i++)
        if (g->tree[i] == pid) return true;
    return false;
}

static void tree_add(gp_gpus *g, pid_t pid)
{
    if (g->ntree == g->treecap) {
        size_t ncap = g->treecap ? g->treecap * 2 : 64;
        pid_t *n;
        if (ncap > 65536 || !(n = realloc(g->tree, ncap * sizeof(*n)))) return;
        g->tree = n;
        g->treecap = ncap;
    }
    g->tree[g->ntree++] = pid;
}

/* Whether `pid` belongs to the sampled tree: known already, or its parent chain reaches root. */
static bool in_tree(gp_gpus *g, pid_t pid)
{
    if (pid <= 0) return false;
    if (tree_has(g, pid)) return true;
    if (!gp_proc_is_descendant(pid, g->root)) return false;
    tree_add(g, pid);
    return true;
}

/* Lists device i's compute processes into g->procbuf; the number of entries, or -1. */
static long list_procs(gp_gpus *g, size_t i)
{
    const nvml_api *a = &g->api;
    for (int attempt = 0; attempt < 4; attempt++) {
        unsigned int count = (unsigned int)g->proccap;
        nvmlReturn_t rc = a->procs(g->handles[i], &count, g->procbuf);
        if (rc == NVML_SUCCESS) return count <= g->proccap ? (long)count : (long)g->proccap;
        if (rc != NVML_ERROR_INSUFFICIENT_SIZE) return -1;
        size_t want = (size_t)count * 2 + 16;
        if (want > PROC_MAX) want = PROC_MAX;
        if (want <= g->proccap) return -1;
        unsigned char *nb = realloc(g->procbuf, want * a->proc_stride + PROC_SLACK);
        if (!nb) return -1;
        memset(nb, 0, want * a->proc_stride + PROC_SLACK);
        g->procbuf = nb;
        g->proccap = want;
    }
    return -1;
}

static void sample_once(gp_gpus *g)
{
    if (!g->api.procs) return;
    for (size_t i = 0; i < g->ndevs; i++) {
        unsigned long long sum = 0;
        bool used = false, unknown = false;
        long n;
        if (!g->handles[i]) continue;
        if ((n = list_procs(g, i)) < 0) continue;
        g->usage[i].listed = true;
        for (long k = 0; k < n; k++) {
            const unsigned char *e = g->procbuf + (size_t)k * g->api.proc_stride;
            unsigned int pid;
            unsigned long long mem;
            memcpy(&pid, e + PROC_PID_OFF, sizeof(pid));
            memcpy(&mem, e + PROC_MEM_OFF, sizeof(mem));
            if (!in_tree(g, (pid_t)pid)) {
                if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
                    g->usage[i].foreign = true;
                continue;
            }
            used = true;
            if (mem == NVML_VALUE_NOT_AVAILABLE_ULL)
                unknown = true;
            else
                sum += mem;
        }
        if (used) {
            g->usage[i].used = true;
            if (unknown && !sum) g->usage[i].peak_unknown = true;
            if (sum > g->usage[i].peak) g->usage[i].peak = sum;
        }
    }
    g->samples++;
}

static void *sampler(void *arg)
{
    gp_gpus *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->stop) {
        struct timespec ts;
        pthread_mutex_unlock(&g->mu);
        sample_once(g);
        pthread_mutex_lock(&g->mu);
        if (g->stop) break;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)(g->interval_ms % 1000) * 1000000L;
        ts.tv_sec += g->interval_ms / 1000 + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        while (!g->stop && pthread_cond_timedwait(&g->cv, &g->mu, &ts) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

int gp_gpus_sample_start(gp_gpus *g, pid_t root, unsigned interval_ms)
{
    pthread_condattr_t ca;
    int rc;
    if (g->running) return gp_error_setf(GP_EINVALID, "the GPU sampler is already running");
    g->root = root;
    g->interval_ms = interval_ms ? interval_ms : 100;
    g->samples = 0;
    g->ntree = 0;
    g->stop = false;
    if (g->ndevs) memset(g->usage, 0, g->ndevs * sizeof(*g->usage));
    if (!g->procbuf) {
        size_t stride = g->api.proc_stride ? g->api.proc_stride : PROC_STRIDE_V2;
        g->proccap = 64;
        if (!(g->procbuf = calloc(1, g->proccap * stride + PROC_SLACK))) {
            g->proccap = 0;
            return gp_error_setf(GP_ERROR, "out of memory");
        }
    }
    pthread_cond_destroy(&g->cv);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cv, &ca);
    pthread_condattr_destroy(&ca);
    if ((rc = pthread_create(&g->thread, NULL, sampler, g)) != 0)
        return gp_error_setf(GP_ERROR, "cannot start the GPU sampler: %s", strerror(rc));
    g->running = true;
    return 0;
}

void gp_gpus_sample_stop(gp_gpus *g)
{
    if (!g || !g->running) return;
    pthread_mutex_lock(&g->mu);
    g->stop = true;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    g->running = false;
    sample_once(g); /* what is still running at the end */
    for (size_t i = 0; i < g->ndevs; i++) {
        const dev_usage *u = &g->usage[i];
        gp_gpu *d = &g->devs[i];
        d->used_by_tests = u->used                    ? GP_TRI_TRUE
                           : u->listed && !u->foreign ? GP_TRI_FALSE
                                                      : GP_TRI_UNKNOWN;
        d->peak_memory_mib = !u->used ? 0
                             : (u->peak_unknown && !u->peak)
                                 ? -1
                                 : (int64_t)(u->peak / (1024ULL * 1024ULL));
    }
}

size_t gp_gpus_sample_count(const gp_gpus *g)
{
    return g ? g->samples : 0;
}

/* ---- JSON ------------------------------------------------------------------------------- */

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static json_t *tri(gp_tri t)
{
    return t == GP_TRI_UNKNOWN ? json_null() : json_boolean(t == GP_TRI_TRUE);
}

static int put(json_t *o, const char *k, json_t *v)
{
    return v ? json_object_set_new(o, k, v) : -1;
}

json_t *gp_gpus_to_json(const gp_gpus *g, bool with_usage)
{
    json_t *arr = json_array();
    if (!arr) return NULL;
    for (size_t i = 0; g && i < g->ndevs; i++) {
        const gp_gpu *d = &g->devs[i];
        json_t *o = json_object();
        char cc[32];
        int bad = 0;
        if (!o) goto fail;
        snprintf(cc, sizeof(cc), "%d.%d", d->cc_major, d->cc_minor);
        bad |= put(o, "index", json_integer(d->index));
        bad |= put(o, "name", str_or_null(d->name));
        bad |= put(o, "uuid", str_or_null(d->uuid));
        bad |= put(o, "pci_bus_id", str_or_null(d->pci_bus_id));
        bad |= put(o, "memory_total_mib",
                   d->memory_total_mib >= 0 ? json_integer(d->memory_total_mib) : json_null());
        bad |= put(o, "compute_capability", d->cc_major >= 0 ? json_string(cc) : json_null());
        bad |= put(o, "driver_version", str_or_null(g->driver));
        bad |= put(o, "cuda_driver_version", str_or_null(g->cuda));
        bad |= put(o, "ecc_enabled", tri(d->ecc_enabled));
        bad |= put(o, "mig_enabled", tri(d->mig_enabled));
        bad |= put(o, "confidential_compute", tri(g->conf_compute));
        if (with_usage) {
            bad |= put(o, "used_by_tests", tri(d->used_by_tests));
            bad |= put(o, "peak_memory_mib",
                       d->peak_memory_mib >= 0 ? json_integer(d->peak_memory_mib) : json_null());
        }
        if (bad || json_array_append_new(arr, o) < 0) {
            json_decref(o);
            goto fail;
        }
    }
    return arr;
fail:
    json_decref(arr);
    return NULL;
}

json_t *gp_gpus_info_json(const gp_gpus *g)
{
    const gp_gpu *d = gp_gpus_device(g, 0);
    json_t *o;
    char mem[48];
    int bad = 0;
    if (!d) return json_null();
    if (!(o = json_object())) return NULL;
    snprintf(mem, sizeof(mem), "%lld MiB", (long long)d->memory_total_mib);
    bad |= put(o, "name", str_or_null(d->name));
    bad |= put(o, "driver_version", str_or_null(g->driver));
    bad |= put(o, "memory", d->memory_total_mib >= 0 ? json_string(mem) : json_null());
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}
