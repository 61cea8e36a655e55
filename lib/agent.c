/*
 * agent.c - ssh-agent client (see agent.h; draft-miller-ssh-agent, OpenSSH PROTOCOL.agent).
 *
 * A message on the socket is uint32 length, byte type, contents. We send:
 *   SSH2_AGENTC_REQUEST_IDENTITIES (11)        -> SSH2_AGENT_IDENTITIES_ANSWER (12):
 *                                                uint32 n, n x (string key blob, string comment)
 *   SSH2_AGENTC_SIGN_REQUEST (13): string key blob, string data, uint32 flags
 *                                              -> SSH2_AGENT_SIGN_RESPONSE (14): string signature
 * and accept SSH_AGENT_FAILURE (5) / SSH2_AGENT_FAILURE (30) / SSH_COM_AGENT2_FAILURE (102) as a
 * refusal. Replies longer than GP_AGENT_MAX_REPLY are refused without reading them; the socket has
 * send and receive timeouts so that a silent agent makes the call fail instead of hang.
 */
#include "agent.h"
#include "buf.h"
#include "error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define AGENT_FAILURE 5
#define AGENTC_REQUEST_IDENTITIES 11
#define AGENT_IDENTITIES_ANSWER 12
#define AGENTC_SIGN_REQUEST 13
#define AGENT_SIGN_RESPONSE 14
#define AGENT2_FAILURE 30
#define COM_AGENT2_FAILURE 102
#define MAX_IDENTITIES 2048

struct gp_agent {
    int fd;
};

int gp_agent_open(gp_agent **out, const char *socket_path, int timeout_ms)
{
    struct sockaddr_un sun;
    struct timeval tv;
    gp_agent *a = NULL;
    int fd = -1;

    *out = NULL;
    if (!socket_path) socket_path = getenv("SSH_AUTH_SOCK");
    if (!socket_path || !*socket_path)
        return gp_error_setf(GP_ENOTFOUND, "no ssh-agent: SSH_AUTH_SOCK is not set");
    if (strlen(socket_path) >= sizeof(sun.sun_path))
        return gp_error_setf(GP_EINVALID, "ssh-agent socket path is too long");
    if (timeout_ms <= 0) timeout_ms = 10000;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, socket_path, strlen(socket_path) + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return gp_error_setf(GP_ERROR, "socket: %s", strerror(errno));
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
        close(fd);
        return gp_error_setf(GP_ERROR, "setsockopt: %s", strerror(errno));
    }
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int e = errno;
        close(fd);
        if (e == ENOENT || e == ECONNREFUSED)
            return gp_error_setf(GP_ENOTFOUND, "no ssh-agent listens on %s (SSH_AUTH_SOCK): %s", socket_path,
                                 strerror(e));
        return gp_error_setf(GP_EUNAVAILABLE, "cannot connect to ssh-agent at %s: %s", socket_path, strerror(e));
    }
    if (!(a = calloc(1, sizeof(*a)))) {
        close(fd);
        return gp_error_setf(GP_ERROR, "out of memory");
    }
    a->fd = fd;
    *out = a;
    return 0;
}

void gp_agent_close(gp_agent *a)
{
    if (!a) return;
    if (a->fd >= 0) close(a->fd);
    free(a);
}

