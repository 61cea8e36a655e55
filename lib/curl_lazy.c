/*
 * curl_lazy.c - libcurl entry points resolved with dlopen on first use (see curl_lazy.h).
 *
 * curl_easy_setopt() and curl_easy_getinfo() are variadic; their argument's type follows from
 * the option number exactly as libcurl itself reads it (curl.h: CURLOPTTYPE_LONG, OBJECTPOINT,
 * FUNCTIONPOINT, OFF_T, BLOB ranges; every getinfo argument is a pointer).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

/* The real entry points, never the macros of curl_lazy.h. */
#include <curl/curl.h>

static struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    time_t (*getdate)(const char *, const time_t *);
} fn;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;
static char load_error[256];

static void load(void)
{
    void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(load_error, sizeof(load_error), "cannot load libcurl (install libcurl4): %s", dlerror());
        return;
    }
    struct {
        const char *name;
        void **slot;
    } syms[] = {
        {"curl_global_init", (void **)&fn.global_init},
        {"curl_easy_init", (void **)&fn.easy_init},
        {"curl_easy_setopt", (void **)&fn.easy_setopt},
        {"curl_easy_perform", (void **)&fn.easy_perform},
        {"curl_easy_getinfo", (void **)&fn.easy_getinfo},
        {"curl_easy_cleanup", (void **)&fn.easy_cleanup},
        {"curl_easy_strerror", (void **)&fn.easy_strerror},
        {"curl_slist_append", (void **)&fn.slist_append},
        {"curl_slist_free_all", (void **)&fn.slist_free_all},
        {"curl_getdate", (void **)&fn.getdate},
    };
    for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
        if (!(*syms[i].slot = dlsym(h, syms[i].name))) {
            snprintf(load_error, sizeof(load_error), "libcurl.so.4 lacks %s", syms[i].name);
            return; /* the handle stays open: nothing of it is used */
        }
    }
    /* once per process, here, before any handle: curl_easy_init() would otherwise do it itself,
     * which is not thread-safe */
    CURLcode rc = fn.global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        snprintf(load_error, sizeof(load_error), "libcurl could not be initialised: %s", fn.easy_strerror(rc));
        return;
    }
    loaded = 1;
}

static int ready(void)
{
    pthread_once(&once, load);
    return loaded;
}

const char *gp_curl_error(void)
{
    return load_error;
}

CURL *gp_curl_easy_init(void)
{
    return ready() ? fn.easy_init() : NULL;
}

CURLcode gp_curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
    va_list ap;
    CURLcode rc;
    if (!ready() || !h) return CURLE_FAILED_INIT;
    va_start(ap, opt);
    if (opt < CURLOPTTYPE_OBJECTPOINT) {
        long v = va_arg(ap, long);
        rc = fn.easy_setopt(h, opt, v);
    } else if (opt < CURLOPTTYPE_FUNCTIONPOINT) {
        void *v = va_arg(ap, void *);
        rc = fn.easy_setopt(h, opt, v);
    } else if (opt < CURLOPTTYPE_OFF_T) {
        void (*v)(void) = va_arg(ap, void (*)(void));
        rc = fn.easy_setopt(h, opt, v);
    } else if (opt < CURLOPTTYPE_BLOB) {
        curl_off_t v = va_arg(ap, curl_off_t);
        rc = fn.easy_setopt(h, opt, v);
    } else {
        void *v = va_arg(ap, void *);
        rc = fn.easy_setopt(h, opt, v);
    }
    va_end(ap);
    return rc;
}

CURLcode gp_curl_easy_perform(CURL *h)
{
    return ready() && h ? fn.easy_perform(h) : CURLE_FAILED_INIT;
}

CURLcode gp_curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
    va_list ap;
    if (!ready() || !h) return CURLE_FAILED_INIT;
    va_start(ap, info);
    void *out = va_arg(ap, void *);
    va_end(ap);
    return fn.easy_getinfo(h, info, out);
}

void gp_curl_easy_cleanup(CURL *h)
{
    if (h && ready()) fn.easy_cleanup(h);
}

const char *gp_curl_easy_strerror(CURLcode code)
{
    if (!ready()) return load_error;
    return fn.easy_strerror(code);
}

struct curl_slist *gp_curl_slist_append(struct curl_slist *list, const char *s)
{
    return ready() ? fn.slist_append(list, s) : NULL;
}

void gp_curl_slist_free_all(struct curl_slist *list)
{
    if (list && ready()) fn.slist_free_all(list);
}

time_t gp_curl_getdate(const char *s, const time_t *unused)
{
    return ready() ? fn.getdate(s, unused) : (time_t)-1;
}
