/* rule.c — parsing, validating and printing alert rules (rule.h). Both
 * sources go through mg_al_rule_parse, so a rule means the same whether it
 * came from a policy file or from the API. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule.h"

#define MAX_CHANNELS_JSON 16384

static const char *const op_names[] = {">", ">=", "<", "<=", "==", "!="};

const char *mg_al_op_name(int op)
{
    return op >= 0 && op < (int)MG_ARRAY_LEN(op_names) ? op_names[op] : "?";
}

int mg_al_rule_holds(const mg_al_rule *r, double v)
{
    switch (r->op) {
    case MG_AL_OP_GT: return v > r->threshold;
    case MG_AL_OP_GE: return v >= r->threshold;
    case MG_AL_OP_LT: return v < r->threshold;
    case MG_AL_OP_LE: return v <= r->threshold;
    case MG_AL_OP_EQ: return fabs(v - r->threshold) < 1e-12;
    case MG_AL_OP_NE: return fabs(v - r->threshold) >= 1e-12;
    default: return 0;
    }
}

void mg_al_rule_clear(mg_al_rule *r)
{
    free(r->name);
    free(r->metric_name);
    free(r->severity);
    free(r->channels);
    free(r->description);
    for (size_t i = 0; i < r->nfilters; i++) {
        free((char *)r->filters[i].field);
        free((char *)r->filters[i].value);
    }
    free(r->filters);
    memset(r, 0, sizeof *r);
}

/* "90", 90, "30s", "5m", "2h", "7d" → seconds. */
static int duration(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return isfinite(*out) ? MG_OK : MG_ERR;
    }
    const char *s = json_string_value(v);
    if (!s)
        return MG_ERR;
    char *end;
    double n = strtod(s, &end);
    if (end == s)
        return MG_ERR;
    double unit = !*end ? 1 : !strcmp(end, "s") ? 1 : !strcmp(end, "m") ? 60
                : !strcmp(end, "h") ? 3600 : !strcmp(end, "d") ? 86400 : -1;
    if (unit < 0 || !isfinite(n))
        return MG_ERR;
    *out = n * unit;
    return MG_OK;
}

static int fail(char *err, size_t errlen, const char *key, const char *why)
{
    snprintf(err, errlen, "%s: %s", key, why);
    return MG_ERR;
}

static int parse_op(const char *s, int *op)
{
    static const char *const words[] = {"gt", "ge", "lt", "le", "eq", "ne"};
    for (int i = 0; i < (int)MG_ARRAY_LEN(op_names); i++)
        if (!strcmp(s, op_names[i]) || !strcmp(s, words[i])) {
            *op = i;
            return MG_OK;
        }
    if (!strcmp(s, "=")) {
        *op = MG_AL_OP_EQ;
        return MG_OK;
    }
    return MG_ERR;
}

static int parse_filters(const json_t *v, mg_al_rule *r, char *err, size_t errlen)
{
    if (!json_is_object(v))
        return fail(err, errlen, "filters", "must be an object {field = value}");
    if (json_object_size(v) > MG_AL_MAX_FILTERS)
        return fail(err, errlen, "filters", "at most 8");
    r->filters = mg_xcalloc(json_object_size(v) + 1, sizeof *r->filters);
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)v, k, val)
    {
        char num[64];
        const char *s = json_string_value(val);
        if (json_is_number(val)) {
            snprintf(num, sizeof num, "%.17g", json_number_value(val));
            s = num;
        } else if (json_is_boolean(val)) {
            s = json_is_true(val) ? "1" : "0";
        }
        if (!s)
            return fail(err, errlen, "filters", "values must be strings or numbers");
        if (mg_al_label_of(k) < 0 && mg_al_num_of(k) < 0) {
            snprintf(err, errlen, "filters: '%s' cannot be filtered on (provider, "
                     "model_requested, model_routed, status, key_id, user_id, environment, "
                     "client_format or a numeric field)", k);
            return MG_ERR;
        }
        r->filters[r->nfilters].field = mg_xstrdup(k);
        r->filters[r->nfilters].value = mg_xstrdup(s);
        r->nfilters++;
    }
    return MG_OK;
}

