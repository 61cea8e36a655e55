/*
 * sshsig.h - SSHSIG signatures (OpenSSH PROTOCOL.sshsig), the way git signs commits with SSH keys.
 *
 * The gpuproof extension of receipt-v1.md: a receipt's signature "value" may be the binary SSHSIG
 * blob of `ssh-keygen -Y sign -n gpu-proof` over the receipt's canonical bytes.
 *
 *   blob        = "SSHSIG" || uint32 1 || string publickey || string namespace || string reserved
 *                 || string hash_algorithm || string signature
 *   signed data = "SSHSIG" || string namespace || string "" || string hash_algorithm
 *                 || string H(message)                 (H = SHA-256 or SHA-512, per hash_algorithm)
 *
 * `signature` is an SSH signature (RFC 4253 §6.6): string sig-type || string sig-blob, and for the
 * FIDO types (PROTOCOL.u2f) also byte flags || uint32 counter. Verified here, in C:
 *   ssh-ed25519                            Ed25519 over the signed data (libsodium)
 *   ecdsa-sha2-nistp256/384/521            mpint r, mpint s; ECDSA over SHA-256/384/512 of it (RFC
 * 5656) rsa-sha2-256, rsa-sha2-512             PKCS#1 v1.5; "ssh-rsa" (SHA-1) and keys < 2048 bits
 * refused sk-ssh-ed25519@openssh.com             Ed25519 over SHA256(application) || flags ||
 * counter(BE)
 *                                          || SHA256(signed data)
 *   sk-ecdsa-sha2-nistp256@openssh.com     ECDSA P-256/SHA-256 over that same byte string
 * For the sk- types the user-presence flag (0x01) must be set.
 *
 * The armored form is ssh-keygen's: "-----BEGIN SSH SIGNATURE-----", base64 in lines of 70
 * columns, "-----END SSH SIGNATURE-----", each line ending in "\n".
 */
#ifndef GP_SSHSIG_H
#define GP_SSHSIG_H

#include "agent.h"
#include "sshkey.h"
#include "sshpriv.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GP_SSHSIG_NAMESPACE "gpu-proof" /* the namespace of every gpuproof SSHSIG */
#define GP_SSHSIG_MAX_BLOB 16384        /* larger blobs are refused (GP_ETOOBIG) */
#define GP_SSHSIG_FLAG_UP 0x01          /* PROTOCOL.u2f user-presence flag */

/* A parsed SSHSIG blob. Pointers that are not marked owned point into gp_sshsig.raw. */
typedef struct gp_sshsig {
    unsigned char *raw; /* a copy of the whole blob, owned */
    size_t raw_len;
    const unsigned char *pubkey_blob; /* the SSH wire blob of the signing key */
    size_t pubkey_len;
    gp_pubkey key;                  /* that key, parsed (fingerprint, type), owned */
    char ns[256];                   /* the namespace (1..255 bytes, no NUL), NUL-terminated */
    char hash_alg[8];               /* "sha256" or "sha512" */
    const unsigned char *signature; /* the SSH signature (string type || string blob [|| sk]) */
    size_t signature_len;
    char sig_type[48];             /* its sig-type ("rsa-sha2-512", "ssh-ed25519", ...) */
    const unsigned char *sig_blob; /* its sig-blob */
    size_t sig_blob_len;
    bool sk; /* FIDO signature: flags and counter below are set */
    unsigned char sk_flags;
    uint32_t sk_counter;
} gp_sshsig;

/*
 * Parses a binary SSHSIG blob (not armored; see gp_sshsig_dearmor). Checks the magic, version 1,
 * an empty reserved field, hash_algorithm sha256 or sha512, a namespace of 1..255 bytes without
 * NUL, the SSH signature's framing, no trailing bytes, and parses the public key.
 * 0 with *out set (free with gp_sshsig_free); GP_EINVALID for a malformed blob, GP_ETOOBIG over
 * GP_SSHSIG_MAX_BLOB, GP_EUNSUPPORTED for a public key type gpuproof does not handle.
 */
int gp_sshsig_parse(gp_sshsig **out, const unsigned char *blob, size_t len);
void gp_sshsig_free(gp_sshsig *s);

