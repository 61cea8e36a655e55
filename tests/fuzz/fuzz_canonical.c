/*
 * fuzz_canonical.c - strict JSON parse and canonical dump.
 * Properties: no crash; canonical bytes are ASCII, reparse, and are a fixed point; the indented
 * dump reparses to the same canonical bytes.
 */
#include "canonical.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gp_json *v = NULL, *v2 = NULL, *v3 = NULL;
    char *c1 = NULL, *c2 = NULL, *ind = NULL, *c3 = NULL;
    size_t n1 = 0, n2 = 0, ni = 0, n3 = 0;
    if (gp_json_parse(&v, (const char *)data, size) < 0) goto done;
    if (gp_json_canonical(&c1, &n1, v, NULL) < 0) abort();
    for (size_t i = 0; i < n1; i++)
        if ((unsigned char)c1[i] < 0x20 || (unsigned char)c1[i] > 0x7e) abort();
    if (gp_json_parse(&v2, c1, n1) < 0) abort();
    if (gp_json_canonical(&c2, &n2, v2, NULL) < 0) abort();
    if (n1 != n2 || memcmp(c1, c2, n1) != 0) abort();
    if (gp_json_dump_indent(&ind, &ni, v, 2) < 0) abort();
    if (gp_json_parse(&v3, ind, ni) < 0) abort();
    if (gp_json_canonical(&c3, &n3, v3, NULL) < 0) abort();
    if (n1 != n3 || memcmp(c1, c3, n1) != 0) abort();
done:
    gp_json_free(v);
    gp_json_free(v2);
    gp_json_free(v3);
    free(c1);
    free(c2);
    free(c3);
    free(ind);
    return 0;
}
