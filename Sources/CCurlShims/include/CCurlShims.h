#ifndef WALVAULT_CCURLSHIMS_H
#define WALVAULT_CCURLSHIMS_H
/* curl_easy_setopt and curl_easy_getinfo are variadic, and walvault reaches them through dlsym:
   one typed trampoline per argument kind, each calling the function pointer it is given. Nothing
   here links libcurl. */
#include <curl/curl.h>

typedef size_t (*wv_curl_data_callback)(char *, size_t, size_t, void *);
typedef int (*wv_curl_seek_callback)(void *, curl_off_t, int);

CURLcode wv_curl_setopt_long(void *setopt, CURL *handle, CURLoption option, long value);
CURLcode wv_curl_setopt_string(void *setopt, CURL *handle, CURLoption option, const char *value);
CURLcode wv_curl_setopt_pointer(void *setopt, CURL *handle, CURLoption option, void *value);
CURLcode wv_curl_setopt_offset(void *setopt, CURL *handle, CURLoption option, curl_off_t value);
CURLcode wv_curl_setopt_callback(void *setopt, CURL *handle, CURLoption option, wv_curl_data_callback callback);
CURLcode wv_curl_setopt_seek(void *setopt, CURL *handle, CURLoption option, wv_curl_seek_callback callback);
CURLcode wv_curl_getinfo_long(void *getinfo, CURL *handle, CURLINFO info, long *value);

#endif
