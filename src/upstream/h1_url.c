/* h1_url.c — which URLs the native HTTP/1.1 client takes: plain http://
 * to an IPv4 or bracketed IPv6 literal, with an optional port and no user
 * info. Those need no DNS lookup (which would block the loop) and no TLS;
 * local model servers and sidecars are usually addressed this way. Every
 * other URL stays with libcurl. Uses up_internal.h. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "up_internal.h"

static int parse_port(const char *p, size_t n, unsigned *port)
{
    if (n == 0 || n > 5)
        return MG_ERR;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return MG_ERR;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (v == 0 || v > 65535)
        return MG_ERR;
    *port = v;
    return MG_OK;
}

/* host is the text between "http://" and the port or path. */
static int fill_addr(const char *host, size_t n, unsigned port, mg_up_h1_target *t)
{
    char text[INET6_ADDRSTRLEN + 1];
    memset(&t->addr, 0, sizeof t->addr);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        if (n - 2 >= sizeof text)
            return MG_ERR;
        memcpy(text, host + 1, n - 2);
        text[n - 2] = '\0';
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&t->addr;
        if (inet_pton(AF_INET6, text, &a6->sin6_addr) != 1)
            return MG_ERR;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        t->addr_len = sizeof *a6;
        return MG_OK;
    }
    if (n == 0 || n >= sizeof text)
        return MG_ERR;
    memcpy(text, host, n);
    text[n] = '\0';
    struct sockaddr_in *a4 = (struct sockaddr_in *)&t->addr;
    /* inet_pton takes only dotted quads: "127.1" or "0x7f.1" stay with curl. */
    if (inet_pton(AF_INET, text, &a4->sin_addr) != 1)
        return MG_ERR;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    t->addr_len = sizeof *a4;
    return MG_OK;
}

int mg_up_h1_target_of(const char *url, mg_up_h1_target *t)
{
    if (strncasecmp(url, "http://", 7) != 0)
        return MG_ERR;
    const char *auth = url + 7;
    size_t auth_len = strcspn(auth, "/?#");
    if (auth[auth_len] == '#' || memchr(auth, '@', auth_len))
        return MG_ERR;
    const char *host_end = auth + auth_len;
    unsigned port = 80;
    /* The port follows the last ':' unless that ':' is inside [v6]. */
    const char *colon = NULL;
    for (const char *p = auth; p < host_end; p++)
        if (*p == ':')
            colon = p;
    if (colon && !(auth[0] == '[' && memchr(colon, ']', (size_t)(host_end - colon)))) {
        if (parse_port(colon + 1, (size_t)(host_end - colon - 1), &port) != MG_OK)
            return MG_ERR;
        host_end = colon;
    }
    if (fill_addr(auth, (size_t)(host_end - auth), port, t) != MG_OK)
        return MG_ERR;
    const char *path = auth + auth_len;
    if (strchr(path, '#'))
        return MG_ERR; /* a fragment is never sent; leave such URLs to curl */
    t->authority = auth;
    t->authority_len = auth_len;
    t->path = path;
    return MG_OK;
}
