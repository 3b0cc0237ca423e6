/* guard.c — who may use the admin API: a bearer token compared in constant
 * time, and no cross-origin browser requests (a page on another origin must
 * not drive the gateway with a user's cookies or a guessed token). */
#include <string.h>

#include "admin.h"

/* Origin must be exactly http(s)://<Host>; anything else is cross-origin. */
static int same_origin(const mg_http_req *req)
{
    size_t olen, hlen;
    const char *origin = mg_http_header(req, "origin", &olen);
    if (!origin)
        return 1;
    const char *host = mg_http_header(req, "host", &hlen);
    if (!host)
        return 0;
    const char *rest = NULL;
    if (olen > 7 && memcmp(origin, "http://", 7) == 0)
        rest = origin + 7;
    else if (olen > 8 && memcmp(origin, "https://", 8) == 0)
        rest = origin + 8;
    if (!rest)
        return 0;
    size_t rlen = olen - (size_t)(rest - origin);
    return rlen == hlen && memcmp(rest, host, hlen) == 0;
}

/* The mg_session cookie's value, or NULL. */
const char *mg_admin_session_cookie(const mg_http_req *req, size_t *len)
{
    size_t n;
    const char *c = mg_http_header(req, "cookie", &n);
    const char *end = c ? c + n : NULL;
    while (c && c < end) {
        while (c < end && (*c == ' ' || *c == ';'))
            c++;
        const char *semi = memchr(c, ';', (size_t)(end - c));
        const char *stop = semi ? semi : end;
        if ((size_t)(stop - c) > 11 && memcmp(c, "mg_session=", 11) == 0) {
            *len = (size_t)(stop - c - 11);
            return c + 11;
        }
        c = semi ? semi + 1 : NULL;
    }
    return NULL;
}

int mg_admin_guard(const mg_http_req *req, const char *token, int *status, const char **why)
{
    size_t n;
    const char *site = mg_http_header(req, "sec-fetch-site", &n);
    if ((site && mg_strncaseeq(site, n, "cross-site")) || !same_origin(req)) {
        *status = 403;
        *why = "cross-origin requests to the admin API are refused";
        return MG_ERR;
    }
    const char *auth = mg_http_header(req, "authorization", &n);
    if (!auth && mg_admin_session_cookie(req, &n)) {
        *status = 0; /* the caller checks the session */
        return MG_AGAIN;
    }
    if (!auth || n < 8 || !mg_strncaseeq(auth, 7, "bearer ")) {
        *status = 401;
        *why = "the admin API needs 'Authorization: Bearer <admin token>' "
               "(printed at first start, saved in data/admin_token)";
        return MG_ERR;
    }
    if (!mg_ct_equal(auth + 7, n - 7, token, strlen(token))) {
        *status = 401;
        *why = "wrong admin token";
        return MG_ERR;
    }
    return MG_OK;
}
