/*
 * keys.c - a signer's published SSH keys, cached in SQLite with a TTL (--key-cache-ttl).
 *
 * A fresh cache entry answers without a fetch. Otherwise the keys are fetched through the
 * --github-keys-url template (keysource.h); when the source is unreachable a stale entry is
 * still used (the keys that verified yesterday are the best answer we have), and only with
 * nothing cached the caller hears GP_EUNAVAILABLE (the receipt goes pending). "No such user or
 * no keys" is cached too, so that a flood of receipts for a keyless login does not become a
 * flood of fetches. A forced refresh (a cached key set that failed to verify) is skipped when
 * the entry is younger than a few seconds.
 *
 * Breaker: a fetch that fails slowly (the source accepts and hangs, or drips its answer) holds an
 * HTTP worker thread for the whole fetch timeout, and libmicrohttpd queues the other connections
 * that thread accepted behind it. So after such a failure no fetch is tried for BREAKER_MS: the
 * answer is "unavailable" at once (stale cache or pending), and one hung source costs each
 * request at most one timeout instead of one per receipt queued behind it.
 * Since intake runs fetches on its key-fetch threads (intake.c: keys_get() without may_fetch
 * answers KEYS_WOULD_FETCH instead of fetching, and the receipt moves there), no HTTP thread
 * waits for a fetch any more; the breaker now keeps a hung source from occupying those threads
 * (and the worker) and answers the receipts behind it at once.
 *
 * Memory: the rows of signer_keys are also held in a small direct-mapped table in memory
 * (keys_start()), written through on every key_cache_put(), so that a receipt whose signer's keys are
 * cached costs no SQL: two reads of SQLite per receipt were a sixth of an HTTP thread's time, each
 * re-reading pages that the group commit had just invalidated. Bodies over KM_BODY_MAX bytes stay
 * in SQLite only; the table holds at most KM_SLOTS * KM_BODY_MAX bytes.
 */
#include "srv.h"
#include "github.h"
#include "keysource.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_REFRESH_S 5
#define BREAKER_MS 5000
#define KM_SLOTS 256
#define KM_BODY_MAX (16 * 1024)

static atomic_llong breaker_until_ms;

struct keymem {
    pthread_mutex_t mu;
    struct km_slot {
        char login[64];      /* "" = empty; GitHub logins have at most 39 characters */
        char *body;          /* NULL with notfound */
        size_t len;
        bool notfound;
        int64_t fetched_at;
    } slot[KM_SLOTS];
};

int keys_start(srv *s)
{
    struct keymem *km = calloc(1, sizeof(*km));
    if (!km) return gp_error_setf(GP_ERROR, "out of memory");
    pthread_mutex_init(&km->mu, NULL);
    s->keymem = km;
    return 0;
}

void keys_stop(srv *s)
{
    struct keymem *km = s->keymem;
    if (!km) return;
    for (size_t i = 0; i < KM_SLOTS; i++) free(km->slot[i].body);
    pthread_mutex_destroy(&km->mu);
    free(km);
    s->keymem = NULL;
}

static struct km_slot *km_slot(struct keymem *km, const char *login)
{
    return &km->slot[gp_hash_str(login) % KM_SLOTS];
}

/* Puts a cache row in memory (replacing whatever shared its slot). */
static void km_put(srv *s, const char *login, const char *body, size_t len, bool notfound, int64_t fetched_at)
{
    struct keymem *km = s->keymem;
    if (!km || strlen(login) >= sizeof(km->slot[0].login)) return;
    char *copy = NULL;
    if (body && len <= KM_BODY_MAX && (copy = malloc(len + 1))) {
        memcpy(copy, body, len);
        copy[len] = '\0';
    }
    pthread_mutex_lock(&km->mu);
    struct km_slot *e = km_slot(km, login);
    free(e->body);
    e->body = NULL;
    e->login[0] = '\0';
    if (copy || !body) { /* a body too large (or no memory): the slot stays empty */
        snprintf(e->login, sizeof(e->login), "%s", login);
        e->body = copy;
        e->len = copy ? len : 0;
        e->notfound = notfound;
        e->fetched_at = fetched_at;
    }
    pthread_mutex_unlock(&km->mu);
}

/* The memory copy of login's cache row: 0 with *body (a copy, may be NULL for notfound),
 * GP_ENOTFOUND when memory does not hold it. */
