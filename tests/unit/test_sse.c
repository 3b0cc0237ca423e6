/* test_sse.c — the SSE parser against a set of streams, each fed whole,
 * split at every byte offset, one byte at a time and in random pieces: the
 * dispatched events (and, with raw bytes kept, the raw bytes) must be the
 * same every time. */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "test.h"
#include "upstream/sse.h"

typedef struct capture {
    mg_sse_parser *p;
    mg_buf log; /* one "type|data" line per event, data with \n shown as \\n */
    mg_buf raw; /* concatenated raw bytes of every event */
    int events;
} capture;

static void log_escaped(mg_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            mg_buf_append(b, "\\n", 2);
        else
            mg_buf_append(b, &s[i], 1);
    }
}

static void on_event(void *ud, const char *event, size_t event_len, const char *data,
                     size_t data_len)
{
    capture *c = ud;
    c->events++;
    CHECK(event[event_len] == '\0');
    CHECK(data[data_len] == '\0');
    log_escaped(&c->log, event, event_len);
    mg_buf_append(&c->log, "|", 1);
    log_escaped(&c->log, data, data_len);
    mg_buf_append(&c->log, "\n", 1);
    size_t raw_len;
    const char *raw = mg_sse_raw(c->p, &raw_len);
    mg_buf_append(&c->raw, raw, raw_len);
}

typedef struct stream_case {
    const char *name;
    const char *text;
    const char *expect; /* the capture log */
} stream_case;

static const stream_case cases[] = {
    {"openai",
     "data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
     "data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n"
     "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"total_tokens\":9}}\n\n"
     "data: [DONE]\n\n",
     "|{\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n"
     "|{\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n"
     "|{\"id\":\"c1\",\"choices\":[],\"usage\":{\"total_tokens\":9}}\n"
     "|[DONE]\n"},
    {"anthropic",
     "event: message_start\ndata: {\"type\":\"message_start\"}\n\n"
     "event: ping\ndata: {\"type\": \"ping\"}\n\n"
     "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"Hi\"}}\n\n"
     "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
     "message_start|{\"type\":\"message_start\"}\n"
     "ping|{\"type\": \"ping\"}\n"
     "content_block_delta|{\"type\":\"content_block_delta\",\"delta\":{\"text\":\"Hi\"}}\n"
     "message_stop|{\"type\":\"message_stop\"}\n"},
    {"multiline", "data: a\ndata: b\ndata:\ndata:  c\n\ndata:no-space\n\n",
     "|a\\nb\\n\\n c\n|no-space\n"},
    {"comments", ": keep-alive\n\n: hi\ndata: x\n: between\ndata: y\n\n:\n\n", "|x\\ny\n"},
    {"crlf", "event: e1\r\ndata: one\r\n\r\ndata: two\r\ndata: 2b\r\n\r\n",
     "e1|one\n|two\\n2b\n"},
    {"cr_only", "event: e1\rdata: one\r\rdata: two\r\r", "e1|one\n|two\n"},
    {"mixed", "data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r\ndata: e\n\n", "|a\\nb\\nc\n|d\n|e\n"},
    {"bom", "\xEF\xBB\xBF" "data: bom\n\ndata: x\n\n\xEF\xBB\xBF" "data: ignored\n\n", "|bom\n|x\n"},
    {"not_bom", "\xEF\xBB" "data: z\n\ndata: kept\n\n", "|kept\n"},
    {"no_colon", "data\n\nevent\ndata: z\n\nevent: only\n\nevent:\n\n", "|\n|z\n" "only|\n"},
    {"id_retry_unknown", "id: 5\nretry: 100\nfoo: bar\ndata: q\nid\n\n", "|q\n"},
    {"event_last_wins", "event: a\nevent: b\ndata: d\n\n", "b|d\n"},
    {"unterminated", "data: done\n\ndata: tail", "|done\n"},
    {"colon_in_value", "data: a: b:c\n\n", "|a: b:c\n"},
};

typedef struct run {
    mg_sse_parser p;
    capture c;
    int rc;
} run;

