/*
 * respcache.c - a small cache of encoded GET /api/commits/{sha} answers: the question CI asks
 * before every merge, the same few commits asked over and over by many jobs.
 *
 * Invalidation is by generation: every transaction the writer connection commits (receipts,
 * ledger, key cache, anything) bumps one counter from SQLite's WAL hook, which runs after the
 * commit is durable and its write lock released; an entry is served only while the counter
 * still has the value read before its document was built. So an answer is never older than the
 * last commit, and under intake load the cache simply misses. The WAL hook replaces SQLite's
 * default one, so it also does what that one does: a passive checkpoint at 1000 WAL pages.
 *
 * Bounded: RC_SLOTS direct-mapped slots, bodies up to RC_MAX_BODY bytes, RC_BUDGET bytes in all.
 */
#include "respcache.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RC_SLOTS 512
#define RC_MAX_BODY (64 * 1024)
#define RC_BUDGET (4 * 1024 * 1024)
#define RC_KEY 340
#define WAL_CHECKPOINT_PAGES 1000 /* SQLite's default autocheckpoint */

typedef struct rc_slot {
    pthread_mutex_t mu;
    char key[RC_KEY];
    unsigned long long gen;
    char *body;
    size_t len;
} rc_slot;

static rc_slot slots[RC_SLOTS];
static atomic_ullong generation = 1;
static atomic_size_t used;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static sqlite3 *_Atomic hooked;
static sqlite3 *to_attach;

static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    (void)arg;
    atomic_fetch_add(&generation, 1);
    if (pages >= WAL_CHECKPOINT_PAGES) sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

static void attach_now(void)
{
    for (size_t i = 0; i < RC_SLOTS; i++) pthread_mutex_init(&slots[i].mu, NULL);
    sqlite3_wal_hook(to_attach, wal_hook, NULL);
    atomic_fetch_add(&generation, 1);
    atomic_store(&hooked, to_attach);
}

void respcache_attach(sqlite3 *writer)
{
    to_attach = writer;
    pthread_once(&once, attach_now);
}

void respcache_invalidate(void)
{
    atomic_fetch_add(&generation, 1);
}

unsigned long long respcache_generation(void)
{
    return atomic_load(&generation);
}

static rc_slot *slot_for(const char *key)
{
    return &slots[gp_hash_str(key) % RC_SLOTS];
}

bool respcache_get(const char *key, srv_resp *r)
{
    if (!hooked || strlen(key) >= RC_KEY) return false;
    rc_slot *sl = slot_for(key);
    bool hit = false;
    pthread_mutex_lock(&sl->mu);
    if (sl->body && sl->gen == atomic_load(&generation) && !strcmp(sl->key, key)) {
        resp_text(r, 200, "application/json", sl->body, sl->len);
        hit = r->status == 200;
    }
    pthread_mutex_unlock(&sl->mu);
    return hit;
}

void respcache_put(const char *key, unsigned long long gen, const char *body, size_t len)
{
    if (!hooked || strlen(key) >= RC_KEY || len > RC_MAX_BODY) return;
    rc_slot *sl = slot_for(key);
    pthread_mutex_lock(&sl->mu);
    size_t have = sl->body ? sl->len : 0;
    if (atomic_load(&used) - have + len <= RC_BUDGET) {
        char *copy = malloc(len ? len : 1);
        if (copy) {
            memcpy(copy, body, len);
            free(sl->body);
            atomic_fetch_sub(&used, have);
            atomic_fetch_add(&used, len);
            sl->body = copy;
            sl->len = len;
            sl->gen = gen;
            snprintf(sl->key, sizeof(sl->key), "%s", key);
        }
    }
    pthread_mutex_unlock(&sl->mu);
}

void respcache_commit(srv *s, const char *sha, const char *repo, srv_resp *r)
{
    char key[RC_KEY];
    size_t n = strlen(sha);
    bool cacheable = n <= 64 && (!repo || strlen(repo) <= 256);
    if (cacheable) {
        /* attached by the first question: nothing was cached before it */
        if (!atomic_load(&hooked)) respcache_attach(store_db(s->db));
        for (size_t i = 0; i < n; i++) key[i] = (char)tolower((unsigned char)sha[i]);
        snprintf(key + n, sizeof(key) - n, "|%s", repo ? repo : "");
        if (respcache_get(key, r)) return;
    }
    unsigned long long gen = respcache_generation();
    json_t *doc = NULL;
    int error = srv_doc_commit(s, sha, repo, &doc);
    if (error < 0) {
        resp_error(r, error);
        return;
    }
    char *text = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(doc);
    if (!text) {
        resp_problem(r, 500, "the answer could not be encoded");
        return;
    }
    size_t len = strlen(text);
    resp_text(r, 200, "application/json", text, len);
    if (cacheable) respcache_put(key, gen, text, len);
    free(text);
}
