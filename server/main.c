/*
 * main.c - gpuproof-server: flags and GPUPROOF_* environment (api.md "Starting it"), startup,
 * clean shutdown on SIGTERM/SIGINT, and the `check-ledger` subcommand.
 *
 * Shutdown: stop accepting, let the requests in flight finish, stop the worker and the
 * checkpointer (signing a last checkpoint), close the database. A receipt is acknowledged only
 * after its transaction committed, so even SIGKILL loses nothing that was acknowledged.
 */
#include "srv.h"
#include "github.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef GP_SOURCE_DIR
#define GP_SOURCE_DIR "."
#endif
#ifndef GP_DATADIR
#define GP_DATADIR "/usr/local/share/gpuproof"
#endif
#ifndef GP_VERSION
#define GP_VERSION "0.0.0"
#endif

typedef enum { T_STR, T_SIZE, T_UINT, T_LONG, T_RATE } opt_type;

typedef struct opt {
    const char *name;
    opt_type type;
    size_t off;
    const char *arg, *help;
} opt;

#define O(f) offsetof(srv_config, f)
static const opt OPTS[] = {
    {"listen", T_STR, O(listen), "HOST:PORT", "address to listen on (port 0 picks a free port); default 127.0.0.1:8080"},
    {"db", T_STR, O(db), "PATH", "SQLite database; default ./var/gpuproof.db"},
    {"github-keys-url", T_STR, O(keys_url), "TEMPLATE", "where signer keys come from, {user} replaced; default https://github.com/{user}.keys"},
    {"policy", T_STR, O(policy), "FILE", "JSON policy (accepted repositories, signers, validation rules); default: accept all"},
    {"max-body", T_SIZE, O(max_body), "BYTES", "largest receipt accepted; default 1048576"},
    {"threads", T_UINT, O(threads), "N", "HTTP worker threads; default 4"},
    {"key-cache-ttl", T_LONG, O(key_cache_ttl), "SECONDS", "how long fetched signer keys are trusted; default 300"},
    {"ledger-key", T_STR, O(ledger_key), "PATH", "Ed25519 checkpoint key, made on first start (0600); default ledger.key beside the database"},
    {"ledger-origin", T_STR, O(ledger_origin), "NAME", "checkpoint origin and key name; default localhost/gpuproof"},
    {"mirrors", T_STR, O(mirrors), "DIR", "bare mirrors DIR/owner/name.git to recompute code fingerprints from"},
    {"web-dir", T_STR, O(web_dir), "DIR", "templates and static files; default the source tree's web/, else the installed one"},
    {"migrations-dir", T_STR, O(migrations_dir), "DIR", "numbered SQL migrations; default the source tree's, else the installed ones"},
    {"rate-limit", T_RATE, O(rate), "RATE[/BURST]", "requests per second per client address (0 = off); default 100/2000"},
    {"retry-min-ms", T_LONG, O(retry_min_ms), "MS", "first retry delay for pending receipts; default 1000"},
    {"retry-max-ms", T_LONG, O(retry_max_ms), "MS", "longest retry delay for pending receipts; default 60000"},
    {"conn-limit", T_UINT, O(conn_limit), "N", "simultaneous connections; default 4000"},
    {"per-ip-limit", T_UINT, O(per_ip_limit), "N", "simultaneous connections per client address; default 1000"},
    {"conn-timeout", T_UINT, O(conn_timeout), "SECONDS", "idle connection timeout; default 15"},
    {"key-timeout-ms", T_LONG, O(key_timeout_ms), "MS", "whole key fetch timeout; default 4000"},
    {"github-api-url", T_STR, O(github_api_url), "URL", "GitHub REST API (e.g. https://api.github.com): also read users' SSH signing keys, and post commit statuses with --github-token-file; default off"},
    {"github-token-file", T_STR, O(github_token_file), "FILE", "GitHub token (mode 0600) for commit statuses and API calls; never logged"},
    {"public-url", T_STR, O(public_url), "URL", "base URL of the audit pages in commit statuses and attestations; default http://LISTEN/"},
    {"trusted-proxy", T_STR, O(trusted_proxy), "ADDR[,ADDR...]", "reverse proxies (e.g. 127.0.0.1) whose X-Forwarded-For names the client, for rate limits and logs; default none"},
};
#define NOPTS (sizeof(OPTS) / sizeof(OPTS[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: gpuproof-server [OPTIONS]\n"
               "       gpuproof-server check-ledger --db PATH [--ledger-key PATH] [--ledger-origin NAME]\n\n"
               "Accepts GPU test receipts, verifies them against the signers' GitHub keys, keeps them in a\n"
               "tamper-evident ledger and answers \"was this commit GPU-validated, and by whom?\".\n\n"
               "Options (each also as GPUPROOF_<NAME>, e.g. GPUPROOF_LISTEN):\n");
    for (size_t i = 0; i < NOPTS; i++) fprintf(f, "  --%s %s\n      %s\n", OPTS[i].name, OPTS[i].arg, OPTS[i].help);
    fprintf(f, "  --help, --version\n");
}

