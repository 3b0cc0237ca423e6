/* buf.h — a growable byte buffer. A zeroed mg_buf is a valid empty buffer.
 * The buffer owns its memory; mg_buf_free releases it. `off` lets a reader
 * consume from the front without moving bytes on every read. */
#ifndef MG_BUF_H
#define MG_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "common.h"

typedef struct mg_buf {
    char *data;
    size_t len; /* bytes in data[0..len) */
    size_t off; /* bytes before off are consumed */
    size_t cap;
} mg_buf;

void mg_buf_free(mg_buf *b);
void mg_buf_reset(mg_buf *b);                 /* empty, keep capacity */
void mg_buf_reserve(mg_buf *b, size_t extra); /* room for extra more bytes */
void mg_buf_append(mg_buf *b, const void *p, size_t n);
void mg_buf_append_str(mg_buf *b, const char *s);
void mg_buf_printf(mg_buf *b, const char *fmt, ...) MG_PRINTF(2, 3);
void mg_buf_vprintf(mg_buf *b, const char *fmt, va_list ap);
void mg_buf_consume(mg_buf *b, size_t n);     /* drop n unread bytes */
void mg_buf_compact(mg_buf *b);               /* move unread bytes to front */
/* Append s as a JSON string literal (with quotes and escapes). */
void mg_buf_append_json_str(mg_buf *b, const char *s, size_t n);
/* NUL-terminate without changing len (needs one spare byte). */
const char *mg_buf_cstr(mg_buf *b);

static inline size_t mg_buf_unread(const mg_buf *b) { return b->len - b->off; }
static inline const char *mg_buf_rptr(const mg_buf *b) { return b->data + b->off; }

#endif
