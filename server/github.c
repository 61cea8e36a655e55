/*
 * github.c - the GitHub REST API from the server's side (see github.h): cached signing keys
 * and the durable outbox of `gpu-proof` commit statuses with its delivery thread.
 *
 * Commit state (what branch protection sees), computed from the stored receipts of (repo, sha):
 *   success  some verified receipt validates   "GPU-validated by alice, bob"
 *   pending  otherwise, some receipt pending    "Receipt pending verification"
 *   failure  otherwise                          "Not GPU-validated: 1 test failed in bob's run"
 * The failure text comes from the newest verified receipt (its failed / skipped counts, else
 * its first reason), or says that the receipts did not verify. Descriptions are cut to 140
 * bytes at a UTF-8 boundary. target_url = --public-url + "/commits/" + sha.
 *
 * Delivery: one row per commit in github_statuses; a new state bumps `version` and requeues
 * it. The thread takes the row due first, POSTs without holding the store lock, and records the
 * answer only if the row's version is still the one it sent (a newer state is sent next).
 */
#include "srv.h"
#include "github.h"
#include "keysource.h"

#include "curl_lazy.h"
#include <stdarg.h>
#include <strings.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TOKEN_MAX 4096
#define MIN_REFRESH_S 5
#define POST_TIMEOUT_MS 10000
#define RETRY_AFTER_MAX_S 3600 /* a longer Retry-After is taken as an hour */
#define IDLE_WAIT_MS 5000
#define BREAKER_MS 5000

static atomic_llong signing_breaker_until_ms;