static int parse_group(const json_t *v, mg_al_rule *r, char *err, size_t errlen)
{
    json_t *one = NULL;
    if (json_is_string(v)) {
        one = json_array();
        json_array_append((json_t *)one, (json_t *)v);
        v = one;
    }
    int rc = MG_OK;
    if (!json_is_array(v) || json_array_size(v) > MG_AL_MAX_GROUP) {
        rc = fail(err, errlen, "group_by", "must be a label name or a list of at most 3");
        goto done;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        const char *s = json_string_value(json_array_get(v, i));
        int l = s ? mg_al_label_of(s) : -1;
        if (s && !strcmp(s, "budget"))
            l = MG_AL_GROUP_BUDGET;
        if (l == -1) {
            rc = fail(err, errlen, "group_by", "names a label (provider, model_requested, "
                      "model_routed, status, key_id, user_id, environment, client_format)");
            goto done;
        }
        r->group_by[r->ngroup++] = l;
    }
done:
    if (one)
        json_decref(one);
    return rc;
}

static int parse_channels(const json_t *v, mg_al_rule *r, char *err, size_t errlen)
{
    json_t *list = json_is_string(v) || json_is_object(v) ? json_pack("[O]", v) : json_incref((json_t *)v);
    int rc = MG_OK;
    if (!json_is_array(list) || json_array_size(list) > 16) {
        rc = fail(err, errlen, "channels", "must be a list of channel names or channel tables");
        goto done;
    }
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *c = json_array_get(list, i);
        if (!json_is_string(c) && !(json_is_object(c) && json_is_string(json_object_get(c, "type")))) {
            rc = fail(err, errlen, "channels", "each entry is a name or a table with a type");
            goto done;
        }
    }
    r->channels = json_dumps(list, JSON_COMPACT);
    if (!r->channels || strlen(r->channels) > MAX_CHANNELS_JSON)
        rc = fail(err, errlen, "channels", "too large");
done:
    json_decref(list);
    return rc;
}

static int parse_number(const json_t *v, const char *key, double lo, double hi, double *out,
                        char *err, size_t errlen)
{
    if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi)) {
        char why[96];
        snprintf(why, sizeof why, "must be a number in [%g, %g]", lo, hi);
        return fail(err, errlen, key, why);
    }
    *out = json_number_value(v);
    return MG_OK;
}

static int parse_field(const char *k, const json_t *v, mg_al_rule *r, int is_function, char *err,
                       size_t errlen)
{
    double d;
    if (!strcmp(k, "name") || !strcmp(k, "source"))
        return MG_OK;
    if (!strcmp(k, "metric")) {
        if (is_function)
            return MG_OK;
        if (!json_is_string(v))
            return fail(err, errlen, k, "must be a metric name");
        free(r->metric_name);
        r->metric_name = mg_xstrdup(json_string_value(v));
        return mg_al_metric_parse(r->metric_name, &r->metric, err, errlen);
    }
    if (!strcmp(k, "window")) {
        if (duration(v, &r->window) != MG_OK || !(r->window >= 1 && r->window <= MG_AL_MAX_WINDOW))
            return fail(err, errlen, k, "must be 1 s .. 31 days (a number of seconds or \"5m\")");
        return MG_OK;
    }
    if (!strcmp(k, "cooldown")) {
        if (duration(v, &r->cooldown) != MG_OK || !(r->cooldown >= 0 && r->cooldown <= 365 * 86400.0))
            return fail(err, errlen, k, "must be 0 s .. 365 days");
        return MG_OK;
    }
    if (!strcmp(k, "op")) {
        if (!json_is_string(v) || parse_op(json_string_value(v), &r->op) != MG_OK)
            return fail(err, errlen, k, "must be one of > >= < <= == !=");
        return MG_OK;
    }
    if (!strcmp(k, "threshold"))
        return parse_number(v, k, -1e300, 1e300, &r->threshold, err, errlen);
    if (!strcmp(k, "min_samples")) {
        if (parse_number(v, k, 0, 1e12, &d, err, errlen) != MG_OK)
            return MG_ERR;
        r->min_samples = (long)d;
        return MG_OK;
    }
    if (!strcmp(k, "mute_until")) {
        if (json_is_null(v))
            return MG_OK;
        if (parse_number(v, k, 0, 1e15, &d, err, errlen) != MG_OK)
            return MG_ERR;
        r->mute_until_ms = (int64_t)d;
        return MG_OK;
    }
    if (!strcmp(k, "enabled")) {
        if (!json_is_boolean(v))
            return fail(err, errlen, k, "must be true or false");
        r->enabled = json_is_true(v);
        return MG_OK;
    }
    if (!strcmp(k, "severity")) {
        const char *s = json_string_value(v);
        if (!s || (strcmp(s, "info") && strcmp(s, "warning") && strcmp(s, "critical")))
            return fail(err, errlen, k, "must be info, warning or critical");
        free(r->severity);
        r->severity = mg_xstrdup(s);
        return MG_OK;
    }
    if (!strcmp(k, "description")) {
        if (!json_is_string(v) || strlen(json_string_value(v)) > 1000)
            return fail(err, errlen, k, "must be a string of at most 1000 bytes");
        free(r->description);
        r->description = mg_xstrdup(json_string_value(v));
        return MG_OK;
    }
    if (!strcmp(k, "filters"))
        return parse_filters(v, r, err, errlen);
    if (!strcmp(k, "group_by"))
        return parse_group(v, r, err, errlen);
    if (!strcmp(k, "channels"))
        return parse_channels(v, r, err, errlen);
    return fail(err, errlen, k, "unknown field");
}

