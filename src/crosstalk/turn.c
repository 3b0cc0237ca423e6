/* turn.c — one turn's request: a streaming chat completion through the
 * gateway's own pipeline (mg_px_internal_start), tagged with the session
 * id. The sink parses the OpenAI SSE chunks the pipeline sends back (in the
 * request's format, whatever the provider speaks), keeps the reply text,
 * publishes it in small batches as it arrives, and copies the finished
 * record's figures. It never touches Lua or frees anything: on_done only
 * marks the turn done and kicks the session (session.c).
 * Ownership: the session owns the turn; an orphaned turn (its session
 * ended while its request could not be cancelled) frees itself in on_done.
 * Uses proxy/internal.h, upstream/sse.h, jansson. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct-t.h"

static void append_text(ct_turn *t, const char *s, size_t n)
{
    size_t room = t->text.len < CT_MAX_TEXT ? CT_MAX_TEXT - t->text.len : 0;
    if (n > room) { /* cut at a character boundary, never inside UTF-8 */
        n = room;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    if (n)
        mg_buf_append(&t->text, s, n);
}

static void publish_pending(ct_turn *t, int force)
{
    size_t pending = t->text.len - t->published;
    double now = mg_now_mono();
    if (!pending || !t->s)
        return;
    if (!force && pending < CT_TOKEN_BATCH_BYTES && now - t->last_publish < CT_TOKEN_BATCH_SECS)
        return;
    ct_emit_tokens(t->s, t->text.data + t->published, pending);
    t->published = t->text.len;
    t->last_publish = now;
}

void ct_turn_flush_tokens(ct_turn *t) { publish_pending(t, 1); }

static void keep_error(ct_turn *t, const char *msg, size_t n)
{
    mg_buf_reset(&t->err_body);
    mg_buf_append(&t->err_body, msg, MG_MIN(n, (size_t)CT_MAX_ERR_BODY));
}

static void on_event(void *ud, const char *event, size_t elen, const char *data, size_t dlen)
{
    MG_UNUSED(event);
    MG_UNUSED(elen);
    ct_turn *t = ud;
    if (dlen == 6 && memcmp(data, "[DONE]", 6) == 0)
        return;
    json_t *j = json_loadb(data, dlen, 0, NULL);
    if (!j)
        return;
    const char *err = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    if (err)
        keep_error(t, err, strlen(err));
    json_t *delta = json_object_get(json_array_get(json_object_get(j, "choices"), 0), "delta");
    json_t *content = json_object_get(delta, "content");
    if (json_is_string(content) && json_string_length(content)) {
        append_text(t, json_string_value(content), json_string_length(content));
        publish_pending(t, 0);
    }
    json_decref(j);
}

static void on_head(void *ud, int status, const char *ctype)
{
    ct_turn *t = ud;
    t->http_status = status;
    t->is_sse = ctype && strstr(ctype, "text/event-stream") != NULL;
}

static int on_data(void *ud, const char *data, size_t len)
{
    ct_turn *t = ud;
    if (!t->s)
        return MG_OK;
    if (t->is_sse)
        mg_sse_feed(&t->sse, data, len); /* an oversized event fails the parser: text stops */
    else if (t->err_body.len < CT_MAX_ERR_BODY)
        mg_buf_append(&t->err_body, data, MG_MIN(len, CT_MAX_ERR_BODY - t->err_body.len));
    return MG_OK;
}

/* The message of an error body ({"error":{"message":...}}), else its text. */
static void error_text(ct_turn *t, const mg_record *rec, char *out, size_t n)
{
    if (rec->error && *rec->error) {
        snprintf(out, n, "%s", rec->error);
        return;
    }
    json_t *j = t->err_body.len ? json_loadb(t->err_body.data, t->err_body.len, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    if (msg)
        snprintf(out, n, "%s", msg);
    else if (t->err_body.len && !j)
        snprintf(out, n, "%.*s", (int)MG_MIN(t->err_body.len, n - 1), t->err_body.data);
    else
        snprintf(out, n, "HTTP %d", t->http_status);
    if (j)
        json_decref(j);
}

static void copy_outcome(ct_turn *t, const mg_record *rec)
{
    ct_outcome *o = &t->out;
    snprintf(o->status, sizeof o->status, "%s", rec->status ? rec->status : "error");
    snprintf(o->request_id, sizeof o->request_id, "%s", rec->id ? rec->id : "");
    snprintf(o->provider, sizeof o->provider, "%s", rec->provider ? rec->provider : "");
    snprintf(o->model_routed, sizeof o->model_routed, "%s",
             rec->model_routed ? rec->model_routed : "");
    o->ok = strcmp(o->status, "success") == 0 && rec->http_status < 400 && t->is_sse;
    if (!o->ok)
        error_text(t, rec, o->error, sizeof o->error);
    o->tokens_in = rec->tokens_input;
    o->tokens_out = rec->tokens_output;
    o->cost = rec->cost;
    o->duration_ms = rec->duration_ms;
    o->ttft_ms = rec->ttft_ms;
}

static void on_done(void *ud, const mg_record *rec)
{
    ct_turn *t = ud;
    t->px = NULL;
    if (!t->s) { /* orphaned by a session that had to end without us */
        ct_turn_free(t);
        return;
    }
    copy_outcome(t, rec);
    t->done = 1;
    ct_session_kick(t->s, 0);
}

static const mg_px_sink turn_sink = {.on_head = on_head, .on_data = on_data, .on_done = on_done};

int ct_turn_start(ct_session *s, char *err, size_t errlen)
{
    ct_turn *t = mg_xcalloc(1, sizeof *t);
    t->s = s;
    t->t_start = t->last_publish = mg_now_mono();
    mg_sse_init(&t->sse, on_event, t, 0);
    mg_px_internal_req r = {
        .path = "/v1/chat/completions",
        .body = s->plan.body,
        .body_len = s->plan.body_len,
        .headers = s->plan.headers,
        .nheaders = s->plan.nheaders,
        .crosstalk_session = s->id,
        .key_id = s->info.key_id,
    };
    s->turn = t;
    t->px = mg_px_internal_start(s->w, &r, &turn_sink, t);
    if (!t->px) {
        s->turn = NULL;
        ct_turn_free(t);
        snprintf(err, errlen, "the gateway refused the turn's request path");
        return MG_ERR;
    }
    return MG_OK;
}

void ct_turn_cancel(ct_turn *t)
{
    if (t->px)
        mg_px_internal_cancel(t->px); /* on_done may fire inside */
}

void ct_turn_free(ct_turn *t)
{
    if (!t)
        return;
    mg_sse_free(&t->sse);
    mg_buf_free(&t->text);
    mg_buf_free(&t->err_body);
    free(t);
}
