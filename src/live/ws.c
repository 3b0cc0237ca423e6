/* ws.c — WebSocket (RFC 6455) server side: the frame parser and encoder,
 * the opening handshake, and a session on an upgraded connection (see
 * ws.h). The parser is pure — no I/O, no clock — so tests and fuzzers
 * drive it with any split of any bytes. Uses net/http.h and OpenSSL
 * (SHA-1, base64). */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "ws.h"

/* A message buffer this large is freed after delivery rather than kept. */
#define KEEP_MSG_BYTES (64u << 10)
/* Pings are not answered while this much output waits: a client that
 * pings without reading must not grow our buffer. */
#define PONG_SKIP_BYTES (64u << 10)
/* Above this much unsent output a closing handshake is not waited for. */
#define CLOSE_NOWAIT_BYTES (64u << 10)

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* ---- UTF-8 -------------------------------------------------------------- */

/* Follows RFC 3629's table: the first continuation byte's range depends on
 * the lead byte (no overlongs, no surrogates, nothing past U+10FFFF). */
static int utf8_feed(mg_ws_utf8 *u, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (u->need) {
            if (c < u->lo || c > u->hi)
                return 0;
            u->need--;
            u->lo = 0x80;
            u->hi = 0xBF;
            continue;
        }
        if (c < 0x80)
            continue;
        u->lo = 0x80;
        u->hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            u->need = 1;
        } else if (c == 0xE0) {
            u->need = 2;
            u->lo = 0xA0;
        } else if (c == 0xED) {
            u->need = 2;
            u->hi = 0x9F;
        } else if (c >= 0xE1 && c <= 0xEF) {
            u->need = 2;
        } else if (c == 0xF0) {
            u->need = 3;
            u->lo = 0x90;
        } else if (c == 0xF4) {
            u->need = 3;
            u->hi = 0x8F;
        } else if (c >= 0xF1 && c <= 0xF3) {
            u->need = 3;
        } else {
            return 0;
        }
    }
    return 1;
}

int mg_ws_utf8_valid(const char *s, size_t n)
{
    mg_ws_utf8 u = {0};
    return utf8_feed(&u, (const unsigned char *)s, n) && u.need == 0;
}

/* ---- parser ------------------------------------------------------------- */

void mg_ws_parser_init(mg_ws_parser *p, size_t max_message, int expect_masked)
{
    memset(p, 0, sizeof *p);
    p->max_message = max_message ? max_message : MG_WS_DEFAULT_MAX_MESSAGE;
    p->expect_masked = expect_masked;
    p->hdr_need = 2;
}

void mg_ws_parser_free(mg_ws_parser *p) { mg_buf_free(&p->msg); }

static size_t header_size(const unsigned char *h)
{
    size_t n = 2;
    unsigned len7 = h[1] & 0x7F;
    if (len7 == 126)
        n += 2;
    else if (len7 == 127)
        n += 8;
    if (h[1] & 0x80)
        n += 4;
    return n;
}

static int is_control(int opcode) { return (opcode & 0x8) != 0; }

/* Decodes the complete header in p->hdr and checks it against the state.
 * 0, or the close code of the violation. */
static int begin_frame(mg_ws_parser *p)
{
    const unsigned char *h = p->hdr;
    p->fin = h[0] >> 7;
    p->opcode = h[0] & 0x0F;
    p->masked = h[1] >> 7;
    uint64_t len = h[1] & 0x7F;
    size_t at = 2;
    if (len == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
        at = 4;
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | h[2 + i];
        at = 10;
        if (len >> 63)
            return MG_WS_PROTOCOL_ERROR; /* the most significant bit MUST be 0 */
    }
    if (p->masked)
        memcpy(p->mask, h + at, 4);
    if ((h[0] & 0x70) || p->masked != p->expect_masked)
        return MG_WS_PROTOCOL_ERROR; /* no extension was negotiated */
    if (is_control(p->opcode)) {
        if (p->opcode > MG_WS_PONG || !p->fin || len > MG_WS_MAX_CONTROL)
            return MG_WS_PROTOCOL_ERROR;
    } else {
        if (p->opcode > MG_WS_BINARY)
            return MG_WS_PROTOCOL_ERROR;
        if ((p->opcode == MG_WS_CONT) != (p->msg_opcode != 0))
            return MG_WS_PROTOCOL_ERROR; /* continuation of nothing, or a new message inside one */
        if (p->opcode != MG_WS_CONT) {
            p->msg_opcode = p->opcode;
            p->msg.len = 0;
            p->msg.off = 0;
            memset(&p->utf8, 0, sizeof p->utf8);
        }
        if (len > p->max_message - p->msg.len)
            return MG_WS_TOO_BIG;
    }
    p->remaining = len;
    p->mask_pos = 0;
    p->ctl_len = 0;
    return 0;
}

