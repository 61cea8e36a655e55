/*
 * http.c - the HTTP front of gpuproof-server on libmicrohttpd: listening, routing, request
 * limits (body size while reading, content type, length required, per-client rate limit,
 * connection limits and timeouts), RFC 9457 problem details, one JSON log line per request,
 * and the Prometheus metrics.
 *
 * Threads: MHD's internal thread pool (--threads); handlers run on the pool threads and reach
 * the database through store.h's lock. A POST that waits (for a key fetch, intake.c's key-fetch
 * threads; for its group commit, commit.c) is suspended, not holding its pool thread. A
 * request's memory (its context, its body buffer) belongs to the request and is freed in one
 * place, the completion callback.
 */
#include "srv.h"
#include "html.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *const ROUTE_NAMES[R_COUNT] = {
    "post_receipts", "receipt", "receipt_raw", "commit", "repos", "repo_commits", "signer",
    "ledger", "healthz", "metrics", "page", "api_other", "tiles", "latest"};

/* Latency buckets in milliseconds (Prometheus "le" values). */
static const double LAT_LE[SRV_LAT_BUCKETS] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000};

static atomic_long inflight;

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void srv_timed_wait(pthread_cond_t *cv, pthread_mutex_t *mu, const volatile sig_atomic_t *stop,
                    int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(mu);
    if (!*stop) pthread_cond_timedwait(cv, mu, &ts);
    pthread_mutex_unlock(mu);
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- the client behind a trusted proxy ---------------------------------------------------- */

/* Whether addr is one of --trusted-proxy's comma-separated addresses. */
static bool trusted(const srv *s, const char *addr)
{
    const char *list = s->cfg.trusted_proxy;
    size_t n = strlen(addr);
    while (list && *list) {
        size_t len = strcspn(list, ",");
        while (len && list[len - 1] == ' ') len--;
        if (len == n && !strncmp(list, addr, n)) return true;
        list += strcspn(list, ",");
        while (*list == ',' || *list == ' ') list++;
    }
    return false;
}

/* When the peer (client, an address text) is a trusted proxy: the rightmost address of
 * X-Forwarded-For that is not itself a trusted proxy replaces it (nginx's
 * $proxy_add_x_forwarded_for appends the address it saw; what is left of it, the client could
 * have written). Anything that is not an IPv4 or IPv6 address leaves the peer as it is. */
static void forwarded_client(const srv *s, struct MHD_Connection *c, char *client, size_t len)
{
    if (!s->cfg.trusted_proxy || !client[0] || !trusted(s, client)) return;
    const char *xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
    if (!xff || strlen(xff) > 4096) return;
    const char *end = xff + strlen(xff);
    while (end > xff) {
        const char *start = end;
        while (start > xff && start[-1] != ',') start--;
        const char *a = start, *b = end;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
        char one[INET6_ADDRSTRLEN];
        unsigned char bin[sizeof(struct in6_addr)];
        size_t n = (size_t)(b - a);
        if (n == 0 || n >= sizeof(one)) return;
        memcpy(one, a, n);
        one[n] = '\0';
        if (inet_pton(AF_INET, one, bin) != 1 && inet_pton(AF_INET6, one, bin) != 1) return;
        if (!trusted(s, one)) {
            snprintf(client, len, "%s", one);
            return;
        }
        end = start > xff ? start - 1 : xff;
    }
}

/* ---- rate limiting: a token bucket per client address ------------------------------------ */

#define RL_SLOTS 8192
struct ratelimit {
    pthread_mutex_t mu;
    struct {
        char ip[48];
        double tokens;
        int64_t last_ms;
    } slot[RL_SLOTS];
};

/* 0 when allowed, else the seconds to wait. */
static int rl_take(srv *s, const char *ip)
{
    struct ratelimit *rl = s->rl;
    if (!rl || s->cfg.rate <= 0) return 0;
    uint32_t h = gp_hash_str(ip);
    int64_t now = mono_ms();
    int wait = 0;
    pthread_mutex_lock(&rl->mu);
    __typeof__(rl->slot[0]) *e = &rl->slot[h % RL_SLOTS];
    if (strcmp(e->ip, ip) != 0) {
        snprintf(e->ip, sizeof(e->ip), "%s", ip);
        e->tokens = s->cfg.burst;
        e->last_ms = now;
    }
    e->tokens += (double)(now - e->last_ms) / 1000.0 * s->cfg.rate;
    if (e->tokens > s->cfg.burst) e->tokens = s->cfg.burst;
    e->last_ms = now;
    if (e->tokens >= 1.0) {
        e->tokens -= 1.0;
    } else {
        wait = (int)((1.0 - e->tokens) / s->cfg.rate) + 1;
    }
    pthread_mutex_unlock(&rl->mu);
    return wait;
}

/* ---- responses ------------------------------------------------------------------------------ */

void resp_text(srv_resp *r, int status, const char *ctype, const char *text, size_t len)
{
    r->status = status;
    r->ctype = ctype;
    gp_buf_reset(&r->body);
    if (gp_buf_add(&r->body, text, len) < 0) r->status = 500;
}

void resp_json(srv_resp *r, int status, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(doc);
    if (!text) {
        resp_problem(r, 500, "the answer could not be encoded");
        return;
    }
    resp_text(r, status, "application/json", text, strlen(text));
    free(text);
}

static const char *status_title(int status)
{
    const char *t = MHD_get_reason_phrase_for((unsigned)status);
    return t && *t ? t : "Error";
}

void resp_problem(srv_resp *r, int status, const char *detail)
{
    char clean[1024];
    json_t *probe = detail ? json_string(detail) : NULL;
    bool valid = probe != NULL;
    json_decref(probe);
    if (detail && !valid) {
        /* not valid UTF-8 (a message quoting input): keep it readable and valid */
        size_t i = 0;
        for (; detail[i] && i < sizeof(clean) - 1; i++)
            clean[i] = (detail[i] >= 0x20 && detail[i] < 0x7f) ? detail[i] : '?';
        clean[i] = '\0';
        detail = clean;
    }
    json_t *p = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title", status_title(status),
                          "status", status, "detail", detail ? detail : status_title(status));
    char *text = p ? json_dumps(p, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(p);
    r->status = status;
    r->ctype = "application/problem+json";
    gp_buf_reset(&r->body);
    if (text) gp_buf_puts(&r->body, text);
    free(text);
}

void resp_error(srv_resp *r, int error)
{
    const char *msg = gp_error_last();
    switch (error) {
    case GP_ENOTFOUND: resp_problem(r, 404, *msg ? msg : "not found"); break;
    case GP_EINVALID: resp_problem(r, 400, msg); break;
    case GP_EUNAVAILABLE: resp_problem(r, 503, msg); break;
    default: {
        json_t *line = json_pack("{s:s, s:s, s:s}", "level", "error", "msg", "internal error", "error", msg);
        char *text = line ? json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        if (text) fprintf(stderr, "%s\n", text);
        free(text);
        json_decref(line);
        resp_problem(r, 500, "internal error; the server log has details");
    }
    }
}

/* ---- requests -------------------------------------------------------------------------------- */

typedef struct req {
    int64_t start_us;
    srv_route route;
    int status;
    size_t bytes;
    char method[16];
    char path[512];
    char client[48];
    gp_buf body;
    bool body_expected, too_big, answered, counted;
    size_t discarded;
    intake_wait *wait;          /* a POST suspended until its group commit is durable */
    struct MHD_Connection *conn;
} req;

static void conn_suspend(void *ctx)
{
    req *q = ctx;
    MHD_suspend_connection(q->conn);
}

static void conn_resume(void *ctx)
{
    req *q = ctx;
    MHD_resume_connection(q->conn);
}

static const char CSP[] = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
                          "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

static enum MHD_Result send_resp(struct MHD_Connection *c, req *q, srv_resp *r)
{
    size_t len = 0;
    char *body = r->body.ptr ? gp_buf_detach(&r->body, &len) : NULL;
    struct MHD_Response *m = body ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE)
                                  : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!m) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(m, "Content-Type", r->ctype ? r->ctype : "application/json");
    MHD_add_response_header(m, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(m, "Content-Security-Policy", CSP);
    MHD_add_response_header(m, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(m, "X-Frame-Options", "DENY");
    if (r->location[0]) MHD_add_response_header(m, "Location", r->location);
    if (r->allow) MHD_add_response_header(m, "Allow", r->allow);
    if (r->cache) MHD_add_response_header(m, "Cache-Control", r->cache);
    else MHD_add_response_header(m, "Cache-Control", "no-store");
    if (r->retry_after > 0) {
        char ra[24];
        snprintf(ra, sizeof(ra), "%d", r->retry_after);
        MHD_add_response_header(m, "Retry-After", ra);
    }
    q->status = r->status;
    q->bytes = len;
    q->answered = true;
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, m);
    MHD_destroy_response(m);
    return ret;
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static srv_route classify(const char *url)
{
    if (!strcmp(url, "/api/receipts")) return R_POST_RECEIPTS;
    if (starts(url, "/api/receipts/")) {
        size_t l = strlen(url);
        return l > 4 && !strcmp(url + l - 4, "/raw") ? R_RECEIPT_RAW : R_RECEIPT;
    }
    if (starts(url, "/api/commits/")) return R_COMMIT;
    if (!strcmp(url, "/api/repos")) return R_REPOS;
    if (starts(url, "/api/repos/")) return R_REPO_COMMITS;
    if (starts(url, "/api/signers/")) return R_SIGNER;
    if (starts(url, "/api/ledger/")) return R_LEDGER;
    if (!strcmp(url, "/healthz")) return R_HEALTHZ;
    if (!strcmp(url, "/metrics")) return R_METRICS;
    if (!strcmp(url, "/api") || starts(url, "/api/")) return R_API_OTHER;
    if (starts(url, "/ledger/")) return R_TILES;
    return R_PAGE;
}

static bool is_json_type(const char *ct)
{
    if (!ct) return false;
    while (*ct == ' ' || *ct == '\t') ct++;
    static const char want[] = "application/json";
    if (strncasecmp(ct, want, sizeof(want) - 1) != 0) return false;
    ct += sizeof(want) - 1;
    while (*ct == ' ' || *ct == '\t') ct++;
    return *ct == '\0' || *ct == ';';
}

struct qbuild {
    gp_buf *b;
};

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct qbuild *qb = cls;
    if (qb->b->len) gp_buf_putc(qb->b, '&');
    html_url_query(qb->b, key, strlen(key));
    if (value) {
        gp_buf_putc(qb->b, '=');
        html_url_query(qb->b, value, strlen(value));
    }
    return MHD_YES;
}

