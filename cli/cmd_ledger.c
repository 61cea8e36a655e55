/*
 * cmd_ledger.c - `gpuproof-cli ledger verify`, and the inclusion check `submit` uses
 * (ledger_client.h). See ../shared/spec/ledger.md and issue 5.
 *
 * A client that remembers the last checkpoint it saw from a server can tell when the server's
 * ledger stops being append-only: each new checkpoint must carry a signature by the key pinned
 * for that server and come with a consistency proof from the remembered one (RFC 9162 §2.1.4).
 * The key is pinned with --key, or remembered from the first checkpoint seen (trust on first
 * use, said loudly). The state file is JSON, one member per server base URL:
 *   {"version": 1, "servers": {"http://host:port": {"key": VKEY, "checkpoint": NOTE,
 *    "origin": O, "size": N, "root": BASE64, "seen_at": TIME}}}
 * It is written atomically (temporary file, fsync, rename) and only after a checkpoint verified.
 */
#include "cli.h"
#include "ledger_client.h"

#include "buf.h"
#include "error.h"
#include "merkle.h"
#include "note.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KEY_MAX 1024               /* bytes of /api/ledger/key */
#define CHECKPOINT_MAX (64 * 1024) /* bytes of /api/ledger/checkpoint */
#define PROOF_MAX (64 * 1024)      /* bytes of a proof response */
#define ENTRY_MAX (64 * 1024)      /* bytes of a ledger entry */
#define STATE_MAX (4u << 20)       /* bytes of the state file */
#define INCLUSION_WAIT_TRIES 6     /* checkpoints are batched: wait ~5 s for one to cover us */

typedef struct ledger {
    char *server;     /* base URL, no trailing '/'; the key in the state file */
    char *state_path; /* owned */
    json_t *state;    /* the whole state file */
    gp_note_signer key;
    char *vkey;             /* the pinned verifier key string */
    const char *key_source; /* "--key", "state file", "first use" */
    /* The checkpoint verified last. */
    char *note;
    char *origin;
    uint64_t size;
    gp_hash root;
    /* The checkpoint remembered from before, if any. */
    bool has_prev;
    uint64_t prev_size;
    gp_hash prev_root;
    char prev_seen[32];
    bool checked_consistency;
} ledger;