/* Unmasks n payload bytes into the control buffer or the message. */
static int take_payload(mg_ws_parser *p, const unsigned char *in, size_t n)
{
    unsigned char *dst;
    if (is_control(p->opcode)) {
        dst = (unsigned char *)p->ctl + p->ctl_len;
        p->ctl_len += n;
    } else {
        mg_buf_reserve(&p->msg, n);
        dst = (unsigned char *)p->msg.data + p->msg.len;
        p->msg.len += n;
    }
    if (p->masked) {
        for (size_t i = 0; i < n; i++)
            dst[i] = in[i] ^ p->mask[(p->mask_pos + i) & 3];
    } else {
        memcpy(dst, in, n);
    }
    p->mask_pos += n;
    p->remaining -= n;
    /* Checked as the bytes come, so a bad text fails before its end. */
    if (!is_control(p->opcode) && p->msg_opcode == MG_WS_TEXT && !utf8_feed(&p->utf8, dst, n))
        return MG_WS_BAD_DATA;
    return 0;
}

static int close_code_valid(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/* Close payload: empty, or a valid code and a UTF-8 reason. */
static int read_close(const mg_ws_parser *p, mg_ws_frame *f)
{
    f->close_code = MG_WS_NO_STATUS;
    f->data = p->ctl;
    f->len = 0;
    if (p->ctl_len == 0)
        return 0;
    if (p->ctl_len == 1)
        return MG_WS_PROTOCOL_ERROR;
    const unsigned char *c = (const unsigned char *)p->ctl;
    f->close_code = c[0] << 8 | c[1];
    if (!close_code_valid(f->close_code))
        return MG_WS_PROTOCOL_ERROR;
    f->data = p->ctl + 2;
    f->len = p->ctl_len - 2;
    return mg_ws_utf8_valid(f->data, f->len) ? 0 : MG_WS_BAD_DATA;
}

/* The frame's payload is all in: hand out what is complete. */
static int end_frame(mg_ws_parser *p, mg_ws_frame_cb cb, void *ud)
{
    mg_ws_frame f = {.opcode = p->opcode, .data = p->ctl, .len = p->ctl_len};
    if (is_control(p->opcode)) {
        if (p->opcode == MG_WS_CLOSE) {
            int rc = read_close(p, &f);
            if (rc)
                return rc;
            p->stopped = 1; /* nothing may follow a close */
        }
        if (cb(&f, ud))
            p->stopped = 1;
        return 0;
    }
    if (!p->fin)
        return 0;
    if (p->msg_opcode == MG_WS_TEXT && p->utf8.need)
        return MG_WS_BAD_DATA; /* text ends inside a sequence */
    f.opcode = p->msg_opcode;
    f.data = p->msg.data ? p->msg.data : "";
    f.len = p->msg.len;
    p->msg_opcode = 0;
    if (cb(&f, ud))
        p->stopped = 1;
    p->msg.len = 0;
    if (p->msg.cap > KEEP_MSG_BYTES)
        mg_buf_free(&p->msg);
    return 0;
}

static int parse_fail(mg_ws_parser *p, int code)
{
    p->error = code;
    mg_buf_free(&p->msg);
    return code;
}

int mg_ws_parse(mg_ws_parser *p, const char *data, size_t len, mg_ws_frame_cb cb, void *ud)
{
    if (p->error)
        return p->error;
    if (p->stopped)
        return MG_ERR;
    const unsigned char *in = (const unsigned char *)data;
    for (;;) {
        if (!p->in_payload) {
            while (len && p->hdr_len < p->hdr_need) {
                p->hdr[p->hdr_len++] = *in++;
                len--;
                if (p->hdr_len == 2)
                    p->hdr_need = header_size(p->hdr);
            }
            if (p->hdr_len < p->hdr_need)
                return 0;
            int rc = begin_frame(p);
            if (rc)
                return parse_fail(p, rc);
            p->in_payload = 1;
        }
        size_t n = p->remaining < len ? (size_t)p->remaining : len;
        if (n) {
            int rc = take_payload(p, in, n);
            if (rc)
                return parse_fail(p, rc);
            in += n;
            len -= n;
        }
        if (p->remaining)
            return 0; /* all input taken, the payload continues */
        p->in_payload = 0;
        p->hdr_len = 0;
        p->hdr_need = 2;
        int rc = end_frame(p, cb, ud);
        if (rc)
            return parse_fail(p, rc);
        if (p->stopped)
            return MG_ERR;
    }
}

/* ---- encoder ------------------------------------------------------------ */

size_t mg_ws_frame_header(unsigned char out[MG_WS_MAX_HEADER], int opcode, int fin,
                          uint64_t len, const unsigned char mask[4])
{
    size_t n = 0;
    unsigned char m = mask ? 0x80 : 0;
    out[n++] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0F));
    if (len < 126) {
        out[n++] = (unsigned char)(m | len);
    } else if (len <= 0xFFFF) {
        out[n++] = m | 126;
        out[n++] = (unsigned char)(len >> 8);
        out[n++] = (unsigned char)len;
    } else {
        out[n++] = m | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (unsigned char)(len >> (8 * i));
    }
    if (mask) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

