/*
 * api.c - the JSON documents of the API (api.md), built once here for both the JSON routes and
 * the pages (server.h's srv_doc_*): receipt summaries, the commit question CI asks, repositories,
 * their commits (paged with an opaque cursor), signers, the latest receipts and the lookup box.
 */
#include "srv.h"
#include "attest.h"
#include "respcache.h"

#include <ctype.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_MAX 200

static json_t *str_or_null(const char *t)
{
    json_t *j = t ? json_string(t) : NULL;
    return j ? j : json_null();
}

static json_t *json_text_or(const char *t, json_t *fallback)
{
    json_t *j = t ? json_loads(t, 0, NULL) : NULL;
    if (!j) return fallback;
    json_decref(fallback);
    return j;
}

static json_t *col_text(sqlite3_stmt *st, int c)
{
    return str_or_null((const char *)sqlite3_column_text(st, c));
}

static json_t *col_json(sqlite3_stmt *st, int c, json_t *fallback)
{
    return json_text_or((const char *)sqlite3_column_text(st, c), fallback);
}

json_t *summary_build(const summary_vals *v)
{
    char url[100];
    snprintf(url, sizeof(url), "/receipts/%s", v->id);
    json_t *ledger = json_null();
    if (v->ledger_index >= 0)
        ledger = json_pack("{s:I, s:s%}", "index", (json_int_t)v->ledger_index, "entry", v->entry ? v->entry : "",
                           v->entry ? v->entry_len : 0);
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:o, s:o, s:o,"
                     " s:{s:I, s:I, s:I, s:I}, s:o, s:b, s:o, s:o, s:s}",
                     "id", v->id, "status", v->status, "repo", str_or_null(v->repo), "commit", str_or_null(v->commit),
                     "branch", str_or_null(v->branch), "signer", str_or_null(v->signer),
                     "key_fingerprint", str_or_null(v->key_fingerprint), "key_type", str_or_null(v->key_type),
                     "mode", str_or_null(v->mode), "dirty", v->dirty, "started_at", str_or_null(v->started_at),
                     "ended_at", str_or_null(v->ended_at), "received_at", str_or_null(v->received_at),
                     "counts", "passed", (json_int_t)v->passed, "failed", (json_int_t)v->failed,
                     "skipped", (json_int_t)v->skipped, "total", (json_int_t)v->total,
                     "gpus", json_text_or(v->gpus, json_array()),
                     "validates", !strcmp(v->status, "verified") && v->validates,
                     "reasons", json_text_or(v->reasons, json_array()), "ledger", ledger ? ledger : json_null(),
                     "url", url);
}

json_t *summary_from_row(sqlite3_stmt *st)
{
#define T(c) ((const char *)sqlite3_column_text(st, (c)))
    summary_vals v = {
        .id = T(0), .status = T(1), .repo = T(2), .commit = T(3), .branch = T(4), .signer = T(5),
        .key_fingerprint = T(6), .key_type = T(7), .mode = T(8), .dirty = sqlite3_column_int(st, 9),
        .started_at = T(10), .ended_at = T(11), .received_at = T(12),
        .passed = sqlite3_column_int64(st, 13), .failed = sqlite3_column_int64(st, 14),
        .skipped = sqlite3_column_int64(st, 15), .total = sqlite3_column_int64(st, 16),
        .gpus = T(17), .validates = sqlite3_column_int(st, 18), .reasons = T(19),
        .ledger_index = sqlite3_column_type(st, 20) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 20),
        .entry = sqlite3_column_blob(st, 21), .entry_len = (size_t)sqlite3_column_bytes(st, 21),
    };
#undef T
    return summary_build(&v);
}

/* Runs a summary query (bound by the caller) and appends every row to list. Lock held. */
static int collect(store *rd, sqlite3_stmt *st, json_t *list)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *one = summary_from_row(st);
        if (!one) return gp_error_setf(GP_ERROR, "building a receipt summary failed");
        json_array_append_new(list, one);
    }
    return rc == SQLITE_DONE ? 0 : store_fail(rd, "listing receipts");
}

