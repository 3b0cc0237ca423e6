/* fuzz_ws.c — libFuzzer harness for the WebSocket frame parser
 * (src/live/ws.h). Byte 0 picks options: server or client side (masked
 * frames expected or refused), a tiny or the default message limit, and
 * the largest piece; the rest is the byte stream. It is parsed whole and in
 * pieces whose sizes come from a hash of the input. Checks beyond the
 * sanitizers:
 *  - both parses hand out the same messages and control frames and end
 *    with the same result: where TCP splits a stream changes nothing;
 *  - a text message, and a close reason, is valid UTF-8 by an independent
 *    reference check, and mg_ws_utf8_valid agrees with that reference on
 *    the raw input too;
 *  - control payloads stay within 125 bytes, data messages within the
 *    limit, close codes are ones a peer may send (or 1005 for none);
 *  - every data message, framed again by mg_ws_frame_append (masked,
 *    split into fragments), parses back to itself;
 *  - mg_ws_accept_value yields 28 base64 characters for any key.
 * Uses src/live/ws.c, src/core, OpenSSL. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live/ws.h"

typedef struct ws_run {
    mg_ws_parser parser;
    mg_buf log; /* every frame: "<opcode> <close code> <len>:<data>\n" */
    int rc;
    size_t max_message;
} ws_run;

/* RFC 3629 well-formedness, written independently of ws.c. */
static int ref_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

/* Codes a peer may put in a close frame (RFC 6455 7.4, plus 1012-1014
 * registered since), or 1005 for a close frame without one. */
