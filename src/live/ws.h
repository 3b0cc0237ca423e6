/* ws.h — the WebSocket server side (RFC 6455) for GET /ws/dashboard:
 *   - the opening handshake (checks, Sec-WebSocket-Accept via OpenSSL
 *     SHA-1 + base64, 400/426 answers);
 *   - a pure, incremental frame parser: bytes in, whole messages and
 *     control frames out (masking, 7/16/64-bit lengths, fragmentation,
 *     UTF-8 of text, size limit), fit for split-at-every-byte tests and
 *     fuzzing;
 *   - the frame encoder (server frames are never masked, client frames
 *     always are);
 *   - a session on an upgraded mg_http_req: answers pings, runs the
 *     closing handshake, fails the connection with the right close code.
 * Uses net/http.h (mg_http_upgrade) and OpenSSL. The live stream on top of
 * it (one subscriber per session) lives in subs.c, declared at the end.
 *
 * Wire-up (admin.c, behind the same guard as /api/, so the dashboard's
 * session cookie or the admin bearer token is required):
 *     if (route_is(req, "GET", "/ws/dashboard"))
 *         mg_live_subscribe_ws(w->subs, req);
 * mg_live_subscribe_ws answers the handshake errors itself (400, 426,
 * 503 when the worker has too many subscribers). */
#ifndef MG_WS_H
#define MG_WS_H

#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../net/http.h"

enum mg_ws_opcode {
    MG_WS_CONT = 0x0,
    MG_WS_TEXT = 0x1,
    MG_WS_BINARY = 0x2,
    MG_WS_CLOSE = 0x8,
    MG_WS_PING = 0x9,
    MG_WS_PONG = 0xA,
};

/* Close codes this side sends (RFC 6455 section 7.4.1). */
enum mg_ws_close_code {
    MG_WS_NORMAL = 1000,
    MG_WS_GOING_AWAY = 1001,
    MG_WS_PROTOCOL_ERROR = 1002,
    MG_WS_UNSUPPORTED = 1003,
    MG_WS_NO_STATUS = 1005, /* reported for a close frame without a code; never sent */
    MG_WS_BAD_DATA = 1007,  /* text that is not UTF-8 */
    MG_WS_POLICY = 1008,    /* e.g. a subscriber too slow to keep */
    MG_WS_TOO_BIG = 1009,
    MG_WS_INTERNAL = 1011,
};

#define MG_WS_MAX_HEADER 14              /* 2 + 8 (64-bit length) + 4 (mask) */
#define MG_WS_MAX_CONTROL 125            /* control frame payload limit */
#define MG_WS_DEFAULT_MAX_MESSAGE (1u << 20)
#define MG_WS_ACCEPT_LEN 28              /* base64 of a SHA-1 */

/* ---- parser ------------------------------------------------------------ */

/* What the parser hands out: a whole data message (fragments joined,
 * opcode MG_WS_TEXT or MG_WS_BINARY, text already checked as UTF-8) or
 * one control frame. data is unmasked and valid only during the callback. */
typedef struct mg_ws_frame {
    int opcode;
    const char *data;
    size_t len;
    int close_code; /* MG_WS_CLOSE: the code sent, MG_WS_NO_STATUS if none;
                     * data/len then hold the reason text */
} mg_ws_frame;

/* Return 0 to go on; anything else stops parsing (mg_ws_parse returns
 * MG_ERR, the unparsed rest is dropped and the parser takes no more). */
typedef int (*mg_ws_frame_cb)(const mg_ws_frame *f, void *ud);

/* Incremental UTF-8 check: bytes still owed by the current sequence and
 * the range the next one must fall in. Zeroed is the start state. */
typedef struct mg_ws_utf8 {
    unsigned char need, lo, hi;
} mg_ws_utf8;

/* Incremental parser state. A zeroed parser is not ready: call init.
 * Memory: msg grows to at most max_message bytes (owned, freed by
 * mg_ws_parser_free); everything else is inline. */
typedef struct mg_ws_parser {
    size_t max_message;      /* data message limit; above it: 1009 */
    int expect_masked;       /* 1: frames come from a client (server side) */
    int error;               /* close code of a fatal error; sticky */
    int stopped;             /* a callback said stop, or a close frame came */
    /* frame being read */
    unsigned char hdr[MG_WS_MAX_HEADER];
    size_t hdr_len, hdr_need;
    int in_payload;
    int fin, opcode, masked;
    unsigned char mask[4];
    uint64_t remaining;      /* payload bytes still to come */
    uint64_t mask_pos;       /* payload bytes seen, for the mask phase */
    /* message being assembled */
    int msg_opcode;          /* MG_WS_TEXT / MG_WS_BINARY, 0 when none */
    mg_buf msg;
    mg_ws_utf8 utf8;         /* of a text message, across its fragments */
    /* control frame payload (never fragmented, <= 125 bytes) */
    char ctl[MG_WS_MAX_CONTROL];
    size_t ctl_len;
} mg_ws_parser;

