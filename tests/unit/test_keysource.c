/*
 * test_keysource.c - fetching keys (lib/keysource.c) from a loopback HTTP server and file: URLs.
 *
 * The server runs in a thread on 127.0.0.1 (port 0) and answers by login:
 *   ok, redirect (-> ok), nokeys (empty), blank (only newlines), unknowntype (a key line of a
 *   type gpuproof does not use), missing (404), bigmissing (a 404 page over the limit), gone (410),
 * down (500), busy (503), limited (429), garbage (an HTML page), huge (Content-Length over the
 * limit), stream (no Content-Length, endless key lines), slow (headers, then a byte every 50 ms),
 * stall (never answers), loop (redirects to itself), tofile (redirects to file:///etc/passwd).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "error.h"
#include "keysource.h"
#include "sshkey.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char KEY_ED[] =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJaWVciQ/Lf7x9jDS66Ag426IaY04cXEFoQ4JRWfQK2f\n";
/* "ssh-dss" blob holding three bytes: well-formed, of a type gpuproof does not use */
static const char KEY_DSS[] = "ssh-dss AAAAB3NzaC1kc3MAAAADAQID\n";

typedef struct {
    int fd;
    int port;
    atomic_int stop;
    pthread_t thread;
} server;

static server srv;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

static void respond(int fd, int status, const char *extra_headers, const char *body)
{
    char head[512];
    snprintf(head, sizeof(head),
             "HTTP/1.1 %d X\r\nConnection: close\r\nContent-Length: %zu\r\n%s\r\n", status,
             strlen(body), extra_headers ? extra_headers : "");
    if (send_all(fd, head, strlen(head))) send_all(fd, body, strlen(body));
}

/* Sleeps up to ms, returning early when the server stops. */
static void nap(int ms)
{
    for (int i = 0; i < ms / 10 && !atomic_load(&srv.stop); i++)
        usleep(10000);
}

static void serve(int fd)
{
    char req[8192];
    size_t n = 0;
    while (n < sizeof(req) - 1) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 2000) <= 0) return;
        ssize_t r = recv(fd, req + n, sizeof(req) - 1 - n, 0);
        if (r <= 0) return;
        n += (size_t)r;
        req[n] = '\0';
        if (strstr(req, "\r\n\r\n")) break;
    }
    char user[64] = "";
    if (sscanf(req, "GET /%63[^. ].keys", user) != 1) {
        respond(fd, 400, NULL, "");
        return;
    }
    if (!strcmp(user, "ok"))
        respond(fd, 200, NULL, KEY_ED);
    else if (!strcmp(user, "redirect"))
        respond(fd, 302, "Location: /ok.keys\r\n", "");
    else if (!strcmp(user, "nokeys"))
        respond(fd, 200, NULL, "");
    else if (!strcmp(user, "blank"))
        respond(fd, 200, NULL, "\n\r\n\n");
    else if (!strcmp(user, "unknowntype"))
        respond(fd, 200, NULL, KEY_DSS);
    else if (!strcmp(user, "missing"))
        respond(fd, 404, NULL, "Not Found");
    else if (!strcmp(user, "bigmissing")) {
        const char *head =
            "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 200000\r\n\r\n";
        char page[1000];
        memset(page, 'x', sizeof(page));
        if (!send_all(fd, head, strlen(head))) return;
        for (int i = 0; i < 200 && !atomic_load(&srv.stop); i++)
            if (!send_all(fd, page, sizeof(page))) return;
    } else if (!strcmp(user, "gone"))
        respond(fd, 410, NULL, "Gone");
    else if (!strcmp(user, "down"))
        respond(fd, 500, NULL, KEY_ED);
    else if (!strcmp(user, "busy"))
        respond(fd, 503, NULL, "");
    else if (!strcmp(user, "limited"))
        respond(fd, 429, "Retry-After: 60\r\n", "");
    else if (!strcmp(user, "garbage"))
        respond(fd, 200, NULL, "<html><body>Sign in to the Wi-Fi</body></html>\n");
    else if (!strcmp(user, "loop"))
        respond(fd, 302, "Location: /loop.keys\r\n", "");
    else if (!strcmp(user, "tofile"))
        respond(fd, 302, "Location: file:///etc/passwd\r\n", "");
    else if (!strcmp(user, "huge")) {
        const char *head =
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 10000000\r\n\r\n";
        if (!send_all(fd, head, strlen(head))) return;
        for (int i = 0; i < 100000 && !atomic_load(&srv.stop); i++)
            if (!send_all(fd, KEY_ED, sizeof(KEY_ED) - 1)) return;
    } else if (!strcmp(user, "stream")) {
        const char *head = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
        if (!send_all(fd, head, strlen(head))) return;
        for (int i = 0; i < 100000 && !atomic_load(&srv.stop); i++)
            if (!send_all(fd, KEY_ED, sizeof(KEY_ED) - 1)) return;
    } else if (!strcmp(user, "slow")) {
        const char *head = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 100\r\n\r\n";
        if (!send_all(fd, head, strlen(head))) return;
        for (int i = 0; i < 100 && !atomic_load(&srv.stop); i++) {
            if (!send_all(fd, "s", 1)) return;
            nap(50);
        }
    } else if (!strcmp(user, "stall")) {
        nap(5000);
    } else
        respond(fd, 404, NULL, "");
}

