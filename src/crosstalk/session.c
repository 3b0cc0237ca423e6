/* session.c — one crosstalk session on its worker loop: creation from a
 * checked preset, the state machine and the turn loop.
 *
 *   running ──pause──▶ paused ──step──▶ stepping ──(one turn)──▶ paused
 *      ▲                 │ resume                                  │
 *      └─────────────────┘◀────────────────── resume ──────────────┘
 *   any live state ──stop──▶ stopped      (the turn in flight is cancelled)
 *   ──engine says done / budget / max_turns──▶ finished (reason)
 *   ──a turn fails twice / the paradigm raises──▶ failed (reason)
 *   ──the gateway stops──▶ interrupted
 *
 * Everything happens at turn boundaries: a request's end only marks the
 * turn done and kicks a zero-delay timer; the timer (ct_session_step)
 * commits the reply to the engine, writes rows, publishes events and
 * starts the next turn. So no callback ever re-enters Lua or frees the
 * session under its caller. A failed turn is retried once after
 * CT_RETRY_DELAY seconds (the routing policy has already failed over
 * between providers); a second failure fails the session.
 * Uses lua_bridge.c, turn.c, events.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "ct-t.h"

enum { TURN_CONTINUE = 0, TURN_WAIT };

static void on_kick(struct ev_loop *loop, ev_timer *t, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    ct_session_step(t->data);
}

void ct_session_kick(ct_session *s, double after)
{
    ev_timer_stop(s->w->loop, &s->kick);
    ev_timer_set(&s->kick, after, 0.);
    ev_timer_start(s->w->loop, &s->kick);
}

ct_session *ct_session_find(ct_inbox *ib, const char *id)
{
    for (ct_session *s = ib->sessions; s; s = s->next)
        if (strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

static int effective_state(const ct_session *s)
{
    return s->final_state >= 0 ? s->final_state : s->state;
}

void ct_session_json(const ct_session *s, mg_buf *out)
{
    mg_buf_append_str(out, "{\"id\":");
    mg_buf_append_json_str(out, s->id, strlen(s->id));
    mg_buf_printf(out, ",\"state\":\"%s\",\"reason\":", mg_ct_state_name(effective_state(s)));
    if (s->reason[0])
        mg_buf_append_json_str(out, s->reason, strlen(s->reason));
    else
        mg_buf_append_str(out, "null");
    mg_buf_printf(out,
                  ",\"round\":%d,\"rounds_done\":%d,\"turns_done\":%d,\"cost\":%.8f,"
                  "\"tokens_input\":%lld,\"tokens_output\":%lld,\"turn_in_flight\":%s}",
                  s->round, s->rounds_done, s->turns_done, s->cost, (long long)s->tokens_in,
                  (long long)s->tokens_out, s->turn && !s->turn->done ? "true" : "false");
}

static void unlink_session(ct_session *s)
{
    for (ct_session **p = &s->ib->sessions; *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            return;
        }
    }
}

static void session_free(ct_session *s)
{
    ev_timer_stop(s->w->loop, &s->kick);
    ct_plan_free(&s->plan);
    if (s->gen) {
        ct_lua_release(s->gen->lua, s->lua_ref);
        mg_wgen_release(s->gen);
    }
    ct_info_free(&s->info);
    free(s);
}

/* The final state is reached: record it, tell the watchers, let go. */
static void finalize(ct_session *s)
{
    s->state = s->final_state;
    s->ended_ms = mg_now_wall_ms();
    ct_row_update(s);
    ct_emit_state(s);
    ct_emit_session_end(s);
    mg_info("crosstalk %s: %s (%s) after %d rounds, %d turns, $%.6f", s->id,
            mg_ct_state_name(s->state), s->reason, s->rounds_done, s->turns_done, s->cost);
    ct_live_remove(s->ct, s->id);
    unlink_session(s);
    session_free(s);
}

