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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gp_note_signer {
    char name[256];
    unsigned char key_id[4];
    unsigned char pk[32];
    unsigned char *sk; /* 64 bytes, sodium_malloc'ed; NULL for a verifier */
} gp_note_signer;

/*
 * Key names (and checkpoint origins) are 1-255 bytes of UTF-8 with no spaces (Unicode's either),
 * no '+' and no control characters; anything else is GP_EINVALID.
 * Every function that fills a gp_note_signer leaves it all-zero on failure; gp_note_signer_clear()
 * on it is then harmless.
 */

/* Makes a new Ed25519 key; sk is sodium_malloc'ed. Free with gp_note_signer_clear(). */
int gp_note_keygen(gp_note_signer *out, const char *name);
/* From a 32-byte seed (e.g. read from the key file). */
int gp_note_signer_from_seed(gp_note_signer *out, const char *name, const unsigned char seed[32]);
/* Wipes and frees sk (if any) and zeroes *s. NULL is a no-op. */
void gp_note_signer_clear(gp_note_signer *s);
/*
 * The server's key file: 32 raw bytes, the Ed25519 seed. Opens `path` with O_NOFOLLOW and loads
 * it; if it does not exist, creates it (O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600) with a fresh seed
 * and sets *created (may be NULL). Refuses (GP_EINVALID, message says to chmod 600) a file that
 * group or others can read or write, a symbolic link (GP_ERROR), a file that is not exactly 32
 * bytes (GP_EINVALID). Free *out with gp_note_signer_clear().
 */
int gp_note_signer_load_or_create(gp_note_signer *out, const char *path, const char *name,
                                  bool *created);
/* The verifier key string; caller frees. */
int gp_note_verifier_string(char **out, const gp_note_signer *s);
/* Parses a verifier key string into a signer without sk: GP_EINVALID when malformed or when the
 * key id does not match the name and key, GP_EUNSUPPORTED for a non-Ed25519 key. */
int gp_note_verifier_parse(gp_note_signer *out, const char *vkey);

/* Signs `text` (non-empty, ends in "\n", no empty line, UTF-8 without control characters other
 * than newline; GP_EINVALID otherwise): *out = text + "\n" + signature line, NUL-terminated.
 * Caller frees. */
int gp_note_sign(char **out, const char *text, size_t len, const gp_note_signer *s);
/*
 * Verifies that `note` carries a valid signature by `v`. Other signatures (unknown names or ids)
 * are ignored; a signature line with v's name and id that does not verify is GP_EBADSIG; a
 * malformed note GP_EINVALID; no signature by v GP_ENOTFOUND. On success *text_len is the length
 * of the signed text (prefix of note). Parsing is strict: at most 1 MiB, valid UTF-8, split at the
 * last empty line, 1-100 signature lines, each exactly "— NAME BASE64\n"; any malformed line is
 * GP_EINVALID even if another line is a valid signature. `note` need not be NUL-terminated.
 */
int gp_note_verify(const char *note, size_t len, const gp_note_signer *v, size_t *text_len);

/* Checkpoint body text for (origin, size, root): "ORIGIN\nSIZE\nBASE64ROOT\n". Caller frees. */
int gp_checkpoint_text(char **out, const char *origin, uint64_t size, const gp_hash root);
/*
 * Parses a verified checkpoint text (the signed text only, e.g. the text_len prefix from
 * gp_note_verify) into its origin (caller frees), size (decimal, no leading zeros) and root
 * (base64 of 32 bytes). Extension lines after the third are allowed and ignored. GP_EINVALID
 * otherwise.
 */
int gp_checkpoint_parse(char **origin, uint64_t *size, gp_hash root, const char *text, size_t len);
/*
 * gp_note_verify() with v, then gp_checkpoint_parse() of the signed text, then requires the
 * origin to equal v's name (ledger.md: key name = origin; GP_EINVALID otherwise). Errors as those.
 */
int gp_checkpoint_open(char **origin, uint64_t *size, gp_hash root, const char *note, size_t len,
                       const gp_note_signer *v);

#endif
