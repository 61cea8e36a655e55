/*
 * dsse.h - Dead Simple Signing Envelope (DSSE v1, secure-systems-lab/dsse protocol.md and
 * envelope.md) with Ed25519 (libsodium), as in-toto attestations use it.
 *
 * The signature is over PAE(payloadType, payload) =
 *     "DSSEv1" SP LEN(payloadType) SP payloadType SP LEN(payload) SP payload
 * where LEN is the ASCII decimal byte length with no leading zeros and SP one space (0x20).
 * The envelope is the JSON object
 *     {"payload": base64(payload), "payloadType": TYPE,
 *      "signatures": [{"keyid": KEYID, "sig": base64(signature)}]}
 * with standard padded base64 (on reading, URL-safe base64 is accepted too, as the spec asks).
 */
#ifndef GP_DSSE_H
#define GP_DSSE_H

#include <stddef.h>

#define GP_DSSE_INTOTO_TYPE "application/vnd.in-toto+json"
#define GP_DSSE_MAX_ENVELOPE (4u << 20) /* bytes of an envelope gp_dsse_verify() reads */

/* PAE bytes of (type, payload). type is a NUL-terminated string. *out (caller frees) holds
 * *outlen bytes plus a NUL that is not counted. 0 or GP_ERROR (out of memory). */
int gp_dsse_pae(unsigned char **out, size_t *outlen, const char *type, const unsigned char *payload,
                size_t len);

/* Signs PAE(type, payload) with the 64-byte libsodium Ed25519 secret key sk and writes the
 * envelope as compact JSON with sorted keys into *out (NUL-terminated; caller frees). keyid may
 * be NULL (the member is then omitted). 0, GP_EINVALID (empty type) or GP_ERROR. */
int gp_dsse_sign(char **out, const char *type, const unsigned char *payload, size_t len,
                 const char *keyid, const unsigned char sk[64]);

/*
 * Verifies an envelope (at most GP_DSSE_MAX_ENVELOPE bytes of JSON, duplicate keys refused)
 * against the Ed25519 public key pk: accepted when at least one signature verifies over
 * PAE(payloadType, decoded payload). When keyid is not NULL, signatures that carry another
 * keyid are not tried (a signature without keyid is). On success *payload (caller frees,
 * NUL-terminated, *plen bytes) and *type (caller frees) are set; on failure they are untouched.
 * GP_EINVALID: not an envelope (missing or mistyped member, bad base64, no signatures).
 * GP_EBADSIG: no signature verifies.
 */
int gp_dsse_verify(unsigned char **payload, size_t *plen, char **type, const char *envelope,
                   size_t len, const unsigned char pk[32], const char *keyid);

#endif
