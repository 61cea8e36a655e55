/*
 * intake.c - POST /api/receipts (api.md's table), and the verification steps it shares with the
 * background worker: verify against the signer's keys, evaluate the policy, store the receipt
 * and its ledger leaf in one transaction.
 *
 * Order: parse (400) -> policy acceptance (403) -> same id stored before (200) -> unsigned (422)
 * -> keys (cached, else fetched; unreachable with nothing cached -> stored pending, 202; the
 * signer publishes none -> 422) -> signature (422 when no key verifies; a cached key set that
 * fails is refreshed once first) -> stored verified with its leaf (201). Nothing is stored for
 * a 4xx; a response is sent only after the transaction that holds the receipt committed.
 * "Stored before" is asked where it changes the work or the answer, not up front: the insert of a
 * verified or pending receipt finds a stored id itself (ON CONFLICT, then 200), so the common
 * case reads nothing before the group commit; a receipt whose keys must be fetched, or whose
 * outcome is an error, asks first (stored()), so that a stored receipt is answered 200 as before.
 * A POST whose keys must be fetched is finished by the key-fetch threads below, its connection
 * suspended meanwhile, so no HTTP thread ever waits for a key source.
 */
#include "srv.h"
#include "github.h"
#include "sig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* verify_receipt(); with need_fetch, a key set that would have to be fetched is not: *need_fetch is
 * set and V_ERROR returned instead (the caller hands the receipt to the key-fetch threads). */
static verify_result verify_keys(srv *s, const gp_receipt *r, char fp[64], char type[48], bool *need_fetch)
{
    gp_keylist *keys = NULL;
    const gp_pubkey *used = NULL;
    bool fresh = false;
    verify_result v = V_ERROR;
    int error = keys_get(s, r->sig_signer, false, !need_fetch, &keys, &fresh);
    if (error == KEYS_WOULD_FETCH) {
        *need_fetch = true;
        return V_ERROR;
    }
    if (error == GP_ENOTFOUND) return V_NOKEYS;
    if (error == GP_EUNAVAILABLE) return V_PENDING;
    if (error < 0) return V_ERROR;
    error = gp_receipt_verify(&used, r, keys);
    if (error < 0 && !fresh && error != GP_EUNSIGNED) {
        /* The cached set may be stale (a key added since): look once more. */
        gp_keylist_free(keys);
        keys = NULL;
        int e2 = keys_get(s, r->sig_signer, true, !need_fetch, &keys, &fresh);
        if (e2 == KEYS_WOULD_FETCH) {
            *need_fetch = true;
            return V_ERROR;
        }
        /* The source cannot answer now: the keys we have do not verify it; 422 (the client may
         * retry). Pending is only for receipts with no key set at all to check against. */
        if (e2 == GP_EUNAVAILABLE) return V_BADSIG;
        if (e2 == GP_ENOTFOUND) return V_NOKEYS;
        if (e2 < 0) return V_ERROR;
        error = gp_receipt_verify(&used, r, keys);
    }
    if (error == 0 && used) {
        snprintf(fp, 64, "%s", used->fingerprint);
        snprintf(type, 48, "%s", gp_keytype_name(used->type));
        v = V_VERIFIED;
    } else {
        /* no key verifies; but with the GitHub signing keys unknown (API down, none cached) the
         * signature is not known to be bad yet: pending, not rejected */
        v = github_keys_unknown(s, r->sig_signer) ? V_PENDING : V_BADSIG;
    }
    gp_keylist_free(keys);
    return v;
}

verify_result verify_receipt(srv *s, const gp_receipt *r, char fp[64], char type[48])
{
    return verify_keys(s, r, fp, type, NULL);
}

