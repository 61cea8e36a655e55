/*
 * sshkey.h - SSH public keys: authorized_keys / github.com/<login>.keys lines and wire blobs.
 *
 * Parses "TYPE BASE64 [comment]" lines (RFC 4253 §6.6 blobs; RFC 5656 for ECDSA; PROTOCOL.u2f for
 * the sk- types) into keys ready for verification, and computes fingerprints exactly as
 * `ssh-keygen -l -E sha256` prints them ("SHA256:" + unpadded base64 of SHA-256(blob)).
 * Unknown key types are GP_EUNSUPPORTED for a single line and skipped by gp_keylist_parse().
 *
 * Checks: the blob is consumed exactly and its type string equals the line's; ECDSA names its
 * curve and holds an uncompressed point on it; RSA mpints are positive and minimal, the modulus
 * 1024..16384 bits (smaller keys are GP_EINVALID, as in OpenSSH); sk- keys carry a non-empty
 * application string. Key objects are built with OpenSSL 3's EVP_PKEY_fromdata.
 */
#ifndef GP_SSHKEY_H
#define GP_SSHKEY_H

#include <openssl/evp.h>
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum {
    GP_KEY_ED25519,
    GP_KEY_ECDSA_P256,
    GP_KEY_ECDSA_P384,
    GP_KEY_ECDSA_P521,
    GP_KEY_RSA,
    GP_KEY_SK_ED25519,    /* sk-ssh-ed25519@openssh.com */
    GP_KEY_SK_ECDSA_P256, /* sk-ecdsa-sha2-nistp256@openssh.com */
} gp_keytype;

typedef struct gp_pubkey {
    gp_keytype type;
    unsigned char *blob; /* the SSH wire blob, owned */
    size_t blob_len;
    char fingerprint[64];      /* "SHA256:..." */
    unsigned char ed25519[32]; /* ED25519 and SK_ED25519 */
    EVP_PKEY *pkey;            /* ECDSA, RSA, SK_ECDSA: owned */
    unsigned rsa_bits;         /* RSA modulus size */
    char *application;         /* sk- types: the application string ("ssh:"), owned */
} gp_pubkey;

typedef struct gp_keylist {
    gp_pubkey *keys;
    size_t n;
} gp_keylist;

/* The SSH type string ("ssh-ed25519", "ecdsa-sha2-nistp256", ...). */
const char *gp_keytype_name(gp_keytype t);
bool gp_keytype_is_ecdsa(gp_keytype t);

/* Parses one key line: "TYPE BASE64 [comment]", optionally after an authorized_keys options field.
 * GP_EUNSUPPORTED for a well-formed line of an unknown type (its blob starts with that type),
 * GP_EINVALID for anything else that is not a valid key, GP_ETOOBIG for a line over 16 KiB.
 * On success *out owns its memory: gp_pubkey_clear() it. */
int gp_pubkey_parse_line(gp_pubkey *out, const char *line, size_t len);
/* Parses an SSH wire blob (e.g. the public key inside an SSHSIG); errors as for a line. */
int gp_pubkey_from_blob(gp_pubkey *out, const unsigned char *blob, size_t len);
/* Frees what the key owns (not the struct itself). */
void gp_pubkey_clear(gp_pubkey *k);
/* Whether two keys are the same key (same blob). */
bool gp_pubkey_equal(const gp_pubkey *a, const gp_pubkey *b);
/* One authorized_keys line "TYPE BASE64" (no comment); caller frees. */
int gp_pubkey_to_line(char **out, const gp_pubkey *k);

/* Parses every line of a .keys / authorized_keys text ("\n" or "\r\n"); bad, unknown and repeated
 * keys are skipped, lines over 16 KiB too, and at most 100 keys are kept (the rest ignored).
 * An empty result is not an error (n == 0). Caller frees with gp_keylist_free() (NULL is fine). */
int gp_keylist_parse(gp_keylist **out, const char *text, size_t len);
void gp_keylist_free(gp_keylist *l);

/* SSH wire-format reading (RFC 4251 §5), shared with the private-key, agent and SSHSIG code.
 * Each returns 0 and advances the buffer, or GP_EINVALID (message set) and leaves it unchanged. */
typedef struct gp_sshbuf {
    const unsigned char *p;
    size_t len;
} gp_sshbuf;
int gp_ssh_get_u32(gp_sshbuf *b, uint32_t *out);
int gp_ssh_get_u8(gp_sshbuf *b, unsigned char *out);
/* A length-prefixed string; *out points into the buffer. */
int gp_ssh_get_string(gp_sshbuf *b, const unsigned char **out, size_t *len);
/* A string that must equal `expect`. */
int gp_ssh_expect_string(gp_sshbuf *b, const char *expect);

#endif
