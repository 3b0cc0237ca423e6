/* cli_follow.c — the CLI's conversation with the gateway: subscribe to the
 * live stream (GET /api/events) first, so no event of the new session is
 * missed, then create the session (POST /api/crosstalk/sessions with the
 * preset's source), then print its crosstalk_events until session_end.
 * Ctrl-C posts stop once (a second Ctrl-C leaves at once). If the stream
 * breaks, the final state comes from GET /api/crosstalk/sessions/{id}.
 * Uses libcurl (easy for requests, multi to poll the stream), jansson,
 * upstream/sse.h. */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define MAX_ANSWER (16u << 20)
#define STOP_GRACE 20.0 /* seconds to wait for the end after a stop */
#define QUIET_POLL 10.0 /* seconds without an event before asking for the state */

volatile sig_atomic_t ct_cli_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    ct_cli_interrupted++;
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    mg_buf *out = ud;
    size_t len = size * n;
    if (out->len + len > MAX_ANSWER)
        return 0;
    mg_buf_append(out, p, len);
    return len;
}

static struct curl_slist *auth_headers(const char *token, int json)
{
    struct curl_slist *h = NULL;
    char line[400];
    if (token && *token) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, line);
    }
    if (json)
        h = curl_slist_append(h, "Content-Type: application/json");
    return h;
}

long ct_cli_request(const char *method, const char *url, const char *token, const char *body,
                    long timeout_ms, mg_buf *out, char *err, size_t errlen)
{
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(err, errlen, "libcurl failed to start");
        return -1;
    }
    struct curl_slist *hdrs = auth_headers(token, body != NULL);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    CURLcode rc = curl_easy_perform(h);
    long status = -1;
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(err, errlen, "%s", curl_easy_strerror(rc));
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return status;
}

static int exit_code_of(const char *state)
{
    if (!state)
        return CLI_ERROR;
    if (!strcmp(state, "finished"))
        return CLI_FINISHED;
    if (!strcmp(state, "stopped"))
        return CLI_STOPPED;
    if (!strcmp(state, "failed"))
        return CLI_FAILED;
    if (!strcmp(state, "interrupted"))
        return CLI_INTERRUPTED;
    return CLI_ERROR;
}

static void on_event(void *ud, const char *event, size_t elen, const char *data, size_t dlen)
{
    ct_cli *c = ud;
    if (elen != 15 || memcmp(event, "crosstalk_event", 15) != 0 || !c->id[0])
        return;
    json_t *ev = json_loadb(data, dlen, 0, NULL);
    const char *sid = json_string_value(json_object_get(ev, "session"));
    if (sid && strcmp(sid, c->id) == 0) {
        c->last_event = mg_now_mono();
        ct_cli_print_event(c, ev);
        const char *type = json_string_value(json_object_get(ev, "type"));
        if (type && !strcmp(type, "session_end")) {
            c->ended = 1;
            c->exit_code = exit_code_of(json_string_value(json_object_get(ev, "state")));
        }
    }
    if (ev)
        json_decref(ev);
}

static size_t on_stream(char *p, size_t size, size_t n, void *ud)
{
    ct_cli *c = ud;
    c->stream_bytes += size * n;
    mg_sse_feed(&c->sse, p, size * n);
    return size * n;
}

/* Drive the stream until pred is true, the stream ends, or `secs` pass.
 * Returns 0 while the stream is open, -1 once it ended. */
static int pump(CURLM *m, double secs, int (*pred)(ct_cli *), ct_cli *c)
{
    double end = mg_now_mono() + secs;
    while (!pred(c) && mg_now_mono() < end) {
        int running = 0;
        curl_multi_perform(m, &running);
        if (!running)
            return -1;
        curl_multi_poll(m, NULL, 0, 50, NULL);
        if (ct_cli_interrupted > c->stop_sent)
            break; /* a Ctrl-C to act on */
    }
    return 0;
}

static int stream_opened(ct_cli *c) { return c->stream_bytes > 0; }
static int session_over(ct_cli *c) { return c->ended; }

static int create_session(ct_cli *c)
{
    json_t *body = json_object();
    json_object_set_new(body, "source", json_stringn(c->source, c->source_len));
    json_object_set_new(body, "name", json_string(c->name));
    if (c->rounds)
        json_object_set_new(body, "rounds", json_integer(c->rounds));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text) {
        fprintf(c->err, "moongate crosstalk: %s is not UTF-8 text\n", c->name);
        return -1;
    }
    char url[400], err[256];
    snprintf(url, sizeof url, "%s/api/crosstalk/sessions", c->url);
    mg_buf out = {0};
    long status = ct_cli_request("POST", url, c->token, text, 15000, &out, err, sizeof err);
    free(text);
    json_t *answer = out.len ? json_loadb(out.data, out.len, 0, NULL) : NULL;
    mg_buf_free(&out);
    const char *id = json_string_value(json_object_get(answer, "id"));
    if (status == 201 && id && strlen(id) == 32) {
        snprintf(c->id, sizeof c->id, "%s", id);
        c->created = answer;
        return 0;
    }
    const char *msg = json_string_value(json_object_get(json_object_get(answer, "error"), "message"));
    if (status < 0)
        fprintf(c->err, "moongate crosstalk: %s: %s\n", c->url, err);
    else if (status == 401)
        fprintf(c->err, "moongate crosstalk: the gateway refused the admin token (%s); pass "
                        "--token or -c with the gateway's config\n", msg ? msg : "401");
    else
        fprintf(c->err, "moongate crosstalk: %s\n", msg ? msg : "the gateway refused the preset");
    if (answer)
        json_decref(answer);
    return -1;
}

