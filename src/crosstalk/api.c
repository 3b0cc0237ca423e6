/* api.c — the /api/crosstalk endpoints (mg_crosstalk_admin), behind the admin guard.
 * Creating and controlling sessions happens on the loop; every read of the
 * database is a job for the crosstalk thread whose answer comes back to
 * this loop's inbox (the client may leave meanwhile: on_abort forgets the
 * request, the answer is dropped). Routes are listed in crosstalk.h.
 * Uses session.c, db.c, db_read.c, jansson. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct-t.h"

enum read_kind { RD_SESSION = 0, RD_LIST, RD_STATS, RD_PRESETS, RD_PRESET_FILE, RD_ENDED };

static const char *const action_names[CT_NACTIONS] = {"pause", "resume", "step", "stop"};

/* One admin request waiting for the database thread. Owner: the job. */
typedef struct read_job {
    ct_job base;
    mg_crosstalk *ct;
    mg_worker *w;
    mg_http_req *req; /* NULL once the client left */
    int kind;
    char id[33];
    char *query;
    mg_buf out;
    int status;
    /* RD_PRESET_FILE: the session to create once the file is read */
    char name[80];
    int rounds, paused;
    double budget;
    char *text;
    size_t len;
} read_job;

static void respond_json(mg_http_req *req, int status, const char *body, size_t len)
{
    mg_http_respond(req, status, "application/json", "Cache-Control: no-store\r\n", body, len);
}

static void respond_error(mg_http_req *req, int status, const char *message)
{
    mg_buf b = {0};
    mg_buf_append_str(&b, "{\"error\":{\"message\":");
    mg_buf_append_json_str(&b, message, strlen(message));
    mg_buf_printf(&b, ",\"code\":%d}}", status);
    respond_json(req, status, b.data, b.len);
    mg_buf_free(&b);
}

/* ---- creation ------------------------------------------------------------- */

static void respond_created(mg_crosstalk *ct, mg_worker *w, mg_http_req *req, const char *id)
{
    ct_session *s = ct_session_find(ct_inbox_of(ct, w), id);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id));
    if (s) {
        json_object_set_new(o, "state", json_string(mg_ct_state_name(s->state)));
        json_object_set_new(o, "name", json_string(s->info.name));
        json_object_set_new(o, "paradigm", json_string(s->info.paradigm));
        json_object_set_new(o, "topology", json_string(s->info.topology));
        json_object_set_new(o, "rounds", s->info.rounds ? json_integer(s->info.rounds) : json_null());
        json_object_set_new(o, "budget_usd", s->info.budget_usd >= 0 ? json_real(s->info.budget_usd)
                                                                     : json_null());
        json_object_set_new(o, "planned_turns", s->info.planned_turns
                                                    ? json_integer(s->info.planned_turns)
                                                    : json_null());
        json_t *cfg = json_loads(s->info.config_json, 0, NULL);
        json_object_set(o, "participants", json_object_get(cfg, "participants"));
        if (cfg)
            json_decref(cfg);
    }
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(12));
    json_decref(o);
    respond_json(req, 201, text, strlen(text));
    free(text);
}

static void create_and_respond(mg_crosstalk *ct, mg_worker *w, mg_http_req *req,
                               const ct_create *in, int paused)
{
    char id[33], err[1024];
    int status = 500;
    if (ct_session_create(ct, w, in, paused, id, &status, err, sizeof err) != MG_OK)
        respond_error(req, status, err);
    else
        respond_created(ct, w, req, id);
}

/* A safe display name for a preset sent as text: its base name. */
static void file_name(const char *given, const char *dflt, char *out, size_t n)
{
    const char *base = given ? strrchr(given, '/') : NULL;
    base = base ? base + 1 : given;
    size_t len = 0;
    if (base)
        while (base[len] && len + 1 < n && base[len] != '\n' && base[len] != '\r')
            len++;
    if (!base || !len)
        snprintf(out, n, "%s", dflt);
    else
        snprintf(out, n, "%.*s", (int)len, base);
}

