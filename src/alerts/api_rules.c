/* api_rules.c — rules and channels created through the admin API, stored
 * in SQLite (alert_rules, alert_channels) and held in memory by the
 * engine, plus POST /api/alerts/test. A change is written by the
 * database thread first; only when the write succeeded does the loop
 * change its in-memory copy and answer, so memory never holds what the
 * database refused. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "al-t.h"

/* A pending write. Owns its strings. */
typedef struct change {
    mg_alerts *a;
    mg_al_reply *reply;
    int kind;            /* enum below */
    char *name;
    char *definition;    /* JSON, NULL for deletes */
    int ok;              /* the database accepted it */
    int conflict;        /* the name exists (insert) or not (update/delete) */
    char err[256];
} change;

enum { RULE_INSERT, RULE_UPDATE, RULE_DELETE, CHANNEL_PUT, CHANNEL_DELETE };

static void change_free(change *c)
{
    free(c->name);
    free(c->definition);
    free(c);
}

static void write_job(sqlite3 *db, void *ud)
{
    change *c = ud;
    static const char *const sql[] = {
        [RULE_INSERT] = "INSERT INTO alert_rules (name, definition, created_ms, updated_ms) "
                        "VALUES (?1, ?2, ?3, ?3)",
        [RULE_UPDATE] = "UPDATE alert_rules SET definition = ?2, updated_ms = ?3 WHERE name = ?1",
        [RULE_DELETE] = "DELETE FROM alert_rules WHERE name = ?1",
        [CHANNEL_PUT] = "INSERT INTO alert_channels (name, definition, created_ms, updated_ms) "
                        "VALUES (?1, ?2, ?3, ?3) ON CONFLICT(name) DO UPDATE SET "
                        "definition = excluded.definition, updated_ms = excluded.updated_ms",
        [CHANNEL_DELETE] = "DELETE FROM alert_channels WHERE name = ?1",
    };
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql[c->kind], -1, &st, NULL) != SQLITE_OK) {
        snprintf(c->err, sizeof c->err, "%s", sqlite3_errmsg(db));
        return;
    }
    sqlite3_bind_text(st, 1, c->name, -1, SQLITE_TRANSIENT);
    if (c->definition)
        sqlite3_bind_text(st, 2, c->definition, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, mg_now_wall_ms());
    int rc = sqlite3_step(st);
    if (rc == SQLITE_CONSTRAINT)
        c->conflict = 1;
    else if (rc != SQLITE_DONE)
        snprintf(c->err, sizeof c->err, "%s", sqlite3_errmsg(db));
    else if (c->kind != RULE_INSERT && c->kind != CHANNEL_PUT && sqlite3_changes(db) == 0)
        c->conflict = 1;
    else
        c->ok = 1;
    sqlite3_finalize(st);
}

/* ---- in-memory copies --------------------------------------------------------- */

static long api_index(const mg_alerts *a, const char *name)
{
    for (size_t i = 0; i < a->napi; i++)
        if (!strcmp(a->api_rules[i].name, name))
            return (long)i;
    return -1;
}

static int lua_has(const mg_alerts *a, const char *name)
{
    for (size_t i = 0; i < a->nlua; i++)
        if (!strcmp(a->lua_rules[i].name, name))
            return 1;
    return 0;
}

static int parse_api_rule(const char *name, const char *definition, mg_al_rule *out, char *err,
                          size_t errlen)
{
    json_error_t jerr;
    json_t *j = json_loads(definition, 0, &jerr);
    int rc = mg_al_rule_parse(j, name, MG_AL_SRC_API, 0, out, err, errlen);
    if (j)
        json_decref(j);
    return rc;
}

static void set_api_rule(mg_alerts *a, const char *name, const char *definition)
{
    mg_al_rule r;
    char err[256];
    if (parse_api_rule(name, definition, &r, err, sizeof err) != MG_OK) {
        mg_error("alerts: stored rule %s: %s (skipped)", name, err);
        return;
    }
    long i = api_index(a, name);
    if (i >= 0) {
        mg_al_rule_clear(&a->api_rules[i]);
        a->api_rules[i] = r;
        return;
    }
    a->api_rules = mg_xrealloc(a->api_rules, (a->napi + 1) * sizeof *a->api_rules);
    a->api_rules[a->napi++] = r;
}

static void drop_api_rule(mg_alerts *a, const char *name)
{
    long i = api_index(a, name);
    if (i < 0)
        return;
    mg_al_rule_clear(&a->api_rules[i]);
    memmove(&a->api_rules[i], &a->api_rules[i + 1], (a->napi - (size_t)i - 1) * sizeof *a->api_rules);
    a->napi--;
}

