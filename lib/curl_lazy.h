/*
 * curl_lazy.h - libcurl, loaded on first use.
 *
 * libcurl drags some thirty shared libraries into a process (GnuTLS, Kerberos, LDAP, ...), whose
 * loading and constructors cost a short-lived command more than its own work: `gpuproof-cli
 * verify` with file: keys never needs them. So nothing links libcurl; code includes this header
 * instead of <curl/curl.h>, and the few entry points gpuproof uses resolve through dlopen() of
 * the system's libcurl.so.4 the first time one is called (thread-safe), and curl_global_init()
 * runs then, once per process. When libcurl cannot be loaded or initialised, curl_easy_init() and
 * curl_slist_append() return NULL, curl_easy_perform() returns CURLE_FAILED_INIT, and
 * gp_curl_error() says why.
 */
#ifndef GP_CURL_LAZY_H
#define GP_CURL_LAZY_H

#include <curl/curl.h>

CURL *gp_curl_easy_init(void);
CURLcode gp_curl_easy_setopt(CURL *h, CURLoption opt, ...);
CURLcode gp_curl_easy_perform(CURL *h);
CURLcode gp_curl_easy_getinfo(CURL *h, CURLINFO info, ...);
void gp_curl_easy_cleanup(CURL *h);
const char *gp_curl_easy_strerror(CURLcode code);
struct curl_slist *gp_curl_slist_append(struct curl_slist *list, const char *s);
void gp_curl_slist_free_all(struct curl_slist *list);
time_t gp_curl_getdate(const char *s, const time_t *unused);

/* Why libcurl could not be loaded ("" when it was, or was not tried yet). */
const char *gp_curl_error(void);

/* curl/typecheck-gcc.h may have made these two macros already. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_easy_init gp_curl_easy_init
#define curl_easy_setopt gp_curl_easy_setopt
#define curl_easy_perform gp_curl_easy_perform
#define curl_easy_getinfo gp_curl_easy_getinfo
#define curl_easy_cleanup gp_curl_easy_cleanup
#define curl_easy_strerror gp_curl_easy_strerror
#define curl_slist_append gp_curl_slist_append
#define curl_slist_free_all gp_curl_slist_free_all
#define curl_getdate gp_curl_getdate

#endif
