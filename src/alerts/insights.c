/* insights.c — running the insight generators and keeping their state.
 * A run: the database thread computes the data (insight_data.c), the loop
 * runs the Lua generators on it (lua_rules.c), the database thread
 * upserts the results (ids stable across runs: sha256 of generator + key)
 * and forgets active insights no longer produced; applied, snoozed and
 * dismissed ones keep their state. Actions: apply (sets the mg.shared
 * values the insight names, re-applied at every start), snooze (for
 * `seconds`, default a week), dismiss. Uses SQLite, OpenSSL (SHA-256),
 * lua/shared_dict.h. */
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../lua/shared_dict.h"
#include "al-t.h"

#define SNOOZE_DEFAULT_S (7 * 86400.0)

/* ---- reading ------------------------------------------------------------- */

static const char select_cols[] =
    "SELECT id, generator, priority, title, explanation, monthly_saving, actions, state, "
    "snooze_until_ms, created_ms, updated_ms FROM insights";

static json_t *insight_row(sqlite3_stmt *st)
{
    const char *actions = (const char *)sqlite3_column_text(st, 6);
    json_t *acts = actions ? json_loads(actions, 0, NULL) : NULL;
    json_t *o = json_pack("{s:s,s:s,s:i,s:s,s:s,s:o,s:o,s:s,s:o,s:I,s:I}", "id",
                          sqlite3_column_text(st, 0), "generator", sqlite3_column_text(st, 1),
                          "priority", sqlite3_column_int(st, 2), "title",
                          sqlite3_column_text(st, 3), "explanation",
                          sqlite3_column_text(st, 4) ? (const char *)sqlite3_column_text(st, 4) : "",
                          "monthly_saving",
                          sqlite3_column_type(st, 5) == SQLITE_NULL
                              ? json_null()
                              : json_real(sqlite3_column_double(st, 5)),
                          "actions", json_is_array(acts) ? acts : json_array(), "state",
                          sqlite3_column_text(st, 7), "snooze_until_ms",
                          sqlite3_column_type(st, 8) == SQLITE_NULL
                              ? json_null()
                              : json_integer(sqlite3_column_int64(st, 8)),
                          "created_ms", (json_int_t)sqlite3_column_int64(st, 9), "updated_ms",
                          (json_int_t)sqlite3_column_int64(st, 10));
    if (acts && !json_is_array(acts))
        json_decref(acts);
    return o ? o : json_object();
}

/* Insights as a JSON array; all = 0: only those to show now. */
static json_t *list(sqlite3 *db, int all, int64_t now)
{
    json_t *out = json_array();
    char sql[512];
    snprintf(sql, sizeof sql, "%s%s ORDER BY priority, COALESCE(monthly_saving, 0) DESC, title",
             select_cols,
             all ? "" : " WHERE state = 'active' OR (state = 'snoozed' AND snooze_until_ms <= ?)");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        mg_error("alerts: insights: %s", sqlite3_errmsg(db));
        return out;
    }
    if (!all)
        sqlite3_bind_int64(st, 1, now);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(out, insight_row(st));
    sqlite3_finalize(st);
    return out;
}

/* ---- a run ------------------------------------------------------------------ */

/* One run. Owned by the job chain; freed by the last done. */
typedef struct run {
    mg_alerts *a;             /* touched only in done callbacks (loop) */
    mg_al_price *prices;      /* owned copy for the database thread */
    size_t nprices;
    int64_t now;
    char *data;               /* data JSON (database thread → loop) */
    json_t *insights;         /* generated (loop → database thread) */
    json_t *errors;
    json_t *result;           /* the list after saving */
} run;

static void run_free(run *r)
{
    for (size_t i = 0; i < r->nprices; i++)
        free(r->prices[i].name);
    free(r->prices);
    free(r->data);
    if (r->insights)
        json_decref(r->insights);
    if (r->errors)
        json_decref(r->errors);
    if (r->result)
        json_decref(r->result);
    free(r);
}

static void answer_waiters(mg_alerts *a, int status, json_t *body)
{
    for (size_t i = 0; i < a->nwaiters; i++) {
        if (status == 200)
            mg_al_reply_json(a->insight_waiters[i], 200, json_deep_copy(body));
        else
            mg_al_reply_error(a->insight_waiters[i], status,
                              json_string_value(json_object_get(body, "message")));
    }
    a->nwaiters = 0;
    a->insights_running = 0;
    json_decref(body);
}

