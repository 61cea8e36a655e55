/*
 * fuzz_junit.c - JUnit XML reports (expat) as gpuproof-cli run reads them.
 * The first byte picks the flavour (generic / pytest with root "."); the rest is the report.
 * Property: no crash, no leak; a report that parses has counts that add up, every node id is a
 * non-empty string and every duration a finite number >= 0.
 */
#include "junit.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    gp_junit_opts o = {(data[0] & 1) ? GP_JUNIT_PYTEST : GP_JUNIT_GENERIC, "/nonexistent-gp-fuzz-root", 1u << 20,
                       10000};
    gp_junit_report *r = NULL;
    if (gp_junit_parse(&r, (const char *)data + 1, size - 1, &o) == 0) {
        if (r->passed + r->failed + r->skipped != r->ncases) abort();
        for (size_t i = 0; i < r->ncases; i++) {
            if (!r->cases[i].node_id || !r->cases[i].node_id[0]) abort();
            if (!isfinite(r->cases[i].duration_s) || r->cases[i].duration_s < 0) abort();
        }
    }
    gp_junit_free(r);
    return 0;
}
