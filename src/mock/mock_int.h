/* mock_int.h — what the mock's files share and nothing outside src/mock/
 * uses: the plan (what one request asks for, read once from its JSON), the
 * generator that walks the reply block by block, and the per-API format
 * table that turns the generator's steps into that API's JSON and events.
 *
 * Flow: mock.c picks the API by path, its format's parse() fills a plan,
 * plan.c reads the x-mock-* headers and works out tool calls and lengths,
 * gen.c steps through start / blocks / deltas / finish calling the format's
 * hooks, which queue events with mg_mock_emit_*. Uses jansson and core/buf. */
#ifndef MG_MOCK_INT_H
#define MG_MOCK_INT_H

#include <jansson.h>
#include <stdint.h>

#include "../core/buf.h"
#include "mock.h"

#define MG_MOCK_MAX_CALLS 8
#define MG_MOCK_MAX_STOPS 4
#define MG_MOCK_MAX_BLOCKS (MG_MOCK_MAX_CALLS + 2)
#define MG_MOCK_MAX_EVENTS 8          /* events one generator step may queue */
#define MG_MOCK_DEFAULT_TOKENS 64     /* reply length when nothing says otherwise */
#define MG_MOCK_THINK_WORDS 24        /* length of a reasoning block */
#define MG_MOCK_BIG_BYTES 50000000u   /* model suffix @big */
#define MG_MOCK_BODY_MAX (16u << 20)  /* non-stream replies are built whole: cap them */
#define MG_MOCK_STREAM_ACC_MAX (1u << 20) /* Responses keeps this much text for its done events */
#define MG_MOCK_BIG_DELTA 2048        /* bytes per content delta in byte-count mode */
#define MG_MOCK_HEX 24                /* hex chars in generated ids */

enum mg_mock_fault {
    MG_MOCK_FAULT_NONE = 0,
    MG_MOCK_FAULT_429,
    MG_MOCK_FAULT_500,
    MG_MOCK_FAULT_503,
    MG_MOCK_FAULT_TIMEOUT,   /* nothing is ever sent */
    MG_MOCK_FAULT_STALL,     /* half the reply, then silence */
    MG_MOCK_FAULT_CUT,       /* half the reply, then on_done(MG_UP_ERR_IO) */
    MG_MOCK_FAULT_MALFORMED, /* one broken event (or a broken body) */
    MG_MOCK_FAULT_WRONGTYPE, /* 200 text/html */
};

enum mg_mock_finish {
    MG_MOCK_FINISH_END = 0,
    MG_MOCK_FINISH_MAX,      /* cut by the request's max tokens */
    MG_MOCK_FINISH_STOP_SEQ, /* a stop sequence came up */
    MG_MOCK_FINISH_TOOL,     /* the reply is tool calls */
};

enum mg_mock_block_kind { MG_MOCK_BLK_THINKING = 0, MG_MOCK_BLK_TEXT, MG_MOCK_BLK_TOOL };

/* Error classes every format renders in its own shape. */
enum mg_mock_err {
    MG_MOCK_ERR_INVALID = 0, /* 400 */
    MG_MOCK_ERR_NOT_FOUND,   /* 404 */
    MG_MOCK_ERR_METHOD,      /* 405 */
    MG_MOCK_ERR_RATE,        /* 429 */
    MG_MOCK_ERR_SERVER,      /* 500 */
    MG_MOCK_ERR_OVERLOADED,  /* 503 */
};

typedef struct mg_mock_fmt mg_mock_fmt;
typedef struct mg_mock_gen mg_mock_gen;

typedef struct mg_mock_call {
    char *name; /* owned */
    char *args; /* owned: the arguments as compact JSON text */
} mg_mock_call;

/* Everything one request asks for. Owned by its xfer; freed by
 * mg_mock_plan_free. Strings marked owned are heap copies. */