static int close_code_sendable(int code)
{
    return code == MG_WS_NO_STATUS || (code >= 1000 && code <= 1003) ||
           (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

static void check_roundtrip(int opcode, const char *data, size_t len, size_t max_message);

static int on_frame(const mg_ws_frame *f, void *ud)
{
    ws_run *run = ud;
    const unsigned char *d = (const unsigned char *)f->data;
    switch (f->opcode) {
    case MG_WS_TEXT:
        if (!ref_utf8_valid(d, f->len)) {
            fprintf(stderr, "fuzz_ws: text message that is not UTF-8 got through\n");
            abort();
        }
        /* fall through */
    case MG_WS_BINARY:
        if (f->len > run->max_message) {
            fprintf(stderr, "fuzz_ws: message of %zu bytes above the %zu limit\n", f->len,
                    run->max_message);
            abort();
        }
        check_roundtrip(f->opcode, f->data, f->len, run->max_message);
        break;
    case MG_WS_CLOSE:
        if (!close_code_sendable(f->close_code) || !ref_utf8_valid(d, f->len)) {
            fprintf(stderr, "fuzz_ws: close frame with code %d or a reason not UTF-8\n",
                    f->close_code);
            abort();
        }
        /* fall through */
    case MG_WS_PING:
    case MG_WS_PONG:
        if (f->len > MG_WS_MAX_CONTROL) {
            fprintf(stderr, "fuzz_ws: control payload of %zu bytes\n", f->len);
            abort();
        }
        break;
    default:
        fprintf(stderr, "fuzz_ws: frame with opcode %d handed out\n", f->opcode);
        abort();
    }
    mg_buf_printf(&run->log, "%d %d %zu:", f->opcode, f->close_code, f->len);
    mg_buf_append(&run->log, f->data ? f->data : "", f->len);
    mg_buf_append(&run->log, "\n", 1);
    return 0;
}

static uint64_t rng_state;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void run_parse(ws_run *run, const uint8_t *s, size_t n, size_t max_message, int masked,
                      size_t max_piece)
{
    memset(run, 0, sizeof *run);
    run->max_message = max_message ? max_message : MG_WS_DEFAULT_MAX_MESSAGE;
    mg_ws_parser_init(&run->parser, max_message, masked);
    size_t off = 0;
    run->rc = 0;
    while (off < n && run->rc == 0) {
        size_t piece = n - off;
        if (max_piece) {
            size_t want = 1 + (size_t)(rng_next() % max_piece);
            piece = want < piece ? want : piece;
        }
        char *copy = malloc(piece); /* own allocation: ASan sees reads past it */
        memcpy(copy, s + off, piece);
        run->rc = mg_ws_parse(&run->parser, copy, piece, on_frame, run);
        free(copy);
        off += piece;
    }
}

static void run_free(ws_run *run)
{
    mg_ws_parser_free(&run->parser);
    mg_buf_free(&run->log);
}

typedef struct echo_check {
    const char *want;
    size_t want_len;
    int want_opcode;
    int seen;
} echo_check;

static int on_echo(const mg_ws_frame *f, void *ud)
{
    echo_check *e = ud;
    if (f->opcode == MG_WS_PING && f->len == 1 && f->data[0] == 'p')
        return 0; /* the ping framed between the fragments */
    if (f->opcode != e->want_opcode || f->len != e->want_len ||
        (f->len && memcmp(f->data, e->want, f->len) != 0)) {
        fprintf(stderr, "fuzz_ws: re-framed message parsed back differently\n");
        abort();
    }
    e->seen++;
    return 0;
}

/* Frame a message again as a client would (masked, in three fragments
 * with a ping between them) and parse it back. */
static void check_roundtrip(int opcode, const char *data, size_t len, size_t max_message)
{
    static const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    mg_buf wire = {0};
    size_t a = len / 3, b = (2 * len) / 3;
    mg_ws_frame_append(&wire, opcode, 0, data, a, mask);
    mg_ws_frame_append(&wire, MG_WS_PING, 1, "p", 1, mask);
    mg_ws_frame_append(&wire, MG_WS_CONT, 0, data + a, b - a, mask);
    mg_ws_frame_append(&wire, MG_WS_CONT, 1, data + b, len - b, mask);
    mg_ws_parser p;
    mg_ws_parser_init(&p, max_message, 1);
    echo_check e = {.want = data, .want_len = len, .want_opcode = opcode};
    int rc = mg_ws_parse(&p, wire.data, wire.len, on_echo, &e);
    if (rc != 0 || e.seen != 1) {
        fprintf(stderr, "fuzz_ws: re-framed %zu-byte message: rc %d, %d messages\n", len, rc, e.seen);
        abort();
    }
    mg_ws_parser_free(&p);
    mg_buf_free(&wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int masked = (data[0] & 1) == 0; /* mostly the server side */
    size_t max_message = (data[0] & 2) ? 64 : 0;
    size_t max_piece = 1 + (data[0] >> 2);
    const uint8_t *s = data + 1;
    size_t n = size - 1;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ull;
    rng_state = h ? h : 1;

    if (mg_ws_utf8_valid((const char *)s, n) != ref_utf8_valid(s, n)) {
        fprintf(stderr, "fuzz_ws: mg_ws_utf8_valid says %d, the reference %d\n",
                mg_ws_utf8_valid((const char *)s, n), ref_utf8_valid(s, n));
        abort();
    }
    char accept[MG_WS_ACCEPT_LEN + 1];
    mg_ws_accept_value((const char *)s, n < 64 ? n : 64, accept);
    if (strlen(accept) != MG_WS_ACCEPT_LEN)
        abort();

    ws_run whole, split;
    run_parse(&whole, s, n, max_message, masked, 0);
    run_parse(&split, s, n, max_message, masked, max_piece);
    if (whole.rc != split.rc || whole.log.len != split.log.len ||
        (whole.log.len && memcmp(whole.log.data, split.log.data, whole.log.len) != 0)) {
        fprintf(stderr, "fuzz_ws: whole parse (rc %d, %zu log bytes) and split parse (rc %d, %zu) differ\n",
                whole.rc, whole.log.len, split.rc, split.log.len);
        abort();
    }
    run_free(&whole);
    run_free(&split);
    return 0;
}
