/*
 * store.h - the server's SQLite database: opening (WAL, busy timeout, synchronous=FULL),
 * numbered migrations from migrations/NNNN_name.sql tracked in schema_migrations, and a small
 * cache of prepared statements.
 *
 * One connection, guarded by one (recursive) mutex: every use of the database happens between
 * store_lock() and store_unlock(). Statements come from store_stmt() already reset and with no
 * bindings; they stay owned by the store. Values are always bound, never formatted into SQL.
 */
#ifndef GP_STORE_H
#define GP_STORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The schema version this binary was written for. */
#define STORE_SCHEMA_VERSION 3

typedef struct store store;

/* Opens (creating when absent) and migrates. GP_EINVALID with a clear message for a database
 * newer than this binary or a missing migration. */
int store_open(store **out, const char *path, const char *migrations_dir);
/* Opens an existing database without migrating (check-ledger). */
int store_open_existing(store **out, const char *path);
void store_close(store *s);

/* This thread's read-only connection to the same database (opened on first use, closed when the
 * thread ends), for queries that need no write: under WAL they read the last committed state
 * without waiting for writers. Falls back to the writer itself. Same rules: store_lock() it. */
store *store_reader(store *s);

void store_lock(store *s);
void store_unlock(store *s);
sqlite3 *store_db(store *s);

/* A cached prepared statement for sql (a string that lives as long as the program). NULL on
 * error with the message set. Caller holds the lock and calls store_done() after use. */
sqlite3_stmt *store_stmt(store *s, const char *sql);
void store_done(sqlite3_stmt *st);

int store_begin(store *s);    /* BEGIN IMMEDIATE */
int store_commit(store *s);
void store_rollback(store *s);
/* Runs a statement with no result (no bindings). */
int store_exec(store *s, const char *sql);

/* Sets the error message from the connection's last error; returns GP_ERROR. */
int store_fail(store *s, const char *what);

/* Helpers for text columns: a malloc'ed copy or NULL. */
char *store_col_strdup(sqlite3_stmt *st, int col);
/* A NUL-terminated malloc'ed copy of a column's bytes (blob or text) into *out, its length in *len
 * (may be NULL). 0, or GP_ERROR (out of memory, message set). */
int store_col_blobdup(sqlite3_stmt *st, int col, char **out, size_t *len);

int store_meta_get(store *s, const char *key, char **value);   /* GP_ENOTFOUND when absent */
int store_meta_set(store *s, const char *key, const char *value);

#endif