struct gh_state {
    char *token;   /* sodium_malloc'ed, NUL-terminated; NULL without --github-token-file */
    bool statuses; /* API URL and token: commit statuses are posted */
    pthread_t thread;
    bool started;
    volatile sig_atomic_t stopping;
    bool public_defaulted;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

/* One log line {"level","msg"} with msg JSON-escaped. */
static void logf_json(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void logf_json(const char *level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *line = json_pack("{s:s, s:s}", "level", level, "msg", msg);
    char *text = line ? json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    if (text) fprintf(stderr, "%s\n", text);
    free(text);
    json_decref(line);
}

bool github_enabled(const srv *s)
{
    return s->cfg.github_api_url && *s->cfg.github_api_url;
}

static int read_token(struct gh_state *g, const char *path)
{
    char buf[TOKEN_MAX + 1];
    struct stat st;
    ssize_t n = 0, got;
    int error = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return gp_error_setf(GP_EINVALID, "--github-token-file %s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        error = gp_error_setf(GP_EINVALID, "--github-token-file %s is not a regular file", path);
        goto done;
    }
    if (st.st_mode & 077) {
        error = gp_error_setf(GP_EINVALID,
                              "--github-token-file %s can be read by others: chmod 600 it", path);
        goto done;
    }
    while (n < TOKEN_MAX && (got = read(fd, buf + n, (size_t)(TOKEN_MAX - n))) > 0)
        n += got;
    if (n >= TOKEN_MAX) {
        error = gp_error_setf(GP_EINVALID, "--github-token-file %s is too long for a token", path);
        goto done;
    }
    while (n > 0 && strchr(" \t\r\n", buf[n - 1]))
        n--;
    buf[n] = '\0';
    for (ssize_t i = 0; i < n; i++)
        if ((unsigned char)buf[i] <= 0x20 || (unsigned char)buf[i] > 0x7e) {
            error = gp_error_setf(GP_EINVALID,
                                  "--github-token-file %s must hold one token on one line", path);
            goto done;
        }
    if (n == 0) {
        error = gp_error_setf(GP_EINVALID, "--github-token-file %s is empty", path);
        goto done;
    }
    if (!(g->token = sodium_malloc((size_t)n + 1))) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    memcpy(g->token, buf, (size_t)n + 1);
done:
    sodium_memzero(buf, sizeof(buf));
    close(fd);
    return error;
}

/* ---- signing keys ------------------------------------------------------------------------ */

int github_signing_keys(srv *s, const char *login, bool force, bool may_fetch, char **body, size_t *len)
{
    char *cbody = NULL, *fbody = NULL;
    size_t clen = 0, flen = 0;
    int64_t at = 0;
    *body = NULL;
    *len = 0;
    bool notfound = false;
    int error = key_cache_get(s, &KEYS_SIGNING, login, &cbody, &clen, &notfound, &at);
    bool cached = error == 0;
    if (error < 0 && error != GP_ENOTFOUND) return error;
    int64_t age = (int64_t)time(NULL) - at;
    if (cached && ((!force && age < s->cfg.key_cache_ttl) || (force && age < MIN_REFRESH_S))) {
        *body = cbody;
        *len = clen;
        return 0;
    }
    gp_keysource src = {NULL, s->cfg.key_timeout_ms / 2, s->cfg.key_timeout_ms, 256 * 1024};
    int64_t t0 = mono_ms();
    if (t0 < atomic_load(&signing_breaker_until_ms)) {
        error = gp_error_setf(GP_EUNAVAILABLE,
                              "signing keys of %s: the GitHub API timed out moments ago", login);
    } else if (!may_fetch) {
        free(cbody);
        return KEYS_WOULD_FETCH;
    } else {
        error = gp_signing_keys_fetch(&fbody, &flen, &src, s->cfg.github_api_url, login,
                                      s->gh ? s->gh->token : NULL);
        int64_t took = mono_ms() - t0;
        /* as keys.c: a slow failure holds an HTTP thread; do not ask again for a while */
        if (error == GP_EUNAVAILABLE && took >= 1000 && took >= s->cfg.key_timeout_ms / 2)
            atomic_store(&signing_breaker_until_ms, (long long)(mono_ms() + BREAKER_MS));
    }
    if (error == 0) {
        atomic_fetch_add(&s->metrics.key_fetch[KF_OK], 1);
        key_cache_put(s, &KEYS_SIGNING, login, fbody, flen, false);
        free(cbody);
        *body = fbody;
        *len = flen;
        return 0;
    }
    if (error == GP_ENOTFOUND) {
        atomic_fetch_add(&s->metrics.key_fetch[KF_NOTFOUND], 1);
        key_cache_put(s, &KEYS_SIGNING, login, NULL, 0, true);
        free(cbody);
        return 0;
    }
    atomic_fetch_add(&s->metrics.key_fetch[KF_UNAVAILABLE], 1);
    logf_json("warn", "%s", gp_error_last());
    if (cached) { /* stale, but the best answer we have */
        *body = cbody;
        *len = clen;
        return 0;
    }
    return GP_EUNAVAILABLE;
}

/* ---- commit state ------------------------------------------------------------------------ */

/* Cuts s to at most max bytes at a UTF-8 boundary, ending in "..." when cut. */
static void cut(char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max) return;
    n = max - 3;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    memcpy(s + n, "...", 4);
}

/* Computes state and description of (repo, sha) from its receipts. Lock held. 0 or error. */
static int commit_state(srv *s, const char *repo, const char *sha, const char **state, char *desc,
                        size_t desclen)
{
    sqlite3_stmt *st =
        store_stmt(s->db, "SELECT status, validates, signer, failed, skipped, reasons "
                          "FROM receipts WHERE repo = ? AND commit_sha = ? "
                          "ORDER BY seq DESC LIMIT 500");
    if (!st) return GP_ERROR;
    sqlite3_bind_text(st, 1, repo, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, sha, -1, SQLITE_STATIC);
    json_t *by = json_array();
    bool pending = false, any = false;
    char why[400] = "";
    char rejected_by[64] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *status = (const char *)sqlite3_column_text(st, 0);
        const char *who = (const char *)sqlite3_column_text(st, 2);
        any = true;
        if (!strcmp(status, "pending")) pending = true;
        if (!strcmp(status, "rejected") && !rejected_by[0])
            snprintf(rejected_by, sizeof(rejected_by), "%s", who);
        if (strcmp(status, "verified") != 0) continue;
        if (sqlite3_column_int(st, 1)) {
            size_t k;
            json_t *e;
            bool seen = false;
            json_array_foreach(by, k, e) seen |= !strcmp(json_string_value(e), who);
            if (!seen) json_array_append_new(by, json_string(who));
            continue;
        }
        if (why[0]) continue; /* the newest verified one that does not validate explains */
        int64_t failed = sqlite3_column_int64(st, 3), skipped = sqlite3_column_int64(st, 4);
        if (failed > 0) {
            snprintf(why, sizeof(why), "%lld test%s failed in %s's run", (long long)failed,
                     failed == 1 ? "" : "s", who);
        } else {
            json_error_t jerr;
            json_t *reasons = json_loads((const char *)sqlite3_column_text(st, 5), 0, &jerr);
            const char *first = json_string_value(json_array_get(reasons, 0));
            if (skipped > 0 && first && strstr(first, "skipped:"))
                snprintf(why, sizeof(why), "%lld test%s skipped in %s's run", (long long)skipped,
                         skipped == 1 ? "" : "s", who);
            else if (first)
                snprintf(why, sizeof(why), "%s (%s's run)", first, who);
            else
                snprintf(why, sizeof(why), "%s's run does not validate", who);
            json_decref(reasons);
        }
    }
    store_done(st);
    size_t n = json_array_size(by);
    if (!any) {
        json_decref(by);
        return GP_ENOTFOUND;
    }
    if (n > 0) {
        /* alphabetical, as validated_by */
        for (size_t a = 1; a < n; a++)
            for (size_t b = a; b > 0 && strcmp(json_string_value(json_array_get(by, b - 1)),
                                               json_string_value(json_array_get(by, b))) > 0;
                 b--) {
                json_t *x = json_incref(json_array_get(by, b - 1));
                json_array_set(by, b - 1, json_array_get(by, b));
                json_array_set_new(by, b, x);
            }
        size_t used = (size_t)snprintf(desc, desclen, "GPU-validated by");
        for (size_t i = 0; i < n && used < desclen; i++)
            used += (size_t)snprintf(desc + used, desclen - used, "%s%s", i ? ", " : " ",
                                     json_string_value(json_array_get(by, i)));
        *state = "success";
    } else if (pending) {
        snprintf(desc, desclen, "Receipt pending verification");
        *state = "pending";
    } else if (why[0]) {
        snprintf(desc, desclen, "Not GPU-validated: %s", why);
        *state = "failure";
    } else {
        snprintf(desc, desclen, "Not GPU-validated: the signature of %s's receipt did not verify",
                 rejected_by);
        *state = "failure";
    }
    json_decref(by);
    cut(desc, GH_DESCRIPTION_MAX);
    return 0;
}

