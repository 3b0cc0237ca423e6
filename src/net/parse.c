/* parse.c — turns the bytes in a connection's input buffer into the
 * connection's mg_http_req with nodejs http-parser: method, path, query,
 * headers (NUL-terminated copies in the per-connection arena, so the input
 * buffer may be compacted under them), body (de-chunked), and the limits
 * that belong to parsing (header bytes and count → 431, body → 413,
 * Expect: 100-continue). A small scanner in front of the parser rejects
 * obs-fold continuation lines, which http-parser 2.9.4 accepts, and counts
 * header-block bytes against our own limit. The parser pauses at the end
 * of each request, so pipelined requests wait in the input buffer. */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "net.h"

static void reject(mg_conn *c, int status, const char *msg)
{
    if (c->err_status)
        return; /* the first reason wins */
    c->err_status = status;
    snprintf(c->err_msg, sizeof c->err_msg, "%s", msg);
}

static void arena_nul(mg_conn *c) { mg_buf_append(&c->arena, "", 1); }

/* Terminates the string the last data callback was building. A header
 * name without a value callback gets an empty value. */
static void close_piece(mg_conn *c)
{
    switch (c->last_cb) {
    case MG_CB_URL:
    case MG_CB_VALUE:
        arena_nul(c);
        break;
    case MG_CB_FIELD: {
        /* MG_CB_FIELD is only ever set right after a span was added. */
        assert(c->nspans > 0);
        mg_hdr_span *sp = &c->spans[c->nspans - 1];
        arena_nul(c);
        sp->value_off = c->arena.len;
        sp->value_len = 0;
        arena_nul(c);
        break;
    }
    case MG_CB_NONE:
        break;
    }
    c->last_cb = MG_CB_NONE;
}

static int on_message_begin(http_parser *p)
{
    mg_conn *c = p->data;
    mg_http_req *r = &c->req;
    mg_buf_reset(&c->arena);
    c->nspans = 0;
    c->url_len = 0;
    c->last_cb = MG_CB_NONE;
    c->headers_done = 0;
    c->upgrade_asked = 0;
    c->is_head = 0;
    c->chunked_out = 0;
    c->no_body = 0;
    c->want_writable = 0;
    c->on_data = NULL;
    c->err_status = 0;

    mg_buf body = r->body; /* capacity is reused across requests */
    mg_buf_reset(&body);
    memset(r, 0, sizeof *r);
    r->body = body;
    r->conn = c;
    r->loop = c->srv->loop;
    r->client_ip = c->client_ip;
    r->method = "";
    r->path = "";
    r->query = "";
    mg_conn_request_begins(c);
    r->seq = c->seq;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    mg_conn *c = p->data;
    c->last_cb = MG_CB_URL;
    mg_buf_append(&c->arena, at, len);
    c->url_len += len;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    mg_conn *c = p->data;
    if (c->headers_done)
        return 0; /* chunked trailers: not kept */
    if (c->last_cb != MG_CB_FIELD) {
        close_piece(c);
        if (c->nspans >= c->srv->limits.max_headers) {
            char msg[96];
            snprintf(msg, sizeof msg, "too many header fields (limit %zu)",
                     c->srv->limits.max_headers);
            reject(c, 431, msg);
            return -1;
        }
        if (c->nspans == c->spans_cap) {
            c->spans_cap = c->spans_cap ? c->spans_cap * 2 : 16;
            c->spans = mg_xrealloc(c->spans, c->spans_cap * sizeof *c->spans);
        }
        mg_hdr_span *sp = &c->spans[c->nspans++];
        memset(sp, 0, sizeof *sp);
        sp->name_off = c->arena.len;
        c->last_cb = MG_CB_FIELD;
    }
    mg_buf_append(&c->arena, at, len);
    c->spans[c->nspans - 1].name_len += len;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    mg_conn *c = p->data;
    if (c->headers_done || c->nspans == 0)
        return 0;
    mg_hdr_span *sp = &c->spans[c->nspans - 1];
    if (c->last_cb == MG_CB_FIELD) {
        arena_nul(c);
        sp->value_off = c->arena.len;
        c->last_cb = MG_CB_VALUE;
    }
    mg_buf_append(&c->arena, at, len);
    sp->value_len += len;
    return 0;
}

