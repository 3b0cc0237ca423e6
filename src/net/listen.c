/* listen.c — opens the listening TCP socket a server accepts on
 * (mg_http_listen) and provides the default limits. Uses getaddrinfo with
 * numeric or named hosts, IPv4 or IPv6. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"

void mg_http_limits_default(mg_http_limits *l)
{
    l->max_header_bytes = 64 * 1024;
    l->max_headers = 100;
    l->max_body_bytes = 32 * 1024 * 1024; /* room for base64 images in prompts */
    l->header_timeout = 30;
    l->body_timeout = 60;
    l->request_timeout = 60;
    l->keepalive_timeout = 75;
    l->out_high_watermark = 256 * 1024;
    l->out_low_watermark = 64 * 1024;
}

static int bound_port_of(int fd)
{
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

static int open_one(const struct addrinfo *ai, char *why, size_t whylen)
{
    int one = 1;
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
    if (fd < 0) {
        snprintf(why, whylen, "socket: %s", strerror(errno));
        return -1;
    }
    /* SO_REUSEPORT lets every worker own a listening socket on the port. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        snprintf(why, whylen, "setsockopt: %s", strerror(errno));
        goto fail;
    }
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        snprintf(why, whylen, "bind: %s", strerror(errno));
        goto fail;
    }
    if (listen(fd, 4096) != 0) {
        snprintf(why, whylen, "listen: %s", strerror(errno));
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

/* "[::1]" → "::1"; "" and "*" mean every address. */
static const char *bare_host(const char *host, char *tmp, size_t tmplen)
{
    if (!host || !*host || strcmp(host, "*") == 0)
        return NULL;
    size_t n = strlen(host);
    if (host[0] == '[' && n >= 2 && host[n - 1] == ']' && n - 2 < tmplen) {
        memcpy(tmp, host + 1, n - 2);
        tmp[n - 2] = '\0';
        return tmp;
    }
    return host;
}

int mg_http_listen(const char *host, int port, int *bound_port, char *err)
{
    char tmp[256], service[16], why[160] = "no address";
    struct addrinfo hints, *res = NULL;
    const char *h = bare_host(host, tmp, sizeof tmp);

    if (port < 0 || port > 65535) {
        snprintf(err, MG_ERRLEN, "listen %s:%d: port out of range", host ? host : "*", port);
        return -1;
    }
    snprintf(service, sizeof service, "%d", port);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(h, service, &hints, &res);
    if (gai != 0) {
        snprintf(err, MG_ERRLEN, "listen %s:%d: %s", host ? host : "*", port, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = open_one(ai, why, sizeof why);
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, MG_ERRLEN, "listen %s:%d: %s", host ? host : "*", port, why);
        return -1;
    }
    if (bound_port)
        *bound_port = bound_port_of(fd);
    return fd;
}
