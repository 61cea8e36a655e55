/*
 * sig.h - verifying receipt signatures against a signer's published keys.
 *
 * The plugin's raw signatures (receipt-v1.md "Signature algorithms"):
 *   ed25519        64-byte Ed25519 over the signed bytes (libsodium)
 *   ecdsa-sha256   DER ECDSA over SHA-256 of the signed bytes, any NIST curve (libcrypto)
 *   rsa-pss-sha256 RSASSA-PSS, SHA-256, MGF1-SHA-256, any salt length (libcrypto); RSA < 2048 bits
 * unused and the gpuproof extension "sshsig" (sshsig.h; namespace "gpu-proof", handed to
 * gp_sshsig_verify()). Only keys whose type fits the algorithm are tried (ed25519: ssh-ed25519;
 * ecdsa-sha256: ecdsa-sha2-nistp256/384/521; rsa-pss-sha256: ssh-rsa of 2048 bits or more; sk-
 * keys never make raw signatures); the first that verifies is reported. Thread-safe.
 */
#ifndef GP_SIG_H
#define GP_SIG_H

#include "receipt.h"
#include "sshkey.h"

/*
 * Verifies a raw signature of `msg` by any key in `keys`. On success returns 0 and sets *used
 * (borrowed from keys; `used` may be NULL). GP_EBADSIG when no key verifies (also when the signer
 * has no key of a fitting type, or keys is NULL/empty), GP_EUNSIGNED for an empty signature,
 * GP_EUNSUPPORTED for an unknown algorithm (and for "sshsig" in a build without sshsig.c);
 * for "sshsig" also gp_sshsig_verify()'s GP_EINVALID / GP_ETOOBIG for a malformed blob.
 */
int gp_sig_verify(const gp_pubkey **used, const gp_keylist *keys, const char *algorithm,
                  const unsigned char *sig, size_t siglen, const unsigned char *msg, size_t msglen);

/* Verifies a receipt's signed bytes with its signer's keys (the caller fetched them for
 * r->sig_signer): GP_EUNSIGNED when the receipt is not signed, otherwise as gp_sig_verify(). */
int gp_receipt_verify(const gp_pubkey **used, const gp_receipt *r, const gp_keylist *keys);

#endif