static int io_all(int fd, unsigned char *p, size_t n, bool writing)
{
    while (n > 0) {
        ssize_t r = writing ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return gp_error_setf(GP_EUNAVAILABLE, "ssh-agent did not answer in time");
        if (r < 0) return gp_error_setf(GP_EUNAVAILABLE, "ssh-agent connection: %s", strerror(errno));
        if (r == 0) return gp_error_setf(GP_EUNAVAILABLE, "ssh-agent closed the connection");
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static int buf_u32(gp_buf *b, uint32_t v)
{
    unsigned char p[4];
    put_u32(p, v);
    return gp_buf_add(b, p, 4);
}

static int buf_string(gp_buf *b, const unsigned char *s, size_t n)
{
    int error;
    if (n > UINT32_MAX) return gp_error_setf(GP_ETOOBIG, "string too long for the agent protocol");
    if ((error = buf_u32(b, (uint32_t)n)) < 0) return error;
    return gp_buf_add(b, s, n);
}

/* Sends one message (body starts with the type byte) and reads the reply into *reply (malloc'ed). */
static int transact(gp_agent *a, const gp_buf *msg, unsigned char **reply, size_t *reply_len)
{
    unsigned char hdr[4];
    uint32_t n;
    unsigned char *r = NULL;
    int error;

    put_u32(hdr, (uint32_t)msg->len);
    if ((error = io_all(a->fd, hdr, 4, true)) < 0) return error;
    if ((error = io_all(a->fd, (unsigned char *)msg->ptr, msg->len, true)) < 0) return error;
    if ((error = io_all(a->fd, hdr, 4, false)) < 0) return error;
    n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (n == 0 || n > GP_AGENT_MAX_REPLY)
        return gp_error_setf(GP_EUNAVAILABLE, "ssh-agent sent a reply of %u bytes (limit %d)", n,
                             GP_AGENT_MAX_REPLY);
    if (!(r = malloc(n))) return gp_error_setf(GP_ERROR, "out of memory");
    if ((error = io_all(a->fd, r, n, false)) < 0) {
        free(r);
        return error;
    }
    *reply = r;
    *reply_len = n;
    return 0;
}

static bool is_failure(unsigned char t)
{
    return t == AGENT_FAILURE || t == AGENT2_FAILURE || t == COM_AGENT2_FAILURE;
}

int gp_agent_list(gp_keylist **out, char ***comments, gp_agent *a)
{
    gp_buf msg = GP_BUF_INIT(16);
    unsigned char *reply = NULL;
    size_t reply_len = 0;
    gp_keylist *l = NULL;
    char **cm = NULL;
    gp_sshbuf sb;
    unsigned char t;
    uint32_t n;
    int error;

    *out = NULL;
    if (comments) *comments = NULL;
    if ((error = gp_buf_putc(&msg, AGENTC_REQUEST_IDENTITIES)) < 0) goto done;
    if ((error = transact(a, &msg, &reply, &reply_len)) < 0) goto done;
    sb.p = reply;
    sb.len = reply_len;
    if (gp_ssh_get_u8(&sb, &t) < 0 || t != AGENT_IDENTITIES_ANSWER || gp_ssh_get_u32(&sb, &n) < 0 ||
        n > MAX_IDENTITIES) {
        error = gp_error_setf(GP_EUNAVAILABLE, "ssh-agent answered the identities request with garbage");
        goto done;
    }
    if (!(l = calloc(1, sizeof(*l))) || (n && !(l->keys = calloc(n, sizeof(*l->keys)))) ||
        (comments && !(cm = calloc(n + 1, sizeof(*cm))))) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < n; i++) {
        const unsigned char *blob, *comment;
        size_t blob_len, comment_len;
        gp_pubkey k;
        if (gp_ssh_get_string(&sb, &blob, &blob_len) < 0 || gp_ssh_get_string(&sb, &comment, &comment_len) < 0) {
            error = gp_error_setf(GP_EUNAVAILABLE, "ssh-agent sent a truncated identities answer");
            goto done;
        }
        if (gp_pubkey_from_blob(&k, blob, blob_len) < 0) continue; /* certificates, unknown types */
        if (cm && !(cm[l->n] = strndup((const char *)comment, comment_len))) {
            gp_pubkey_clear(&k);
            error = gp_error_setf(GP_ERROR, "out of memory");
            goto done;
        }
        l->keys[l->n++] = k;
    }
    gp_error_clear();
    *out = l;
    l = NULL;
    if (comments) {
        *comments = cm;
        cm = NULL;
    }
done:
    if (cm) {
        for (size_t i = 0; cm[i]; i++) free(cm[i]);
        free(cm);
    }
    gp_keylist_free(l);
    free(reply);
    gp_buf_free(&msg);
    return error;
}

int gp_agent_sign(unsigned char **sig, size_t *siglen, gp_agent *a, const gp_pubkey *key,
                  const unsigned char *data, size_t datalen, uint32_t flags)
{
    gp_buf msg = GP_BUF_INIT(0);
    unsigned char *reply = NULL, *s = NULL;
    size_t reply_len = 0;
    const unsigned char *blob;
    size_t blob_len;
    gp_sshbuf sb;
    unsigned char t;
    int error;

    *sig = NULL;
    *siglen = 0;
    if (datalen > GP_AGENT_MAX_REPLY) {
        /* OpenSSH's agent refuses messages over 256 KiB; receipts are far smaller */
        return gp_error_setf(GP_ETOOBIG, "data to sign is larger than ssh-agent accepts (%d bytes)",
                             GP_AGENT_MAX_REPLY);
    }
    if ((error = gp_buf_putc(&msg, AGENTC_SIGN_REQUEST)) < 0 || (error = buf_string(&msg, key->blob, key->blob_len)) < 0 ||
        (error = buf_string(&msg, data, datalen)) < 0 || (error = buf_u32(&msg, flags)) < 0)
        goto done;
    if ((error = transact(a, &msg, &reply, &reply_len)) < 0) goto done;
    sb.p = reply;
    sb.len = reply_len;
    if (gp_ssh_get_u8(&sb, &t) < 0) {
        error = gp_error_setf(GP_EUNAVAILABLE, "ssh-agent sent an empty answer");
        goto done;
    }
    if (is_failure(t)) {
        error = gp_error_setf(GP_ENOTFOUND,
                              "ssh-agent refused to sign with %s (it does not hold that key, or the "
                              "confirmation was declined)",
                              key->fingerprint);
        goto done;
    }
    if (t != AGENT_SIGN_RESPONSE || gp_ssh_get_string(&sb, &blob, &blob_len) < 0 || sb.len != 0) {
        error = gp_error_setf(GP_EUNAVAILABLE, "ssh-agent answered the sign request with garbage");
        goto done;
    }
    if (!(s = malloc(blob_len ? blob_len : 1))) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    memcpy(s, blob, blob_len);
    *sig = s;
    *siglen = blob_len;
done:
    free(reply);
    gp_buf_free(&msg);
    return error;
}