static int km_get(srv *s, const char *login, char **body, size_t *len, bool *notfound, int64_t *fetched_at)
{
    struct keymem *km = s->keymem;
    int error = GP_ENOTFOUND;
    if (!km) return error;
    pthread_mutex_lock(&km->mu);
    struct km_slot *e = km_slot(km, login);
    if (e->login[0] && strcmp(e->login, login) == 0) {
        *notfound = e->notfound;
        *fetched_at = e->fetched_at;
        *len = e->len;
        *body = NULL;
        error = 0;
        if (e->body && !(*body = malloc(e->len + 1))) error = gp_error_setf(GP_ERROR, "out of memory");
        else if (e->body) memcpy(*body, e->body, e->len + 1);
    }
    pthread_mutex_unlock(&km->mu);
    return error;
}

const key_table KEYS_DOTKEYS = {
    "SELECT body, result, fetched_at FROM signer_keys WHERE login = ?",
    "INSERT INTO signer_keys (login, body, result, fetched_at) VALUES (?, ?, ?, ?) ON CONFLICT (login) "
    "DO UPDATE SET body = excluded.body, result = excluded.result, fetched_at = excluded.fetched_at",
    "caching keys", true};
const key_table KEYS_SIGNING = {
    "SELECT body, result, fetched_at FROM signer_signing_keys WHERE login = ?",
    "INSERT INTO signer_signing_keys (login, body, result, fetched_at) VALUES (?, ?, ?, ?) ON CONFLICT (login) "
    "DO UPDATE SET body = excluded.body, result = excluded.result, fetched_at = excluded.fetched_at",
    "caching signing keys", false};

int key_cache_put(srv *s, const key_table *t, const char *login, const char *body, size_t len, bool notfound)
{
    int64_t now = (int64_t)time(NULL);
    store_lock(s->db);
    sqlite3_stmt *st = store_stmt(s->db, t->put_sql);
    int error = 0;
    if (!st) {
        error = GP_ERROR;
    } else {
        sqlite3_bind_text(st, 1, login, -1, SQLITE_STATIC);
        if (body) sqlite3_bind_blob(st, 2, body, (int)len, SQLITE_STATIC);
        else sqlite3_bind_null(st, 2);
        sqlite3_bind_text(st, 3, notfound ? "notfound" : "ok", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)now);
        if (sqlite3_step(st) != SQLITE_DONE) error = store_fail(s->db, t->what);
        store_done(st);
    }
    store_unlock(s->db);
    if (error == 0 && t->memory) km_put(s, login, body, len, notfound, now);
    return error;
}

int key_cache_get(srv *s, const key_table *t, const char *login, char **body, size_t *len, bool *notfound,
                  int64_t *fetched_at)
{
    int error = GP_ENOTFOUND;
    *body = NULL;
    *len = 0;
    if (t->memory && (error = km_get(s, login, body, len, notfound, fetched_at)) != GP_ENOTFOUND) return error;
    /* this thread's reader: no wait for the group commit holding the writer through its fsync */
    store *rd = store_reader(s->db);
    store_lock(rd);
    sqlite3_stmt *st = store_stmt(rd, t->get_sql);
    if (!st) {
        store_unlock(rd);
        return GP_ERROR;
    }
    sqlite3_bind_text(st, 1, login, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const void *b = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        *notfound = strcmp((const char *)sqlite3_column_text(st, 1), "ok") != 0;
        *fetched_at = sqlite3_column_int64(st, 2);
        error = 0;
        if (b && n > 0 && !*notfound) error = store_col_blobdup(st, 0, body, len);
    }
    store_done(st);
    store_unlock(rd);
    if (error == 0 && t->memory) km_put(s, login, *body, *len, *notfound, *fetched_at);
    return error;
}

static int to_list(const char *body, size_t len, bool notfound, const char *login, gp_keylist **out)
{
    if (notfound || !body)
        return gp_error_setf(GP_ENOTFOUND, "signer %s publishes no keys", login);
    int error = gp_keylist_parse(out, body, len);
    if (error < 0) return error;
    if ((*out)->n == 0) {
        gp_keylist_free(*out);
        *out = NULL;
        return gp_error_setf(GP_ENOTFOUND, "signer %s publishes no keys of a type gpuproof can use", login);
    }
    return 0;
}

