/* record.c — the record stage: complete the request's one record (usage,
 * cost, timings, attempts) and hand it to the store. Cost uses the routed
 * model's price; original cost the requested model's, so savings show what
 * routing changed. Unknown models cost 0 and are flagged, never guessed. */
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "px-t.h"

static double price_of(const mg_model_info *m, const mg_usage *u)
{
    long cached = u->cached_read, written = u->cache_write;
    long fresh_in = u->input - cached - written;
    if (fresh_in < 0)
        fresh_in = 0;
    double reasoning_price = m->price_reasoning > 0 ? m->price_reasoning : m->price_output;
    double cached_price = m->price_cached_read > 0 ? m->price_cached_read : m->price_input;
    double write_price = m->price_cache_write > 0 ? m->price_cache_write : m->price_input;
    long plain_out = u->output - u->reasoning;
    if (plain_out < 0)
        plain_out = 0;
    return ((double)fresh_in * m->price_input + (double)cached * cached_price +
            (double)written * write_price + (double)plain_out * m->price_output +
            (double)u->reasoning * reasoning_price) / 1e6;
}

static void fill_cost(mg_px *px, mg_record *r)
{
    const mg_model_info *routed = r->model_routed ? mg_config_model(px->cfg, r->model_routed) : NULL;
    /* Routing usually keeps the model: one lookup then serves both. */
    const mg_model_info *asked =
        !px->model ? NULL
        : r->model_routed && strcmp(px->model, r->model_routed) == 0 ? routed
                                                                     : mg_config_model(px->cfg, px->model);
    if (!routed) {
        r->cost_unknown = r->model_routed != NULL && r->tokens_total > 0;
        return;
    }
    r->cost = price_of(routed, &px->usage);
    r->original_cost = asked ? price_of(asked, &px->usage) : r->cost;
    r->savings = r->original_cost - r->cost;
}

/* A stream cut before usage arrived: estimate, and say so. */
static void estimate_usage(mg_px *px)
{
    if (px->usage.seen || !px->cur)
        return;
    if (px->up_status < 200 || px->up_status >= 300)
        return;
    px->usage.input = (long)(px->raw_body_len / 4);
    /* Stream bytes carry JSON framing around the text: ~16 bytes a token
     * is a rough guess, never more than the client allowed. */
    px->usage.output = MG_MIN(px->content_bytes / 16, mg_px_max_tokens(px));
    px->rec->tokens_estimated = 1;
}

static void fill_usage(mg_px *px, mg_record *r)
{
    estimate_usage(px);
    r->tokens_input = px->usage.input;
    r->tokens_output = px->usage.output;
    r->tokens_reasoning = px->usage.reasoning;
    r->tokens_cached_read = px->usage.cached_read;
    r->tokens_cache_write = px->usage.cache_write;
    r->tokens_tool_use = px->usage.tool_use;
    r->tokens_audio = px->usage.audio;
    r->tokens_total = px->usage.input + px->usage.output;
}

static void fill_timings(mg_px *px, mg_record *r)
{
    double end = mg_now_mono();
    r->duration_ms = (end - px->t_start) * 1e3;
    double first_up = px->t_first_attempt ? px->t_first_attempt : end;
    r->gateway_ms = (first_up - px->t_start) * 1e3;
    if (px->t_first_up_byte && px->t_last_up_byte >= px->t_first_up_byte)
        r->generation_ms = (px->t_last_up_byte - px->t_first_up_byte) * 1e3;
    if (px->t_first_client_byte)
        r->ttft_ms = (px->t_first_client_byte - px->t_start) * 1e3;
    if (r->generation_ms > 0 && r->tokens_output > 0)
        r->tokens_per_second = (double)r->tokens_output / (r->generation_ms / 1e3);
}

/* "[" items "]" in one exact allocation the record owns. */
static void set_attempts_json(mg_record *r, const mg_buf *items)
{
    char *json = mg_xmalloc(items->len + 3);
    json[0] = '[';
    memcpy(json + 1, items->data, items->len);
    json[items->len + 1] = ']';
    json[items->len + 2] = '\0';
    free(r->attempts_json);
    r->attempts_json = json;
}

void mg_px_record_finish(mg_px *px)
{
    mg_record *r = px->rec;
    if (px->cur) {
        mg_record_set_text(&r->provider, px->cur->provider->name);
        mg_record_set_text(&r->model_routed, px->cur->model);
        mg_record_set_text(&r->provider_format, mg_format_name(px->up_format));
    }
    if (!r->status)
        mg_record_set_text(&r->status, r->http_status < 400 ? "success" : "error");
    fill_usage(px, r);
    fill_cost(px, r);
    fill_timings(px, r);
    r->attempts = px->attempts;
    r->pauses = px->pauses;
    if (px->attempts_json.len)
        set_attempts_json(r, &px->attempts_json);
    if (r->http_status >= 400 || strcmp(r->status, "success") != 0)
        atomic_fetch_add(&px->w->stats.errors, 1);
    if (px->internal)
        mg_px_internal_finished(px->internal, r);
    mg_keys_release(px->w->gw->keys, &px->lease, r->cost, (long)r->tokens_total);
    mg_gateway_record(px->w, r);
    px->rec = NULL; /* the gateway owns it now */
}
