/*
 * buf.h - a growable byte buffer with a hard limit (after curl's dynbuf).
 *
 * Every buffer fed from the network or a file is a gp_buf with a limit: going over it fails with
 * GP_ETOOBIG and leaves the buffer as it was. The content is always NUL-terminated (the NUL is
 * not counted in len). gp_buf_detach() hands the memory (malloc'ed) to the caller.
 */
#ifndef GP_BUF_H
#define GP_BUF_H

#include <stddef.h>

typedef struct gp_buf {
    char *ptr;
    size_t len;
    size_t cap;
    size_t limit; /* maximum len; 0 means SIZE_MAX/2 */
} gp_buf;

#define GP_BUF_INIT(limit_) {NULL, 0, 0, (limit_)}

void gp_buf_init(gp_buf *b, size_t limit);
int gp_buf_add(gp_buf *b, const void *data, size_t len);     /* 0, GP_ETOOBIG or GP_ERROR */
int gp_buf_puts(gp_buf *b, const char *s);
int gp_buf_putc(gp_buf *b, char c);
int gp_buf_printf(gp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gp_buf_reset(gp_buf *b);                                  /* len = 0, keeps memory */
char *gp_buf_detach(gp_buf *b, size_t *len);                   /* caller frees; never NULL on success */
void gp_buf_free(gp_buf *b);

/* Reads a whole file into *out (caller frees) if it is at most `limit` bytes. */
int gp_read_file(char **out, size_t *len, const char *path, size_t limit);

#endif
