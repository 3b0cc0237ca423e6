/* client.c — the client side of a request: a socket (net/http.h) for
 * requests from clients, a sink (internal.h) for requests from inside the
 * host. Every stage writes through these, so both kinds walk one path. */
#include "px-t.h"

void mg_px_client_respond(mg_px *px, int status, const char *ctype, const char *hdrs,
                          const char *body, size_t len)
{
    if (px->internal) {
        mg_px_internal_head(px->internal, status, ctype);
        mg_px_internal_data(px->internal, body, len);
        return;
    }
    mg_http_respond(px->http, status, ctype, hdrs, body, len);
}

void mg_px_client_begin(mg_px *px, int status, const char *ctype, const char *hdrs)
{
    if (px->internal)
        mg_px_internal_head(px->internal, status, ctype);
    else
        mg_http_begin(px->http, status, ctype, hdrs);
}

int mg_px_client_write(mg_px *px, const char *data, size_t len)
{
    if (px->internal)
        return mg_px_internal_data(px->internal, data, len);
    return mg_http_write(px->http, data, len);
}

void mg_px_client_finish(mg_px *px)
{
    if (!px->internal)
        mg_http_finish(px->http);
}

uint64_t mg_px_client_bytes(const mg_px *px)
{
    return px->internal ? mg_px_internal_bytes(px->internal) : px->http->bytes_out;
}
