/* sse.h — an incremental parser for text/event-stream (the WHATWG
 * EventSource format), fed whatever byte pieces the network delivers.
 * Uses core/buf.h; nothing else.
 *
 * Semantics (WHATWG "Interpreting an event stream", with one documented
 * difference):
 *  - a line ends in CRLF, LF or CR; a CR at the end of one piece followed by
 *    an LF at the start of the next is one line end;
 *  - a UTF-8 BOM at the very start of the stream is dropped;
 *  - "event:" sets the event type, "data:" lines are joined with "\n", one
 *    space after the colon is removed, a line starting with ':' is a
 *    comment, "id:" and "retry:" are accepted and ignored, a line without a
 *    colon is a field name with an empty value, unknown fields are ignored;
 *  - a blank line ends a block. The block is dispatched when it had at least
 *    one data line (even "data:" with nothing after it) OR a non-empty event
 *    type. The spec would drop an event-only block ("event: ping" + blank
 *    line); we dispatch it with empty data so such pings stay visible.
 *    An event type is passed as sent; no type is passed as "" (length 0),
 *    not as "message".
 *  - bytes after the last blank line are not dispatched at end of stream
 *    (the spec discards an unterminated block too).
 *
 * Size bound: max_event_bytes caps the bytes one event may span on the
 * wire (counted from the end of the previous block, or of the previous
 * dispatched event when raw bytes are kept, through its blank line).
 * Past it mg_sse_feed returns MG_ERR and the parser stays failed.
 *
 * Raw bytes, for pass-through: after mg_sse_keep_raw, mg_sse_raw() called
 * from inside the event callback returns the exact wire bytes of the event:
 * everything after the previous dispatched event's raw bytes through this
 * event's terminating blank line. So comments and blocks that did not
 * dispatch travel with the next event, and the concatenation of every
 * event's raw bytes plus mg_sse_raw_pending() at the end is the stream as
 * received. When an event arrived inside one piece the raw pointer points
 * into the caller's piece (no copy); only bytes carried across pieces are
 * copied. Corner case: when a CRLF is split between pieces the event is
 * dispatched at the CR (no waiting), and the LF goes with the next event.
 *
 * Ownership: the parser owns its buffers; mg_sse_free releases them.
 * The callback must not feed, init or free the parser that called it. */
#ifndef MG_SSE_H
#define MG_SSE_H

#include <stddef.h>

#include "../core/buf.h"

#define MG_SSE_DEFAULT_MAX_EVENT (1u << 20) /* used when max_event_bytes is 0 */

/* event/data point into the parser (NUL-terminated, valid during the call). */
typedef void (*mg_sse_event_cb)(void *ud, const char *event, size_t event_len, const char *data,
                                size_t data_len);

typedef struct mg_sse_parser {
    mg_sse_event_cb cb;
    void *ud;
    size_t max_event_bytes;
    mg_buf line;  /* a line whose end has not arrived yet */
    mg_buf event; /* event type of the block being read */
    mg_buf data;  /* data lines of the block, joined with "\n" */
    mg_buf raw;   /* keep_raw: wire bytes since the last dispatch, from earlier pieces */
    size_t event_bytes; /* wire bytes counted toward max_event_bytes */

    /* Valid only while mg_sse_feed runs. */
    const char *piece;     /* the piece being parsed */
    size_t raw_start;      /* offset in piece where unflushed raw bytes begin */
    const char *raw_ptr;   /* raw bytes of the event being dispatched */
    size_t raw_len;

    unsigned char bom_matched; /* BOM bytes seen at stream start so far */
    unsigned char bom_done;    /* past the point where a BOM may appear */
    unsigned char after_cr;    /* previous piece ended in CR: skip one leading LF */
    unsigned char has_data;    /* a data line was seen in this block */
    unsigned char keep_raw;    /* track raw bytes (mg_sse_keep_raw) */
    unsigned char failed;      /* an event exceeded max_event_bytes */
} mg_sse_parser;

/* Ready the parser (any previous content is forgotten, not freed). */
void mg_sse_init(mg_sse_parser *p, mg_sse_event_cb cb, void *ud, size_t max_event_bytes);
/* Ask for raw bytes (mg_sse_raw). Call after init, before the first feed. */
void mg_sse_keep_raw(mg_sse_parser *p);
/* Parse a piece; the callback fires for each event completed by it.
 * MG_OK, or MG_ERR once an event exceeds max_event_bytes. */
int mg_sse_feed(mg_sse_parser *p, const char *data, size_t len);
/* Inside the callback, with keep_raw: the event's wire bytes. */
const char *mg_sse_raw(const mg_sse_parser *p, size_t *len);
/* With keep_raw, between feeds: bytes received after the last dispatched
 * event (an unterminated block, trailing comments). */
const char *mg_sse_raw_pending(const mg_sse_parser *p, size_t *len);
void mg_sse_free(mg_sse_parser *p);

#endif