/* Replaces control characters of text that came from the network before it is printed. */
static void defang(char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

static int say(char *msg, size_t msglen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int say(char *msg, size_t msglen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
    return rc;
}

static void ledger_free(ledger *l)
{
    free(l->server);
    free(l->state_path);
    json_decref(l->state);
    gp_note_signer_clear(&l->key);
    free(l->vkey);
    free(l->note);
    free(l->origin);
    memset(l, 0, sizeof(*l));
}

/* ---- HTTP -------------------------------------------------------------------------------- */

/* GETs server + path (bounded, retried on network errors and 5xx). CLI_ERROR unless 200. */
static int get(const ledger *l, const char *path, size_t limit, cli_http_response *res, char *msg,
               size_t msglen)
{
    char *url = cli_url_join(l->server, path);
    int rc = CLI_OK;
    if (!url) return say(msg, msglen, CLI_ERROR, "out of memory");
    cli_http_request req = {.method = "GET",
                            .url = url,
                            .max_response = limit,
                            .max_tries = 3,
                            .max_total_ms = 10000,
                            .timeout_ms = 15000};
    if (cli_http_retry(res, &req) < 0) {
        rc = say(msg, msglen, CLI_ERROR, "cannot reach the server: %s", gp_error_last());
    } else if (res->status != 200) {
        char *why = cli_problem_text(res);
        defang(why);
        rc = say(msg, msglen, CLI_ERROR, "%s answered %ld: %s", url, res->status, why ? why : "");
        free(why);
        cli_http_response_free(res);
    }
    free(url);
    return rc;
}

/* Parses {"<k1>": v1, "<k2>": v2, "hashes": [base64...]} and checks k1, k2 are what was asked. */
static int parse_proof(const cli_http_response *res, const char *k1, uint64_t v1, const char *k2,
                       uint64_t v2, gp_hash *proof, size_t *count, char *msg, size_t msglen)
{
    json_error_t jerr;
    json_t *doc = json_loadb(res->body, res->len, JSON_REJECT_DUPLICATES, &jerr), *hashes;
    int rc = CLI_OK;
    *count = 0;
    if (!json_is_object(doc) || !json_is_integer(json_object_get(doc, k1)) ||
        !json_is_integer(json_object_get(doc, k2)) ||
        !json_is_array(hashes = json_object_get(doc, "hashes"))) {
        rc = say(msg, msglen, CLI_ERROR,
                 "the server's proof is not {\"%s\", \"%s\", \"hashes\"} JSON", k1, k2);
        goto done;
    }
    if ((uint64_t)json_integer_value(json_object_get(doc, k1)) != v1 ||
        (uint64_t)json_integer_value(json_object_get(doc, k2)) != v2) {
        rc = say(msg, msglen, CLI_NOTSO, "the server answered a proof for other sizes than asked");
        goto done;
    }
    if (json_array_size(hashes) > GP_MERKLE_MAX_PROOF) {
        rc = say(msg, msglen, CLI_NOTSO, "the server's proof has too many hashes");
        goto done;
    }
    for (size_t i = 0; i < json_array_size(hashes); i++) {
        const char *s = json_string_value(json_array_get(hashes, i));
        unsigned char *raw = NULL;
        size_t rawlen = 0;
        if (!s || gp_base64_decode(&raw, &rawlen, s, strlen(s)) < 0 || rawlen != GP_HASH_LEN) {
            free(raw);
            rc = say(msg, msglen, CLI_ERROR,
                     "the server's proof holds a value that is not a base64 "
                     "SHA-256 hash");
            goto done;
        }
        memcpy(proof[i], raw, GP_HASH_LEN);
        free(raw);
        (*count)++;
    }
done:
    json_decref(doc);
    return rc;
}

/* ---- the state file ---------------------------------------------------------------------- */

static int default_state_path(char **out, char *msg, size_t msglen)
{
    const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    int n;
    if (x && x[0] == '/') /* the XDG spec ignores relative paths */
        n = asprintf(out, "%s/gpuproof/ledger-state.json", x);
    else if (home && home[0] == '/')
        n = asprintf(out, "%s/.local/state/gpuproof/ledger-state.json", home);
    else
        return say(
            msg, msglen, CLI_ERROR,
            "no place for the ledger state: set HOME or XDG_STATE_HOME, or pass --state FILE");
    return n < 0 ? say(msg, msglen, CLI_ERROR, "out of memory") : CLI_OK;
}

static json_t *server_entry(const ledger *l)
{
    return json_object_get(json_object_get(l->state, "servers"), l->server);
}

static int load_state(ledger *l, char *msg, size_t msglen)
{
    char *text = NULL;
    size_t len = 0;
    json_error_t jerr;
    int error = gp_read_file(&text, &len, l->state_path, STATE_MAX);
    if (error == GP_ENOTFOUND) {
        l->state = json_pack("{s:i, s:{}}", "version", 1, "servers");
        return l->state ? CLI_OK : say(msg, msglen, CLI_ERROR, "out of memory");
    }
    if (error < 0) return say(msg, msglen, CLI_ERROR, "ledger state: %s", gp_error_last());
    l->state = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!json_is_object(l->state) || !json_is_object(json_object_get(l->state, "servers")))
        return say(msg, msglen, CLI_ERROR,
                   "ledger state file %s is damaged; move it away to start over (the keys pinned "
                   "in it are then forgotten)",
                   l->state_path);

    json_t *e = server_entry(l), *root = json_object_get(e, "root");
    if (!e) return CLI_OK;
    json_int_t size = json_integer_value(json_object_get(e, "size"));
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    if (!json_is_integer(json_object_get(e, "size")) || size < 0 || !json_is_string(root) ||
        gp_base64_decode(&raw, &rawlen, json_string_value(root), json_string_length(root)) < 0 ||
        rawlen != GP_HASH_LEN) {
        free(raw);
        return say(
            msg, msglen, CLI_ERROR,
            "ledger state file %s has a damaged entry for %s; move the file away to start over",
            l->state_path, l->server);
    }
    l->has_prev = true;
    l->prev_size = (uint64_t)size;
    memcpy(l->prev_root, raw, GP_HASH_LEN);
    free(raw);
    snprintf(l->prev_seen, sizeof(l->prev_seen), "%s",
             json_string_value(json_object_get(e, "seen_at"))
                 ? json_string_value(json_object_get(e, "seen_at"))
                 : "an earlier run");
    return CLI_OK;
}

/* mkdir -p of the directory part of path, 0700 for what it creates. */
static int make_parent(const char *path)
{
    char *dir = strdup(path), *slash;
    int error = 0;
    if (!dir) return -1;
    if ((slash = strrchr(dir, '/')) && slash != dir) {
        *slash = '\0';
        for (char *p = dir + 1; !error; p++) {
            if (*p != '/' && *p != '\0') continue;
            char c = *p;
            *p = '\0';
            if (mkdir(dir, 0700) != 0 && errno != EEXIST) error = -1;
            *p = c;
            if (c == '\0') break;
        }
    }
    free(dir);
    return error;
}

static int save_state(ledger *l, char *msg, size_t msglen)
{
    char *b64 = NULL, *tmp = NULL, seen[21];
    int fd = -1, rc = CLI_OK;
    json_t *servers = json_object_get(l->state, "servers");
    if (l->size > (uint64_t)INT64_MAX) return say(msg, msglen, CLI_ERROR, "tree size out of range");
    if (gp_base64_encode(&b64, l->root, GP_HASH_LEN) < 0)
        return say(msg, msglen, CLI_ERROR, "%s", gp_error_last());
    gp_time_format(seen, time(NULL));
    json_t *e =
        json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "key", l->vkey, "checkpoint", l->note, "origin",
                  l->origin, "size", (json_int_t)l->size, "root", b64, "seen_at", seen);
    free(b64);
    if (!e || json_object_set_new(servers, l->server, e) != 0)
        return say(msg, msglen, CLI_ERROR, "out of memory");
    if (make_parent(l->state_path) != 0 || asprintf(&tmp, "%s.XXXXXX", l->state_path) < 0 ||
        (fd = mkstemp(tmp)) < 0) {
        rc = say(msg, msglen, CLI_ERROR, "cannot write the ledger state %s: %s", l->state_path,
                 strerror(errno));
        goto done;
    }
    if (fchmod(fd, 0600) != 0 || json_dumpfd(l->state, fd, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 ||
        write(fd, "\n", 1) != 1 || fsync(fd) != 0 || close(fd) != 0 ||
        (fd = -1, rename(tmp, l->state_path) != 0)) {
        rc = say(msg, msglen, CLI_ERROR, "cannot write the ledger state %s: %s", l->state_path,
                 strerror(errno));
        unlink(tmp);
    }
done:
    if (fd >= 0) close(fd);
    free(tmp);
    return rc;
}

/* ---- the checks -------------------------------------------------------------------------- */

static int resolve_key(ledger *l, const char *key_flag, char *msg, size_t msglen)
{
    const char *remembered = json_string_value(json_object_get(server_entry(l), "key"));
    cli_http_response res = {0};
    int rc;
    if (key_flag) {
        if (gp_note_verifier_parse(&l->key, key_flag) < 0)
            return say(msg, msglen, CLI_ERROR, "--key: %s", gp_error_last());
        if (remembered && strcmp(remembered, key_flag) != 0)
            cli_warnf("--key differs from the ledger key remembered for %s (%s); using --key and "
                      "remembering it from now on",
                      l->server, remembered);
        l->key_source = "--key";
        return (l->vkey = strdup(key_flag)) ? CLI_OK : say(msg, msglen, CLI_ERROR, "out of memory");
    }
    if (remembered) {
        if (gp_note_verifier_parse(&l->key, remembered) < 0)
            return say(msg, msglen, CLI_ERROR, "ledger state file %s: key for %s: %s",
                       l->state_path, l->server, gp_error_last());
        l->key_source = "state file";
        return (l->vkey = strdup(remembered)) ? CLI_OK
                                              : say(msg, msglen, CLI_ERROR, "out of memory");
    }
    if ((rc = get(l, "/api/ledger/key", KEY_MAX, &res, msg, msglen)) != CLI_OK) return rc;
    while (res.len && (res.body[res.len - 1] == '\n' || res.body[res.len - 1] == '\r'))
        res.body[--res.len] = '\0';
    if (strlen(res.body) != res.len || gp_note_verifier_parse(&l->key, res.body) < 0) {
        rc = say(msg, msglen, CLI_ERROR, "%s/api/ledger/key is not a verifier key: %s", l->server,
                 gp_error_last());
        cli_http_response_free(&res);
        return rc;
    }
    l->vkey = strdup(res.body);
    cli_http_response_free(&res);
    if (!l->vkey) return say(msg, msglen, CLI_ERROR, "out of memory");
    l->key_source = "first use";
    cli_warnf("TRUSTING THE LEDGER KEY OF %s ON FIRST USE: %s", l->server, l->vkey);
    cli_warnf("compare it with the key the server printed when it started, or pin it with --key; "
              "it is remembered in %s and every later checkpoint must carry its signature",
              l->state_path);
    return CLI_OK;
}

static int fetch_checkpoint(ledger *l, char *msg, size_t msglen)
{
    cli_http_response res = {0};
    int rc, error;
    free(l->note);
    free(l->origin);
    l->note = l->origin = NULL;
    if ((rc = get(l, "/api/ledger/checkpoint", CHECKPOINT_MAX, &res, msg, msglen)) != CLI_OK)
        return rc;
    error = gp_checkpoint_open(&l->origin, &l->size, l->root, res.body, res.len, &l->key);
    if (error < 0) {
        rc = say(msg, msglen, CLI_NOTSO,
                 "the ledger checkpoint of %s does not verify with the pinned key %s (from %s): %s",
                 l->server, l->vkey, l->key_source, gp_error_last());
        cli_http_response_free(&res);
        return rc;
    }
    l->note = res.body; /* verified, so text without control characters */
    res.body = NULL;
    cli_http_response_free(&res);
    return CLI_OK;
}

static int check_consistency(ledger *l, char *msg, size_t msglen)
{
    gp_hash proof[GP_MERKLE_MAX_PROOF];
    size_t count = 0;
    cli_http_response res = {0};
    char path[96];
    int rc;
    l->checked_consistency = false;
    if (!l->has_prev) return CLI_OK;
    if (l->prev_size > l->size)
        return say(msg, msglen, CLI_NOTSO,
                   "the ledger of %s shrank from %llu entries (seen %s) to %llu: entries were "
                   "removed or this is another log",
                   l->server, (unsigned long long)l->prev_size, l->prev_seen,
                   (unsigned long long)l->size);
    if (l->prev_size < l->size && l->prev_size > 0) {
        snprintf(path, sizeof(path), "/api/ledger/proof/consistency?first=%llu&second=%llu",
                 (unsigned long long)l->prev_size, (unsigned long long)l->size);
        if ((rc = get(l, path, PROOF_MAX, &res, msg, msglen)) != CLI_OK) return rc;
        rc =
            parse_proof(&res, "first", l->prev_size, "second", l->size, proof, &count, msg, msglen);
        cli_http_response_free(&res);
        if (rc != CLI_OK) return rc;
    }
    if (gp_merkle_verify_consistency(l->prev_size, l->size, l->prev_root, l->root, proof, count) <
        0)
        return say(msg, msglen, CLI_NOTSO,
                   "the ledger checkpoint of %s (size %llu) is NOT consistent with the checkpoint "
                   "of size %llu seen %s: the log was rewritten (%s)",
                   l->server, (unsigned long long)l->size, (unsigned long long)l->prev_size,
                   l->prev_seen, gp_error_last());
    l->checked_consistency = true;
    return CLI_OK;
}

/* Key, checkpoint, consistency with the remembered one, then remember it. */
static int sync_checkpoint(ledger *l, char *msg, size_t msglen)
{
    int rc;
    if ((rc = fetch_checkpoint(l, msg, msglen)) != CLI_OK) return rc;
    if ((rc = check_consistency(l, msg, msglen)) != CLI_OK) return rc;
    return save_state(l, msg, msglen);
}

static int ledger_open(ledger *l, const char *server, const char *state_path, const char *key_flag,
                       char *msg, size_t msglen)
{
    size_t n = strlen(server);
    int rc;
    memset(l, 0, sizeof(*l));
    if (strncmp(server, "http://", 7) != 0 && strncmp(server, "https://", 8) != 0)
        return say(msg, msglen, CLI_ERROR, "server '%s' is not an http:// or https:// URL", server);
    while (n > 0 && server[n - 1] == '/')
        n--;
    if (!(l->server = strndup(server, n))) return say(msg, msglen, CLI_ERROR, "out of memory");
    if (state_path) {
        if (!(l->state_path = strdup(state_path)))
            return say(msg, msglen, CLI_ERROR, "out of memory");
    } else if ((rc = default_state_path(&l->state_path, msg, msglen)) != CLI_OK) {
        return rc;
    }
    if ((rc = load_state(l, msg, msglen)) != CLI_OK) return rc;
    return resolve_key(l, key_flag, msg, msglen);
}

/* ---- `ledger verify` --------------------------------------------------------------------- */

static int check_inclusion(ledger *l, bool synced, const char *receipt_id, long index,
                           const char *entry_bytes, char *msg, size_t msglen);

/* --receipt ID: the summary's ledger {index, entry}, then the inclusion proof. */
static int verify_receipt(ledger *l, const char *id, long *index, char *msg, size_t msglen)
{
    cli_http_response res = {0};
    char path[128], lower[65];
    json_t *doc = NULL, *lg, *ix, *en;
    int rc;
    if (!gp_is_hex(id, 64))
        return say(msg, msglen, CLI_ERROR, "--receipt takes a receipt id: 64 hex digits");
    for (int i = 0; i < 64; i++)
        lower[i] = (char)(id[i] | 0x20);
    lower[64] = '\0';
    snprintf(path, sizeof(path), "/api/receipts/%s", lower);
    if ((rc = get(l, path, 4u << 20, &res, msg, msglen)) != CLI_OK) return rc;
    doc = json_loadb(res.body, res.len, JSON_REJECT_DUPLICATES, NULL);
    cli_http_response_free(&res);
    lg = json_object_get(doc, "ledger");
    if (!json_is_object(doc)) {
        rc = say(msg, msglen, CLI_ERROR, "the server's receipt summary is not a JSON object");
    } else if (!json_is_object(lg)) {
        const char *st = json_string_value(json_object_get(doc, "status"));
        char status[32];
        snprintf(status, sizeof(status), "%s", st ? st : "unknown");
        defang(status);
        rc = say(msg, msglen, CLI_NOTSO, "receipt %s is not in the ledger (its status is %s)",
                 lower, status);
    } else if (!json_is_integer(ix = json_object_get(lg, "index")) ||
               !json_is_string(en = json_object_get(lg, "entry")) || json_integer_value(ix) < 0 ||
               json_integer_value(ix) > (json_int_t)INT32_MAX * 1024) {
        rc = say(msg, msglen, CLI_ERROR,
                 "the receipt summary's ledger member is not {index, entry}");
    } else {
        *index = (long)json_integer_value(ix);
        rc = check_inclusion(l, true, lower, *index, json_string_value(en), msg, msglen);
    }
    json_decref(doc);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: gpuproof-cli ledger verify [--server URL] [--key VKEY] [--state FILE]\n"
        "                                  [--receipt ID] [--json]\n"
        "\n"
        "Verifies the server's latest ledger checkpoint: its signature with the pinned verifier\n"
        "key, and its consistency (RFC 9162 proof) with the last checkpoint seen from that\n"
        "server; then remembers it. Any failure is loud and exits 1.\n"
        "\n"
        "  --server URL   the gpuproof server (else GPUPROOF_SERVER, git config gpuproof.server)\n"
        "  --key VKEY     pin the server's verifier key NAME+KEYID+BASE64 (it prints it at\n"
        "                 start; GET /api/ledger/key). Without it, the key remembered for the\n"
        "                 server is used, else the server's is trusted on first use (warned).\n"
        "  --state FILE   where checkpoints and keys are remembered (default\n"
        "                 $XDG_STATE_HOME/gpuproof/ledger-state.json or\n"
        "                 ~/.local/state/gpuproof/ledger-state.json)\n"
        "  --receipt ID   also verify that this receipt is in the ledger (inclusion proof)\n"
        "  --json         print one JSON object with the result\n"
        "\n"
        "exit status: 0 verified, 1 verification failed, 2 usage or network error\n");
}

