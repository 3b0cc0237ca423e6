/* outcome.c — what an upstream attempt's end means: a response for the
 * client, a clean or broken end of a stream, or a move to the next target.
 * Only upstream faults (connect errors, timeouts, 5xx, 429) move on; a
 * client error (400, 401, 413...) is the client's answer. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "px-t.h"

/* Appends v as decimal digits. */
static void put_uint(mg_buf *a, uint64_t v)
{
    char digits[24];
    char *p = digits + sizeof digits;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    mg_buf_append(a, p, (size_t)(digits + sizeof digits - p));
}

/* ms with three decimals, exactly as "%.3f" prints it: every attempt of
 * every request writes one, and printf's float path is the slow one.
 * Below 1e7 ms the product's rounding error is under 1e-6, so it rounds
 * the way printf's exact decimal does unless it sits within 1e-4 of a
 * half; those, and values out of range (negative, huge, NaN), go to
 * printf. */
static void put_ms3(mg_buf *a, double ms)
{
    double x = ms * 1e3;
    if (!(ms >= 0 && ms < 1e7) || fabs(x - floor(x) - 0.5) < 1e-4) {
        mg_buf_printf(a, "%.3f", ms);
        return;
    }
    uint64_t thousandths = (uint64_t)llround(x);
    put_uint(a, thousandths / 1000);
    char frac[4] = {'.', (char)('0' + thousandths / 100 % 10),
                    (char)('0' + thousandths / 10 % 10), (char)('0' + thousandths % 10)};
    mg_buf_append(a, frac, sizeof frac);
}

void mg_px_note_attempt(mg_px *px, int status, const char *result)
{
    mg_buf *a = &px->attempts_json;
    if (a->len) /* items only; record.c adds the brackets */
        mg_buf_append_str(a, ",");
    const char *prov = px->cur ? px->cur->provider->name : "";
    const char *model = px->cur ? px->cur->model : "";
    mg_buf_append_str(a, "{\"provider\":");
    mg_buf_append_json_str(a, prov, strlen(prov));
    mg_buf_append_str(a, ",\"model\":");
    mg_buf_append_json_str(a, model, strlen(model));
    mg_buf_append_str(a, ",\"status\":");
    if (status < 0) {
        mg_buf_append_str(a, "-");
        put_uint(a, (uint64_t)-(int64_t)status);
    } else {
        put_uint(a, (uint64_t)status);
    }
    mg_buf_append_str(a, ",\"result\":");
    mg_buf_append_json_str(a, result, strlen(result));
    mg_buf_append_str(a, ",\"duration_ms\":");
    put_ms3(a, (mg_now_mono() - px->t_up_start) * 1e3);
    mg_buf_append_str(a, "}");
}

static void transport_failure(mg_px *px, int result, const char *errmsg)
{
    const char *name = mg_up_result_name(result);
    int timeout = mg_up_result_is_timeout(result);
    px->last_fail_status = timeout ? 504 : 502;
    px->last_fail_kind = timeout ? "timeout_error" : "api_error";
    px->last_fail_passthrough = 0;
    if (result == MG_UP_ERR_LOCAL_LIMIT) {
        px->last_fail_status = 503;
        px->last_fail_kind = "overloaded_error";
        snprintf(px->last_fail_msg, sizeof px->last_fail_msg,
                 "the gateway has no socket left for provider '%s' (%s); it is at its open-file "
                 "limit: retry shortly, or raise `ulimit -n` for the gateway",
                 px->cur->provider->name, errmsg && *errmsg ? errmsg : name);
        mg_px_note_attempt(px, 0, name);
        return;
    }
    snprintf(px->last_fail_msg, sizeof px->last_fail_msg, "provider '%s' failed: %s%s%s",
             px->cur->provider->name, name, errmsg && *errmsg ? ": " : "",
             errmsg ? errmsg : "");
    mg_px_note_attempt(px, 0, name);
}

