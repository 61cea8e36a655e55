/*
 * srv.h - what the modules of gpuproof-server share internally (server.h is the smaller contract
 * with the pages). One srv context per process: configuration, the store, the policy, the ledger
 * key, the HTTP daemon and the background threads.
 */
#ifndef GP_SRV_H
#define GP_SRV_H

#include "server.h"
#include "store.h"
#include "policy.h"
#include "note.h"
#include "receipt.h"
#include "sshkey.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

struct MHD_Connection;
struct MHD_Daemon;

typedef struct srv_config {
    char *listen;            /* HOST:PORT */
    char *db;
    char *keys_url;
    char *policy;
    size_t max_body;
    unsigned threads;
    long key_cache_ttl;      /* seconds */
    char *ledger_key;
    char *ledger_origin;
    char *mirrors;
    char *web_dir;
    char *migrations_dir;
    double rate;             /* requests per second per client IP; 0 = unlimited */
    double burst;
    long retry_min_ms, retry_max_ms;
    unsigned conn_limit, per_ip_limit, conn_timeout;
    long key_timeout_ms;
    char *github_api_url;    /* GitHub REST API base (github.c); NULL = off */
    char *github_token_file; /* token for commit statuses (and the API), 0600 */
    char *public_url;        /* base of audit links, no trailing '/'; default http://LISTEN */
    char *trusted_proxy;     /* comma-separated addresses whose X-Forwarded-For names the client */
} srv_config;

/* Request routes, for metrics and logs. */
typedef enum {
    R_POST_RECEIPTS, R_RECEIPT, R_RECEIPT_RAW, R_COMMIT, R_REPOS, R_REPO_COMMITS, R_SIGNER,
    R_LEDGER, R_HEALTHZ, R_METRICS, R_PAGE, R_API_OTHER, R_TILES, R_LATEST, R_COUNT
} srv_route;

#define SRV_LAT_BUCKETS 12

typedef struct srv_metrics {
    atomic_ulong req[R_COUNT][600];         /* by route and status */
    atomic_ulong lat_bucket[SRV_LAT_BUCKETS + 1];
    atomic_ulong lat_count;
    atomic_ullong lat_sum_us;
    atomic_ulong key_fetch[4];              /* ok, notfound, unavailable, cached */
} srv_metrics;

enum { KF_OK, KF_NOTFOUND, KF_UNAVAILABLE, KF_CACHED };

struct srv {
    srv_config cfg;
    store *db;
    policy *pol;
    char *policy_digest;
    gp_note_signer ledger;
    char *verifier;
    char web_dir[4096];
    srv_metrics metrics;

    struct MHD_Daemon *daemon;
    volatile sig_atomic_t stopping;

    pthread_t worker;
    bool worker_started;
    pthread_mutex_t worker_mu;
    pthread_cond_t worker_cv;

    pthread_t ckpt;
    bool ckpt_started;
    pthread_mutex_t ckpt_mu;
    pthread_cond_t ckpt_cv;
    bool ckpt_dirty;

    struct ratelimit *rl;

    struct gh_state *gh; /* github.c */

    /* group commit (commit.c) */
    pthread_t committer;
    bool committer_started, commit_stopping;
    pthread_mutex_t commit_mu;
    pthread_cond_t commit_cv, commit_done_cv;
    struct commit_job *commit_head, *commit_tail;
    atomic_ulong commit_batches, commit_jobs;

    struct keyfetch *kf; /* intake.c: the key-fetch threads */
    struct keymem *keymem; /* keys.c: signer_keys rows held in memory */
};

/* A handler's answer. body is owned by the response; ctype is static. */
typedef struct srv_resp {
    int status;
    gp_buf body;
    const char *ctype;
    char location[512];
    int retry_after;
    const char *allow;
    const char *cache;  /* Cache-Control or NULL */
} srv_resp;

/* http.c */
int http_start(srv *s, char *bound, size_t boundlen);
void http_stop(srv *s);
void resp_json(srv_resp *r, int status, json_t *doc);   /* steals doc */
void resp_problem(srv_resp *r, int status, const char *detail);
void resp_text(srv_resp *r, int status, const char *ctype, const char *text, size_t len);
/* Maps a library / store error to a problem response (404, 400, 503 or 500). */
void resp_error(srv_resp *r, int error);

