/*
 * error.h - error codes and the per-thread last-error message.
 *
 * Library functions return int: 0 on success, one of the named negatives below for an expected
 * failure, or GP_ERROR otherwise. The function that detects a failure sets a one-line message
 * with gp_error_set(); callers that pass the error up leave it alone, and whoever reports it
 * reads it with gp_error_last(). The message never holds secrets and says what to fix.
 */
#ifndef GP_ERROR_H
#define GP_ERROR_H

enum {
    GP_OK = 0,
    GP_ERROR = -1,       /* anything else: I/O, out of memory, library failure */
    GP_EINVALID = -2,    /* malformed input (bad JSON, wrong field type, bad encoding) */
    GP_ENOTFOUND = -3,   /* no such thing (user without keys, unknown id, missing file) */
    GP_EBADSIG = -4,     /* no key of the signer verifies the signature */
    GP_EUNSIGNED = -5,   /* the receipt carries no signature */
    GP_EUNAVAILABLE = -6, /* a remote source could not be reached or answered badly; retry later */
    GP_ETOOBIG = -7,     /* input over its limit */
    GP_EUNSUPPORTED = -8, /* a key type or algorithm gpuproof does not handle */
    GP_EEXISTS = -9,     /* already there (idempotent store) */
};

/* Sets this thread's last error message (printf-style); returns `code` for `return gp_error_set(...)`. */
int gp_error_setf(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* This thread's last message, "" when none was set. Borrowed; valid until the next set. */
const char *gp_error_last(void);

/* Clears this thread's last message. */
void gp_error_clear(void);

/* A short stable name for a code ("invalid", "bad-signature", ...). */
const char *gp_error_name(int code);

#endif