static void run_begin(run *r, int keep_raw)
{
    memset(r, 0, sizeof *r);
    mg_sse_init(&r->p, on_event, &r->c, 0);
    if (keep_raw)
        mg_sse_keep_raw(&r->p);
    r->c.p = &r->p;
    r->rc = MG_OK;
}

static void run_feed(run *r, const char *s, size_t n)
{
    if (mg_sse_feed(&r->p, s, n) != MG_OK)
        r->rc = MG_ERR;
}

/* Checks the result against the expectation, then frees the run. */
static void run_end(run *r, const stream_case *tc, const char *how)
{
    CHECK_EQ_INT(r->rc, MG_OK);
    const char *got = mg_buf_cstr(&r->c.log);
    if (strcmp(got, tc->expect) != 0)
        fprintf(stderr, "case %s (%s): got\n%s\nexpected\n%s\n", tc->name, how, got, tc->expect);
    CHECK_EQ_STR(got, tc->expect);
    if (r->p.keep_raw) {
        /* Raw bytes of all events plus the pending tail = the stream. */
        size_t plen;
        const char *pending = mg_sse_raw_pending(&r->p, &plen);
        mg_buf_append(&r->c.raw, pending, plen);
        size_t n = strlen(tc->text);
        CHECK_EQ_INT(r->c.raw.len, n);
        CHECK(r->c.raw.len == n && memcmp(r->c.raw.data, tc->text, n) == 0);
    }
    mg_sse_free(&r->p);
    mg_buf_free(&r->c.log);
    mg_buf_free(&r->c.raw);
}

static void feed_whole(const stream_case *tc, int keep_raw)
{
    run r;
    run_begin(&r, keep_raw);
    run_feed(&r, tc->text, strlen(tc->text));
    run_end(&r, tc, "whole");
}

static void feed_split_everywhere(const stream_case *tc, int keep_raw)
{
    size_t n = strlen(tc->text);
    for (size_t cut = 0; cut <= n; cut++) {
        run r;
        run_begin(&r, keep_raw);
        run_feed(&r, tc->text, cut);
        run_feed(&r, tc->text + cut, n - cut);
        run_end(&r, tc, "split");
    }
}

static void feed_bytewise(const stream_case *tc, int keep_raw)
{
    run r;
    run_begin(&r, keep_raw);
    size_t n = strlen(tc->text);
    for (size_t i = 0; i < n; i++) {
        /* A copy per byte so ASan catches any read past the piece. */
        char *one = malloc(1);
        *one = tc->text[i];
        run_feed(&r, one, 1);
        free(one);
    }
    run_end(&r, tc, "bytewise");
}

static void feed_random(const stream_case *tc, int keep_raw, unsigned seed)
{
    srand(seed);
    run r;
    run_begin(&r, keep_raw);
    size_t n = strlen(tc->text), i = 0;
    while (i < n) {
        size_t k = (size_t)rand() % 9;
        if (k > n - i)
            k = n - i;
        char *piece = malloc(k ? k : 1);
        memcpy(piece, tc->text + i, k);
        run_feed(&r, piece, k);
        free(piece);
        i += k;
    }
    run_end(&r, tc, "random");
}

static void test_streams_all_splits(void)
{
    for (size_t c = 0; c < MG_ARRAY_LEN(cases); c++) {
        for (int keep_raw = 0; keep_raw <= 1; keep_raw++) {
            feed_whole(&cases[c], keep_raw);
            feed_split_everywhere(&cases[c], keep_raw);
            feed_bytewise(&cases[c], keep_raw);
            for (unsigned seed = 1; seed <= 50; seed++)
                feed_random(&cases[c], keep_raw, seed);
        }
    }
}