static void insight_id(const char *generator, const char *key, char out[33])
{
    mg_buf b = {0};
    mg_buf_append(&b, generator, strlen(generator) + 1); /* the NUL separates them */
    mg_buf_append_str(&b, key);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(b.data, b.len, md, &n, EVP_sha256(), NULL);
    mg_buf_free(&b);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[32] = 0;
}

static void upsert(sqlite3 *db, const json_t *ins, int64_t now)
{
    static const char sql[] =
        "INSERT INTO insights (id, generator, priority, title, explanation, monthly_saving, "
        "actions, state, created_ms, updated_ms, seen_ms) VALUES (?,?,?,?,?,?,?,'active',?,?,?) "
        "ON CONFLICT(id) DO UPDATE SET generator = excluded.generator, priority = "
        "excluded.priority, title = excluded.title, explanation = excluded.explanation, "
        "monthly_saving = excluded.monthly_saving, actions = excluded.actions, updated_ms = "
        "excluded.updated_ms, seen_ms = excluded.seen_ms, state = CASE WHEN state = 'snoozed' "
        "AND snooze_until_ms <= excluded.seen_ms THEN 'active' ELSE state END";
    const char *gen = json_string_value(json_object_get(ins, "generator"));
    const char *key = json_string_value(json_object_get(ins, "key"));
    const char *title = json_string_value(json_object_get(ins, "title"));
    if (!gen || !key || !title)
        return;
    char id[33];
    insight_id(gen, key, id);
    json_t *acts = json_object_get(ins, "actions");
    char *actions = json_dumps(json_is_array(acts) ? acts : json_array(), JSON_COMPACT);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, gen, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 3, (int)json_integer_value(json_object_get(ins, "priority")));
        sqlite3_bind_text(st, 4, title, -1, SQLITE_TRANSIENT);
        const char *ex = json_string_value(json_object_get(ins, "explanation"));
        sqlite3_bind_text(st, 5, ex ? ex : "", -1, SQLITE_TRANSIENT);
        json_t *ms = json_object_get(ins, "monthly_saving");
        if (json_is_number(ms))
            sqlite3_bind_double(st, 6, json_number_value(ms));
        else
            sqlite3_bind_null(st, 6);
        sqlite3_bind_text(st, 7, actions ? actions : "[]", -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 8, now);
        sqlite3_bind_int64(st, 9, now);
        sqlite3_bind_int64(st, 10, now);
        if (sqlite3_step(st) != SQLITE_DONE)
            mg_error("alerts: insights: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    free(actions);
}

static void save_run(sqlite3 *db, void *ud)
{
    run *r = ud;
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    size_t i;
    json_t *ins;
    json_array_foreach(r->insights, i, ins)
    {
        upsert(db, ins, r->now);
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "DELETE FROM insights WHERE state = 'active' AND seen_ms < ?", -1,
                           &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, r->now);
        sqlite3_step(st);
    }
    sqlite3_finalize(st);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    r->result = list(db, 0, r->now);
}

static void saved(void *ud, int cancelled)
{
    run *r = ud;
    if (!cancelled) {
        mg_alerts *a = r->a;
        a->last_insights_ms = r->now;
        json_t *body = json_pack("{s:O,s:O,s:I}", "insights", r->result, "errors", r->errors,
                                 "generated_ms", (json_int_t)r->now);
        answer_waiters(a, 200, body);
    }
    run_free(r);
}

static void generate(run *r)
{
    mg_alerts *a = r->a;
    char err[512] = "";
    json_t *res = NULL;
    if (mg_al_lua_insights(a, r->data, &res, err, sizeof err) != MG_OK) {
        mg_warn("alerts: insights: %s", err);
        answer_waiters(a, 503, json_pack("{s:s}", "message", err));
        run_free(r);
        return;
    }
    r->insights = json_incref(json_object_get(res, "insights"));
    r->errors = json_incref(json_object_get(res, "errors"));
    json_decref(res);
    if (!json_is_array(r->insights))
        r->insights = (json_decref(r->insights), json_array());
    if (!json_is_array(r->errors))
        r->errors = (json_decref(r->errors), json_array());
    size_t i;
    json_t *e;
    json_array_foreach(r->errors, i, e)
    {
        mg_warn("alerts: insight generator %s", json_string_value(e) ? json_string_value(e) : "?");
    }
    if (mg_al_submit(a, save_run, saved, r) != MG_OK) {
        answer_waiters(a, 503, json_pack("{s:s}", "message", "the database queue is full"));
        run_free(r);
    }
}