static void send_stop(ct_cli *c)
{
    char url[400], err[256];
    snprintf(url, sizeof url, "%s/api/crosstalk/sessions/%s/stop", c->url, c->id);
    mg_buf out = {0};
    long status = ct_cli_request("POST", url, c->token, "{}", 10000, &out, err, sizeof err);
    mg_buf_free(&out);
    c->stop_sent = 1;
    ct_cli_note(c, status == 200 || status == 202 ? "stopping (Ctrl-C again to leave now)"
                                                  : "could not send stop (HTTP %ld)", status);
}

/* The session's recorded state: its exit code when it ended, else -1. */
static int recorded_end(ct_cli *c)
{
    char url[400], err[256];
    snprintf(url, sizeof url, "%s/api/crosstalk/sessions/%s", c->url, c->id);
    mg_buf out = {0};
    long status = ct_cli_request("GET", url, c->token, NULL, 10000, &out, err, sizeof err);
    json_t *s = status == 200 ? json_loadb(out.data, out.len, 0, NULL) : NULL;
    mg_buf_free(&out);
    int code = exit_code_of(json_string_value(json_object_get(s, "state")));
    if (s)
        json_decref(s);
    return code == CLI_ERROR ? -1 : code;
}

/* After the stream: the recorded state decides the exit code. */
static void final_state(ct_cli *c)
{
    char url[400], err[256];
    snprintf(url, sizeof url, "%s/api/crosstalk/sessions/%s", c->url, c->id);
    mg_buf out = {0};
    long status = ct_cli_request("GET", url, c->token, NULL, 10000, &out, err, sizeof err);
    json_t *s = status == 200 ? json_loadb(out.data, out.len, 0, NULL) : NULL;
    mg_buf_free(&out);
    const char *state = json_string_value(json_object_get(s, "state"));
    c->exit_code = exit_code_of(state);
    ct_cli_note(c, "session %s is %s", c->id, state ? state : "unknown (gateway unreachable)");
    if (s)
        json_decref(s);
}

static CURL *open_stream(ct_cli *c, struct curl_slist **hdrs)
{
    char url[400];
    snprintf(url, sizeof url, "%s/api/events", c->url);
    CURL *h = curl_easy_init();
    *hdrs = auth_headers(c->token, 0);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_stream);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
    return h;
}

int ct_cli_follow(ct_cli *c)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    c->color = !c->json && isatty(1) && !getenv("NO_COLOR");
    c->t_start = mg_now_mono();
    mg_sse_init(&c->sse, on_event, c, 0);
    struct curl_slist *hdrs = NULL;
    CURL *h = open_stream(c, &hdrs);
    CURLM *m = curl_multi_init();
    curl_multi_add_handle(m, h);
    int rc = CLI_ERROR;
    if (pump(m, 10.0, stream_opened, c) != 0 || !stream_opened(c)) {
        fprintf(c->err, "moongate crosstalk: cannot follow %s/api/events (admin token right?)\n",
                c->url);
        goto done;
    }
    if (create_session(c) != 0)
        goto done;
    ct_cli_print_header(c);
    c->last_event = mg_now_mono();
    double stop_at = 0;
    while (!c->ended) {
        if (ct_cli_interrupted && !c->stop_sent) {
            send_stop(c);
            stop_at = mg_now_mono();
        }
        if (ct_cli_interrupted > 1 || (stop_at > 0 && mg_now_mono() - stop_at > STOP_GRACE))
            break;
        if (pump(m, 0.25, session_over, c) != 0)
            break; /* the stream ended: the gateway went away or dropped us */
        if (!c->ended && mg_now_mono() - c->last_event > QUIET_POLL) {
            /* A subscriber that fell behind skips events: ask for the state. */
            c->last_event = mg_now_mono();
            if (recorded_end(c) >= 0)
                break;
        }
    }
    if (!c->ended)
        final_state(c);
    rc = c->exit_code;
done:
    curl_multi_remove_handle(m, h);
    curl_easy_cleanup(h);
    curl_multi_cleanup(m);
    curl_slist_free_all(hdrs);
    mg_sse_free(&c->sse);
    sigaction(SIGINT, &old, NULL);
    return rc;
}