void github_commit_changed_locked2(srv *s, const char *repo, const char *sha)
{
    if (!s->gh || !s->gh->statuses || !repo || !sha) return;
    const char *state = NULL;
    char desc[600], url[1200], now[21];
    if (commit_state(s, repo, sha, &state, desc, sizeof(desc)) < 0) return;
    snprintf(url, sizeof(url), "%s/commits/%s", s->cfg.public_url, sha);
    gp_time_format(now, time(NULL));
    sqlite3_stmt *st = store_stmt(
        s->db,
        "INSERT INTO github_statuses (repo, sha, state, description, target_url, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (repo, sha) DO UPDATE SET state = excluded.state, "
        "description = excluded.description, target_url = excluded.target_url, "
        "updated_at = excluded.updated_at, version = version + 1, delivery = 'queued', "
        "attempts = 0, next_attempt_ms = 0, last_error = NULL "
        "WHERE state != excluded.state OR description != excluded.description OR "
        "target_url != excluded.target_url");
    if (!st) return;
    sqlite3_bind_text(st, 1, repo, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, sha, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, state, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, desc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, url, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, now, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        store_fail(s->db, "queueing a commit status");
        logf_json("error", "github: %s", gp_error_last());
    } else if (sqlite3_changes(store_db(s->db)) > 0) {
        github_wake(s);
    }
    store_done(st);
}

