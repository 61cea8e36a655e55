/*
 * unit_sh.h - for the unit tests (include after <cmocka.h>): sh() runs a shell command built like
 * printf and returns system()'s status. The command is never cut short.
 */
#ifndef GP_UNIT_SH_H
#define GP_UNIT_SH_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));
static int sh(const char *fmt, ...)
{
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&cmd, fmt, ap);
    va_end(ap);
    assert_true(n > 0);
    int rc = system(cmd);
    free(cmd);
    return rc;
}

#endif