/* Sorts a (short) JSON list of strings alphabetically, in place. */
static void sort_strings(json_t *list)
{
    size_t n = json_array_size(list);
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0 && strcmp(json_string_value(json_array_get(list, b - 1)),
                                           json_string_value(json_array_get(list, b))) > 0; b--) {
            json_t *x = json_incref(json_array_get(list, b - 1));
            json_array_set(list, b - 1, json_array_get(list, b));
            json_array_set_new(list, b, x);
        }
}

static bool lower_hex(char *out, size_t outlen, const char *in, size_t n)
{
    if (!in || strlen(in) != n || n + 1 > outlen || !gp_is_hex(in, n)) return false;
    for (size_t i = 0; i <= n; i++) out[i] = (char)tolower((unsigned char)in[i]);
    return true;
}

int srv_doc_receipt(srv *s, const char *id, json_t **out)
{
    char lid[65];
    *out = NULL;
    if (!lower_hex(lid, sizeof(lid), id, 64))
        return gp_error_setf(GP_ENOTFOUND, "no receipt has this id (ids are 64 hex digits)");
    store *rd = store_reader(s->db);
    store_lock(rd);
    sqlite3_stmt *st = store_stmt(rd, "SELECT " SUMMARY_COLUMNS SUMMARY_FROM "WHERE r.id = ?");
    int error = GP_ENOTFOUND;
    if (!st) {
        error = GP_ERROR;
    } else {
        sqlite3_bind_text(st, 1, lid, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *out = summary_from_row(st);
            error = *out ? 0 : gp_error_setf(GP_ERROR, "building a receipt summary failed");
        } else {
            gp_error_setf(GP_ENOTFOUND, "no receipt with id %s", lid);
        }
        store_done(st);
    }
    store_unlock(rd);
    return error;
}

int srv_receipt_raw(srv *s, const char *id, char **out, size_t *len)
{
    char lid[65];
    *out = NULL;
    *len = 0;
    if (!lower_hex(lid, sizeof(lid), id, 64))
        return gp_error_setf(GP_ENOTFOUND, "no receipt has this id (ids are 64 hex digits)");
    store *rd = store_reader(s->db);
    store_lock(rd);
    sqlite3_stmt *st = store_stmt(rd, "SELECT raw FROM receipts WHERE id = ?");
    int error = GP_ENOTFOUND;
    if (!st) {
        error = GP_ERROR;
    } else {
        sqlite3_bind_text(st, 1, lid, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            error = store_col_blobdup(st, 0, out, len);
        } else {
            gp_error_setf(GP_ENOTFOUND, "no receipt with id %s", lid);
        }
        store_done(st);
    }
    store_unlock(rd);
    return error;
}

static int check_repo(const char *repo)
{
    if (repo && !repo_name_valid(repo))
        return gp_error_setf(GP_EINVALID, "repo must be \"owner/name\" as on GitHub");
    return 0;
}

