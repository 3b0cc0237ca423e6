/* respond.c — what a handler calls to answer: whole responses with
 * Content-Length, streamed ones with chunked framing (close-delimited on
 * HTTP/1.0), protocol upgrades, and the JSON error replies the server makes
 * itself before any handler knows the client's API format. Builds the
 * response head in the connection's head buffer and hands the pieces to
 * conn.c, which sends them at once or queues them. */
#include <stdio.h>
#include <string.h>

#include "../core/log.h"
#include "net.h"

#define PUT_LIT(b, lit) mg_buf_append((b), (lit), sizeof(lit) - 1)

static void put_uint(mg_buf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    mg_buf_append(b, tmp + i, sizeof tmp - i);
}

const char *mg_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 529: return "Site Overloaded";
    default: break;
    }
    if (status >= 200 && status < 300)
        return "OK";
    if (status >= 400 && status < 500)
        return "Client Error";
    if (status >= 500 && status < 600)
        return "Server Error";
    return "Unknown";
}

static int bodyless_status(int status) { return status < 200 || status == 204 || status == 304; }

static void head_start(mg_conn *c, int status, const char *content_type, const char *extra)
{
    mg_buf *h = &c->head;
    mg_buf_reset(h);
    if (status < 100 || status > 999)
        status = 500;
    PUT_LIT(h, "HTTP/1.1 ");
    put_uint(h, (uint64_t)status);
    PUT_LIT(h, " ");
    mg_buf_append_str(h, mg_http_reason(status));
    PUT_LIT(h, "\r\nDate: ");
    mg_buf_append_str(h, mg_srv_date(c->srv));
    PUT_LIT(h, "\r\n");
    if (content_type && *content_type) {
        PUT_LIT(h, "Content-Type: ");
        mg_buf_append_str(h, content_type);
        PUT_LIT(h, "\r\n");
    }
    if (extra && *extra) {
        size_t n = strlen(extra);
        mg_buf_append(h, extra, n);
        if (extra[n - 1] != '\n')
            PUT_LIT(h, "\r\n"); /* a forgotten line end must not eat the blank line */
    }
}

static void head_finish(mg_conn *c)
{
    mg_buf *h = &c->head;
    if (c->close_after)
        PUT_LIT(h, "Connection: close\r\n");
    else if (c->req.http_minor == 0)
        PUT_LIT(h, "Connection: keep-alive\r\n");
    PUT_LIT(h, "\r\n");
}

/* The response may start: 0, or MG_ERR when it must not (already started,
 * or the client is gone and the request only needs to be marked done). */
static int may_start(mg_http_req *req, const char *what)
{
    mg_conn *c = req->conn;
    if (req->started || req->finished) {
        mg_warn("http: %s on a request whose response was already %s", what,
                req->finished ? "finished" : "started");
        return MG_ERR;
    }
    req->started = 1;
    if (c->state == MG_CONN_CLOSED || c->aborted || c->broken) {
        req->finished = 1;
        return MG_ERR;
    }
    if (!req->keep_alive || c->srv->draining)
        c->close_after = 1;
    return MG_OK;
}

void mg_http_respond(mg_http_req *req, int status, const char *content_type,
                     const char *extra_headers, const char *body, size_t body_len)
{
    mg_conn *c = req->conn;
    if (may_start(req, "mg_http_respond") != MG_OK)
        return;
    int bodyless = bodyless_status(status);
    head_start(c, status, content_type, extra_headers);
    if (!bodyless) {
        PUT_LIT(&c->head, "Content-Length: ");
        put_uint(&c->head, body_len);
        PUT_LIT(&c->head, "\r\n");
    }
    head_finish(c);
    int send_body = !bodyless && !c->is_head && body_len > 0;
    struct iovec iov[2] = {{c->head.data, c->head.len}, {(void *)body, body_len}};
    req->bytes_out += c->head.len + (send_body ? body_len : 0);
    mg_conn_queue(c, iov, send_body ? 2 : 1);
    mg_conn_request_done(c);
}

void mg_http_begin(mg_http_req *req, int status, const char *content_type,
                   const char *extra_headers)
{
    mg_conn *c = req->conn;
    if (may_start(req, "mg_http_begin") != MG_OK)
        return;
    int bodyless = bodyless_status(status);
    c->no_body = bodyless || c->is_head;
    /* HTTP/1.1 frames the stream in chunks; HTTP/1.0 knows no chunks, so
     * the end of the body is the end of the connection. */
    c->chunked_out = !bodyless && req->http_minor >= 1;
    if (!c->no_body && !c->chunked_out)
        c->close_after = 1;
    head_start(c, status, content_type, extra_headers);
    if (c->chunked_out)
        PUT_LIT(&c->head, "Transfer-Encoding: chunked\r\n");
    head_finish(c);
    struct iovec iov = {c->head.data, c->head.len};
    req->bytes_out += c->head.len;
    mg_conn_queue(c, &iov, 1);
}

/* "<hex length>\r\n" into out (24 bytes); returns its length. By hand:
 * a stream writes one per upstream chunk, and snprintf costs ~20x more. */
static size_t chunk_size_line(size_t len, char out[24])
{
    static const char hex[] = "0123456789abcdef";
    char digits[16];
    size_t n = 0;
    do {
        digits[n++] = hex[len & 15];
        len >>= 4;
    } while (len);
    for (size_t i = 0; i < n; i++)
        out[i] = digits[n - 1 - i];
    out[n] = '\r';
    out[n + 1] = '\n';
    return n + 2;
}

