/* mock.h — built-in mock model providers. One generator, two faces: the
 * in-process backend for `format = "mock"` providers (same callback contract
 * as upstream.h) and the `moongate mock` HTTP server.
 *
 * Speaks OpenAI chat completions and embeddings, Anthropic messages and
 * count_tokens, OpenAI Responses, Gemini generateContent and
 * streamGenerateContent (alt=sse), each with its real event shapes.
 * Deterministic text derived from the prompt; usage counted from the request;
 * simulated time to first token and tokens per second on libev timers (never
 * sleeping); tool calls, reasoning, and faults on request (see mock.c). */
#ifndef MG_MOCK_H
#define MG_MOCK_H

#include <ev.h>

#include "../net/http.h"
#include "../upstream/upstream.h"

typedef struct mg_mock_req {
    const char *method;
    const char *path;  /* e.g. "/v1/chat/completions", "/v1beta/models/gemini-2.5-pro:generateContent" */
    const char *query; /* raw query string without '?', or "" */
    const mg_header *headers;
    size_t nheaders;
    const char *body;
    size_t body_len;
} mg_mock_req;

typedef struct mg_mock_opts {
    double speed; /* multiplies simulated delays; 0 = no delays (tests, bench) */
} mg_mock_opts;

typedef struct mg_mock_xfer mg_mock_xfer;

/* Start generating the response for req. Copies what it needs from req.
 * Callbacks never fire before this returns. */
mg_mock_xfer *mg_mock_start(struct ev_loop *loop, const mg_mock_req *req,
                            const mg_mock_opts *opts, const mg_up_callbacks *cb, void *ud);
void mg_mock_resume(mg_mock_xfer *x);
void mg_mock_cancel(mg_mock_xfer *x);
long mg_mock_pauses(const mg_mock_xfer *x);

/* `moongate mock --listen HOST:PORT`: serve until SIGINT/SIGTERM. */
int mg_mock_serve(const char *host, int port, const mg_mock_opts *opts);

#endif
