/*
 * error.c - the per-thread last-error message (see error.h).
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[512];

int gp_error_setf(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
    return code;
}

const char *gp_error_last(void)
{
    return last_error;
}

void gp_error_clear(void)
{
    last_error[0] = '\0';
}

const char *gp_error_name(int code)
{
    switch (code) {
    case GP_OK: return "ok";
    case GP_EINVALID: return "invalid";
    case GP_ENOTFOUND: return "not-found";
    case GP_EBADSIG: return "bad-signature";
    case GP_EUNSIGNED: return "unsigned";
    case GP_EUNAVAILABLE: return "unavailable";
    case GP_ETOOBIG: return "too-big";
    case GP_EUNSUPPORTED: return "unsupported";
    case GP_EEXISTS: return "exists";
    default: return "error";
    }
}
