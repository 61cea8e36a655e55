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

#endif
