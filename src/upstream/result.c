/* result.c — transfer results: their names, and how a libcurl error code
 * becomes one. The distinction that matters to callers is whether anything
 * may have reached the upstream (connect errors: nothing did, so another
 * target can be tried safely) and which limit ran out. Uses up_internal.h. */
#include <errno.h>

#include "up_internal.h"

static const char *const result_names[] = {
    [MG_UP_OK] = "ok",
    [MG_UP_ERR_CONNECT] = "connect_error",
    [MG_UP_ERR_TIMEOUT_CONNECT] = "connect_timeout",
    [MG_UP_ERR_TIMEOUT_FIRST_BYTE] = "first_byte_timeout",
    [MG_UP_ERR_TIMEOUT_IDLE] = "idle_timeout",
    [MG_UP_ERR_TIMEOUT_TOTAL] = "total_timeout",
    [MG_UP_ERR_IO] = "upstream_cut",
    [MG_UP_ERR_INTERNAL] = "internal",
    [MG_UP_ERR_LOCAL_LIMIT] = "gateway_out_of_sockets",
};

const char *mg_up_result_name(int result)
{
    if (result < 0 || (size_t)result >= MG_ARRAY_LEN(result_names))
        return "internal";
    return result_names[result];
}

int mg_up_result_is_timeout(int result)
{
    return result == MG_UP_ERR_TIMEOUT_CONNECT || result == MG_UP_ERR_TIMEOUT_FIRST_BYTE ||
           result == MG_UP_ERR_TIMEOUT_IDLE || result == MG_UP_ERR_TIMEOUT_TOTAL;
}

/* Was a connection ready for the request (new and set up, or reused)? */
static int connection_was_usable(const mg_up_xfer *x)
{
    if (x->t_first)
        return 1;
    long nconn = 0;
    curl_off_t tcp_us = 0, tls_us = 0, pre_us = 0;
    curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &nconn);
    curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &tcp_us);
    curl_easy_getinfo(x->easy, CURLINFO_APPCONNECT_TIME_T, &tls_us);
    curl_easy_getinfo(x->easy, CURLINFO_PRETRANSFER_TIME_T, &pre_us);
    if (pre_us > 0)
        return 1;
    return x->https ? tls_us > 0 : tcp_us > 0;
}

/* CURLE_OPERATION_TIMEDOUT is either limit; which one ran out? curl applies
 * its own 300 s connect limit when CURLOPT_CONNECTTIMEOUT is 0. */
static int which_timeout(const mg_up_xfer *x)
{
    if (connection_was_usable(x))
        return MG_UP_ERR_TIMEOUT_TOTAL;
    double connect_limit = x->t_connect > 0 ? x->t_connect : 300.0;
    if (x->t_total > 0 && x->t_total < connect_limit)
        return MG_UP_ERR_TIMEOUT_TOTAL;
    return MG_UP_ERR_TIMEOUT_CONNECT;
}

/* A socket the gateway could not open (descriptor limit, kernel memory)
 * looks to libcurl like a connect failure; it is ours, not the upstream's. */
static int out_of_local_resources(const mg_up_xfer *x)
{
    long os_errno = x->socket_errno;
    if (os_errno == 0)
        curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno);
    return os_errno == EMFILE || os_errno == ENFILE || os_errno == ENOBUFS || os_errno == ENOMEM;
}

int mg_up_map_curl_result(const mg_up_xfer *x, CURLcode rc)
{
    if (x->local_result)
        return x->local_result;
    if (rc == CURLE_COULDNT_CONNECT && out_of_local_resources(x))
        return MG_UP_ERR_LOCAL_LIMIT;
    switch (rc) {
    case CURLE_OK:
        return MG_UP_OK;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_USE_SSL_FAILED:
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return MG_UP_ERR_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return which_timeout(x);
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_TOO_MANY_REDIRECTS:
        return MG_UP_ERR_IO;
    case CURLE_OUT_OF_MEMORY:
    case CURLE_WRITE_ERROR: /* only our own callbacks abort, with local_result set */
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_FAILED_INIT:
        return MG_UP_ERR_INTERNAL;
    default:
        return connection_was_usable(x) ? MG_UP_ERR_IO : MG_UP_ERR_CONNECT;
    }
}
