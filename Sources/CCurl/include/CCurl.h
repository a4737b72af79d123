// Typed wrappers around libcurl's variadic calls and CURLMsg's union, which Swift cannot call
// or read directly. Each wrapper passes exactly one argument of the type the option expects.
#ifndef ROSTER_CCURL_H
#define ROSTER_CCURL_H

#include <curl/curl.h>

typedef size_t (*roster_curl_data_callback)(char *data, size_t size, size_t count, void *context);

static inline CURLcode roster_curl_easy_setopt_long(CURL *easy, CURLoption option, long value) {
    return curl_easy_setopt(easy, option, value);
}

static inline CURLcode roster_curl_easy_setopt_string(CURL *easy, CURLoption option, const char *value) {
    return curl_easy_setopt(easy, option, value);
}

static inline CURLcode roster_curl_easy_setopt_pointer(CURL *easy, CURLoption option, void *value) {
    return curl_easy_setopt(easy, option, value);
}

static inline CURLcode roster_curl_easy_setopt_slist(CURL *easy, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(easy, option, value);
}

static inline CURLcode roster_curl_easy_setopt_off_t(CURL *easy, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(easy, option, value);
}

static inline CURLcode roster_curl_easy_setopt_callback(CURL *easy, CURLoption option, roster_curl_data_callback value) {
    return curl_easy_setopt(easy, option, value);
}

static inline CURLcode roster_curl_easy_getinfo_long(CURL *easy, CURLINFO info, long *value) {
    return curl_easy_getinfo(easy, info, value);
}

static inline CURLcode roster_curl_easy_getinfo_off_t(CURL *easy, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(easy, info, value);
}

static inline CURLcode roster_curl_easy_getinfo_pointer(CURL *easy, CURLINFO info, void **value) {
    return curl_easy_getinfo(easy, info, value);
}

static inline CURLMcode roster_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

/// The message kind of a CURLMsg (CURLMSG_DONE when a transfer finished).
static inline CURLMSG roster_curl_msg_kind(const CURLMsg *message) { return message->msg; }

/// The easy handle a CURLMsg is about.
static inline CURL *roster_curl_msg_easy(const CURLMsg *message) { return message->easy_handle; }

/// The result code of a finished transfer (the `result` member of CURLMsg's union).
static inline CURLcode roster_curl_msg_result(const CURLMsg *message) { return message->data.result; }

#endif