static int report_failure(bool json_out, int rc, const char *msg)
{
    if (rc == CLI_ERROR) return cli_fail(json_out, "%s", msg);
    fprintf(stderr, "gpuproof-cli: LEDGER VERIFICATION FAILED: %s\n", msg);
    if (json_out) {
        json_t *o = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
        cli_print_json(o);
        json_decref(o);
    }
    return CLI_NOTSO;
}

static int ledger_verify(int argc, char **argv)
{
    const char *server_flag = NULL, *key = NULL, *state = NULL, *receipt = NULL;
    bool json_out = false;
    long index = -1;
    char msg[2048], *server = NULL, *root_b64 = NULL, prev_b64[64] = "";
    ledger l;
    int rc;
    memset(&l, 0, sizeof(l));
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'}, {"key", required_argument, NULL, 'k'},
        {"state", required_argument, NULL, 'S'},  {"receipt", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},         {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    opterr = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's': server_flag = optarg; break;
        case 'k': key = optarg; break;
        case 'S': state = optarg; break;
        case 'r': receipt = optarg; break;
        case 'j': json_out = true; break;
        case 'h': usage(stdout); return CLI_OK;
        default: usage(stderr); return CLI_ERROR;
        }
    }
    if (optind < argc) {
        cli_errorf("ledger verify: unexpected argument '%s'", argv[optind]);
        usage(stderr);
        return CLI_ERROR;
    }
    if (!(server = cli_server(server_flag, json_out))) return CLI_ERROR;
    if ((rc = ledger_open(&l, server, state, key, msg, sizeof(msg))) != CLI_OK ||
        (rc = sync_checkpoint(&l, msg, sizeof(msg))) != CLI_OK ||
        (receipt && (rc = verify_receipt(&l, receipt, &index, msg, sizeof(msg))) != CLI_OK)) {
        rc = report_failure(json_out, rc, msg);
        goto done;
    }
    if (gp_base64_encode(&root_b64, l.root, GP_HASH_LEN) < 0) {
        rc = cli_fail(json_out, "out of memory");
        goto done;
    }
    if (l.has_prev) {
        char *p = NULL;
        if (gp_base64_encode(&p, l.prev_root, GP_HASH_LEN) == 0)
            snprintf(prev_b64, sizeof(prev_b64), "%s", p);
        free(p);
    }
    if (json_out) {
        json_t *prev = l.has_prev ? json_pack("{s:I, s:s, s:s}", "size", (json_int_t)l.prev_size,
                                              "root", prev_b64, "seen_at", l.prev_seen)
                                  : json_null();
        json_t *incl = receipt ? json_pack("{s:s, s:I, s:b}", "id", receipt, "index",
                                           (json_int_t)index, "included", 1)
                               : json_null();
        json_t *o = json_pack(
            "{s:b, s:s, s:s, s:I, s:s, s:s, s:s, s:o, s:o, s:s, s:o}", "ok", 1, "server", l.server,
            "origin", l.origin, "size", (json_int_t)l.size, "root", root_b64, "key", l.vkey,
            "key_source", l.key_source, "previous", prev, "consistent",
            l.has_prev ? json_true() : json_null(), "state", l.state_path, "receipt", incl);
        cli_print_json(o);
        json_decref(o);
    } else {
        printf("ledger checkpoint of %s verified\n", l.server);
        printf("  origin  %s\n  size    %llu\n  root    %s\n", l.origin, (unsigned long long)l.size,
               root_b64);
        printf("  key     %s (%s)\n", l.vkey,
               !strcmp(l.key_source, "first use") ? "trusted on first use"
               : !strcmp(l.key_source, "--key")   ? "pinned with --key"
                                                  : "pinned in the state file");
        if (l.has_prev)
            printf("  consistent with the checkpoint of size %llu seen %s\n",
                   (unsigned long long)l.prev_size, l.prev_seen);
        else
            printf("  first checkpoint seen from this server; remembered in %s\n", l.state_path);
        if (receipt) printf("  receipt %s: %s\n", receipt, msg);
    }
    rc = CLI_OK;
