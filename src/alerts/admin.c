/* admin.c — the admin entry (alerts.h): on the worker, the request is
 * copied into a command and handed to the engine's loop with a reply
 * object (reply.h); on the loop, mg_al_dispatch routes it to the handler
 * of its path. Every handler answers exactly once, possibly from the
 * database thread. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "al-t.h"

#define MAX_PATH 512

int mg_alerts_handles(const char *path)
{
    static const char *const roots[] = {"/api/alerts", "/api/insights", "/api/whatif"};
    for (size_t i = 0; i < MG_ARRAY_LEN(roots); i++) {
        size_t n = strlen(roots[i]);
        if (!strncmp(path, roots[i], n) && (path[n] == 0 || path[n] == '/'))
            return 1;
    }
    return 0;
}

static void respond_now(mg_http_req *req, int status, const char *message)
{
    mg_buf b = {0};
    mg_buf_append_str(&b, "{\"error\":{\"message\":");
    mg_buf_append_json_str(&b, message, strlen(message));
    mg_buf_printf(&b, ",\"code\":%d}}", status);
    mg_http_respond(req, status, "application/json", "Cache-Control: no-store\r\n", b.data, b.len);
    mg_buf_free(&b);
}

void mg_alerts_admin(mg_alerts *a, mg_http_req *req, const char *subpath)
{
    if (!a) {
        respond_now(req, 503, "alerts are not available (the database could not be opened)");
        return;
    }
    if (strlen(subpath) > MAX_PATH) {
        respond_now(req, 414, "path too long");
        return;
    }
    mg_al_cmd *c = mg_xcalloc(1, sizeof *c);
    c->method = mg_xstrdup(req->method);
    c->path = mg_xstrdup(subpath);
    c->query = mg_xstrdup(req->query ? req->query : "");
    c->body_len = mg_buf_unread(&req->body);
    c->body = mg_xstrndup(c->body_len ? mg_buf_rptr(&req->body) : "", c->body_len);
    c->reply = mg_al_reply_new(req);
    mg_al_inbox_push(a, c);
}

/* ---- helpers for handlers ------------------------------------------------ */

json_t *mg_al_cmd_json(mg_al_cmd *c)
{
    json_error_t err;
    json_t *j = json_loadb(c->body, c->body_len, JSON_REJECT_DUPLICATES, &err);
    if (json_is_object(j))
        return j;
    if (j)
        json_decref(j);
    char msg[256];
    snprintf(msg, sizeof msg, "the body must be a JSON object (%s)", c->body_len ? err.text : "empty");
    mg_al_reply_error(c->reply, 400, msg);
    c->reply = NULL;
    return NULL;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = (char)tolower((unsigned char)ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

int mg_al_query_param(const char *query, const char *name, char *out, size_t len)
{
    size_t nlen = strlen(name);
    for (const char *p = query; p && *p;) {
        const char *end = strchr(p, '&');
        size_t plen = end ? (size_t)(end - p) : strlen(p);
        if (plen > nlen && !strncmp(p, name, nlen) && p[nlen] == '=') {
            size_t o = 0;
            for (size_t i = nlen + 1; i < plen; i++) {
                char ch = p[i];
                if (ch == '+')
                    ch = ' ';
                else if (ch == '%' && i + 2 < plen + 1 && hexval(p[i + 1]) >= 0 &&
                         hexval(p[i + 2]) >= 0) {
                    ch = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
                    i += 2;
                }
                if (o + 1 >= len || ch == 0)
                    return MG_ERR;
                out[o++] = ch;
            }
            out[o] = 0;
            return MG_OK;
        }
        p = end ? end + 1 : NULL;
    }
    return MG_ERR;
}

/* ---- routing on the loop ------------------------------------------------------ */

static void overview(mg_alerts *a, mg_al_cmd *c)
{
    size_t firing = 0;
    for (size_t i = 0; i < a->states.n; i++)
        firing += a->states.a[i].firing != 0;
    mg_al_reply_json(c->reply, 200,
                     json_pack("{s:I,s:I,s:I,s:I,s:I,s:f,s:I,s:b}", "policy_rules",
                               (json_int_t)a->nlua, "api_rules", (json_int_t)a->napi, "firing",
                               (json_int_t)firing, "evaluations", (json_int_t)a->evaluations,
                               "last_eval_ms", (json_int_t)a->last_eval_ms, "interval",
                               a->interval, "deliveries_in_flight",
                               (json_int_t)mg_al_sender_inflight(a->sender), "policies_loaded",
                               a->gen != NULL));
    c->reply = NULL;
}

static void evaluate_now(mg_alerts *a, mg_al_cmd *c)
{
    mg_alerts_evaluate(a);
    size_t firing = 0;
    for (size_t i = 0; i < a->states.n; i++)
        firing += a->states.a[i].firing != 0;
    mg_al_reply_json(c->reply, 200, json_pack("{s:I,s:I,s:I}", "evaluated",
                                              (json_int_t)a->nevaluated, "firing",
                                              (json_int_t)firing, "ts_ms",
                                              (json_int_t)a->last_eval_ms));
    c->reply = NULL;
}

static int is(const mg_al_cmd *c, const char *method, const char *path)
{
    return !strcmp(c->method, method) && !strcmp(c->path, path);
}

/* "alerts/rules" + "" or "/name" → rest ("" or "name"); NULL if no match. */
static const char *under(const char *path, const char *root)
{
    size_t n = strlen(root);
    if (strncmp(path, root, n) != 0)
        return NULL;
    if (path[n] == 0)
        return path + n;
    return path[n] == '/' && path[n + 1] && !strchr(path + n + 1, '/') ? path + n + 1 : NULL;
}

void mg_al_dispatch(mg_alerts *a, mg_al_cmd *c)
{
    const char *rest;
    if ((rest = under(c->path, "alerts/rules")))
        mg_al_api_rules(a, c, rest);
    else if ((rest = under(c->path, "alerts/channels")))
        mg_al_api_channels(a, c, rest);
    else if (is(c, "POST", "alerts/test"))
        mg_al_api_test(a, c);
    else if (is(c, "GET", "alerts/active"))
        mg_al_api_active(a, c);
    else if (is(c, "GET", "alerts/history"))
        mg_al_api_history(a, c);
    else if (is(c, "POST", "alerts/mute"))
        mg_al_api_mute(a, c);
    else if (is(c, "POST", "alerts/evaluate"))
        evaluate_now(a, c);
    else if (is(c, "GET", "alerts"))
        overview(a, c);
    else if (is(c, "GET", "insights"))
        mg_al_api_insights(a, c);
    else if (is(c, "POST", "insights/generate")) {
        mg_al_insights_run(a, c->reply);
        c->reply = NULL;
    } else if (is(c, "POST", "insights/action"))
        mg_al_api_insight_action(a, c);
    else if (is(c, "POST", "whatif"))
        mg_al_api_whatif(a, c);
    else {
        mg_al_reply_error(c->reply, 404, "no such alerts, insights or whatif endpoint");
        c->reply = NULL;
    }
    if (c->reply) { /* a handler that forgot to answer is a bug; never leave a client hanging */
        mg_al_reply_error(c->reply, 500, "not answered");
        c->reply = NULL;
    }
}
