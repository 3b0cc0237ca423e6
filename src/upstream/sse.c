/* sse.c — incremental text/event-stream parser (see sse.h for the exact
 * semantics). Lines are found with memchr; a line that lies whole inside
 * one piece is parsed in place, only lines split across pieces are copied. */
#include "sse.h"

#include <string.h>

static const unsigned char utf8_bom[3] = {0xEF, 0xBB, 0xBF};

void mg_sse_init(mg_sse_parser *p, mg_sse_event_cb cb, void *ud, size_t max_event_bytes)
{
    memset(p, 0, sizeof *p);
    p->cb = cb;
    p->ud = ud;
    p->max_event_bytes = max_event_bytes ? max_event_bytes : MG_SSE_DEFAULT_MAX_EVENT;
}

void mg_sse_keep_raw(mg_sse_parser *p) { p->keep_raw = 1; }

void mg_sse_free(mg_sse_parser *p)
{
    mg_buf_free(&p->line);
    mg_buf_free(&p->event);
    mg_buf_free(&p->data);
    mg_buf_free(&p->raw);
}

const char *mg_sse_raw(const mg_sse_parser *p, size_t *len)
{
    *len = p->raw_len;
    return p->raw_ptr ? p->raw_ptr : "";
}

const char *mg_sse_raw_pending(const mg_sse_parser *p, size_t *len)
{
    *len = mg_buf_unread(&p->raw);
    return p->raw.data ? mg_buf_rptr(&p->raw) : "";
}

/* Count n more wire bytes toward the event size bound. */
static int count_bytes(mg_sse_parser *p, size_t n)
{
    p->event_bytes += n;
    if (p->event_bytes > p->max_event_bytes) {
        p->failed = 1;
        return MG_ERR;
    }
    return MG_OK;
}

/* Offset of the first CR or LF in s[0..n), or n. */
static size_t find_eol(const char *s, size_t n)
{
    const char *lf = memchr(s, '\n', n);
    size_t upto = lf ? (size_t)(lf - s) : n;
    const char *cr = memchr(s, '\r', upto);
    return cr ? (size_t)(cr - s) : upto;
}

static int field_is(const char *name, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(name, lit, n) == 0;
}

static void take_field(mg_sse_parser *p, const char *line, size_t n)
{
    const char *colon = memchr(line, ':', n);
    size_t name_len = colon ? (size_t)(colon - line) : n;
    const char *value = colon ? colon + 1 : line + n;
    size_t value_len = (size_t)(line + n - value);
    if (value_len && value[0] == ' ') {
        value++;
        value_len--;
    }
    if (field_is(line, name_len, "data")) {
        if (p->has_data)
            mg_buf_append(&p->data, "\n", 1);
        mg_buf_append(&p->data, value, value_len);
        p->has_data = 1;
    } else if (field_is(line, name_len, "event")) {
        mg_buf_reset(&p->event);
        mg_buf_append(&p->event, value, value_len);
    }
    /* "id", "retry" and unknown fields: accepted, not used by the gateway. */
}

/* The block ended at offset raw_end of the current piece. */
static void end_block(mg_sse_parser *p, size_t raw_end)
{
    int dispatch = p->has_data || p->event.len > 0;
    if (dispatch) {
        if (p->keep_raw) {
            if (p->raw.len == 0) {
                p->raw_ptr = p->piece + p->raw_start;
                p->raw_len = raw_end - p->raw_start;
            } else {
                mg_buf_append(&p->raw, p->piece + p->raw_start, raw_end - p->raw_start);
                p->raw_ptr = mg_buf_rptr(&p->raw);
                p->raw_len = mg_buf_unread(&p->raw);
            }
        }
        p->cb(p->ud, mg_buf_cstr(&p->event), p->event.len, mg_buf_cstr(&p->data), p->data.len);
        p->raw_ptr = NULL;
        p->raw_len = 0;
        mg_buf_reset(&p->raw);
        p->raw_start = raw_end;
    }
    if (dispatch || !p->keep_raw)
        p->event_bytes = 0;
    mg_buf_reset(&p->event);
    mg_buf_reset(&p->data);
    p->has_data = 0;
}

/* One complete line (without its end); raw_end is where its line end
 * finishes in the current piece. */
static void take_line(mg_sse_parser *p, const char *line, size_t n, size_t raw_end)
{
    if (n == 0)
        end_block(p, raw_end);
    else if (line[0] != ':')
        take_field(p, line, n);
}

/* Drop a BOM at stream start, even one split across pieces. Returns how
 * many bytes of the piece it used. */
static size_t skip_bom(mg_sse_parser *p, const char *data, size_t len)
{
    size_t i = 0;
    while (!p->bom_done && i < len) {
        if ((unsigned char)data[i] == utf8_bom[p->bom_matched]) {
            i++;
            if (++p->bom_matched == sizeof utf8_bom)
                p->bom_done = 1;
            continue;
        }
        /* Not a BOM after all: the bytes matched so far are line text (they
         * hold no CR or LF). */
        mg_buf_append(&p->line, utf8_bom, p->bom_matched);
        p->bom_done = 1;
    }
    return i;
}

static int parse_piece(mg_sse_parser *p, const char *data, size_t len, size_t i)
{
    while (i < len) {
        if (p->after_cr) {
            p->after_cr = 0;
            if (data[i] == '\n') {
                if (count_bytes(p, 1) != MG_OK)
                    return MG_ERR;
                i++;
                continue;
            }
        }
        size_t eol = i + find_eol(data + i, len - i);
        if (eol == len) { /* the line goes on in the next piece */
            if (count_bytes(p, len - i) != MG_OK)
                return MG_ERR;
            mg_buf_append(&p->line, data + i, len - i);
            return MG_OK;
        }
        size_t next = eol + 1;
        if (data[eol] == '\r') {
            if (next < len && data[next] == '\n')
                next++;
            else if (next == len)
                p->after_cr = 1;
        }
        if (count_bytes(p, next - i) != MG_OK)
            return MG_ERR;
        if (p->line.len == 0) {
            take_line(p, data + i, eol - i, next);
        } else {
            mg_buf_append(&p->line, data + i, eol - i);
            take_line(p, p->line.data, p->line.len, next);
            mg_buf_reset(&p->line);
        }
        i = next;
    }
    return MG_OK;
}

int mg_sse_feed(mg_sse_parser *p, const char *data, size_t len)
{
    if (p->failed)
        return MG_ERR;
    if (len == 0)
        return MG_OK;
    p->piece = data;
    p->raw_start = 0;
    size_t i = skip_bom(p, data, len);
    if (i && count_bytes(p, i) != MG_OK)
        return MG_ERR;
    int rc = parse_piece(p, data, len, i);
    if (rc == MG_OK && p->keep_raw)
        mg_buf_append(&p->raw, data + p->raw_start, len - p->raw_start);
    p->piece = NULL;
    return rc;
}