static void query_data(sqlite3 *db, void *ud)
{
    run *r = ud;
    json_t *data = mg_al_insight_data(db, r->now, r->prices, r->nprices);
    r->data = data ? json_dumps(data, JSON_COMPACT) : NULL;
    if (data)
        json_decref(data);
}

static void queried(void *ud, int cancelled)
{
    run *r = ud;
    if (cancelled) {
        run_free(r);
        return;
    }
    if (!r->data) {
        answer_waiters(r->a, 500, json_pack("{s:s}", "message", "cannot read the data"));
        run_free(r);
        return;
    }
    generate(r);
}

void mg_al_insights_run(mg_alerts *a, mg_al_reply *waiter)
{
    if (waiter) {
        a->insight_waiters = mg_xrealloc(a->insight_waiters,
                                         (a->nwaiters + 1) * sizeof *a->insight_waiters);
        a->insight_waiters[a->nwaiters++] = waiter;
    }
    if (a->insights_running)
        return;
    if (!a->gen) {
        answer_waiters(a, 503, json_pack("{s:s}", "message",
                                         "no policy generation loaded yet (insights run in Lua)"));
        return;
    }
    a->insights_running = 1;
    run *r = mg_xcalloc(1, sizeof *r);
    r->a = a;
    r->now = mg_now_wall_ms();
    r->prices = mg_xcalloc(a->nprices + 1, sizeof *r->prices);
    for (size_t i = 0; i < a->nprices; i++) {
        r->prices[i] = a->prices[i];
        r->prices[i].name = mg_xstrdup(a->prices[i].name);
    }
    r->nprices = a->nprices;
    if (mg_al_submit(a, query_data, queried, r) != MG_OK) {
        run_free(r);
        answer_waiters(a, 503, json_pack("{s:s}", "message", "the database queue is full"));
    }
}

/* ---- listing and actions ------------------------------------------------------ */

typedef struct ask {
    mg_al_reply *reply;
    int all;
    char id[64], action[16];
    double seconds;
    int64_t now;
} ask;

static void list_job(sqlite3 *db, void *ud)
{
    ask *q = ud;
    mg_al_reply_json(q->reply, 200, json_pack("{s:o}", "insights", list(db, q->all, q->now)));
    q->reply = NULL;
}

static void ask_done(void *ud, int cancelled)
{
    ask *q = ud;
    if (q->reply)
        mg_al_reply_error(q->reply, 503, cancelled ? "shutting down" : "not answered");
    free(q);
}

void mg_al_api_insights(mg_alerts *a, mg_al_cmd *c)
{
    ask *q = mg_xcalloc(1, sizeof *q);
    q->reply = c->reply;
    q->all = c->query && strstr(c->query, "state=all") != NULL;
    q->now = mg_now_wall_ms();
    c->reply = NULL;
    if (mg_al_submit(a, list_job, ask_done, q) != MG_OK) {
        mg_al_reply_error(q->reply, 503, "the database queue is full");
        free(q);
    }
}

/* The value of an action's shared entry, applied with mg_shared_set. */
static int apply_shared(const json_t *actions, char *what, size_t len)
{
    size_t i;
    json_t *act;
    json_array_foreach(actions, i, act)
    {
        const char *name = json_string_value(json_object_get(act, "action"));
        json_t *sh = json_object_get(act, "shared");
        if (!name || strcmp(name, "apply") != 0 || !json_is_object(sh))
            continue;
        const char *dict = json_string_value(json_object_get(sh, "dict"));
        const char *key = json_string_value(json_object_get(sh, "key"));
        json_t *v = json_object_get(sh, "value");
        if (!dict || !key)
            return MG_ERR;
        mg_shv val = {0};
        if (json_is_boolean(v)) {
            val.type = MG_SHV_BOOL;
            val.boolean = json_is_true(v);
        } else if (json_is_number(v)) {
            val.type = MG_SHV_NUM;
            val.num = json_number_value(v);
        } else if (json_is_string(v)) {
            val.type = MG_SHV_STR;
            val.str = (char *)json_string_value(v);
            val.len = json_string_length(v);
        } else {
            return MG_ERR;
        }
        if (mg_shared_set(dict, key, &val, 0) != MG_OK)
            return MG_ERR;
        snprintf(what, len, "%s.%s", dict, key);
        return MG_OK;
    }
    return MG_ERR;
}

