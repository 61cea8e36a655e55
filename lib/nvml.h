/*
 * nvml.h - the machine's NVIDIA GPUs through NVML, loaded with dlopen (no link-time dependency),
 * and a sampler that records which GPUs a process tree used while it ran.
 *
 * The library is "libnvidia-ml.so.1" (the driver's), or a path the caller gives (the CLI takes it
 * from the environment variable GPUPROOF_NVML_LIB; tests point it at a fake). Without the library,
 * or when nvmlInit fails (no driver loaded), gp_gpus_open() says so with GP_ENOTFOUND: on a machine
 * without GPUs that is the normal case, never an error for `run`.
 *
 * Every device field is read on its own: a query the device or driver does not support
 * (NVML_ERROR_NOT_SUPPORTED, a missing symbol, no permission) leaves that field unknown, which
 * the JSON shows as null, and never fails the whole capture.
 *
 * JSON of one device (environment.gpus[i] of a receipt):
 *   {"index", "name", "uuid", "pci_bus_id", "memory_total_mib", "compute_capability": "9.0",
 *    "driver_version", "cuda_driver_version": "12.4", "ecc_enabled", "mig_enabled",
 *    "confidential_compute", and with usage: "used_by_tests", "peak_memory_mib"}
 * gpu_info (the plugin's three-field form): {"name", "driver_version", "memory": "143771 MiB"}
 * of device 0.
 */
#ifndef GP_NVML_H
#define GP_NVML_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum { GP_TRI_UNKNOWN = -1, GP_TRI_FALSE = 0, GP_TRI_TRUE = 1 } gp_tri;

typedef struct gp_gpu {
    unsigned index;
    char name[96]; /* "" = unknown */
    char uuid[96];
    char pci_bus_id[32];
    int64_t memory_total_mib; /* -1 = unknown */
    int cc_major, cc_minor;   /* -1 = unknown */
    gp_tri ecc_enabled, mig_enabled;
    /* filled by the sampler */
    gp_tri used_by_tests;    /* a process of the sampled tree ran on this device. UNKNOWN when
                                that cannot be told: NVML never listed this device's processes
                                (no permission, ...), or it listed pids this PID namespace does
                                not show (a container: NVML reports host pids), none of ours */
    int64_t peak_memory_mib; /* the most GPU memory those processes held at once; -1 = used but
                                NVML did not report the amount; 0 when not used */
} gp_gpu;

typedef struct gp_gpus gp_gpus;

/*
 * Loads NVML, initialises it and reads every device. On success *out is the caller's
 * (gp_gpus_free, which also shuts NVML down). GP_ENOTFOUND with a message saying why when there
 * is no NVML library or no driver; GP_ERROR when NVML fails in an unexpected way.
 */
int gp_gpus_open(gp_gpus **out, const char *lib_path /* NULL = libnvidia-ml.so.1 */);
void gp_gpus_free(gp_gpus *g);

size_t gp_gpus_count(const gp_gpus *g);
const gp_gpu *gp_gpus_device(const gp_gpus *g, size_t i);  /* borrowed, NULL past the end */
const char *gp_gpus_driver_version(const gp_gpus *g);      /* "" = unknown */
const char *gp_gpus_cuda_driver_version(const gp_gpus *g); /* "12.4", "" = unknown */
gp_tri gp_gpus_confidential_compute(const gp_gpus *g);

/*
 * Starts a thread that every `interval_ms` (0 = 100) lists each device's compute processes and
 * records, per device, whether one of them is in the process tree below `root` (refreshed each
 * time; a pid once seen below root stays counted) and the peak memory they held together.
 * Counters start from zero at each start. GP_ERROR if the thread cannot start, GP_EINVALID when
 * one already runs.
 */
int gp_gpus_sample_start(gp_gpus *g, pid_t root, unsigned interval_ms);

/* Takes one last sample, stops and joins the thread; a no-op when none runs. */
void gp_gpus_sample_stop(gp_gpus *g);

/* Number of samples taken by the last (or current) sampler run. */
size_t gp_gpus_sample_count(const gp_gpus *g);

/*
 * environment.gpus: a new JSON array (caller decrefs), one object per device as above, with
 * "used_by_tests" and "peak_memory_mib" when `with_usage`. NULL only when out of memory.
 * g may be NULL (no NVML): an empty array.
 */
json_t *gp_gpus_to_json(const gp_gpus *g, bool with_usage);

/* environment.gpu_info: the three-field object of device 0, or JSON null (g NULL, no devices). */
json_t *gp_gpus_info_json(const gp_gpus *g);

#endif
