/* hooks.c — the policy hooks that run around an upstream attempt, each
 * synchronous and deadline-bound: before_upstream may change the body and
 * headers sent upstream, on_response may rewrite a non-streaming answer,
 * classify_error decides whether a failed attempt moves on and whether it
 * counts against the provider's breaker. A failing hook is logged and the
 * request goes on as if it were absent: a policy bug must not turn a good
 * answer into an error. */
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "px-t.h"

static mg_lua_gen *hook_gen(mg_px *px, int hook)
{
    mg_lua_gen *g = px->gen->lua;
    if (!g || !mg_lua_gen_has_hook(g, hook))
        return NULL;
    if (!px->lreq.id)
        mg_px_fill_lua_req(px);
    return g;
}

static void take_headers(mg_px *px, mg_lua_changes *ch)
{
    for (size_t i = 0; i < px->nhook_headers; i++) {
        free(px->hook_headers[i].name);
        free(px->hook_headers[i].value);
    }
    free(px->hook_headers);
    px->hook_headers = ch->headers;
    px->nhook_headers = ch->nheaders;
    ch->headers = NULL;
    ch->nheaders = 0;
}

void mg_px_hook_before_upstream(mg_px *px, const char **body, size_t *len)
{
    mg_lua_gen *g = hook_gen(px, MG_LUA_HOOK_BEFORE_UPSTREAM);
    if (!g)
        return;
    mg_lua_req req = px->lreq;
    req.body = *body;
    req.body_len = *len;
    mg_lua_target target = {.provider = (char *)px->cur->provider->name,
                            .model = px->cur->model};
    mg_lua_changes ch = {0};
    char err[512];
    int rc = mg_lua_before_upstream(g, &req, &target, mg_format_name(px->up_format), &ch, err,
                                    sizeof err);
    if (rc == MG_LUA_ERROR) {
        mg_warn("before_upstream failed (request %s goes on unchanged): %s", px->rec->id, err);
        return;
    }
    if (rc != MG_LUA_OK)
        return;
    if (ch.body) {
        mg_buf_reset(&px->hook_body);
        mg_buf_append(&px->hook_body, ch.body, ch.body_len);
        *body = px->hook_body.data;
        *len = px->hook_body.len;
    }
    take_headers(px, &ch);
    mg_lua_changes_free(&ch);
}

int mg_px_hook_on_response(mg_px *px, mg_buf *body, mg_buf *extra_headers)
{
    mg_lua_gen *g = hook_gen(px, MG_LUA_HOOK_ON_RESPONSE);
    if (!g)
        return 0;
    mg_lua_res res = {.status = px->up_status, .body = body->data, .body_len = body->len,
                      .provider = px->cur->provider->name, .model = px->cur->model};
    mg_lua_changes ch = {0};
    char err[512];
    int rc = mg_lua_on_response(g, &px->lreq, &res, &ch, err, sizeof err);
    if (rc == MG_LUA_ERROR)
        mg_warn("on_response failed (request %s answered unchanged): %s", px->rec->id, err);
    int changed = 0;
    if (rc == MG_LUA_OK) {
        if (ch.body) {
            mg_buf_reset(body);
            mg_buf_append(body, ch.body, ch.body_len);
            changed = 1;
        }
        for (size_t i = 0; i < ch.nheaders; i++)
            if (ch.headers[i].value && !strpbrk(ch.headers[i].name, "\r\n:") &&
                !strpbrk(ch.headers[i].value, "\r\n"))
                mg_buf_printf(extra_headers, "%s: %s\r\n", ch.headers[i].name,
                              ch.headers[i].value);
    }
    mg_lua_changes_free(&ch);
    return changed;
}

void mg_px_hook_classify(mg_px *px, int result, int *retry, int *breaker)
{
    mg_lua_gen *g = hook_gen(px, MG_LUA_HOOK_CLASSIFY_ERROR);
    if (!g)
        return;
    mg_lua_res res = {.status = px->up_status, .body = px->up_body.data,
                      .body_len = px->up_body.len, .provider = px->cur->provider->name,
                      .model = px->cur->model,
                      .error = result != MG_UP_OK ? mg_up_result_name(result) : NULL};
    char err[512];
    if (mg_lua_classify_error(g, &res, retry, breaker, err, sizeof err) == MG_LUA_ERROR)
        mg_warn("classify_error failed (defaults used): %s", err);
}
