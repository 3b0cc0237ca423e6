/* mock_harness.h — shared by the mock's unit tests: runs one request
 * through the generator on its own libev loop at a given speed, captures the
 * callbacks (refusing any that come before mg_mock_start returns), and
 * reads the result with jansson: bodies, SSE events, dotted-path lookups.
 * Request bodies every test reuses are the macros at the end. */
#ifndef MG_MOCK_HARNESS_H
#define MG_MOCK_HARNESS_H

#include <ev.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/common.h"
#include "mock/mock.h"
#include "test.h"

typedef struct cap {
    struct ev_loop *loop;
    mg_mock_xfer *x;
    int in_start;          /* a callback during mg_mock_start is a bug */
    int early;
    int responses, status;
    char ctype[128], retry_after[16], request_id[64];
    mg_buf data;
    long ndata;
    size_t max_chunk;
    int done, result;
    int pause_each;        /* on_data returns MG_AGAIN every time */
    int paused;            /* waiting for the test to resume */
    long cancel_after;     /* cancel inside on_data after this many chunks */
    int cancelled;
} cap;

static inline void copy_value(char *dst, size_t cap, const mg_header *h)
{
    snprintf(dst, cap, "%.*s", (int)h->value_len, h->value);
}

static inline void on_response(void *ud, int status, const mg_header *h, size_t n)
{
    cap *c = ud;
    c->early |= c->in_start;
    c->responses++;
    c->status = status;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(h[i].name, "content-type") == 0)
            copy_value(c->ctype, sizeof c->ctype, &h[i]);
        else if (strcmp(h[i].name, "retry-after") == 0)
            copy_value(c->retry_after, sizeof c->retry_after, &h[i]);
        else if (strcmp(h[i].name, "x-request-id") == 0 || strcmp(h[i].name, "request-id") == 0)
            copy_value(c->request_id, sizeof c->request_id, &h[i]);
    }
}

static inline int on_data(void *ud, const char *d, size_t n)
{
    cap *c = ud;
    c->early |= c->in_start;
    CHECK(c->responses == 1);
    CHECK(!c->paused);
    mg_buf_append(&c->data, d, n);
    c->ndata++;
    c->max_chunk = MG_MAX(c->max_chunk, n);
    if (c->cancel_after && c->ndata == c->cancel_after) {
        mg_mock_cancel(c->x);
        c->cancelled = 1;
        return MG_OK;
    }
    if (c->pause_each) {
        c->paused = 1;
        return MG_AGAIN;
    }
    return MG_OK;
}

static inline void on_done(void *ud, int result, const char *msg)
{
    cap *c = ud;
    MG_UNUSED(msg);
    c->early |= c->in_start;
    c->done++;
    c->result = result;
}

static const mg_up_callbacks cbs = {on_response, on_data, on_done};

/* Run one request to the end (or until nothing more can happen). Headers
 * are "name", "value" pairs ended by NULL. */
static inline void run_opts(cap *c, const char *method, const char *path, const char *query, const char *body,
                     const char *const *hdrs, double speed)
{
    mg_header h[16];
    size_t nh = 0;
    for (; hdrs && hdrs[2 * nh]; nh++) {
        h[nh].name = hdrs[2 * nh];
        h[nh].name_len = strlen(h[nh].name);
        h[nh].value = hdrs[2 * nh + 1];
        h[nh].value_len = strlen(h[nh].value);
    }
    mg_mock_req req = {method, path, query ? query : "", h, nh, body, body ? strlen(body) : 0};
    mg_mock_opts opts = {speed};
    c->loop = ev_loop_new(EVFLAG_AUTO);
    c->in_start = 1;
    c->x = mg_mock_start(c->loop, &req, &opts, &cbs, c);
    c->in_start = 0;
    for (;;) {
        ev_run(c->loop, 0);
        if (!c->paused || c->cancelled || c->done)
            break;
        c->paused = 0;
        mg_mock_resume(c->x);
    }
    CHECK(!c->early);
}

static inline void run(cap *c, const char *path, const char *body, const char *const *hdrs)
{
    run_opts(c, "POST", path, NULL, body, hdrs, 0);
}

static inline void cap_free(cap *c)
{
    if (!c->done && !c->cancelled)
        mg_mock_cancel(c->x); /* stalled or timed out: still owned by us */
    ev_loop_destroy(c->loop);
    mg_buf_free(&c->data);
}

