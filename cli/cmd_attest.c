/*
 * cmd_attest.c - `gpuproof-cli verify-attestation`: checks the in-toto attestation a gpuproof
 * server issues for a verified receipt (GET /api/receipts/{id}/attestation): a DSSE envelope
 * (lib/dsse.h) whose signature must verify with the server's ledger key over
 * PAE(payloadType, payload), holding an in-toto Statement v1 with the test-result predicate.
 *
 * The key is pinned as `ledger verify` pins it (ledger_client.h): --key, else the key remembered
 * for the server, else trusted on first use (warned). With --envelope FILE the envelope is read
 * from a file (e.g. saved by CI) instead of fetched; --key, or a --server whose key is
 * remembered, is then still needed. The envelope's keyid, when present, must be that key.
 */
#include "cli.h"
#include "ledger_client.h"

#include "dsse.h"
#include "error.h"
#include "note.h"
#include "util.h"

#include <jansson.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ENVELOPE_MAX (4u << 20)
#define STATEMENT_TYPE "https://in-toto.io/Statement/v1"
#define PREDICATE_TYPE "https://in-toto.io/attestation/test-result/v0.1"

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: gpuproof-cli verify-attestation [--server URL] (--receipt-id ID | --envelope "
        "FILE)\n"
        "                                       [--key VKEY] [--state FILE] [--require-passed]\n"
        "                                       [--json]\n"
        "\n"
        "Verifies the in-toto attestation (DSSE envelope) the server signs with its ledger key "
        "for\n"
        "a verified receipt, and prints the test result it states.\n"
        "\n"
        "  --server URL       the gpuproof server (else GPUPROOF_SERVER, git config "
        "gpuproof.server)\n"
        "  --receipt-id ID    fetch GET /api/receipts/ID/attestation; the statement must name ID\n"
        "  --envelope FILE    verify a saved envelope instead of fetching one\n"
        "  --key VKEY         the ledger verifier key NAME+KEYID+BASE64 (else pinned as\n"
        "                     'gpuproof-cli ledger verify' pins it)\n"
        "  --state FILE       the ledger state file where keys are remembered\n"
        "  --require-passed   exit 1 unless the result is PASSED\n"
        "  --json             print one JSON object: ok, result, subject, predicate, key\n"
        "\n"
        "exit status: 0 the signature verifies (and, with --require-passed, PASSED), 1 it does\n"
        "not or the statement is not a gpuproof test result, 2 usage, input or network error\n");
}

/* Checks the statement's shape; returns the predicate (borrowed) or NULL with why set. */
static json_t *check_statement(json_t *st, const char *receipt_id, char *why, size_t whylen)
{
    json_t *subject = json_object_get(st, "subject"), *pred = json_object_get(st, "predicate");
    const char *type = json_string_value(json_object_get(st, "_type"));
    const char *ptype = json_string_value(json_object_get(st, "predicateType"));
    json_t *s0 = json_array_get(subject, 0);
    const char *commit =
        json_string_value(json_object_get(json_object_get(s0, "digest"), "gitCommit"));
    const char *result = json_string_value(json_object_get(pred, "result"));
    if (!type || strcmp(type, STATEMENT_TYPE) != 0) {
        snprintf(why, whylen, "the payload is not an in-toto Statement v1");
        return NULL;
    }
    if (!ptype || strcmp(ptype, PREDICATE_TYPE) != 0 || !json_is_object(pred)) {
        snprintf(why, whylen, "the statement's predicate is not an in-toto test result v0.1");
        return NULL;
    }
    if (json_array_size(subject) < 1 || !commit ||
        (!gp_is_hex(commit, 40) && !gp_is_hex(commit, 64))) {
        snprintf(why, whylen, "the statement's subject names no git commit");
        return NULL;
    }
    if (!result ||
        (strcmp(result, "PASSED") && strcmp(result, "WARNED") && strcmp(result, "FAILED"))) {
        snprintf(why, whylen, "the predicate's result is not PASSED, WARNED or FAILED");
        return NULL;
    }
    if (receipt_id) {
        json_t *conf = json_array_get(json_object_get(pred, "configuration"), 0);
        const char *named =
            json_string_value(json_object_get(json_object_get(conf, "annotations"), "receipt_id"));
        if (!named || strcasecmp(named, receipt_id) != 0) {
            snprintf(why, whylen, "the attestation is about another receipt (%.64s)",
                     named ? named : "none named");
            return NULL;
        }
    }
    return pred;
}

