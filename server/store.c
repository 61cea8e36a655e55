/*
 * store.c - SQLite storage for gpuproof-server (see store.h).
 *
 * Durability: WAL with synchronous=FULL, so a receipt acknowledged after its COMMIT survives a
 * process kill and a power loss (docs/decisions.md, "Server"). Migrations are the numbered files
 * of migrations/ applied in order, each in its own transaction together with its row in
 * schema_migrations; a database that records a version newer than STORE_SCHEMA_VERSION is refused.
 */
#include "store.h"
#include "error.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "util.h"

#define STMT_CACHE 96

struct store {
    sqlite3 *db;
    char *path;
    bool has_key;            /* the writer: readers are per thread under `key` */
    pthread_key_t key;
    pthread_mutex_t mu;
    struct {
        const char *sql;
        sqlite3_stmt *st;
    } cache[STMT_CACHE];
    size_t ncache;
};

int store_fail(store *s, const char *what)
{
    return gp_error_setf(GP_ERROR, "database: %s: %s", what, s && s->db ? sqlite3_errmsg(s->db) : "not open");
}

void store_lock(store *s) { pthread_mutex_lock(&s->mu); }
void store_unlock(store *s) { pthread_mutex_unlock(&s->mu); }
sqlite3 *store_db(store *s) { return s->db; }

sqlite3_stmt *store_stmt(store *s, const char *sql)
{
    for (size_t i = 0; i < s->ncache; i++)
        if (s->cache[i].sql == sql || strcmp(s->cache[i].sql, sql) == 0) return s->cache[i].st;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        store_fail(s, "prepare");
        return NULL;
    }
    if (s->ncache < STMT_CACHE) {
        s->cache[s->ncache].sql = sql;
        s->cache[s->ncache].st = st;
        s->ncache++;
    } else {
        /* The cache is sized for every statement of the server; never reached in practice. */
        sqlite3_finalize(st);
        gp_error_setf(GP_ERROR, "database: statement cache full");
        return NULL;
    }
    return st;
}

void store_done(sqlite3_stmt *st)
{
    if (!st) return;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

int store_exec(store *s, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int e = gp_error_setf(GP_ERROR, "database: %s", msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return e;
    }
    return 0;
}

int store_begin(store *s) { return store_exec(s, "BEGIN IMMEDIATE"); }
int store_commit(store *s) { return store_exec(s, "COMMIT"); }
void store_rollback(store *s)
{
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

char *store_col_strdup(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? strdup((const char *)t) : NULL;
}

int store_col_blobdup(sqlite3_stmt *st, int col, char **out, size_t *len)
{
    const void *b = sqlite3_column_blob(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    char *p = malloc(n + 1);
    if (!p) return gp_error_setf(GP_ERROR, "out of memory");
    if (n) memcpy(p, b, n);
    p[n] = '\0';
    *out = p;
    if (len) *len = n;
    return 0;
}

static int open_conn(store **out, const char *path, int flags)
{
    store *s = calloc(1, sizeof(*s));
    if (!s) return gp_error_setf(GP_ERROR, "out of memory");
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->mu, &a);
    pthread_mutexattr_destroy(&a);
    if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
        int e = gp_error_setf(GP_ERROR, "cannot open database %s: %s", path,
                              s->db ? sqlite3_errmsg(s->db) : "out of memory");
        store_close(s);
        return e;
    }
    sqlite3_busy_timeout(s->db, 5000);
    sqlite3_extended_result_codes(s->db, 1);
    int error = (flags & SQLITE_OPEN_READONLY)
                    ? store_exec(s, "PRAGMA query_only=ON; PRAGMA temp_store=MEMORY")
                    : store_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                                    "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; "
                                    /* the writer's page cache holds the interior pages of the
                                     * tables and indexes it inserts into at a million receipts */
                                    "PRAGMA cache_size=-32768");
    if (error == 0 && !(s->path = strdup(path))) error = gp_error_setf(GP_ERROR, "out of memory");
    if (error < 0) {
        store_close(s);
        return error;
    }
    *out = s;
    return 0;
}

