/*
 * checkledger.c - `gpuproof-server check-ledger --db PATH`: an offline audit of the ledger.
 *
 * Recomputes every leaf from the stored receipts (the raw bytes must hash to the receipt id, the
 * entry must be the one those bytes and the verification record give, the stored summary columns
 * must match the bytes), the leaf hashes and every stored subtree hash from the leaves, the root
 * from the leaves, and checks the stored checkpoints (signature with the ledger key when it is
 * readable, root for their size). Prints each difference with the leaf index where it starts and
 * exits 1 on any; 0 when all agree.
 */
#include "srv.h"
#include "merkle.h"
#include "note.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct audit {
    int64_t first;   /* first differing index, -1 none */
    int problems;
} audit;

static void report(audit *a, int64_t index, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void report(audit *a, int64_t index, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (a->problems < 50) {
        if (index >= 0) printf("check-ledger: index %" PRId64 ": %s\n", index, msg);
        else printf("check-ledger: %s\n", msg);
    }
    a->problems++;
    if (index >= 0 && (a->first < 0 || index < a->first)) a->first = index;
}

/* Checks the receipt behind leaf i; writes the expected entry into *entry. */
static void check_receipt(store *db, audit *a, int64_t i, const char *rid, char **entry, size_t *entry_len)
{
    *entry = NULL;
    sqlite3_stmt *st = store_stmt(db, "SELECT raw, status, repo, commit_sha, signer, key_fingerprint, verified_at, "
                                      "dirty, passed, failed, skipped, total, leaf_idx FROM receipts WHERE id = ?");
    if (!st) return;
    sqlite3_bind_text(st, 1, rid, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        report(a, i, "the leaf names receipt %.64s, which is not stored", rid);
        store_done(st);
        return;
    }
    if (sqlite3_column_type(st, 12) == SQLITE_NULL || sqlite3_column_int64(st, 12) != i)
        report(a, i, "the leaf names receipt %.64s, which names %s as its leaf", rid,
               sqlite3_column_type(st, 12) == SQLITE_NULL ? "no leaf" : (const char *)sqlite3_column_text(st, 12));
    gp_receipt *r = NULL;
    const char *raw = sqlite3_column_blob(st, 0);
    size_t rawlen = (size_t)sqlite3_column_bytes(st, 0);
    if (gp_receipt_parse(&r, raw ? raw : "", rawlen, GP_RECEIPT_REQUIRE_COMMIT) < 0) {
        report(a, i, "receipt %.64s: the stored bytes do not parse: %s", rid, gp_error_last());
        goto done;
    }
    if (strcmp(r->id, rid) != 0) report(a, i, "receipt %.64s: the stored bytes hash to %s instead", rid, r->id);
    const char *status = (const char *)sqlite3_column_text(st, 1);
    if (!status || strcmp(status, "verified") != 0) report(a, i, "receipt %.64s is in the ledger but its status is %s", rid, status ? status : "NULL");
    receipt_home h;
    receipt_home_of(&h, r);
    const char *rp = h.repo, *commit = h.commit;
    const char *crepo = (const char *)sqlite3_column_text(st, 2), *ccommit = (const char *)sqlite3_column_text(st, 3);
    const char *csigner = (const char *)sqlite3_column_text(st, 4);
    if ((crepo == NULL) != (rp == NULL) || (crepo && strcmp(crepo, rp)) || !ccommit || strcmp(ccommit, commit) ||
        !csigner || !r->sig_signer || strcmp(csigner, r->sig_signer) || sqlite3_column_int(st, 7) != (int)r->dirty ||
        sqlite3_column_int64(st, 8) != (int64_t)r->passed || sqlite3_column_int64(st, 9) != (int64_t)r->failed ||
        sqlite3_column_int64(st, 10) != (int64_t)r->skipped || sqlite3_column_int64(st, 11) != (int64_t)r->ntests)
        report(a, i, "receipt %.64s: the stored summary (repo, commit, signer, dirty or test counts) differs from its bytes", rid);
    const char *fp = (const char *)sqlite3_column_text(st, 5), *vat = (const char *)sqlite3_column_text(st, 6);
    if (!fp || !vat) {
        report(a, i, "receipt %.64s has no verification record", rid);
        goto done;
    }
    if (ledger_entry_bytes(entry, entry_len, r->id, rp, commit, r->sig_signer ? r->sig_signer : "", fp, vat) < 0)
        *entry = NULL;
done:
    gp_receipt_free(r);
    store_done(st);
}

/* The first flagged leaf in [start, end), else start (end - 1 when start is 0 and nothing is
 * flagged: a root over [0, end) that differs says only that the change is before end). */
static uint64_t first_flagged(const unsigned char *flagged, uint64_t start, uint64_t end)
{
    for (uint64_t i = start; flagged && i < end; i++)
        if (flagged[i]) return i;
    return start == 0 && end > 0 ? end - 1 : start;
}

int check_ledger_main(const char *db_path, const char *key_path, const char *origin, bool quiet)
{
    store *db = NULL;
    audit a = {-1, 0};
    gp_hash *leaves = NULL;
    unsigned char *flagged = NULL;
    uint64_t n = 0, cap = 0;
    int error;
    if ((error = store_open_existing(&db, db_path)) < 0) {
        fprintf(stderr, "gpuproof-server check-ledger: %s\n", gp_error_last());
        return 2;
    }
    store_lock(db);
    sqlite3_stmt *st = store_stmt(db, "SELECT idx, receipt_id, entry, leaf_hash FROM ledger_leaves ORDER BY idx");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        int64_t idx = sqlite3_column_int64(st, 0);
        if (idx != (int64_t)n) {
            report(&a, (int64_t)n, "leaf %" PRIu64 " is missing (the next stored leaf is %" PRId64 ")", n, idx);
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            gp_hash *nl = realloc(leaves, cap * sizeof(*leaves));
            if (!nl) break;
            leaves = nl;
        }
        const char *rid = (const char *)sqlite3_column_text(st, 1);
        const void *entry = sqlite3_column_blob(st, 2);
        size_t elen = (size_t)sqlite3_column_bytes(st, 2);
        gp_hash h;
        gp_merkle_leaf_hash(h, entry ? entry : "", elen);
        if (sqlite3_column_bytes(st, 3) != GP_HASH_LEN || memcmp(sqlite3_column_blob(st, 3), h, GP_HASH_LEN))
            report(&a, idx, "the stored leaf hash is not the hash of the stored entry");
        memcpy(leaves[n], h, GP_HASH_LEN);
        char *want = NULL;
        size_t wlen = 0;
        char ridbuf[80];
        snprintf(ridbuf, sizeof(ridbuf), "%s", rid ? rid : "");
        check_receipt(db, &a, idx, ridbuf, &want, &wlen);
        if (want && (wlen != elen || memcmp(want, entry, elen) != 0))
            report(&a, idx, "the entry differs from the one its receipt gives: stored %.*s, recomputed %s",
                   (int)(elen < 300 ? elen : 300), (const char *)entry, want);
        free(want);
        n++;
    }
    store_done(st);

    /* every verified receipt must be in the ledger */
    st = store_stmt(db, "SELECT r.id FROM receipts r LEFT JOIN ledger_leaves l ON l.idx = r.leaf_idx "
                        "WHERE r.status = 'verified' AND l.idx IS NULL LIMIT 20");
    while (st && sqlite3_step(st) == SQLITE_ROW)
        report(&a, (int64_t)n, "verified receipt %s has no leaf in the ledger", sqlite3_column_text(st, 0));
    store_done(st);

    /* stored subtree hashes, level by level, from the leaves; leaves whose own stored hash
     * differs are flagged so that a differing subtree is reported at its first such leaf */
    flagged = n ? calloc(n, 1) : NULL;
    gp_merkle_mem mem = {(const gp_hash *)leaves, n};
    st = store_stmt(db, "SELECT level, idx, hash FROM ledger_nodes ORDER BY level, idx");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        unsigned level = (unsigned)sqlite3_column_int(st, 0);
        uint64_t idx = (uint64_t)sqlite3_column_int64(st, 1);
        gp_hash h;
        if (level >= 63 || ((idx + 1) << level) > n) {
            uint64_t start = level < 63 ? idx << level : n;
            report(&a, (int64_t)(start > n ? start : n), "a stored subtree hash (level %u, index %" PRIu64 ") lies beyond the leaves", level, idx);
            continue;
        }
        if (gp_merkle_mem_subtree(&mem, level, idx, h) < 0 || sqlite3_column_bytes(st, 2) != GP_HASH_LEN ||
            memcmp(h, sqlite3_column_blob(st, 2), GP_HASH_LEN) != 0) {
            uint64_t start = idx << level;
            if (level == 0 && flagged) flagged[idx] = 1;
            report(&a, (int64_t)first_flagged(flagged, start, (idx + 1) << level),
                   "the stored subtree hash (level %u, index %" PRIu64 ") differs from the leaves", level, idx);
        }
    }
    store_done(st);

    /* checkpoints */
    gp_note_signer v = {0};
    bool have_key = false;
    if (key_path) {
        FILE *f = fopen(key_path, "rb");
        if (f) {
            fclose(f);
            have_key = gp_note_signer_load_or_create(&v, key_path, origin, NULL) == 0;
        }
    }
    st = store_stmt(db, "SELECT size, root, note FROM checkpoints ORDER BY size");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        uint64_t size = (uint64_t)sqlite3_column_int64(st, 0);
        const char *note = (const char *)sqlite3_column_text(st, 2);
        gp_hash root;
        if (size > n) {
            report(&a, (int64_t)n, "checkpoint of size %" PRIu64 " is larger than the ledger (%" PRIu64 " leaves): leaves were removed", size, n);
            continue;
        }
        if (have_key && note) {
            char *o = NULL;
            uint64_t sz = 0;
            gp_hash nr;
            if (gp_checkpoint_open(&o, &sz, nr, note, strlen(note), &v) < 0 || sz != size ||
                memcmp(nr, sqlite3_column_blob(st, 1), GP_HASH_LEN) != 0)
                report(&a, -1, "checkpoint of size %" PRIu64 ": the signed note does not match (%s)", size, gp_error_last());
            free(o);
        }
        if (gp_merkle_root(root, size, gp_merkle_mem_subtree, &mem) < 0 || sqlite3_column_bytes(st, 1) != GP_HASH_LEN ||
            memcmp(root, sqlite3_column_blob(st, 1), GP_HASH_LEN) != 0) {
            /* the first leaf that differs cannot be known from a root alone; a checkpoint of a smaller
             * size that still matches narrows it down: report its size */
            report(&a, (int64_t)(size ? first_flagged(flagged, 0, size) : 0),
                   "the root of the first %" PRIu64 " leaves differs from the signed checkpoint", size);
        }
    }
    store_done(st);
    gp_note_signer_clear(&v);
    store_unlock(db);
    store_close(db);
    free(leaves);
    free(flagged);
    if (a.problems) {
        if (a.first >= 0) printf("check-ledger: FAILED: %d difference(s), the first at index %" PRId64 "\n", a.problems, a.first);
        else printf("check-ledger: FAILED: %d difference(s)\n", a.problems);
        return 1;
    }
    if (!quiet) printf("check-ledger: ok: %" PRIu64 " leaves, every entry, hash, subtree and checkpoint agrees%s\n", n,
                       have_key ? " (checkpoint signatures verified)" : "");
    return 0;
}