static void handle_healthz(srv *s, srv_resp *r)
{
    store_lock(s->db);
    sqlite3_stmt *st = store_stmt(s->db, "SELECT count(*) FROM schema_migrations");
    int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
    store_done(st);
    store_unlock(s->db);
    if (rc == SQLITE_ROW) resp_json(r, 200, json_pack("{s:s}", "status", "ok"));
    else resp_problem(r, 503, "the database does not answer");
}

static void handle_page(srv *s, struct MHD_Connection *c, const char *url, srv_resp *r)
{
    gp_buf query = GP_BUF_INIT(8192);
    struct qbuild qb = {&query};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &qb);
    int status = 200;
    const char *ctype = "text/html; charset=utf-8";
    gp_buf_reset(&r->body);
    gp_buf_init(&r->body, 16u << 20);
    int error = pages_handle(s, url, query.ptr ? query.ptr : "", &r->body, &status, &ctype);
    gp_buf_free(&query);
    if (error == 0) {
        r->status = status;
        r->ctype = ctype;
        const char *loc = pages_location(), *cache = pages_cache_control();
        if (loc) snprintf(r->location, sizeof(r->location), "%s", loc);
        r->cache = cache ? cache : "no-cache";
        return;
    }
    if (error == GP_ENOTFOUND) {
        static const char nf[] = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                                 "<title>Not found - gpuproof</title></head><body><h1>Not found</h1>"
                                 "<p>There is no page here. <a href=\"/\">Go to the dashboard</a>.</p>"
                                 "</body></html>\n";
        resp_text(r, 404, "text/html; charset=utf-8", nf, sizeof(nf) - 1);
        return;
    }
    resp_error(r, error);
}