int srv_doc_commit(srv *s, const char *sha, const char *repo, json_t **out)
{
    char c[65];
    int error;
    *out = NULL;
    if (!lower_hex(c, sizeof(c), sha, 40) && !lower_hex(c, sizeof(c), sha, 64))
        return gp_error_setf(GP_EINVALID, "a commit is 40 (or 64) hex digits");
    if ((error = check_repo(repo)) < 0) return error;
    json_t *receipts = json_array(), *by = json_array();
    store *rd = store_reader(s->db);
    store_lock(rd);
    sqlite3_stmt *st = repo ? store_stmt(rd, "SELECT " SUMMARY_COLUMNS SUMMARY_FROM
                                                "WHERE r.commit_sha = ? AND r.repo = ? COLLATE NOCASE "
                                                "ORDER BY r.seq DESC LIMIT 500")
                            : store_stmt(rd, "SELECT " SUMMARY_COLUMNS SUMMARY_FROM
                                                "WHERE r.commit_sha = ? ORDER BY r.seq DESC LIMIT 500");
    if (!st) {
        error = GP_ERROR;
    } else {
        sqlite3_bind_text(st, 1, c, -1, SQLITE_STATIC);
        if (repo) sqlite3_bind_text(st, 2, repo, -1, SQLITE_STATIC);
        error = collect(rd, st, receipts);
        store_done(st);
    }
    store_unlock(rd);
    if (error < 0) goto fail;
    size_t i;
    json_t *r;
    json_array_foreach(receipts, i, r) {
        if (!json_is_true(json_object_get(r, "validates"))) continue;
        const char *who = json_string_value(json_object_get(r, "signer"));
        size_t k;
        json_t *e;
        bool seen = false;
        json_array_foreach(by, k, e) seen |= !strcmp(json_string_value(e), who);
        if (!seen) json_array_append_new(by, json_string(who));
    }
    sort_strings(by);
    size_t n = json_array_size(by);
    *out = json_pack("{s:s, s:b, s:o, s:o}", "commit", c, "validated", n > 0, "validated_by", by,
                     "receipts", receipts);
    return *out ? 0 : gp_error_setf(GP_ERROR, "building the commit document failed");
fail:
    json_decref(receipts);
    json_decref(by);
    return error;
}

/* One commit of a repository: state, who validated, receipts, GPU names, last received. Lock held. */
static json_t *commit_item(srv *s, store *rd, const char *repo, const char *commit)
{
    sqlite3_stmt *st = store_stmt(rd, "SELECT status, validates, signer, failed, gpus, received_at "
                                         "FROM receipts WHERE repo = ? AND commit_sha = ? ORDER BY seq DESC");
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, repo, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, commit, -1, SQLITE_STATIC);
    json_t *by = json_array(), *gpus = json_array(), *last = NULL;
    bool pending = false, failed = false;
    json_int_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *status = (const char *)sqlite3_column_text(st, 0);
        const char *who = (const char *)sqlite3_column_text(st, 2);
        if (!last) last = col_text(st, 5);
        n++;
        if (!strcmp(status, "pending")) pending = true;
        if (!strcmp(status, "verified") && sqlite3_column_int(st, 3) > 0) failed = true;
        if (!strcmp(status, "verified") && sqlite3_column_int(st, 1)) {
            size_t k;
            json_t *e;
            bool seen = false;
            json_array_foreach(by, k, e) seen |= !strcmp(json_string_value(e), who);
            if (!seen) json_array_append_new(by, json_string(who));
        }
        json_t *g = col_json(st, 4, NULL);
        size_t k;
        json_t *dev;
        json_array_foreach(g, k, dev) {
            const char *name = json_string_value(json_object_get(dev, "name"));
            if (!name) continue;
            size_t m;
            json_t *e;
            bool seen = false;
            json_array_foreach(gpus, m, e) seen |= !strcmp(json_string_value(e), name);
            if (!seen && json_array_size(gpus) < 16) json_array_append_new(gpus, json_string(name));
        }
        json_decref(g);
    }
    store_done(st);
    sort_strings(by);
    size_t nb = json_array_size(by);
    const char *state = nb ? "validated" : pending ? "pending" : failed ? "failed" : "not_validated";
    return json_pack("{s:s, s:s, s:o, s:I, s:o, s:o}", "commit", commit, "state", state, "validated_by", by,
                     "receipts", n, "gpus", gpus, "last_received_at", last ? last : json_null());
}

