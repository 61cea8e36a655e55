/*
 * sig.h - verifying receipt signatures against a signer's published keys.
 *
 * The plugin's raw signatures (receipt-v1.md "Signature algorithms"):
 *   ed25519        64-byte Ed25519 over the signed bytes (libsodium)
 *   ecdsa-sha256   DER ECDSA over SHA-256 of the signed bytes, any NIST curve (libcrypto)
 *   rsa-pss-sha256 RSASSA-PSS, SHA-256, MGF1-SHA-256, any salt length (libcrypto); RSA < 2048 bits unused
 * and the gpuproof extension "sshsig" (sshsig.h). Only keys whose type fits the algorithm are
 * tried; the first that verifies is reported.
 */
#ifndef GP_SIG_H
#define GP_SIG_H

#include "receipt.h"
#include "sshkey.h"

/*
 * Verifies a raw signature of `msg` by any key in `keys`. On success returns 0 and sets *used
 * (borrowed from keys). GP_EBADSIG when no key verifies, GP_EUNSUPPORTED for an unknown algorithm.
 */
int gp_sig_verify(const gp_pubkey **used, const gp_keylist *keys, const char *algorithm,
                  const unsigned char *sig, size_t siglen, const unsigned char *msg, size_t msglen);

/* Verifies a receipt with its signer's keys: GP_EUNSIGNED, GP_EBADSIG or 0 with *used set. */
int gp_receipt_verify(const gp_pubkey **used, const gp_receipt *r, const gp_keylist *keys);

#endif
