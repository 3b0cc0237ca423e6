/* test_ws.c — the WebSocket side of the live stream: the pure frame parser
 * (RFC 6455 examples, every length encoding, fragmentation with control
 * frames in between, split at every byte, each protocol error and its
 * close code, UTF-8 edge cases, random bytes), the encoder, the handshake
 * value, and whole sessions against a real server on a loopback socket
 * (101 and accept, the first metrics frame, published events, ping/pong,
 * close echo, 1002/1007/1009 closes, 426/400 refusals, SSE still served). */
#include <stdlib.h>
#include <string.h>

#include "live/live.h"
#include "live/ws.h"
#include "test.h"
#include "test_http_util.h"

/* ---- parser helpers ------------------------------------------------------ */

typedef struct seen {
    int n;
    int opcode[64];
    int close_code[64];
    mg_buf data[64];
    int stop_after; /* callback returns 1 after this many frames; 0 never */
} seen;

static int collect_cb(const mg_ws_frame *f, void *ud)
{
    seen *s = ud;
    if (s->n < 64) {
        s->opcode[s->n] = f->opcode;
        s->close_code[s->n] = f->close_code;
        mg_buf_append(&s->data[s->n], f->data, f->len);
        mg_buf_cstr(&s->data[s->n]);
    }
    s->n++;
    return s->stop_after && s->n >= s->stop_after;
}

static void seen_free(seen *s)
{
    for (int i = 0; i < 64; i++)
        mg_buf_free(&s->data[i]);
    memset(s, 0, sizeof *s);
}

static const unsigned char MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

/* A client frame (masked) appended to b. */
static void cframe(mg_buf *b, int opcode, int fin, const char *data, size_t len)
{
    mg_ws_frame_append(b, opcode, fin, data, len, MASK);
}

/* Parse all of b as a server would, in one call. */
static int parse_all(const mg_buf *b, seen *s, size_t max)
{
    mg_ws_parser p;
    mg_ws_parser_init(&p, max, 1);
    int rc = mg_ws_parse(&p, b->data, b->len, collect_cb, s);
    mg_ws_parser_free(&p);
    return rc;
}

/* ---- parser ------------------------------------------------------------- */

static void test_rfc_examples(void)
{
    /* RFC 6455 5.7: a masked "Hello" and the unmasked fragmented one. */
    static const unsigned char masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                           0x7f, 0x9f, 0x4d, 0x51, 0x58};
    mg_ws_parser p;
    seen s = {0};
    mg_ws_parser_init(&p, 0, 1);
    CHECK_EQ_INT(mg_ws_parse(&p, (const char *)masked, sizeof masked, collect_cb, &s), 0);
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_INT(s.opcode[0], MG_WS_TEXT);
    CHECK_EQ_STR(s.data[0].data, "Hello");
    mg_ws_parser_free(&p);
    seen_free(&s);

    static const unsigned char frag[] = {0x01, 0x03, 'H', 'e', 'l', 0x80, 0x02, 'l', 'o'};
    mg_ws_parser_init(&p, 0, 0); /* client side: server frames are unmasked */
    CHECK_EQ_INT(mg_ws_parse(&p, (const char *)frag, sizeof frag, collect_cb, &s), 0);
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_STR(s.data[0].data, "Hello");
    mg_ws_parser_free(&p);
    seen_free(&s);

    /* The same unmasked frame on the server side is a protocol error. */
    mg_ws_parser_init(&p, 0, 1);
    CHECK_EQ_INT(mg_ws_parse(&p, (const char *)frag, sizeof frag, collect_cb, &s),
                 MG_WS_PROTOCOL_ERROR);
    CHECK_EQ_INT(s.n, 0);
    /* Sticky. */
    CHECK_EQ_INT(mg_ws_parse(&p, (const char *)masked, sizeof masked, collect_cb, &s),
                 MG_WS_PROTOCOL_ERROR);
    mg_ws_parser_free(&p);
    seen_free(&s);
}

