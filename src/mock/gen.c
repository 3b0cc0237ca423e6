/* gen.c — walks one reply: start, then each block (reasoning, text or tool
 * calls) as start / deltas / stop, then finish. Each step calls the API
 * format's hook for that stage, which queues events through
 * mg_mock_emit_json/raw, and says how long to wait before the next step.
 * The same walk without hooks collects the text for a whole (non-stream)
 * body. It also decides where a mid-stream fault strikes: halfway through
 * the last block. Uses text.c and jansson. */
#include "mock_int.h"

#include <assert.h>
#include <string.h>

enum { PH_START = 0, PH_BLOCK_START, PH_DELTA, PH_BLOCK_STOP, PH_FINISH, PH_END };

#define SALT_TEXT 1
#define SALT_THINK 2
#define ECHO_PIECE 64

void mg_mock_gen_init(mg_mock_gen *g, const mg_mock_plan *p, int streaming)
{
    memset(g, 0, sizeof *g);
    g->plan = p;
    g->streaming = streaming;
    g->tps = p->tps;
    g->stop_hit = -1;
    if (!streaming)
        g->acc_max = MG_MOCK_BODY_MAX + MG_MOCK_BIG_DELTA * 2;
    else if (p->fmt->stream_keeps_text)
        g->acc_max = MG_MOCK_STREAM_ACC_MAX;
    if (p->think_tokens > 0)
        g->blocks[g->nblocks++].kind = MG_MOCK_BLK_THINKING;
    if (p->ncalls == 0)
        g->blocks[g->nblocks++].kind = MG_MOCK_BLK_TEXT;
    for (size_t i = 0; i < p->ncalls; i++) {
        g->blocks[g->nblocks].kind = MG_MOCK_BLK_TOOL;
        g->blocks[g->nblocks++].call = (int)i;
    }
    for (int i = 0; i < g->nblocks; i++)
        mg_mock_hex(g->blocks[i].hex);
    g->finish = p->ncalls ? MG_MOCK_FINISH_TOOL : MG_MOCK_FINISH_END;
}

void mg_mock_gen_free(mg_mock_gen *g)
{
    mg_mock_words_free(&g->words);
    mg_buf_free(&g->text);
    mg_buf_free(&g->thinking);
    mg_buf_free(&g->piece);
    mg_buf_free(&g->q);
}

long mg_mock_gen_output_tokens(const mg_mock_gen *g)
{
    return g->text_tokens + g->tool_tokens + g->think_tokens;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
    mg_buf_append(data, buffer, size);
    return 0;
}

void mg_mock_dump(const json_t *j, mg_buf *out) { json_dump_callback(j, dump_cb, out, JSON_COMPACT); }

static void end_event(mg_mock_gen *g)
{
    assert(g->nev < MG_MOCK_MAX_EVENTS);
    g->ends[g->nev++] = g->q.len;
}

void mg_mock_emit_json(mg_mock_gen *g, const char *event, json_t *data)
{
    if (!g->streaming) {
        json_decref(data);
        return;
    }
    mg_buf *q = &g->q;
    if (g->framing == MG_MOCK_FRAME_JSON_ARRAY) {
        mg_buf_append_str(q, g->array_open ? ",\r\n" : "[");
        g->array_open = 1;
    } else {
        if (event)
            mg_buf_printf(q, "event: %s\n", event);
        mg_buf_append_str(q, "data: ");
    }
    size_t at = q->len;
    mg_mock_dump(data, q);
    json_decref(data);
    if (g->corrupt_next) { /* malformed fault: the event's JSON stops halfway */
        q->len = at + (q->len - at) / 2;
        g->corrupt_next = 0;
    }
    if (g->framing == MG_MOCK_FRAME_SSE)
        mg_buf_append_str(q, "\n\n");
    else if (g->framing == MG_MOCK_FRAME_SSE_CRLF)
        mg_buf_append_str(q, "\r\n\r\n");
    end_event(g);
}

