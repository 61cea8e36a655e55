/*
 * cmd_gpu_info.c - `gpuproof-cli gpu-info [--json]`: the GPU devices NVML reports, as `run`
 * records them in environment.gpus (see lib/nvml.h). A machine without NVML is not an error:
 * it says so and exits 0.
 */
#include "cli.h"

#include "error.h"
#include "nvml.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: gpuproof-cli gpu-info [--json]\n\n"
               "Prints the NVIDIA GPUs of this machine as `run` records them: name, UUID, PCI bus "
               "id,\nmemory, compute capability, driver and CUDA driver versions, ECC, MIG and "
               "confidential\ncomputing modes. NVML is loaded at run time (libnvidia-ml.so.1, or "
               "the file named by\nGPUPROOF_NVML_LIB); without it the command says so and exits "
               "0.\n\n"
               "  --json   one JSON object: {\"nvml\": true|false, \"gpus\": [...]} (and "
               "\"reason\" without NVML)\n");
}

static const char *tri_word(gp_tri t, const char *on, const char *off)
{
    return t == GP_TRI_UNKNOWN ? "unknown" : t == GP_TRI_TRUE ? on : off;
}

static void print_text(const gp_gpus *g)
{
    size_t n = gp_gpus_count(g);
    const char *drv = gp_gpus_driver_version(g), *cuda = gp_gpus_cuda_driver_version(g);
    printf("driver %s, CUDA %s, confidential computing %s\n", *drv ? drv : "unknown",
           *cuda ? cuda : "unknown", tri_word(gp_gpus_confidential_compute(g), "on", "off"));
    if (!n) printf("no GPU devices\n");
    for (size_t i = 0; i < n; i++) {
        const gp_gpu *d = gp_gpus_device(g, i);
        char mem[32] = "unknown", cc[32] = "unknown";
        if (d->memory_total_mib >= 0)
            snprintf(mem, sizeof(mem), "%lld MiB", (long long)d->memory_total_mib);
        if (d->cc_major >= 0) snprintf(cc, sizeof(cc), "%d.%d", d->cc_major, d->cc_minor);
        printf("GPU %u: %s\n  uuid %s, PCI %s\n  memory %s, compute capability %s, ECC %s, MIG "
               "%s\n",
               d->index, *d->name ? d->name : "(unknown)", *d->uuid ? d->uuid : "unknown",
               *d->pci_bus_id ? d->pci_bus_id : "unknown", mem, cc,
               tri_word(d->ecc_enabled, "on", "off"), tri_word(d->mig_enabled, "on", "off"));
    }
}

int cmd_gpu_info(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool json_out = false;
    gp_gpus *g = NULL;
    json_t *doc = NULL, *gpus = NULL;
    int c, rc = CLI_OK, error;

    optind = 1;
    while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json_out = true;
            break;
        case 'h':
            usage(stdout);
            return CLI_OK;
        default:
            usage(stderr);
            return CLI_ERROR;
        }
    }
    if (optind < argc) {
        cli_errorf("gpu-info takes no arguments ('%s')", argv[optind]);
        return CLI_ERROR;
    }

    error = gp_gpus_open(&g, getenv("GPUPROOF_NVML_LIB"));
    if (error < 0 && error != GP_ENOTFOUND) {
        cli_errorf("%s", gp_error_last());
        return CLI_ERROR;
    }
    if (!json_out) {
        if (!g)
            printf("no NVIDIA driver (NVML) found on this machine\n");
        else
            print_text(g);
        goto done;
    }
    gpus = gp_gpus_to_json(g, false);
    doc = gpus ? json_pack("{s:b, s:o}", "nvml", g != NULL, "gpus", gpus) : NULL;
    if (doc && !g) json_object_set_new(doc, "reason", json_string(gp_error_last()));
    if (!doc || json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII) < 0) {
        cli_errorf("out of memory");
        rc = CLI_ERROR;
        goto done;
    }
    fputc('\n', stdout);
done:
    json_decref(doc);
    gp_gpus_free(g);
    return rc;
}
