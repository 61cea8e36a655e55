/*
 * cmd_submit.c - `gpuproof-cli submit [--server URL] [--json] [FILE...]`: POSTs receipts to
 * /api/receipts (../shared/spec/api.md), exactly the bytes of each file, retrying with exponential
 * backoff on network errors, 5xx and 429 (honouring Retry-After). Prints id, status and the audit
 * page URL. Exit: 0 when every receipt was accepted (201, 200, 202), 1 when the server refused one
 * on its merits (422 unsigned / bad signature, 403 policy), 2 for malformed input (400, 413, 415,
 * other 4xx), I/O or network errors.
 */
#include "cli.h"

#include "buf.h"
#include "canonical.h"
#include "error.h"
#include "ledger_client.h"
#include "receipt.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECEIPT_MAX (16u << 20)

static void usage(FILE *f)
{
    fprintf(f, "usage: gpuproof-cli submit [--server URL] [--json] [FILE...]\n\n"
               "Sends receipts (default gpu-proof.json) to a gpuproof server.\n"
               "  --server URL   the server (default: GPUPROOF_SERVER, git config gpuproof.server)\n"
               "  --json         print one JSON object per receipt\n"
               "exit status: 0 accepted, 1 refused (unsigned, bad signature, policy), 2 error\n");
}

/*
 * Verifies that the ledger holds the receipt (issue 5, ledger.md): the summary's ledger
 * {"index", "entry"} against a checkpoint whose signature was verified (cli/ledger_client.h).
 * Adds "ledger": {"verified", "message"} to out when it is not NULL.
 */
static int check_ledger(const char *server, const char *id, const json_t *ledger, bool json_out, json_t *out)
{
    const json_t *entry = json_object_get(ledger, "entry");
    long index = (long)json_integer_value(json_object_get(ledger, "index"));
    char *canon = NULL, msg[1024] = "";
    gp_json *g = NULL;
    size_t len;
    int rc;

    if (json_is_string(entry)) {
        canon = strdup(json_string_value(entry));
    } else if (!json_is_object(entry) || gp_json_from_jansson(&g, entry) < 0 ||
               gp_json_canonical(&canon, &len, g, NULL) < 0) {
        gp_json_free(g);
        cli_errorf("the server's ledger entry for %s is not a JSON object", id);
        return CLI_ERROR;
    }
    gp_json_free(g);
    if (!canon) return CLI_ERROR;
    rc = cli_ledger_check_inclusion(server, id, index, canon, msg, sizeof(msg));
    free(canon);
    if (rc == 0) {
        if (!json_out) printf("  ledger: %s\n", msg);
    } else if (rc == 1) {
        cli_errorf("LEDGER CHECK FAILED for receipt %s: %s", id, msg);
    } else {
        cli_errorf("could not check the ledger for receipt %s: %s", id, msg);
    }
    if (out) {
        json_object_set_new(out, "ledger", json_pack("{s:I, s:b, s:s}", "index", (json_int_t)index, "verified", rc == 0,
                                                     "message", msg));
        if (rc != 0) json_object_set_new(out, "ok", json_false());
    }
    return rc == 0 ? CLI_OK : rc == 1 ? CLI_NOTSO : CLI_ERROR;
}

static int exit_for_status(long status)
{
    if (status == 200 || status == 201 || status == 202) return CLI_OK;
    if (status == 422 || status == 403) return CLI_NOTSO;
    return CLI_ERROR;
}