static void read_destroy(ct_job *job)
{
    read_job *r = (read_job *)job; /* r->req is NULL by now: answered or aborted */
    mg_buf_free(&r->out);
    free(r->query);
    free(r->text);
    free(r);
}

static void read_run(ct_job *job, struct sqlite3 *db)
{
    read_job *r = (read_job *)job;
    char err[512];
    switch (r->kind) {
    case RD_SESSION:
    case RD_ENDED: ct_read_session(db, r->id, &r->out, &r->status); break;
    case RD_LIST: ct_read_list(db, r->query ? r->query : "", &r->out, &r->status); break;
    case RD_STATS: ct_read_stats(db, &r->out, &r->status); break;
    case RD_PRESETS: ct_read_presets(r->ct->home, &r->out, &r->status); break;
    case RD_PRESET_FILE:
        if (ct_read_preset_file(r->ct->home, r->name, &r->text, &r->len, &r->status, err,
                                sizeof err) != MG_OK)
            mg_buf_append_str(&r->out, err);
        else
            r->status = 200;
        break;
    }
}

/* {"live":true, ...} for a session this gateway is running now. */
static void respond_session(read_job *r)
{
    int live = ct_live_find(r->ct, r->id) != NULL;
    mg_buf b = {0};
    if (r->status == 200 && r->out.len > 1 && r->out.data[0] == '{') {
        mg_buf_printf(&b, "{\"live\":%s,", live ? "true" : "false");
        mg_buf_append(&b, r->out.data + 1, r->out.len - 1);
    } else {
        mg_buf_append(&b, r->out.data ? r->out.data : "", r->out.len);
    }
    respond_json(r->req, r->status, b.data ? b.data : "", b.len);
    mg_buf_free(&b);
}

/* A control request for a session no loop runs: ended, or unknown. */
static void respond_ended(read_job *r)
{
    if (r->status != 200) {
        respond_json(r->req, r->status, r->out.data ? r->out.data : "", r->out.len);
        return;
    }
    json_t *o = json_loadb(r->out.data, r->out.len, 0, NULL);
    char msg[160];
    snprintf(msg, sizeof msg, "the session is %s already",
             json_string_value(json_object_get(o, "state")) ? json_string_value(json_object_get(o, "state"))
                                                             : "over");
    if (o)
        json_decref(o);
    respond_error(r->req, 409, msg);
}

static void read_reply(ct_job *job)
{
    read_job *r = (read_job *)job;
    mg_http_req *req = r->req;
    if (!req)
        return;
    req->on_abort = NULL;
    r->req = NULL;
    if (r->kind == RD_SESSION) {
        r->req = req;
        respond_session(r);
        r->req = NULL;
    } else if (r->kind == RD_ENDED) {
        r->req = req;
        respond_ended(r);
        r->req = NULL;
    } else if (r->kind == RD_PRESET_FILE && r->status == 200) {
        ct_create in = {.kind = CT_SRC_LUA, .text = r->text, .len = r->len,
                        .rounds = r->rounds, .budget_usd = r->budget};
        char file[96];
        snprintf(file, sizeof file, "%s.lua", r->name);
        in.file = file;
        create_and_respond(r->ct, r->w, req, &in, r->paused);
    } else if (r->kind == RD_PRESET_FILE) {
        respond_error(req, r->status, mg_buf_cstr(&r->out));
    } else {
        respond_json(req, r->status, r->out.data ? r->out.data : "", r->out.len);
    }
}

static void on_read_abort(mg_http_req *req)
{
    read_job *r = req->ud;
    r->req = NULL;
}

static read_job *read_new(mg_crosstalk *ct, mg_worker *w, mg_http_req *req, int kind)
{
    read_job *r = mg_xcalloc(1, sizeof *r);
    r->base.run = read_run;
    r->base.reply = read_reply;
    r->base.destroy = read_destroy;
    r->base.inbox = ct_inbox_of(ct, w);
    r->ct = ct;
    r->w = w;
    r->req = req;
    r->kind = kind;
    r->status = 500;
    return r;
}

