/* buf.c — growable byte buffer (see buf.h). */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mg_buf_free(mg_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->off = b->cap = 0;
}

void mg_buf_reset(mg_buf *b) { b->len = b->off = 0; }

void mg_buf_compact(mg_buf *b)
{
    if (b->off == 0)
        return;
    size_t unread = b->len - b->off;
    if (unread)
        memmove(b->data, b->data + b->off, unread);
    b->len = unread;
    b->off = 0;
}

void mg_buf_reserve(mg_buf *b, size_t extra)
{
    if (b->cap - b->len > extra)
        return;
    /* Reclaim consumed space first when it is at least half the buffer. */
    if (b->off && b->off >= b->cap / 2) {
        mg_buf_compact(b);
        if (b->cap - b->len > extra)
            return;
    }
    size_t want = b->len + extra + 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap *= 2;
    b->data = mg_xrealloc(b->data, cap);
    b->cap = cap;
}

void mg_buf_append(mg_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    mg_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void mg_buf_append_str(mg_buf *b, const char *s) { mg_buf_append(b, s, strlen(s)); }

void mg_buf_vprintf(mg_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    mg_buf_reserve(b, 128);
    int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    if (n >= 0 && (size_t)n >= b->cap - b->len) {
        mg_buf_reserve(b, (size_t)n + 1);
        n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
    }
    va_end(ap2);
    if (n > 0)
        b->len += (size_t)n;
}

void mg_buf_printf(mg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mg_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void mg_buf_consume(mg_buf *b, size_t n)
{
    size_t unread = b->len - b->off;
    if (n >= unread) {
        b->len = b->off = 0;
        return;
    }
    b->off += n;
}

static int json_plain(unsigned char c) { return c >= 0x20 && c != '"' && c != '\\' && c != 0x7f; }

/* Appends the escape for one byte that is not json_plain. */
static void append_json_escape(mg_buf *b, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    if (c == '"' || c == '\\') {
        char esc[2] = {'\\', (char)c};
        mg_buf_append(b, esc, 2);
    } else if (c == '\n') {
        mg_buf_append(b, "\\n", 2);
    } else if (c == '\r') {
        mg_buf_append(b, "\\r", 2);
    } else if (c == '\t') {
        mg_buf_append(b, "\\t", 2);
    } else {
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        mg_buf_append(b, esc, 6);
    }
}

/* Runs of bytes that need no escape are copied whole: most strings are one
 * run, and this runs for every record and live event. */
void mg_buf_append_json_str(mg_buf *b, const char *s, size_t n)
{
    mg_buf_reserve(b, n + 2);
    b->data[b->len++] = '"';
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && json_plain((unsigned char)s[run]))
            run++;
        mg_buf_append(b, s + i, run - i);
        if (run == n)
            break;
        append_json_escape(b, (unsigned char)s[run]);
        i = run + 1;
    }
    mg_buf_append(b, "\"", 1);
}

const char *mg_buf_cstr(mg_buf *b)
{
    mg_buf_reserve(b, 1);
    b->data[b->len] = '\0';
    return b->data + b->off;
}
