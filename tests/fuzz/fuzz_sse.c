/* fuzz_sse.c — libFuzzer harness for the text/event-stream parser
 * (src/upstream/sse.h). The first input byte picks options (raw-byte
 * tracking, a tiny or the default event size bound); the rest is the
 * stream. It is parsed twice: whole, and in pieces whose sizes come from a
 * hash of the input. Checks beyond the sanitizers:
 *  - with the default bound (larger than any input here) both parses
 *    succeed and dispatch exactly the same events: where a network splits
 *    a stream must not change what the gateway sees;
 *  - with raw tracking, the raw bytes of every event plus the pending tail
 *    are the stream as received, byte for byte (sse.h's pass-through
 *    promise), for both parses;
 *  - event and data are NUL-terminated at their stated lengths.
 * Uses src/upstream/sse.c and src/core. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "upstream/sse.h"

typedef struct sse_run {
    mg_sse_parser parser;
    mg_buf events; /* every event as "<event len>:<event>|<data len>:<data>\n" */
    mg_buf raw;    /* concatenated raw bytes of the events */
    int rc;
} sse_run;

static void on_event(void *ud, const char *event, size_t event_len, const char *data,
                     size_t data_len)
{
    sse_run *run = ud;
    if (event[event_len] != '\0' || data[data_len] != '\0')
        abort();
    mg_buf_printf(&run->events, "%zu:", event_len);
    mg_buf_append(&run->events, event, event_len);
    mg_buf_printf(&run->events, "|%zu:", data_len);
    mg_buf_append(&run->events, data, data_len);
    mg_buf_append(&run->events, "\n", 1);
    if (run->parser.keep_raw) {
        size_t n;
        const char *raw = mg_sse_raw(&run->parser, &n);
        mg_buf_append(&run->raw, raw, n);
    }
}

static uint64_t rng_state;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void rng_seed(const uint8_t *data, size_t size)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ull;
    rng_state = h ? h : 1;
}

/* Parse the stream in pieces of at most max_piece bytes (0: in one go). */
static void run_parse(sse_run *run, const char *s, size_t n, int keep_raw, size_t max_event,
                      size_t max_piece)
{
    memset(run, 0, sizeof *run);
    mg_sse_init(&run->parser, on_event, run, max_event);
    if (keep_raw)
        mg_sse_keep_raw(&run->parser);
    size_t off = 0;
    run->rc = MG_OK;
    while (off < n && run->rc == MG_OK) {
        size_t piece = n - off;
        if (max_piece) {
            size_t want = 1 + (size_t)(rng_next() % max_piece);
            piece = want < piece ? want : piece;
        }
        /* Each piece in its own allocation, so ASan sees a read past it. */
        char *copy = malloc(piece ? piece : 1);
        memcpy(copy, s + off, piece);
        run->rc = mg_sse_feed(&run->parser, copy, piece);
        free(copy);
        off += piece;
    }
    if (run->rc == MG_OK && keep_raw) {
        size_t pending_len;
        const char *pending = mg_sse_raw_pending(&run->parser, &pending_len);
        mg_buf_append(&run->raw, pending, pending_len);
        if (run->raw.len != n || (n && memcmp(run->raw.data, s, n) != 0)) {
            fprintf(stderr, "fuzz_sse: raw bytes (%zu) differ from the stream (%zu), piece %zu\n",
                    run->raw.len, n, max_piece);
            abort();
        }
    }
}

static void run_free(sse_run *run)
{
    mg_sse_free(&run->parser);
    mg_buf_free(&run->events);
    mg_buf_free(&run->raw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int keep_raw = data[0] & 1;
    int small_bound = (data[0] & 2) != 0;
    size_t max_piece = 1 + (data[0] >> 2); /* 1..64 */
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    size_t max_event = small_bound ? 64 : 0; /* 0: the 1 MiB default */
    rng_seed(data, size);

    sse_run whole, split;
    run_parse(&whole, s, n, keep_raw, max_event, 0);
    run_parse(&split, s, n, keep_raw, max_event, max_piece);
    if (!small_bound && n < MG_SSE_DEFAULT_MAX_EVENT) {
        if (whole.rc != MG_OK || split.rc != MG_OK) {
            fprintf(stderr, "fuzz_sse: failed below the size bound (whole %d, split %d)\n",
                    whole.rc, split.rc);
            abort();
        }
        if (whole.events.len != split.events.len ||
            (whole.events.len && memcmp(whole.events.data, split.events.data, whole.events.len) != 0)) {
            fprintf(stderr, "fuzz_sse: events differ between whole and split parse\n"
                            "--- whole:\n%.*s--- split:\n%.*s",
                    (int)whole.events.len, whole.events.data ? whole.events.data : "",
                    (int)split.events.len, split.events.data ? split.events.data : "");
            abort();
        }
    }
    run_free(&whole);
    run_free(&split);
    return 0;
}
