/*
 * ledger.c - the server side of the receipt ledger (../shared/spec/ledger.md).
 *
 * Leaves are appended in the caller's transaction (the one that marks the receipt verified),
 * together with the hash of every complete subtree the new leaf completes, stored as
 * ledger_nodes(level, idx); roots and proofs then read O(log n) stored hashes through
 * merkle.h's subtree callback. A checkpointer thread signs a new checkpoint after appends, at most
 * one per CKPT_INTERVAL_MS under load, always from committed state read under the store lock
 * (every write holds that lock for its whole transaction), so two checkpoints can never disagree.
 * Also here: the ledger endpoints and `gpuproof-server check-ledger`.
 */
#include "srv.h"
#include "merkle.h"
#include "note.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CKPT_INTERVAL_MS 1000

/* ---- tree storage ----------------------------------------------------------------------------- */

static int node_get(store *db, unsigned level, uint64_t idx, gp_hash out)
{
    sqlite3_stmt *st = store_stmt(db, "SELECT hash FROM ledger_nodes WHERE level = ? AND idx = ?");
    if (!st) return GP_ERROR;
    sqlite3_bind_int(st, 1, (int)level);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)idx);
    int error = 0;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == GP_HASH_LEN)
        memcpy(out, sqlite3_column_blob(st, 0), GP_HASH_LEN);
    else
        error = gp_error_setf(GP_ERROR, "ledger: stored hash (level %u, index %" PRIu64 ") is missing", level, idx);
    store_done(st);
    return error;
}

static int node_put(store *db, unsigned level, uint64_t idx, const gp_hash h)
{
    sqlite3_stmt *st = store_stmt(db, "INSERT INTO ledger_nodes (level, idx, hash) VALUES (?, ?, ?)");
    if (!st) return GP_ERROR;
    sqlite3_bind_int(st, 1, (int)level);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)idx);
    sqlite3_bind_blob(st, 3, h, GP_HASH_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    store_done(st);
    return rc == SQLITE_DONE ? 0 : store_fail(db, "storing a ledger hash");
}

static int subtree_cb(void *ctx, unsigned level, uint64_t start, gp_hash out)
{
    return node_get((store *)ctx, level, start, out);
}

/* Tree size: leaves are 0..n-1. Lock held. */
static int tree_size(store *db, uint64_t *n)
{
    sqlite3_stmt *st = store_stmt(db, "SELECT coalesce(max(idx) + 1, 0) FROM ledger_leaves");
    if (!st) return GP_ERROR;
    int error = 0;
    if (sqlite3_step(st) == SQLITE_ROW) *n = (uint64_t)sqlite3_column_int64(st, 0);
    else error = store_fail(db, "reading the ledger size");
    store_done(st);
    return error;
}

int ledger_entry_bytes(char **out, size_t *len, const char *id, const char *repo, const char *commit,
                       const char *signer, const char *fp, const char *verified_at)
{
    json_t *e = json_pack("{s:i, s:s, s:o, s:s, s:s, s:s, s:s}", "v", 1, "receipt", id, "repo",
                          repo ? json_string(repo) : json_null(), "commit", commit, "signer", signer,
                          "key_fingerprint", fp ? fp : "", "verified_at", verified_at);
    gp_json *g = NULL;
    int error;
    if (!e) return gp_error_setf(GP_EINVALID, "ledger: entry fields are not valid UTF-8");
    if ((error = gp_json_from_jansson(&g, e)) == 0) error = gp_json_canonical(out, len, g, NULL);
    gp_json_free(g);
    json_decref(e);
    return error;
}

int ledger_next_index_locked(srv *s, int64_t *index)
{
    uint64_t n = 0;
    int error = tree_size(s->db, &n);
    *index = error < 0 ? -1 : (int64_t)n;
    return error;
}

