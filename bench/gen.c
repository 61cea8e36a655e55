/*
 * gen.c - the benchmark's data generator (bench/README.md). Receipts here are real: schema-v1
 * documents signed with Ed25519 keys derived from fixed seeds, whose public halves are written as
 * GitHub-style <login>.keys files, so the server verifies them exactly like any other receipt.
 *
 *   gpbench-gen keys DIR                       write DIR/<login>.keys for every bench signer
 *   gpbench-gen receipts FILE N SEED           N distinct signed receipts, one compact JSON per line
 *   gpbench-gen sha SEED I                     the commit sha of receipt I of SEED
 *   gpbench-gen db PATH N KEYSDIR MIGRATIONS   a server database holding N receipts (seed 0)
 *
 * `db` does not write rows of its own: it links the server's own modules and runs every receipt
 * through the server's intake path (gp_receipt_parse, verify_receipt with the signer's keys from
 * the keys directory through the key cache, record_verified through the group committer: receipt
 * row, ledger leaf and every completed subtree hash), from several threads, with synchronous=OFF
 * and a large page cache because nothing is acknowledged to anyone while it runs. The server
 * opens the result like any database it wrote itself.
 *
 * Shape of the data: receipt i of seed S is signed by bench<i % 16>, for repository
 * bench/r<(i / 4) % 100>, commit sha256("gpbench-commit:S:<i / 4>")[:40] (four receipts per
 * commit), two passing tests.
 */
#include "srv.h"
#include "util.h"
#include "canonical.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define NSIGNERS 16
#define PER_COMMIT 4

static unsigned char g_pk[NSIGNERS][crypto_sign_PUBLICKEYBYTES];
static unsigned char g_sk[NSIGNERS][crypto_sign_SECRETKEYBYTES];
static char g_fp[NSIGNERS][64];
static char g_keyline[NSIGNERS][256];

static void die(const char *what)
{
    fprintf(stderr, "gpbench-gen: %s: %s\n", what, gp_error_last());
    exit(1);
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void keys_init(void)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "gpbench-gen: libsodium failed to start\n");
        exit(1);
    }
    for (int k = 0; k < NSIGNERS; k++) {
        char label[64];
        unsigned char seed[32], blob[4 + 11 + 4 + 32];
        snprintf(label, sizeof(label), "gpbench-key:bench%d", k);
        gp_sha256(seed, label, strlen(label));
        crypto_sign_seed_keypair(g_pk[k], g_sk[k], seed);
        put_u32(blob, 11);
        memcpy(blob + 4, "ssh-ed25519", 11);
        put_u32(blob + 15, 32);
        memcpy(blob + 19, g_pk[k], 32);
        char *b64 = NULL;
        if (gp_base64_encode(&b64, blob, sizeof(blob)) < 0) die("base64");
        snprintf(g_keyline[k], sizeof(g_keyline[k]), "ssh-ed25519 %s bench%d@gpbench\n", b64, k);
        free(b64);
        gp_keylist *kl = NULL;
        if (gp_keylist_parse(&kl, g_keyline[k], strlen(g_keyline[k])) < 0 || kl->n != 1) die("key line");
        snprintf(g_fp[k], sizeof(g_fp[k]), "%s", kl->keys[0].fingerprint);
        gp_keylist_free(kl);
    }
}

void gen_sha(char out[41], unsigned long seed, unsigned long commit)
{
    char label[96], hex[65];
    snprintf(label, sizeof(label), "gpbench-commit:%lu:%lu", seed, commit);
    gp_sha256_hex(hex, label, strlen(label));
    memcpy(out, hex, 40);
    out[40] = '\0';
}