static int name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > MG_AL_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

int mg_al_rule_parse(const json_t *obj, const char *name, int source, int is_function,
                     mg_al_rule *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(obj))
        return fail(err, errlen, "rule", "must be an object");
    if (!name)
        name = json_string_value(json_object_get(obj, "name"));
    if (!name_ok(name))
        return fail(err, errlen, "name", "1..128 characters of A-Z a-z 0-9 _ - .");
    out->name = mg_xstrdup(name);
    out->source = source;
    out->is_function = is_function;
    out->window = 300;
    out->op = MG_AL_OP_GT;
    out->min_samples = 1;
    out->cooldown = 600;
    out->enabled = 1;
    out->metric.num = -1;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (parse_field(k, v, out, is_function, err, errlen) != MG_OK)
            goto fail;
    }
    if (!is_function && !out->metric_name) {
        fail(err, errlen, "metric", "missing");
        goto fail;
    }
    if (!out->severity)
        out->severity = mg_xstrdup("warning");
    if (!out->channels)
        out->channels = mg_xstrdup("[\"in_app\"]");
    if (out->metric.kind == MG_AL_M_BUDGET_USAGE && out->ngroup == 0)
        out->group_by[out->ngroup++] = MG_AL_GROUP_BUDGET;
    return MG_OK;
fail:
    mg_al_rule_clear(out);
    return MG_ERR;
}

static json_t *filters_json(const mg_al_rule *r)
{
    json_t *o = json_object();
    for (size_t i = 0; i < r->nfilters; i++)
        json_object_set_new(o, r->filters[i].field, json_string(r->filters[i].value));
    return o;
}

json_t *mg_al_rule_json(const mg_al_rule *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(r->name));
    json_object_set_new(o, "source", json_string(r->source == MG_AL_SRC_API ? "api" : "policy"));
    if (r->is_function)
        json_object_set_new(o, "function", json_true());
    else
        json_object_set_new(o, "metric", json_string(r->metric_name));
    json_object_set_new(o, "window", json_real(r->window));
    json_object_set_new(o, "op", json_string(mg_al_op_name(r->op)));
    json_object_set_new(o, "threshold", json_real(r->threshold));
    json_object_set_new(o, "min_samples", json_integer(r->min_samples));
    json_object_set_new(o, "severity", json_string(r->severity));
    json_object_set_new(o, "cooldown", json_real(r->cooldown));
    json_object_set_new(o, "mute_until", r->mute_until_ms ? json_integer(r->mute_until_ms) : json_null());
    json_object_set_new(o, "enabled", json_boolean(r->enabled));
    json_object_set_new(o, "filters", filters_json(r));
    json_t *g = json_array();
    for (size_t i = 0; i < r->ngroup; i++)
        json_array_append_new(g, json_string(r->group_by[i] == MG_AL_GROUP_BUDGET
                                                 ? "budget"
                                                 : mg_al_label_name(r->group_by[i])));
    json_object_set_new(o, "group_by", g);
    json_t *ch = json_loads(r->channels ? r->channels : "[]", 0, NULL);
    json_object_set_new(o, "channels", ch ? ch : json_array());
    if (r->description)
        json_object_set_new(o, "description", json_string(r->description));
    return o;
}