done:
    free(root_b64);
    free(server);
    ledger_free(&l);
    return rc;
}

int cmd_ledger(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "verify")) return ledger_verify(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return CLI_OK;
    }
    cli_errorf(argc < 2 ? "ledger: say what to do" : "ledger: unknown subcommand '%s'",
               argc < 2 ? "" : argv[1]);
    usage(stderr);
    return CLI_ERROR;
}

/* ---- inclusion ---------------------------------------------------------------------------- */

/*
 * With l opened (and its checkpoint verified when `synced`): checks that the canonical entry
 * `entry` (naming receipt_id) is leaf `index` of the latest checkpoint's tree.
 */
static int check_inclusion(ledger *l, bool synced, const char *receipt_id, long index,
                           const char *entry_bytes, char *msg, size_t msglen)
{
    gp_hash leaf, proof[GP_MERKLE_MAX_PROOF];
    size_t count = 0, elen = entry_bytes ? strlen(entry_bytes) : 0;
    cli_http_response res = {0};
    json_error_t jerr;
    json_t *entry = NULL;
    char path[96];
    int rc;

    if (!receipt_id || index < 0 || elen == 0 || elen > ENTRY_MAX)
        return say(msg, msglen, CLI_ERROR, "ledger check: no receipt id, index or entry");
    entry = json_loadb(entry_bytes, elen, JSON_REJECT_DUPLICATES, &jerr);
    const char *named = json_string_value(json_object_get(entry, "receipt"));
    if (!json_is_object(entry) || !named) {
        rc = say(msg, msglen, CLI_NOTSO, "the ledger entry is not a JSON object naming a receipt");
        goto done;
    }
    if (strcmp(named, receipt_id) != 0) {
        rc = say(msg, msglen, CLI_NOTSO, "the ledger entry at index %ld names another receipt",
                 index);
        goto done;
    }
    for (int tries = 1;; tries++) {
        if (!synced && (rc = sync_checkpoint(l, msg, msglen)) != CLI_OK) goto done;
        synced = false;
        if ((uint64_t)index < l->size) break;
        if (tries >= INCLUSION_WAIT_TRIES) {
            rc = say(msg, msglen, CLI_ERROR,
                     "the latest ledger checkpoint (size %llu) does not cover index %ld yet; run "
                     "'gpuproof-cli ledger verify --receipt %s' later",
                     (unsigned long long)l->size, index, receipt_id);
            goto done;
        }
        /* The checkpoint just verified is now the one to be consistent with. */
        l->has_prev = true;
        l->prev_size = l->size;
        memcpy(l->prev_root, l->root, GP_HASH_LEN);
        gp_time_format(l->prev_seen, time(NULL));
        sleep(1);
    }
    snprintf(path, sizeof(path), "/api/ledger/proof/inclusion?index=%ld&tree_size=%llu", index,
             (unsigned long long)l->size);
    if ((rc = get(l, path, PROOF_MAX, &res, msg, msglen)) != CLI_OK) goto done;
    rc = parse_proof(&res, "index", (uint64_t)index, "tree_size", l->size, proof, &count, msg,
                     msglen);
    if (rc != CLI_OK) goto done;
    gp_merkle_leaf_hash(leaf, entry_bytes, elen);
    if (gp_merkle_verify_inclusion(leaf, (uint64_t)index, l->size, proof, count, l->root) < 0) {
        rc = say(msg, msglen, CLI_NOTSO,
                 "receipt %s is NOT in the ledger at index %ld of the signed tree of size %llu: %s",
                 receipt_id, index, (unsigned long long)l->size, gp_error_last());
        goto done;
    }
    rc =
        say(msg, msglen, CLI_OK, "included at index %ld of tree size %llu, checkpoint signed by %s",
            index, (unsigned long long)l->size, l->origin);
done:
    cli_http_response_free(&res);
    json_decref(entry);
    return rc;
}