void github_commit_changed_locked(srv *s, const gp_receipt *r)
{
    if (!s->gh || !s->gh->statuses || !r->commit_sha) return;
    receipt_home h;
    receipt_home_of(&h, r);
    github_commit_changed_locked2(s, h.repo, h.commit);
}

void github_rejected(srv *s, const gp_receipt *r)
{
    if (!s->gh || !s->gh->statuses) return;
    store_lock(s->db);
    github_commit_changed_locked(s, r);
    store_unlock(s->db);
}

bool github_keys_unknown(srv *s, const char *login)
{
    if (!github_enabled(s)) return false;
    bool known = false;
    store_lock(s->db);
    sqlite3_stmt *st =
        store_stmt(s->db, "SELECT (SELECT count(*) FROM signer_keys WHERE login = ?) + "
                          "(SELECT count(*) FROM signer_signing_keys WHERE login = ?)");
    if (st) {
        sqlite3_bind_text(st, 1, login, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, login, -1, SQLITE_STATIC);
        known = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 2;
        store_done(st);
    }
    store_unlock(s->db);
    return !known;
}

/* ---- delivery ---------------------------------------------------------------------------- */

typedef struct job {
    char repo[256], sha[65], state[16];
    char *description, *target_url;
    int64_t version;
    int attempts;
} job;

static size_t discard(char *data, size_t size, size_t nmemb, void *userp)
{
    size_t *total = userp, n = size * nmemb;
    (void)data;
    *total += n;
    return *total > 64 * 1024 ? 0 : n; /* an answer larger than that is not GitHub's */
}

/* POSTs the status; returns the HTTP status, or 0 with errbuf set when no answer came.
 * *retry_after_ms: the answer's Retry-After (seconds or an HTTP date), 0 when it had none. */
static long post_status(srv *s, const job *j, char *errbuf, size_t errlen, int64_t *retry_after_ms)
{
    struct curl_slist *hdrs = NULL, *h2;
    gp_buf auth = GP_BUF_INIT(TOKEN_MAX + 64);
    char *url = NULL, *body = NULL, cerr[CURL_ERROR_SIZE] = "";
    size_t total = 0, base = strlen(s->cfg.github_api_url);
    long status = 0;
    CURL *h = NULL;
    errbuf[0] = '\0';
    *retry_after_ms = 0;
    while (base > 0 && s->cfg.github_api_url[base - 1] == '/')
        base--;
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s}", "state", j->state, "context", GH_CONTEXT,
                            "description", j->description, "target_url", j->target_url);
    body = doc ? json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(doc);
    if (!body || asprintf(&url, "%.*s/repos/%s/statuses/%s", (int)base, s->cfg.github_api_url,
                          j->repo, j->sha) < 0) {
        url = NULL;
        snprintf(errbuf, errlen, "out of memory");
        goto done;
    }
    if (gp_buf_printf(&auth, "Authorization: Bearer %s", s->gh->token) < 0 ||
        !(hdrs = curl_slist_append(NULL, auth.ptr)) ||
        !(h2 = curl_slist_append(hdrs, "Accept: application/vnd.github+json")) ||
        !(hdrs = h2, h2 = curl_slist_append(hdrs, "X-GitHub-Api-Version: 2022-11-28")) ||
        !(hdrs = h2, h2 = curl_slist_append(hdrs, "Content-Type: application/json")) ||
        !(hdrs = h2, h = curl_easy_init())) {
        snprintf(errbuf, errlen, "out of memory");
        goto done;
    }
    if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)POST_TIMEOUT_MS) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &total) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_USERAGENT, "gpuproof/" GP_VERSION) != CURLE_OK) {
        snprintf(errbuf, errlen, "libcurl refused an option");
        goto done;
    }
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_off_t after = 0;
    if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &after) == CURLE_OK && after > 0)
        *retry_after_ms = (after > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : (int64_t)after) * 1000;
    if (rc != CURLE_OK && status == 0)
        snprintf(errbuf, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
done:
    if (h) curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    if (auth.ptr) sodium_memzero(auth.ptr, auth.cap);
    gp_buf_free(&auth);
    free(url);
    free(body);
    return status;
}