int cli_submit_file(const char *server, const char *path, bool json_out)
{
    char *body = NULL, *url = NULL, *audit = NULL, *detail = NULL;
    size_t len = 0;
    cli_http_response res;
    json_t *j = NULL, *out = NULL;
    int rc = CLI_ERROR;

    memset(&res, 0, sizeof(res));
    if (gp_read_file(&body, &len, path, RECEIPT_MAX) < 0) {
        rc = cli_fail(json_out, "cannot read %s: %s", path, gp_error_last());
        goto done;
    }
    if (!(url = cli_url_join(server, "/api/receipts"))) goto done;
    cli_http_request req = {.method = "POST", .url = url, .body = body, .body_len = len,
                            .content_type = "application/json"};
    if (cli_http_retry(&res, &req) < 0) {
        rc = cli_fail(json_out, "cannot submit %s: %s", path, gp_error_last());
        goto done;
    }
    rc = exit_for_status(res.status);
    j = json_loadb(res.body, res.len, 0, NULL);
    if (rc == CLI_OK) {
        const char *id = json_string_value(json_object_get(j, "id"));
        gp_receipt *mine = NULL;
        /* a 2xx counts only with the summary of this very receipt (a proxy's page, a lying or
         * broken server must not make a submission look accepted) */
        if (gp_receipt_parse(&mine, body, len, 0) < 0 || !id || strcmp(id, mine->id) != 0) {
            rc = cli_fail(json_out, "%s: the server answered %ld, but not with the summary of this receipt (id %s); "
                          "check --server", path, res.status, mine ? mine->id : "unknown");
            gp_receipt_free(mine);
            goto done;
        }
        gp_receipt_free(mine);
        const char *status = json_string_value(json_object_get(j, "status"));
        const char *rel = json_string_value(json_object_get(j, "url"));
        if (rel) audit = strncmp(rel, "http", 4) ? cli_url_join(server, rel) : strdup(rel);
        if (json_out) {
            out = json_pack("{s:s, s:I, s:b, s:s?, s:s?, s:s?, s:O?}", "file", path, "http_status",
                            (json_int_t)res.status, "ok", 1, "id", id, "status", status, "url", audit, "summary", j);
        } else {
            printf("%s: %s (%s, HTTP %ld)\n", path, id ? id : "(no id)", status ? status : "?", res.status);
            if (audit) printf("  audit: %s\n", audit);
            if (status && !strcmp(status, "pending"))
                printf("  the server could not fetch the signer's keys yet; it verifies the receipt later\n");
            json_t *reasons = json_object_get(j, "reasons");
            if (json_is_false(json_object_get(j, "validates")) && json_array_size(reasons) > 0) {
                printf("  does not validate its commit:\n");
                for (size_t i = 0; i < json_array_size(reasons); i++)
                    printf("   - %s\n", json_string_value(json_array_get(reasons, i)));
            }
        }
        if (json_is_integer(json_object_get(json_object_get(j, "ledger"), "index")) && id) {
            int lr = check_ledger(server, id, json_object_get(j, "ledger"), json_out, out);
            if (lr > rc) rc = lr;
        } else if (!json_out) {
            printf("  ledger: not in the log yet (the receipt is %s)\n", status ? status : "not verified");
        }
    } else {
        detail = cli_problem_text(&res);
        if (json_out) {
            out = json_pack("{s:s, s:I, s:b, s:s?, s:O?}", "file", path, "http_status", (json_int_t)res.status, "ok",
                            0, "error", detail, "problem", j);
        }
        cli_errorf("%s: the server answered %ld: %s", path, res.status, detail ? detail : "");
    }
    if (out) cli_print_json(out);
done:
    json_decref(out);
    json_decref(j);
    cli_http_response_free(&res);
    free(detail);
    free(audit);
    free(url);
    free(body);
    return rc;
}

int cmd_submit(int argc, char **argv)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *server_flag = NULL;
    bool json_out = false;
    char *server = NULL;
    int c, rc = CLI_OK;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's': server_flag = optarg; break;
        case 'j': json_out = true; break;
        case 'h': usage(stdout); return CLI_OK;
        default: usage(stderr); return CLI_ERROR;
        }
    }
    if (!(server = cli_server(server_flag, json_out))) return CLI_ERROR;
    if (optind == argc) {
        rc = cli_submit_file(server, "gpu-proof.json", json_out);
    } else {
        for (int i = optind; i < argc; i++) {
            int r = cli_submit_file(server, argv[i], json_out);
            if (r > rc) rc = r;
        }
    }
    free(server);
    return rc;
}
