/* cli.c — `moongate keys list|create|show|update|revoke|rotate`: turns
 * options into admin API calls on the running gateway (so a revocation
 * takes effect at once) and prints a table, a key, or a new secret. Uses
 * cli_http.c for the calls and jansson for bodies and answers. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "cli.h"
#include "internal.h"

const char mg_keys_cli_usage[] =
    "usage: moongate keys <command> [options]\n"
    "\n"
    "commands:\n"
    "  list                      every key with its limits and today's spend\n"
    "  create NAME [limits]      a new key; prints its secret once\n"
    "  show ID|NAME              one key\n"
    "  update ID|NAME [limits]   change limits (a value of 'none' removes one)\n"
    "  revoke ID|NAME            refuse the key from now on\n"
    "  rotate ID|NAME            a new secret; the old one stops working\n"
    "\n"
    "limits:\n"
    "  --name N  --user ID  --env NAME  --models a,b|all  --rpm N  --tpm N\n"
    "  --concurrency N  --budget-day USD  --budget-month USD\n"
    "  --expires 2026-01-31|30d|12h|never  --metadata JSON\n"
    "\n"
    "gateway:\n"
    "  --url http://127.0.0.1:8080   (default: the listen address of the config below)\n"
    "  --token ADMIN_TOKEN           (default: $MOONGATE_ADMIN_TOKEN, else data/admin_token)\n"
    "  -c CONFIG                     the config `moongate serve` was started with\n"
    "  --json                        print the API's answer as JSON\n";

/* ---- building bodies ----------------------------------------------------- */

static int parse_count(const char *opt, const char *v, json_t *body, const char *field)
{
    if (!strcmp(v, "none")) {
        json_object_set_new(body, field, json_null());
        return MG_OK;
    }
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 0) {
        fprintf(stderr, "moongate keys: %s wants a whole number >= 0 or 'none', got '%s'\n", opt, v);
        return MG_ERR;
    }
    json_object_set_new(body, field, json_integer(n));
    return MG_OK;
}

static int parse_usd(const char *opt, const char *v, json_t *body, const char *field)
{
    if (!strcmp(v, "none")) {
        json_object_set_new(body, field, json_null());
        return MG_OK;
    }
    const char *p = *v == '$' ? v + 1 : v;
    char *end;
    errno = 0;
    double d = strtod(p, &end);
    if (errno || end == p || *end || !(d >= 0)) {
        fprintf(stderr, "moongate keys: %s wants an amount of USD such as 5 or 2.50, got '%s'\n",
                opt, v);
        return MG_ERR;
    }
    json_object_set_new(body, field, json_real(d));
    return MG_OK;
}

static int parse_models(const char *v, json_t *body)
{
    if (!strcmp(v, "all") || !strcmp(v, "none")) {
        json_object_set_new(body, "models", json_null());
        return MG_OK;
    }
    json_t *arr = json_array();
    const char *p = v;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n && isspace((unsigned char)*p))
            p++, n--;
        while (n && isspace((unsigned char)p[n - 1]))
            n--;
        if (n)
            json_array_append_new(arr, json_stringn(p, n));
        p = comma ? comma + 1 : p + strlen(p);
    }
    json_object_set_new(body, "models", arr);
    return MG_OK;
}

/* "30d", "12h", "45m" from now, "never", or a date passed as given. */
static int parse_expires(const char *v, json_t *body)
{
    if (!strcmp(v, "never") || !strcmp(v, "none")) {
        json_object_set_new(body, "expires_at", json_null());
        return MG_OK;
    }
    char *end;
    long n = strtol(v, &end, 10);
    long unit = !strcmp(end, "d") ? 86400 : !strcmp(end, "h") ? 3600 : !strcmp(end, "m") ? 60 : 0;
    if (end != v && n > 0 && unit) {
        char iso[32];
        mg_keys_iso_time(((int64_t)time(NULL) + n * unit) * 1000, iso);
        json_object_set_new(body, "expires_at", json_string(iso));
        return MG_OK;
    }
    json_object_set_new(body, "expires_at", json_string(v));
    return MG_OK;
}