static int set_opt(srv_config *c, const opt *o, const char *v)
{
    char *p = (char *)c + o->off, *end = NULL;
    errno = 0;
    switch (o->type) {
    case T_STR:
        free(*(char **)p);
        *(char **)p = strdup(v);
        return 0;
    case T_SIZE: {
        unsigned long long n = strtoull(v, &end, 10);
        if (errno || end == v || *end || n == 0) break;
        *(size_t *)p = (size_t)n;
        return 0;
    }
    case T_UINT: {
        unsigned long n = strtoul(v, &end, 10);
        if (errno || end == v || *end || n > 100000) break;
        *(unsigned *)p = (unsigned)n;
        return 0;
    }
    case T_LONG: {
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end || n < 0) break;
        *(long *)p = n;
        return 0;
    }
    case T_RATE: {
        double rate = strtod(v, &end), burst;
        if (end == v || rate < 0) break;
        if (*end == '/') {
            const char *b = end + 1;
            burst = strtod(b, &end);
            if (end == b || burst < 1) break;
        } else {
            burst = rate * 20 > 1 ? rate * 20 : 1;
        }
        if (*end) break;
        c->rate = rate;
        c->burst = burst;
        return 0;
    }
    }
    fprintf(stderr, "gpuproof-server: --%s %s: not a valid %s\n", o->name, v, o->arg);
    return -1;
}

static int parse_args(srv_config *c, int argc, char **argv)
{
    /* environment first, flags override */
    for (size_t i = 0; i < NOPTS; i++) {
        char env[64] = "GPUPROOF_";
        size_t l = strlen(env);
        for (const char *n = OPTS[i].name; *n && l < sizeof(env) - 1; n++)
            env[l++] = *n == '-' ? '_' : (char)(*n >= 'a' && *n <= 'z' ? *n - 32 : *n);
        env[l] = '\0';
        const char *v = getenv(env);
        if (v && *v && set_opt(c, &OPTS[i], v) < 0) return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (!strcmp(a, "--version")) {
            printf("gpuproof-server %s\n", GP_VERSION);
            exit(0);
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "gpuproof-server: unexpected argument %s (see --help)\n", a);
            return -1;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        const opt *o = NULL;
        for (size_t k = 0; k < NOPTS; k++)
            if (strlen(OPTS[k].name) == nl && !strncmp(OPTS[k].name, name, nl)) o = &OPTS[k];
        if (!o) {
            fprintf(stderr, "gpuproof-server: unknown option %s (see --help)\n", a);
            return -1;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) {
            fprintf(stderr, "gpuproof-server: --%s needs a value (%s)\n", o->name, o->arg);
            return -1;
        }
        if (set_opt(c, o, v) < 0) return -1;
    }
    return 0;
}

static bool is_dir(const char *p)
{
    struct stat st;
    return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static char *default_dir(const char *sub)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", GP_SOURCE_DIR, sub);
    if (is_dir(p)) return strdup(p);
    snprintf(p, sizeof(p), "%s/%s", GP_DATADIR, sub);
    return strdup(p);
}

static char *beside(const char *db, const char *name)
{
    char p[PATH_MAX];
    const char *slash = strrchr(db, '/');
    if (slash) snprintf(p, sizeof(p), "%.*s/%s", (int)(slash - db), db, name);
    else snprintf(p, sizeof(p), "%s", name);
    return strdup(p);
}

static void config_defaults(srv_config *c)
{
    c->max_body = 1 << 20;
    c->threads = 4;
    c->key_cache_ttl = 300;
    c->rate = 100;
    c->burst = 2000;
    c->retry_min_ms = 1000;
    c->retry_max_ms = 60000;
    c->conn_limit = 4000;
    c->per_ip_limit = 1000;
    c->conn_timeout = 15;
    c->key_timeout_ms = 4000;
}

static void config_finish(srv_config *c)
{
    if (!c->listen) c->listen = strdup("127.0.0.1:8080");
    if (!c->db) c->db = strdup("./var/gpuproof.db");
    if (!c->keys_url) c->keys_url = strdup("https://github.com/{user}.keys");
    if (!c->ledger_key) c->ledger_key = beside(c->db, "ledger.key");
    if (!c->ledger_origin) c->ledger_origin = strdup("localhost/gpuproof");
    if (!c->web_dir) c->web_dir = default_dir("web");
    if (!c->migrations_dir) c->migrations_dir = default_dir("migrations");
    if (c->retry_max_ms < c->retry_min_ms) c->retry_max_ms = c->retry_min_ms;
    if (c->retry_min_ms < 10) c->retry_min_ms = 10;
}