/* Spans → mg_header pointers (the arena no longer grows), trailing
 * whitespace trimmed. */
static void publish_headers(mg_conn *c)
{
    if (c->nspans > c->headers_cap) {
        c->headers_cap = c->nspans;
        c->headers = mg_xrealloc(c->headers, c->headers_cap * sizeof *c->headers);
    }
    char *base = c->arena.data;
    for (size_t i = 0; i < c->nspans; i++) {
        mg_hdr_span *sp = &c->spans[i];
        mg_header *h = &c->headers[i];
        char *v = base + sp->value_off;
        size_t vlen = sp->value_len;
        while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            v[--vlen] = '\0';
        h->name = base + sp->name_off;
        h->name_len = sp->name_len;
        h->value = v;
        h->value_len = vlen;
    }
    c->req.headers = c->nspans ? c->headers : NULL;
    c->req.nheaders = c->nspans;
}

/* The request target → path and query, in place in the arena. */
static int split_target(mg_conn *c)
{
    char *url = c->arena.data;
    size_t len = c->url_len;
    if (len == 0)
        return MG_ERR;
    if (url[0] == '/' || url[0] == '*') {
        char *frag = memchr(url, '#', len);
        if (frag) {
            *frag = '\0';
            len = (size_t)(frag - url);
        }
        char *q = memchr(url, '?', len);
        c->req.path = url;
        if (q) {
            *q = '\0';
            c->req.query = q + 1;
        }
        return MG_OK;
    }
    /* Absolute form ("GET http://host/path") or CONNECT's authority. */
    struct http_parser_url u;
    http_parser_url_init(&u);
    int is_connect = c->parser.method == HTTP_CONNECT;
    if (http_parser_parse_url(url, len, is_connect, &u) != 0)
        return MG_ERR;
    if (is_connect) {
        c->req.path = url;
        return MG_OK;
    }
    if (u.field_set & (1 << UF_QUERY)) {
        url[u.field_data[UF_QUERY].off + u.field_data[UF_QUERY].len] = '\0';
        c->req.query = url + u.field_data[UF_QUERY].off;
    }
    if (u.field_set & (1 << UF_PATH)) {
        url[u.field_data[UF_PATH].off + u.field_data[UF_PATH].len] = '\0';
        c->req.path = url + u.field_data[UF_PATH].off;
    } else {
        c->req.path = "/";
    }
    return MG_OK;
}

static int expects_continue(const mg_http_req *r)
{
    size_t n;
    const char *v = mg_http_header(r, "expect", &n);
    return v && mg_strncaseeq(v, n, "100-continue");
}

/* RFC 9112 3.2: an HTTP/1.1 request needs exactly one Host; two could
 * be read differently here and by whatever sits in front. */
static const char *check_host(const mg_http_req *r)
{
    int hosts = 0;
    for (size_t i = 0; i < r->nheaders; i++)
        hosts += strcasecmp(r->headers[i].name, "host") == 0;
    if (hosts > 1)
        return "more than one Host header";
    if (hosts == 0 && r->http_minor >= 1)
        return "missing Host header (required in HTTP/1.1)";
    return NULL;
}

/* Header fields http-parser 2.9.4 lets through that RFC 9110/9112 say to
 * reject, each a request-smuggling lever when a proxy in front reads them
 * differently. Returns why, or NULL when the fields are fine:
 *  - a control byte (NUL, CR, DEL...) in a value: http-parser checks every
 *    byte of a value but its first (s_header_value_start takes any byte);
 *  - whitespace between a field name and its colon: the non-strict build
 *    takes "Content-Length : 5" as a field named "Content-Length " and so
 *    ignores it as framing, while a proxy may honour it (RFC 9112 5.1 says
 *    reject with 400);
 *  - more than one Transfer-Encoding field ("chunked" twice);
 *  - Transfer-Encoding in HTTP/1.0, whose framing RFC 9112 6.1 says to
 *    treat as faulty. */
