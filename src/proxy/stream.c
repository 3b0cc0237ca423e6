/* stream.c — same-format streaming: upstream SSE bytes to the client with
 * backpressure, usage read on the way. Bytes pass through untouched unless
 * we asked an OpenAI upstream for a usage chunk the client did not want;
 * then every event's exact wire bytes pass except that chunk's (runs of
 * kept events inside one upstream piece go out without a copy). */
#include <string.h>

#include "convert_lane.h"
#include "px-t.h"

#define MG_PX_MAX_EVENT (16u << 20)

static void flush_run(mg_px *px)
{
    if (!px->run_open)
        return;
    mg_buf_append(&px->out, px->piece + px->run_from, px->run_to - px->run_from);
    px->run_open = 0;
}

static void on_sse_event(void *ud, const char *event, size_t event_len, const char *data,
                         size_t data_len)
{
    mg_px *px = ud;
    int drop = 0;
    px->content_bytes += (long)data_len;
    if (px->converting) {
        if (mg_px_event_may_have_usage(px->up_format, event, event_len, data, data_len))
            mg_px_usage_from_event(px->up_format, data, data_len, &px->usage);
        mg_px_convert_stream_event(px, event, event_len, data, data_len, &px->out);
        return;
    }
    if (mg_px_event_may_have_usage(px->up_format, event, event_len, data, data_len))
        drop = mg_px_usage_from_chunk(px->up_format, data, data_len, &px->usage) &&
               px->strip_usage_chunk;
    if (!px->strip_usage_chunk)
        return;
    if (drop) {
        flush_run(px);
        return;
    }
    size_t raw_len;
    const char *raw = mg_sse_raw(&px->sse, &raw_len);
    if (raw >= px->piece && raw + raw_len <= px->piece + px->piece_len) {
        size_t from = (size_t)(raw - px->piece);
        if (!(px->run_open && px->run_to == from)) {
            flush_run(px);
            px->run_open = 1;
            px->run_from = from;
        }
        px->run_to = from + raw_len;
        return;
    }
    flush_run(px); /* the event began in an earlier piece: its bytes were kept */
    mg_buf_append(&px->out, raw, raw_len);
}

static int send_to_client(mg_px *px, const char *data, size_t len)
{
    if (!px->http || len == 0)
        return MG_OK;
    if (!px->t_first_client_byte)
        px->t_first_client_byte = mg_now_mono();
    return mg_px_client_write(px, data, len);
}

void mg_px_stream_data(mg_px *px, const char *data, size_t len, int *pause)
{
    if (!px->sse_ready) {
        mg_sse_init(&px->sse, on_sse_event, px, MG_PX_MAX_EVENT);
        if (px->strip_usage_chunk && !px->converting)
            mg_sse_keep_raw(&px->sse);
        px->sse_ready = 1;
    }
    int rc;
    if (px->converting) {
        mg_buf_reset(&px->out);
        mg_sse_feed(&px->sse, data, len);
        mg_px_convert_stream_flush(px, &px->out);
        rc = send_to_client(px, px->out.data, px->out.len);
    } else if (px->strip_usage_chunk) {
        mg_buf_reset(&px->out);
        px->piece = data;
        px->piece_len = len;
        px->run_open = 0;
        mg_sse_feed(&px->sse, data, len);
        if (px->run_open && px->out.len == 0) {
            rc = send_to_client(px, data + px->run_from, px->run_to - px->run_from);
        } else {
            flush_run(px);
            rc = send_to_client(px, px->out.data, px->out.len);
        }
        px->piece = NULL;
        px->run_open = 0;
    } else {
        rc = send_to_client(px, data, len);
        mg_sse_feed(&px->sse, data, len);
    }
    if (rc == MG_AGAIN) {
        *pause = 1;
        px->up_paused = 1;
        px->pauses++;
        atomic_fetch_add(&px->w->stats.upstream_pauses, 1);
    }
}

void mg_px_stream_end(mg_px *px, int result, const char *errmsg)
{
    if (result == MG_UP_OK) {
        mg_record_set_text(&px->rec->status, "success");
        if (px->converting && px->http) {
            mg_buf_reset(&px->out);
            mg_px_convert_stream_finish(px, &px->out);
            send_to_client(px, px->out.data, px->out.len);
        }
        if (px->http) {
            px->rec->bytes_out = (int64_t)mg_px_client_bytes(px);
            mg_px_client_finish(px);
            px->http = NULL;
        }
        return;
    }
    int timeout = mg_up_result_is_timeout(result);
    mg_px_fail(px, timeout ? 504 : 502, timeout ? "timeout_error" : "api_error",
               "provider '%s' stream broke off: %s%s%s", px->cur->provider->name,
               mg_up_result_name(result), errmsg && *errmsg ? ": " : "", errmsg ? errmsg : "");
    /* The status line said 200; the record keeps what the client saw last. */
    mg_record_set_text(&px->rec->status, timeout ? "timeout" : "error");
}