int srv_doc_repos(srv *s, json_t **out)
{
    json_t *repos = json_array();
    int error = 0;
    *out = NULL;
    store *rd = store_reader(s->db);
    store_lock(rd);
    sqlite3_stmt *st = store_stmt(rd, "SELECT repo, count(DISTINCT commit_sha), count(*), max(seq) FROM receipts "
                                         "WHERE repo IS NOT NULL GROUP BY repo ORDER BY max(seq) DESC LIMIT 500");
    if (!st) {
        error = GP_ERROR;
    } else {
        int rc;
        char **names = NULL;
        json_int_t *cnt = NULL;
        size_t n = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            char **nn = realloc(names, (n + 1) * sizeof(*names));
            json_int_t *nc = realloc(cnt, (n + 1) * 2 * sizeof(*cnt));
            if (nn) names = nn;
            if (nc) cnt = nc;
            if (!nn || !nc) break;
            names[n] = store_col_strdup(st, 0);
            cnt[2 * n] = sqlite3_column_int64(st, 1);
            cnt[2 * n + 1] = sqlite3_column_int64(st, 2);
            n++;
        }
        store_done(st);
        for (size_t i = 0; i < n; i++) {
            json_t *latest = json_null();
            sqlite3_stmt *l = store_stmt(rd, "SELECT commit_sha FROM receipts WHERE repo = ? ORDER BY seq DESC LIMIT 1");
            if (l && names[i]) {
                sqlite3_bind_text(l, 1, names[i], -1, SQLITE_STATIC);
                if (sqlite3_step(l) == SQLITE_ROW) {
                    char *c = store_col_strdup(l, 0);
                    store_done(l);
                    json_t *item = c ? commit_item(s, rd, names[i], c) : NULL;
                    if (item) latest = item;
                    free(c);
                }
                store_done(l);
            }
            if (names[i])
                json_array_append_new(repos, json_pack("{s:s, s:I, s:I, s:o}", "repo", names[i], "commits", cnt[2 * i],
                                                       "receipts", cnt[2 * i + 1], "latest", latest));
            else
                json_decref(latest);
            free(names[i]);
        }
        free(names);
        free(cnt);
    }
    store_unlock(rd);
    if (error < 0) {
        json_decref(repos);
        return error;
    }
    *out = json_pack("{s:o}", "repos", repos);
    return 0;
}

int srv_doc_repo_commits(srv *s, const char *repo, int limit, const char *cursor, json_t **out)
{
    int error;
    int64_t before = INT64_MAX;
    *out = NULL;
    if (!repo || (error = check_repo(repo)) < 0) return repo ? error : gp_error_setf(GP_EINVALID, "no repository");
    if (limit <= 0) limit = 50;
    if (limit > LIST_MAX) limit = LIST_MAX;
    if (cursor && *cursor) {
        size_t l = strlen(cursor);
        char *end = NULL;
        if (l < 2 || l > 17 || cursor[0] != 'c' || !gp_is_hex(cursor + 1, l - 1))
            return gp_error_setf(GP_EINVALID, "cursor is not one this server gave");
        before = (int64_t)strtoll(cursor + 1, &end, 16);
    }
    json_t *commits = json_array(), *next = json_null();
    store *rd = store_reader(s->db);
    store_lock(rd);
    sqlite3_stmt *st = store_stmt(rd, "SELECT commit_sha, max(seq) AS m FROM receipts WHERE repo = ? "
                                         "COLLATE NOCASE GROUP BY commit_sha HAVING m < ? ORDER BY m DESC LIMIT ?");
    char canon_repo[256] = "";
    if (!st) {
        error = GP_ERROR;
    } else {
        sqlite3_bind_text(st, 1, repo, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, before);
        sqlite3_bind_int(st, 3, limit + 1);
        char (*shas)[65] = calloc((size_t)limit + 1, sizeof(*shas));
        int64_t *seqs = calloc((size_t)limit + 1, sizeof(*seqs));
        int n = 0;
        while (shas && seqs && n <= limit && sqlite3_step(st) == SQLITE_ROW) {
            snprintf(shas[n], 65, "%s", (const char *)sqlite3_column_text(st, 0));
            seqs[n++] = sqlite3_column_int64(st, 1);
        }
        store_done(st);
        /* the stored spelling of the repository, for the per-commit queries */
        sqlite3_stmt *rs = store_stmt(rd, "SELECT repo FROM receipts WHERE repo = ? COLLATE NOCASE LIMIT 1");
        if (rs) {
            sqlite3_bind_text(rs, 1, repo, -1, SQLITE_STATIC);
            if (sqlite3_step(rs) == SQLITE_ROW) snprintf(canon_repo, sizeof(canon_repo), "%s", sqlite3_column_text(rs, 0));
            store_done(rs);
        }
        for (int i = 0; i < n && i < limit; i++) {
            json_t *item = commit_item(s, rd, canon_repo, shas[i]);
            if (item) json_array_append_new(commits, item);
        }
        if (n > limit) {
            char c[24];
            snprintf(c, sizeof(c), "c%" PRIx64, (uint64_t)seqs[limit - 1]);
            json_decref(next);
            next = json_string(c);
        }
        free(shas);
        free(seqs);
        error = 0;
    }
    store_unlock(rd);
    if (error < 0) {
        json_decref(commits);
        json_decref(next);
        return error;
    }
    *out = json_pack("{s:s, s:o, s:o}", "repo", canon_repo[0] ? canon_repo : repo, "commits", commits,
                     "next_cursor", next);
    return 0;
}