/* The .keys part of keys_get() (see the top of this file). */
static int keys_get_dotkeys(srv *s, const char *login, bool force_refresh, bool may_fetch, gp_keylist **out,
                            bool *fresh)
{
    char *cbody = NULL, *fbody = NULL;
    size_t clen = 0, flen = 0;
    bool cnotfound = false, cached = false;
    int64_t fetched_at = 0;
    int error;
    *out = NULL;
    *fresh = false;

    error = key_cache_get(s, &KEYS_DOTKEYS, login, &cbody, &clen, &cnotfound, &fetched_at);
    if (error < 0 && error != GP_ENOTFOUND) goto done;
    cached = error == 0;
    int64_t age = (int64_t)time(NULL) - fetched_at;
    if (cached && ((!force_refresh && age < s->cfg.key_cache_ttl) || (force_refresh && age < MIN_REFRESH_S))) {
        atomic_fetch_add(&s->metrics.key_fetch[KF_CACHED], 1);
        error = to_list(cbody, clen, cnotfound, login, out);
        goto done;
    }
    gp_keysource src = {s->cfg.keys_url, s->cfg.key_timeout_ms / 2, s->cfg.key_timeout_ms, 256 * 1024};
    int64_t t0 = mono_ms();
    if (t0 < atomic_load(&breaker_until_ms)) {
        error = gp_error_setf(GP_EUNAVAILABLE, "keys of %s: the key source timed out moments ago; retry later",
                              login);
    } else if (!may_fetch) {
        error = KEYS_WOULD_FETCH;
        goto done;
    } else {
        error = gp_keys_fetch(&fbody, &flen, &src, login);
        int64_t took = mono_ms() - t0;
        if (error == GP_EUNAVAILABLE && took >= 1000 && took >= s->cfg.key_timeout_ms / 2)
            atomic_store(&breaker_until_ms, (long long)(mono_ms() + BREAKER_MS));
    }
    if (error == 0) {
        atomic_fetch_add(&s->metrics.key_fetch[KF_OK], 1);
        key_cache_put(s, &KEYS_DOTKEYS, login, fbody, flen, false);
        *fresh = true;
        error = to_list(fbody, flen, false, login, out);
    } else if (error == GP_ENOTFOUND) {
        atomic_fetch_add(&s->metrics.key_fetch[KF_NOTFOUND], 1);
        key_cache_put(s, &KEYS_DOTKEYS, login, NULL, 0, true);
        *fresh = true;
        error = gp_error_setf(GP_ENOTFOUND, "signer %s publishes no keys", login);
    } else {
        atomic_fetch_add(&s->metrics.key_fetch[KF_UNAVAILABLE], 1);
        if (cached && !force_refresh) {
            *fresh = true; /* as fresh as can be had now: a refresh would only wait again */
            error = to_list(cbody, clen, cnotfound, login, out);
        } else {
            error = GP_EUNAVAILABLE;
        }
    }
done:
    free(cbody);
    free(fbody);
    return error;
}

/* Moves b's keys that a does not hold into a; frees b. */
static int keylist_merge(gp_keylist *a, gp_keylist *b)
{
    gp_pubkey *keys = realloc(a->keys, (a->n + b->n) * sizeof(*keys));
    if (!keys) {
        gp_keylist_free(b);
        return gp_error_setf(GP_ERROR, "out of memory");
    }
    a->keys = keys;
    for (size_t i = 0; i < b->n; i++) {
        bool dup = false;
        for (size_t k = 0; k < a->n && !dup; k++) dup = gp_pubkey_equal(&a->keys[k], &b->keys[i]);
        if (dup) gp_pubkey_clear(&b->keys[i]);
        else a->keys[a->n++] = b->keys[i];
    }
    b->n = 0;
    gp_keylist_free(b);
    return 0;
}

/*
 * The signer's keys: the .keys lines, plus (with --github-api-url) the keys the login registered
 * for signing (github.c, cached the same way). A failure of the signing-keys API alone changes
 * nothing: the .keys outcome stands (docs/decisions.md, "GitHub"); verify_receipt() asks
 * github_keys_unknown() before calling a signature bad.
 */
int keys_get(srv *s, const char *login, bool force_refresh, bool may_fetch, gp_keylist **out, bool *fresh)
{
    int error = keys_get_dotkeys(s, login, force_refresh, may_fetch, out, fresh);
    if (error == KEYS_WOULD_FETCH || !github_enabled(s) ||
        (error < 0 && error != GP_ENOTFOUND && error != GP_EUNAVAILABLE))
        return error;
    char *body = NULL;
    size_t len = 0;
    gp_keylist *signing = NULL;
    int e2 = github_signing_keys(s, login, force_refresh, may_fetch, &body, &len);
    if (e2 == KEYS_WOULD_FETCH) {
        gp_keylist_free(*out);
        *out = NULL;
        return e2;
    }
    if (e2 == 0 && body) e2 = gp_keylist_parse(&signing, body, len);
    free(body);
    if (e2 < 0 || !signing || signing->n == 0) {
        gp_keylist_free(signing);
        /* no .keys and the API cannot say: not "publishes no keys" yet */
        return error == GP_ENOTFOUND && e2 == GP_EUNAVAILABLE ? GP_EUNAVAILABLE : error;
    }
    if (error == 0) return keylist_merge(*out, signing);
    *out = signing; /* .keys: none published, or the source is down and nothing is cached */
    return 0;
}