static void read_submit(read_job *r)
{
    mg_http_req *req = r->req;
    if (!r->base.inbox) {
        r->req = NULL;
        read_destroy(&r->base);
        respond_error(req, 503, "crosstalk is not attached to this worker");
        return;
    }
    r->req = NULL; /* not ours to touch until the submit succeeded */
    if (ct_db_submit(r->ct, &r->base) != MG_OK) {
        respond_error(req, 503, "crosstalk's database queue is full; retry in a moment");
        return;
    }
    /* The reply runs on this loop, after we return: safe to attach now. */
    r->req = req;
    req->ud = r;
    req->on_abort = on_read_abort;
}

static int read_options(json_t *body, int *rounds, double *budget, int *paused, char *err,
                        size_t n)
{
    json_t *v = json_object_get(body, "rounds");
    *rounds = 0;
    *budget = -1;
    *paused = json_is_true(json_object_get(body, "paused"));
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000) {
            snprintf(err, n, "rounds: expected an integer from 1 to 1000");
            return MG_ERR;
        }
        *rounds = (int)json_integer_value(v);
    }
    v = json_object_get(body, "budget_usd");
    if (v && !json_is_null(v)) {
        if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1e6) {
            snprintf(err, n, "budget_usd: expected a number from 0 to 1000000");
            return MG_ERR;
        }
        *budget = json_number_value(v);
    }
    return MG_OK;
}

static void post_session(mg_crosstalk *ct, mg_worker *w, mg_http_req *req)
{
    json_error_t jerr;
    json_t *body = json_loadb(req->body.data ? mg_buf_rptr(&req->body) : "",
                              mg_buf_unread(&req->body), 0, &jerr);
    char err[256];
    int rounds, paused;
    double budget;
    if (!json_is_object(body)) {
        respond_error(req, 400, "send a JSON object: {\"preset\":\"debate\"}, {\"preset\":{...}} "
                                "or {\"source\":\"return {...}\",\"name\":\"my.lua\"}");
    } else if (read_options(body, &rounds, &budget, &paused, err, sizeof err) != MG_OK) {
        respond_error(req, 400, err);
    } else if (json_is_string(json_object_get(body, "source"))) {
        char file[80];
        file_name(json_string_value(json_object_get(body, "name")), "preset.lua", file,
                  sizeof file);
        json_t *src = json_object_get(body, "source");
        ct_create in = {.kind = CT_SRC_LUA, .text = json_string_value(src),
                        .len = json_string_length(src), .file = file, .rounds = rounds,
                        .budget_usd = budget};
        create_and_respond(ct, w, req, &in, paused);
    } else if (json_is_object(json_object_get(body, "preset"))) {
        json_t *p = json_object_get(body, "preset");
        char *text = json_dumps(p, JSON_COMPACT);
        if (!text) {
            respond_error(req, 400, "the preset object cannot be serialised");
            json_decref(body);
            return;
        }
        char file[80];
        file_name(json_string_value(json_object_get(p, "name")), "preset", file, sizeof file);
        ct_create in = {.kind = CT_SRC_JSON, .text = text, .len = strlen(text), .file = file,
                        .rounds = rounds, .budget_usd = budget};
        create_and_respond(ct, w, req, &in, paused);
        free(text);
    } else if (json_is_string(json_object_get(body, "preset"))) {
        read_job *r = read_new(ct, w, req, RD_PRESET_FILE);
        const char *name = json_string_value(json_object_get(body, "preset"));
        size_t n = strlen(name);
        if (n > 4 && strcmp(name + n - 4, ".lua") == 0)
            n -= 4;
        snprintf(r->name, sizeof r->name, "%.*s", (int)MG_MIN(n, sizeof r->name - 1), name);
        r->rounds = rounds;
        r->budget = budget;
        r->paused = paused;
        read_submit(r);
    } else {
        respond_error(req, 400, "give \"preset\" (a name from examples/crosstalk/ or a preset "
                                "object) or \"source\" (a Lua preset)");
    }
    if (body)
        json_decref(body);
}