typedef struct mg_mock_plan {
    const mg_mock_fmt *fmt;
    int stream;
    int fault;              /* enum mg_mock_fault */
    char *model;            /* owned: requested model without its @suffix */
    char *prompt;           /* owned: text of the last user message */
    int last_is_tool_result; /* the conversation ends with a tool's output */
    long input_tokens;
    long cached_tokens;
    long want_tokens;       /* natural reply length in words */
    long max_tokens;        /* the request's limit, -1 when absent */
    long think_tokens;      /* words of reasoning; 0 = none */
    int think_visible;      /* the reasoning text is sent to the client */
    int include_usage;      /* OpenAI stream_options.include_usage */
    int sse;                /* Gemini alt=sse */
    size_t stream_bytes;    /* >0: reply is about this many bytes of text */
    char *echo;             /* owned: x-mock-echo reply text, or NULL */
    mg_mock_call calls[MG_MOCK_MAX_CALLS];
    size_t ncalls;
    char *stops[MG_MOCK_MAX_STOPS]; /* owned */
    size_t nstops;
    json_t *extra;          /* owned reference: per-API data (embedding inputs) */
    long dimensions;        /* embeddings */
    double ttft;            /* seconds before the first byte */
    double tps;             /* tokens per second; 0 = no pacing */
    char id[MG_MOCK_HEX + 1];
    long created;           /* unix seconds */
    /* Request facts gathered by parse() and turned into calls by
     * mg_mock_plan_tools(). Borrowed from the parsed root: valid only
     * while parsing. */
    json_t *tool_names[MG_MOCK_MAX_CALLS * 2];
    json_t *tool_schemas[MG_MOCK_MAX_CALLS * 2];
    size_t ntools;
    int tool_forced;        /* tool_choice says a tool must be called */
    int parallel_ok;        /* parallel tool calls are allowed */
    /* Set by parse() for replies that are not generated text (embeddings,
     * counts, lists): the whole body. */
    json_t *direct;         /* owned reference */
} mg_mock_plan;

typedef struct mg_mock_block {
    int kind;  /* enum mg_mock_block_kind */
    int call;  /* index into plan->calls for tool blocks */
    char hex[MG_MOCK_HEX + 1]; /* random id part; formats add their prefix */
} mg_mock_block;

/* Word source: the lead words ("Mock reply to: ...") then words picked by a
 * PRNG seeded from the prompt, so the same prompt gives the same text. */
typedef struct mg_mock_words {
    char *lead;       /* owned */
    size_t lead_pos;
    uint64_t rng;
    long count;       /* words produced */
    int until_stop;   /* words left in the current sentence */
    int capital;      /* next word starts a sentence */
} mg_mock_words;

enum mg_mock_framing { MG_MOCK_FRAME_SSE = 0, MG_MOCK_FRAME_SSE_CRLF, MG_MOCK_FRAME_JSON_ARRAY };

/* The reply walker. Owned by its xfer. */
struct mg_mock_gen {
    const mg_mock_plan *plan;
    int streaming;       /* hooks run and events queue; 0 = collect for a whole body */
    double tps;
    mg_mock_block blocks[MG_MOCK_MAX_BLOCKS];
    int nblocks;
    int phase;           /* gen.c's stage enum */
    int cur;             /* current block */
    /* Current block's progress. */
    mg_mock_words words;
    long done;           /* pieces emitted */
    long limit;          /* pieces planned (words, or fragments for tools) */
    size_t done_bytes;
    const char *fixed;   /* block sent as it is (tool arguments, echo), or NULL */
    size_t fixed_len;
    size_t frag_off;     /* bytes of it sent so far */
    mg_buf piece;        /* scratch: the delta being made */
    /* What came out, for final events and whole bodies. */
    mg_buf text;         /* reply text (kept up to acc_max) */
    mg_buf thinking;     /* reasoning text */
    size_t acc_max;      /* 0 = do not keep text */
    long text_tokens, think_tokens, tool_tokens;
    int finish;          /* enum mg_mock_finish */
    int stop_hit;        /* index of the stop sequence that ended it, or -1 */
    int fault_fired;
    /* Format bookkeeping. */
    long seq;            /* Responses sequence_number, next value */
    int ping_sent;       /* Anthropic */
    int array_open;      /* Gemini JSON array stream */
    /* Queued events: q holds them back to back, ends[] where each ends. */
    mg_buf q;
    size_t ends[MG_MOCK_MAX_EVENTS];
    int nev, next_ev;
    int framing;         /* enum mg_mock_framing */
    int corrupt_next;    /* cut the next JSON event in half (malformed fault) */
    double delay;        /* seconds to wait after this step's events */
};