/* Receipt i of seed: compact JSON (malloc'ed, caller frees). */
static char *gen_receipt(unsigned long seed, unsigned long i)
{
    int k = (int)(i % NSIGNERS);
    unsigned long commit = i / PER_COMMIT;
    char sha[41], login[32], remote[96], digest[65], label[96], started[21], ended[21];
    gen_sha(sha, seed, commit);
    snprintf(login, sizeof(login), "bench%d", k);
    snprintf(remote, sizeof(remote), "git@github.com:bench/r%lu.git", commit % 100);
    snprintf(label, sizeof(label), "gpbench-tree:%lu:%lu", seed, commit);
    gp_sha256_hex(digest, label, strlen(label));
    time_t t0 = (time_t)1767225600 + (time_t)(i * 7 % 31536000);
    gp_time_format(started, t0);
    gp_time_format(ended, t0 + 42);

    json_t *doc = json_pack(
        "{s:{s:n, s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:i, s:[s,s]}, s:s,"
        " s:{s:s, s:s, s:b, s:s, s:s}, s:s, s:{s:s, s:[s,s], s:s, s:I},"
        " s:[{s:[], s:f, s:s, s:s}, {s:[], s:f, s:s, s:s}]}",
        "environment", "gpu_info", "platform", "linux", "plugin_version", "0.1.0", "pytest_version", "7.2.1",
        "python_version", "3.11.2",
        "fingerprint", "algorithm", "sha256", "digest", digest, "file_count", 3, "included_paths", "src", "tests",
        "mode", "local",
        "repo", "branch", "main", "commit_sha", sha, "dirty", 0, "github_username", login, "remote_url", remote,
        "schema_version", "1",
        "session", "ended_at", ended, "node_ids", "tests/test_kern.py::test_relu", "tests/test_kern.py::test_fp16",
        "started_at", started, "run", (json_int_t)i,
        "tests", "checks", "duration_s", 0.25, "node_id", "tests/test_kern.py::test_relu", "outcome", "passed",
        "checks", "duration_s", 0.5, "node_id", "tests/test_kern.py::test_fp16", "outcome", "passed");
    gp_json *g = NULL;
    char *canon = NULL, *sigb64 = NULL;
    size_t clen = 0;
    unsigned char sig[crypto_sign_BYTES];
    if (!doc || gp_json_from_jansson(&g, doc) < 0 || gp_json_canonical(&canon, &clen, g, NULL) < 0) die("canonical");
    crypto_sign_detached(sig, NULL, (const unsigned char *)canon, clen, g_sk[k]);
    if (gp_base64_encode(&sigb64, sig, sizeof(sig)) < 0) die("base64");
    json_object_set_new(doc, "signature",
                        json_pack("{s:s, s:s, s:s, s:s, s:s}", "algorithm", "ed25519", "backend", "ssh-local",
                                  "key_fingerprint", g_fp[k], "signer", login, "value", sigb64));
    char *text = json_dumps(doc, JSON_COMPACT);
    if (!text) die("json");
    gp_json_free(g);
    free(canon);
    free(sigb64);
    json_decref(doc);
    return text;
}

static int cmd_keys(const char *dir)
{
    mkdir(dir, 0755);
    for (int k = 0; k < NSIGNERS; k++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/bench%d.keys", dir, k);
        FILE *f = fopen(path, "w");
        if (!f || fputs(g_keyline[k], f) < 0 || fclose(f) != 0) {
            fprintf(stderr, "gpbench-gen: cannot write %s: %s\n", path, strerror(errno));
            return 1;
        }
    }
    return 0;
}

static int cmd_receipts(const char *path, unsigned long n, unsigned long seed)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "gpbench-gen: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    for (unsigned long i = 0; i < n; i++) {
        char *t = gen_receipt(seed, i);
        fputs(t, f);
        fputc('\n', f);
        free(t);
    }
    return fclose(f) == 0 ? 0 : 1;
}

/* ---- db: the server's own intake path, many threads, one group commit ------------------------ */

static srv g_srv;
static unsigned long g_total;
static atomic_ulong g_next, g_done, g_failed;