/* The queued row due first: 1 with *j, 0 when none is due (*next = ms of the next, or -1). */
static int take(srv *s, job *j, int64_t *next)
{
    int found = 0;
    *next = -1;
    store_lock(s->db);
    sqlite3_stmt *st =
        store_stmt(s->db, "SELECT repo, sha, state, description, target_url, version, "
                          "attempts, next_attempt_ms FROM github_statuses "
                          "WHERE delivery = 'queued' ORDER BY next_attempt_ms LIMIT 1");
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        int64_t due = sqlite3_column_int64(st, 7);
        if (due <= now_ms()) {
            snprintf(j->repo, sizeof(j->repo), "%s", (const char *)sqlite3_column_text(st, 0));
            snprintf(j->sha, sizeof(j->sha), "%s", (const char *)sqlite3_column_text(st, 1));
            snprintf(j->state, sizeof(j->state), "%s", (const char *)sqlite3_column_text(st, 2));
            j->description = store_col_strdup(st, 3);
            j->target_url = store_col_strdup(st, 4);
            j->version = sqlite3_column_int64(st, 5);
            j->attempts = sqlite3_column_int(st, 6);
            found = j->description && j->target_url ? 1 : 0;
            if (!found) {
                free(j->description);
                free(j->target_url);
            }
        } else {
            *next = due;
        }
    }
    store_done(st);
    store_unlock(s->db);
    return found;
}

static void settle(srv *s, const job *j, const char *delivery, int attempts, int64_t next,
                   const char *err)
{
    store_lock(s->db);
    sqlite3_stmt *st = store_stmt(s->db, "UPDATE github_statuses SET delivery = ?, attempts = ?, "
                                         "next_attempt_ms = ?, last_error = ? "
                                         "WHERE repo = ? AND sha = ? AND version = ?");
    if (st) {
        sqlite3_bind_text(st, 1, delivery, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, attempts);
        sqlite3_bind_int64(st, 3, next);
        if (err)
            sqlite3_bind_text(st, 4, err, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 4);
        sqlite3_bind_text(st, 5, j->repo, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, j->sha, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, j->version);
        if (sqlite3_step(st) != SQLITE_DONE) {
            store_fail(s->db, "recording a commit status delivery");
            logf_json("error", "github: %s", gp_error_last());
        }
        store_done(st);
    }
    store_unlock(s->db);
}

static void deliver(srv *s, job *j)
{
    char err[CURL_ERROR_SIZE + 64];
    int64_t retry_after = 0;
    long status = post_status(s, j, err, sizeof(err), &retry_after);
    int attempts = j->attempts + 1;
    if (status >= 200 && status < 300) {
        settle(s, j, "delivered", attempts, 0, NULL);
        logf_json("info", "github: status %s for %s@%s delivered (%ld)", j->state, j->repo, j->sha,
                  status);
        return;
    }
    if (status) snprintf(err, sizeof(err), "the GitHub API answered %ld", status);
    if (status >= 400 && status < 500 && status != 429 && attempts >= GH_MAX_4XX) {
        settle(s, j, "given_up", attempts, 0, err);
        logf_json("error", "github: status %s for %s@%s given up after %d tries: %s", j->state,
                  j->repo, j->sha, attempts, err);
        return;
    }
    int64_t delay = s->cfg.retry_min_ms;
    for (int i = 1; i < attempts && delay < s->cfg.retry_max_ms; i++)
        delay *= 2;
    if (delay > s->cfg.retry_max_ms) delay = s->cfg.retry_max_ms;
    if (delay < retry_after) delay = retry_after; /* GitHub's rate limits say when (429, 403, 5xx) */
    settle(s, j, "queued", attempts, now_ms() + delay, err);
    logf_json("warn", "github: status %s for %s@%s not delivered (try %d, next in %lld ms): %s",
              j->state, j->repo, j->sha, attempts, (long long)delay, err);
}