/* The JSON a rule is stored as: its canonical form without "source". */
static char *definition_of(const mg_al_rule *r)
{
    json_t *j = mg_al_rule_json(r);
    json_object_del(j, "source");
    json_object_del(j, "name");
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return s;
}

static json_t *rule_public(const mg_alerts *a, const mg_al_rule *r)
{
    json_t *j = mg_al_rule_json(r);
    json_t *chans = json_object_get(j, "channels");
    size_t i;
    json_t *c;
    json_array_foreach(chans, i, c)
    {
        if (json_is_object(c))
            json_array_set_new(chans, i, mg_al_channel_masked(c));
    }
    if (r->source == MG_AL_SRC_API && lua_has(a, r->name))
        json_object_set_new(j, "shadowed_by_policy", json_true());
    return j;
}

/* ---- start: load what was saved ---------------------------------------------- */

typedef struct saved {
    mg_alerts *a;             /* touched only when not cancelled */
    json_t *rules, *channels; /* name → definition text */
} saved;

static void read_table(sqlite3 *db, const char *sql, json_t *into)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return;
    while (sqlite3_step(st) == SQLITE_ROW)
        json_object_set_new(into, (const char *)sqlite3_column_text(st, 0),
                            json_string((const char *)sqlite3_column_text(st, 1)));
    sqlite3_finalize(st);
}

static void load_job(sqlite3 *db, void *ud)
{
    saved *s = ud;
    read_table(db, "SELECT name, definition FROM alert_rules ORDER BY name", s->rules);
    read_table(db, "SELECT name, definition FROM alert_channels ORDER BY name", s->channels);
}

static void load_done(void *ud, int cancelled)
{
    saved *s = ud;
    mg_alerts *a = s->a;
    if (!cancelled) {
        const char *k;
        json_t *v;
        json_object_foreach(s->rules, k, v)
        {
            set_api_rule(a, k, json_string_value(v));
        }
        json_object_foreach(s->channels, k, v)
        {
            json_t *spec = json_loads(json_string_value(v), 0, NULL);
            if (json_is_object(spec))
                json_object_set_new(a->channels, k, spec);
            else if (spec)
                json_decref(spec);
        }
        a->loaded = 1;
        mg_info("alerts: %zu API rule%s, %zu channel%s", a->napi, a->napi == 1 ? "" : "s",
                json_object_size(a->channels), json_object_size(a->channels) == 1 ? "" : "s");
    }
    json_decref(s->rules);
    json_decref(s->channels);
    free(s);
}

void mg_al_load_saved(mg_alerts *a)
{
    saved *s = mg_xcalloc(1, sizeof *s);
    s->rules = json_object();
    s->channels = json_object();
    s->a = a;
    if (mg_al_submit(a, load_job, load_done, s) != MG_OK)
        load_done(s, 1);
}

/* ---- rules API ------------------------------------------------------------------- */

static void rule_written(void *ud, int cancelled)
{
    change *c = ud;
    mg_alerts *a = c->a;
    if (cancelled) {
        mg_al_reply_error(c->reply, 503, "shutting down");
    } else if (c->conflict) {
        mg_al_reply_error(c->reply, c->kind == RULE_INSERT ? 409 : 404,
                          c->kind == RULE_INSERT ? "a rule with that name exists"
                                                 : "no API rule with that name");
    } else if (!c->ok) {
        mg_al_reply_error(c->reply, 500, c->err);
    } else if (c->kind == RULE_DELETE) {
        drop_api_rule(a, c->name);
        mg_al_reply_json(c->reply, 200, json_pack("{s:s}", "deleted", c->name));
    } else {
        set_api_rule(a, c->name, c->definition);
        long i = api_index(a, c->name);
        mg_al_reply_json(c->reply, c->kind == RULE_INSERT ? 201 : 200,
                         i >= 0 ? rule_public(a, &a->api_rules[i]) : json_object());
    }
    change_free(c);
}

static void submit_change(mg_alerts *a, mg_al_cmd *cmd, int kind, const char *name,
                          char *definition, mg_al_job_done done)
{
    change *c = mg_xcalloc(1, sizeof *c);
    c->a = a;
    c->reply = cmd->reply;
    cmd->reply = NULL;
    c->kind = kind;
    c->name = mg_xstrdup(name);
    c->definition = definition;
    if (mg_al_submit(a, write_job, done, c) != MG_OK) {
        mg_al_reply_error(c->reply, 503, "the database queue is full");
        change_free(c);
    }
}

static void reply_error(mg_al_cmd *c, int status, const char *msg)
{
    mg_al_reply_error(c->reply, status, msg);
    c->reply = NULL;
}

/* Every channel of a rule must exist (names) or parse (tables) now: a typo
 * found at the first alert would be found too late. */