void mg_mock_emit_raw(mg_mock_gen *g, const char *bytes)
{
    if (!g->streaming)
        return;
    mg_buf_append_str(&g->q, bytes);
    end_event(g);
}

static void keep(mg_mock_gen *g, mg_buf *acc, const char *s, size_t n)
{
    if (acc->len + n <= g->acc_max)
        mg_buf_append(acc, s, n);
    else
        g->acc_max = 0; /* full: keep a prefix, never a text with holes */
}

static void block_begin(mg_mock_gen *g, const mg_mock_block *b)
{
    const mg_mock_plan *p = g->plan;
    g->done = 0;
    g->done_bytes = 0;
    g->frag_off = 0;
    mg_mock_words_free(&g->words);
    /* Tool arguments and echo text are sent as they are, in slices. */
    g->fixed = b->kind == MG_MOCK_BLK_TOOL                ? p->calls[b->call].args
               : b->kind == MG_MOCK_BLK_TEXT && p->echo ? p->echo
                                                        : NULL;
    g->fixed_len = g->fixed ? strlen(g->fixed) : 0;
    if (b->kind == MG_MOCK_BLK_THINKING) {
        mg_mock_words_init(&g->words, "Thinking about:", p->prompt, SALT_THINK);
        g->limit = p->think_tokens;
    } else if (b->kind == MG_MOCK_BLK_TEXT) {
        mg_mock_words_init(&g->words, "Mock reply to:", p->prompt, SALT_TEXT);
        g->limit = p->want_tokens;
        if (p->max_tokens >= 0 && p->max_tokens < g->limit)
            g->limit = p->max_tokens;
    }
}

static int block_complete(const mg_mock_gen *g, const mg_mock_block *b)
{
    if (g->fixed)
        return g->frag_off >= g->fixed_len;
    if (b->kind == MG_MOCK_BLK_TEXT && g->plan->stream_bytes)
        return g->done_bytes >= g->plan->stream_bytes;
    return g->done >= g->limit;
}

/* Has the last block got halfway (where stall, cut and malformed strike)? */
static int at_midpoint(const mg_mock_gen *g, const mg_mock_block *b)
{
    if (g->cur != g->nblocks - 1 || g->done == 0)
        return 0;
    if (g->fixed)
        return g->frag_off * 2 >= g->fixed_len;
    if (b->kind == MG_MOCK_BLK_TEXT && g->plan->stream_bytes)
        return g->done_bytes * 2 >= g->plan->stream_bytes;
    return g->done * 2 >= g->limit;
}

static int fault_pending(const mg_mock_gen *g)
{
    int f = g->plan->fault;
    return g->streaming && !g->fault_fired &&
           (f == MG_MOCK_FAULT_STALL || f == MG_MOCK_FAULT_CUT || f == MG_MOCK_FAULT_MALFORMED);
}

static int hits_stop(mg_mock_gen *g, const char *s, size_t n)
{
    for (size_t i = 0; i < g->plan->nstops; i++) {
        if (memmem(s, n, g->plan->stops[i], strlen(g->plan->stops[i]))) {
            g->stop_hit = (int)i;
            return 1;
        }
    }
    return 0;
}

/* The next slice of fixed text, never splitting a UTF-8 character. */
static size_t next_fragment(mg_mock_gen *g, size_t piece_max)
{
    const char *s = g->fixed + g->frag_off;
    size_t rem = g->fixed_len - g->frag_off;
    size_t n = mg_mock_utf8_cut(s, rem, piece_max);
    if (n == 0) {
        n = 1;
        while (n < rem && ((unsigned char)s[n] & 0xC0) == 0x80)
            n++;
    }
    mg_buf_append(&g->piece, s, n);
    g->frag_off += n;
    return n;
}

/* Make the block's next delta in g->piece; returns its tokens, or -1 when a
 * stop sequence ended the text instead. */
