/*
 * respcache.h - cached encodings of hot GET answers (respcache.c), invalidated by every commit of
 * the writer connection. One cache per process.
 */
#ifndef GP_RESPCACHE_H
#define GP_RESPCACHE_H

#include "srv.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

/* Watches the writer connection's commits (its WAL hook; SQLite's autocheckpoint is kept). Done
 * once (later calls do nothing), by respcache_commit() itself on first use; nothing is cached
 * before. */
void respcache_attach(sqlite3 *writer);
/* Makes every entry stale (for writes that bypass the writer connection's commits). */
void respcache_invalidate(void);

/* The current generation: read it BEFORE building a document to put. */
unsigned long long respcache_generation(void);
/* On a hit, fills r with a 200 application/json answer and returns true. */
bool respcache_get(const char *key, srv_resp *r);
/* Stores body (copied) for key as of generation gen; skipped when too large or over budget. */
void respcache_put(const char *key, unsigned long long gen, const char *body, size_t len);

/* GET /api/commits/{sha}[?repo=]: the cached answer, else srv_doc_commit() encoded (and cached
 * when it is a 200); errors as resp_error(). */
void respcache_commit(srv *s, const char *sha, const char *repo, srv_resp *r);

#endif
