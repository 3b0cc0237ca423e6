/* convert_lane.h — the text lane of stream conversion. Most events of a
 * converted stream are plain text deltas, and once a text block is open
 * the bundled converters turn each into one client event without changing
 * any state. After each call into the Lua converter it says whether that
 * holds now and, if so, what the client event looks like around the
 * text's JSON string (moongate.bridge returns it with the batch's text);
 * while it holds, C converts those deltas itself: validate the event,
 * check it is exactly a plain text delta, copy the string between the
 * converter's prefix and suffix. Anything else goes to Lua as before.
 * A converter a policy registered has no lane. Uses core/jscan.h. */
#ifndef MG_PX_CONVERT_LANE_H
#define MG_PX_CONVERT_LANE_H

#include <stddef.h>

#include "../core/buf.h"
#include "../core/jscan.h"
#include "px-t.h"

/* Owner: the request (px->conv_lane), made at stream open when the
 * converter can offer a lane, freed by mg_px_convert_close. */
typedef struct mg_px_lane {
    int on;                /* the converter's last word: plain text deltas are stateless now */
    long long up_index;    /* Anthropic upstream: the open text block's index */
    mg_buf prefix, suffix; /* the client event around the text's JSON string */
    /* OpenAI upstream: the bytes around the text string of the last event
     * that passed the full check. Chunks of one stream differ only in that
     * string, so an event with the same bytes around a valid string is the
     * same plain delta: checked with two memcmp and one string scan. */
    mg_buf tpl_head, tpl_tail;
    int tpl_ok;
} mg_px_lane;

/* One upstream event of a converted stream: converted at once through the
 * lane, or queued for Lua (flushing what is queued first when the lane
 * may apply after it). Client text goes to out. */
void mg_px_convert_stream_event(mg_px *px, const char *event, size_t elen, const char *data,
                                size_t dlen, mg_buf *out);

/* 1 when data (an event of an upstream in format up_format) is exactly a
 * plain text delta of the lane's block, with *text the JSON string
 * (quotes included, as the upstream wrote it); else 0. */
int mg_px_lane_match(int up_format, long long up_index, const char *data, size_t dlen,
                     mg_js_span *text);

/* The same, first against the lane's template of the stream's last plain
 * delta (OpenAI upstream), which a full match refreshes. */
int mg_px_lane_match_cached(mg_px_lane *lane, int up_format, long long up_index,
                            const char *data, size_t dlen, mg_js_span *text);

void mg_px_lane_free(mg_px_lane *lane);

#endif