void mg_ws_frame_append(mg_buf *out, int opcode, int fin, const char *data, size_t len,
                        const unsigned char mask[4])
{
    unsigned char h[MG_WS_MAX_HEADER];
    size_t hn = mg_ws_frame_header(h, opcode, fin, len, mask);
    mg_buf_reserve(out, hn + len);
    mg_buf_append(out, h, hn);
    if (!mask) {
        mg_buf_append(out, data, len);
        return;
    }
    unsigned char *dst = (unsigned char *)out->data + out->len;
    for (size_t i = 0; i < len; i++)
        dst[i] = (unsigned char)data[i] ^ mask[i & 3];
    out->len += len;
}

/* ---- handshake ---------------------------------------------------------- */

void mg_ws_accept_value(const char *key, size_t key_len, char out[MG_WS_ACCEPT_LEN + 1])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) ||
        !EVP_DigestUpdate(ctx, key, key_len) ||
        !EVP_DigestUpdate(ctx, WS_GUID, sizeof WS_GUID - 1) ||
        !EVP_DigestFinal_ex(ctx, digest, &dlen) || dlen != 20) {
        /* Only an OpenSSL without SHA-1 gets here; no client can match. */
        memset(out, 'A', MG_WS_ACCEPT_LEN);
        out[MG_WS_ACCEPT_LEN] = '\0';
        EVP_MD_CTX_free(ctx);
        return;
    }
    EVP_MD_CTX_free(ctx);
    EVP_EncodeBlock((unsigned char *)out, digest, 20); /* 28 chars + NUL */
}

