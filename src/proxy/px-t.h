/* px-t.h — the request context shared by the pipeline's stage files.
 * Internal to src/proxy. Ownership: mg_px owns every pointer in it except
 * w, http (owned by the connection until finish/abort) and the provider
 * configs (owned by the generation's config, which px retains). */
#ifndef MG_PX_T_H
#define MG_PX_T_H

#include "../lua/host.h"
#include "../mock/mock.h"
#include "../runtime/gateway.h"
#include "breaker.h"
#include "../core/jscan.h"
#include "../keys/keys.h"
#include "proxy.h"

#define MG_PX_MAX_TARGETS 8

/* Where the request is in its life. */
enum mg_px_state {
    MG_PX_ST_PARSE = 0,
    MG_PX_ST_ROUTE,    /* waiting for the route hook */
    MG_PX_ST_UPSTREAM, /* an attempt is running */
    MG_PX_ST_DONE,     /* response finished or client gone; record pending */
};

struct mg_px_internal;

struct mg_px {
    struct mg_worker *w;
    struct mg_px_internal *internal; /* set for requests from inside the host */
    mg_wgen *gen;                 /* retained for the request's life */
    const mg_config *cfg;         /* gen->cfg->cfg */
    mg_http_req *http;            /* NULL once finished or aborted */
    mg_record *rec;               /* submitted to the store at the end */
    mg_px_endpoint ep;
    int state;
    mg_key_lease lease;           /* held from the auth stage until the record */

    mg_js_object body;            /* client body's top-level members (spans into raw_body);
                                     body.whole.type is MG_JS_NONE until parsed */
    const char *raw_body;         /* http->body bytes (valid while http) */
    size_t raw_body_len;
    char *model;                  /* model the client asked for */
    int stream;
    int client_wants_usage;       /* openai stream_options.include_usage */
    int strip_usage_chunk;        /* we asked for usage the client did not */

    mg_lua_req lreq;              /* what hooks see; borrows from px */
    mg_lua_call *lcall;           /* pending route hook */
    int in_route_call;            /* inside mg_lua_call_route */

    mg_px_target targets[MG_PX_MAX_TARGETS];
    size_t ntargets, next_target;

    /* The running attempt. */
    const mg_px_target *cur;
    int up_format;                /* format spoken upstream */
    mg_up_xfer *xfer;             /* real upstream, or */
    mg_mock_xfer *mock;           /* in-process mock */
    int up_status;
    char up_ctype[128];
    char up_retry_after[32];
    mg_buf up_body;               /* buffered body: non-stream or error */
    mg_buf send_body;             /* body sent upstream when rewritten */
    mg_buf hook_body;             /* body before_upstream replaced */
    mg_kv *hook_headers;          /* headers before_upstream set (owned) */
    const char *extra_client_headers; /* on_response's, during respond */
    size_t nhook_headers;
    char *url;
    char **up_headers;            /* "Name: value" strings */
    size_t nup_headers;
    mg_sse_parser sse;
    int sse_ready;
    /* While a piece is parsed with the usage chunk stripped: events kept
     * whole inside it form one run [run_from, run_to) sent without a copy. */
    const char *piece;
    size_t piece_len, run_from, run_to;
    int run_open;
    mg_usage usage;
    long content_bytes;           /* streamed payload bytes, for estimates */
    mg_buf out;                   /* scratch for writes to the client */

    int converting;               /* provider format differs: convert.c */
    int conv_ref;                 /* stream converter in the Lua registry */
    mg_buf conv_batch;            /* events of one upstream chunk awaiting conversion:
                                     per event u32 event length, u32 data length, bytes */
    size_t conv_nbatch;           /* events in conv_batch */
    int conv_trusted;             /* bundled converters: no deadline hook */
    struct mg_px_lane *conv_lane; /* text deltas converted in C (convert_lane.h); owned */
    int breaker_pending;          /* the attempt owes its breaker a report */
    int committed;                /* status line sent to the client */
    int client_gone;
    int up_paused;
    long pauses;
    double t_start, t_route_done, t_first_attempt, t_up_start, t_first_up_byte, t_last_up_byte;
    double t_first_client_byte;
    mg_buf attempts_json;
    int attempts;

