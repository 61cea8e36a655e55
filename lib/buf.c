/*
 * buf.c - bounded growable buffers and bounded file reads (see buf.h).
 */
#include "buf.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void gp_buf_init(gp_buf *b, size_t limit)
{
    b->ptr = NULL;
    b->len = b->cap = 0;
    b->limit = limit;
}

static int grow(gp_buf *b, size_t extra)
{
    size_t limit = b->limit ? b->limit : SIZE_MAX / 2;
    if (extra > limit || b->len > limit - extra)
        return gp_error_setf(GP_ETOOBIG, "input is larger than the limit of %zu bytes", limit);
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->ptr, cap);
    if (!p) return gp_error_setf(GP_ERROR, "out of memory");
    b->ptr = p;
    b->cap = cap;
    return 0;
}

int gp_buf_add(gp_buf *b, const void *data, size_t len)
{
    int error;
    if ((error = grow(b, len)) < 0) return error;
    if (len) memcpy(b->ptr + b->len, data, len);
    b->len += len;
    b->ptr[b->len] = '\0';
    return 0;
}

int gp_buf_puts(gp_buf *b, const char *s)
{
    return gp_buf_add(b, s, strlen(s));
}

int gp_buf_putc(gp_buf *b, char c)
{
    return gp_buf_add(b, &c, 1);
}

int gp_buf_printf(gp_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) return gp_error_setf(GP_ERROR, "formatting failed");
    if ((size_t)n < sizeof(small)) return gp_buf_add(b, small, (size_t)n);
    int error;
    if ((error = grow(b, (size_t)n)) < 0) return error;
    va_start(ap, fmt);
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void gp_buf_reset(gp_buf *b)
{
    b->len = 0;
    if (b->ptr) b->ptr[0] = '\0';
}

char *gp_buf_detach(gp_buf *b, size_t *len)
{
    if (!b->ptr && grow(b, 0) < 0) return NULL;
    if (!b->ptr) return NULL;
    b->ptr[b->len] = '\0';
    char *p = b->ptr;
    if (len) *len = b->len;
    b->ptr = NULL;
    b->len = b->cap = 0;
    return p;
}

void gp_buf_free(gp_buf *b)
{
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

int gp_read_file(char **out, size_t *len, const char *path, size_t limit)
{
    gp_buf b = GP_BUF_INIT(limit);
    char chunk[65536];
    int error = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return gp_error_setf(errno == ENOENT ? GP_ENOTFOUND : GP_ERROR, "cannot open %s: %s", path,
                             strerror(errno));
    }
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            error = gp_error_setf(GP_ERROR, "cannot read %s: %s", path, strerror(errno));
            break;
        }
        if (n == 0) break;
        if ((error = gp_buf_add(&b, chunk, (size_t)n)) < 0) {
            if (error == GP_ETOOBIG)
                gp_error_setf(error, "%s is larger than the limit of %zu bytes", path, limit);
            break;
        }
    }
    close(fd);
    if (error < 0) {
        gp_buf_free(&b);
        return error;
    }
    *out = gp_buf_detach(&b, len);
    return *out ? 0 : gp_error_setf(GP_ERROR, "out of memory");
}
