/*
 * server.h - what the parts of gpuproof-server share.
 *
 * The server is thin glue around lib/: main.c (flags, startup, shutdown), http.c (libmicrohttpd,
 * routing, limits, problem details, logs, metrics), store.c (SQLite), intake.c (POST /api/receipts),
 * keys.c (signer key cache and fetch), worker.c (pending receipts), policy.c, ledger.c, api.c
 * (the JSON documents) and pages.c / html.c (server-rendered pages from web/ templates, badge).
 *
 * The pages render the very JSON documents the API serves: each srv_doc_* builds one document
 * (a new jansson reference, caller decrefs) and both api.c and pages.c call them, so the two can
 * never disagree. They return 0, GP_ENOTFOUND, GP_EINVALID (a bad argument; message set) or GP_ERROR.
 */
#ifndef GP_SERVER_H
#define GP_SERVER_H

#include "buf.h"
#include "error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct srv srv; /* the server context (main.c / http.c); opaque to pages */

/* GET /api/receipts/{id}: the receipt summary (api.md). */
int srv_doc_receipt(srv *s, const char *id, json_t **out);
/* GET /api/receipts/{id}/raw: the bytes exactly as submitted. Caller frees *out. */
int srv_receipt_raw(srv *s, const char *id, char **out, size_t *len);
/* GET /api/commits/{sha}[?repo=o/n]: {"commit","validated","validated_by","receipts"}. */
int srv_doc_commit(srv *s, const char *sha, const char *repo, json_t **out);
/* GET /api/repos: {"repos":[{"repo","commits","receipts","latest":{commit summary fields}}]}. */
int srv_doc_repos(srv *s, json_t **out);
/* GET /api/repos/{owner}/{name}/commits?limit&cursor:
 * {"repo","commits":[{"commit","state":"validated"|"failed"|"not_validated"|"pending",
 *   "validated_by":[...],"receipts":n,"gpus":[names],"last_received_at"}],"next_cursor"|null}. */
int srv_doc_repo_commits(srv *s, const char *repo, int limit, const char *cursor, json_t **out);
/* GET /api/signers/{login}: {"signer","receipts":[summaries newest first]} (bounded list). */
int srv_doc_signer(srv *s, const char *login, json_t **out);
/* The latest `limit` receipts (summaries, newest received first): {"receipts":[...]}. */
int srv_doc_latest(srv *s, int limit, json_t **out);
/* Commits whose sha starts with `prefix` (>= 7 hex) and signers whose login matches `q`:
 * {"commits":[sha...],"signers":[login...]} (bounded). */
int srv_doc_lookup(srv *s, const char *q, json_t **out);

/*
 * Pages (pages.c). Handles every GET/HEAD path that is not under /api/ and not /healthz or
 * /metrics: "/", "/repos/o/n", "/commits/sha", "/receipts/id", "/signers/login",
 * "/badge/o/n/sha.svg", "/lookup?q=", "/static/...". Fills body, status, content type
 * (static string) and returns 0; GP_ENOTFOUND for a path it does not know (the caller answers
 * 404 with a page). Every string from a receipt is escaped for where it goes.
 */
int pages_handle(srv *s, const char *path, const char *query, gp_buf *body, int *status,
                 const char **content_type);

/* The directory holding web/ (templates and static files), resolved at start. */
const char *srv_web_dir(const srv *s);

#endif