static void *server_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&srv.stop)) {
        struct pollfd p = {srv.fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        int c = accept(srv.fd, NULL, NULL);
        if (c < 0) continue;
        serve(c);
        close(c);
    }
    return NULL;
}

static int server_start(void **state)
{
    (void)state;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof(a);
    srv.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (srv.fd < 0 || bind(srv.fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(srv.fd, 16) < 0 || getsockname(srv.fd, (struct sockaddr *)&a, &alen) < 0)
        return -1;
    srv.port = ntohs(a.sin_port);
    atomic_store(&srv.stop, 0);
    return pthread_create(&srv.thread, NULL, server_main, NULL) == 0 ? 0 : -1;
}

static int server_stop(void **state)
{
    (void)state;
    atomic_store(&srv.stop, 1);
    pthread_join(srv.thread, NULL);
    close(srv.fd);
    return 0;
}

/* ---- URL templates ---------------------------------------------------------------------- */

static void test_urls(void **state)
{
    (void)state;
    char *url = NULL;
    assert_int_equal(gp_keys_url(&url, NULL, "alice"), 0);
    assert_string_equal(url, "https://github.com/alice.keys");
    free(url);
    assert_int_equal(gp_keys_url(&url, "http://127.0.0.1:9/u/{user}/keys?x=1", "a-b"), 0);
    assert_string_equal(url, "http://127.0.0.1:9/u/a-b/keys?x=1");
    free(url);
    assert_int_equal(gp_keys_url(&url, "file:///srv/keys/{user}.keys", "Bob99"), 0);
    assert_string_equal(url, "file:///srv/keys/Bob99.keys");
    free(url);

    static const struct {
        const char *tpl, *login;
    } bad[] = {
        {NULL, "../../etc/passwd"},
        {NULL, "a/b"},
        {NULL, "-alice"},
        {NULL, "alice-"},
        {NULL, "a--b"},
        {NULL, ""},
        {NULL, NULL},
        {NULL, "al ice"},
        {NULL, "alice%2f"},
        {NULL, "a-a-a-a-a-a-a-a-a-a-a-a-a-a-a-a-a-a-a-a-"},
        {"https://github.com/alice.keys", "alice"}, /* no {user} */
        {"https://x/{user}/{user}.keys", "alice"},  /* twice */
        {"ftp://x/{user}.keys", "alice"},
        {"gopher://x/{user}.keys", "alice"},
        {"/etc/{user}.keys", "alice"},
        {"{user}.keys", "alice"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        url = NULL;
        if (gp_keys_url(&url, bad[i].tpl, bad[i].login) != GP_EINVALID)
            fail_msg("bad case %zu accepted", i);
        assert_null(url);
        assert_true(gp_error_last()[0] != '\0');
    }
}

/* ---- HTTP ------------------------------------------------------------------------------- */

static int fetch(const char *login, char **body, size_t *len, long timeout_ms)
{
    char tpl[128];
    snprintf(tpl, sizeof(tpl), "http://127.0.0.1:%d/{user}.keys", srv.port);
    gp_keysource src = {tpl, 1000, timeout_ms, 64 * 1024};
    *body = NULL;
    return gp_keys_fetch(body, len, &src, login);
}

static void test_http(void **state)
{
    (void)state;
    static const struct {
        const char *login;
        int expect;
    } cases[] = {
        {"ok", 0},
        {"redirect", 0},
        {"unknowntype", 0},
        {"nokeys", GP_ENOTFOUND},
        {"blank", GP_ENOTFOUND},
        {"missing", GP_ENOTFOUND},
        {"bigmissing", GP_ENOTFOUND}, /* a 404 page larger than the body limit */
        {"gone", GP_ENOTFOUND},
        {"down", GP_EUNAVAILABLE},
        {"busy", GP_EUNAVAILABLE},
        {"limited", GP_EUNAVAILABLE},
        {"garbage", GP_EUNAVAILABLE},
        {"huge", GP_EUNAVAILABLE},
        {"stream", GP_EUNAVAILABLE},
        {"loop", GP_EUNAVAILABLE},
        {"tofile", GP_EUNAVAILABLE},
        {"Invalid--login", GP_EINVALID},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *body;
        size_t len = 0;
        int rc = fetch(cases[i].login, &body, &len, 3000);
        if (rc != cases[i].expect)
            fail_msg("%s: expected %d, got %d (%s)", cases[i].login, cases[i].expect, rc,
                     gp_error_last());
        if (rc == 0) {
            assert_non_null(body);
            assert_int_equal(len, strlen(body));
            gp_keylist *l = NULL;
            assert_int_equal(gp_keylist_parse(&l, body, len), 0);
            assert_int_equal(l->n, strcmp(cases[i].login, "unknowntype") ? 1 : 0);
            gp_keylist_free(l);
        } else {
            assert_null(body);
            assert_true(gp_error_last()[0] != '\0');
        }
        free(body);
    }
    /* the unreadable file behind the redirect never came back */
    char *body;
    size_t len;
    assert_int_equal(fetch("tofile", &body, &len, 3000), GP_EUNAVAILABLE);
    assert_null(strstr(gp_error_last(), "root:"));
}

static void test_timeouts(void **state)
{
    (void)state;
    char *body;
    size_t len;
    static const char *slow[] = {"slow", "stall"};
    for (size_t i = 0; i < 2; i++) {
        double t0 = now_s();
        assert_int_equal(fetch(slow[i], &body, &len, 500), GP_EUNAVAILABLE);
        double took = now_s() - t0;
        if (took < 0.4 || took > 2.0)
            fail_msg("%s: cut off after %.2f s, expected about 0.5 s", slow[i], took);
        assert_null(body);
    }

    /* connection refused: a port nobody listens on */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    char tpl[128];
    snprintf(tpl, sizeof(tpl), "http://127.0.0.1:%d/{user}.keys", ntohs(a.sin_port));
    close(fd);
    gp_keysource src = {tpl, 500, 1000, 0};
    body = NULL;
    assert_int_equal(gp_keys_fetch(&body, &len, &src, "ok"), GP_EUNAVAILABLE);
    assert_null(body);
}

/* ---- file: ------------------------------------------------------------------------------ */

static void write_file(const char *dir, const char *name, const char *text, size_t repeat)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < repeat; i++)
        fputs(text, f);
    fclose(f);
}

