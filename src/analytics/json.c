/* json.c — the JSON writer analytics replies are built with (commas and
 * nesting tracked, numbers that are not finite written as null), the error
 * reply, and the reply's lifecycle. Uses core (buf) and SQLite column
 * accessors (see an.h). */
#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "an.h"

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    static const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* A JSON string literal of s[0..n); bytes that are not UTF-8 (text from
 * clients can hold anything) become U+FFFD so the reply stays valid JSON. */
static void append_text(mg_buf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n && utf8_seq(u + i, n - i))
        i += utf8_seq(u + i, n - i);
    if (i == n) { /* the common case: all valid */
        mg_buf_append_json_str(b, s, n);
        return;
    }
    mg_buf clean = {0};
    for (i = 0; i < n;) {
        size_t len = utf8_seq(u + i, n - i);
        if (len) {
            mg_buf_append(&clean, s + i, len);
            i += len;
        } else {
            mg_buf_append(&clean, "\xef\xbf\xbd", 3);
            i++;
        }
    }
    mg_buf_append_json_str(b, clean.data, clean.len);
    mg_buf_free(&clean);
}

void mg_an_json_init(mg_an_json *w, mg_buf *b)
{
    memset(w, 0, sizeof *w);
    w->b = b;
}

/* Comma and key before a value at the current depth. */
static void item(mg_an_json *w, const char *key)
{
    if (w->has_items[w->depth])
        mg_buf_append(w->b, ",", 1);
    w->has_items[w->depth] = 1;
    if (key) {
        append_text(w->b, key, strlen(key));
        mg_buf_append(w->b, ":", 1);
    }
}

static void open_scope(mg_an_json *w, const char *key, char open, char close)
{
    item(w, key);
    mg_buf_append(w->b, &open, 1);
    /* Nesting depth is fixed by our own reply shapes. */
    assert(w->depth + 1 < MG_AN_JSON_DEPTH);
    w->depth++;
    w->has_items[w->depth] = 0;
    w->closer[w->depth] = close;
}

void mg_an_json_obj(mg_an_json *w, const char *key) { open_scope(w, key, '{', '}'); }
void mg_an_json_arr(mg_an_json *w, const char *key) { open_scope(w, key, '[', ']'); }

void mg_an_json_end(mg_an_json *w)
{
    assert(w->depth > 0);
    mg_buf_append(w->b, &w->closer[w->depth], 1);
    w->depth--;
}

void mg_an_json_int(mg_an_json *w, const char *key, int64_t v)
{
    item(w, key);
    mg_buf_printf(w->b, "%lld", (long long)v);
}

void mg_an_json_real(mg_an_json *w, const char *key, double v)
{
    item(w, key);
    /* 15 significant digits: sums like 0.1 + 0.2 print as 0.3. */
    if (isfinite(v))
        mg_buf_printf(w->b, "%.15g", v == 0 ? 0.0 : v);
    else
        mg_buf_append_str(w->b, "null");
}

void mg_an_json_str(mg_an_json *w, const char *key, const char *s)
{
    item(w, key);
    if (s)
        append_text(w->b, s, strlen(s));
    else
        mg_buf_append_str(w->b, "null");
}

void mg_an_json_bool(mg_an_json *w, const char *key, int v)
{
    item(w, key);
    mg_buf_append_str(w->b, v ? "true" : "false");
}

void mg_an_json_null(mg_an_json *w, const char *key)
{
    item(w, key);
    mg_buf_append_str(w->b, "null");
}

void mg_an_json_col(mg_an_json *w, const char *key, sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        mg_an_json_int(w, key, sqlite3_column_int64(st, i));
        break;
    case SQLITE_FLOAT:
        mg_an_json_real(w, key, sqlite3_column_double(st, i));
        break;
    case SQLITE_NULL:
        mg_an_json_null(w, key);
        break;
    default: {
        /* TEXT, or a BLOB nobody should have stored: shown as text. */
        const char *s = (const char *)sqlite3_column_text(st, i);
        item(w, key);
        append_text(w->b, s ? s : "", s ? (size_t)sqlite3_column_bytes(st, i) : 0);
    }
    }
}

double mg_an_ratio(double num, double den) { return den != 0 ? num / den : 0.0; }

/* ---- replies ------------------------------------------------------------ */

void mg_an_result_free(mg_an_result *r)
{
    mg_buf_free(&r->body);
    mg_buf_free(&r->headers);
}

void mg_an_fail(mg_an_result *r, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->status = status;
    r->content_type = "application/json";
    r->truncated = 0;
    mg_buf_reset(&r->body);
    mg_buf_reset(&r->headers);
    mg_an_json w;
    mg_an_json_init(&w, &r->body);
    mg_an_json_obj(&w, NULL);
    mg_an_json_obj(&w, "error");
    mg_an_json_str(&w, "message", msg);
    mg_an_json_int(&w, "code", status);
    mg_an_json_end(&w);
    mg_an_json_end(&w);
}

void mg_an_begin_json(mg_an_ctx *c, mg_an_json *w, int with_range)
{
    c->out->status = 200;
    c->out->content_type = "application/json";
    mg_buf_reset(&c->out->body);
    mg_an_json_init(w, &c->out->body);
    mg_an_json_obj(w, NULL);
    if (with_range) {
        mg_an_json_int(w, "from", c->filter->from_ms);
        mg_an_json_int(w, "to", c->filter->to_ms);
    }
}

void mg_an_end_json(mg_an_ctx *c, mg_an_json *w)
{
    MG_UNUSED(c);
    while (w->depth > 0)
        mg_an_json_end(w);
}