static int channels_ok(mg_alerts *a, const mg_al_rule *r, char *err, size_t errlen)
{
    json_t *list = json_loads(r->channels, 0, NULL);
    int rc = MG_OK;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        mg_al_channel ch;
        if (mg_al_channel_resolve(a, e, &ch, err, errlen) != MG_OK) {
            rc = MG_ERR;
            break;
        }
        mg_al_channel_clear(&ch);
    }
    if (list)
        json_decref(list);
    return rc;
}

static void list_rules(mg_alerts *a, mg_al_cmd *c)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < a->nlua; i++)
        json_array_append_new(arr, rule_public(a, &a->lua_rules[i]));
    for (size_t i = 0; i < a->napi; i++)
        json_array_append_new(arr, rule_public(a, &a->api_rules[i]));
    mg_al_reply_json(c->reply, 200, json_pack("{s:o,s:I,s:I}", "rules", arr, "evaluations",
                                              (json_int_t)a->evaluations, "last_eval_ms",
                                              (json_int_t)a->last_eval_ms));
    c->reply = NULL;
}

static void create_rule(mg_alerts *a, mg_al_cmd *c)
{
    json_t *body = mg_al_cmd_json(c);
    if (!body)
        return;
    mg_al_rule r;
    char err[512];
    if (mg_al_rule_parse(body, NULL, MG_AL_SRC_API, 0, &r, err, sizeof err) != MG_OK) {
        json_decref(body);
        reply_error(c, 400, err);
        return;
    }
    json_decref(body);
    if (channels_ok(a, &r, err, sizeof err) != MG_OK)
        reply_error(c, 400, err);
    else if (lua_has(a, r.name) || api_index(a, r.name) >= 0)
        reply_error(c, 409, lua_has(a, r.name) ? "a policy rule has that name"
                                               : "a rule with that name exists");
    else if (a->napi >= MG_AL_MAX_RULES)
        reply_error(c, 409, "too many rules");
    else
        submit_change(a, c, RULE_INSERT, r.name, definition_of(&r), rule_written);
    mg_al_rule_clear(&r);
}

static void patch_rule(mg_alerts *a, mg_al_cmd *c, const char *name)
{
    long i = api_index(a, name);
    if (i < 0) {
        reply_error(c, lua_has(a, name) ? 409 : 404, lua_has(a, name)
                        ? "policy rules change in their policy file"
                        : "no API rule with that name");
        return;
    }
    json_t *patch = mg_al_cmd_json(c);
    if (!patch)
        return;
    json_t *merged = mg_al_rule_json(&a->api_rules[i]);
    json_object_del(merged, "source");
    json_object_update(merged, patch);
    json_decref(patch);
    mg_al_rule r;
    char err[512];
    int rc = mg_al_rule_parse(merged, name, MG_AL_SRC_API, 0, &r, err, sizeof err);
    json_decref(merged);
    if (rc != MG_OK || channels_ok(a, &r, err, sizeof err) != MG_OK) {
        if (rc == MG_OK)
            mg_al_rule_clear(&r);
        reply_error(c, 400, err);
        return;
    }
    submit_change(a, c, RULE_UPDATE, name, definition_of(&r), rule_written);
    mg_al_rule_clear(&r);
}

void mg_al_api_rules(mg_alerts *a, mg_al_cmd *c, const char *rest)
{
    const char *m = c->method;
    if (!*rest && !strcmp(m, "GET"))
        list_rules(a, c);
    else if (!*rest && !strcmp(m, "POST"))
        create_rule(a, c);
    else if (!*rest)
        reply_error(c, 405, "use GET or POST");
    else if (!strcmp(m, "GET")) {
        const mg_al_rule *r = mg_al_find_rule(a, rest);
        if (r)
            mg_al_reply_json(c->reply, 200, rule_public(a, r)), c->reply = NULL;
        else
            reply_error(c, 404, "no rule with that name");
    } else if (!strcmp(m, "PATCH"))
        patch_rule(a, c, rest);
    else if (!strcmp(m, "DELETE")) {
        if (api_index(a, rest) < 0)
            reply_error(c, lua_has(a, rest) ? 409 : 404, lua_has(a, rest)
                            ? "policy rules are removed from their policy file"
                            : "no API rule with that name");
        else
            submit_change(a, c, RULE_DELETE, rest, NULL, rule_written);
    } else
        reply_error(c, 405, "use GET, PATCH or DELETE");
}

/* ---- channels API ---------------------------------------------------------------- */