static int summaries(srv *s, const char *sql, const char *arg, int limit, json_t **list)
{
    *list = json_array();
    store *rd = store_reader(s->db);
    store_lock(rd);
    sqlite3_stmt *st = store_stmt(rd, sql);
    int error = GP_ERROR;
    if (st) {
        int i = 1;
        if (arg) sqlite3_bind_text(st, i++, arg, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, i, limit);
        error = collect(rd, st, *list);
        store_done(st);
    }
    store_unlock(rd);
    if (error < 0) {
        json_decref(*list);
        *list = NULL;
    }
    return error;
}

int srv_doc_signer(srv *s, const char *login, json_t **out)
{
    json_t *list = NULL;
    *out = NULL;
    if (!login || !gp_login_valid(login)) return gp_error_setf(GP_EINVALID, "not a valid GitHub login");
    int error = summaries(s, "SELECT " SUMMARY_COLUMNS SUMMARY_FROM "WHERE r.signer = ? COLLATE NOCASE "
                             "ORDER BY r.seq DESC LIMIT ?", login, LIST_MAX, &list);
    if (error < 0) return error;
    *out = json_pack("{s:s, s:o}", "signer", login, "receipts", list);
    return 0;
}

int srv_doc_latest(srv *s, int limit, json_t **out)
{
    json_t *list = NULL;
    *out = NULL;
    if (limit <= 0) limit = 20;
    if (limit > LIST_MAX) limit = LIST_MAX;
    int error = summaries(s, "SELECT " SUMMARY_COLUMNS SUMMARY_FROM "ORDER BY r.seq DESC LIMIT ?", NULL, limit, &list);
    if (error < 0) return error;
    *out = json_pack("{s:o}", "receipts", list);
    return 0;
}

int srv_doc_lookup(srv *s, const char *q, json_t **out)
{
    json_t *commits = json_array(), *signers = json_array();
    char p[66], hi[68];
    size_t n = q ? strlen(q) : 0;
    *out = NULL;
    store *rd = store_reader(s->db);
    store_lock(rd);
    if (n >= 7 && n <= 64 && lower_hex(p, sizeof(p), q, n)) {
        /* prefix range [p, p + "g") over the lower-case hex column */
        snprintf(hi, sizeof(hi), "%sg", p);
        sqlite3_stmt *st = store_stmt(rd, "SELECT DISTINCT commit_sha FROM receipts WHERE commit_sha >= ? "
                                             "AND commit_sha < ? ORDER BY commit_sha LIMIT 20");
        if (st) {
            sqlite3_bind_text(st, 1, p, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, hi, -1, SQLITE_STATIC);
            while (sqlite3_step(st) == SQLITE_ROW) json_array_append_new(commits, col_text(st, 0));
            store_done(st);
        }
    }
    if (n && gp_login_valid(q)) {
        char like[48];
        snprintf(like, sizeof(like), "%s%%", q);
        sqlite3_stmt *st = store_stmt(rd, "SELECT DISTINCT signer FROM receipts WHERE signer LIKE ? "
                                             "ORDER BY signer LIMIT 20");
        if (st) {
            sqlite3_bind_text(st, 1, like, -1, SQLITE_STATIC);
            while (sqlite3_step(st) == SQLITE_ROW) json_array_append_new(signers, col_text(st, 0));
            store_done(st);
        }
    }
    store_unlock(rd);
    *out = json_pack("{s:o, s:o}", "commits", commits, "signers", signers);
    return 0;
}

