#include "CCurlShims.h"

typedef CURLcode (*wv_variadic)(CURL *, int, ...);

CURLcode wv_curl_setopt_long(void *setopt, CURL *handle, CURLoption option, long value) {
    return ((wv_variadic)setopt)(handle, option, value);
}

CURLcode wv_curl_setopt_string(void *setopt, CURL *handle, CURLoption option, const char *value) {
    return ((wv_variadic)setopt)(handle, option, value);
}

CURLcode wv_curl_setopt_pointer(void *setopt, CURL *handle, CURLoption option, void *value) {
    return ((wv_variadic)setopt)(handle, option, value);
}

CURLcode wv_curl_setopt_offset(void *setopt, CURL *handle, CURLoption option, curl_off_t value) {
    return ((wv_variadic)setopt)(handle, option, value);
}

CURLcode wv_curl_setopt_callback(void *setopt, CURL *handle, CURLoption option, wv_curl_data_callback callback) {
    return ((wv_variadic)setopt)(handle, option, callback);
}

CURLcode wv_curl_setopt_seek(void *setopt, CURL *handle, CURLoption option, wv_curl_seek_callback callback) {
    return ((wv_variadic)setopt)(handle, option, callback);
}

CURLcode wv_curl_getinfo_long(void *getinfo, CURL *handle, CURLINFO info, long *value) {
    return ((wv_variadic)getinfo)(handle, info, value);
}