static long make_piece(mg_mock_gen *g, const mg_mock_block *b)
{
    mg_buf_reset(&g->piece);
    if (g->fixed) { /* tool arguments in three slices, echo text in small ones */
        size_t per = b->kind == MG_MOCK_BLK_TOOL ? MG_MAX((g->fixed_len + 2) / 3, 1) : ECHO_PIECE;
        return mg_mock_tokens_of(next_fragment(g, per));
    }
    long words = 0;
    do {
        mg_mock_words_next(&g->words, &g->piece);
        words++;
    } while (b->kind == MG_MOCK_BLK_TEXT && g->plan->stream_bytes &&
             g->piece.len < MG_MOCK_BIG_DELTA &&
             g->done_bytes + g->piece.len < g->plan->stream_bytes);
    if (b->kind == MG_MOCK_BLK_TEXT && hits_stop(g, g->piece.data, g->piece.len))
        return -1;
    return words;
}

static void count_piece(mg_mock_gen *g, const mg_mock_block *b, long tokens)
{
    g->done++;
    g->done_bytes += g->piece.len;
    if (b->kind == MG_MOCK_BLK_THINKING) {
        g->think_tokens += tokens;
        keep(g, &g->thinking, g->piece.data, g->piece.len);
    } else if (b->kind == MG_MOCK_BLK_TEXT) {
        g->text_tokens += tokens;
        keep(g, &g->text, g->piece.data, g->piece.len);
    } else {
        g->tool_tokens += tokens;
    }
    g->delay = g->tps > 0 ? (double)tokens / g->tps : 0;
}

static void step_delta(mg_mock_gen *g)
{
    const mg_mock_block *b = &g->blocks[g->cur];
    long tokens = block_complete(g, b) ? 0 : make_piece(g, b);
    if (tokens <= 0) {
        if (tokens < 0)
            g->finish = MG_MOCK_FINISH_STOP_SEQ;
        else if (b->kind == MG_MOCK_BLK_TEXT && !g->plan->echo && !g->plan->stream_bytes &&
                 g->limit < g->plan->want_tokens)
            g->finish = MG_MOCK_FINISH_MAX;
        g->phase = PH_BLOCK_STOP;
        return;
    }
    count_piece(g, b, tokens);
    if (g->streaming)
        g->plan->fmt->on_delta(g, b, g->piece.data, g->piece.len);
}

int mg_mock_gen_step(mg_mock_gen *g)
{
    const mg_mock_fmt *f = g->plan->fmt;
    g->delay = 0;
    switch (g->phase) {
    case PH_START:
        if (g->streaming)
            f->on_start(g);
        g->phase = g->nblocks ? PH_BLOCK_START : PH_FINISH;
        return MG_MOCK_STEP_MORE;
    case PH_BLOCK_START:
        block_begin(g, &g->blocks[g->cur]);
        if (g->streaming)
            f->on_block_start(g, &g->blocks[g->cur]);
        g->phase = PH_DELTA;
        return MG_MOCK_STEP_MORE;
    case PH_DELTA:
        if (fault_pending(g) && at_midpoint(g, &g->blocks[g->cur])) {
            g->fault_fired = 1;
            return MG_MOCK_STEP_FAULT;
        }
        step_delta(g);
        return MG_MOCK_STEP_MORE;
    case PH_BLOCK_STOP:
        if (g->streaming)
            f->on_block_stop(g, &g->blocks[g->cur]);
        g->cur++;
        g->phase = g->cur < g->nblocks ? PH_BLOCK_START : PH_FINISH;
        return MG_MOCK_STEP_MORE;
    case PH_FINISH:
        if (fault_pending(g)) { /* the reply was too short to reach a midpoint */
            g->fault_fired = 1;
            return MG_MOCK_STEP_FAULT;
        }
        if (g->streaming)
            f->on_finish(g);
        g->phase = PH_END;
        return MG_MOCK_STEP_MORE;
    default:
        return MG_MOCK_STEP_END;
    }
}

void mg_mock_gen_collect(mg_mock_gen *g)
{
    while (mg_mock_gen_step(g) != MG_MOCK_STEP_END)
        ;
}
