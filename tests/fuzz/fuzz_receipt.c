/*
 * fuzz_receipt.c - receipt parse + validation + canonicalization.
 * Property: a receipt that parses has an id equal to SHA-256 of its canonical bytes, and its
 * canonical bytes parse as a receipt with the same id and signed bytes.
 */
#include "receipt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gp_receipt *r = NULL, *r2 = NULL;
    char hex[GP_SHA256_HEX_LEN + 1];
    if (gp_receipt_parse(&r, (const char *)data, size, 0) < 0) goto done;
    gp_sha256_hex(hex, r->canonical, r->canonical_len);
    if (strcmp(hex, r->id) != 0) abort();
    if (gp_receipt_parse(&r2, r->canonical, r->canonical_len, 0) < 0) abort();
    if (strcmp(r->id, r2->id) != 0 || r->signed_len != r2->signed_len ||
        memcmp(r->signed_bytes, r2->signed_bytes, r->signed_len) != 0)
        abort();
    if (r->passed + r->failed + r->skipped != r->ntests) abort();
done:
    gp_receipt_free(r);
    gp_receipt_free(r2);
    return 0;
}
