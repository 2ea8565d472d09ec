#ifndef WALVAULT_CCURLSHIMS_H
#define WALVAULT_CCURLSHIMS_H
/* curl_easy_setopt and curl_easy_getinfo are variadic: one typed entry point per argument kind. */
#include <curl/curl.h>

CURLcode wv_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode wv_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode wv_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode wv_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value);
CURLcode wv_curl_setopt_write_callback(CURL *handle, size_t (*callback)(char *, size_t, size_t, void *));
CURLcode wv_curl_setopt_read_callback(CURL *handle, size_t (*callback)(char *, size_t, size_t, void *));
CURLcode wv_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);

#endif
