/*
 * note.h - C2SP signed notes and tlog checkpoints with Ed25519 (libsodium).
 *
 * Note: text lines each ending in "\n", a blank line, then signature lines
 * "— <name> <base64(4-byte key id || 64-byte signature)>\n" (U+2014 EM DASH, space).
 * Key id = SHA-256(name || "\n" || 0x01 || pubkey)[0:4]. Verifier key string:
 * "<name>+<8 hex key id>+<base64(0x01 || pubkey)>". Checkpoint body: origin, tree size in
 * decimal, root hash in base64, each followed by "\n". See ../shared/spec/ledger.md.
 */
#ifndef GP_NOTE_H
#define GP_NOTE_H

#include "merkle.h"

#include <stddef.h>
#include <stdint.h>

typedef struct gp_note_signer {
    char name[256];
    unsigned char key_id[4];
    unsigned char pk[32];
    unsigned char *sk; /* 64 bytes, sodium_malloc'ed; NULL for a verifier */
} gp_note_signer;

/* Makes a new Ed25519 key; sk is sodium_malloc'ed. Free with gp_note_signer_clear(). */
int gp_note_keygen(gp_note_signer *out, const char *name);
/* From a 32-byte seed (e.g. read from the key file). */
int gp_note_signer_from_seed(gp_note_signer *out, const char *name, const unsigned char seed[32]);
void gp_note_signer_clear(gp_note_signer *s);
/* The verifier key string; caller frees. */
int gp_note_verifier_string(char **out, const gp_note_signer *s);
/* Parses a verifier key string into a signer without sk. */
int gp_note_verifier_parse(gp_note_signer *out, const char *vkey);

/* Signs `text` (must end in "\n"): *out = text + "\n" + signature line. Caller frees. */
int gp_note_sign(char **out, const char *text, size_t len, const gp_note_signer *s);
/*
 * Verifies that `note` carries a valid signature by `v`. Other signatures (unknown names or ids)
 * are ignored; a signature line with v's name and id that does not verify is GP_EBADSIG; a
 * malformed note GP_EINVALID; no signature by v GP_ENOTFOUND. On success *text_len is the length
 * of the signed text (prefix of note).
 */
int gp_note_verify(const char *note, size_t len, const gp_note_signer *v, size_t *text_len);

/* Checkpoint body text for (origin, size, root). Caller frees. */
int gp_checkpoint_text(char **out, const char *origin, uint64_t size, const gp_hash root);
/* Parses a verified checkpoint text into its origin (caller frees), size and root. */
int gp_checkpoint_parse(char **origin, uint64_t *size, gp_hash root, const char *text, size_t len);

#endif