static const char *check_fields(const mg_http_req *r)
{
    int te = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        const mg_header *h = &r->headers[i];
        const unsigned char *v = (const unsigned char *)h->value;
        for (size_t j = 0; j < h->value_len; j++)
            if ((v[j] < 0x20 && v[j] != '\t') || v[j] == 0x7f)
                return "control character in a header field value";
        if (memchr(h->name, ' ', h->name_len))
            return "whitespace between a header field name and its colon";
        te += strcasecmp(h->name, "transfer-encoding") == 0;
    }
    if (te > 1)
        return "more than one Transfer-Encoding header";
    if (te && r->http_minor == 0)
        return "Transfer-Encoding in an HTTP/1.0 request";
    return NULL;
}

static int on_headers_complete(http_parser *p)
{
    mg_conn *c = p->data;
    mg_http_req *r = &c->req;
    const mg_http_limits *lim = &c->srv->limits;
    close_piece(c);
    if (c->arena.len == 0)
        arena_nul(c);
    c->headers_done = 1;
    publish_headers(c);

    if (p->http_major != 1) {
        reject(c, 400, "unsupported HTTP version (only HTTP/1.0 and HTTP/1.1)");
        return -1;
    }
    if (split_target(c) != MG_OK) {
        reject(c, 400, "invalid request target");
        return -1;
    }
    r->method = http_method_str((enum http_method)p->method);
    r->http_minor = p->http_minor >= 1 ? 1 : 0;
    const char *bad_field = check_fields(r);
    if (bad_field) {
        reject(c, 400, bad_field);
        return -1;
    }
    const char *bad_host = check_host(r);
    if (bad_host) {
        reject(c, 400, bad_host);
        return -1;
    }
    r->keep_alive = http_should_keep_alive(p);
    c->is_head = p->method == HTTP_HEAD;

    int chunked = (p->flags & F_CHUNKED) != 0;
    uint64_t declared = p->content_length; /* ULLONG_MAX when absent */
    int has_length = !chunked && declared != (uint64_t)-1 && declared > 0;
    if (has_length && declared > lim->max_body_bytes) {
        char msg[96];
        snprintf(msg, sizeof msg, "request body too large (limit %zu bytes)", lim->max_body_bytes);
        reject(c, 413, msg);
        return -1;
    }
    if (!chunked && !has_length)
        return 0;
    if (has_length)
        mg_buf_reserve(&r->body, (size_t)declared);
    if (r->http_minor >= 1 && expects_continue(r)) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        struct iovec iov = {(void *)cont, sizeof cont - 1};
        mg_conn_queue(c, &iov, 1);
    }
    mg_conn_body_begins(c);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    mg_conn *c = p->data;
    size_t max = c->srv->limits.max_body_bytes;
    if (len > max || c->req.body.len > max - len) {
        char msg[96];
        snprintf(msg, sizeof msg, "request body too large (limit %zu bytes)", max);
        reject(c, 413, msg);
        return -1;
    }
    mg_buf_append(&c->req.body, at, len);
    mg_conn_body_progress(c);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    mg_conn *c = p->data;
    if (c->req.body.len)
        mg_buf_cstr(&c->req.body); /* JSON readers may want a C string */
    c->upgrade_asked = p->upgrade;
    c->req_ready = 1;
    c->scan = MG_SCAN_START;
    c->scan_bytes = 0;
    http_parser_pause(p, 1); /* one request at a time */
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void mg_parse_init(mg_conn *c)
{
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->scan = MG_SCAN_START;
    c->scan_bytes = 0;
}

/* Walks the header block ahead of the parser: a line that starts with SP
 * or HT (obs-fold) is rejected, and the block may not outgrow
 * max_header_bytes. Stops at the empty line; body bytes are not looked at. */
