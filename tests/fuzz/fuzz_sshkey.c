/*
 * fuzz_sshkey.c - authorized_keys / .keys text and single wire blobs.
 * Property: every key parsed has a "SHA256:" fingerprint and round-trips through its line form.
 */
#include "sshkey.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gp_keylist *l = NULL;
    if (gp_keylist_parse(&l, (const char *)data, size) == 0) {
        for (size_t i = 0; i < l->n; i++) {
            char *line = NULL;
            gp_pubkey again;
            if (strncmp(l->keys[i].fingerprint, "SHA256:", 7) != 0) abort();
            if (gp_pubkey_to_line(&line, &l->keys[i]) < 0) abort();
            memset(&again, 0, sizeof(again));
            if (gp_pubkey_parse_line(&again, line, strlen(line)) < 0) abort();
            if (!gp_pubkey_equal(&again, &l->keys[i])) abort();
            gp_pubkey_clear(&again);
            free(line);
        }
    }
    gp_keylist_free(l);
    gp_pubkey k;
    memset(&k, 0, sizeof(k));
    if (gp_pubkey_from_blob(&k, data, size) == 0) gp_pubkey_clear(&k);
    return 0;
}