/*
 * Verifies an SSHSIG blob over `msg` for namespace `ns` (GP_SSHSIG_NAMESPACE for receipts): the
 * public key in the blob must be one of `keys` (gp_pubkey_equal), and its signature over the
 * signed data must verify as described above. On success returns 0 and sets *used (borrowed
 * from keys; `used` may be NULL). GP_EUNSIGNED for an empty blob, GP_EINVALID for a malformed
 * one, GP_ETOOBIG over the limit, GP_EBADSIG for everything else that is not a valid signature
 * by one of the signer's keys (wrong namespace, unknown key, unsupported or refused algorithm,
 * weak RSA key, user presence not asserted, signature mismatch).
 */
int gp_sshsig_verify(const gp_pubkey **used, const unsigned char *blob, size_t len, const char *ns,
                     const unsigned char *msg, size_t msglen, const gp_keylist *keys);

/*
 * The bytes a key must sign for an SSHSIG over msg (see "signed data" above). hash_alg is
 * "sha512" (what ssh-keygen uses) or "sha256". Caller frees *out. GP_EINVALID for a bad
 * namespace or hash algorithm.
 */
int gp_sshsig_signed_data(unsigned char **out, size_t *outlen, const char *ns, const char *hash_alg,
                          const unsigned char *msg, size_t msglen);

/*
 * Builds an SSH signature (string sig_type || string sig_blob) from a raw signature, as the file
 * key signers produce them: for "ssh-ed25519" the 64 signature bytes; for "ecdsa-sha2-nistp*"
 * the DER SEQUENCE{r, s} that OpenSSL makes (converted to mpint r || mpint s); for
 * "rsa-sha2-256"/"rsa-sha2-512" the PKCS#1 v1.5 signature bytes. An ssh-agent already answers
 * with this encoding, so agent signatures go to gp_sshsig_encode() as they are. Caller frees.
 */
int gp_sshsig_ssh_signature(unsigned char **out, size_t *outlen, const char *sig_type,
                            const unsigned char *raw, size_t rawlen);

/*
 * Builds the binary SSHSIG blob from the signer's public key blob, the namespace, the hash
 * algorithm used for gp_sshsig_signed_data() and the SSH signature of those signed data.
 * The result parses with gp_sshsig_parse(). Caller frees *out.
 */
int gp_sshsig_encode(unsigned char **out, size_t *outlen, const unsigned char *pubkey_blob,
                     size_t pubkey_len, const char *ns, const char *hash_alg,
                     const unsigned char *ssh_sig, size_t ssh_sig_len);

/*
 * Signs msg as an SSHSIG for namespace ns (hash sha512, like ssh-keygen) with a private key loaded
 * from a file (sshpriv.h): Ed25519 with libsodium, ECDSA over SHA-256/384/512 per curve, RSA as
 * rsa-sha2-512. The result is verified against the key before it is returned. *blob: caller frees.
 * GP_EUNSUPPORTED for a key type that cannot sign here, errors of the lower layers passed up.
 */
int gp_sshsig_sign_key(unsigned char **blob, size_t *len, const gp_privkey *key, const char *ns,
                       const unsigned char *msg, size_t msglen);

/*
 * The same with a key held by an ssh-agent (agent.h): passphrase-protected and agent-only keys,
 * and the FIDO sk- keys (the agent asks the authenticator, the user touches it). RSA keys are
 * asked for rsa-sha2-512. The agent's answer is verified against `key` before it is returned:
 * GP_EBADSIG when it does not verify (e.g. a security key signature without user presence).
 * Agent errors (GP_ENOTFOUND: the agent refused; GP_EUNAVAILABLE) are passed up.
 */
int gp_sshsig_sign_agent(unsigned char **blob, size_t *len, gp_agent *agent, const gp_pubkey *key,
                         const char *ns, const unsigned char *msg, size_t msglen);

/* The armored text of a blob, exactly as ssh-keygen writes it (NUL-terminated). Caller frees. */
int gp_sshsig_armor(char **out, const unsigned char *blob, size_t len);

/*
 * The blob inside an armored signature. Accepts "\n" or "\r\n" line ends and whitespace around
 * the armor; the base64 must be standard and padded. Caller frees. GP_EINVALID when the text is
 * not one armored SSH signature, GP_ETOOBIG when the blob would exceed GP_SSHSIG_MAX_BLOB.
 */
int gp_sshsig_dearmor(unsigned char **out, size_t *outlen, const char *text, size_t len);

#endif