static json_t *load_actions(sqlite3 *db, const char *id, int *found)
{
    sqlite3_stmt *st = NULL;
    json_t *acts = NULL;
    *found = 0;
    if (sqlite3_prepare_v2(db, "SELECT actions FROM insights WHERE id = ?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *found = 1;
            const char *s = (const char *)sqlite3_column_text(st, 0);
            acts = s ? json_loads(s, 0, NULL) : NULL;
        }
    }
    sqlite3_finalize(st);
    return acts ? acts : json_array();
}

static void set_state(sqlite3 *db, const char *id, const char *state, int64_t until, int64_t now)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "UPDATE insights SET state = ?, snooze_until_ms = ?, updated_ms = ? "
                               "WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
    if (until)
        sqlite3_bind_int64(st, 2, until);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_text(st, 4, id, -1, SQLITE_TRANSIENT);
    sqlite3_step(st);
    sqlite3_finalize(st);
}

static void action_job(sqlite3 *db, void *ud)
{
    ask *q = ud;
    int found;
    json_t *acts = load_actions(db, q->id, &found);
    char what[160] = "";
    if (!found) {
        mg_al_reply_error(q->reply, 404, "no insight with that id");
    } else if (!strcmp(q->action, "apply") && apply_shared(acts, what, sizeof what) != MG_OK) {
        mg_al_reply_error(q->reply, 409, "this insight has nothing to apply");
    } else {
        int64_t until = !strcmp(q->action, "snooze") ? q->now + (int64_t)(q->seconds * 1000) : 0;
        const char *state = !strcmp(q->action, "apply")    ? "applied"
                            : !strcmp(q->action, "snooze") ? "snoozed"
                                                           : "dismissed";
        set_state(db, q->id, state, until, q->now);
        json_t *body = json_pack("{s:s,s:s}", "id", q->id, "state", state);
        if (what[0])
            json_object_set_new(body, "applied", json_string(what));
        if (until)
            json_object_set_new(body, "snooze_until_ms", json_integer(until));
        mg_al_reply_json(q->reply, 200, body);
    }
    q->reply = NULL;
    json_decref(acts);
}

void mg_al_api_insight_action(mg_alerts *a, mg_al_cmd *c)
{
    json_t *body = mg_al_cmd_json(c);
    if (!body)
        return;
    const char *id = json_string_value(json_object_get(body, "id"));
    const char *action = json_string_value(json_object_get(body, "action"));
    json_t *secs = json_object_get(body, "seconds");
    if (!id || strlen(id) >= 64 || !action ||
        (strcmp(action, "apply") && strcmp(action, "snooze") && strcmp(action, "dismiss")) ||
        (secs && !(json_is_number(secs) && json_number_value(secs) > 0 &&
                   json_number_value(secs) <= 365 * 86400.0))) {
        json_decref(body);
        mg_al_reply_error(c->reply, 400, "use {id, action: apply|snooze|dismiss, seconds?}");
        c->reply = NULL;
        return;
    }
    ask *q = mg_xcalloc(1, sizeof *q);
    q->reply = c->reply;
    c->reply = NULL;
    snprintf(q->id, sizeof q->id, "%s", id);
    snprintf(q->action, sizeof q->action, "%s", action);
    q->seconds = secs ? json_number_value(secs) : SNOOZE_DEFAULT_S;
    q->now = mg_now_wall_ms();
    json_decref(body);
    if (mg_al_submit(a, action_job, ask_done, q) != MG_OK) {
        mg_al_reply_error(q->reply, 503, "the database queue is full");
        free(q);
    }
}

/* At start: what was applied before a restart is applied again. */
static void restore_job(sqlite3 *db, void *ud)
{
    MG_UNUSED(ud);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT actions FROM insights WHERE state = 'applied'", -1, &st,
                           NULL) != SQLITE_OK)
        return;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(st, 0);
        json_t *acts = s ? json_loads(s, 0, NULL) : NULL;
        char what[160];
        if (acts && apply_shared(acts, what, sizeof what) == MG_OK)
            mg_info("alerts: re-applied insight setting %s", what);
        if (acts)
            json_decref(acts);
    }
    sqlite3_finalize(st);
}

void mg_al_insights_restore(mg_alerts *a)
{
    mg_al_submit(a, restore_job, NULL, NULL);
}
