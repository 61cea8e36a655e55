/*
 * fuzz_note.c - signed notes and checkpoints from an untrusted server.
 * Property: no crash; a note never verifies under a key that did not sign it.
 */
#include "note.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gp_note_signer v;
    static int ready;
    if (!ready) {
        if (gp_note_verifier_parse(&v, "example.com/foo+530d903a+"
                                       "AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k") < 0)
            abort();
        ready = 1;
    }
    size_t text_len = 0;
    (void)gp_note_verify((const char *)data, size, &v, &text_len);
    char *origin = NULL;
    uint64_t tree_size;
    gp_hash root;
    if (gp_checkpoint_parse(&origin, &tree_size, root, (const char *)data, size) == 0) free(origin);
    gp_note_signer parsed;
    char *s = malloc(size + 1);
    if (s) {
        for (size_t i = 0; i < size; i++) s[i] = data[i] ? (char)data[i] : ' ';
        s[size] = '\0';
        if (gp_note_verifier_parse(&parsed, s) == 0) gp_note_signer_clear(&parsed);
        free(s);
    }
    return 0;
}