int ledger_append_locked(srv *s, const char *receipt_id, const char *entry, size_t entry_len, int64_t index)
{
    /* index is the tree size read in this transaction: no second read (an index already taken
     * fails the INSERT on the primary key) */
    uint64_t n = (uint64_t)index;
    gp_hash h, left, parent;
    int error;
    if (index < 0) return gp_error_setf(GP_ERROR, "ledger: no leaf index");
    gp_merkle_leaf_hash(h, entry, entry_len);
    sqlite3_stmt *st = store_stmt(s->db, "INSERT INTO ledger_leaves (idx, receipt_id, entry, leaf_hash) VALUES (?, ?, ?, ?)");
    if (!st) return GP_ERROR;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)n);
    sqlite3_bind_text(st, 2, receipt_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, entry, (int)entry_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, h, GP_HASH_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    store_done(st);
    if (rc != SQLITE_DONE) return store_fail(s->db, "appending a ledger leaf");
    if ((error = node_put(s->db, 0, n, h)) < 0) return error;
    /* Every complete subtree that ends at this leaf: climb while we are a right child. */
    uint64_t i = n;
    unsigned level = 0;
    while (i & 1) {
        if ((error = node_get(s->db, level, i - 1, left)) < 0) return error;
        gp_merkle_node_hash(parent, left, h);
        memcpy(h, parent, GP_HASH_LEN);
        level++;
        i >>= 1;
        if ((error = node_put(s->db, level, i, h)) < 0) return error;
    }
    return 0;
}

/* ---- checkpoints ------------------------------------------------------------------------------- */

static int latest_checkpoint(store *db, uint64_t *size, char **note)
{
    sqlite3_stmt *st = store_stmt(db, "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1");
    if (!st) return GP_ERROR;
    int error = GP_ENOTFOUND;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *size = (uint64_t)sqlite3_column_int64(st, 0);
        error = 0;
        if (note && !(*note = store_col_strdup(st, 1))) error = gp_error_setf(GP_ERROR, "out of memory");
    }
    store_done(st);
    return error;
}

/* Signs a checkpoint of the current committed tree if it grew. Takes the lock. */
static int checkpoint_now(srv *s)
{
    uint64_t n = 0, have = 0;
    gp_hash root;
    char *text = NULL, *note = NULL, now[21];
    int error;
    store_lock(s->db);
    if ((error = tree_size(s->db, &n)) < 0) goto done;
    error = latest_checkpoint(s->db, &have, NULL);
    if (error == 0 && have >= n) goto done;
    if (error < 0 && error != GP_ENOTFOUND) goto done;
    if ((error = gp_merkle_root(root, n, subtree_cb, s->db)) < 0) goto done;
    if ((error = gp_checkpoint_text(&text, s->cfg.ledger_origin, n, root)) < 0) goto done;
    if ((error = gp_note_sign(&note, text, strlen(text), &s->ledger)) < 0) goto done;
    gp_time_format(now, time(NULL));
    sqlite3_stmt *st = store_stmt(s->db, "INSERT INTO checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?)");
    if (!st) { error = GP_ERROR; goto done; }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)n);
    sqlite3_bind_blob(st, 2, root, GP_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, note, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) error = store_fail(s->db, "storing a checkpoint");
    store_done(st);
done:
    store_unlock(s->db);
    free(text);
    free(note);
    return error;
}

static void *ckpt_main(void *arg)
{
    srv *s = arg;
    int64_t last = 0;
    pthread_mutex_lock(&s->ckpt_mu);
    while (!s->stopping || s->ckpt_dirty) {
        if (!s->ckpt_dirty) {
            if (s->stopping) break;
            pthread_cond_wait(&s->ckpt_cv, &s->ckpt_mu);
            continue;
        }
        int64_t wait = last + CKPT_INTERVAL_MS - mono_ms();
        if (wait > 0 && !s->stopping) {
            pthread_mutex_unlock(&s->ckpt_mu);
            struct timespec ts = {wait / 1000, (wait % 1000) * 1000000};
            nanosleep(&ts, NULL);
            pthread_mutex_lock(&s->ckpt_mu);
        }
        s->ckpt_dirty = false;
        pthread_mutex_unlock(&s->ckpt_mu);
        if (checkpoint_now(s) < 0)
            fprintf(stderr, "{\"level\":\"error\",\"msg\":\"signing a checkpoint failed\"}\n");
        last = mono_ms();
        pthread_mutex_lock(&s->ckpt_mu);
    }
    pthread_mutex_unlock(&s->ckpt_mu);
    return NULL;
}

