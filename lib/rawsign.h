/*
 * rawsign.h - producing the plugin's raw receipt signatures (receipt-v1.md "Signature algorithms").
 *
 *   ssh-ed25519            "ed25519"        64-byte Ed25519 signature of msg
 *   ecdsa-sha2-nistp*      "ecdsa-sha256"   DER SEQUENCE{r, s} of ECDSA over SHA-256(msg), any curve
 *   ssh-rsa                "rsa-pss-sha256" RSASSA-PSS, SHA-256, MGF1-SHA-256, maximum salt length
 *
 * A signature comes either from a private key loaded from a file (sshpriv.h) or from a key held by
 * an ssh-agent (agent.h). Through an agent only some keys can give these bytes:
 *   - Ed25519: the agent's signature is exactly the 64 bytes;
 *   - ECDSA P-256: agents hash with SHA-256 for nistp256 (RFC 5656 §6.2.1), so (r, s) re-encoded as
 *     DER is the plugin's signature; P-384 / P-521 keys are hashed with SHA-384 / SHA-512 by the
 *     agent, which the plugin's "ecdsa-sha256" cannot verify: GP_EUNSUPPORTED, "use the key file
 *     or --format sshsig";
 *   - RSA: agents sign PKCS#1 v1.5 (rsa-sha2-256/512), never PSS: GP_EUNSUPPORTED, same advice.
 * gp_rawsign_agent_usable() says in advance whether an agent key can make a raw signature.
 */
#ifndef GP_RAWSIGN_H
#define GP_RAWSIGN_H

#include "agent.h"
#include "sshkey.h"
#include "sshpriv.h"

#include <stdbool.h>
#include <stddef.h>

/* Where the signature comes from: exactly one of `key` or (`agent`, `agent_key`). */
typedef struct gp_rawsigner {
    const gp_privkey *key;       /* a private key from a file */
    gp_agent *agent;             /* an open agent connection ... */
    const gp_pubkey *agent_key;  /* ... and the key in it to sign with */
} gp_rawsigner;

/*
 * Signs msg. On success *sig (malloc'ed, caller frees) holds the raw signature bytes, *len their
 * length and *algorithm (static string) the receipt's "algorithm" value. The public key that
 * verifies it is s->key->pub or *s->agent_key. Errors: GP_EUNSUPPORTED (a key that cannot make a
 * plugin signature, message says what to use instead), agent errors passed through, GP_ERROR.
 */
int gp_rawsign(unsigned char **sig, size_t *len, const char **algorithm, const gp_rawsigner *s,
               const unsigned char *msg, size_t msglen);

/* The algorithm name for a key type ("ed25519", "ecdsa-sha256", "rsa-pss-sha256"), or NULL. */
const char *gp_rawsign_algorithm(gp_keytype t);

/* Whether an agent-held key of this type can produce a raw plugin signature (ed25519, P-256).
 * When not, and why_not is not NULL, *why_not is a static sentence saying what to do instead. */
bool gp_rawsign_agent_usable(gp_keytype t, const char **why_not);

/*
 * Converts an SSH signature blob from an agent (string format, string signature) made by `key`
 * into the raw plugin bytes (malloc'ed). GP_EUNSUPPORTED for formats that are not convertible,
 * GP_EINVALID for a malformed blob. Exposed for tests.
 */
int gp_rawsign_from_ssh(unsigned char **sig, size_t *len, const gp_pubkey *key, const unsigned char *blob,
                        size_t blob_len);

#endif
