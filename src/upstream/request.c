/* request.c — turn an mg_up_request into easy-handle options. The request
 * is checked first (hostile bytes must not reach the wire: no CR/LF in
 * headers, a token method, an http(s) URL without spaces), then copied
 * into the transfer's one block: curl_slist nodes, header strings, body.
 * Uses up_internal.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "up_internal.h"

/* Added to every request: no 100-continue round trip, and no compression
 * (the gateway reads and forwards the body bytes as they come). */
static char hdr_expect[] = "Expect:";
static char hdr_identity[] = "Accept-Encoding: identity";
#define MG_UP_FIXED_HEADERS 2

/* RFC 9110 token characters (a switch, not strchr: every header name of
 * every request goes through here). */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return 1;
    default:
        return 0;
    }
}

static int valid_method(const char *m)
{
    size_t n = 0;
    for (; m[n]; n++)
        if (!is_tchar((unsigned char)m[n]) || n >= 32)
            return 0;
    return n > 0;
}

static int valid_url(const char *url, int *https)
{
    size_t n = strnlen(url, MG_UP_MAX_URL + 1);
    if (n > MG_UP_MAX_URL)
        return 0;
    if (n > 7 && strncasecmp(url, "http://", 7) == 0)
        *https = 0;
    else if (n > 8 && strncasecmp(url, "https://", 8) == 0)
        *https = 1;
    else
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c == 0x7f)
            return 0;
    }
    return 1;
}

/* Length of the header's name, or 0 when the line is not "Name: value"
 * with a token name and no CR/LF anywhere. */
size_t mg_up_header_name_len(const char *h)
{
    size_t n = 0;
    while (is_tchar((unsigned char)h[n]))
        n++;
    if (n == 0 || h[n] != ':')
        return 0;
    if (strpbrk(h + n, "\r\n"))
        return 0;
    return n;
}

/* Headers the transport owns: ours replace the caller's, framing is curl's. */
int mg_up_header_is_ours(const char *h, size_t name_len)
{
    static const char *const own[] = {"expect", "accept-encoding", "content-length",
                                      "transfer-encoding", "connection"};
    for (size_t i = 0; i < MG_ARRAY_LEN(own); i++)
        if (strlen(own[i]) == name_len && strncasecmp(h, own[i], name_len) == 0)
            return 1;
    return 0;
}

static int valid_seconds(double s) { return s >= 0 && s < 1e7; } /* also rejects NaN */

static long seconds_to_ms(double s)
{
    if (s <= 0)
        return 0;
    double ms = ceil(s * 1000.0);
    return ms < 1 ? 1 : (long)ms;
}

int mg_up_check_request(const mg_up_request *req, int *https, size_t *hdr_bytes, char *err)
{
    if (!req->method || !valid_method(req->method)) {
        snprintf(err, MG_ERRLEN, "bad method");
        return MG_ERR;
    }
    if (!req->url || !valid_url(req->url, https)) {
        snprintf(err, MG_ERRLEN, "bad url: need an absolute http(s) URL without spaces");
        return MG_ERR;
    }
    if ((req->nheaders && !req->headers) || (req->body_len && !req->body)) {
        snprintf(err, MG_ERRLEN, "bad request: NULL headers or body with a length");
        return MG_ERR;
    }
    if (!valid_seconds(req->t_connect) || !valid_seconds(req->t_first_byte) ||
        !valid_seconds(req->t_idle) || !valid_seconds(req->t_total)) {
        snprintf(err, MG_ERRLEN, "bad timeout");
        return MG_ERR;
    }
    size_t total = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        const char *h = req->headers[i];
        if (!h || !mg_up_header_name_len(h)) {
            snprintf(err, MG_ERRLEN, "bad request header #%zu", i + 1);
            return MG_ERR;
        }
        total += strlen(h) + 1;
        if (total > MG_UP_MAX_REQ_HEADER_BYTES) {
            snprintf(err, MG_ERRLEN, "request headers too large");
            return MG_ERR;
        }
    }
    *hdr_bytes = total;
    return MG_OK;
}