static void test_accept_value(void)
{
    char out[MG_WS_ACCEPT_LEN + 1];
    const char *key = "dGhlIHNhbXBsZSBub25jZQ=="; /* RFC 6455 1.3 */
    mg_ws_accept_value(key, strlen(key), out);
    CHECK_EQ_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_length_encodings(void)
{
    static const size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
    for (size_t i = 0; i < MG_ARRAY_LEN(sizes); i++) {
        size_t n = sizes[i];
        char *payload = malloc(n + 1);
        for (size_t j = 0; j < n; j++)
            payload[j] = (char)('a' + j % 26);
        mg_buf b = {0};
        cframe(&b, MG_WS_BINARY, 1, payload, n);
        size_t want_hdr = n < 126 ? 6 : n <= 65535 ? 8 : 14;
        CHECK_EQ_INT(b.len, want_hdr + n);
        seen s = {0};
        CHECK_EQ_INT(parse_all(&b, &s, 1 << 20), 0);
        CHECK_EQ_INT(s.n, 1);
        CHECK_EQ_INT(s.opcode[0], MG_WS_BINARY);
        CHECK_EQ_INT(s.data[0].len, n);
        CHECK(n == 0 || memcmp(s.data[0].data, payload, n) == 0);
        /* Server frames: unmasked, same length field. */
        unsigned char h[MG_WS_MAX_HEADER];
        CHECK_EQ_INT(mg_ws_frame_header(h, MG_WS_TEXT, 1, n, NULL), want_hdr - 4);
        seen_free(&s);
        mg_buf_free(&b);
        free(payload);
    }
}

/* A mixed stream: fragmented text with a ping and a pong between the
 * fragments, a binary message, a zero-length text, and a close. */
static void build_mixed(mg_buf *b)
{
    cframe(b, MG_WS_TEXT, 0, "frag", 4);
    cframe(b, MG_WS_PING, 1, "p1", 2);
    cframe(b, MG_WS_CONT, 0, "ment", 4);
    cframe(b, MG_WS_PONG, 1, "", 0);
    cframe(b, MG_WS_CONT, 1, "ed \xe2\x82\xac", 6); /* euro sign, whole in this fragment */
    cframe(b, MG_WS_BINARY, 1, "\x00\xff", 2);
    cframe(b, MG_WS_TEXT, 1, "", 0);
    static const char close_payload[] = "\x03\xe8" "bye";
    cframe(b, MG_WS_CLOSE, 1, close_payload, 5);
}

static void check_mixed(seen *s)
{
    CHECK_EQ_INT(s->n, 6);
    CHECK_EQ_INT(s->opcode[0], MG_WS_PING);
    CHECK_EQ_STR(s->data[0].data, "p1");
    CHECK_EQ_INT(s->opcode[1], MG_WS_PONG);
    CHECK_EQ_INT(s->opcode[2], MG_WS_TEXT);
    CHECK_EQ_STR(s->data[2].data, "fragmented \xe2\x82\xac");
    CHECK_EQ_INT(s->opcode[3], MG_WS_BINARY);
    CHECK_EQ_INT(s->data[3].len, 2);
    CHECK_EQ_INT(s->opcode[4], MG_WS_TEXT);
    CHECK_EQ_INT(s->data[4].len, 0);
    CHECK_EQ_INT(s->opcode[5], MG_WS_CLOSE);
    CHECK_EQ_INT(s->close_code[5], 1000);
    CHECK_EQ_STR(s->data[5].data, "bye");
}

static void test_fragmentation_and_control(void)
{
    mg_buf b = {0};
    build_mixed(&b);
    seen s = {0};
    CHECK_EQ_INT(parse_all(&b, &s, 0), MG_ERR); /* MG_ERR: it ended with a close */
    check_mixed(&s);
    seen_free(&s);
    mg_buf_free(&b);
}

static void test_split_at_every_byte(void)
{
    mg_buf b = {0};
    build_mixed(&b);
    /* Two pieces at every split point. */
    for (size_t cut = 0; cut <= b.len; cut++) {
        mg_ws_parser p;
        seen s = {0};
        mg_ws_parser_init(&p, 0, 1);
        int rc = mg_ws_parse(&p, b.data, cut, collect_cb, &s);
        if (rc == 0)
            rc = mg_ws_parse(&p, b.data + cut, b.len - cut, collect_cb, &s);
        CHECK_EQ_INT(rc, MG_ERR);
        check_mixed(&s);
        seen_free(&s);
        mg_ws_parser_free(&p);
    }
    /* One byte at a time. */
    mg_ws_parser p;
    seen s = {0};
    mg_ws_parser_init(&p, 0, 1);
    int rc = 0;
    for (size_t i = 0; i < b.len && rc == 0; i++)
        rc = mg_ws_parse(&p, b.data + i, 1, collect_cb, &s);
    CHECK_EQ_INT(rc, MG_ERR);
    check_mixed(&s);
    seen_free(&s);
    mg_ws_parser_free(&p);
    mg_buf_free(&b);
}

static void test_after_close_ignored(void)
{
    mg_buf b = {0};
    cframe(&b, MG_WS_CLOSE, 1, "", 0);
    cframe(&b, MG_WS_TEXT, 1, "late", 4);
    seen s = {0};
    CHECK_EQ_INT(parse_all(&b, &s, 0), MG_ERR);
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_INT(s.close_code[0], MG_WS_NO_STATUS);
    seen_free(&s);
    mg_buf_free(&b);
}

static void test_callback_stops(void)
{
    mg_buf b = {0};
    cframe(&b, MG_WS_TEXT, 1, "a", 1);
    cframe(&b, MG_WS_TEXT, 1, "b", 1);
    cframe(&b, MG_WS_TEXT, 1, "c", 1);
    mg_ws_parser p;
    seen s = {.stop_after = 2};
    mg_ws_parser_init(&p, 0, 1);
    CHECK_EQ_INT(mg_ws_parse(&p, b.data, b.len, collect_cb, &s), MG_ERR);
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_INT(mg_ws_parse(&p, b.data, b.len, collect_cb, &s), MG_ERR);
    CHECK_EQ_INT(s.n, 2);
    mg_ws_parser_free(&p);
    seen_free(&s);
    mg_buf_free(&b);
}

/* Raw header bytes (+ optional mask and payload) that must fail with code. */
static void expect_error(const unsigned char *bytes, size_t n, int code, const char *what)
{
    mg_ws_parser p;
    seen s = {0};
    mg_ws_parser_init(&p, 1000, 1);
    int rc = mg_ws_parse(&p, (const char *)bytes, n, collect_cb, &s);
    if (rc != code)
        fprintf(stderr, "  case: %s (got %d, want %d)\n", what, rc, code);
    CHECK_EQ_INT(rc, code);
    CHECK_EQ_INT(s.n, 0);
    mg_ws_parser_free(&p);
    seen_free(&s);
}

static void test_protocol_errors(void)
{
    const int PE = MG_WS_PROTOCOL_ERROR;
    static const unsigned char rsv1[] = {0xC1, 0x80, 1, 2, 3, 4};
    expect_error(rsv1, sizeof rsv1, PE, "RSV1 without an extension");
    static const unsigned char rsv3[] = {0x91, 0x80, 1, 2, 3, 4};
    expect_error(rsv3, sizeof rsv3, PE, "RSV3");
    static const unsigned char op3[] = {0x83, 0x80, 1, 2, 3, 4};
    expect_error(op3, sizeof op3, PE, "reserved data opcode 3");
    static const unsigned char opB[] = {0x8B, 0x80, 1, 2, 3, 4};
    expect_error(opB, sizeof opB, PE, "reserved control opcode 0xB");
    static const unsigned char unmasked[] = {0x81, 0x01, 'x'};
    expect_error(unmasked, sizeof unmasked, PE, "unmasked client frame");
    static const unsigned char ping126[] = {0x89, 0xFE, 0x00, 0x7E, 1, 2, 3, 4};
    expect_error(ping126, sizeof ping126, PE, "ping of 126 bytes");
    static const unsigned char fragping[] = {0x09, 0x80, 1, 2, 3, 4};
    expect_error(fragping, sizeof fragping, PE, "fragmented ping");
    static const unsigned char orphan[] = {0x80, 0x80, 1, 2, 3, 4};
    expect_error(orphan, sizeof orphan, PE, "continuation without a message");
    static const unsigned char nested[] = {0x01, 0x80, 1, 2, 3, 4, 0x81, 0x80, 1, 2, 3, 4};
    expect_error(nested, sizeof nested, PE, "new text inside a fragmented one");
    static const unsigned char msb[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};
    expect_error(msb, sizeof msb, PE, "64-bit length with the top bit set");
    /* 1009 from the header alone (limit 1000 here), no payload needed. */
    static const unsigned char big[] = {0x82, 0xFE, 0x03, 0xE9, 1, 2, 3, 4};
    expect_error(big, sizeof big, MG_WS_TOO_BIG, "frame above the limit");
    static const unsigned char huge[] = {0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                         1, 2, 3, 4};
    expect_error(huge, sizeof huge, MG_WS_TOO_BIG, "2^63-1 byte frame");

    /* Fragments that together pass the limit. */
    mg_buf b = {0};
    char chunk[600];
    memset(chunk, 'x', sizeof chunk);
    cframe(&b, MG_WS_TEXT, 0, chunk, sizeof chunk);
    cframe(&b, MG_WS_CONT, 1, chunk, sizeof chunk);
    seen s = {0};
    CHECK_EQ_INT(parse_all(&b, &s, 1000), MG_WS_TOO_BIG);
    CHECK_EQ_INT(s.n, 0);
    seen_free(&s);
    mg_buf_free(&b);
}

static void test_close_payloads(void)
{
    static const struct {
        const char *payload;
        size_t len;
        int rc;
        int code;
    } cases[] = {
        {"", 0, MG_ERR, MG_WS_NO_STATUS},
        {"\x03\xe8", 2, MG_ERR, 1000},
        {"\x03\xf3", 2, MG_ERR, 1011},
        {"\x0b\xb8", 2, MG_ERR, 3000},
        {"\x13\x87", 2, MG_ERR, 4999},
        {"\x03", 1, MG_WS_PROTOCOL_ERROR, 0},
        {"\x03\xe7", 2, MG_WS_PROTOCOL_ERROR, 0},  /* 999 */
        {"\x03\xec", 2, MG_WS_PROTOCOL_ERROR, 0},  /* 1004 */
        {"\x03\xed", 2, MG_WS_PROTOCOL_ERROR, 0},  /* 1005 */
        {"\x03\xee", 2, MG_WS_PROTOCOL_ERROR, 0},  /* 1006 */
        {"\x04\x4c", 2, MG_WS_PROTOCOL_ERROR, 0},  /* 1100 */
        {"\x0b\xb7", 2, MG_WS_PROTOCOL_ERROR, 0},  /* 2999 */
        {"\x13\x88", 2, MG_WS_PROTOCOL_ERROR, 0},  /* 5000 */
        {"\x03\xe8\xc0\xaf", 4, MG_WS_BAD_DATA, 0}, /* overlong reason */
    };
    for (size_t i = 0; i < MG_ARRAY_LEN(cases); i++) {
        mg_buf b = {0};
        cframe(&b, MG_WS_CLOSE, 1, cases[i].payload, cases[i].len);
        seen s = {0};
        int rc = parse_all(&b, &s, 0);
        CHECK_EQ_INT(rc, cases[i].rc);
        if (cases[i].rc == MG_ERR) {
            CHECK_EQ_INT(s.n, 1);
            CHECK_EQ_INT(s.close_code[0], cases[i].code);
        } else {
            CHECK_EQ_INT(s.n, 0);
        }
        seen_free(&s);
        mg_buf_free(&b);
    }
}

static void test_utf8(void)
{
    static const struct {
        const char *s;
        int ok;
    } cases[] = {
        {"plain ascii", 1},
        {"\xc2\x80", 1},                /* U+0080 */
        {"\xdf\xbf", 1},                /* U+07FF */
        {"\xe0\xa0\x80", 1},            /* U+0800 */
        {"\xed\x9f\xbf", 1},            /* U+D7FF */
        {"\xee\x80\x80", 1},            /* U+E000 */
        {"\xef\xbf\xbf", 1},            /* U+FFFF */
        {"\xf0\x90\x80\x80", 1},        /* U+10000 */
        {"\xf4\x8f\xbf\xbf", 1},        /* U+10FFFF */
        {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 1}, /* Autobahn 6.2 */
        {"\x80", 0},                    /* lone continuation */
        {"\xc0\x80", 0},                /* overlong NUL */
        {"\xc1\xbf", 0},                /* overlong */
        {"\xe0\x9f\xbf", 0},            /* overlong 3-byte */
        {"\xed\xa0\x80", 0},            /* surrogate U+D800 */
        {"\xed\xbf\xbf", 0},            /* surrogate U+DFFF */
        {"\xf0\x8f\xbf\xbf", 0},        /* overlong 4-byte */
        {"\xf4\x90\x80\x80", 0},        /* U+110000 */
        {"\xf5\x80\x80\x80", 0},
        {"\xff", 0},
        {"\xe2\x82", 0},                /* truncated */
        {"a\xe2\x28\xa1", 0},           /* bad continuation */
    };
    for (size_t i = 0; i < MG_ARRAY_LEN(cases); i++) {
        size_t n = strlen(cases[i].s);
        CHECK_EQ_INT(mg_ws_utf8_valid(cases[i].s, n), cases[i].ok);
        /* Same verdict through the parser as a text message. */
        mg_buf b = {0};
        cframe(&b, MG_WS_TEXT, 1, cases[i].s, n);
        seen s = {0};
        CHECK_EQ_INT(parse_all(&b, &s, 0), cases[i].ok ? 0 : MG_WS_BAD_DATA);
        CHECK_EQ_INT(s.n, cases[i].ok);
        seen_free(&s);
        mg_buf_free(&b);
    }
}

static void test_utf8_across_fragments(void)
{
    /* A 4-byte character split over three fragments is fine ... */
    mg_buf b = {0};
    cframe(&b, MG_WS_TEXT, 0, "\xf0\x9f", 2);
    cframe(&b, MG_WS_CONT, 0, "\x98", 1);
    cframe(&b, MG_WS_CONT, 1, "\x80!", 2);
    seen s = {0};
    CHECK_EQ_INT(parse_all(&b, &s, 0), 0);
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_STR(s.data[0].data, "\xf0\x9f\x98\x80!");
    seen_free(&s);
    mg_buf_free(&b);

    /* ... a bad byte fails at once, before the message ends ... */
    cframe(&b, MG_WS_TEXT, 0, "ok \xc0", 4);
    mg_ws_parser p;
    mg_ws_parser_init(&p, 0, 1);
    CHECK_EQ_INT(mg_ws_parse(&p, b.data, b.len, collect_cb, &s), MG_WS_BAD_DATA);
    mg_ws_parser_free(&p);
    mg_buf_free(&b);

    /* ... and a message ending inside a sequence fails at its end. */
    cframe(&b, MG_WS_TEXT, 0, "ok", 2);
    cframe(&b, MG_WS_CONT, 1, "\xe2\x82", 2);
    CHECK_EQ_INT(parse_all(&b, &s, 0), MG_WS_BAD_DATA);
    CHECK_EQ_INT(s.n, 0);
    seen_free(&s);
    mg_buf_free(&b);

    /* Binary messages are not checked. */
    cframe(&b, MG_WS_BINARY, 1, "\xff\xfe", 2);
    CHECK_EQ_INT(parse_all(&b, &s, 0), 0);
    CHECK_EQ_INT(s.n, 1);
    seen_free(&s);
    mg_buf_free(&b);
}

/* Random bytes, random splits: never a crash, leak or over-read (ASan),
 * and once an error is returned it stays. */
static void test_random_bytes(void)
{
    unsigned seed = 12345;
    for (int round = 0; round < 3000; round++) {
        size_t n = (size_t)(rand_r(&seed) % 200);
        unsigned char buf[200];
        for (size_t i = 0; i < n; i++)
            buf[i] = (unsigned char)rand_r(&seed);
        if (n && round % 2)
            buf[0] = (unsigned char)(0x80 | (buf[0] & 0x0F)); /* plausible first byte */
        if (n > 1 && round % 3)
            buf[1] |= 0x80;
        mg_ws_parser p;
        seen s = {0};
        mg_ws_parser_init(&p, 64, 1);
        size_t at = 0;
        int rc = 0;
        while (at < n && rc == 0) {
            size_t step = 1 + (size_t)(rand_r(&seed) % 16);
            if (step > n - at)
                step = n - at;
            rc = mg_ws_parse(&p, (const char *)buf + at, step, collect_cb, &s);
            at += step;
        }
        if (rc >= 1000)
            CHECK_EQ_INT(mg_ws_parse(&p, "x", 1, collect_cb, &s), rc);
        CHECK(rc == 0 || rc == MG_ERR || rc == 1002 || rc == 1007 || rc == 1009);
        mg_ws_parser_free(&p);
        seen_free(&s);
    }
}

/* ---- sessions against a real server ---------------------------------------- */

typedef struct server_ctx {
    mg_live *hub;
    mg_live_subs *subs;
    mg_http_req *last; /* the latest request; valid while its subscriber is */
} server_ctx;

static void handler(mg_http_req *req, void *ud)
{
    server_ctx *sc = ud;
    sc->last = req;
    if (strcmp(req->path, "/ws") == 0)
        mg_live_subscribe_ws(sc->subs, req);
    else if (strcmp(req->path, "/sse") == 0)
        mg_live_subscribe(sc->subs, req);
    else
        mg_http_respond(req, 404, "text/plain", NULL, "no", 2);
}

typedef struct session_fx {
    fx f;
    server_ctx sc;
} session_fx;

static int sfx_start_with(session_fx *s, const mg_http_limits *lim)
{
    s->sc.hub = mg_live_new();
    if (fx_start(&s->f, lim, handler, &s->sc, NULL) != 0)
        return -1;
    s->sc.subs = mg_live_subs_new(s->sc.hub, s->f.loop);
    return 0;
}

static int sfx_start(session_fx *s) { return sfx_start_with(s, NULL); }

static void sfx_stop(session_fx *s)
{
    fx_stop(&s->f); /* aborts every connection: sessions free themselves */
    mg_live_subs_free(s->sc.subs);
    mg_live_free(s->sc.hub);
}

static const char *HANDSHAKE = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                               "Sec-WebSocket-Version: 13\r\n\r\n";

static int ws_open(session_fx *s, client *c)
{
    if (cl_connect(&s->f, c, 0) != 0 || cl_sends(c, HANDSHAKE) != 0)
        return -1;
    resp r;
    int ok = cl_response(c, &r, 3);
    char v[128];
    CHECK(ok);
    CHECK_EQ_INT(r.status, 101);
    CHECK_EQ_STR(resp_header(&r, "sec-websocket-accept", v, sizeof v), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK(resp_header(&r, "upgrade", v, sizeof v) && strcasecmp(v, "websocket") == 0);
    int status = r.status;
    resp_free(&r);
    return ok && status == 101 ? 0 : -1;
}

/* Client side: read server frames until want frames are in, or timeout. */
typedef struct wsread {
    mg_ws_parser p;
    seen s;
    int rc;
} wsread;

static int ws_read(client *c, wsread *w, int want, double timeout)
{
    double end = mg_now_mono() + timeout;
    for (;;) {
        if (mg_buf_unread(&c->in)) {
            int rc = mg_ws_parse(&w->p, mg_buf_rptr(&c->in), mg_buf_unread(&c->in), collect_cb, &w->s);
            mg_buf_consume(&c->in, mg_buf_unread(&c->in));
            if (rc)
                w->rc = rc;
        }
        if (w->s.n >= want || w->rc || c->eof || c->reset || mg_now_mono() > end)
            return w->s.n >= want;
        ev_run(c->f->loop, EVRUN_NOWAIT);
        if (cl_pull(c) == 0)
            usleep(300);
    }
}

static void send_client_frame(client *c, int opcode, int fin, const char *d, size_t n)
{
    mg_buf b = {0};
    cframe(&b, opcode, fin, d, n);
    cl_send(c, b.data, b.len);
    mg_buf_free(&b);
}

static void test_session_events_ping_close(void)
{
    session_fx s;
    CHECK(sfx_start(&s) == 0);
    client c;
    CHECK(ws_open(&s, &c) == 0);
    wsread w = {0};
    mg_ws_parser_init(&w.p, 0, 0);

    /* First frame: the current metrics, right away. */
    CHECK(ws_read(&c, &w, 1, 3));
    CHECK_EQ_INT(w.s.opcode[0], MG_WS_TEXT);
    CHECK(strncmp(w.s.data[0].data, "{\"type\":\"metrics_update\",\"data\":{", 33) == 0);
    CHECK_EQ_INT(mg_live_subs_count(s.sc.subs), 1);
    CHECK_EQ_INT(mg_live_subs_count_ws(s.sc.subs), 1);

    /* Published events arrive as {"type":..., "data":...}. */
    mg_live_publish(s.sc.hub, "reload", "{\"generation\":7}", 16);
    mg_live_tick(s.sc.hub, 3);
    CHECK(ws_read(&c, &w, 3, 3));
    CHECK_EQ_STR(w.s.data[1].data, "{\"type\":\"reload\",\"data\":{\"generation\":7}}");
    CHECK(strstr(w.s.data[2].data, "\"active\":3") != NULL);

    /* Ping, answered with the same payload, even split in two writes. */
    mg_buf b = {0};
    cframe(&b, MG_WS_PING, 1, "are you there", 13);
    cl_send(&c, b.data, 3);
    fx_pump(&s.f, 0.01);
    cl_send(&c, b.data + 3, b.len - 3);
    mg_buf_free(&b);
    CHECK(ws_read(&c, &w, 4, 3));
    CHECK_EQ_INT(w.s.opcode[3], MG_WS_PONG);
    CHECK_EQ_STR(w.s.data[3].data, "are you there");

    /* Text from the client is read and ignored; close is echoed. */
    send_client_frame(&c, MG_WS_TEXT, 1, "hello", 5);
    send_client_frame(&c, MG_WS_CLOSE, 1, "\x03\xe8", 2);
    CHECK(ws_read(&c, &w, 5, 3));
    CHECK_EQ_INT(w.s.opcode[4], MG_WS_CLOSE);
    CHECK_EQ_INT(w.s.close_code[4], 1000);
    CHECK(cl_wait_closed(&c, 3));
    CHECK_EQ_INT(mg_live_subs_count(s.sc.subs), 0);

    mg_ws_parser_free(&w.p);
    seen_free(&w.s);
    cl_close(&c);
    sfx_stop(&s);
}

/* A bad frame from the client: a close with code, then the connection ends. */
static void expect_close(const char *what, void (*send_bad)(client *c), int code)
{
    session_fx s;
    CHECK(sfx_start(&s) == 0);
    client c;
    CHECK(ws_open(&s, &c) == 0);
    wsread w = {0};
    mg_ws_parser_init(&w.p, 0, 0);
    CHECK(ws_read(&c, &w, 1, 3)); /* the first metrics frame */
    send_bad(&c);
    int got = ws_read(&c, &w, 2, 3);
    CHECK(got);
    if (got) {
        if (w.s.close_code[1] != code)
            fprintf(stderr, "  case: %s\n", what);
        CHECK_EQ_INT(w.s.opcode[1], MG_WS_CLOSE);
        CHECK_EQ_INT(w.s.close_code[1], code);
    }
    CHECK(cl_wait_closed(&c, 3));
    CHECK_EQ_INT(mg_live_subs_count(s.sc.subs), 0);
    mg_ws_parser_free(&w.p);
    seen_free(&w.s);
    cl_close(&c);
    sfx_stop(&s);
}

static void bad_unmasked(client *c) { cl_send(c, "\x81\x02hi", 4); }
static void bad_utf8(client *c) { send_client_frame(c, MG_WS_TEXT, 1, "\xed\xa0\x80", 3); }
static void bad_too_big(client *c)
{
    size_t n = (64u << 10) + 1;
    char *big = calloc(1, n);
    send_client_frame(c, MG_WS_BINARY, 1, big, n);
    free(big);
}
static void bad_fragmented_ping(client *c) { send_client_frame(c, MG_WS_PING, 0, "x", 1); }

static void test_session_bad_frames(void)
{
    expect_close("unmasked", bad_unmasked, 1002);
    expect_close("invalid UTF-8", bad_utf8, 1007);
    expect_close("too big", bad_too_big, 1009);
    expect_close("fragmented ping", bad_fragmented_ping, 1002);
}

static void test_handshake_refusals(void)
{
    static const struct {
        const char *request;
        int status;
    } cases[] = {
        {"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", 426},
        {"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
         426},
        {"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
         400},
        {"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n",
         400},
        {"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
         400},
    };
    session_fx s;
    CHECK(sfx_start(&s) == 0);
    for (size_t i = 0; i < MG_ARRAY_LEN(cases); i++) {
        client c;
        CHECK(cl_connect(&s.f, &c, 0) == 0);
        cl_sends(&c, cases[i].request);
        resp r;
        CHECK(cl_response(&c, &r, 3));
        CHECK_EQ_INT(r.status, cases[i].status);
        char v[64];
        if (cases[i].status == 426)
            CHECK_EQ_STR(resp_header(&r, "sec-websocket-version", v, sizeof v), "13");
        resp_free(&r);
        cl_close(&c);
    }
    CHECK_EQ_INT(mg_live_subs_count(s.sc.subs), 0);
    sfx_stop(&s);
}

/* SSE beside WebSocket: both get the same event, each in its own format. */
static void test_sse_and_ws_together(void)
{
    session_fx s;
    CHECK(sfx_start(&s) == 0);
    client ws, sse;
    CHECK(ws_open(&s, &ws) == 0);
    CHECK(cl_connect(&s.f, &sse, 0) == 0);
    cl_sends(&sse, "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n");
    fx_pump(&s.f, 0.05);
    CHECK_EQ_INT(mg_live_subs_count(s.sc.subs), 2);
    mg_live_publish(s.sc.hub, "alert_triggered", "{\"rule\":\"x\"}", 12);
    wsread w = {0};
    mg_ws_parser_init(&w.p, 0, 0);
    CHECK(ws_read(&ws, &w, 2, 3));
    CHECK_EQ_STR(w.s.data[1].data, "{\"type\":\"alert_triggered\",\"data\":{\"rule\":\"x\"}}");
    static const char want[] = "event: alert_triggered\ndata: {\"rule\":\"x\"}\n\n";
    double end = mg_now_mono() + 3;
    while (mg_now_mono() < end &&
           !(sse.raw.data && memmem(sse.raw.data, sse.raw.len, want, sizeof want - 1))) {
        ev_run(s.f.loop, EVRUN_NOWAIT);
        if (cl_pull(&sse) == 0)
            usleep(300);
    }
    CHECK(sse.raw.data && memmem(sse.raw.data, sse.raw.len, want, sizeof want - 1));
    CHECK(sse.raw.data && memmem(sse.raw.data, sse.raw.len, "event: metrics_update\n", 22));
    /* Shutdown: WebSocket subscribers get 1001, SSE streams end. */
    mg_live_subs_close_all(s.sc.subs);
    CHECK(ws_read(&ws, &w, 3, 3));
    CHECK_EQ_INT(w.s.opcode[2], MG_WS_CLOSE);
    CHECK_EQ_INT(w.s.close_code[2], MG_WS_GOING_AWAY);
    send_client_frame(&ws, MG_WS_CLOSE, 1, "\x03\xe9", 2);
    CHECK(cl_wait_closed(&ws, 3));
    CHECK_EQ_INT(mg_live_subs_count(s.sc.subs), 0);
    mg_ws_parser_free(&w.p);
    seen_free(&w.s);
    cl_close(&ws);
    cl_close(&sse);
    sfx_stop(&s);
}

/* A client that stops reading: the server stops writing to it at the lag
 * mark (its buffer stays bounded) and drops it after the stuck time —
 * well before the HTTP layer's own stall timeout (60 s here) would. */
static void test_slow_subscriber_bounded(void)
{
    session_fx s;
    mg_http_limits lim;
    fx_limits(&lim);
    lim.body_timeout = 60;
    CHECK(sfx_start_with(&s, &lim) == 0);
    client c;
    /* A small receive buffer so the kernel holds little. */
    CHECK(cl_connect(&s.f, &c, 4096) == 0);
    cl_sends(&c, HANDSHAKE);
    char json[2048];
    memset(json, ' ', sizeof json);
    json[0] = '{';
    json[sizeof json - 1] = '}';
    size_t peak = 0;
    double start = mg_now_mono(), end = start + 14;
    int gone = 0;
    while (mg_now_mono() < end && !gone) {
        for (int i = 0; i < 200; i++)
            mg_live_publish(s.sc.hub, "request_event", json, sizeof json);
        fx_pump(&s.f, 0.05);
        gone = mg_live_subs_count(s.sc.subs) == 0;
        if (!gone)
            peak = MG_MAX(peak, mg_http_pending(s.sc.last));
    }
    fprintf(stderr, "  slow subscriber: peak unsent %zu KiB, dropped after %.1f s\n", peak >> 10,
            gone ? mg_now_mono() - start : -1.0);
    CHECK(gone);
    CHECK(peak < (1u << 20) + (64u << 10));
    cl_close(&c);
    sfx_stop(&s);
}

TEST_MAIN(T(test_rfc_examples), T(test_accept_value), T(test_length_encodings),
          T(test_fragmentation_and_control), T(test_split_at_every_byte),
          T(test_after_close_ignored), T(test_callback_stops), T(test_protocol_errors),
          T(test_close_payloads), T(test_utf8), T(test_utf8_across_fragments),
          T(test_random_bytes), T(test_session_events_ping_close), T(test_session_bad_frames),
          T(test_handshake_refusals), T(test_sse_and_ws_together),
          T(test_slow_subscriber_bounded))
