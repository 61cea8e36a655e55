/*
 * loadgen.c - a small closed-loop HTTP/1.1 load generator for the intake benchmark: C
 * concurrent keep-alive connections to a loopback address, each POSTing the next receipt from a
 * file of one JSON document per line (every receipt sent once), until the file or the time
 * limit runs out. One thread, epoll, non-blocking sockets; responses must carry Content-Length
 * (libmicrohttpd's buffered responses do).
 *
 *   gpbench-load HOST PORT PATH FILE CONNECTIONS SECONDS
 *
 * Prints one JSON object: requests, seconds, rate, status counts, p50/p99 latency in ms.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXC 1024
#define RBUF 65536

typedef struct conn {
    int fd;
    char *req;          /* the request being sent (malloc'ed) */
    size_t reqlen, sent;
    char rbuf[RBUF];
    size_t rlen;
    double t0;
    int busy;
} conn;

static char **lines;
static size_t *lens;
static size_t nlines, next_line;
static struct sockaddr_in addr;
static const char *host, *path;
static int epfd;
static long status_count[600];
static double *lat;
static size_t nlat;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void load(const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        perror(file);
        exit(1);
    }
    size_t cap = 1024;
    lines = malloc(cap * sizeof(*lines));
    lens = malloc(cap * sizeof(*lens));
    char *l = NULL;
    size_t n = 0;
    ssize_t got;
    while ((got = getline(&l, &n, f)) > 0) {
        while (got > 0 && (l[got - 1] == '\n' || l[got - 1] == '\r')) got--;
        if (!got) continue;
        if (nlines == cap) {
            cap *= 2;
            lines = realloc(lines, cap * sizeof(*lines));
            lens = realloc(lens, cap * sizeof(*lens));
        }
        lines[nlines] = malloc((size_t)got);
        memcpy(lines[nlines], l, (size_t)got);
        lens[nlines++] = (size_t)got;
    }
    free(l);
    fclose(f);
}

static int connect_one(conn *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno != EINPROGRESS) return -1;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

/* Starts the next request on c; 0 when there is none left. */
static int start(conn *c)
{
    if (next_line >= nlines) return 0;
    size_t i = next_line++;
    char head[512];
    int hl = snprintf(head, sizeof(head),
                      "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n", path, host, lens[i]);
    free(c->req);
    c->req = malloc((size_t)hl + lens[i]);
    memcpy(c->req, head, (size_t)hl);
    memcpy(c->req + hl, lines[i], lens[i]);
    c->reqlen = (size_t)hl + lens[i];
    c->sent = 0;
    c->rlen = 0;
    c->t0 = now();
    c->busy = 1;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    return 1;
}

/* A complete response in rbuf? Returns its total length, 0 when more is needed, -1 on garbage. */
static long complete(conn *c, int *status, int *close_after)
{
    c->rbuf[c->rlen < RBUF ? c->rlen : RBUF - 1] = '\0';
    char *end = strstr(c->rbuf, "\r\n\r\n");
    if (!end) return c->rlen >= RBUF - 1 ? -1 : 0;
    if (sscanf(c->rbuf, "HTTP/1.%*d %d", status) != 1) return -1;
    long clen = 0;
    *close_after = 0;
    for (char *p = c->rbuf; p < end; p++) {
        if (*p != '\n') continue;
        if (!strncasecmp(p + 1, "content-length:", 15)) clen = strtol(p + 16, NULL, 10);
        if (!strncasecmp(p + 1, "connection:", 11) && strstr(p + 12, "close") && strstr(p + 12, "close") < end)
            *close_after = 1;
    }
    long total = (long)(end + 4 - c->rbuf) + clen;
    if (total >= RBUF) return -1;
    return (long)c->rlen >= total ? total : 0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: gpbench-load HOST PORT PATH FILE CONNECTIONS SECONDS\n");
        return 2;
    }
    host = argv[1];
    path = argv[3];
    load(argv[4]);
    int nc = atoi(argv[5]);
    double limit = atof(argv[6]);
    if (nc < 1 || nc > MAXC) nc = 64;
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(argv[2]));
    inet_pton(AF_INET, host, &addr.sin_addr);
    lat = malloc((nlines + 1) * sizeof(*lat));
    epfd = epoll_create1(0);
    conn *cs = calloc((size_t)nc, sizeof(*cs));
    double t_start = now();
    int active = 0;
    long errors = 0;
    for (int i = 0; i < nc; i++) {
        if (connect_one(&cs[i]) < 0) {
            perror("connect");
            return 1;
        }
        if (start(&cs[i])) active++;
    }
    struct epoll_event evs[256];
    while (active > 0) {
        int n = epoll_wait(epfd, evs, 256, 1000);
        double t = now();
        int stop = t - t_start > limit;
        for (int k = 0; k < n; k++) {
            conn *c = evs[k].data.ptr;
            if (!c->busy) continue;
            if ((evs[k].events & EPOLLOUT) && c->sent < c->reqlen) {
                ssize_t w = send(c->fd, c->req + c->sent, c->reqlen - c->sent, MSG_NOSIGNAL);
                if (w > 0) c->sent += (size_t)w;
                if (c->sent == c->reqlen) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ssize_t r = recv(c->fd, c->rbuf + c->rlen, RBUF - 1 - c->rlen, 0);
                if (r <= 0 && !(r < 0 && errno == EAGAIN)) {
                    errors++;
                    close(c->fd);
                    c->busy = 0;
                    active--;
                    if (!stop && connect_one(c) == 0) {
                        next_line--; /* resend the lost one */
                        if (start(c)) active++;
                    }
                    continue;
                }
                if (r > 0) c->rlen += (size_t)r;
                int status = 0, close_after = 0;
                long tot = complete(c, &status, &close_after);
                if (tot < 0) {
                    errors++;
                    close(c->fd);
                    c->busy = 0;
                    active--;
                    continue;
                }
                if (tot == 0) continue;
                if (status >= 100 && status < 600) status_count[status]++;
                lat[nlat++] = (t - c->t0) * 1000.0;
                c->busy = 0;
                active--;
                if (close_after) {
                    close(c->fd);
                    if (stop || connect_one(c) < 0) continue;
                }
                if (!stop && start(c)) active++;
            }
        }
    }
    double elapsed = now() - t_start;
    /* sort latencies (insertion into a histogram would do; qsort is fine here) */
    qsort(lat, nlat, sizeof(*lat), cmp);
    double p50 = nlat ? lat[nlat / 2] : 0, p99 = nlat ? lat[(size_t)((double)nlat * 0.99)] : 0;
    printf("{\"requests\": %zu, \"seconds\": %.3f, \"rate\": %.1f, \"errors\": %ld, \"p50_ms\": %.3f, "
           "\"p99_ms\": %.3f, \"status\": {", nlat, elapsed, (double)nlat / elapsed, errors, p50, p99);
    int first = 1;
    for (int s = 0; s < 600; s++)
        if (status_count[s]) {
            printf("%s\"%d\": %ld", first ? "" : ", ", s, status_count[s]);
            first = 0;
        }
    printf("}}\n");
    return 0;
}