    /* Why the last failed attempt failed, answered when no target is left. */
    int last_fail_status;
    const char *last_fail_kind;
    char last_fail_msg[768];
    int last_fail_passthrough;    /* up_body holds the upstream's own error */
};

/* Stages (one file each). */
int mg_px_stage_parse(mg_px *px);      /* request.c */
int mg_px_stage_route(mg_px *px);      /* route.c */
void mg_px_stage_upstream(mg_px *px);  /* attempt.c: next target or fail */
void mg_px_record_finish(mg_px *px);   /* record.c */

/* Shared helpers. */
void mg_px_fail(mg_px *px, int status, const char *kind, const char *fmt, ...) MG_PRINTF(4, 5);
void mg_px_respond_json(mg_px *px, int status, const char *body, size_t len);
void mg_px_respond_upstream_error(mg_px *px);
void mg_px_extra_headers(mg_px *px, mg_buf *out);
void mg_px_maybe_free(mg_px *px);
void mg_px_stream_data(mg_px *px, const char *data, size_t len, int *pause); /* stream.c */
void mg_px_stream_end(mg_px *px, int result, const char *errmsg);
void mg_px_attempt_reset(mg_px *px);
void mg_px_attempt_done(mg_px *px, int result, const char *errmsg); /* outcome.c */
/* client.c: the client side, socket or internal sink. */
void mg_px_client_respond(mg_px *px, int status, const char *ctype, const char *hdrs,
                          const char *body, size_t len);
void mg_px_client_begin(mg_px *px, int status, const char *ctype, const char *hdrs);
int mg_px_client_write(mg_px *px, const char *data, size_t len);
void mg_px_client_finish(mg_px *px);
uint64_t mg_px_client_bytes(const mg_px *px);
/* internal.c */
void mg_px_internal_head(struct mg_px_internal *r, int status, const char *ctype);
int mg_px_internal_data(struct mg_px_internal *r, const char *data, size_t len);
uint64_t mg_px_internal_bytes(const struct mg_px_internal *r);
void mg_px_internal_finished(struct mg_px_internal *r, const mg_record *rec);
void mg_px_internal_free(struct mg_px_internal *r);
/* request.c */
mg_px *mg_px_create(struct mg_worker *w, mg_http_req *req, const mg_px_endpoint *ep);
void mg_px_run(mg_px *px);
void mg_px_client_gone(mg_px *px);
void mg_px_client_ready(mg_px *px);

/* convert.c: MG_OK or MG_ERR with a message for the client. */
int mg_px_convert_request(mg_px *px, const char *model, mg_buf *out, char *err, size_t errlen);
int mg_px_convert_response(mg_px *px, const char *body, size_t len, mg_buf *out, char *err,
                           size_t errlen);
int mg_px_convert_stream_open(mg_px *px, char *err, size_t errlen);
void mg_px_convert_stream_queue(mg_px *px, const char *event, size_t elen, const char *data,
                                size_t dlen);
int mg_px_convert_stream_flush(mg_px *px, mg_buf *out);
int mg_px_convert_stream_finish(mg_px *px, mg_buf *out);
void mg_px_convert_close(mg_px *px);
void mg_px_note_attempt(mg_px *px, int status, const char *result);
int mg_px_route_add(mg_px *px, const char *entry);
void mg_px_route_cancel(mg_px *px); /* client gone while a hook waits */
void mg_px_fill_lua_req(mg_px *px);
/* The client's output cap (max_tokens and kin), else the config default. */
long mg_px_max_tokens(mg_px *px);
/* hooks.c: the synchronous policy hooks around an attempt. */
void mg_px_hook_before_upstream(mg_px *px, const char **body, size_t *len);
int mg_px_hook_on_response(mg_px *px, mg_buf *body, mg_buf *extra_headers);
void mg_px_hook_classify(mg_px *px, int result, int *retry, int *breaker);

#endif
