/* xfer_io.c — libcurl's header and write callbacks for one transfer:
 * response headers are collected until the blank line that ends the final
 * (non-1xx) block, then on_response fires; body bytes go to on_data, and
 * MG_AGAIN from it pauses the receive side. These run inside libcurl, so
 * they never remove a handle or finish a transfer: a cancel from user code
 * in here only marks the transfer (xfer.c defers the rest), and we then
 * return 0 so curl stops working on it. Uses up_internal.h. */
#include <stdio.h>
#include <string.h>

#include "up_internal.h"

void mg_up_reset_headers(mg_up_xfer *x)
{
    mg_buf_reset(&x->hdr_bytes);
    x->nhdrs = 0;
    x->status = 0;
}

/* A response byte arrived: first-byte clock stops, idle clock restarts. */
void mg_up_note_activity(mg_up_xfer *x)
{
    x->last_activity = ev_now(x->u->loop);
    if (x->t_first)
        return;
    x->t_first = mg_now_mono();
    if (x->t_idle > 0)
        mg_up_watch_arm(x, MG_UP_WATCH_IDLE, x->t_idle);
    else
        mg_up_watch_stop(x);
}

static int parse_status(const char *line, size_t n)
{
    const char *sp = memchr(line, ' ', n);
    if (!sp || (size_t)(line + n - sp) < 4)
        return 0;
    int code = 0;
    for (int i = 1; i <= 3; i++) {
        char c = sp[i];
        if (c < '0' || c > '9')
            return 0;
        code = code * 10 + (c - '0');
    }
    return code;
}

static int is_ows(char c) { return c == ' ' || c == '\t'; }

/* Store one "Name: value" line; MG_ERR past the limits. */
static int store_header(mg_up_xfer *x, const char *line, size_t n)
{
    const char *colon = memchr(line, ':', n);
    if (!colon || colon == line)
        return MG_OK; /* not a header: ignored, as curl itself does */
    size_t name_len = (size_t)(colon - line);
    const char *v = colon + 1, *end = line + n;
    while (v < end && is_ows(*v))
        v++;
    while (end > v && is_ows(end[-1]))
        end--;
    size_t value_len = (size_t)(end - v);
    if (x->nhdrs == MG_UP_MAX_RESP_HEADERS ||
        x->hdr_bytes.len + name_len + value_len + 2 > MG_UP_MAX_RESP_HEADER_BYTES)
        return MG_ERR;
    mg_up_hdr_span *s = &x->spans[x->nhdrs++];
    s->name_off = x->hdr_bytes.len;
    s->name_len = name_len;
    mg_buf_append(&x->hdr_bytes, line, name_len);
    mg_buf_append(&x->hdr_bytes, "", 1);
    s->value_off = x->hdr_bytes.len;
    s->value_len = value_len;
    mg_buf_append(&x->hdr_bytes, v, value_len);
    mg_buf_append(&x->hdr_bytes, "", 1);
    return MG_OK;
}

void mg_up_fire_response(mg_up_xfer *x)
{
    if (x->responded)
        return;
    x->responded = 1;
    if (!x->status) {
        long code = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        x->status = (int)code;
    }
    for (size_t i = 0; i < x->nhdrs; i++) {
        const mg_up_hdr_span *s = &x->spans[i];
        x->hdrs[i] = (mg_header){
            .name = x->hdr_bytes.data + s->name_off,
            .value = x->hdr_bytes.data + s->value_off,
            .name_len = s->name_len,
            .value_len = s->value_len,
        };
    }
    if (x->cb.on_response)
        x->cb.on_response(x->ud, x->status, x->hdrs, x->nhdrs);
}

size_t mg_up_header_cb(char *buf, size_t size, size_t n, void *ud)
{
    mg_up_xfer *x = ud;
    size_t len = size * n;
    if (x->state != MG_UP_ST_RUNNING)
        return 0;
    mg_up_note_activity(x);
    if (x->responded)
        return len; /* trailers of a chunked body: not used */
    size_t l = len;
    while (l && (buf[l - 1] == '\r' || buf[l - 1] == '\n'))
        l--;
    if (l == 0) { /* end of a header block */
        if (x->status >= 100 && x->status < 200) {
            mg_up_reset_headers(x); /* interim (100 Continue, 103 Early Hints) */
            return len;
        }
        mg_up_fire_response(x);
        return x->state == MG_UP_ST_RUNNING ? len : 0;
    }
    if (l >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        mg_up_reset_headers(x);
        x->status = parse_status(buf, l);
        return len;
    }
    if (is_ows(buf[0]))
        return len; /* obs-fold continuation: dropped */
    if (store_header(x, buf, l) != MG_OK) {
        x->local_result = MG_UP_ERR_IO;
        snprintf(x->errbuf, sizeof x->errbuf, "response headers past %u bytes or %u lines",
                 MG_UP_MAX_RESP_HEADER_BYTES, MG_UP_MAX_RESP_HEADERS);
        return 0;
    }
    return len;
}

static void pause_receiving(mg_up_xfer *x)
{
    x->paused = 1;
    x->timings.pauses++;
    mg_up_watch_stop(x); /* waiting for our client is not upstream idleness */
    /* Allowed from inside this handle's own write callback; curl keeps
     * whatever it still holds for us until CURLPAUSE_CONT. */
    curl_easy_pause(x->easy, CURLPAUSE_RECV);
}

size_t mg_up_write_cb(char *buf, size_t size, size_t n, void *ud)
{
    mg_up_xfer *x = ud;
    size_t len = size * n;
    if (x->state != MG_UP_ST_RUNNING)
        return 0;
    /* curl may hand over more of a piece it already had after we paused:
     * have it keep those bytes until the resume. */
    if (x->paused)
        return CURL_WRITEFUNC_PAUSE;
    mg_up_note_activity(x);
    if (!x->responded) {
        mg_up_fire_response(x);
        if (x->state != MG_UP_ST_RUNNING)
            return 0;
    }
    int rc = x->cb.on_data ? x->cb.on_data(x->ud, buf, len) : MG_OK;
    if (x->state != MG_UP_ST_RUNNING)
        return 0; /* cancelled from on_data */
    if (rc == MG_AGAIN)
        pause_receiving(x);
    return len;
}