static void set_end(ct_session *s, int state, const char *reason, const char *detail)
{
    if (s->final_state >= 0)
        return; /* the first reason to end wins */
    s->final_state = state;
    snprintf(s->reason, sizeof s->reason, "%s", reason);
    snprintf(s->detail, sizeof s->detail, "%s", detail);
}

static void explain_reason(const ct_session *s, const char *reason, char *out, size_t n)
{
    if (strcmp(reason, "rounds") == 0)
        snprintf(out, n, "all %d round%s done", s->info.rounds, s->info.rounds == 1 ? "" : "s");
    else if (strcmp(reason, "verdict") == 0)
        snprintf(out, n, "the judge gave a verdict");
    else if (strcmp(reason, "report") == 0)
        snprintf(out, n, "the synthesizer wrote the report");
    else if (strcmp(reason, "max_turns") == 0)
        snprintf(out, n, "reached options.max_turns (%d turns)", s->turns_done);
    else
        snprintf(out, n, "the paradigm ended the session (%s)", reason);
}

/* Worst case of the planned turn: its max_tokens at the model's output
 * price plus its prompt (estimated at 3 bytes a token, which overcounts
 * JSON) at the input price, with the prices the gateway will charge. */
static double worst_case(const ct_session *s)
{
    const mg_config *cfg = s->w->gen->cfg->cfg;
    const mg_provider_cfg *provider;
    const char *model = s->plan.model;
    if (mg_config_resolve(cfg, s->plan.model, &provider, &model) != MG_OK)
        model = s->plan.model;
    const mg_model_info *mi = mg_config_model(cfg, model);
    if (!mi)
        return 0; /* no price: the gateway will count it as 0 too */
    double out_price = MG_MAX(mi->price_output, mi->price_reasoning);
    double in_tokens = (double)s->plan.body_len / 3.0;
    return (in_tokens * mi->price_input + (double)s->plan.max_tokens * out_price) / 1e6;
}

static void begin_turn(ct_session *s)
{
    char reason[64] = "", err[512] = "";
    if (!s->have_plan) {
        int rc = ct_lua_next(s->gen->lua, s->lua_ref, &s->plan, reason, sizeof reason, err,
                             sizeof err);
        if (rc < 0) {
            set_end(s, MG_CT_FAILED, "paradigm_error", err);
            finalize(s);
            return;
        }
        if (rc == 0) {
            char detail[256];
            explain_reason(s, reason, detail, sizeof detail);
            set_end(s, MG_CT_FINISHED, reason, detail);
            finalize(s);
            return;
        }
        s->have_plan = 1;
        s->retried = 0;
        s->round = s->plan.round;
    }
    double worst = worst_case(s);
    if (s->info.budget_usd >= 0 && s->cost + worst > s->info.budget_usd) {
        char detail[512];
        snprintf(detail, sizeof detail,
                 "the next turn (%s on %s) could cost up to $%.6f; $%.6f of the $%.6f budget is left",
                 s->plan.speaker, s->plan.model, worst, MG_MAX(0.0, s->info.budget_usd - s->cost),
                 s->info.budget_usd);
        set_end(s, MG_CT_FINISHED, "budget", detail);
        finalize(s);
        return;
    }
    if (!s->started_ms) {
        s->started_ms = mg_now_wall_ms();
        s->started_mono = mg_now_mono();
    }
    if (ct_turn_start(s, err, sizeof err) != MG_OK) {
        set_end(s, MG_CT_FAILED, "turn_failed", err);
        finalize(s);
        return;
    }
    ct_emit_turn_start(s, worst);
}