/* intake.c */
void intake_post(srv *s, const char *body, size_t len, srv_resp *r);
/* The same, without holding the calling thread through the group commit: when the receipt verified
 * and must be stored, suspend(ctx) is called, the write is queued, *later is set and nothing is
 * put in r; resume(ctx) is called (from the committer thread) once the transaction holding it is
 * durable or failed, and intake_finish() then fills r and frees *later. Otherwise (any other
 * outcome, or no committer running) it answers in r like intake_post() and *later stays NULL. */
typedef struct intake_wait intake_wait;
void intake_post_async(srv *s, const char *body, size_t len, srv_resp *r, void (*suspend)(void *ctx),
                       void (*resume)(void *ctx), void *ctx, intake_wait **later);
void intake_finish(srv *s, intake_wait *w, srv_resp *r);
/* The key-fetch threads. When the signer's keys are not cached (keys_get() would fetch),
 * intake_post_async() does not fetch on the calling thread: it suspends, queues the receipt for
 * these threads, which fetch, verify and answer (or queue the write) and then resume; with the
 * queue full (or the threads stopping, or not started) the receipt is stored pending (202) at
 * once. intake_stop() answers what is queued without fetching, waits for the fetches running
 * and joins the threads; call it before the HTTP daemon stops (the jobs resume its
 * connections). 0 or a negative error. */
int intake_start(srv *s);
void intake_stop(srv *s);
void intake_free(srv *s); /* after the daemon stopped (stops first if needed) */

/* keys.c: the signer's keys, cached with a TTL. 0, GP_ENOTFOUND (publishes none),
 * GP_EUNAVAILABLE (source down and nothing cached). *fresh tells whether asking the source
 * again now would be pointless: they came from it just now, or it just failed to answer and a
 * stale cached set was used. Without may_fetch, where the answer needs a fetch (the .keys or, with
 * --github-api-url, the signing keys), nothing is fetched and KEYS_WOULD_FETCH is returned, *out
 * NULL (the caller moves the work to a thread that may wait). */
#define KEYS_WOULD_FETCH 1
int keys_get(srv *s, const char *login, bool force_refresh, bool may_fetch, gp_keylist **out, bool *fresh);
/* The two key caches (.keys and, github.c, the signing keys) share one shape: (login, body,
 * result 'ok'|'notfound', fetched_at). get: 0 with *body (NULL for notfound; caller frees),
 * GP_ENOTFOUND when nothing is cached. put: the answer of a fetch, stamped now. The .keys table
 * is also held in memory (keys_start()). */
typedef struct key_table {
    const char *get_sql, *put_sql, *what;
    bool memory;
} key_table;
extern const key_table KEYS_DOTKEYS, KEYS_SIGNING;
int key_cache_get(srv *s, const key_table *t, const char *login, char **body, size_t *len, bool *notfound,
                  int64_t *fetched_at);
int key_cache_put(srv *s, const key_table *t, const char *login, const char *body, size_t len, bool notfound);
/* The in-memory copy of the key cache (without it, every lookup reads SQLite). 0 or GP_ERROR. */
int keys_start(srv *s);
void keys_stop(srv *s);

/* Where a receipt is filed: its GitHub repository ("owner/name" from repo.remote_url; repo is NULL
 * when the remote is not on GitHub) and its commit in lower case ("" without one). */
typedef struct receipt_home {
    char repo_buf[256];
    const char *repo;
    char commit[65];
} receipt_home;
void receipt_home_of(receipt_home *h, const gp_receipt *r);

/* verify.c: verification outcome for a parsed receipt, shared by intake and worker. */
typedef enum { V_VERIFIED, V_PENDING, V_BADSIG, V_NOKEYS, V_ERROR } verify_result;
verify_result verify_receipt(srv *s, const gp_receipt *r, char fp[64], char type[48]);
/* Stores a verified receipt (insert or pending->verified) with its ledger leaf, in one
 * transaction. *index receives the leaf index. */
int record_verified(srv *s, const gp_receipt *r, const char *raw, size_t rawlen, const char *fp,
                    const char *type, bool was_pending, int64_t *index);