int cmd_verify_attestation(int argc, char **argv)
{
    const char *server_flag = NULL, *receipt = NULL, *file = NULL, *key = NULL, *state = NULL;
    bool json_out = false, require_passed = false;
    char *server = NULL, *vkey = NULL, *env = NULL, *type = NULL, *url = NULL, msg[2048], why[300];
    const char *source = "--key";
    unsigned char *payload = NULL;
    size_t env_len = 0, plen = 0;
    gp_note_signer v;
    json_t *st = NULL;
    cli_http_response res = {0};
    int rc = CLI_ERROR, error;
    memset(&v, 0, sizeof(v));

    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'},     {"receipt-id", required_argument, NULL, 'r'},
        {"envelope", required_argument, NULL, 'e'},   {"key", required_argument, NULL, 'k'},
        {"state", required_argument, NULL, 'S'},      {"json", no_argument, NULL, 'j'},
        {"require-passed", no_argument, NULL, 'p'},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    opterr = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 's': server_flag = optarg; break;
        case 'r': receipt = optarg; break;
        case 'e': file = optarg; break;
        case 'k': key = optarg; break;
        case 'S': state = optarg; break;
        case 'j': json_out = true; break;
        case 'p': require_passed = true; break;
        case 'h': usage(stdout); return CLI_OK;
        default: usage(stderr); return CLI_ERROR;
        }
    }
    if (optind < argc) {
        cli_errorf("verify-attestation: unexpected argument '%s'", argv[optind]);
        usage(stderr);
        return CLI_ERROR;
    }
    if (!receipt == !file) {
        cli_errorf("verify-attestation: give --receipt-id ID or --envelope FILE");
        return CLI_ERROR;
    }
    if (receipt && !gp_is_hex(receipt, 64)) {
        cli_errorf("verify-attestation: a receipt id is 64 hex digits");
        return CLI_ERROR;
    }
    /* the server is needed to fetch, or to find the pinned key */
    if (!(file && key) && !(server = cli_server(server_flag, json_out))) return CLI_ERROR;
    if (key) {
        if (!(vkey = strdup(key))) goto oom;
    } else if ((rc = cli_ledger_pinned_key(server, state, NULL, &vkey, &source, msg,
                                           sizeof(msg))) != CLI_OK) {
        rc = cli_fail(json_out, "%s", msg);
        goto done;
    }
    if (gp_note_verifier_parse(&v, vkey) < 0) {
        rc = cli_fail(json_out, "the ledger key %s: %s", vkey, gp_error_last());
        goto done;
    }
    if (file) {
        if ((rc = cli_read_file(&env, &env_len, file, ENVELOPE_MAX)) != CLI_OK) goto done;
    } else {
        char path[128];
        snprintf(path, sizeof(path), "/api/receipts/%s/attestation", receipt);
        if (!(url = cli_url_join(server, path))) goto oom;
        cli_http_request req = {.method = "GET",
                                .url = url,
                                .max_response = ENVELOPE_MAX,
                                .max_tries = 3,
                                .max_total_ms = 10000,
                                .timeout_ms = 15000};
        if (cli_http_retry(&res, &req) < 0) {
            rc = cli_fail(json_out, "cannot reach the server: %s", gp_error_last());
            goto done;
        }
        if (res.status != 200) {
            char *text = cli_problem_text(&res);
            rc = cli_fail(json_out, "%s answered %ld: %s", url, res.status, text ? text : "");
            free(text);
            goto done;
        }
        env = res.body;
        env_len = res.len;
        res.body = NULL;
    }
    error = gp_dsse_verify(&payload, &plen, &type, env, env_len, v.pk, vkey);
    if (error == GP_EBADSIG || error == GP_EINVALID) {
        snprintf(why, sizeof(why), "%s", gp_error_last());
        rc = CLI_NOTSO;
        goto notso;
    }
    if (error < 0) {
        rc = cli_fail(json_out, "%s", gp_error_last());
        goto done;
    }
    json_error_t jerr;
    if (strcmp(type, GP_DSSE_INTOTO_TYPE) != 0 ||
        !(st = json_loadb((const char *)payload, plen, JSON_REJECT_DUPLICATES, &jerr))) {
        snprintf(why, sizeof(why), "the envelope does not carry an in-toto statement");
        rc = CLI_NOTSO;
        goto notso;
    }
    json_t *pred = check_statement(st, receipt, why, sizeof(why));
    if (!pred) {
        rc = CLI_NOTSO;
        goto notso;
    }
    const char *result = json_string_value(json_object_get(pred, "result"));
    const char *subject = json_string_value(
        json_object_get(json_array_get(json_object_get(st, "subject"), 0), "name"));
    size_t np = json_array_size(json_object_get(pred, "passedTests"));
    size_t nw = json_array_size(json_object_get(pred, "warnedTests"));
    size_t nf = json_array_size(json_object_get(pred, "failedTests"));
    rc = require_passed && strcmp(result, "PASSED") != 0 ? CLI_NOTSO : CLI_OK;
    if (json_out) {
        json_t *o = json_pack("{s:b, s:s, s:s, s:O, s:s, s:s}", "ok", rc == CLI_OK, "result",
                              result, "subject", subject ? subject : "", "predicate", pred, "key",
                              vkey, "key_source", source);
        cli_print_json(o);
        json_decref(o);
    } else {
        printf("attestation verified: signed by the ledger key %s (%s)\n", v.name,
               !strcmp(source, "first use") ? "trusted on first use"
               : !strcmp(source, "--key")   ? "pinned with --key"
                                            : "pinned in the state file");
        printf("  subject %s\n  result  %s (%zu passed, %zu warned, %zu failed)\n",
               subject ? subject : "?", result, np, nw, nf);
        const char *u = json_string_value(json_object_get(pred, "url"));
        if (u) printf("  audit   %s\n", u);
    }
    goto done;
notso:
    for (char *c = why; *c; c++) /* parts of it came from the network */
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    fprintf(stderr, "gpuproof-cli: ATTESTATION NOT VERIFIED: %s\n", why);
    if (json_out) {
        json_t *o = json_pack("{s:b, s:s}", "ok", 0, "error", why);
        cli_print_json(o);
        json_decref(o);
    }
    goto done;
oom:
    rc = cli_fail(json_out, "out of memory");
done:
    cli_http_response_free(&res);
    gp_note_signer_clear(&v);
    json_decref(st);
    free(payload);
    free(type);
    free(env);
    free(url);
    free(vkey);
    free(server);
    return rc;
}
