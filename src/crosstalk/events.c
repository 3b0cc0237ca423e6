/* events.c — what a session tells the outside: `crosstalk_event` JSON on
 * the live stream (session_start, state, turn_start, token, turn_end,
 * round_end, session_end; docs/crosstalk.md lists the fields) and its rows
 * in crosstalk_sessions / crosstalk_events / crosstalk_messages, written in
 * order by the database thread. Uses live/live.h, jansson, db.c. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../live/live.h"
#include "ct-t.h"

static json_t *base_event(const ct_session *s, const char *type)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "session", json_string(s->id));
    json_object_set_new(o, "ts_ms", json_integer(mg_now_wall_ms()));
    return o;
}

static json_t *jstr_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *jraw(const char *json)
{
    json_t *v = json ? json_loads(json, 0, NULL) : NULL;
    return v ? v : json_null();
}

static double elapsed(const ct_session *s)
{
    return s->started_mono > 0 ? mg_now_mono() - s->started_mono : 0.0;
}

/* Totals every turn_end, round_end and session_end carries, so a watcher
 * can draw a status line from any one of them. */
static void add_totals(json_t *o, const ct_session *s)
{
    json_object_set_new(o, "cost_total", json_real(s->cost));
    json_object_set_new(o, "tokens_input_total", json_integer(s->tokens_in));
    json_object_set_new(o, "tokens_output_total", json_integer(s->tokens_out));
    json_object_set_new(o, "turns_done", json_integer(s->turns_done));
    json_object_set_new(o, "rounds_done", json_integer(s->rounds_done));
    json_object_set_new(o, "rounds", s->info.rounds ? json_integer(s->info.rounds) : json_null());
    json_object_set_new(o, "planned_turns",
                        s->info.planned_turns ? json_integer(s->info.planned_turns) : json_null());
    json_object_set_new(o, "estimated_cost", json_real(ct_estimated_cost(s)));
    json_object_set_new(o, "elapsed_s", json_real(elapsed(s)));
}

static void publish(const ct_session *s, json_t *o)
{
    mg_live *live = s->ct->gw ? s->ct->gw->live : NULL;
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(12));
    if (live && text)
        mg_live_publish(live, "crosstalk_event", text, strlen(text));
    free(text);
    json_decref(o);
}

double ct_estimated_cost(const ct_session *s)
{
    if (s->turns_done == 0)
        return s->cost;
    double per_turn = s->cost / (double)s->turns_done;
    double est = s->info.planned_turns > 0 ? per_turn * s->info.planned_turns : s->cost;
    if (s->info.budget_usd >= 0 && est > s->info.budget_usd)
        est = s->info.budget_usd;
    return MG_MAX(est, s->cost);
}

void ct_emit_session_start(ct_session *s)
{
    json_t *o = base_event(s, "session_start");
    json_object_set_new(o, "name", json_string(s->info.name));
    json_object_set_new(o, "paradigm", jstr_or_null(s->info.paradigm));
    json_object_set_new(o, "topology", jstr_or_null(s->info.topology));
    json_object_set_new(o, "state", json_string(mg_ct_state_name(s->state)));
    json_object_set_new(o, "prompt", jstr_or_null(s->info.prompt));
    json_object_set_new(o, "budget_usd",
                        s->info.budget_usd >= 0 ? json_real(s->info.budget_usd) : json_null());
    json_t *cfg = jraw(s->info.config_json);
    json_object_set(o, "participants", json_object_get(cfg, "participants"));
    json_decref(cfg);
    add_totals(o, s);
    publish(s, o);
}

void ct_emit_state(ct_session *s)
{
    json_t *o = base_event(s, "state");
    json_object_set_new(o, "state", json_string(mg_ct_state_name(s->state)));
    json_object_set_new(o, "reason", s->reason[0] ? json_string(s->reason) : json_null());
    json_object_set_new(o, "detail", s->detail[0] ? json_string(s->detail) : json_null());
    publish(s, o);
}