/* commit.c: group commit. commit_run() hands `apply` to the committer thread, which runs the
 * jobs that are waiting together in one transaction (each inside its own savepoint, so one
 * failing job does not undo the others) and returns after that transaction committed (or
 * failed). apply runs with the store lock held inside the transaction and returns 0 or a
 * negative error (its savepoint is then rolled back). Without a committer running, apply runs
 * in its own transaction on the caller's thread. */
typedef int (*commit_fn)(srv *s, void *arg);
int commit_run(srv *s, commit_fn apply, void *arg);
/* Queues apply without waiting: done(ctx, result) is called on the committer thread after the
 * transaction committed (or failed); apply and arg must live until then. GP_EUNAVAILABLE (nothing
 * queued) when no committer is running: use commit_run(). */
int commit_submit(srv *s, commit_fn apply, void *arg, void (*done)(void *ctx, int result), void *ctx);
int committer_start(srv *s);
void committer_stop(srv *s);

/* worker.c */
int worker_start(srv *s);
void worker_wake(srv *s);
void worker_stop(srv *s);

/* ledger.c */
int ledger_init(srv *s);
void ledger_close(srv *s);
void ledger_appended(srv *s);
/* The index the next leaf gets (the tree size). Lock held. */
int ledger_next_index_locked(srv *s, int64_t *index);
/* Appends the leaf of receipt_id at `index`, which must be ledger_next_index_locked()'s answer in
 * the same transaction, with its stored subtree hashes. Lock held, inside a transaction. */
int ledger_append_locked(srv *s, const char *receipt_id, const char *entry, size_t entry_len,
                         int64_t index);
int ledger_entry_bytes(char **out, size_t *len, const char *id, const char *repo,
                       const char *commit, const char *signer, const char *fp,
                       const char *verified_at);
void ledger_route(srv *s, const char *path, const char *query_index, const char *q2,
                  const char *q3, const char *q4, srv_resp *r);
/* GET /ledger/checkpoint, /ledger/tile/<L>/<N>[.p/<W>], /ledger/tile/entries/<N>[.p/<W>]
 * (C2SP tlog-tiles), served up to the latest checkpoint. */
void ledger_tiles(srv *s, const char *path, srv_resp *r);
int reevaluate_all(srv *s);
int check_ledger_main(const char *db_path, const char *key_path,
                      const char *origin, bool quiet);

/* api.c */
void api_route(srv *s, srv_route route, const char *path, struct MHD_Connection *c, srv_resp *r);
json_t *summary_from_row(sqlite3_stmt *st);
/* The fields of a receipt summary (api.md), from a row or from the values just written (intake's
 * 201 answer). Strings may be NULL (null in JSON); gpus and reasons are JSON list texts;
 * ledger_index -1: no leaf (entry ignored). */
typedef struct summary_vals {
    const char *id, *status, *repo, *commit, *branch, *signer, *key_fingerprint, *key_type, *mode;
    const char *started_at, *ended_at, *received_at, *gpus, *reasons;
    const char *entry;
    size_t entry_len;
    int dirty, validates;
    int64_t passed, failed, skipped, total, ledger_index;
} summary_vals;
json_t *summary_build(const summary_vals *v);
#define SUMMARY_COLUMNS                                                                        \
    "r.id, r.status, r.repo, r.commit_sha, r.branch, r.signer, r.key_fingerprint, r.key_type, " \
    "r.mode, r.dirty, r.started_at, r.ended_at, r.received_at, r.passed, r.failed, r.skipped, "  \
    "r.total, r.gpus, r.validates, r.reasons, l.idx, l.entry"
#define SUMMARY_FROM " FROM receipts r LEFT JOIN ledger_leaves l ON l.idx = r.leaf_idx "

/* metrics */
void metrics_render(srv *s, gp_buf *out);

/* Current time in milliseconds (CLOCK_REALTIME) and monotonic. */
int64_t now_ms(void);
int64_t mono_ms(void);
/* Waits on cv (mu not held by the caller) for at most ms milliseconds unless `stop` is already
 * true under mu: how the background threads sleep until their next due time or a wake-up. */
void srv_timed_wait(pthread_cond_t *cv, pthread_mutex_t *mu, const volatile sig_atomic_t *stop,
                    int64_t ms);

#endif