static int parse_metadata(const char *v, json_t *body)
{
    json_error_t e;
    json_t *m = json_loads(v, 0, &e);
    if (!json_is_object(m)) {
        fprintf(stderr, "moongate keys: --metadata wants a JSON object such as '{\"team\":\"ml\"}'\n");
        json_decref(m);
        return MG_ERR;
    }
    json_object_set_new(body, "metadata", m);
    return MG_OK;
}

/* One limit option into body; 1 if opt was one, 0 if not, -1 on error. */
static int limit_option(const char *opt, const char *v, json_t *body)
{
    static const struct { const char *opt, *field; } texts[] = {
        {"--name", "name"}, {"--user", "user_id"}, {"--env", "environment"}};
    static const struct { const char *opt, *field; } counts[] = {
        {"--rpm", "rpm"}, {"--tpm", "tpm"}, {"--concurrency", "max_concurrency"},
        {"--max-concurrency", "max_concurrency"}};
    static const struct { const char *opt, *field; } usds[] = {
        {"--budget-day", "budget_usd_day"}, {"--budget-month", "budget_usd_month"}};
    for (size_t i = 0; i < MG_ARRAY_LEN(texts); i++)
        if (!strcmp(opt, texts[i].opt)) {
            json_object_set_new(body, texts[i].field,
                                strcmp(v, "none") || i == 0 ? json_string(v) : json_null());
            return 1;
        }
    for (size_t i = 0; i < MG_ARRAY_LEN(counts); i++)
        if (!strcmp(opt, counts[i].opt))
            return parse_count(opt, v, body, counts[i].field) == MG_OK ? 1 : -1;
    for (size_t i = 0; i < MG_ARRAY_LEN(usds); i++)
        if (!strcmp(opt, usds[i].opt))
            return parse_usd(opt, v, body, usds[i].field) == MG_OK ? 1 : -1;
    if (!strcmp(opt, "--models"))
        return parse_models(v, body) == MG_OK ? 1 : -1;
    if (!strcmp(opt, "--expires"))
        return parse_expires(v, body) == MG_OK ? 1 : -1;
    if (!strcmp(opt, "--metadata"))
        return parse_metadata(v, body) == MG_OK ? 1 : -1;
    return 0;
}

/* ---- printing ----------------------------------------------------------- */

static const char *str_or_dash(json_t *v) { return json_is_string(v) ? json_string_value(v) : "-"; }

static void money(json_t *spent, json_t *budget, char *out, size_t len)
{
    if (json_is_number(budget))
        snprintf(out, len, "$%.2f/$%.2f", json_number_value(spent), json_number_value(budget));
    else
        snprintf(out, len, "$%.2f", json_number_value(spent));
}

static void limits_text(json_t *key, char *out, size_t len)
{
    static const char *const fields[] = {"rpm", "tpm", "max_concurrency"};
    static const char *const units[] = {"rpm", "tpm", "conc"};
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(key, fields[i]);
        if (json_is_integer(v) && used < len)
            used += (size_t)snprintf(out + used, len - used, "%s%lld %s", used ? " " : "",
                                     (long long)json_integer_value(v), units[i]);
    }
    if (!out[0])
        snprintf(out, len, "-");
}

/* Display width of UTF-8 text (the prefix ends in an ellipsis). */
static int width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

#define NCOLS 8
static void print_row(char cells[NCOLS][160], const int *w)
{
    for (int c = 0; c < NCOLS; c++)
        printf("%s%*s", cells[c], c < NCOLS - 1 ? w[c] - width(cells[c]) + 2 : 0, "");
    printf("\n");
}

static void row_cells(json_t *key, char cells[NCOLS][160])
{
    json_t *usage = json_object_get(key, "usage");
    snprintf(cells[0], 160, "%s", str_or_dash(json_object_get(key, "name")));
    snprintf(cells[1], 160, "%s", str_or_dash(json_object_get(key, "prefix")));
    snprintf(cells[2], 160, "%s", str_or_dash(json_object_get(key, "status")));
    snprintf(cells[3], 160, "%s", str_or_dash(json_object_get(key, "user_id")));
    limits_text(key, cells[4], 160);
    money(json_object_get(usage, "spent_usd_day"), json_object_get(key, "budget_usd_day"),
          cells[5], 160);
    money(json_object_get(usage, "spent_usd_month"), json_object_get(key, "budget_usd_month"),
          cells[6], 160);
    snprintf(cells[7], 160, "%s", str_or_dash(json_object_get(key, "id")));
}