/* Lay the headers and body out in x->block; returns the list head. */
static struct curl_slist *fill_block(mg_up_xfer *x, const mg_up_request *req, size_t hdr_bytes,
                                     const char **body_copy)
{
    size_t nodes = req->nheaders + MG_UP_FIXED_HEADERS;
    size_t need = nodes * sizeof(struct curl_slist) + hdr_bytes + req->body_len + 1;
    if (need > x->block_cap) {
        free(x->block);
        x->block = mg_xmalloc(need);
        x->block_cap = need;
    }
    struct curl_slist *node = (struct curl_slist *)(void *)x->block;
    char *text = x->block + nodes * sizeof(struct curl_slist);
    struct curl_slist *head = NULL, **link = &head;
    for (size_t i = 0; i < req->nheaders; i++) {
        const char *h = req->headers[i];
        if (mg_up_header_is_ours(h, mg_up_header_name_len(h)))
            continue;
        size_t len = strlen(h) + 1;
        memcpy(text, h, len);
        node->data = text;
        text += len;
        *link = node;
        link = &node->next;
        node++;
    }
    char *fixed[MG_UP_FIXED_HEADERS] = {hdr_expect, hdr_identity};
    for (size_t i = 0; i < MG_UP_FIXED_HEADERS; i++) {
        node->data = fixed[i];
        *link = node;
        link = &node->next;
        node++;
    }
    *link = NULL;
    if (req->body_len)
        memcpy(text, req->body, req->body_len);
    text[req->body_len] = '\0';
    *body_copy = text;
    return head;
}

static CURLcode set_method(CURL *e, const mg_up_request *req, const char *body)
{
    CURLcode rc = CURLE_OK;
    int is_post = strcmp(req->method, "POST") == 0;
    if (strcmp(req->method, "GET") == 0 && req->body_len == 0)
        return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    if (strcmp(req->method, "HEAD") == 0 && req->body_len == 0)
        return curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    if (!is_post)
        rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    if (rc == CURLE_OK && (is_post || req->body_len)) {
        rc = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    }
    return rc;
}

/* Stops at the first option curl refuses. */
#define SET(opt, val)                                                                          \
    do {                                                                                       \
        if (rc == CURLE_OK)                                                                    \
            rc = curl_easy_setopt(e, opt, val);                                                \
    } while (0)

/* libcurl opens upstream sockets through here so that a socket() refused
 * for want of descriptors is known as such (curl reports any failure to
 * open one as "couldn't connect", and leaves CURLINFO_OS_ERRNO unset). */
static curl_socket_t open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    mg_up_xfer *x = ud;
    MG_UNUSED(purpose);
    curl_socket_t fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd == CURL_SOCKET_BAD)
        x->socket_errno = errno;
    return fd;
}

static CURLcode set_options(mg_up_xfer *x, const mg_up_request *req, struct curl_slist *headers,
                            const char *body)
{
    CURL *e = x->easy;
    CURLcode rc = CURLE_OK;
    SET(CURLOPT_URL, req->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_PRIVATE, (void *)x);
    SET(CURLOPT_SHARE, x->u->share);
    SET(CURLOPT_NOSIGNAL, 1L);
    /* HTTP/1.1: a paused HTTP/2 stream in libcurl keeps buffering. */
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    /* Long streams cross NATs and load balancers that drop silent flows. */
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_TCP_KEEPIDLE, 30L);
    SET(CURLOPT_TCP_KEEPINTVL, 15L);
    SET(CURLOPT_HEADERFUNCTION, mg_up_header_cb);
    SET(CURLOPT_HEADERDATA, (void *)x);
    SET(CURLOPT_WRITEFUNCTION, mg_up_write_cb);
    SET(CURLOPT_WRITEDATA, (void *)x);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
    SET(CURLOPT_OPENSOCKETDATA, (void *)x);
    SET(CURLOPT_HTTPHEADER, headers);
    SET(CURLOPT_CONNECTTIMEOUT_MS, seconds_to_ms(req->t_connect));
    SET(CURLOPT_TIMEOUT_MS, seconds_to_ms(req->t_total));
    if (rc == CURLE_OK)
        rc = set_method(e, req, body);
    return rc;
}

int mg_up_prepare(mg_up_xfer *x, const mg_up_request *req, char *err)
{
    int https = 0;
    size_t hdr_bytes = 0;
    if (mg_up_check_request(req, &https, &hdr_bytes, err) != MG_OK)
        return MG_ERR;
    const char *body;
    struct curl_slist *headers = fill_block(x, req, hdr_bytes, &body);
    CURLcode rc = set_options(x, req, headers, body);
    if (rc != CURLE_OK) {
        snprintf(err, MG_ERRLEN, "curl refused the request: %s", curl_easy_strerror(rc));
        return MG_ERR;
    }
    x->https = (unsigned)https;
    x->t_connect = req->t_connect;
    x->t_first_byte = req->t_first_byte;
    x->t_idle = req->t_idle;
    x->t_total = req->t_total;
    return MG_OK;
}