/* The non-streaming answer, after the on_response hook had its say. */
static void respond_final(mg_px *px, mg_buf *body)
{
    mg_buf extra = {0};
    mg_px_hook_on_response(px, body, &extra);
    px->extra_client_headers = extra.len ? mg_buf_cstr(&extra) : NULL;
    mg_px_respond_json(px, px->up_status, body->data ? body->data : "", body->len);
    px->extra_client_headers = NULL;
    mg_buf_free(&extra);
}

static void finish_json(mg_px *px)
{
    if (px->up_body.len)
        mg_px_usage_from_body(px->up_format, px->up_body.data, px->up_body.len, &px->usage);
    mg_record_set_text(&px->rec->status, "success");
    if (px->converting) {
        mg_buf client = {0};
        char err[512];
        if (mg_px_convert_response(px, px->up_body.data ? px->up_body.data : "", px->up_body.len,
                                   &client, err, sizeof err) != MG_OK) {
            mg_buf_free(&client);
            mg_record_set_text(&px->rec->status, "error");
            mg_px_fail(px, 502, "api_error", "cannot convert the response of provider '%s': %s",
                       px->cur->provider->name, err);
            return;
        }
        respond_final(px, &client);
        mg_buf_free(&client);
        return;
    }
    respond_final(px, &px->up_body);
}

/* Whether the attempt moves on to the next target and whether it counts
 * against the provider's breaker: upstream faults (transport errors, 5xx,
 * 429) do by default; a classify_error hook may decide otherwise. */
static void classify(mg_px *px, int result, int *retry)
{
    int failed = result != MG_UP_OK || px->up_status >= 400;
    int fault = result != MG_UP_OK || px->up_status >= 500 || px->up_status == 429;
    int breaker = fault;
    *retry = fault;
    if (result == MG_UP_ERR_LOCAL_LIMIT) { /* the gateway's shortage, not the provider's */
        *retry = breaker = 0;
        failed = 0; /* nothing for a classify_error hook to judge */
    }
    if (failed && !px->committed)
        mg_px_hook_classify(px, result, retry, &breaker);
    if (px->breaker_pending) {
        mg_breaker_report(px->w->gw->breakers, px->cur->provider, breaker, mg_now_mono());
        px->breaker_pending = 0;
    }
}

void mg_px_attempt_done(mg_px *px, int result, const char *errmsg)
{
    px->rec->upstream_status = px->up_status;
    int retry;
    classify(px, result, &retry);
    if (px->committed) {
        mg_px_note_attempt(px, px->up_status, result == MG_UP_OK ? "ok" : mg_up_result_name(result));
        mg_px_stream_end(px, result, errmsg);
        px->state = MG_PX_ST_DONE;
        return;
    }
    if (px->client_gone)
        return;
    if (result != MG_UP_OK) {
        transport_failure(px, result, errmsg);
        if (!retry)
            px->next_target = px->ntargets;
        mg_px_stage_upstream(px);
        return;
    }
    if (px->up_status >= 400) {
        px->last_fail_status = px->up_status;
        px->last_fail_kind = NULL;
        px->last_fail_passthrough = 1;
        snprintf(px->last_fail_msg, sizeof px->last_fail_msg, "provider '%s' answered %d",
                 px->cur->provider->name, px->up_status);
        mg_px_note_attempt(px, px->up_status, "http_error");
        if (!retry)
            px->next_target = px->ntargets; /* the client's answer: no failover */
        mg_px_stage_upstream(px);
        return;
    }
    if (px->stream && !strstr(px->up_ctype, "event-stream") && px->up_status < 300) {
        px->last_fail_status = 502;
        px->last_fail_kind = "api_error";
        px->last_fail_passthrough = 0;
        snprintf(px->last_fail_msg, sizeof px->last_fail_msg,
                 "provider '%s' answered a stream request with content-type '%s'",
                 px->cur->provider->name, px->up_ctype[0] ? px->up_ctype : "(none)");
        mg_px_note_attempt(px, px->up_status, "wrong_content_type");
        mg_px_stage_upstream(px);
        return;
    }
    mg_px_note_attempt(px, px->up_status, "ok");
    px->state = MG_PX_ST_DONE;
    finish_json(px);
}