static void *loader(void *arg)
{
    (void)arg;
    for (;;) {
        unsigned long i = atomic_fetch_add(&g_next, 1);
        if (i >= g_total) break;
        char *raw = gen_receipt(0, i), fp[64], type[48];
        gp_receipt *r = NULL;
        int64_t index = -1;
        int ok = gp_receipt_parse(&r, raw, strlen(raw), GP_RECEIPT_REQUIRE_COMMIT) == 0 &&
                 verify_receipt(&g_srv, r, fp, type) == V_VERIFIED &&
                 record_verified(&g_srv, r, raw, strlen(raw), fp, type, false, &index) == 0;
        if (!ok) {
            if (atomic_fetch_add(&g_failed, 1) < 5) fprintf(stderr, "gpbench-gen: receipt %lu: %s\n", i, gp_error_last());
        }
        unsigned long d = atomic_fetch_add(&g_done, 1) + 1;
        if (d % 100000 == 0) fprintf(stderr, "gpbench-gen: %lu receipts stored\n", d);
        gp_receipt_free(r);
        free(raw);
    }
    return NULL;
}

static int cmd_db(const char *path, unsigned long n, const char *keysdir, const char *migrations)
{
    char url[4200], key[4200];
    srv *s = &g_srv;
    const char *slash = strrchr(path, '/');
    snprintf(url, sizeof(url), "file://%s/{user}.keys", keysdir);
    /* the key the server uses by default: ledger.key beside the database */
    if (slash) snprintf(key, sizeof(key), "%.*s/ledger.key", (int)(slash - path), path);
    else snprintf(key, sizeof(key), "ledger.key");
    s->cfg.keys_url = url;
    s->cfg.key_cache_ttl = 1L << 40;
    s->cfg.key_timeout_ms = 4000;
    s->cfg.migrations_dir = (char *)migrations;
    s->cfg.ledger_key = key;
    s->cfg.ledger_origin = (char *)"localhost/gpuproof";
    s->cfg.db = (char *)path;
    if (store_open(&s->db, path, migrations) < 0) die("database");
    /* Bulk load: nobody waits for an acknowledgement, so no fsync per batch. */
    if (store_exec(s->db, "PRAGMA synchronous=OFF; PRAGMA cache_size=-262144") < 0) die("pragma");
    if (policy_load(&s->pol, &s->policy_digest, NULL) < 0) die("policy");
    if (ledger_init(s) < 0) die("ledger");
    if (committer_start(s) < 0) die("committer");
    g_total = n;
    enum { NT = 16 };
    pthread_t t[NT];
    for (int i = 0; i < NT; i++) pthread_create(&t[i], NULL, loader, NULL);
    for (int i = 0; i < NT; i++) pthread_join(t[i], NULL);
    committer_stop(s);
    ledger_close(s);
    store_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)");
    store_close(s->db);
    policy_free(s->pol);
    free(s->policy_digest);
    if (atomic_load(&g_failed)) {
        fprintf(stderr, "gpbench-gen: %lu receipts failed\n", atomic_load(&g_failed));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    keys_init();
    if (argc == 3 && !strcmp(argv[1], "keys")) return cmd_keys(argv[2]);
    if (argc == 5 && !strcmp(argv[1], "receipts"))
        return cmd_receipts(argv[2], strtoul(argv[3], NULL, 10), strtoul(argv[4], NULL, 10));
    if (argc == 4 && !strcmp(argv[1], "sha")) {
        char sha[41];
        gen_sha(sha, strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10) / PER_COMMIT);
        printf("%s\n", sha);
        return 0;
    }
    if (argc == 6 && !strcmp(argv[1], "db")) return cmd_db(argv[2], strtoul(argv[3], NULL, 10), argv[4], argv[5]);
    fprintf(stderr, "usage: gpbench-gen keys DIR | receipts FILE N SEED | sha SEED I | db PATH N KEYSDIR MIGRATIONS\n");
    return 2;
}
