/*
 * main.c - gpuproof-cli entry point and command table (see cli.h, ../shared/spec/cli.md).
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"run", cmd_run, "run a test command and write a signed receipt of what ran"},
    {"sign", cmd_sign, "sign (or re-sign) a receipt file in place"},
    {"verify", cmd_verify, "verify a receipt offline, as pytest-gpu-proof's verify does"},
    {"submit", cmd_submit, "send receipts to a gpuproof server"},
    {"check", cmd_check, "ask a server whether a commit is GPU-validated"},
    {"gpu-info", cmd_gpu_info, "print the GPU devices this machine has"},
    {"fingerprint", cmd_fingerprint, "print the code fingerprint of a repository"},
    {"ledger", cmd_ledger, "verify the server's ledger checkpoints (ledger verify)"},
    {"verify-attestation", cmd_verify_attestation, "verify a receipt's in-toto attestation (DSSE, ledger key)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: gpuproof-cli COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-20s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'gpuproof-cli COMMAND --help' describes a command's options.\n"
               "exit status: 0 success, 1 not so (verification failed, not validated, tests "
               "failed), 2 usage, input, I/O or network error\n");
}

void cli_errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("gpuproof-cli: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_warnf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("gpuproof-cli: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_ERROR;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("gpuproof-cli %s\n", GP_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "gpuproof-cli: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CLI_ERROR;
}
