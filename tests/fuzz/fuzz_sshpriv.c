/*
 * fuzz_sshpriv.c - OpenSSH private key files ("-----BEGIN OPENSSH PRIVATE KEY-----").
 * Property: no crash, no leak; a key that parses has a "SHA256:" fingerprint, and its public
 * half round-trips through the .keys line form.
 */
#include "sshpriv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gp_privkey *k = NULL;
    if (gp_privkey_parse(&k, (const char *)data, size, "fuzz") == 0) {
        char *line = NULL;
        gp_pubkey again;
        memset(&again, 0, sizeof(again));
        if (strncmp(k->pub.fingerprint, "SHA256:", 7) != 0) abort();
        if (gp_pubkey_to_line(&line, &k->pub) < 0) abort();
        if (gp_pubkey_parse_line(&again, line, strlen(line)) < 0) abort();
        if (!gp_pubkey_equal(&again, &k->pub)) abort();
        gp_pubkey_clear(&again);
        free(line);
    }
    gp_privkey_free(k);
    return 0;
}