int mg_http_write(mg_http_req *req, const char *data, size_t len)
{
    mg_conn *c = req->conn;
    if (c->state == MG_CONN_CLOSED || c->broken || c->aborted || !req->started ||
        req->finished)
        return MG_ERR;
    if (len > 0 && !c->no_body) {
        /* A streamed response is written from upstream callbacks, often
         * many pieces in one loop iteration (one per upstream chunk): queue
         * them and send once, from the deferred settle, in one syscall. */
        if (!c->corked && !c->ssl) {
            c->corked = 1;
            c->burst_cork = 1;
            mg_conn_schedule(c);
        }
        if (c->chunked_out) {
            char size_line[24];
            size_t n = chunk_size_line(len, size_line);
            struct iovec iov[3] = {{size_line, n}, {(void *)data, len}, {"\r\n", 2}};
            req->bytes_out += (size_t)n + len + 2;
            mg_conn_queue(c, iov, 3);
        } else {
            struct iovec iov = {(void *)data, len};
            req->bytes_out += len;
            mg_conn_queue(c, &iov, 1);
        }
        if (c->broken)
            return MG_ERR;
    }
    if (mg_buf_unread(&c->out) > c->srv->limits.out_high_watermark) {
        c->want_writable = 1;
        return MG_AGAIN;
    }
    return MG_OK;
}

void mg_http_finish(mg_http_req *req)
{
    mg_conn *c = req->conn;
    if (req->finished)
        return;
    if (c->state == MG_CONN_CLOSED || c->aborted) {
        req->finished = 1;
        return;
    }
    if (!req->started) {
        static const char body[] = "{\"type\":\"error\",\"error\":{\"type\":\"api_error\","
                                   "\"message\":\"the server produced no response\"}}";
        mg_warn("http: %s %s finished without a response", req->method, req->path);
        mg_http_respond(req, 500, "application/json", NULL, body, sizeof body - 1);
        return;
    }
    if (c->chunked_out && !c->no_body) {
        struct iovec iov = {"0\r\n\r\n", 5};
        req->bytes_out += 5;
        mg_conn_queue(c, &iov, 1);
    }
    mg_conn_request_done(c);
}

void mg_http_abort(mg_http_req *req)
{
    mg_conn *c = req->conn;
    if (req->finished)
        return;
    if (c->state == MG_CONN_CLOSED || c->aborted) {
        req->finished = 1;
        return;
    }
    /* What was written still goes out; the framing never ends, so the
     * client sees a cut, not a clean end of the body. */
    c->close_after = 1;
    c->chunked_out = 0;
    mg_conn_request_done(c);
}

size_t mg_http_pending(const mg_http_req *req)
{
    const mg_conn *c = req->conn;
    return c->state == MG_CONN_CLOSED ? 0 : mg_buf_unread(&c->out);
}

int mg_http_upgrade(mg_http_req *req, const char *extra_headers,
                    void (*on_data)(mg_http_req *req, const char *data, size_t len))
{
    mg_conn *c = req->conn;
    if (!c->upgrade_asked || req->started || req->finished || c->state != MG_CONN_HANDLER)
        return MG_ERR;
    req->started = 1;
    mg_buf *h = &c->head;
    mg_buf_reset(h);
    PUT_LIT(h, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n");
    if (extra_headers && *extra_headers) {
        size_t n = strlen(extra_headers);
        mg_buf_append(h, extra_headers, n);
        if (extra_headers[n - 1] != '\n')
            PUT_LIT(h, "\r\n");
    }
    PUT_LIT(h, "\r\n");
    c->state = MG_CONN_UPGRADED;
    c->on_data = on_data;
    c->chunked_out = 0;
    c->no_body = 0;
    struct iovec iov = {h->data, h->len};
    req->bytes_out += h->len;
    mg_conn_queue(c, &iov, 1);
    /* Bytes the client sent right after its request belong to the new
     * protocol; deliver them from the loop, not inside this call. */
    if (mg_buf_unread(&c->in) > 0 && !c->processing)
        mg_conn_schedule(c);
    return MG_OK;
}

static const char *error_type(int status)
{
    if (status == 413)
        return "request_too_large";
    if (status == 408)
        return "timeout_error";
    return "invalid_request_error";
}

void mg_respond_error(mg_conn *c, int status, const char *msg)
{
    /* The shape both the OpenAI and the Anthropic SDKs read as an error. */
    mg_buf body = {0};
    mg_buf_append_str(&body, "{\"type\":\"error\",\"error\":{\"type\":\"");
    mg_buf_append_str(&body, error_type(status));
    mg_buf_append_str(&body, "\",\"message\":");
    mg_buf_append_json_str(&body, msg, strlen(msg));
    mg_buf_append_str(&body, "}}");

    c->close_after = 1;
    head_start(c, status, "application/json", NULL);
    PUT_LIT(&c->head, "Content-Length: ");
    put_uint(&c->head, body.len);
    PUT_LIT(&c->head, "\r\n");
    head_finish(c);
    struct iovec iov[2] = {{c->head.data, c->head.len}, {body.data, body.len}};
    mg_conn_queue(c, iov, 2);
    mg_buf_free(&body);
}