int cli_ledger_check_inclusion(const char *server, const char *receipt_id, long index,
                               const char *entry_json_canonical, char *msg, size_t msglen)
{
    ledger l;
    int rc;
    memset(&l, 0, sizeof(l));
    if (!msg || msglen == 0) return CLI_ERROR;
    msg[0] = '\0';
    if (!server) return say(msg, msglen, CLI_ERROR, "ledger check: no server");
    if ((rc = ledger_open(&l, server, NULL, NULL, msg, msglen)) == CLI_OK)
        rc = check_inclusion(&l, false, receipt_id, index, entry_json_canonical, msg, msglen);
    ledger_free(&l);
    return rc;
}

int cli_ledger_pinned_key(const char *server, const char *state_path, const char *key_flag,
                          char **vkey, const char **source, char *msg, size_t msglen)
{
    ledger l;
    int rc;
    memset(&l, 0, sizeof(l));
    if (!msg || msglen == 0) return CLI_ERROR;
    msg[0] = '\0';
    if (!server) return say(msg, msglen, CLI_ERROR, "ledger key: no server");
    rc = ledger_open(&l, server, state_path, key_flag, msg, msglen);
    /* a key trusted on first use is remembered only with a checkpoint it verified */
    if (rc == CLI_OK && !strcmp(l.key_source, "first use")) rc = sync_checkpoint(&l, msg, msglen);
    if (rc == CLI_OK) {
        *source = l.key_source;
        if (!(*vkey = strdup(l.vkey))) rc = say(msg, msglen, CLI_ERROR, "out of memory");
    }
    ledger_free(&l);
    return rc;
}
