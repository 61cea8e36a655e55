/*
 * agent.h - a client of ssh-agent (draft-miller-ssh-agent) over its Unix socket (SSH_AUTH_SOCK).
 *
 * Two requests are enough for signing receipts: SSH2_AGENTC_REQUEST_IDENTITIES (which keys the
 * agent holds) and SSH2_AGENTC_SIGN_REQUEST (a signature by one of them). Every read is bounded
 * (GP_AGENT_MAX_REPLY) and every exchange has a timeout, so a stuck or hostile agent cannot hang
 * or exhaust the caller. The signatures returned are SSH signature blobs (RFC 4253 §6.6,
 * RFC 5656 §3.1.2, RFC 8332): rawsign.h turns them into the plugin's raw bytes.
 */
#ifndef GP_AGENT_H
#define GP_AGENT_H

#include "sshkey.h"

#include <stddef.h>
#include <stdint.h>

#define GP_AGENT_MAX_REPLY (256 * 1024)
#define GP_AGENT_RSA_SHA2_256 2u /* SSH_AGENT_RSA_SHA2_256 */
#define GP_AGENT_RSA_SHA2_512 4u /* SSH_AGENT_RSA_SHA2_512 */

typedef struct gp_agent gp_agent;

/*
 * Connects to the agent at `socket_path` (NULL: $SSH_AUTH_SOCK). timeout_ms bounds each exchange
 * (0 = 10000: the agent may ask for a confirmation). GP_ENOTFOUND when no agent is configured or
 * its socket does not exist, GP_EUNAVAILABLE when it does not answer. *out: caller closes.
 */
int gp_agent_open(gp_agent **out, const char *socket_path, int timeout_ms);
void gp_agent_close(gp_agent *a);

/*
 * The keys the agent holds, of the types sshkey.h knows (certificates and other types are
 * skipped). *out: caller frees with gp_keylist_free; may be empty. If comments is not NULL it
 * receives an array of l->n malloc'ed comment strings (free each, then the array).
 */
int gp_agent_list(gp_keylist **out, char ***comments, gp_agent *a);

/*
 * Asks the agent to sign `data` with `key` (flags: 0, or GP_AGENT_RSA_SHA2_256/512 for RSA).
 * On success *sig is the SSH signature blob (string format, string signature), malloc'ed, caller
 * frees. GP_ENOTFOUND when the agent refuses (usually: it does not hold that key, or the user
 * declined a confirmation), GP_EUNAVAILABLE on a broken connection or timeout.
 */
int gp_agent_sign(unsigned char **sig, size_t *siglen, gp_agent *a, const gp_pubkey *key,
                  const unsigned char *data, size_t datalen, uint32_t flags);

#endif