static void channel_written(void *ud, int cancelled)
{
    change *c = ud;
    if (cancelled) {
        mg_al_reply_error(c->reply, 503, "shutting down");
    } else if (c->conflict) {
        mg_al_reply_error(c->reply, 404, "no channel with that name");
    } else if (!c->ok) {
        mg_al_reply_error(c->reply, 500, c->err);
    } else if (c->kind == CHANNEL_DELETE) {
        json_object_del(c->a->channels, c->name);
        mg_al_reply_json(c->reply, 200, json_pack("{s:s}", "deleted", c->name));
    } else {
        json_t *spec = json_loads(c->definition, 0, NULL);
        json_object_set_new(c->a->channels, c->name, spec ? spec : json_object());
        json_t *pub = mg_al_channel_masked(spec);
        json_object_set_new(pub, "name", json_string(c->name));
        mg_al_reply_json(c->reply, 201, pub);
    }
    change_free(c);
}

static void put_channel(mg_alerts *a, mg_al_cmd *c)
{
    json_t *body = mg_al_cmd_json(c);
    if (!body)
        return;
    const char *name = json_string_value(json_object_get(body, "name"));
    char nm[MG_AL_NAME_MAX + 1] = "";
    int too_long = name && strlen(name) > MG_AL_NAME_MAX;
    if (name)
        snprintf(nm, sizeof nm, "%s", name);
    json_object_del(body, "name"); /* frees name: only nm from here on */
    mg_al_channel ch;
    char err[256];
    int bad_name = !nm[0] || too_long || !strcmp(nm, "in_app") || strpbrk(nm, "/\"\\ \t\r\n");
    if (bad_name) {
        reply_error(c, 400, "name: 1..128 characters, no spaces or slashes, not in_app");
    } else if (mg_al_channel_parse(body, nm, &ch, err, sizeof err) != MG_OK) {
        reply_error(c, 400, err);
    } else {
        mg_al_channel_clear(&ch);
        if (!json_object_get(a->channels, nm) && json_object_size(a->channels) >= MG_AL_MAX_CHANNELS)
            reply_error(c, 409, "too many channels");
        else
            submit_change(a, c, CHANNEL_PUT, nm, json_dumps(body, JSON_COMPACT), channel_written);
    }
    json_decref(body);
}

void mg_al_api_channels(mg_alerts *a, mg_al_cmd *c, const char *rest)
{
    if (!*rest && !strcmp(c->method, "GET")) {
        json_t *arr = json_array();
        json_array_append_new(arr, json_pack("{s:s,s:s}", "name", "in_app", "type", "in_app"));
        const char *k;
        json_t *v;
        json_object_foreach(a->channels, k, v)
        {
            json_t *pub = mg_al_channel_masked(v);
            json_object_set_new(pub, "name", json_string(k));
            json_array_append_new(arr, pub);
        }
        mg_al_reply_json(c->reply, 200, json_pack("{s:o}", "channels", arr));
        c->reply = NULL;
    } else if (!*rest && !strcmp(c->method, "POST")) {
        put_channel(a, c);
    } else if (*rest && !strcmp(c->method, "DELETE")) {
        if (!json_object_get(a->channels, rest))
            reply_error(c, 404, "no channel with that name");
        else
            submit_change(a, c, CHANNEL_DELETE, rest, NULL, channel_written);
    } else {
        reply_error(c, 405, "use GET or POST on /api/alerts/channels, DELETE on one channel");
    }
}

/* ---- test notification --------------------------------------------------------- */

static void test_sent(void *ud, const mg_al_sent *s)
{
    mg_al_reply_json(ud, s->ok ? 200 : 502,
                     json_pack("{s:b,s:i,s:i,s:s,s:s,s:s,s:f}", "ok", s->ok, "status", s->status,
                               "attempts", s->attempts, "error", s->error, "channel", s->channel,
                               "type", s->type, "ms", s->ms));
}

void mg_al_api_test(mg_alerts *a, mg_al_cmd *c)
{
    json_t *body = mg_al_cmd_json(c);
    if (!body)
        return;
    mg_al_channel ch;
    char err[256];
    json_t *entry = json_object_get(body, "channel");
    if (!entry || mg_al_channel_resolve(a, entry, &ch, err, sizeof err) != MG_OK) {
        json_decref(body);
        reply_error(c, 400, entry ? err : "channel: a channel name or a channel table");
        return;
    }
    const char *msg = json_string_value(json_object_get(body, "message"));
    int64_t now = mg_now_wall_ms();
    json_t *details = json_pack("{s:s,s:s,s:s,s:I}", "rule", "test", "key", "test", "state",
                                "test", "ts_ms", (json_int_t)now);
    mg_al_notice n = {.event = "alert_test", .title = "moongate test notification",
                      .text = msg ? msg : "If you can read this, the channel works.",
                      .severity = "info", .alert = details, .ts_ms = now};
    mg_al_reply *reply = c->reply;
    c->reply = NULL;
    mg_al_deliver(a->sender, &ch, &n, test_sent, reply);
    mg_al_channel_clear(&ch);
    json_decref(details);
    json_decref(body);
}
