/* h1_parse.c — a native transfer's response as http_parser reads it
 * (h1_xfer.c runs the parser): status and headers into the transfer's
 * spans (with the limits and the checks http_parser leaves to us: a
 * 3-digit status, no control characters in a field), on_response when
 * the head is complete, 1xx heads skipped with any body they claim, body
 * bytes gathered in x->held, and a pause at the response's end so bytes
 * after it are never read as ours. Uses up_internal.h. */
#include <stdio.h>
#include <string.h>

#include "up_internal.h"

static int on_message_begin(http_parser *p)
{
    mg_up_xfer *x = p->data;
    mg_up_reset_headers(x);
    x->h1_in_field = 0;
    x->h1_interim = 0;
    return 0;
}

/* RFC 9110: no control characters but HTAB in a field (http_parser, built
 * lenient, lets a NUL through, which would cut the NUL-terminated copy). */
static int has_control(const char *at, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)at[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 1;
    }
    return 0;
}

static int bad_header(mg_up_xfer *x)
{
    x->local_result = MG_UP_ERR_IO;
    snprintf(x->errbuf, sizeof x->errbuf, "malformed response: a control character in a header");
    return -1;
}

static int header_limit(mg_up_xfer *x)
{
    x->local_result = MG_UP_ERR_IO;
    snprintf(x->errbuf, sizeof x->errbuf, "response headers past %u bytes or %u lines",
             MG_UP_MAX_RESP_HEADER_BYTES, MG_UP_MAX_RESP_HEADERS);
    return -1;
}

/* Ends the value being collected: trailing blanks go, a NUL follows. */
static void end_value(mg_up_xfer *x)
{
    if (x->nhdrs == 0 || x->h1_in_field)
        return;
    mg_up_hdr_span *s = &x->spans[x->nhdrs - 1];
    const char *v = x->hdr_bytes.data + s->value_off;
    while (s->value_len && (v[s->value_len - 1] == ' ' || v[s->value_len - 1] == '\t'))
        s->value_len--;
    mg_buf_append(&x->hdr_bytes, "", 1);
    x->hdr_bytes.data[s->value_off + s->value_len] = '\0';
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    mg_up_xfer *x = p->data;
    if (x->responded)
        return 0; /* trailers of a chunked body: not used */
    if (has_control(at, len))
        return bad_header(x);
    if (!x->h1_in_field) {
        end_value(x);
        if (x->nhdrs == MG_UP_MAX_RESP_HEADERS)
            return header_limit(x);
        mg_up_hdr_span *s = &x->spans[x->nhdrs++];
        s->name_off = x->hdr_bytes.len;
        s->name_len = 0;
        s->value_off = s->value_len = 0;
        x->h1_in_field = 1;
    }
    if (x->hdr_bytes.len + len + 2 > MG_UP_MAX_RESP_HEADER_BYTES)
        return header_limit(x);
    mg_buf_append(&x->hdr_bytes, at, len);
    x->spans[x->nhdrs - 1].name_len += len;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    mg_up_xfer *x = p->data;
    if (x->responded || x->nhdrs == 0)
        return 0;
    if (has_control(at, len))
        return bad_header(x);
    mg_up_hdr_span *s = &x->spans[x->nhdrs - 1];
    if (x->h1_in_field) {
        mg_buf_append(&x->hdr_bytes, "", 1);
        s->value_off = x->hdr_bytes.len;
        x->h1_in_field = 0;
    }
    if (x->hdr_bytes.len + len + 2 > MG_UP_MAX_RESP_HEADER_BYTES)
        return header_limit(x);
    mg_buf_append(&x->hdr_bytes, at, len);
    s->value_len += len;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    mg_up_xfer *x = p->data;
    if (x->responded)
        return 0;
    if (x->h1_in_field) { /* a name without a value */
        mg_buf_append(&x->hdr_bytes, "", 1);
        x->spans[x->nhdrs - 1].value_off = x->hdr_bytes.len;
        x->h1_in_field = 0;
    }
    end_value(x);
    if (p->status_code < 100 || p->status_code > 999) { /* http_parser takes "HTTP/1.1 2" */
        x->local_result = MG_UP_ERR_IO;
        snprintf(x->errbuf, sizeof x->errbuf, "malformed response: status %u is not 3 digits",
                 p->status_code);
        return -1;
    }
    if (p->status_code >= 100 && p->status_code < 200 && p->status_code != 101) {
        x->h1_interim = 1; /* 100 Continue, 103 Early Hints: the real one follows */
        return 1;          /* and a 1xx has no body, whatever its headers claim */
    }
    x->status = p->status_code;
    mg_up_fire_response(x);
    if (x->state != MG_UP_ST_RUNNING)
        return -1;
    return x->h1_head ? 1 : 0; /* 1: no body follows */
}

/* Body bytes are gathered and handed over once per read (feed): a stream
 * whose events come as one chunk each then costs one on_data per read,
 * not one per event. */
static int on_body(http_parser *p, const char *at, size_t len)
{
    mg_up_xfer *x = p->data;
    if (!x->responded)
        return 0; /* never data before on_response */
    mg_buf_append(&x->held, at, len);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    mg_up_xfer *x = p->data;
    if (x->h1_interim) {
        mg_up_reset_headers(x);
        return 0;
    }
    x->h1_complete = 1;
    x->h1_keepalive = http_should_keep_alive(p) != 0;
    http_parser_pause(p, 1); /* bytes after the response are not ours */
    return 0;
}

const http_parser_settings mg_up_h1_parser_settings = {
    .on_message_begin = on_message_begin,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};