static void dispatch_get(srv *s, req *q, struct MHD_Connection *c, const char *url, srv_resp *r)
{
    switch (q->route) {
    case R_HEALTHZ: handle_healthz(s, r); break;
    case R_METRICS:
        gp_buf_init(&r->body, 0);
        metrics_render(s, &r->body);
        r->status = 200;
        r->ctype = "text/plain; version=0.0.4; charset=utf-8";
        break;
    case R_PAGE: handle_page(s, c, url, r); break;
    case R_LEDGER:
        ledger_route(s, url, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "index"),
                     MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "tree_size"),
                     MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "first"),
                     MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "second"), r);
        break;
    case R_TILES: ledger_tiles(s, url, r); break;
    case R_API_OTHER: resp_problem(r, 404, "no such API endpoint; see schema/openapi.json"); break;
    default: api_route(s, q->route, url, c, r);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    srv *s = cls;
    req *q = *con_cls;
    srv_resp r = {0};

    if (!q) {
        if (!(q = calloc(1, sizeof(*q)))) return MHD_NO;
        *con_cls = q;
        atomic_fetch_add(&inflight, 1);
        q->counted = true;
        q->start_us = mono_us();
        snprintf(q->method, sizeof(q->method), "%s", method);
        snprintf(q->path, sizeof(q->path), "%s", url);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr) {
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, q->client, sizeof(q->client));
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, q->client, sizeof(q->client));
        }
        forwarded_client(s, c, q->client, sizeof(q->client));
        q->route = classify(url);
        bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
        bool post = !strcmp(method, "POST");

        if (q->route != R_HEALTHZ && q->route != R_METRICS) {
            int wait = rl_take(s, q->client);
            if (wait > 0) {
                resp_problem(&r, 429, "too many requests from this address; retry after the given seconds");
                r.retry_after = wait;
                return send_resp(c, q, &r);
            }
        }
        if (q->route == R_POST_RECEIPTS && get) {
            q->route = R_LATEST; /* GET /api/receipts: the latest receipts */
        } else if (q->route == R_POST_RECEIPTS) {
            if (!post) {
                resp_problem(&r, 405, "submit receipts with POST /api/receipts, list them with GET");
                r.allow = "GET, HEAD, POST";
                return send_resp(c, q, &r);
            }
            if (!is_json_type(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"))) {
                resp_problem(&r, 415, "send the receipt with Content-Type: application/json");
                return send_resp(c, q, &r);
            }
            const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
            const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
            if (cl) {
                char *end = NULL;
                errno = 0;
                unsigned long long n = strtoull(cl, &end, 10);
                if (errno || end == cl || n > s->cfg.max_body) {
                    char msg[160];
                    snprintf(msg, sizeof(msg), "the body is over the limit of %zu bytes", s->cfg.max_body);
                    resp_problem(&r, 413, msg);
                    return send_resp(c, q, &r);
                }
            } else if (!te || !strcasestr(te, "chunked")) {
                resp_problem(&r, 411, "send a Content-Length header or a chunked body");
                return send_resp(c, q, &r);
            }
            q->body_expected = true;
            gp_buf_init(&q->body, s->cfg.max_body);
            return MHD_YES;
        }
        if (!get) {
            resp_problem(&r, 405, "this resource can only be read (GET or HEAD)");
            r.allow = "GET, HEAD";
            return send_resp(c, q, &r);
        }
        /* Answered on the next call, once MHD has read the whole request: a response queued
         * on the first call makes libmicrohttpd close the connection after it (no keep-alive). */
        return MHD_YES;
    }

    if (*upload_data_size) {
        if (q->answered || q->too_big || !q->body_expected) {
            q->discarded += *upload_data_size;
            *upload_data_size = 0;
            return q->discarded > 4 * s->cfg.max_body + 65536 ? MHD_NO : MHD_YES;
        }
        if (gp_buf_add(&q->body, upload_data, *upload_data_size) < 0) {
            q->too_big = true;
            gp_buf_free(&q->body);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (q->answered) return MHD_YES;
    if (!q->body_expected) {
        dispatch_get(s, q, c, url, &r);
        enum MHD_Result ret = send_resp(c, q, &r);
        gp_buf_free(&r.body);
        return ret;
    }
    if (q->too_big) {
        char msg[160];
        snprintf(msg, sizeof(msg), "the body is over the limit of %zu bytes", s->cfg.max_body);
        resp_problem(&r, 413, msg);
        return send_resp(c, q, &r);
    }
    gp_buf_init(&r.body, 0);
    if (q->wait) {
        /* resumed: the group commit holding this receipt is over */
        intake_finish(s, q->wait, &r);
        q->wait = NULL;
    } else {
        q->conn = c;
        intake_post_async(s, q->body.ptr ? q->body.ptr : "", q->body.len, &r, conn_suspend, conn_resume, q,
                          &q->wait);
        if (q->wait) {
            gp_buf_free(&r.body);
            return MHD_YES; /* suspended; answered when resumed */
        }
    }
    enum MHD_Result ret = send_resp(c, q, &r);
    gp_buf_free(&r.body);
    return ret;
}

static void log_request(srv *s, req *q)
{
    double ms = (double)(mono_us() - q->start_us) / 1000.0;
    int st = q->answered ? q->status : 499;
    if (st >= 100 && st < 600) atomic_fetch_add(&s->metrics.req[q->route][st], 1);
    int b = 0;
    while (b < SRV_LAT_BUCKETS && ms > LAT_LE[b]) b++;
    atomic_fetch_add(&s->metrics.lat_bucket[b], 1);
    atomic_fetch_add(&s->metrics.lat_count, 1);
    atomic_fetch_add(&s->metrics.lat_sum_us, (unsigned long long)(ms * 1000.0));

    char ts[21];
    gp_time_format(ts, time(NULL));
    json_t *line = json_pack("{s:s, s:s, s:s, s:i, s:f, s:I, s:s, s:s}", "time", ts, "method", q->method,
                             "path", q->path, "status", st, "duration_ms", ms, "bytes", (json_int_t)q->bytes,
                             "client", q->client, "route", ROUTE_NAMES[q->route]);
    char *text = line ? json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(6)) : NULL;
    if (text) fprintf(stderr, "%s\n", text);
    free(text);
    json_decref(line);
}

