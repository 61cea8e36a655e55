/*
 * github.h - gpuproof-server and the GitHub REST API (--github-api-url, --github-token-file):
 * the SSH keys users registered for signing, and `gpu-proof` commit statuses.
 *
 * Signing keys: github_signing_keys() returns a login's ssh_signing_keys (lib/keysource.h
 * gp_signing_keys_fetch) cached in signer_signing_keys with --key-cache-ttl, a stale entry used
 * while the API cannot answer. keys.c merges them with the .keys lines.
 *
 * Commit statuses: github_commit_changed_locked() is called (store lock held, usually inside the
 * transaction that changed a receipt) for the receipt's (repo, sha); it computes the commit's
 * state (success / failure / pending with a description) and, when it differs from the last one
 * recorded, puts it into the github_statuses outbox (one row per commit: the latest state
 * replaces an undelivered older one). A background thread POSTs
 * {api}/repos/{owner}/{repo}/statuses/{sha} until GitHub answers 2xx: retried with backoff
 * (--retry-min-ms doubling up to --retry-max-ms) on no answer, 5xx and 429; other 4xx are
 * given up after GH_MAX_4XX tries (logged). The outbox is in the database, so a restart resumes.
 * The token is read once at start (the file must not be readable by group or others) and
 * never logged.
 */
#ifndef GP_GITHUB_H
#define GP_GITHUB_H

#include "receipt.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct srv srv;

#define GH_CONTEXT "gpu-proof"
#define GH_MAX_4XX 3
#define GH_DESCRIPTION_MAX 140 /* GitHub's limit for a status description */

/* Reads the token file (when configured) and starts the status thread (when the API URL and a
 * token are both set). 0 or a negative error with the message set (a token file that group or
 * others can read is GP_EINVALID). */
int github_start(srv *s);
void github_stop(srv *s);

/* Whether --github-api-url is set (signing keys are read). */
bool github_enabled(const srv *s);

/* A login's signing keys as .keys lines: 0 with *body (caller frees; NULL and *len 0 when the
 * login registered none), GP_EUNAVAILABLE when the API cannot answer and nothing is cached,
 * KEYS_WOULD_FETCH (srv.h) when the answer needs a fetch and may_fetch is false.
 * force: skip a fresh cache entry (a key set that failed to verify). */
int github_signing_keys(srv *s, const char *login, bool force, bool may_fetch, char **body, size_t *len);

/* The receipt's commit may have changed state: queue its status if it did. Store lock held.
 * Never fails the caller (problems are logged); a no-op without statuses configured or for a
 * receipt whose remote is not on GitHub. */
void github_commit_changed_locked(srv *s, const gp_receipt *r);
/* The same for a stored (repo, sha), e.g. after a re-evaluation. */
void github_commit_changed_locked2(srv *s, const char *repo, const char *sha);

/* After listening: a defaulted --public-url for "--listen HOST:0" becomes the bound address. */
void github_set_bound(srv *s, const char *bound);
/* Copies --public-url (no trailing '/') into out; safe against github_set_bound(). */
void github_public_url(srv *s, char *out, size_t len);

/* A pending receipt was rejected (worker.c): github_commit_changed_locked() under the lock. */
void github_rejected(srv *s, const gp_receipt *r);

/* Whether, with --github-api-url, a login's keys are not all known: the .keys or the signing
 * keys were never fetched successfully (no cache entry). Then a signature no known key verifies
 * is pending, not bad. Always false without --github-api-url. */
bool github_keys_unknown(srv *s, const char *login);

/* Wakes the status thread (call after the transaction that queued a status committed). */
void github_wake(srv *s);

#endif