static void config_free(srv_config *c)
{
    free(c->listen);
    free(c->db);
    free(c->keys_url);
    free(c->policy);
    free(c->ledger_key);
    free(c->ledger_origin);
    free(c->mirrors);
    free(c->web_dir);
    free(c->migrations_dir);
    free(c->github_api_url);
    free(c->github_token_file);
    free(c->public_url);
    free(c->trusted_proxy);
}

static int fail(const char *what)
{
    fprintf(stderr, "gpuproof-server: %s: %s\n", what, gp_error_last());
    return 1;
}

static int check_ledger(int argc, char **argv)
{
    srv_config c = {0};
    config_defaults(&c);
    if (parse_args(&c, argc - 1, argv + 1) < 0) {
        config_free(&c);
        return 2;
    }
    if (!c.db) {
        fprintf(stderr, "gpuproof-server check-ledger: give --db PATH\n");
        config_free(&c);
        return 2;
    }
    config_finish(&c);
    int rc = check_ledger_main(c.db, c.ledger_key, c.ledger_origin, false);
    config_free(&c);
    return rc;
}

int main(int argc, char **argv)
{
    static srv s; /* large (metrics); zeroed */
    char bound[300];
    int rc = 1;
    bool started_http = false;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && !strcmp(argv[1], "check-ledger")) return check_ledger(argc, argv);

    config_defaults(&s.cfg);
    if (parse_args(&s.cfg, argc, argv) < 0) {
        config_free(&s.cfg);
        return 2;
    }
    config_finish(&s.cfg);
    snprintf(s.web_dir, sizeof(s.web_dir), "%s", s.cfg.web_dir);

    /* Signals are taken by sigwait() in this thread only. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    char *slash = strrchr(s.cfg.db, '/');
    if (slash && slash != s.cfg.db) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - s.cfg.db), s.cfg.db);
        if (!is_dir(dir) && mkdir(dir, 0750) < 0 && errno != EEXIST) {
            fprintf(stderr, "gpuproof-server: cannot create %s: %s\n", dir, strerror(errno));
            goto out;
        }
    }
    if (store_open(&s.db, s.cfg.db, s.cfg.migrations_dir) < 0) {
        rc = fail("database");
        goto out;
    }
    if (policy_load(&s.pol, &s.policy_digest, s.cfg.policy) < 0) {
        rc = fail("policy");
        goto out;
    }
    /* before the re-evaluation, which may change commits' states (their statuses are queued) */
    if (github_start(&s) < 0) {
        rc = fail("github");
        goto out;
    }
    {
        /* Re-evaluate stored receipts when the rules changed since they were evaluated. */
        char want[600], *have = NULL;
        snprintf(want, sizeof(want), "%s %s", s.policy_digest, s.cfg.mirrors ? s.cfg.mirrors : "-");
        store_lock(s.db);
        int e = store_meta_get(s.db, "policy", &have);
        store_unlock(s.db);
        if (e == GP_ENOTFOUND || (e == 0 && strcmp(have, want) != 0)) {
            if (e == 0) {
                int n = reevaluate_all(&s);
                fprintf(stderr, "{\"level\":\"info\",\"msg\":\"policy changed: re-evaluated %d receipts\"}\n", n);
            }
            store_lock(s.db);
            store_meta_set(s.db, "policy", want);
            store_unlock(s.db);
        }
        free(have);
    }
    if (ledger_init(&s) < 0) {
        rc = fail("ledger");
        goto out;
    }
    if (keys_start(&s) < 0) {
        rc = fail("keys");
        goto out;
    }
    if (committer_start(&s) < 0) {
        rc = fail("committer");
        goto out;
    }
    if (worker_start(&s) < 0) {
        rc = fail("worker");
        goto out;
    }
    if (http_start(&s, bound, sizeof(bound)) < 0) {
        rc = fail("listen");
        goto out;
    }
    started_http = true;
    github_set_bound(&s, bound);
    printf("gpuproof-server ledger verifier key: %s\n", s.verifier);
    printf("gpuproof-server listening on http://%s/\n", bound);
    fflush(stdout);

    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "{\"level\":\"info\",\"msg\":\"signal %d: shutting down\"}\n", sig);
    rc = 0;
out:
    if (started_http) http_stop(&s);
    worker_stop(&s);
    github_stop(&s);
    committer_stop(&s);
    keys_stop(&s);
    ledger_close(&s);
    store_close(s.db);
    policy_free(s.pol);
    free(s.policy_digest);
    config_free(&s.cfg);
    return rc;
}