/* ---- routes ------------------------------------------------------------------------------------- */

static void answer(srv_resp *r, int error, json_t *doc)
{
    if (error < 0) resp_error(r, error);
    else resp_json(r, 200, doc);
}

void api_route(srv *s, srv_route route, const char *path, struct MHD_Connection *c, srv_resp *r)
{
    json_t *doc = NULL;
    char buf[300];
    int error;
    switch (route) {
    case R_RECEIPT: {
        const char *id = path + strlen("/api/receipts/");
        size_t idl = strlen(id);
        if (idl > 12 && idl < 200 && !strcmp(id + idl - 12, "/attestation")) {
            snprintf(buf, sizeof(buf), "%.*s", (int)(idl - 12), id);
            attest_route(s, buf, r);
            return;
        }
        error = srv_doc_receipt(s, id, &doc);
        answer(r, error, doc);
        return;
    }
    case R_RECEIPT_RAW: {
        const char *id = path + strlen("/api/receipts/");
        size_t l = strlen(id) - strlen("/raw");
        char *raw = NULL;
        size_t len = 0;
        snprintf(buf, sizeof(buf), "%.*s", (int)(l < 200 ? l : 200), id);
        if ((error = srv_receipt_raw(s, buf, &raw, &len)) < 0) {
            resp_error(r, error);
            return;
        }
        resp_text(r, 200, "application/json", raw, len);
        free(raw);
        return;
    }
    case R_COMMIT:
        respcache_commit(s, path + strlen("/api/commits/"),
                         MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "repo"), r);
        return;
    case R_REPOS:
        error = srv_doc_repos(s, &doc);
        answer(r, error, doc);
        return;
    case R_REPO_COMMITS: {
        const char *rest = path + strlen("/api/repos/");
        size_t l = strlen(rest);
        static const char tail[] = "/commits";
        if (l <= sizeof(tail) - 1 || strcmp(rest + l - (sizeof(tail) - 1), tail) != 0 || l > 250) {
            resp_problem(r, 404, "use /api/repos/{owner}/{name}/commits");
            return;
        }
        snprintf(buf, sizeof(buf), "%.*s", (int)(l - (sizeof(tail) - 1)), rest);
        const char *lim = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
        int limit = 50;
        if (lim) {
            char *end = NULL;
            long v = strtol(lim, &end, 10);
            if (!*lim || *end || v < 1 || v > LIST_MAX) {
                resp_problem(r, 400, "limit must be a number from 1 to 200");
                return;
            }
            limit = (int)v;
        }
        if (!repo_name_valid(buf)) {
            resp_problem(r, 404, "no such repository path; use /api/repos/{owner}/{name}/commits");
            return;
        }
        error = srv_doc_repo_commits(s, buf, limit, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "cursor"), &doc);
        answer(r, error, doc);
        return;
    }
    case R_LATEST: {
        const char *lim = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
        long limit = 20;
        if (lim) {
            char *end = NULL;
            limit = strtol(lim, &end, 10);
            if (!*lim || *end || limit < 1 || limit > 100) {
                resp_problem(r, 400, "limit must be a number from 1 to 100");
                return;
            }
        }
        error = srv_doc_latest(s, (int)limit, &doc);
        answer(r, error, doc);
        return;
    }
    case R_SIGNER:
        error = srv_doc_signer(s, path + strlen("/api/signers/"), &doc);
        answer(r, error, doc);
        return;
    default: resp_problem(r, 404, "no such API endpoint");
    }
}

const char *srv_web_dir(const srv *s)
{
    return s->web_dir;
}