static void print_table(json_t *answer)
{
    json_t *keys = json_object_get(answer, "keys");
    printf("auth: %s\n", json_is_true(json_object_get(answer, "auth_required"))
                             ? "keys required"
                             : "open (keys optional)");
    if (json_array_size(keys) == 0) {
        printf("no keys yet: moongate keys create NAME\n");
        return;
    }
    char cells[NCOLS][160] = {"NAME", "KEY", "STATUS", "USER", "LIMITS", "TODAY", "MONTH", "ID"};
    int w[NCOLS];
    for (int c = 0; c < NCOLS; c++)
        w[c] = width(cells[c]);
    size_t i;
    json_t *key;
    json_array_foreach(keys, i, key) {
        char row[NCOLS][160];
        row_cells(key, row);
        for (int c = 0; c < NCOLS; c++)
            w[c] = MG_MAX(w[c], width(row[c]));
    }
    print_row(cells, w);
    json_array_foreach(keys, i, key) {
        row_cells(key, cells);
        print_row(cells, w);
    }
}

static void print_key(json_t *key)
{
    char cells[NCOLS][160];
    row_cells(key, cells);
    json_t *models = json_object_get(key, "models");
    printf("name:     %s\nid:       %s\nkey:      %s\nstatus:   %s\nuser:     %s\n"
           "env:      %s\nlimits:   %s\ntoday:    %s\nmonth:    %s\nexpires:  %s\n",
           cells[0], cells[7], cells[1], cells[2], cells[3],
           str_or_dash(json_object_get(key, "environment")), cells[4], cells[5], cells[6],
           json_is_string(json_object_get(key, "expires_at"))
               ? json_string_value(json_object_get(key, "expires_at"))
               : "never");
    printf("models:   ");
    if (!json_is_array(models))
        printf("all");
    for (size_t i = 0; i < json_array_size(models); i++)
        printf("%s%s", i ? ", " : "", json_string_value(json_array_get(models, i)));
    printf("\n");
}

static void print_secret(json_t *answer, const char *what)
{
    json_t *key = json_object_get(answer, "key");
    const char *secret = json_string_value(json_object_get(answer, "secret"));
    printf("%s key '%s' (id %s)\n\n", what, str_or_dash(json_object_get(key, "name")),
           str_or_dash(json_object_get(key, "id")));
    printf("  %s\n\n", secret ? secret : "?");
    printf("This secret is shown once: moongate keeps only its hash. Clients send it as\n"
           "'Authorization: Bearer <secret>' (or x-api-key / x-goog-api-key).\n");
}

/* ---- commands ----------------------------------------------------------- */

typedef struct cli_args {
    const char *cmd;
    const char *target; /* ID|NAME */
    json_t *body;       /* limits given */
} cli_args;

static int parse_args(int argc, char **argv, mg_keys_cli *c, cli_args *a)
{
    for (int i = 2; i < argc; i++) {
        const char *opt = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(opt, "--json")) {
            c->json = 1;
            continue;
        }
        if (opt[0] != '-') {
            if (a->target) {
                fprintf(stderr, "moongate keys: one key at a time ('%s' and '%s')\n", a->target, opt);
                return MG_ERR;
            }
            a->target = opt;
            continue;
        }
        if (!v) {
            fprintf(stderr, "moongate keys: %s needs a value\n\n%s", opt, mg_keys_cli_usage);
            return MG_ERR;
        }
        i++;
        if (!strcmp(opt, "--url"))
            snprintf(c->url, sizeof c->url, "%s", v);
        else if (!strcmp(opt, "--token"))
            snprintf(c->token, sizeof c->token, "%s", v);
        else if (!strcmp(opt, "-c") || !strcmp(opt, "--config"))
            c->config_path = v;
        else {
            int r = limit_option(opt, v, a->body);
            if (r < 0)
                return MG_ERR;
            if (r == 0) {
                fprintf(stderr, "moongate keys: unknown option '%s'\n\n%s", opt, mg_keys_cli_usage);
                return MG_ERR;
            }
        }
    }
    return MG_OK;
}