/* The reply goes into the transcript; 1 when it completed a round. */
static int commit_reply(ct_session *s, ct_turn *t)
{
    int round_done = 0;
    char err[512];
    if (ct_lua_commit(s->gen->lua, s->lua_ref, t->text.data ? t->text.data : "", t->text.len,
                      &round_done, err, sizeof err) != MG_OK) {
        set_end(s, MG_CT_FAILED, "paradigm_error", err);
        return 0;
    }
    s->turns_done++;
    ct_row_message(s, s->plan.role ? s->plan.role : "participant", s->plan.speaker,
                   s->plan.name, s->plan.model, s->plan.round, s->plan.index,
                   t->text.data ? t->text.data : "", t->text.len);
    if (round_done)
        s->rounds_done = s->plan.round;
    return round_done;
}

/* A request ended: account for it, then commit, retry or fail. */
static int handle_turn_end(ct_session *s)
{
    ct_turn *t = s->turn;
    s->turn = NULL;
    ct_turn_flush_tokens(t);
    s->cost += t->out.cost;
    s->tokens_in += t->out.tokens_in;
    s->tokens_out += t->out.tokens_out;
    s->requests++;
    if (!t->out.ok && s->final_state >= 0 && strcmp(t->out.status, "cancelled") == 0)
        snprintf(t->out.error, sizeof t->out.error, "the session is ending (%s)",
                 s->reason);
    ct_row_event(s, t);
    int action = TURN_CONTINUE, round_done = 0;
    if (t->out.ok)
        round_done = commit_reply(s, t);
    ct_emit_turn_end(s, t); /* after the commit: its totals count this turn */
    if (round_done)
        ct_emit_round_end(s, s->plan.round);
    if (t->out.ok) {
        ct_plan_free(&s->plan);
        s->have_plan = 0;
        if (s->state == MG_CT_STEPPING && s->final_state < 0) {
            s->state = MG_CT_PAUSED;
            ct_emit_state(s);
        }
    } else if (s->final_state < 0 && !s->retried) {
        s->retried = 1;
        mg_warn("crosstalk %s: round %d, %s (%s) failed (%s); retrying once in %.0fs", s->id,
                s->plan.round, s->plan.speaker, s->plan.model, t->out.error, CT_RETRY_DELAY);
        ct_session_kick(s, CT_RETRY_DELAY);
        action = TURN_WAIT;
    } else if (s->final_state < 0) {
        char detail[512];
        snprintf(detail, sizeof detail, "round %d, %.40s (%.100s): %.20s: %.300s", s->plan.round,
                 s->plan.speaker, s->plan.model, t->out.status, t->out.error);
        set_end(s, MG_CT_FAILED, "turn_failed", detail);
    }
    ct_turn_free(t);
    ct_row_update(s);
    return action;
}

void ct_session_step(ct_session *s)
{
    if (s->turn) {
        if (!s->turn->done)
            return; /* its end kicks again */
        if (handle_turn_end(s) == TURN_WAIT && s->final_state < 0)
            return;
    }
    if (s->final_state >= 0) {
        finalize(s);
        return;
    }
    if (s->state == MG_CT_RUNNING || s->state == MG_CT_STEPPING)
        begin_turn(s);
}

/* ---- creation ------------------------------------------------------------ */

static ct_session *session_new(mg_crosstalk *ct, ct_inbox *ib, mg_worker *w)
{
    ct_session *s = mg_xcalloc(1, sizeof *s);
    s->ct = ct;
    s->ib = ib;
    s->w = w;
    s->final_state = -1;
    s->round = 1;
    s->lua_ref = -2; /* LUA_NOREF */
    ev_timer_init(&s->kick, on_kick, 0., 0.);
    s->kick.data = s;
    mg_time_id(s->id);
    return s;
}