static void add_turn(json_t *o, const ct_session *s)
{
    json_object_set_new(o, "round", json_integer(s->plan.round));
    json_object_set_new(o, "turn", json_integer(s->plan.index));
    json_object_set_new(o, "speaker", jstr_or_null(s->plan.speaker));
    json_object_set_new(o, "name", jstr_or_null(s->plan.name));
    json_object_set_new(o, "model", jstr_or_null(s->plan.model));
    if (s->plan.role)
        json_object_set_new(o, "role", json_string(s->plan.role));
}

void ct_emit_turn_start(ct_session *s, double worst_usd)
{
    json_t *o = base_event(s, "turn_start");
    add_turn(o, s);
    json_object_set_new(o, "hears", jraw(s->plan.hears_json));
    json_object_set_new(o, "to", jraw(s->plan.to_json));
    json_object_set_new(o, "max_tokens", json_integer(s->plan.max_tokens));
    json_object_set_new(o, "worst_case_usd", json_real(worst_usd));
    json_object_set_new(o, "turns_in_round", json_integer(s->plan.turns_in_round));
    json_object_set_new(o, "retry", json_boolean(s->retried));
    publish(s, o);
}

void ct_emit_tokens(ct_session *s, const char *text, size_t len)
{
    json_t *o = base_event(s, "token");
    json_object_set_new(o, "round", json_integer(s->plan.round));
    json_object_set_new(o, "turn", json_integer(s->plan.index));
    json_object_set_new(o, "speaker", jstr_or_null(s->plan.speaker));
    json_t *t = json_stringn(text, len);
    json_object_set_new(o, "text", t ? t : json_string(""));
    publish(s, o);
}

void ct_emit_turn_end(ct_session *s, const ct_turn *t)
{
    json_t *o = base_event(s, "turn_end");
    add_turn(o, s);
    json_object_set_new(o, "status", json_string(t->out.status));
    json_object_set_new(o, "request_id", json_string(t->out.request_id));
    json_object_set_new(o, "provider", json_string(t->out.provider));
    json_object_set_new(o, "model_routed", json_string(t->out.model_routed));
    json_object_set_new(o, "tokens_input", json_integer(t->out.tokens_in));
    json_object_set_new(o, "tokens_output", json_integer(t->out.tokens_out));
    json_object_set_new(o, "cost", json_real(t->out.cost));
    json_object_set_new(o, "duration_ms", json_real(t->out.duration_ms));
    json_object_set_new(o, "ttft_ms", json_real(t->out.ttft_ms));
    json_object_set_new(o, "chars", json_integer((json_int_t)t->text.len));
    json_object_set_new(o, "error", t->out.ok ? json_null() : json_string(t->out.error));
    add_totals(o, s);
    publish(s, o);
}

void ct_emit_round_end(ct_session *s, int round)
{
    json_t *o = base_event(s, "round_end");
    json_object_set_new(o, "round", json_integer(round));
    add_totals(o, s);
    publish(s, o);
}

void ct_emit_session_end(ct_session *s)
{
    json_t *o = base_event(s, "session_end");
    json_object_set_new(o, "state", json_string(mg_ct_state_name(s->state)));
    json_object_set_new(o, "reason", s->reason[0] ? json_string(s->reason) : json_null());
    json_object_set_new(o, "detail", s->detail[0] ? json_string(s->detail) : json_null());
    json_object_set_new(o, "requests", json_integer(s->requests));
    add_totals(o, s);
    publish(s, o);
}

/* ---- rows ---------------------------------------------------------------- */

static const char insert_sql[] =
    "INSERT INTO crosstalk_sessions (id, preset, paradigm, topology, config_json, prompt, state,"
    " created_ms, rounds_planned, budget_usd, policy_generation)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