static int current_version(store *s, int *version)
{
    int error = store_exec(s, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                              "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)");
    if (error < 0) return error;
    sqlite3_stmt *st = store_stmt(s, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (!st) return GP_ERROR;
    if (sqlite3_step(st) != SQLITE_ROW) {
        store_done(st);
        return store_fail(s, "reading schema_migrations");
    }
    *version = sqlite3_column_int(st, 0);
    store_done(st);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Applies migrations/NNNN_*.sql with NNNN > have, up to STORE_SCHEMA_VERSION. */
static int migrate(store *s, const char *dir, int have)
{
    DIR *d = NULL;
    char **names = NULL;
    size_t n = 0, cap = 0;
    char *sql = NULL;
    int error = 0, applied = have;

    if (have >= STORE_SCHEMA_VERSION) return 0;
    if (!dir || !(d = opendir(dir)))
        return gp_error_setf(GP_EINVALID, "migrations directory %s not found (give --migrations-dir)",
                             dir ? dir : "(none)");
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 9 || strcmp(e->d_name + l - 4, ".sql") != 0) continue;
        int digits = 0;
        while (digits < 4 && e->d_name[digits] >= '0' && e->d_name[digits] <= '9') digits++;
        if (digits != 4 || e->d_name[4] != '_') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof(*names));
            if (!nn) { error = gp_error_setf(GP_ERROR, "out of memory"); goto done; }
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name))) { error = gp_error_setf(GP_ERROR, "out of memory"); goto done; }
        n++;
    }
    qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
        int v = atoi(names[i]);
        if (v <= applied) continue;
        if (v > STORE_SCHEMA_VERSION) break;
        if (v != applied + 1) {
            error = gp_error_setf(GP_EINVALID, "migration %04d is missing from %s", applied + 1, dir);
            goto done;
        }
        char path[4096];
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if ((error = gp_read_file(&sql, &len, path, 1 << 20)) < 0) goto done;
        if ((error = store_begin(s)) < 0) goto done;
        if ((error = store_exec(s, sql)) < 0) {
            store_rollback(s);
            gp_error_setf(GP_ERROR, "migration %s failed: %s", names[i], gp_error_last());
            goto done;
        }
        sqlite3_stmt *st = store_stmt(s, "INSERT INTO schema_migrations (version, name, applied_at) "
                                         "VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%SZ','now'))");
        if (!st) { error = GP_ERROR; store_rollback(s); goto done; }
        sqlite3_bind_int(st, 1, v);
        sqlite3_bind_text(st, 2, names[i], -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        store_done(st);
        if (rc != SQLITE_DONE) { error = store_fail(s, "recording migration"); store_rollback(s); goto done; }
        if ((error = store_commit(s)) < 0) { store_rollback(s); goto done; }
        applied = v;
        free(sql);
        sql = NULL;
    }
    if (applied < STORE_SCHEMA_VERSION)
        error = gp_error_setf(GP_EINVALID, "migration %04d is missing from %s", applied + 1, dir);
done:
    if (d) closedir(d);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    free(sql);
    return error;
}

static void reader_gone(void *r)
{
    store_close(r);
}

store *store_reader(store *w)
{
    if (!w->has_key) return w;
    store *r = pthread_getspecific(w->key);
    if (r) return r;
    if (open_conn(&r, w->path, SQLITE_OPEN_READONLY) < 0) return w;
    if (pthread_setspecific(w->key, r) != 0) {
        store_close(r);
        return w;
    }
    return r;
}

int store_open(store **out, const char *path, const char *migrations_dir)
{
    store *s = NULL;
    int error, version = 0;
    *out = NULL;
    if ((error = open_conn(&s, path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) < 0) return error;
    if ((error = current_version(s, &version)) < 0) goto fail;
    if (version > STORE_SCHEMA_VERSION) {
        error = gp_error_setf(GP_EINVALID,
                              "database %s has schema version %d, newer than this gpuproof-server "
                              "knows (%d): upgrade gpuproof-server or use another database",
                              path, version, STORE_SCHEMA_VERSION);
        goto fail;
    }
    if ((error = migrate(s, migrations_dir, version)) < 0) goto fail;
    if (pthread_key_create(&s->key, reader_gone) == 0) s->has_key = true;
    *out = s;
    return 0;
fail:
    store_close(s);
    return error;
}

int store_open_existing(store **out, const char *path)
{
    store *s = NULL;
    int error, version = 0;
    *out = NULL;
    if ((error = open_conn(&s, path, SQLITE_OPEN_READWRITE)) < 0) return error;
    if ((error = current_version(s, &version)) < 0) goto fail;
    if (version != STORE_SCHEMA_VERSION) {
        error = gp_error_setf(GP_EINVALID, "database %s has schema version %d; this binary knows %d",
                              path, version, STORE_SCHEMA_VERSION);
        goto fail;
    }
    *out = s;
    return 0;
fail:
    store_close(s);
    return error;
}

void store_close(store *s)
{
    if (!s) return;
    if (s->has_key) {
        store *mine = pthread_getspecific(s->key);
        if (mine) {
            pthread_setspecific(s->key, NULL);
            store_close(mine);
        }
        pthread_key_delete(s->key);
    }
    for (size_t i = 0; i < s->ncache; i++) sqlite3_finalize(s->cache[i].st);
    if (s->db) sqlite3_close(s->db);
    free(s->path);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int store_meta_get(store *s, const char *key, char **value)
{
    *value = NULL;
    sqlite3_stmt *st = store_stmt(s, "SELECT value FROM meta WHERE key = ?");
    if (!st) return GP_ERROR;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), error = 0;
    if (rc == SQLITE_ROW) {
        if (!(*value = store_col_strdup(st, 0))) error = gp_error_setf(GP_ERROR, "out of memory");
    } else if (rc == SQLITE_DONE) {
        error = GP_ENOTFOUND;
    } else {
        error = store_fail(s, "reading meta");
    }
    store_done(st);
    return error;
}

int store_meta_set(store *s, const char *key, const char *value)
{
    sqlite3_stmt *st = store_stmt(s, "INSERT INTO meta (key, value) VALUES (?, ?) "
                                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    if (!st) return GP_ERROR;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    store_done(st);
    return rc == SQLITE_DONE ? 0 : store_fail(s, "writing meta");
}