/* Per-API table. Hooks queue events on g; render builds a whole body. */
struct mg_mock_fmt {
    const char *name;
    const char *stream_ctype;
    const char *id_header; /* response header carrying the request id */
    int stream_keeps_text; /* its final stream events repeat the whole text */
    /* Fill p from the parsed body; MG_ERR with err (MG_ERRLEN) -> 400. */
    int (*parse)(mg_mock_plan *p, json_t *root, const mg_mock_req *req, char *err);
    json_t *(*render)(const mg_mock_gen *g);
    void (*on_start)(mg_mock_gen *g);
    void (*on_block_start)(mg_mock_gen *g, const mg_mock_block *b);
    void (*on_delta)(mg_mock_gen *g, const mg_mock_block *b, const char *s, size_t n);
    void (*on_block_stop)(mg_mock_gen *g, const mg_mock_block *b);
    void (*on_finish)(mg_mock_gen *g);
    json_t *(*error)(int kind, const char *msg); /* enum mg_mock_err */
};

extern const mg_mock_fmt mg_mock_fmt_chat, mg_mock_fmt_embed, mg_mock_fmt_models,
    mg_mock_fmt_anthropic, mg_mock_fmt_count, mg_mock_fmt_responses, mg_mock_fmt_gemini;

/* fmt_openai.c: OpenAI's error shape (Responses shares it); usage object. */
json_t *mg_mock_openai_error(int kind, const char *msg);
/* fmt_anthropic.c, fmt_gemini.c: their error shapes, for 404s under their paths. */
json_t *mg_mock_anthropic_error(int kind, const char *msg);
json_t *mg_mock_gemini_error(int kind, const char *msg);
int mg_mock_model_reasons(const char *model); /* o1/o3/o4 or "reason" in the name */

/* text.c */
uint64_t mg_mock_hash(const void *p, size_t n, uint64_t seed);
uint64_t mg_mock_rand(uint64_t *state);
long mg_mock_tokens_of(size_t bytes); /* ~4 bytes a token, at least 1 */
size_t mg_mock_utf8_cut(const char *s, size_t len, size_t max);
void mg_mock_words_init(mg_mock_words *w, const char *label, const char *prompt, uint64_t salt);
void mg_mock_words_next(mg_mock_words *w, mg_buf *out);
void mg_mock_words_free(mg_mock_words *w);
void mg_mock_collect_text(const json_t *v, mg_buf *out, int depth);
int mg_mock_contains_ci(const char *hay, const char *needle);
json_t *mg_mock_jstr(const char *s, size_t n); /* a JSON string even for bad UTF-8 */
void mg_mock_ascii_fix(char *s, size_t n);      /* bad UTF-8 -> ASCII with '?' */
void mg_mock_hex(char out[MG_MOCK_HEX + 1]);
char *mg_mock_base64(const unsigned char *p, size_t n);

/* plan.c */
const char *mg_mock_req_header(const mg_mock_req *req, const char *name, char *tmp, size_t tmplen);
void mg_mock_plan_model(mg_mock_plan *p, const char *model, size_t n);
void mg_mock_plan_set_prompt(mg_mock_plan *p, const mg_buf *all_text, const char *last_user);
void mg_mock_plan_add_tool(mg_mock_plan *p, json_t *name, json_t *schema);
void mg_mock_plan_stops(mg_mock_plan *p, const json_t *stop);
long mg_mock_json_long(const json_t *v, long dflt);
int mg_mock_plan_headers(mg_mock_plan *p, const mg_mock_req *req, const mg_mock_opts *opts);
void mg_mock_plan_tools(mg_mock_plan *p, const mg_mock_req *req);
void mg_mock_plan_free(mg_mock_plan *p);

/* gen.c */
enum { MG_MOCK_STEP_MORE = 0, MG_MOCK_STEP_FAULT, MG_MOCK_STEP_END };
void mg_mock_gen_init(mg_mock_gen *g, const mg_mock_plan *p, int streaming);
int mg_mock_gen_step(mg_mock_gen *g);
void mg_mock_gen_collect(mg_mock_gen *g);
void mg_mock_gen_free(mg_mock_gen *g);
long mg_mock_gen_output_tokens(const mg_mock_gen *g); /* text + tools + reasoning */
void mg_mock_emit_json(mg_mock_gen *g, const char *event, json_t *data); /* steals data */
void mg_mock_emit_raw(mg_mock_gen *g, const char *bytes);
void mg_mock_dump(const json_t *j, mg_buf *out);

#endif