void ct_row_insert(ct_session *s)
{
    ct_param p[] = {
        CT_TEXT(s->id),
        CT_TEXT(s->info.name),
        CT_TEXT(s->info.paradigm ? s->info.paradigm : "?"),
        CT_TEXT(s->info.topology ? s->info.topology : "?"),
        CT_TEXT(s->info.config_json),
        CT_TEXT(s->info.prompt),
        CT_TEXT(mg_ct_state_name(s->state)),
        CT_INT(s->created_ms),
        s->info.rounds ? CT_INT(s->info.rounds) : CT_NULL,
        s->info.budget_usd >= 0 ? CT_REAL(s->info.budget_usd) : CT_NULL,
        CT_INT(s->gen->number),
    };
    ct_db_exec(s->ct, insert_sql, p, (int)MG_ARRAY_LEN(p));
}

static const char update_sql[] =
    "UPDATE crosstalk_sessions SET state = ?, reason = ?, detail = ?, started_ms = ?,"
    " ended_ms = ?, rounds_done = ?, turns_done = ?, requests = ?, cost = ?,"
    " tokens_input = ?, tokens_output = ? WHERE id = ?";

void ct_row_update(ct_session *s)
{
    ct_param p[] = {
        CT_TEXT(mg_ct_state_name(s->state)),
        CT_TEXT(s->reason[0] ? s->reason : NULL),
        CT_TEXT(s->detail[0] ? s->detail : NULL),
        s->started_ms ? CT_INT(s->started_ms) : CT_NULL,
        s->ended_ms ? CT_INT(s->ended_ms) : CT_NULL,
        CT_INT(s->rounds_done),
        CT_INT(s->turns_done),
        CT_INT(s->requests),
        CT_REAL(s->cost),
        CT_INT(s->tokens_in),
        CT_INT(s->tokens_out),
        CT_TEXT(s->id),
    };
    ct_db_exec(s->ct, update_sql, p, (int)MG_ARRAY_LEN(p));
}

static const char event_sql[] =
    "INSERT INTO crosstalk_events (session_id, round, turn, from_id, to_ids, heard_ids, model,"
    " model_routed, provider, status, request_id, tokens_input, tokens_output, cost,"
    " duration_ms, ttft_ms, ts_ms, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

void ct_row_event(ct_session *s, const ct_turn *t)
{
    const ct_outcome *o = &t->out;
    ct_param p[] = {
        CT_TEXT(s->id),
        CT_INT(s->plan.round),
        CT_INT(s->plan.index),
        CT_TEXT(s->plan.speaker),
        CT_TEXT(s->plan.to_json),
        CT_TEXT(s->plan.hears_json),
        CT_TEXT(s->plan.model),
        CT_TEXT(o->model_routed[0] ? o->model_routed : NULL),
        CT_TEXT(o->provider[0] ? o->provider : NULL),
        CT_TEXT(o->status),
        CT_TEXT(o->request_id[0] ? o->request_id : NULL),
        CT_INT(o->tokens_in),
        CT_INT(o->tokens_out),
        CT_REAL(o->cost),
        CT_REAL(o->duration_ms),
        CT_REAL(o->ttft_ms),
        CT_INT(mg_now_wall_ms()),
        CT_TEXT(o->ok ? NULL : o->error),
    };
    ct_db_exec(s->ct, event_sql, p, (int)MG_ARRAY_LEN(p));
}

static const char message_sql[] =
    "INSERT INTO crosstalk_messages (session_id, round, turn, role, speaker, name, model, content,"
    " ts_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";

void ct_row_message(ct_session *s, const char *role, const char *speaker, const char *name,
                    const char *model, int round, int turn, const char *text, size_t len)
{
    char *content = mg_xstrndup(text, len); /* NUL-terminated for binding */
    ct_param p[] = {
        CT_TEXT(s->id),  CT_INT(round),    CT_INT(turn),        CT_TEXT(role),
        CT_TEXT(speaker), CT_TEXT(name),   CT_TEXT(model),      CT_TEXT(content),
        CT_INT(mg_now_wall_ms()),
    };
    ct_db_exec(s->ct, message_sql, p, (int)MG_ARRAY_LEN(p));
    free(content);
}