static inline json_t *body_json(cap *c)
{
    json_t *j = json_loadb(c->data.data ? c->data.data : "", c->data.len, 0, NULL);
    CHECK(j != NULL);
    return j;
}

/* Parsed SSE events: [{"event": name or "", "data": parsed JSON or string}]. */
static inline json_t *sse(cap *c, const char *sep)
{
    json_t *events = json_array();
    const char *p = c->data.data ? mg_buf_cstr(&c->data) : "";
    size_t seplen = strlen(sep);
    while (*p) {
        const char *end = strstr(p, sep);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char *block = strndup(p, len);
        json_t *ev = json_object();
        for (char *save = NULL, *line = strtok_r(block, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
            if (strncmp(line, "event: ", 7) == 0)
                json_object_set_new(ev, "event", json_string(line + 7));
            else if (strncmp(line, "data: ", 6) == 0) {
                json_t *d = json_loads(line + 6, JSON_DECODE_ANY, NULL);
                json_object_set_new(ev, "data", d ? d : json_string(line + 6));
                json_object_set_new(ev, "json", json_boolean(d != NULL));
            }
        }
        json_array_append_new(events, ev);
        free(block);
        p += len + (end ? seplen : 0);
    }
    return events;
}

static inline const char *ev_name(json_t *events, size_t i)
{
    return json_string_value(json_object_get(json_array_get(events, i), "event"));
}

static inline json_t *ev_data(json_t *events, size_t i) { return json_object_get(json_array_get(events, i), "data"); }

/* Value at a dotted path; numeric parts index arrays ("choices.0.delta"). */
static inline json_t *jget(json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = o;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        cur = (*k >= '0' && *k <= '9') ? json_array_get(cur, (size_t)atoi(k)) : json_object_get(cur, k);
    return cur;
}

static inline long jint(json_t *o, const char *path)
{
    json_t *v = jget(o, path);
    return json_is_integer(v) ? (long)json_integer_value(v) : -999;
}

static inline const char *jstr(json_t *o, const char *path) { return json_string_value(jget(o, path)); }

static inline size_t jlen(json_t *o, const char *path) { return json_array_size(jget(o, path)); }

static inline long count_words(const char *s)
{
    long n = 0;
    for (int in = 0; s && *s; s++) {
        if (*s != ' ' && !in)
            n++;
        in = *s != ' ';
    }
    return n;
}

#define CHAT(extra) "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"}," \
                    "{\"role\":\"user\",\"content\":\"Say hello to the gateway\"}]" extra "}"
#define TOOLS "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\"," \
              "\"properties\":{\"city\":{\"type\":\"string\"},\"days\":{\"type\":\"integer\"},\"unit\":{\"enum\":[\"c\",\"f\"]}}}}}," \
              "{\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"parameters\":{\"type\":\"object\",\"properties\":{}}}}]"

static inline void check_args_object(const char *args)
{
    json_t *a = json_loads(args ? args : "", 0, NULL);
    CHECK(json_is_object(a));
    json_decref(a);
}

static inline void event_shape(json_t *ev, mg_buf *out)
{
    const char *prev = "";
    for (size_t i = 0; i < json_array_size(ev); i++) {
        const char *name = ev_name(ev, i);
        CHECK(name != NULL);
        if (!name)
            continue;
        json_t *d = ev_data(ev, i);
        CHECK_EQ_STR(jstr(d, "type"), name); /* the data's type names its event */
        if (strcmp(name, prev) == 0 && strstr(name, "delta"))
            continue;
        mg_buf_printf(out, "%s%s", out->len ? " " : "", name);
        prev = name;
    }
}

#define MSG(extra) "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":100,\"system\":\"sys\"," \
                   "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi there\"}]}]" extra "}"
#define ANT_TOOLS "\"tools\":[{\"name\":\"get_weather\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}," \
                  "{\"name\":\"get_time\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"tz\":{\"type\":\"string\"}}}}]"

#define GEM "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hello gemini\"}]}]}"
#define GEM_TOOLS "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"weather\"}]}],\"tools\":[{\"functionDeclarations\":" \
                  "[{\"name\":\"get_weather\",\"parameters\":{\"type\":\"OBJECT\",\"properties\":{\"city\":{\"type\":\"STRING\"}}}}]}]," \
                  "\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"ANY\"}}}"

#endif
