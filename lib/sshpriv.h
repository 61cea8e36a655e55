/*
 * sshpriv.h - OpenSSH private key files ("-----BEGIN OPENSSH PRIVATE KEY-----").
 *
 * Reads the openssh-key-v1 container (OpenSSH PROTOCOL.key): base64 body, "none" cipher and kdf,
 * one key, matching check integers, then the key itself for ssh-ed25519, ecdsa-sha2-nistp256/384/521
 * and ssh-rsa (n, e, d, iqmp, p, q). Encrypted keys are refused with GP_EUNSUPPORTED and a message
 * that says to add the key to ssh-agent; their public half can still be read with
 * gp_privkey_file_pubkey(), which is how the CLI finds the same key inside an agent.
 *
 * Files are opened with O_NOFOLLOW and read only up to GP_PRIVKEY_MAX_FILE bytes. Every buffer
 * that holds secret bytes (the file, the decoded body, the Ed25519 secret key) is sodium_malloc'ed,
 * mlock'ed where the system allows, and wiped when freed. ECDSA / RSA secrets end in an OpenSSL
 * EVP_PKEY, which clears its private numbers when freed.
 */
#ifndef GP_SSHPRIV_H
#define GP_SSHPRIV_H

#include "sshkey.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>

#define GP_PRIVKEY_MAX_FILE (64 * 1024)

typedef struct gp_privkey {
    gp_pubkey pub;               /* the public half: type, blob, fingerprint (owned) */
    unsigned char *ed25519_sk;   /* ED25519: libsodium's 64-byte secret key, sodium_malloc'ed */
    EVP_PKEY *pkey;              /* ECDSA and RSA: the private key (owned) */
    char *comment;               /* the key's comment, may be "" (owned) */
} gp_privkey;

/*
 * Loads an unencrypted private key file. On success *out is owned by the caller
 * (gp_privkey_free). GP_ENOTFOUND when the file does not exist, GP_EUNSUPPORTED for an encrypted
 * key ("key is passphrase-protected: add it to ssh-agent with `ssh-add PATH` and try again") or a
 * key type gpuproof does not sign with, GP_EINVALID for anything that is not a well-formed key file
 * (including PEM/PKCS#8 files: convert them with `ssh-keygen -p -f PATH`), GP_ETOOBIG over 64 KiB.
 */
int gp_privkey_load(gp_privkey **out, const char *path);

/* The same from bytes already in memory (`path` only names the key in messages; may be NULL). */
int gp_privkey_parse(gp_privkey **out, const char *data, size_t len, const char *path);

/* Wipes and frees the key. NULL is a no-op. */
void gp_privkey_free(gp_privkey *k);

/*
 * Reads only the public key stored in the clear in a private key file (works for encrypted
 * files too); *encrypted says whether the secret part is encrypted. *out is filled (caller clears
 * it with gp_pubkey_clear). Errors as gp_privkey_load.
 */
int gp_privkey_file_pubkey(gp_pubkey *out, bool *encrypted, const char *path);

#endif