/* libmicrohttpd's unescaping of the path and of query values, except that "%00" stays as it is:
 * decoded, a NUL would cut the name the handlers see ("/static/app.js%00.css" would serve app.js).
 * Kept literal, such a name matches nothing and a value holding it fails validation. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    char *out = s;
    for (const char *in = s; *in;) {
        unsigned char b = 0;
        if (in[0] == '%' && in[1] && in[2] && gp_unhex(&b, 1, in + 1, 2) == 0 && b != 0) {
            *out++ = (char)b;
            in += 3;
        } else {
            *out++ = *in++;
        }
    }
    *out = '\0';
    return (size_t)(out - s);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    srv *s = cls;
    req *q = *con_cls;
    if (!q) return;
    log_request(s, q);
    gp_buf_free(&q->body);
    if (q->counted) atomic_fetch_sub(&inflight, 1);
    free(q);
    *con_cls = NULL;
}

/* ---- metrics ---------------------------------------------------------------------------------- */

void metrics_render(srv *s, gp_buf *out)
{
    gp_buf_puts(out, "# HELP gpuproof_http_requests_total HTTP requests by route and status.\n"
                     "# TYPE gpuproof_http_requests_total counter\n");
    for (int rt = 0; rt < R_COUNT; rt++)
        for (int st = 100; st < 600; st++) {
            unsigned long n = atomic_load(&s->metrics.req[rt][st]);
            if (n)
                gp_buf_printf(out, "gpuproof_http_requests_total{route=\"%s\",status=\"%d\"} %lu\n",
                              ROUTE_NAMES[rt], st, n);
        }
    gp_buf_puts(out, "# HELP gpuproof_http_request_duration_seconds Request latency.\n"
                     "# TYPE gpuproof_http_request_duration_seconds histogram\n");
    unsigned long cum = 0;
    for (int b = 0; b < SRV_LAT_BUCKETS; b++) {
        cum += atomic_load(&s->metrics.lat_bucket[b]);
        gp_buf_printf(out, "gpuproof_http_request_duration_seconds_bucket{le=\"%g\"} %lu\n", LAT_LE[b] / 1000.0, cum);
    }
    cum += atomic_load(&s->metrics.lat_bucket[SRV_LAT_BUCKETS]);
    gp_buf_printf(out, "gpuproof_http_request_duration_seconds_bucket{le=\"+Inf\"} %lu\n", cum);
    gp_buf_printf(out, "gpuproof_http_request_duration_seconds_sum %.6f\n",
                  (double)atomic_load(&s->metrics.lat_sum_us) / 1e6);
    gp_buf_printf(out, "gpuproof_http_request_duration_seconds_count %lu\n", atomic_load(&s->metrics.lat_count));

    static const char *const kf[] = {"ok", "notfound", "unavailable", "cached"};
    gp_buf_puts(out, "# HELP gpuproof_key_fetches_total Signer key lookups by result.\n"
                     "# TYPE gpuproof_key_fetches_total counter\n");
    for (int i = 0; i < 4; i++)
        gp_buf_printf(out, "gpuproof_key_fetches_total{result=\"%s\"} %lu\n", kf[i],
                      atomic_load(&s->metrics.key_fetch[i]));

    long long by[3] = {0, 0, 0}, ledger = 0;
    store_lock(s->db);
    sqlite3_stmt *st = store_stmt(s->db, "SELECT status, count(*) FROM receipts GROUP BY status");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int i = !strcmp(name, "verified") ? 0 : !strcmp(name, "pending") ? 1 : 2;
        by[i] = sqlite3_column_int64(st, 1);
    }
    store_done(st);
    st = store_stmt(s->db, "SELECT count(*) FROM ledger_leaves");
    if (st && sqlite3_step(st) == SQLITE_ROW) ledger = sqlite3_column_int64(st, 0);
    store_done(st);
    store_unlock(s->db);
    gp_buf_printf(out, "# HELP gpuproof_receipts Stored receipts by status.\n# TYPE gpuproof_receipts gauge\n"
                       "gpuproof_receipts{status=\"verified\"} %lld\ngpuproof_receipts{status=\"pending\"} %lld\n"
                       "gpuproof_receipts{status=\"rejected\"} %lld\n", by[0], by[1], by[2]);
    gp_buf_printf(out, "# HELP gpuproof_ledger_size Leaves in the receipt ledger.\n# TYPE gpuproof_ledger_size gauge\n"
                       "gpuproof_ledger_size %lld\n", ledger);
    gp_buf_printf(out, "# HELP gpuproof_commit_batches_total Group-commit transactions.\n"
                       "# TYPE gpuproof_commit_batches_total counter\ngpuproof_commit_batches_total %lu\n"
                       "# HELP gpuproof_commit_jobs_total Writes committed by group commit.\n"
                       "# TYPE gpuproof_commit_jobs_total counter\ngpuproof_commit_jobs_total %lu\n",
                  atomic_load(&s->commit_batches), atomic_load(&s->commit_jobs));
    gp_buf_printf(out, "# HELP gpuproof_http_inflight Requests being handled.\n# TYPE gpuproof_http_inflight gauge\n"
                       "gpuproof_http_inflight %ld\n", atomic_load(&inflight));
}

