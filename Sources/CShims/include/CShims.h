#ifndef WALVAULT_CSHIMS_H
#define WALVAULT_CSHIMS_H
/* Typed entry points for C APIs that are macros or variadic, which Swift cannot call. */
#include <zlib.h>
#include <curl/curl.h>

/* deflateInit2/inflateInit2 are macros; windowBits 31 selects the gzip wrapper. */
int wv_deflate_init_gzip(z_stream *stream, int level);
int wv_inflate_init_gzip(z_stream *stream);

/* curl_easy_setopt is variadic: one typed setter per argument kind. */
CURLcode wv_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode wv_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode wv_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode wv_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value);
CURLcode wv_curl_setopt_write_callback(CURL *handle, size_t (*callback)(char *, size_t, size_t, void *));
CURLcode wv_curl_setopt_read_callback(CURL *handle, size_t (*callback)(char *, size_t, size_t, void *));
CURLcode wv_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);

/* Swift sees `flock` as the struct's initialiser; this names the function. */
int wv_flock(int fd, int operation);

#endif
