/*
 * fuzz_sshsig.c - SSHSIG signatures, armored or binary, as receipts carry them.
 * Inputs starting with "-----BEGIN" are dearmored first. Every blob is parsed and verified over
 * a fixed message against a fixed Ed25519 key (made for the seeds; its private half was thrown away).
 * Property: no crash, no leak; a blob that verifies also parses, and verification under another
 * namespace fails.
 */
#include "sshkey.h"
#include "sshsig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char KEYS[] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID/44mU6+70siTvucv8SPIqKNFdJJmydIu2VsquM7Cv7\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gp_keylist *keys;
    static const char msg[] = "{\"fuzz\":\"gpu-proof receipt bytes\"}";
    if (!keys && gp_keylist_parse(&keys, KEYS, sizeof(KEYS) - 1) < 0) abort();
    unsigned char *blob = NULL;
    size_t len = 0;
    const unsigned char *b = data;
    if (size >= 10 && memcmp(data, "-----BEGIN", 10) == 0) {
        if (gp_sshsig_dearmor(&blob, &len, (const char *)data, size) < 0) return 0;
        b = blob;
    } else {
        len = size;
    }
    gp_sshsig *s = NULL;
    int parsed = gp_sshsig_parse(&s, b, len);
    gp_sshsig_free(s);
    const gp_pubkey *used = NULL;
    if (gp_sshsig_verify(&used, b, len, GP_SSHSIG_NAMESPACE, (const unsigned char *)msg, sizeof(msg) - 1, keys) == 0) {
        if (parsed != 0 || !used) abort();
        if (gp_sshsig_verify(&used, b, len, "git", (const unsigned char *)msg, sizeof(msg) - 1, keys) == 0) abort();
    }
    char *armored = NULL;
    if (parsed == 0 && gp_sshsig_armor(&armored, b, len) == 0) {
        unsigned char *back = NULL;
        size_t backlen = 0;
        if (gp_sshsig_dearmor(&back, &backlen, armored, strlen(armored)) < 0) abort();
        if (backlen != len || memcmp(back, b, len) != 0) abort();
        free(back);
    }
    free(armored);
    free(blob);
    return 0;
}