/* ---- start / stop -------------------------------------------------------------------------------- */

static int listen_socket(const char *hostport, char *bound, size_t boundlen, int *family)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || !colon[1])
        return gp_error_setf(GP_EINVALID, "--listen %s: give HOST:PORT, e.g. 127.0.0.1:8080", hostport);
    size_t hl = (size_t)(colon - hostport);
    if (hl >= sizeof(host)) return gp_error_setf(GP_EINVALID, "--listen: host too long");
    memcpy(host, hostport, hl);
    host[hl] = '\0';
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc) return gp_error_setf(GP_EINVALID, "--listen %s: %s", hostport, gai_strerror(rc));
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        int e = gp_error_setf(GP_ERROR, "cannot listen on %s: %s", hostport, strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(ai);
        return e;
    }
    *family = ai->ai_family;
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    char addr[64] = "";
    int port = 0;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
        port = ntohs(in->sin_port);
        snprintf(bound, boundlen, "%s:%d", addr, port);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
        port = ntohs(in6->sin6_port);
        snprintf(bound, boundlen, "[%s]:%d", addr, port);
    }
    return fd;
}

int http_start(srv *s, char *bound, size_t boundlen)
{
    int family = AF_INET;
    int fd = listen_socket(s->cfg.listen, bound, boundlen, &family);
    if (fd < 0) return fd;
    if (!(s->rl = calloc(1, sizeof(*s->rl)))) {
        close(fd);
        return gp_error_setf(GP_ERROR, "out of memory");
    }
    pthread_mutex_init(&s->rl->mu, NULL);
    int error = intake_start(s); /* the key-fetch threads: they resume connections */
    if (error < 0) {
        close(fd);
        pthread_mutex_destroy(&s->rl->mu);
        free(s->rl);
        s->rl = NULL;
        return error;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
    if (family == AF_INET6) flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s,
        MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(s->cfg.threads ? s->cfg.threads : 1),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->cfg.conn_timeout,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg.conn_limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)s->cfg.per_ip_limit,
        /* libmicrohttpd zeroes the whole per-connection pool between keep-alive requests: 16 KiB
         * holds any request line and headers this API takes (bodies stream into our buffer) */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
        MHD_OPTION_END);
    if (!s->daemon) {
        close(fd);
        intake_free(s);
        return gp_error_setf(GP_ERROR, "libmicrohttpd could not start on %s", s->cfg.listen);
    }
    return 0;
}

void http_stop(srv *s)
{
    if (!s->daemon) return;
    /* Stop accepting, let the requests in flight finish (bounded), then close. */
    MHD_socket lfd = MHD_quiesce_daemon(s->daemon);
    /* receipts waiting for a key fetch: the fetches running finish, the queued ones are answered
     * from the cache or stored pending; each resumes its connection before the daemon stops */
    intake_stop(s);
    for (int i = 0; i < 200 && atomic_load(&inflight) > 0; i++) usleep(50 * 1000);
    MHD_stop_daemon(s->daemon);
    if (lfd != MHD_INVALID_SOCKET) close(lfd);
    s->daemon = NULL;
    intake_free(s);
    if (s->rl) {
        pthread_mutex_destroy(&s->rl->mu);
        free(s->rl);
        s->rl = NULL;
    }
}