/* Raw bytes of one event, fed whole: points into the piece, exact bytes. */
static void test_raw_per_event(void)
{
    const char *text = ": hello\n\ndata: a\r\n\r\nevent: e\ndata: b\n\n: trailing\n";
    run r;
    run_begin(&r, 1);
    run_feed(&r, text, strlen(text));
    CHECK_EQ_INT(r.c.events, 2);
    CHECK_EQ_STR(mg_buf_cstr(&r.c.raw), ": hello\n\ndata: a\r\n\r\nevent: e\ndata: b\n\n");
    size_t plen;
    const char *pending = mg_sse_raw_pending(&r.p, &plen);
    CHECK(plen == 11 && memcmp(pending, ": trailing\n", 11) == 0);
    mg_sse_free(&r.p);
    mg_buf_free(&r.c.log);
    mg_buf_free(&r.c.raw);
}

static void test_oversized_event(void)
{
    mg_sse_parser p;
    capture c = {0};
    mg_sse_init(&p, on_event, &c, 64);
    c.p = &p;
    /* Many small events: the bound is per event, not per stream. */
    for (int i = 0; i < 1000; i++)
        CHECK_EQ_INT(mg_sse_feed(&p, "data: 0123456789\n\n", 18), MG_OK);
    CHECK_EQ_INT(c.events, 1000);
    char big[200];
    memcpy(big, "data: ", 6);
    memset(big + 6, 'x', sizeof big - 8);
    memcpy(big + sizeof big - 2, "\n\n", 2);
    CHECK_EQ_INT(mg_sse_feed(&p, big, sizeof big), MG_ERR);
    CHECK_EQ_INT(c.events, 1000);
    CHECK_EQ_INT(mg_sse_feed(&p, "data: ok\n\n", 10), MG_ERR); /* stays failed */
    mg_sse_free(&p);

    /* A line that never ends, fed in small pieces. */
    mg_sse_init(&p, on_event, &c, 64);
    int rc = MG_OK;
    for (int i = 0; i < 20 && rc == MG_OK; i++)
        rc = mg_sse_feed(&p, "data: xxxxx", 11);
    CHECK_EQ_INT(rc, MG_ERR);
    mg_sse_free(&p);

    /* Many data lines in one event add up. */
    mg_sse_init(&p, on_event, &c, 64);
    rc = MG_OK;
    for (int i = 0; i < 20 && rc == MG_OK; i++)
        rc = mg_sse_feed(&p, "data: x\n", 8);
    CHECK_EQ_INT(rc, MG_ERR);
    mg_sse_free(&p);
    mg_buf_free(&c.log);
    mg_buf_free(&c.raw);
}

/* With raw kept, comment-only blocks count toward the next event. */
static void test_oversized_comments_raw(void)
{
    mg_sse_parser p;
    capture c = {0};
    mg_sse_init(&p, on_event, &c, 64);
    c.p = &p;
    int rc = MG_OK;
    for (int i = 0; i < 20 && rc == MG_OK; i++)
        rc = mg_sse_feed(&p, ": ping\n\n", 8);
    CHECK_EQ_INT(rc, MG_OK); /* without raw a comment block resets the count */
    mg_sse_free(&p);

    mg_sse_init(&p, on_event, &c, 64);
    mg_sse_keep_raw(&p);
    rc = MG_OK;
    for (int i = 0; i < 20 && rc == MG_OK; i++)
        rc = mg_sse_feed(&p, ": ping\n\n", 8);
    CHECK_EQ_INT(rc, MG_ERR);
    mg_sse_free(&p);
    mg_buf_free(&c.log);
    mg_buf_free(&c.raw);
}

static void test_empty_and_zero_len(void)
{
    mg_sse_parser p;
    capture c = {0};
    mg_sse_init(&p, on_event, &c, 0);
    c.p = &p;
    CHECK_EQ_INT(mg_sse_feed(&p, "", 0), MG_OK);
    CHECK_EQ_INT(mg_sse_feed(&p, "\n\n\r\n\r\r", 6), MG_OK);
    CHECK_EQ_INT(c.events, 0);
    mg_sse_free(&p);
    mg_sse_free(&p); /* free twice is harmless */
    mg_buf_free(&c.log);
}

TEST_MAIN(T(test_streams_all_splits), T(test_raw_per_event), T(test_oversized_event),
          T(test_oversized_comments_raw), T(test_empty_and_zero_len))