static void key_path(const char *target, const char *action, char *out, size_t len)
{
    char *esc = curl_easy_escape(NULL, target, 0);
    snprintf(out, len, "/api/keys/%s%s%s", esc ? esc : "", action ? "/" : "", action ? action : "");
    curl_free(esc);
}

static int run(const mg_keys_cli *c, cli_args *a)
{
    const char *cmd = a->cmd;
    int needs_target = strcmp(cmd, "list") != 0 && strcmp(cmd, "create") != 0;
    if (!strcmp(cmd, "create") && a->target && !json_object_get(a->body, "name"))
        json_object_set_new(a->body, "name", json_string(a->target));
    if (needs_target && !a->target) {
        fprintf(stderr, "moongate keys %s: which key? give its id or name\n", cmd);
        return 2;
    }
    if (!strcmp(cmd, "create") && !json_object_get(a->body, "name")) {
        fprintf(stderr, "moongate keys create: give the key a name: moongate keys create NAME\n");
        return 2;
    }
    char path[600];
    const char *method = "GET";
    char *body = NULL;
    if (!strcmp(cmd, "list") || !strcmp(cmd, "create")) {
        snprintf(path, sizeof path, "/api/keys");
        method = !strcmp(cmd, "create") ? "POST" : "GET";
    } else if (!strcmp(cmd, "show") || !strcmp(cmd, "update")) {
        key_path(a->target, NULL, path, sizeof path);
        method = !strcmp(cmd, "update") ? "PATCH" : "GET";
    } else {
        key_path(a->target, cmd, path, sizeof path);
        method = "POST";
    }
    if (!strcmp(method, "POST") || !strcmp(method, "PATCH"))
        body = json_dumps(a->body, JSON_COMPACT);
    json_t *answer = NULL;
    int rc = mg_keys_cli_call(c, method, path, body, &answer);
    free(body);
    if (rc != MG_OK)
        return 1;
    if (c->json) {
        char *text = json_dumps(answer, JSON_INDENT(2));
        printf("%s\n", text ? text : "null");
        free(text);
    } else if (!strcmp(cmd, "list")) {
        print_table(answer);
    } else if (!strcmp(cmd, "create") || !strcmp(cmd, "rotate")) {
        print_secret(answer, !strcmp(cmd, "create") ? "created" : "rotated");
    } else if (!strcmp(cmd, "revoke")) {
        printf("revoked key '%s' (id %s): requests with it are refused from now on\n",
               str_or_dash(json_object_get(answer, "name")),
               str_or_dash(json_object_get(answer, "id")));
    } else {
        print_key(answer);
    }
    json_decref(answer);
    return 0;
}

static int known_command(const char *cmd)
{
    static const char *const cmds[] = {"list", "create", "show", "update", "revoke", "rotate"};
    for (size_t i = 0; i < MG_ARRAY_LEN(cmds); i++)
        if (!strcmp(cmd, cmds[i]))
            return 1;
    return 0;
}

int mg_keys_cli_main(int argc, char **argv, const char *home)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "help")) {
        fputs(mg_keys_cli_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!known_command(argv[1])) {
        fprintf(stderr, "moongate keys: unknown command '%s'\n\n%s", argv[1], mg_keys_cli_usage);
        return 2;
    }
    mg_keys_cli c = {0};
    cli_args a = {.cmd = argv[1], .body = json_object()};
    int rc = 2;
    if (parse_args(argc, argv, &c, &a) != MG_OK)
        goto done;
    if (a.target && (!strcmp(a.cmd, "list"))) {
        fprintf(stderr, "moongate keys list: takes no key ('%s')\n", a.target);
        goto done;
    }
    if (json_object_size(a.body) && strcmp(a.cmd, "create") && strcmp(a.cmd, "update")) {
        fprintf(stderr, "moongate keys %s: limits go with create or update\n", a.cmd);
        goto done;
    }
    if (!strcmp(a.cmd, "update") && json_object_size(a.body) == 0) {
        fprintf(stderr, "moongate keys update: nothing to change (e.g. --rpm 60)\n");
        goto done;
    }
    rc = 1;
    if (mg_keys_cli_target(&c, home) != MG_OK)
        goto done;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = run(&c, &a);
    curl_global_cleanup();
done:
    json_decref(a.body);
    return rc;
}