/* max_message 0 means MG_WS_DEFAULT_MAX_MESSAGE. expect_masked: 1 on the
 * server side (unmasked client frames are a protocol error), 0 for a
 * client reading server frames (masked ones are the error). */
void mg_ws_parser_init(mg_ws_parser *p, size_t max_message, int expect_masked);
void mg_ws_parser_free(mg_ws_parser *p);

/* Feed bytes; every complete message / control frame goes to cb in order.
 * Returns 0 when all bytes were taken (a partial frame waits for more),
 * MG_ERR when a callback stopped it or after a close frame (bytes after a
 * close are ignored, as RFC 6455 5.5.1 says), or a close code >= 1000 for
 * a protocol error: 1002 (bad header, opcode, reserved bits, unmasked
 * client frame, bad fragmentation, control frame > 125 bytes or
 * fragmented, bad close payload), 1007 (text or close reason not UTF-8,
 * found as early as the bytes allow), 1009 (message above max_message,
 * found from the header, before buffering). An error is sticky. */
int mg_ws_parse(mg_ws_parser *p, const char *data, size_t len, mg_ws_frame_cb cb, void *ud);

/* 1 when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF). */
int mg_ws_utf8_valid(const char *s, size_t n);

/* ---- encoder ------------------------------------------------------------ */

/* Writes a frame header for a payload of len bytes into out; returns its
 * size (2..14). mask NULL: server frame, unmasked. */
size_t mg_ws_frame_header(unsigned char out[MG_WS_MAX_HEADER], int opcode, int fin,
                          uint64_t len, const unsigned char mask[4]);
/* Appends a whole frame. With mask (client frames, tests) the payload is
 * masked on the way in. */
void mg_ws_frame_append(mg_buf *out, int opcode, int fin, const char *data, size_t len,
                        const unsigned char mask[4]);

/* ---- handshake ---------------------------------------------------------- */

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)).
 * out gets MG_WS_ACCEPT_LEN chars and a NUL. */
void mg_ws_accept_value(const char *key, size_t key_len, char out[MG_WS_ACCEPT_LEN + 1]);

/* Checks an opening handshake. 0 with accept filled when it is fine;
 * otherwise the HTTP status to answer (400 malformed, 426 not a WebSocket
 * request or an unsupported Sec-WebSocket-Version) with *why set. */
int mg_ws_handshake_check(const mg_http_req *req, char accept[MG_WS_ACCEPT_LEN + 1],
                          const char **why);

/* ---- session on an upgraded connection ---------------------------------- */

typedef struct mg_ws_session mg_ws_session;

typedef struct mg_ws_handlers {
    void *ud;
    /* A whole text or binary message from the client; may be NULL
     * (messages are then read and dropped). May call mg_ws_close. */
    void (*on_message)(mg_ws_session *ws, int opcode, const char *data, size_t len, void *ud);
    /* The session ended without mg_ws_close being called: the client
     * closed, went away or broke the protocol. ws is freed right after
     * this returns. */
    void (*on_gone)(mg_ws_session *ws, void *ud);
} mg_ws_handlers;

/* Checks the handshake and switches req to WebSocket (101). On a bad
 * handshake answers it (400 / 426 with Sec-WebSocket-Version: 13) and
 * returns NULL. The session owns itself and frees itself when it ends;
 * req stays the connection's. max_message 0: MG_WS_DEFAULT_MAX_MESSAGE. */
mg_ws_session *mg_ws_accept(mg_http_req *req, const mg_ws_handlers *h, size_t max_message);
/* One unfragmented message or control frame. MG_OK, MG_AGAIN (taken, but
 * the connection is above its high watermark), MG_ERR (closing or gone). */
int mg_ws_send(mg_ws_session *ws, int opcode, const char *data, size_t len);
/* Bytes that are already whole server frames (shared by many sessions). */
int mg_ws_send_frames(mg_ws_session *ws, const char *frames, size_t len);
/* Bytes queued on the connection and not yet sent. */
size_t mg_ws_pending(const mg_ws_session *ws);
/* Start the closing handshake: sends a close frame (reason <= 123 bytes,
 * may be NULL) and ends the connection when the client answers, after
 * MG_WS_CLOSE_WAIT seconds, or at once if the client is not reading.
 * The caller gives the session up: no handler is called again. */
void mg_ws_close(mg_ws_session *ws, int code, const char *reason);

#define MG_WS_CLOSE_WAIT 2.0

/* ---- the live stream over WebSocket (defined in subs.c) ------------------ */

struct mg_live_subs;
/* Take over req (GET /ws/dashboard) as a live subscriber: the same events
 * as GET /api/events, one text message per event:
 *     {"type":"metrics_update","data":{...}}
 * Answers the handshake errors and 503 (too many subscribers) itself. */
void mg_live_subscribe_ws(struct mg_live_subs *s, mg_http_req *req);
/* How many of the worker's subscribers are WebSocket ones, safe to read
 * from any thread: /metrics and system/health sum it over the workers
 * (e.g. a gauge moongate_ws_clients). mg_live_subs_count counts both
 * kinds, on the worker's own thread. */
size_t mg_live_subs_count_ws(const struct mg_live_subs *s);

#endif
