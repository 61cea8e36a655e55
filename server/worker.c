/*
 * worker.c - the background verification of pending receipts.
 *
 * A receipt is pending when its signer's keys could not be fetched and none were cached. The
 * worker retries each one with exponential backoff (--retry-min-ms doubling up to
 * --retry-max-ms) until the key source answers; then the receipt becomes verified (with its
 * ledger leaf, in one transaction) or rejected (no key verifies, or the signer publishes none).
 * The row is never deleted, so a pending receipt survives restarts and is never lost.
 */
#include "srv.h"
#include "github.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct due {
    char id[65];
    char *raw;
    size_t len;
    int attempts;
} due;

static int load_due(srv *s, due *out, int max, int64_t *next)
{
    int n = 0;
    *next = -1;
    store_lock(s->db);
    sqlite3_stmt *st = store_stmt(s->db, "SELECT id, raw, attempts FROM receipts WHERE status = 'pending' "
                                         "AND coalesce(next_attempt_ms, 0) <= ? ORDER BY next_attempt_ms LIMIT ?");
    if (st) {
        sqlite3_bind_int64(st, 1, now_ms());
        sqlite3_bind_int(st, 2, max);
        while (n < max && sqlite3_step(st) == SQLITE_ROW) {
            snprintf(out[n].id, sizeof(out[n].id), "%s", (const char *)sqlite3_column_text(st, 0));
            if (store_col_blobdup(st, 1, &out[n].raw, &out[n].len) < 0) break;
            out[n].attempts = sqlite3_column_int(st, 2);
            n++;
        }
        store_done(st);
    }
    st = store_stmt(s->db, "SELECT min(coalesce(next_attempt_ms, 0)) FROM receipts WHERE status = 'pending'");
    if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *next = sqlite3_column_int64(st, 0);
    store_done(st);
    store_unlock(s->db);
    return n;
}

static void set_row(srv *s, const char *id, const char *status, int attempts, int64_t next, const char *err,
                    const char *reasons)
{
    store_lock(s->db);
    sqlite3_stmt *st = store_stmt(s->db, "UPDATE receipts SET status = ?, attempts = ?, next_attempt_ms = ?, "
                                         "last_error = ?, reasons = coalesce(?, reasons) "
                                         "WHERE id = ? AND status = 'pending'");
    if (st) {
        sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, attempts);
        if (next) sqlite3_bind_int64(st, 3, next); else sqlite3_bind_null(st, 3);
        sqlite3_bind_text(st, 4, err, -1, SQLITE_STATIC);
        if (reasons) sqlite3_bind_text(st, 5, reasons, -1, SQLITE_STATIC); else sqlite3_bind_null(st, 5);
        sqlite3_bind_text(st, 6, id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            fprintf(stderr, "{\"level\":\"error\",\"msg\":\"worker: updating a pending receipt failed\"}\n");
        store_done(st);
    }
    store_unlock(s->db);
}

static void reject(srv *s, const due *d, const char *why)
{
    json_t *reasons = json_pack("[s]", why);
    char *text = json_dumps(reasons, JSON_COMPACT | JSON_ENSURE_ASCII);
    set_row(s, d->id, "rejected", d->attempts + 1, 0, why, text);
    free(text);
    json_decref(reasons);
}

/* Exponential backoff: retry_min_ms doubling per attempt, capped at retry_max_ms. */
static void retry_later(srv *s, const due *d, const char *why)
{
    int64_t delay = s->cfg.retry_min_ms;
    for (int i = 0; i < d->attempts && delay < s->cfg.retry_max_ms; i++) delay *= 2;
    if (delay > s->cfg.retry_max_ms) delay = s->cfg.retry_max_ms;
    set_row(s, d->id, "pending", d->attempts + 1, now_ms() + delay, why, NULL);
}

static void process(srv *s, due *d)
{
    gp_receipt *r = NULL;
    char fp[64], type[48], msg[300];
    int64_t index;
    if (gp_receipt_parse(&r, d->raw, d->len, GP_RECEIPT_REQUIRE_COMMIT) < 0 || !r->signed_) {
        reject(s, d, "the stored receipt no longer parses");
        goto done;
    }
    switch (verify_receipt(s, r, fp, type)) {
    case V_VERIFIED: {
        int e = record_verified(s, r, d->raw, d->len, fp, type, true, &index);
        if (e == 0 || e == GP_EEXISTS) break;
        fprintf(stderr, "{\"level\":\"error\",\"msg\":\"worker: storing a verified receipt failed\"}\n");
        retry_later(s, d, "storing the verified receipt failed");
        break;
    }
    case V_BADSIG:
        snprintf(msg, sizeof(msg), "no key that %s publishes verifies the signature", r->sig_signer);
        reject(s, d, msg);
        github_rejected(s, r);
        break;
    case V_NOKEYS:
        snprintf(msg, sizeof(msg), "signer %s publishes no keys", r->sig_signer);
        reject(s, d, msg);
        github_rejected(s, r);
        break;
    default:
        retry_later(s, d, "the key source is unreachable");
    }
done:
    gp_receipt_free(r);
}

static void *worker_main(void *arg)
{
    srv *s = arg;
    due batch[16];
    while (!s->stopping) {
        int64_t next;
        int n = load_due(s, batch, 16, &next);
        for (int i = 0; i < n; i++) {
            if (!s->stopping) process(s, &batch[i]);
            free(batch[i].raw);
        }
        if (n == 16) continue;
        int64_t wait = next < 0 ? 60000 : next - now_ms();
        if (wait < 10) wait = 10;
        if (wait > 60000) wait = 60000;
        if (n > 0 && wait > 50) wait = 50; /* look again soon: the batch may have changed the schedule */
        srv_timed_wait(&s->worker_cv, &s->worker_mu, &s->stopping, wait);
    }
    return NULL;
}

int worker_start(srv *s)
{
    pthread_mutex_init(&s->worker_mu, NULL);
    pthread_cond_init(&s->worker_cv, NULL);
    if (pthread_create(&s->worker, NULL, worker_main, s) != 0)
        return gp_error_setf(GP_ERROR, "cannot start the verification worker");
    s->worker_started = true;
    return 0;
}

void worker_wake(srv *s)
{
    if (!s->worker_started) return;
    pthread_mutex_lock(&s->worker_mu);
    pthread_cond_signal(&s->worker_cv);
    pthread_mutex_unlock(&s->worker_mu);
}

void worker_stop(srv *s)
{
    if (!s->worker_started) return;
    pthread_mutex_lock(&s->worker_mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->worker_cv);
    pthread_mutex_unlock(&s->worker_mu);
    pthread_join(s->worker, NULL);
    s->worker_started = false;
    pthread_cond_destroy(&s->worker_cv);
    pthread_mutex_destroy(&s->worker_mu);
}