static void test_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/gp-keysource-XXXXXX";
    assert_non_null(mkdtemp(dir));
    write_file(dir, "alice.keys", KEY_ED, 1);
    write_file(dir, "empty.keys", "", 1);
    write_file(dir, "junk.keys", "this is not a key\n", 1);
    write_file(dir, "big.keys", KEY_ED, 5000);
    static const struct {
        const char *login;
        int expect;
    } cases[] = {
        {"alice", 0},
        {"empty", GP_ENOTFOUND},
        {"nobody", GP_ENOTFOUND},
        {"junk", GP_EUNAVAILABLE},
        {"big", GP_EUNAVAILABLE},
    };
    char tpl[4200];
    snprintf(tpl, sizeof(tpl), "file://%s/{user}.keys", dir);
    gp_keysource src = {tpl, 0, 0, 64 * 1024};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *body = NULL;
        size_t len = 0;
        int rc = gp_keys_fetch(&body, &len, &src, cases[i].login);
        if (rc != cases[i].expect)
            fail_msg("file %s: expected %d, got %d (%s)", cases[i].login, cases[i].expect, rc,
                     gp_error_last());
        if (rc == 0) assert_string_equal(body, KEY_ED);
        free(body);
    }
    static const char *names[] = {"alice.keys", "empty.keys", "junk.keys", "big.keys"};
    for (size_t i = 0; i < 4; i++) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_http),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_file),
    };
    return cmocka_run_group_tests(tests, server_start, server_stop);
}