void ledger_appended(srv *s)
{
    if (!s->ckpt_started) return;
    pthread_mutex_lock(&s->ckpt_mu);
    s->ckpt_dirty = true;
    pthread_cond_signal(&s->ckpt_cv);
    pthread_mutex_unlock(&s->ckpt_mu);
}

int ledger_init(srv *s)
{
    bool created = false;
    int error = gp_note_signer_load_or_create(&s->ledger, s->cfg.ledger_key, s->cfg.ledger_origin, &created);
    if (error < 0) return error;
    if ((error = gp_note_verifier_string(&s->verifier, &s->ledger)) < 0) return error;
    if ((error = checkpoint_now(s)) < 0) return error;
    pthread_mutex_init(&s->ckpt_mu, NULL);
    pthread_cond_init(&s->ckpt_cv, NULL);
    if (pthread_create(&s->ckpt, NULL, ckpt_main, s) != 0)
        return gp_error_setf(GP_ERROR, "cannot start the checkpoint thread");
    s->ckpt_started = true;
    return 0;
}

void ledger_close(srv *s)
{
    if (s->ckpt_started) {
        pthread_mutex_lock(&s->ckpt_mu);
        s->stopping = 1;
        pthread_cond_broadcast(&s->ckpt_cv);
        pthread_mutex_unlock(&s->ckpt_mu);
        pthread_join(s->ckpt, NULL);
        s->ckpt_started = false;
        pthread_cond_destroy(&s->ckpt_cv);
        pthread_mutex_destroy(&s->ckpt_mu);
        checkpoint_now(s); /* the last appends */
    }
    gp_note_signer_clear(&s->ledger);
    free(s->verifier);
    s->verifier = NULL;
}

/* ---- C2SP tlog-tiles (optional, for existing transparency tooling) ------------------------------------ */

/* Parses a tile index "x001/x234/067" (groups of three digits, all but the last prefixed by x)
 * and an optional ".p/<W>" (1..255). */