/* A comma-separated header value holds token (case-insensitive). */
static int has_token(const char *v, size_t n, const char *token)
{
    size_t tl = strlen(token), i = 0;
    while (v && i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < n && v[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (end - start == tl && mg_strncaseeq(v + start, tl, token))
            return 1;
    }
    return 0;
}

/* 16 random bytes in base64: 22 alphabet characters and "==". */
static int key_valid(const char *k, size_t n)
{
    if (!k || n != 24 || k[22] != '=' || k[23] != '=')
        return 0;
    for (size_t i = 0; i < 22; i++) {
        char c = k[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return 0;
    }
    return 1;
}

int mg_ws_handshake_check(const mg_http_req *req, char accept[MG_WS_ACCEPT_LEN + 1],
                          const char **why)
{
    size_t n;
    const char *v = mg_http_header(req, "Upgrade", &n);
    if (!v || !has_token(v, n, "websocket")) {
        *why = "this endpoint speaks WebSocket only (Upgrade: websocket)";
        return 426;
    }
    if (strcmp(req->method, "GET") != 0 || req->http_minor < 1) {
        *why = "a WebSocket handshake is a GET over HTTP/1.1";
        return 400;
    }
    v = mg_http_header(req, "Connection", &n);
    if (!v || !has_token(v, n, "upgrade")) {
        *why = "a WebSocket handshake needs Connection: Upgrade";
        return 400;
    }
    v = mg_http_header(req, "Sec-WebSocket-Version", &n);
    if (!v) {
        *why = "missing Sec-WebSocket-Version";
        return 400;
    }
    if (n != 2 || memcmp(v, "13", 2) != 0) {
        *why = "unsupported WebSocket version (this server speaks 13)";
        return 426;
    }
    v = mg_http_header(req, "Sec-WebSocket-Key", &n);
    if (!key_valid(v, n)) {
        *why = "missing or malformed Sec-WebSocket-Key";
        return 400;
    }
    mg_ws_accept_value(v, n, accept);
    return 0;
}

static void refuse(mg_http_req *req, int status, const char *why)
{
    mg_buf body = {0};
    mg_buf_append_str(&body, "{\"error\":{\"message\":");
    mg_buf_append_json_str(&body, why, strlen(why));
    mg_buf_printf(&body, ",\"code\":%d}}", status);
    const char *extra = status == 426 ? "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" : NULL;
    mg_http_respond(req, status, "application/json", extra, body.data, body.len);
    mg_buf_free(&body);
}

/* ---- session ------------------------------------------------------------ */

struct mg_ws_session {
    mg_http_req *req;       /* the connection's; NULL once finished or aborted */
    struct ev_loop *loop;
    mg_ws_parser parser;    /* owned */
    mg_ws_handlers h;       /* cleared when the owner gives the session up */
    ev_timer close_timer;   /* the closing handshake's deadline */
    unsigned closing : 1;   /* our close frame is sent */
    unsigned in_parse : 1;  /* mg_ws_parse is on the stack: free after it */
    unsigned dead : 1;      /* over; freed as soon as nothing is on the stack */
};

static void session_free(mg_ws_session *ws)
{
    ev_timer_stop(ws->loop, &ws->close_timer);
    mg_ws_parser_free(&ws->parser);
    free(ws);
}

/* The session is over: let the connection go, tell the owner (unless it
 * gave the session up), free when nothing is on the stack. */
static void session_end(mg_ws_session *ws)
{
    if (ws->dead)
        return;
    ws->dead = 1;
    ev_timer_stop(ws->loop, &ws->close_timer);
    mg_http_req *req = ws->req;
    ws->req = NULL;
    if (req) {
        req->ud = NULL;
        req->on_abort = NULL;
        mg_http_finish(req); /* closes once our last frame is sent */
    }
    if (ws->h.on_gone)
        ws->h.on_gone(ws, ws->h.ud);
    if (!ws->in_parse)
        session_free(ws);
}

static int write_frame(mg_ws_session *ws, int opcode, const char *data, size_t len)
{
    if (!ws->req || ws->dead)
        return MG_ERR;
    unsigned char h[MG_WS_MAX_HEADER];
    size_t hn = mg_ws_frame_header(h, opcode, 1, len, NULL);
    int rc = mg_http_write(ws->req, (const char *)h, hn);
    if (rc != MG_ERR && len)
        rc = mg_http_write(ws->req, data, len);
    return rc;
}

static void send_close(mg_ws_session *ws, int code, const char *reason)
{
    char payload[MG_WS_MAX_CONTROL];
    size_t n = 0;
    if (code != MG_WS_NO_STATUS) {
        payload[0] = (char)(code >> 8);
        payload[1] = (char)(code & 0xFF);
        n = 2;
        size_t rl = reason ? strlen(reason) : 0;
        if (rl > sizeof payload - 2)
            rl = sizeof payload - 2;
        if (rl)
            memcpy(payload + 2, reason, rl);
        n += rl;
    }
    write_frame(ws, MG_WS_CLOSE, payload, n);
    ws->closing = 1;
}

/* A protocol violation: say why and drop the connection (the byte stream
 * cannot be trusted any more, so no answer is waited for). */
static void fail_connection(mg_ws_session *ws, int code)
{
    static const char *const reasons[] = {"protocol error", "invalid UTF-8", "message too big"};
    const char *reason = code == MG_WS_BAD_DATA ? reasons[1]
                         : code == MG_WS_TOO_BIG ? reasons[2]
                                                 : reasons[0];
    mg_debug("ws: %s: closing with %d (%s)", ws->req ? ws->req->client_ip : "-", code, reason);
    if (!ws->closing)
        send_close(ws, code, reason);
    session_end(ws);
}

static int on_frame(const mg_ws_frame *f, void *ud)
{
    mg_ws_session *ws = ud;
    switch (f->opcode) {
    case MG_WS_PING:
        if (!ws->closing && ws->req && mg_http_pending(ws->req) < PONG_SKIP_BYTES)
            write_frame(ws, MG_WS_PONG, f->data, f->len);
        return 0;
    case MG_WS_PONG:
        return 0;
    case MG_WS_CLOSE:
        if (!ws->closing)
            send_close(ws, f->close_code, NULL); /* echo the code, as RFC 6455 5.5.1 asks */
        session_end(ws);
        return 1;
    default:
        if (!ws->closing && ws->h.on_message)
            ws->h.on_message(ws, f->opcode, f->data, f->len, ws->h.ud);
        return ws->dead;
    }
}

static void on_data(mg_http_req *req, const char *data, size_t len)
{
    mg_ws_session *ws = req->ud;
    if (!ws || ws->dead)
        return;
    ws->in_parse = 1;
    int rc = mg_ws_parse(&ws->parser, data, len, on_frame, ws);
    if (rc >= 1000 && !ws->dead)
        fail_connection(ws, rc);
    ws->in_parse = 0;
    if (ws->dead)
        session_free(ws);
}

static void on_abort(mg_http_req *req)
{
    mg_ws_session *ws = req->ud;
    if (!ws)
        return;
    ws->req = NULL; /* gone: must not be touched again */
    session_end(ws);
}

static void on_close_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    session_end(t->data);
}

mg_ws_session *mg_ws_accept(mg_http_req *req, const mg_ws_handlers *h, size_t max_message)
{
    char accept[MG_WS_ACCEPT_LEN + 1];
    const char *why = "";
    int status = mg_ws_handshake_check(req, accept, &why);
    if (status) {
        refuse(req, status, why);
        return NULL;
    }
    char extra[128];
    snprintf(extra, sizeof extra, "Upgrade: websocket\r\nSec-WebSocket-Accept: %s\r\n", accept);
    mg_ws_session *ws = mg_xcalloc(1, sizeof *ws);
    ws->req = req;
    ws->loop = req->loop;
    if (h)
        ws->h = *h;
    mg_ws_parser_init(&ws->parser, max_message, 1);
    ev_timer_init(&ws->close_timer, on_close_timer, MG_WS_CLOSE_WAIT, 0);
    ws->close_timer.data = ws;
    if (mg_http_upgrade(req, extra, on_data) != MG_OK) {
        session_free(ws);
        refuse(req, 400, "this request cannot be upgraded");
        return NULL;
    }
    req->ud = ws;
    req->on_abort = on_abort;
    req->on_writable = NULL;
    return ws;
}

int mg_ws_send(mg_ws_session *ws, int opcode, const char *data, size_t len)
{
    if (ws->closing)
        return MG_ERR;
    if (is_control(opcode) && len > MG_WS_MAX_CONTROL)
        len = MG_WS_MAX_CONTROL;
    return write_frame(ws, opcode, data, len);
}

int mg_ws_send_frames(mg_ws_session *ws, const char *frames, size_t len)
{
    if (ws->closing || ws->dead || !ws->req)
        return MG_ERR;
    return mg_http_write(ws->req, frames, len);
}

size_t mg_ws_pending(const mg_ws_session *ws) { return ws->req ? mg_http_pending(ws->req) : 0; }

void mg_ws_close(mg_ws_session *ws, int code, const char *reason)
{
    ws->h.on_gone = NULL;
    ws->h.on_message = NULL;
    if (ws->dead || ws->closing)
        return;
    send_close(ws, code, reason);
    if (!ws->req || mg_http_pending(ws->req) > CLOSE_NOWAIT_BYTES) {
        session_end(ws);
        return;
    }
    ev_timer_start(ws->loop, &ws->close_timer);
}
