/*
 * cli.h - gpuproof-cli: the command table and what the commands share.
 *
 * One file per subcommand (cmd_<name>.c) exports `int cmd_<name>(int argc, char **argv)`, which
 * returns the process exit status: 0 success, 1 the thing checked is not so, 2 usage / input /
 * I/O / network error (../shared/spec/cli.md). Messages go to stderr, results to stdout.
 */
#ifndef GP_CLI_H
#define GP_CLI_H

#include <jansson.h>
#include <stdbool.h>

enum { CLI_OK = 0, CLI_NOTSO = 1, CLI_ERROR = 2 };

int cmd_run(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_gpu_info(int argc, char **argv);
int cmd_fingerprint(int argc, char **argv);
int cmd_ledger(int argc, char **argv);
int cmd_verify_attestation(int argc, char **argv);

/* Prints "gpuproof-cli: <msg>" to stderr (printf-style). */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Settings resolved in cli.md's order: flag, then environment (GPUPROOF_SERVER, GPUPROOF_KEY,
 * GPUPROOF_SIGNER), then git config (gpuproof.server, gpuproof.signer, user.signingKey) of the
 * repository at repo_dir (or the current directory), then NULL. Caller frees.
 */
char *cli_setting(const char *flag_value, const char *env, const char *git_key, const char *repo_dir);

/* Options for signing a receipt (cmd_sign.c implements cli_sign_doc). */
typedef struct cli_sign_opts {
    const char *key;      /* --key PATH, or NULL for discovery */
    const char *signer;   /* --signer LOGIN, or NULL for discovery */
    const char *format;   /* "raw" (default, the plugin's) or "sshsig" */
    const char *repo_dir; /* for git config and the origin owner; NULL = "." */
} cli_sign_opts;

/* Signs a receipt document in place (replaces its "signature" member). 0 or CLI_ERROR with a
 * message printed that says what to do. */
int cli_sign_doc(json_t *receipt, const cli_sign_opts *o);

/* Writes a receipt as pytest-gpu-proof does (indent=2, sorted keys, ensure_ascii) plus "\n",
 * atomically (temp file + rename). 0 or CLI_ERROR with a message printed. */
int cli_write_receipt(const char *path, const json_t *receipt);

/* POSTs one receipt file to server, retrying as cli.md says; prints id, status, audit URL.
 * Returns an exit status. (cmd_submit.c) */
int cli_submit_file(const char *server, const char *path, bool json_out);

/* ---- shared helpers (cli/common.c) ------------------------------------------------------ */

#include <stddef.h>

/* Reads a file of at most `limit` bytes; prints the problem and returns CLI_ERROR otherwise. */
int cli_read_file(char **out, size_t *len, const char *path, size_t limit);

/* Prints a jansson value on one line to stdout ("\n" after it). Borrowed. */
void cli_print_json(const json_t *v);

/* For --json on exit 2: prints {"ok": false, "error": msg} to stdout and msg to stderr; returns
 * CLI_ERROR. Without json_out it only prints the message (cli_errorf). */
int cli_fail(bool json_out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Splits "a,b,c" into a sorted array of distinct, non-empty, malloc'ed strings (free with
 * cli_strv_free). Returns the count, or -1 on an empty element / out of memory. */
int cli_split_paths(char ***out, const char *csv);
void cli_strv_free(char **v, size_t n);

/* The owner in the origin remote of the repository at repo_dir (NULL = "."): for a GitHub URL,
 * "alice" from git@github.com:alice/x.git. NULL when there is none. Caller frees. */
char *cli_origin_owner(const char *repo_dir);

/* Joins a server base URL and a path ("/api/x"), dropping duplicate slashes. Caller frees. */
char *cli_url_join(const char *base, const char *path);

/* An HTTP exchange with libcurl (http: and https: only, no redirects followed). */
typedef struct cli_http_response {
    long status;         /* HTTP status, 0 when no answer came */
    char *body;          /* NUL-terminated, malloc'ed (may be empty) */
    size_t len;
    char *content_type;  /* malloc'ed or NULL */
    long retry_after;    /* seconds from Retry-After (delta or HTTP date), -1 when absent */
} cli_http_response;

typedef struct cli_http_request {
    const char *method;        /* "GET" or "POST" */
    const char *url;
    const char *body;          /* POST body (bytes sent exactly), may be NULL */
    size_t body_len;
    const char *content_type;  /* POST Content-Type, default "application/json" */
    long timeout_ms;           /* whole exchange; 0 = 30000 (connect: 5000) */
    size_t max_response;       /* 0 = 8 MiB */
    int max_tries;             /* cli_http_retry: 0 = 5 */
    long max_total_ms;         /* cli_http_retry: total time spent waiting; 0 = 60000 */
    bool quiet;                /* cli_http_retry: no "retrying" notes on stderr */
} cli_http_request;

/* One exchange. 0 with *res filled (any HTTP status), or GP_EUNAVAILABLE (connection refused,
 * timeout, response over the limit: message in gp_error_last()). Free with cli_http_response_free. */
int cli_http(cli_http_response *res, const cli_http_request *req);

/* cli_http, retried with exponential backoff (0.5 s, 1 s, 2 s, ...) on network errors, 5xx and
 * 429 (honouring Retry-After, capped by max_total_ms), at most max_tries times. Returns what the
 * last try returned. */
int cli_http_retry(cli_http_response *res, const cli_http_request *req);
void cli_http_response_free(cli_http_response *res);

/* From an RFC 9457 problem body (or any body): "title: detail" / the text, for messages.
 * Caller frees. */
char *cli_problem_text(const cli_http_response *res);

/* The server to talk to: --server, GPUPROOF_SERVER, git config gpuproof.server. Prints what to do
 * and returns NULL when none is set. Caller frees. */
char *cli_server(const char *flag_value, bool json_out);

#endif