static int scan_header_block(mg_conn *c, const char *data, size_t len)
{
    size_t limit = c->srv->limits.max_header_bytes;
    mg_scan_state s = c->scan;
    size_t seen = c->scan_bytes, i = 0;
    while (i < len && s != MG_SCAN_DONE) {
        char ch = data[i];
        switch (s) {
        case MG_SCAN_START:
            if (ch == '\r' || ch == '\n')
                i++;
            else
                s = MG_SCAN_LINE;
            continue;
        case MG_SCAN_LINE: {
            const char *lf = memchr(data + i, '\n', len - i);
            size_t take = lf ? (size_t)(lf - (data + i)) + 1 : len - i;
            seen += take;
            i += take;
            if (lf)
                s = MG_SCAN_LF;
            break;
        }
        case MG_SCAN_LF:
            if (ch == ' ' || ch == '\t') {
                reject(c, 400, "obsolete line folding (a header line starting with "
                               "a space or tab) is not allowed");
                return MG_ERR;
            }
            if (ch == '\n' || ch == '\r') {
                s = ch == '\n' ? MG_SCAN_DONE : MG_SCAN_LF_CR;
                seen++;
                i++;
            } else {
                s = MG_SCAN_LINE;
            }
            break;
        default: /* MG_SCAN_LF_CR */
            if (ch == '\n') {
                s = MG_SCAN_DONE;
                seen++;
                i++;
            } else {
                s = MG_SCAN_LINE;
            }
            break;
        }
        if (seen > limit) {
            char msg[96];
            snprintf(msg, sizeof msg, "request header fields too large (limit %zu bytes)", limit);
            reject(c, 431, msg);
            return MG_ERR;
        }
    }
    c->scan = s;
    c->scan_bytes = seen;
    return MG_OK;
}

static void reject_parse_error(mg_conn *c, enum http_errno e)
{
    char msg[128];
    switch (e) {
    case HPE_HEADER_OVERFLOW:
        reject(c, 431, "request header fields too large");
        return;
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        reject(c, 400, "conflicting framing: Content-Length with Transfer-Encoding, "
                       "or more than one Content-Length");
        return;
    case HPE_INVALID_CONTENT_LENGTH:
        reject(c, 400, "invalid Content-Length");
        return;
    case HPE_INVALID_TRANSFER_ENCODING:
        reject(c, 400, "unsupported Transfer-Encoding (only chunked is accepted)");
        return;
    case HPE_INVALID_METHOD:
        reject(c, 400, "invalid HTTP method");
        return;
    case HPE_INVALID_VERSION:
        reject(c, 400, "invalid HTTP version");
        return;
    default:
        snprintf(msg, sizeof msg, "malformed HTTP request: %s", http_errno_description(e));
        reject(c, 400, msg);
        return;
    }
}

int mg_parse_input(mg_conn *c)
{
    const char *data = mg_buf_rptr(&c->in);
    size_t len = mg_buf_unread(&c->in);
    if (c->scan != MG_SCAN_DONE && scan_header_block(c, data, len) != MG_OK)
        return -1;
    size_t used = http_parser_execute(&c->parser, &settings, data, len);
    mg_buf_consume(&c->in, used);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
        http_parser_pause(&c->parser, 0);
        if (!c->req_ready)
            return 0;
        c->req_ready = 0;
        return 1;
    }
    if (e != HPE_OK || c->err_status) {
        reject_parse_error(c, e);
        return -1;
    }
    return 0;
}

const char *mg_http_header(const mg_http_req *req, const char *name, size_t *len)
{
    for (size_t i = 0; i < req->nheaders; i++) {
        const mg_header *h = &req->headers[i];
        if (strcasecmp(h->name, name) == 0) {
            if (len)
                *len = h->value_len;
            return h->value;
        }
    }
    if (len)
        *len = 0;
    return NULL;
}
