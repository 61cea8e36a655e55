/*
 * commit.c - group commit: many receipts, one durable transaction.
 *
 * With synchronous=FULL every COMMIT costs an fsync; committing each receipt alone caps intake at
 * the disk's fsync rate. Request threads instead queue their write (a commit_fn) and wait; one
 * committer thread takes every job waiting, runs them in one transaction, each inside its own
 * SAVEPOINT (a job that fails is rolled back alone), commits once, and wakes the waiters with
 * their results. A request is answered only after the transaction holding its receipt committed,
 * so the acknowledgement rule is unchanged. (The idea is PostgreSQL's and InnoDB's group commit.)
 */
#include "srv.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_BATCH 256

typedef struct commit_job {
    commit_fn apply;
    void *arg;
    int result;
    bool done;
    struct commit_job *next;
    void (*on_done)(void *ctx, int result); /* commit_submit(): called, then the job freed */
    void *ctx;
} commit_job;

/* Runs one job alone in its own transaction (no committer). */
static int run_alone(srv *s, commit_fn apply, void *arg)
{
    store_lock(s->db);
    int error = store_begin(s->db);
    if (error == 0) {
        error = apply(s, arg);
        if (error == 0) error = store_commit(s->db);
        if (error < 0) store_rollback(s->db);
    }
    store_unlock(s->db);
    return error;
}

/* One of the savepoint statements, prepared once (the committer runs three per job). */
static int savepoint(srv *s, const char *sql)
{
    sqlite3_stmt *st = store_stmt(s->db, sql);
    if (!st) return GP_ERROR;
    int rc = sqlite3_step(st);
    store_done(st);
    return rc == SQLITE_DONE ? 0 : store_fail(s->db, sql);
}

static void run_batch(srv *s, commit_job *jobs)
{
    int error;
    store_lock(s->db);
    if ((error = store_begin(s->db)) < 0) goto finish;
    for (commit_job *j = jobs; j; j = j->next) {
        if ((j->result = savepoint(s, "SAVEPOINT job")) < 0) continue;
        j->result = j->apply(s, j->arg);
        if (j->result < 0) savepoint(s, "ROLLBACK TO job");
        savepoint(s, "RELEASE job");
    }
    if ((error = store_commit(s->db)) < 0) store_rollback(s->db);
finish:
    store_unlock(s->db);
    if (error < 0) {
        fprintf(stderr, "{\"level\":\"error\",\"msg\":\"group commit failed\"}\n");
        for (commit_job *j = jobs; j; j = j->next)
            if (j->result == 0) j->result = error;
    }
}

static void *committer_main(void *arg)
{
    srv *s = arg;
    pthread_mutex_lock(&s->commit_mu);
    for (;;) {
        while (!s->commit_head && !s->commit_stopping) pthread_cond_wait(&s->commit_cv, &s->commit_mu);
        if (!s->commit_head && s->commit_stopping) break;
        /* take up to MAX_BATCH waiting jobs */
        commit_job *batch = s->commit_head, *last = batch;
        int n = 1;
        while (last->next && n < MAX_BATCH) {
            last = last->next;
            n++;
        }
        s->commit_head = last->next;
        if (!s->commit_head) s->commit_tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&s->commit_mu);

        run_batch(s, batch);
        atomic_fetch_add(&s->commit_batches, 1);
        atomic_fetch_add(&s->commit_jobs, (unsigned long)n);

        pthread_mutex_lock(&s->commit_mu);
        commit_job *async = NULL;
        for (commit_job *j = batch, *next; j; j = next) {
            next = j->next;
            if (j->on_done) {
                j->next = async;
                async = j;
            } else {
                j->done = true; /* a waiter in commit_run() owns it from here */
            }
        }
        pthread_cond_broadcast(&s->commit_done_cv);
        pthread_mutex_unlock(&s->commit_mu);
        for (commit_job *j = async, *next; j; j = next) {
            next = j->next;
            j->on_done(j->ctx, j->result);
            free(j);
        }
        pthread_mutex_lock(&s->commit_mu);
    }
    pthread_mutex_unlock(&s->commit_mu);
    return NULL;
}

int commit_run(srv *s, commit_fn apply, void *arg)
{
    commit_job job = {apply, arg, 0, false, NULL, NULL, NULL};
    if (!s->committer_started) return run_alone(s, apply, arg); /* set before requests start */
    pthread_mutex_lock(&s->commit_mu);
    if (!s->committer_started || s->commit_stopping) {
        pthread_mutex_unlock(&s->commit_mu);
        return run_alone(s, apply, arg);
    }
    if (s->commit_tail) s->commit_tail->next = &job;
    else s->commit_head = &job;
    s->commit_tail = &job;
    pthread_cond_signal(&s->commit_cv);
    while (!job.done) pthread_cond_wait(&s->commit_done_cv, &s->commit_mu);
    pthread_mutex_unlock(&s->commit_mu);
    return job.result;
}

int commit_submit(srv *s, commit_fn apply, void *arg, void (*done)(void *ctx, int result), void *ctx)
{
    if (!s->committer_started) return GP_EUNAVAILABLE;
    commit_job *job = calloc(1, sizeof(*job));
    if (!job) return gp_error_setf(GP_ERROR, "out of memory");
    job->apply = apply;
    job->arg = arg;
    job->on_done = done;
    job->ctx = ctx;
    pthread_mutex_lock(&s->commit_mu);
    if (!s->committer_started || s->commit_stopping) {
        pthread_mutex_unlock(&s->commit_mu);
        free(job);
        return GP_EUNAVAILABLE;
    }
    if (s->commit_tail) s->commit_tail->next = job;
    else s->commit_head = job;
    s->commit_tail = job;
    pthread_cond_signal(&s->commit_cv);
    pthread_mutex_unlock(&s->commit_mu);
    return 0;
}

int committer_start(srv *s)
{
    pthread_mutex_init(&s->commit_mu, NULL);
    pthread_cond_init(&s->commit_cv, NULL);
    pthread_cond_init(&s->commit_done_cv, NULL);
    pthread_mutex_lock(&s->commit_mu);
    s->committer_started = true;
    pthread_mutex_unlock(&s->commit_mu);
    if (pthread_create(&s->committer, NULL, committer_main, s) != 0) {
        s->committer_started = false;
        return gp_error_setf(GP_ERROR, "cannot start the committer thread");
    }
    return 0;
}

void committer_stop(srv *s)
{
    if (!s->committer_started) return;
    pthread_mutex_lock(&s->commit_mu);
    s->commit_stopping = true; /* the queue is drained before the thread ends */
    pthread_cond_broadcast(&s->commit_cv);
    pthread_mutex_unlock(&s->commit_mu);
    pthread_join(s->committer, NULL);
    pthread_mutex_lock(&s->commit_mu);
    s->committer_started = false;
    pthread_mutex_unlock(&s->commit_mu);
    pthread_cond_destroy(&s->commit_cv);
    pthread_cond_destroy(&s->commit_done_cv);
    pthread_mutex_destroy(&s->commit_mu);
}