/* ---- control --------------------------------------------------------------- */

static int id_ok(const char *s, size_t n)
{
    if (n != 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static void control(mg_crosstalk *ct, mg_worker *w, mg_http_req *req, const char *id,
                    const char *action)
{
    int act = -1;
    for (int i = 0; i < CT_NACTIONS; i++)
        if (strcmp(action, action_names[i]) == 0)
            act = i;
    if (act < 0) {
        respond_error(req, 404, "actions: pause, resume, step, stop");
        return;
    }
    ct_inbox *ib = ct_live_find(ct, id);
    if (!ib) { /* ended or unknown: the database says which */
        read_job *r = read_new(ct, w, req, RD_ENDED);
        snprintf(r->id, sizeof r->id, "%s", id);
        read_submit(r);
        return;
    }
    if (ib != ct_inbox_of(ct, w)) { /* another worker runs it */
        if (ct_post_cmd(ct, ib, id, act) != MG_OK) {
            respond_error(req, 409, "the session's worker is stopping");
            return;
        }
        mg_buf b = {0};
        mg_buf_printf(&b, "{\"id\":\"%s\",\"requested\":\"%s\"}", id, action_names[act]);
        respond_json(req, 202, b.data, b.len);
        mg_buf_free(&b);
        return;
    }
    ct_session *s = ct_session_find(ib, id);
    int status = 500;
    char err[256];
    if (!s) {
        respond_error(req, 409, "the session just ended");
    } else if (ct_session_control(s, act, &status, err, sizeof err) != MG_OK) {
        respond_error(req, status, err);
    } else {
        mg_buf b = {0};
        ct_session_json(s, &b);
        respond_json(req, 200, b.data, b.len);
        mg_buf_free(&b);
    }
}

/* ---- routing ---------------------------------------------------------------- */

static void sessions_route(mg_crosstalk *ct, mg_worker *w, mg_http_req *req, const char *rest)
{
    int get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    if (*rest == '\0' || strcmp(rest, "/") == 0) {
        if (post)
            post_session(ct, w, req);
        else if (get) {
            read_job *r = read_new(ct, w, req, RD_LIST);
            r->query = mg_xstrdup(req->query ? req->query : "");
            read_submit(r);
        } else
            respond_error(req, 405, "use GET or POST");
        return;
    }
    const char *id = rest + 1;
    const char *slash = strchr(id, '/');
    size_t idlen = slash ? (size_t)(slash - id) : strlen(id);
    if (!id_ok(id, idlen)) {
        respond_error(req, 404, "a session id is 32 hex characters");
        return;
    }
    char sid[33];
    snprintf(sid, sizeof sid, "%.*s", (int)idlen, id);
    if (!slash && get) {
        read_job *r = read_new(ct, w, req, RD_SESSION);
        memcpy(r->id, sid, sizeof sid);
        read_submit(r);
    } else if (slash && post) {
        control(ct, w, req, sid, slash + 1);
    } else {
        respond_error(req, 405, slash ? "use POST" : "use GET");
    }
}

void mg_crosstalk_admin(mg_crosstalk *ct, mg_worker *w, mg_http_req *req, const char *subpath)
{
    if (!ct) {
        respond_error(req, 503, "crosstalk is not available (see the log at start)");
        return;
    }
    int get = strcmp(req->method, "GET") == 0;
    if (strncmp(subpath, "/sessions", 9) == 0 && (subpath[9] == '\0' || subpath[9] == '/'))
        sessions_route(ct, w, req, subpath + 9);
    else if (strcmp(subpath, "/stats") == 0 && get)
        read_submit(read_new(ct, w, req, RD_STATS));
    else if (strcmp(subpath, "/presets") == 0 && get)
        read_submit(read_new(ct, w, req, RD_PRESETS));
    else
        respond_error(req, 404, "crosstalk endpoints: /api/crosstalk/sessions[/{id}[/pause|resume|"
                                "step|stop]], /api/crosstalk/stats, /api/crosstalk/presets");
}