static void *status_main(void *arg)
{
    srv *s = arg;
    struct gh_state *g = s->gh;
    for (;;) {
        pthread_mutex_lock(&g->mu);
        bool stop = g->stopping;
        pthread_mutex_unlock(&g->mu);
        if (stop) break;
        job j;
        int64_t next;
        if (take(s, &j, &next)) {
            deliver(s, &j);
            free(j.description);
            free(j.target_url);
            continue;
        }
        int64_t wait = next < 0 ? IDLE_WAIT_MS : next - now_ms();
        if (wait < 5) wait = 5;
        if (wait > IDLE_WAIT_MS) wait = IDLE_WAIT_MS;
        srv_timed_wait(&g->cv, &g->mu, &g->stopping, wait);
    }
    return NULL;
}

int github_start(srv *s)
{
    struct gh_state *g = calloc(1, sizeof(*g));
    int error;
    if (!g) return gp_error_setf(GP_ERROR, "out of memory");
    if (sodium_init() < 0) {
        free(g);
        return gp_error_setf(GP_ERROR, "libsodium could not be initialised");
    }
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    s->gh = g;
    if (!s->cfg.public_url) {
        if (asprintf(&s->cfg.public_url, "http://%s", s->cfg.listen) < 0) {
            s->cfg.public_url = NULL;
            return gp_error_setf(GP_ERROR, "out of memory");
        }
        g->public_defaulted = true;
    }
    if (strncasecmp(s->cfg.public_url, "https://", 8) != 0 &&
        strncasecmp(s->cfg.public_url, "http://", 7) != 0)
        return gp_error_setf(GP_EINVALID, "--public-url must start with https:// or http://");
    for (size_t n = strlen(s->cfg.public_url); n > 0 && s->cfg.public_url[n - 1] == '/'; n--)
        s->cfg.public_url[n - 1] = '\0';
    if (s->cfg.github_token_file && (error = read_token(g, s->cfg.github_token_file)) < 0)
        return error;
    if (github_enabled(s) && strncasecmp(s->cfg.github_api_url, "https://", 8) != 0 &&
        strncasecmp(s->cfg.github_api_url, "http://", 7) != 0)
        return gp_error_setf(GP_EINVALID, "--github-api-url must start with https:// or http://");
    if (g->token && !github_enabled(s))
        logf_json("warn", "github: --github-token-file without --github-api-url: no commit "
                          "statuses are posted");
    g->statuses = g->token && github_enabled(s);
    if (!g->statuses) return 0;
    if (pthread_create(&g->thread, NULL, status_main, s) != 0)
        return gp_error_setf(GP_ERROR, "cannot start the GitHub status thread");
    g->started = true;
    return 0;
}

void github_set_bound(srv *s, const char *bound)
{
    size_t n = strlen(s->cfg.listen);
    char *url = NULL;
    if (!s->gh || !s->gh->public_defaulted || n < 2 || strcmp(s->cfg.listen + n - 2, ":0") != 0)
        return;
    if (asprintf(&url, "http://%s", bound) < 0) return;
    store_lock(s->db);
    free(s->cfg.public_url);
    s->cfg.public_url = url;
    store_unlock(s->db);
}

void github_public_url(srv *s, char *out, size_t len)
{
    store_lock(s->db);
    snprintf(out, len, "%s", s->cfg.public_url ? s->cfg.public_url : "");
    store_unlock(s->db);
}

void github_wake(srv *s)
{
    struct gh_state *g = s->gh;
    if (!g || !g->started) return;
    pthread_mutex_lock(&g->mu);
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

void github_stop(srv *s)
{
    struct gh_state *g = s->gh;
    if (!g) return;
    if (g->started) {
        pthread_mutex_lock(&g->mu);
        g->stopping = true;
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        pthread_join(g->thread, NULL);
    }
    sodium_free(g->token);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
    s->gh = NULL;
}