static char *gpus_json(const gp_receipt *r)
{
    json_t *list = NULL;
    if (r->gpus && gp_json_typeof(r->gpus) == GP_JSON_ARRAY) list = gp_json_to_jansson(r->gpus);
    else if (r->gpu_info) list = json_pack("[o]", gp_json_to_jansson(r->gpu_info));
    if (!list) list = json_array();
    char *text = json_dumps(list, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(list);
    return text;
}

void receipt_home_of(receipt_home *h, const gp_receipt *r)
{
    h->repo = r->remote_url && gp_github_repo_from_url(h->repo_buf, sizeof(h->repo_buf), r->remote_url) == 0
                  ? h->repo_buf : NULL;
    snprintf(h->commit, sizeof(h->commit), "%s", r->commit_sha ? r->commit_sha : "");
    for (char *c = h->commit; *c; c++) if (*c >= 'A' && *c <= 'F') *c = (char)(*c - 'A' + 'a');
}

/* Inserts the receipt row (leaf_idx -1: no ledger leaf yet; gpus: gpus_json()'s text). Lock held,
 * inside a transaction. GP_EEXISTS when the id is there. received_at gets the time stored. */
static int insert_receipt(srv *s, const gp_receipt *r, const receipt_home *h, const char *raw, size_t rawlen,
                          const char *status, const char *fp, const char *type, const char *verified_at,
                          bool validates, const char *reasons, int64_t next_attempt_ms, int64_t leaf_idx,
                          const char *gpus, char received_at[21])
{
    gp_time_format(received_at, time(NULL));
    sqlite3_stmt *st = store_stmt(s->db,
        "INSERT INTO receipts (id, raw, repo, commit_sha, branch, signer, status, "
        "key_fingerprint, key_type, mode, dirty, started_at, ended_at, received_at, verified_at, "
        "passed, failed, skipped, total, gpus, validates, reasons, next_attempt_ms, leaf_idx) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING");
    int error = 0;
    if (!st) return GP_ERROR;
    int i = 1;
    sqlite3_bind_text(st, i++, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, i++, raw, (int)rawlen, SQLITE_STATIC);
    if (h->repo) sqlite3_bind_text(st, i++, h->repo, -1, SQLITE_STATIC); else sqlite3_bind_null(st, i++);
    sqlite3_bind_text(st, i++, h->commit, -1, SQLITE_STATIC);
    if (r->branch) sqlite3_bind_text(st, i++, r->branch, -1, SQLITE_STATIC); else sqlite3_bind_null(st, i++);
    sqlite3_bind_text(st, i++, r->sig_signer, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, status, -1, SQLITE_STATIC);
    if (fp) sqlite3_bind_text(st, i++, fp, -1, SQLITE_STATIC); else sqlite3_bind_null(st, i++);
    if (type) sqlite3_bind_text(st, i++, type, -1, SQLITE_STATIC); else sqlite3_bind_null(st, i++);
    if (r->mode) sqlite3_bind_text(st, i++, r->mode, -1, SQLITE_STATIC); else sqlite3_bind_null(st, i++);
    sqlite3_bind_int(st, i++, r->dirty);
    sqlite3_bind_text(st, i++, r->started_at, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, r->ended_at, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, received_at, -1, SQLITE_STATIC);
    if (verified_at) sqlite3_bind_text(st, i++, verified_at, -1, SQLITE_STATIC); else sqlite3_bind_null(st, i++);
    sqlite3_bind_int64(st, i++, (sqlite3_int64)r->passed);
    sqlite3_bind_int64(st, i++, (sqlite3_int64)r->failed);
    sqlite3_bind_int64(st, i++, (sqlite3_int64)r->skipped);
    sqlite3_bind_int64(st, i++, (sqlite3_int64)r->ntests);
    sqlite3_bind_text(st, i++, gpus, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, i++, validates);
    sqlite3_bind_text(st, i++, reasons, -1, SQLITE_STATIC);
    if (next_attempt_ms) sqlite3_bind_int64(st, i++, next_attempt_ms); else sqlite3_bind_null(st, i++);
    if (leaf_idx >= 0) sqlite3_bind_int64(st, i++, leaf_idx); else sqlite3_bind_null(st, i++);
    if (sqlite3_step(st) != SQLITE_DONE) error = store_fail(s->db, "storing a receipt");
    else if (sqlite3_changes(store_db(s->db)) == 0) error = GP_EEXISTS;
    store_done(st);
    return error;
}

/* validates + reasons (JSON text, caller frees) under the current policy. */
static char *evaluate(srv *s, const gp_receipt *r, const receipt_home *h, bool *validates)
{
    json_t *reasons = json_array();
    *validates = policy_evaluate(s->pol, r, h->repo, r->sig_signer, s->cfg.mirrors, reasons);
    char *text = json_dumps(reasons, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(reasons);
    return text;
}

typedef struct verified_job {
    const gp_receipt *r;
    const char *raw, *fp, *type, *reasons;
    size_t rawlen;
    bool validates, was_pending;
    int64_t index;
    /* made by job_prepare() on the request's thread, so that the committer, which every receipt
     * waits for in turn, only runs SQL; freed by job_clear() */
    char *entry, *gpus;
    size_t entry_len;
    char received_at[21], verified_at[21];
    receipt_home home;
} verified_job;

static void job_clear(verified_job *j)
{
    free(j->entry);
    free(j->gpus);
    j->entry = j->gpus = NULL;
    j->entry_len = 0;
}

/* The ledger entry and the gpus text of j's receipt (j->r, j->fp, j->home set), verified now. */
static int job_prepare(verified_job *j)
{
    const gp_receipt *r = j->r;
    gp_time_format(j->verified_at, time(NULL));
    int error = ledger_entry_bytes(&j->entry, &j->entry_len, r->id, j->home.repo, j->home.commit, r->sig_signer,
                                   j->fp, j->verified_at);
    if (error == 0 && !(j->gpus = gpus_json(r))) error = gp_error_setf(GP_ERROR, "out of memory");
    if (error < 0) job_clear(j);
    return error;
}

/* Inside the group-commit transaction: the receipt verified (inserted, or pending -> verified)
 * and its ledger leaf appended. */
static int apply_verified(srv *s, void *arg)
{
    verified_job *j = arg;
    const gp_receipt *r = j->r;
    int64_t index = -1;
    int error;
    j->index = -1;
    if ((error = ledger_next_index_locked(s, &index)) < 0) return error;
    if (j->was_pending) {
        sqlite3_stmt *st = store_stmt(s->db, "UPDATE receipts SET status = 'verified', key_fingerprint = ?, "
                                             "key_type = ?, verified_at = ?, validates = ?, reasons = ?, "
                                             "last_error = NULL, next_attempt_ms = NULL, leaf_idx = ? "
                                             "WHERE id = ? AND status = 'pending'");
        if (!st) return GP_ERROR;
        sqlite3_bind_text(st, 1, j->fp, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, j->type, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, j->verified_at, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, j->validates);
        sqlite3_bind_text(st, 5, j->reasons, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, index);
        sqlite3_bind_text(st, 7, r->id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        store_done(st);
        if (rc != SQLITE_DONE) return store_fail(s->db, "marking a receipt verified");
        if (sqlite3_changes(store_db(s->db)) == 0) return GP_EEXISTS;
    } else {
        error = insert_receipt(s, r, &j->home, j->raw, j->rawlen, "verified", j->fp, j->type, j->verified_at,
                               j->validates, j->reasons, 0, index, j->gpus, j->received_at);
        if (error < 0) return error;
    }
    if ((error = ledger_append_locked(s, r->id, j->entry, j->entry_len, index)) < 0) return error;
    j->index = index;
    github_commit_changed_locked2(s, j->home.repo, j->home.commit);
    return 0;
}

/* The summary of the receipt apply_verified() just inserted, from the values it wrote. */
static json_t *job_summary(const verified_job *j)
{
    const gp_receipt *r = j->r;
    summary_vals v = {
        .id = r->id, .status = "verified", .repo = j->home.repo, .commit = j->home.commit,
        .branch = r->branch, .signer = r->sig_signer, .key_fingerprint = j->fp, .key_type = j->type,
        .mode = r->mode, .dirty = r->dirty, .started_at = r->started_at, .ended_at = r->ended_at,
        .received_at = j->received_at, .passed = (int64_t)r->passed, .failed = (int64_t)r->failed,
        .skipped = (int64_t)r->skipped, .total = (int64_t)r->ntests, .gpus = j->gpus,
        .validates = j->validates, .reasons = j->reasons, .ledger_index = j->index, .entry = j->entry,
        .entry_len = j->entry_len,
    };
    return summary_build(&v);
}

int record_verified(srv *s, const gp_receipt *r, const char *raw, size_t rawlen, const char *fp,
                    const char *type, bool was_pending, int64_t *index)
{
    verified_job j = {.r = r, .raw = raw, .fp = fp, .type = type, .rawlen = rawlen, .was_pending = was_pending,
                      .index = -1};
    receipt_home_of(&j.home, r);
    char *reasons = evaluate(s, r, &j.home, &j.validates);
    if (!reasons) return gp_error_setf(GP_ERROR, "out of memory");
    j.reasons = reasons;
    int error = job_prepare(&j);
    if (error == 0) error = commit_run(s, apply_verified, &j);
    free(reasons);
    job_clear(&j);
    if (error == 0) {
        *index = j.index;
        ledger_appended(s);
    }
    return error;
}

typedef struct pending_job {
    const gp_receipt *r;
    const char *raw;
    size_t rawlen;
    int64_t next_ms;
} pending_job;

static int apply_pending(srv *s, void *arg)
{
    pending_job *j = arg;
    /* Not yet verified: it validates nothing until it is. */
    char received_at[21], *gpus = gpus_json(j->r);
    if (!gpus) return gp_error_setf(GP_ERROR, "out of memory");
    receipt_home h;
    receipt_home_of(&h, j->r);
    int error = insert_receipt(s, j->r, &h, j->raw, j->rawlen, "pending", NULL, NULL, NULL, false,
                               "[\"the signature is not verified yet: the signer's keys could not be fetched\"]",
                               j->next_ms, -1, gpus, received_at);
    free(gpus);
    if (error == 0) github_commit_changed_locked2(s, h.repo, h.commit);
    return error;
}

static int record_pending(srv *s, const gp_receipt *r, const char *raw, size_t rawlen)
{
    pending_job j = {r, raw, rawlen, now_ms() + s->cfg.retry_min_ms};
    int error = commit_run(s, apply_pending, &j);
    if (error == 0) worker_wake(s);
    return error;
}

/* The summary of receipt `id` as stored (read back), or doc when given (taken). */
static void answer_summary(srv *s, const char *id, int status, json_t *doc, srv_resp *resp)
{
    int error = doc ? 0 : srv_doc_receipt(s, id, &doc);
    if (error < 0) {
        resp_error(resp, error);
        return;
    }
    if (status == 201 || status == 202) snprintf(resp->location, sizeof(resp->location), "/api/receipts/%s", id);
    resp_json(resp, status, doc);
}

static bool stored(srv *s, const char *id)
{
    /* this thread's reader: no wait for the group commit holding the writer through its fsync */
    store *rd = store_reader(s->db);
    store_lock(rd);
    sqlite3_stmt *st = store_stmt(rd, "SELECT 1 FROM receipts WHERE id = ?");
    bool found = false;
    if (st) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        found = sqlite3_step(st) == SQLITE_ROW;
        store_done(st);
    }
    store_unlock(rd);
    return found;
}

/* A suspended POST: waiting for its group commit, or first for the key-fetch threads. */
struct intake_wait {
    srv *s;
    gp_receipt *r;
    char *reasons;
    char fp[64], type[48];
    verified_job j;
    int result;
    void (*resume)(void *ctx);
    void *ctx;
    const char *raw;       /* the request body (alive while the connection is suspended) */
    size_t rawlen;
    bool answered;         /* a key-fetch thread put the answer in resp */
    srv_resp resp;
    struct intake_wait *next; /* in the key-fetch queue */
};

static void wait_free(intake_wait *w)
{
    if (!w) return;
    job_clear(&w->j);
    gp_receipt_free(w->r);
    free(w->reasons);
    gp_buf_free(&w->resp.body);
    free(w);
}

/* On the committer thread, after the transaction holding the receipt is durable (or failed). */
static void verified_done(void *ctx, int result)
{
    intake_wait *w = ctx;
    w->result = result;
    if (result == 0) ledger_appended(w->s);
    w->resume(w->ctx);
}

/* Prepares w (w->r and w->raw set) for the group commit of its verified receipt. */
static int wait_prepare(intake_wait *w, const char *fp, const char *type)
{
    snprintf(w->fp, sizeof(w->fp), "%s", fp);
    snprintf(w->type, sizeof(w->type), "%s", type);
    receipt_home_of(&w->j.home, w->r);
    if (!(w->reasons = evaluate(w->s, w->r, &w->j.home, &w->j.validates)))
        return gp_error_setf(GP_ERROR, "out of memory");
    w->j.r = w->r;
    w->j.raw = w->raw;
    w->j.rawlen = w->rawlen;
    w->j.fp = w->fp;
    w->j.type = w->type;
    w->j.reasons = w->reasons;
    w->j.index = -1;
    return job_prepare(&w->j);
}

/* Queues w's write; w->resume runs once it is durable (or failed). w is not to be touched after. */
static void wait_commit(intake_wait *w)
{
    if (commit_submit(w->s, apply_verified, &w->j, verified_done, w) < 0)
        verified_done(w, commit_run(w->s, apply_verified, &w->j)); /* the committer is stopping */
}

/* Queues the verified receipt *rp (taken on success) for the group commit without waiting. */
static int verified_async(srv *s, gp_receipt **rp, const char *raw, size_t rawlen, const char *fp,
                          const char *type, void (*suspend)(void *), void (*resume)(void *), void *ctx,
                          intake_wait **later)
{
    if (!s->committer_started) return GP_EUNAVAILABLE;
    intake_wait *w = calloc(1, sizeof(*w));
    if (!w) return gp_error_setf(GP_ERROR, "out of memory");
    w->s = s;
    w->r = *rp;
    w->raw = raw;
    w->rawlen = rawlen;
    w->resume = resume;
    w->ctx = ctx;
    if (wait_prepare(w, fp, type) < 0) {
        w->r = NULL;
        wait_free(w);
        return GP_ERROR;
    }
    *rp = NULL;
    *later = w;
    suspend(ctx); /* before the job can complete */
    wait_commit(w);
    return 0;
}

void intake_finish(srv *s, intake_wait *w, srv_resp *resp)
{
    if (w->answered) { /* by a key-fetch thread */
        gp_buf_free(&resp->body);
        *resp = w->resp;
        memset(&w->resp, 0, sizeof(w->resp));
    } else if (w->result == 0) {
        /* built from what was written: reading it back would go through a reader whose page cache
         * every commit just invalidated */
        answer_summary(s, w->r->id, 201, w->j.was_pending ? NULL : job_summary(&w->j), resp);
    } else if (w->result == GP_EEXISTS) answer_summary(s, w->r->id, 200, NULL, resp);
    else resp_error(resp, w->result);
    wait_free(w);
}

static void intake(srv *s, const char *body, size_t len, srv_resp *resp, void (*suspend)(void *),
                   void (*resume)(void *), void *ctx, intake_wait **later);
static void answer_verdict(srv *s, const gp_receipt *r, verify_result v, const char *body, size_t len,
                           const char *fp, const char *type, srv_resp *resp);

/* ---- the key-fetch threads ----------------------------------------------------------------
 * A fetch can take the whole --key-timeout-ms; on an HTTP thread it would hold every connection
 * libmicrohttpd gave that thread. So intake suspends the connection and queues the receipt here;
 * a thread fetches, verifies, and either answers (w->answered) and resumes, or queues the write
 * for the group commit, whose completion resumes. */

#define KF_THREADS 4
#define KF_QUEUE 256

struct keyfetch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th[KF_THREADS];
    int nth;
    intake_wait *head, *tail;
    size_t queued;
    bool stopping;
};

static void fetch_run(intake_wait *w, bool may_fetch)
{
    srv *s = w->s;
    char fp[64] = "", type[48] = "";
    bool need_fetch = false;
    /* stopping: no new fetch; what the cache cannot answer is stored pending, as the breaker does */
    verify_result v = verify_keys(s, w->r, fp, type, may_fetch ? NULL : &need_fetch);
    if (need_fetch) v = V_PENDING;
    if (v == V_VERIFIED && wait_prepare(w, fp, type) == 0) {
        wait_commit(w);
        return;
    }
    gp_buf_init(&w->resp.body, 0);
    answer_verdict(s, w->r, v, w->raw, w->rawlen, fp, type, &w->resp);
    w->answered = true;
    w->resume(w->ctx); /* w belongs to the HTTP thread from here */
}

static void *fetch_main(void *arg)
{
    srv *s = arg;
    struct keyfetch *kf = s->kf;
    pthread_mutex_lock(&kf->mu);
    for (;;) {
        while (!kf->head && !kf->stopping) pthread_cond_wait(&kf->cv, &kf->mu);
        intake_wait *w = kf->head;
        if (!w) break; /* stopping and nothing queued */
        kf->head = w->next;
        if (!kf->head) kf->tail = NULL;
        kf->queued--;
        bool may_fetch = !kf->stopping;
        pthread_mutex_unlock(&kf->mu);
        w->next = NULL;
        fetch_run(w, may_fetch);
        pthread_mutex_lock(&kf->mu);
    }
    pthread_mutex_unlock(&kf->mu);
    return NULL;
}

/* Suspends w's connection and queues w; false (nothing done) when full, stopping or not started. */
static bool fetch_queue(srv *s, intake_wait *w, void (*suspend)(void *))
{
    struct keyfetch *kf = s->kf;
    if (!kf) return false;
    pthread_mutex_lock(&kf->mu);
    bool ok = !kf->stopping && kf->nth > 0 && kf->queued < KF_QUEUE;
    if (ok) {
        suspend(w->ctx); /* before a thread can take it */
        if (kf->tail) kf->tail->next = w;
        else kf->head = w;
        kf->tail = w;
        kf->queued++;
        pthread_cond_signal(&kf->cv);
    }
    pthread_mutex_unlock(&kf->mu);
    return ok;
}

int intake_start(srv *s)
{
    struct keyfetch *kf = calloc(1, sizeof(*kf));
    if (!kf) return gp_error_setf(GP_ERROR, "out of memory");
    pthread_mutex_init(&kf->mu, NULL);
    pthread_cond_init(&kf->cv, NULL);
    s->kf = kf;
    pthread_mutex_lock(&kf->mu);
    for (int i = 0; i < KF_THREADS; i++) {
        if (pthread_create(&kf->th[i], NULL, fetch_main, s) != 0) break;
        kf->nth++;
    }
    int nth = kf->nth;
    pthread_mutex_unlock(&kf->mu);
    if (nth == 0) {
        intake_stop(s);
        intake_free(s);
        return gp_error_setf(GP_ERROR, "cannot start the key-fetch threads");
    }
    return 0;
}

void intake_stop(srv *s)
{
    struct keyfetch *kf = s->kf;
    if (!kf) return;
    pthread_mutex_lock(&kf->mu);
    bool was = kf->stopping;
    kf->stopping = true; /* the queue is answered without fetching, then the threads end */
    pthread_cond_broadcast(&kf->cv);
    pthread_mutex_unlock(&kf->mu);
    if (was) return;
    for (int i = 0; i < kf->nth; i++) pthread_join(kf->th[i], NULL);
}

void intake_free(srv *s)
{
    struct keyfetch *kf = s->kf;
    if (!kf) return;
    intake_stop(s);
    pthread_cond_destroy(&kf->cv);
    pthread_mutex_destroy(&kf->mu);
    free(kf);
    s->kf = NULL;
}

void intake_post(srv *s, const char *body, size_t len, srv_resp *resp)
{
    intake(s, body, len, resp, NULL, NULL, NULL, NULL);
}

void intake_post_async(srv *s, const char *body, size_t len, srv_resp *resp, void (*suspend)(void *ctx),
                       void (*resume)(void *ctx), void *ctx, intake_wait **later)
{
    *later = NULL;
    intake(s, body, len, resp, suspend, resume, ctx, later);
}

static void intake(srv *s, const char *body, size_t len, srv_resp *resp, void (*suspend)(void *),
                   void (*resume)(void *), void *ctx, intake_wait **later)
{
    gp_receipt *r = NULL;
    char why[512], fp[64], type[48], msg[512];
    int error = gp_receipt_parse(&r, body, len, GP_RECEIPT_REQUIRE_COMMIT);
    if (error < 0) {
        const char *m = gp_error_last();
        snprintf(msg, sizeof(msg), "not a valid receipt: %s", *m ? m : "malformed");
        resp_problem(resp, 400, msg);
        goto done;
    }
    receipt_home h;
    receipt_home_of(&h, r);
    if (!policy_accepts(s->pol, h.repo, r->signed_ ? r->sig_signer : NULL, why, sizeof(why))) {
        resp_problem(resp, 403, why);
        goto done;
    }
    if (!r->signed_) { /* never stored: no "stored before" to find */
        resp_problem(resp, 422, "the receipt is not signed; sign it (gpuproof-cli sign) with a key "
                                "your GitHub account publishes");
        goto done;
    }
    bool need_fetch = false;
    verify_result v = verify_keys(s, r, fp, type, later ? &need_fetch : NULL);
    if (need_fetch && stored(s, r->id)) {
        answer_summary(s, r->id, 200, NULL, resp); /* nothing to fetch for */
        goto done;
    }
    if (need_fetch) {
        /* not cached: fetched on a key-fetch thread, not on this HTTP thread */
        intake_wait *w = calloc(1, sizeof(*w));
        if (w) {
            w->s = s;
            w->r = r;
            w->raw = body;
            w->rawlen = len;
            w->resume = resume;
            w->ctx = ctx;
            *later = w;
            if (fetch_queue(s, w, suspend)) {
                r = NULL;
                goto done;
            }
            *later = NULL;
            free(w);
        }
        v = V_PENDING; /* the fetch threads are all busy (or stopping): as the breaker, pending */
    }
    if (v == V_VERIFIED && later && verified_async(s, &r, body, len, fp, type, suspend, resume, ctx, later) == 0)
        goto done;
    answer_verdict(s, r, v, body, len, fp, type, resp);
done:
    gp_receipt_free(r);
}

/* The answer for a verification outcome; a verified receipt is stored on this thread. */
static void answer_verdict(srv *s, const gp_receipt *r, verify_result v, const char *body, size_t len,
                           const char *fp, const char *type, srv_resp *resp)
{
    char msg[512];
    int64_t index = -1;
    int error;
    if (v != V_VERIFIED && v != V_PENDING && stored(s, r->id)) {
        answer_summary(s, r->id, 200, NULL, resp); /* stored before: the outcome now does not matter */
        return;
    }
    switch (v) {
    case V_VERIFIED:
        error = record_verified(s, r, body, len, fp, type, false, &index);
        if (error == 0) answer_summary(s, r->id, 201, NULL, resp);
        else if (error == GP_EEXISTS) answer_summary(s, r->id, 200, NULL, resp);
        else resp_error(resp, error);
        break;
    case V_PENDING:
        error = record_pending(s, r, body, len);
        if (error == 0) answer_summary(s, r->id, 202, NULL, resp);
        else if (error == GP_EEXISTS) answer_summary(s, r->id, 200, NULL, resp);
        else resp_error(resp, error);
        break;
    case V_NOKEYS:
        snprintf(msg, sizeof(msg), "signer %s publishes no keys: add the signing key to that GitHub "
                                   "account (Settings, SSH keys)", r->sig_signer);
        resp_problem(resp, 422, msg);
        break;
    case V_BADSIG:
        snprintf(msg, sizeof(msg), "no key that %s publishes verifies the signature: the receipt was "
                                   "changed after signing, or signed with a key %s does not publish",
                                   r->sig_signer, r->sig_signer);
        resp_problem(resp, 422, msg);
        break;
    default:
        resp_problem(resp, 503, "the receipt could not be verified now; retry later");
        resp->retry_after = 5;
    }
}

/* Recomputes validates/reasons of every verified receipt (the policy changed since they were
 * stored). Returns the number updated or a negative error. */
int reevaluate_all(srv *s)
{
    int64_t last = 0, done = 0;
    for (;;) {
        char *raw[64];
        size_t len[64];
        int64_t seq[64];
        int n = 0;
        store_lock(s->db);
        sqlite3_stmt *st = store_stmt(s->db, "SELECT seq, raw FROM receipts WHERE status = 'verified' AND seq > ? "
                                             "ORDER BY seq LIMIT 64");
        if (!st) {
            store_unlock(s->db);
            return GP_ERROR;
        }
        sqlite3_bind_int64(st, 1, last);
        while (n < 64 && sqlite3_step(st) == SQLITE_ROW) {
            seq[n] = sqlite3_column_int64(st, 0);
            if (store_col_blobdup(st, 1, &raw[n], &len[n]) < 0) break;
            n++;
        }
        store_done(st);
        store_unlock(s->db);
        if (n == 0) break;
        for (int i = 0; i < n; i++) {
            gp_receipt *r = NULL;
            last = seq[i];
            if (gp_receipt_parse(&r, raw[i], len[i], GP_RECEIPT_REQUIRE_COMMIT) == 0) {
                bool validates = false;
                receipt_home h;
                receipt_home_of(&h, r);
                char *reasons = evaluate(s, r, &h, &validates);
                store_lock(s->db);
                sqlite3_stmt *u = store_stmt(s->db, "UPDATE receipts SET validates = ?, reasons = ? WHERE seq = ?");
                if (u && reasons) {
                    sqlite3_bind_int(u, 1, validates);
                    sqlite3_bind_text(u, 2, reasons, -1, SQLITE_STATIC);
                    sqlite3_bind_int64(u, 3, seq[i]);
                    if (sqlite3_step(u) == SQLITE_DONE) done++;
                    store_done(u);
                    github_commit_changed_locked2(s, h.repo, h.commit); /* its state may change */
                }
                store_unlock(s->db);
                free(reasons);
            }
            gp_receipt_free(r);
            free(raw[i]);
        }
    }
    return (int)done;
}