static bool parse_tile_index(const char *p, uint64_t *n, unsigned *width)
{
    uint64_t v = 0;
    *width = 256;
    for (;;) {
        bool more = *p == 'x';
        if (more) p++;
        if (!(p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9')) return false;
        if (v > UINT64_MAX / 1000) return false;
        v = v * 1000 + (uint64_t)((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'));
        p += 3;
        if (more) {
            if (*p++ != '/') return false;
            continue;
        }
        break;
    }
    if (*p == '.') {
        if (strncmp(p, ".p/", 3) != 0) return false;
        p += 3;
        unsigned w = 0;
        if (!*p) return false;
        for (; *p; p++) {
            if (*p < '0' || *p > '9' || w > 255) return false;
            w = w * 10 + (unsigned)(*p - '0');
        }
        if (w < 1 || w > 255) return false;
        *width = w;
    } else if (*p) {
        return false;
    }
    *n = v;
    return true;
}

void ledger_tiles(srv *s, const char *path, srv_resp *r)
{
    const char *sub = path + strlen("/ledger/");
    uint64_t size = 0, n = 0;
    unsigned width = 0, level = 0;
    bool entries = false;
    int error = 0;
    if (!strcmp(sub, "checkpoint")) {
        ledger_route(s, "/api/ledger/checkpoint", NULL, NULL, NULL, NULL, r);
        return;
    }
    if (!strncmp(sub, "tile/entries/", 13)) {
        entries = true;
        sub += 13;
    } else if (!strncmp(sub, "tile/", 5) && sub[5] >= '0' && sub[5] <= '9' && sub[6] == '/') {
        level = (unsigned)(sub[5] - '0');
        sub += 7;
    } else {
        resp_problem(r, 404, "no such tlog-tiles resource");
        return;
    }
    if (!parse_tile_index(sub, &n, &width) || level > 7) {
        resp_problem(r, 404, "not a tile path (C2SP tlog-tiles)");
        return;
    }
    gp_buf_init(&r->body, 256 * 66 * 1024);
    store *rd = store_reader(s->db);
    store_lock(rd);
    if ((error = store_exec(rd, "BEGIN")) < 0) goto fail;
    /* tiles are served up to the latest checkpoint only */
    sqlite3_stmt *st = store_stmt(rd, "SELECT coalesce(max(size), 0) FROM checkpoints");
    if (!st || sqlite3_step(st) != SQLITE_ROW) { store_done(st); error = GP_ERROR; goto fail; }
    size = (uint64_t)sqlite3_column_int64(st, 0);
    store_done(st);
    unsigned height = entries ? 0 : 8 * level;
    uint64_t have = height >= 64 ? 0 : size >> height;
    if (n > (UINT64_MAX >> 9) || n * 256 + width > have) {
        store_exec(rd, "COMMIT");
        store_unlock(rd);
        resp_problem(r, 404, "that tile is not in the tree yet");
        return;
    }
    for (uint64_t i = n * 256; i < n * 256 + width; i++) {
        if (entries) {
            st = store_stmt(rd, "SELECT entry FROM ledger_leaves WHERE idx = ?");
            if (!st) { error = GP_ERROR; goto fail; }
            sqlite3_bind_int64(st, 1, (sqlite3_int64)i);
            if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_bytes(st, 0) > 65535) {
                store_done(st);
                error = gp_error_setf(GP_ERROR, "ledger entry %" PRIu64 " is missing", i);
                goto fail;
            }
            int len = sqlite3_column_bytes(st, 0);
            unsigned char be[2] = {(unsigned char)(len >> 8), (unsigned char)len};
            gp_buf_add(&r->body, be, 2);
            gp_buf_add(&r->body, sqlite3_column_blob(st, 0), (size_t)len);
            store_done(st);
        } else {
            gp_hash h;
            if ((error = node_get(rd, height, i, h)) < 0) goto fail;
            gp_buf_add(&r->body, h, GP_HASH_LEN);
        }
    }
    store_exec(rd, "COMMIT");
    store_unlock(rd);
    r->status = 200;
    r->ctype = "application/octet-stream";
    r->cache = width == 256 ? "public, max-age=31536000, immutable" : "no-cache";
    return;
fail:
    store_rollback(rd);
    store_unlock(rd);
    gp_buf_free(&r->body);
    resp_error(r, error);
}

/* ---- HTTP ------------------------------------------------------------------------------------------ */

static bool parse_u64(const char *text, uint64_t *out)
{
    if (!text || !*text || strlen(text) > 19) return false;
    uint64_t v = 0;
    for (const char *c = text; *c; c++) {
        if (*c < '0' || *c > '9') return false;
        v = v * 10 + (uint64_t)(*c - '0');
    }
    *out = v;
    return true;
}

static json_t *b64(const unsigned char *h, size_t len)
{
    char *t = NULL;
    if (gp_base64_encode(&t, h, len) < 0) return json_null();
    json_t *j = json_string(t);
    free(t);
    return j;
}

static json_t *hash_list(const gp_hash *p, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, b64(p[i], GP_HASH_LEN));
    return a;
}

static void route_locked(srv *s, store *rd, const char *sub, const char *q_index, const char *q_size,
                         const char *q_first, const char *q_second, srv_resp *r)
{
    char msg[256];
    uint64_t n = 0, a = 0, b = 0;
    gp_hash proof[64];
    size_t count = 0;
    int error = 0;

    if ((error = tree_size(rd, &n)) < 0) goto fail;
    if (!strcmp(sub, "checkpoint")) {
        char *note = NULL;
        uint64_t size = 0;
        error = latest_checkpoint(rd, &size, &note);
        if (error < 0) { resp_error(r, error); return; }
        resp_text(r, 200, "text/plain; charset=utf-8", note, strlen(note));
        free(note);
        return;
    }
    if (!strncmp(sub, "entries/", 8)) {
        if (!parse_u64(sub + 8, &a)) {
            resp_problem(r, 400, "the entry index must be a decimal number");
            return;
        }
        if (a >= n) {
            snprintf(msg, sizeof(msg), "entry %" PRIu64 " is beyond the ledger (size %" PRIu64 ")", a, n);
            resp_problem(r, 404, msg);
            return;
        }
        sqlite3_stmt *st = store_stmt(rd, "SELECT entry, leaf_hash FROM ledger_leaves WHERE idx = ?");
        if (!st) { error = GP_ERROR; goto fail; }
        sqlite3_bind_int64(st, 1, (sqlite3_int64)a);
        json_t *doc = NULL;
        if (sqlite3_step(st) == SQLITE_ROW)
            doc = json_pack("{s:I, s:s%, s:o}", "index", (json_int_t)a, "entry",
                            (const char *)sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
                            "leaf_hash", b64(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1)));
        store_done(st);
        if (!doc) { resp_problem(r, 500, "the ledger entry is missing"); return; }
        resp_json(r, 200, doc);
        return;
    }
    if (!strcmp(sub, "proof/inclusion")) {
        if (!parse_u64(q_index, &a) || !parse_u64(q_size, &b)) {
            resp_problem(r, 400, "give index and tree_size as decimal numbers");
            return;
        }
        if (b > n || a >= b) {
            snprintf(msg, sizeof(msg), "no inclusion proof of index %" PRIu64 " in a tree of size %" PRIu64
                     " (the ledger has %" PRIu64 " entries)", a, b, n);
            resp_problem(r, 400, msg);
            return;
        }
        error = gp_merkle_inclusion_proof(proof, &count, a, b, subtree_cb, rd);
        if (error < 0) { resp_error(r, error); return; }
        resp_json(r, 200, json_pack("{s:I, s:I, s:o}", "index", (json_int_t)a, "tree_size", (json_int_t)b,
                                    "hashes", hash_list(proof, count)));
        return;
    }
    if (!strcmp(sub, "proof/consistency")) {
        if (!parse_u64(q_first, &a) || !parse_u64(q_second, &b)) {
            resp_problem(r, 400, "give first and second as decimal numbers");
            return;
        }
        if (b > n || a > b) {
            snprintf(msg, sizeof(msg), "no consistency proof from size %" PRIu64 " to %" PRIu64
                     " (the ledger has %" PRIu64 " entries)", a, b, n);
            resp_problem(r, 400, msg);
            return;
        }
        error = gp_merkle_consistency_proof(proof, &count, a, b, subtree_cb, rd);
        if (error < 0) { resp_error(r, error); return; }
        resp_json(r, 200, json_pack("{s:I, s:I, s:o}", "first", (json_int_t)a, "second", (json_int_t)b,
                                    "hashes", hash_list(proof, count)));
        return;
    }
    resp_problem(r, 404, "no such ledger endpoint (checkpoint, key, entries/{index}, proof/inclusion, "
                         "proof/consistency)");
    return;
fail:
    resp_error(r, error);
}

void ledger_route(srv *s, const char *path, const char *q_index, const char *q_size, const char *q_first,
                  const char *q_second, srv_resp *r)
{
    const char *sub = path + strlen("/api/ledger/");
    if (!strcmp(sub, "key")) {
        gp_buf_init(&r->body, 0);
        gp_buf_printf(&r->body, "%s\n", s->verifier);
        r->status = 200;
        r->ctype = "text/plain; charset=utf-8";
        return;
    }
    /* one read transaction: the size, the checkpoint and the hashes come from one snapshot */
    store *rd = store_reader(s->db);
    store_lock(rd);
    bool tx = store_exec(rd, "BEGIN") == 0;
    route_locked(s, rd, sub, q_index, q_size, q_first, q_second, r);
    if (tx) store_exec(rd, "COMMIT");
    store_unlock(rd);
}