int ct_session_create(mg_crosstalk *ct, mg_worker *w, const ct_create *in, int start_paused,
                      char id[33], int *status, char *err, size_t errlen)
{
    ct_inbox *ib = ct_inbox_of(ct, w);
    if (!ib || ib->draining) {
        *status = 503;
        snprintf(err, errlen, "the gateway is shutting down");
        return MG_ERR;
    }
    if (!w->gen || !w->gen->lua) {
        *status = 503;
        snprintf(err, errlen, "crosstalk needs the Lua policy host, which is not loaded");
        return MG_ERR;
    }
    ct_session *s = session_new(ct, ib, w);
    s->gen = mg_wgen_retain(w->gen);
    ct_create c = *in;
    c.id = s->id;
    if (ct_lua_create(s->gen->lua, &c, &s->lua_ref, &s->info, err, errlen) != MG_OK) {
        *status = 400;
        session_free(s);
        return MG_ERR;
    }
    if (ct_live_add(ct, s->id, ib) != MG_OK) {
        *status = 429;
        snprintf(err, errlen, "%d sessions are live already; stop one first", CT_MAX_LIVE);
        session_free(s);
        return MG_ERR;
    }
    s->state = start_paused ? MG_CT_PAUSED : MG_CT_RUNNING;
    s->created_ms = mg_now_wall_ms();
    s->next = ib->sessions;
    ib->sessions = s;
    ct_row_insert(s);
    const char *prompt = s->info.prompt ? s->info.prompt : "";
    ct_row_message(s, "prompt", NULL, "prompt", NULL, 0, 0, prompt, strlen(prompt));
    ct_emit_session_start(s);
    mg_info("crosstalk %s: %s (%s, %s) started%s", s->id, s->info.name, s->info.paradigm,
            s->info.topology, start_paused ? " paused" : "");
    if (!start_paused)
        ct_session_kick(s, 0);
    memcpy(id, s->id, 33);
    return MG_OK;
}

/* ---- control ------------------------------------------------------------- */

static void set_state(ct_session *s, int state)
{
    if (s->state == state)
        return;
    s->state = state;
    ct_row_update(s);
    ct_emit_state(s);
}

int ct_session_control(ct_session *s, int action, int *status, char *err, size_t errlen)
{
    if (s->final_state >= 0 || mg_ct_state_is_final(s->state)) {
        *status = 409;
        snprintf(err, errlen, "the session is %s already",
                 mg_ct_state_name(effective_state(s)));
        return MG_ERR;
    }
    int idle = !s->turn;
    switch (action) {
    case CT_ACT_PAUSE:
        set_state(s, MG_CT_PAUSED);
        break;
    case CT_ACT_RESUME:
        set_state(s, MG_CT_RUNNING);
        if (idle)
            ct_session_kick(s, 0);
        break;
    case CT_ACT_STEP:
        if (s->state != MG_CT_PAUSED) {
            *status = 409;
            snprintf(err, errlen, "step runs one turn of a paused session; this one is %s",
                     mg_ct_state_name(s->state));
            return MG_ERR;
        }
        set_state(s, MG_CT_STEPPING);
        if (idle)
            ct_session_kick(s, 0);
        break;
    case CT_ACT_STOP:
        set_end(s, MG_CT_STOPPED, "operator", "stopped by an operator");
        if (s->turn && !s->turn->done)
            ct_turn_cancel(s->turn); /* its end (maybe right now) kicks */
        ct_session_kick(s, 0);
        break;
    default:
        *status = 404;
        snprintf(err, errlen, "unknown action");
        return MG_ERR;
    }
    return MG_OK;
}

void ct_sessions_interrupt(ct_inbox *ib, int now)
{
    ct_session *s = ib->sessions;
    while (s) {
        ct_session *next = s->next;
        set_end(s, MG_CT_INTERRUPTED, "shutdown", "the gateway shut down while the session ran");
        if (s->turn && !s->turn->done)
            ct_turn_cancel(s->turn);
        if (!now) {
            ct_session_kick(s, 0);
        } else {
            if (s->turn && !s->turn->done) { /* its end never came: let it go alone */
                s->turn->s = NULL;
                s->turn = NULL;
            } else if (s->turn) {
                handle_turn_end(s);
            }
            finalize(s);
        }
        s = next;
    }
}
