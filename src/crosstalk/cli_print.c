/* cli_print.c — how `moongate crosstalk` shows a session: a header with
 * the participants, each turn's text as it streams under the speaker's
 * name (a colour per participant on a terminal), a status line after each
 * turn (round x/y, elapsed, tokens, cost, estimated final cost) and the
 * outcome. With --json every event is printed as one JSON line instead.
 * Notes go to stderr so stdout stays the conversation. Uses jansson. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *const palette[] = {"\033[1;36m", "\033[1;35m", "\033[1;33m",
                                      "\033[1;32m", "\033[1;34m", "\033[1;31m"};
#define DIM "\033[2m"
#define BOLD "\033[1m"
#define RESET "\033[0m"

static const char *style(const ct_cli *c, const char *code) { return c->color ? code : ""; }

static const char *str(json_t *o, const char *k, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : dflt;
}

static double num(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

/* Colour of a participant: its position in the preset. */
static const char *speaker_color(const ct_cli *c, const char *id)
{
    json_t *list = json_object_get(c->created, "participants");
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) {
        if (!strcmp(str(p, "id", ""), id))
            return style(c, palette[i % (sizeof palette / sizeof *palette)]);
    }
    return style(c, BOLD);
}

static void end_line(ct_cli *c)
{
    if (c->mid_line)
        fputc('\n', stdout);
    c->mid_line = 0;
}

void ct_cli_note(ct_cli *c, const char *fmt, ...)
{
    end_line(c);
    fflush(stdout);
    va_list ap;
    va_start(ap, fmt);
    fprintf(c->err, "%s", style(c, DIM));
    vfprintf(c->err, fmt, ap);
    fprintf(c->err, "%s\n", style(c, RESET));
    va_end(ap);
}

/* 12345 → "12,345" */
static void thousands(long long v, char *out, size_t n)
{
    char raw[32];
    snprintf(raw, sizeof raw, "%lld", v < 0 ? -v : v);
    size_t len = strlen(raw), o = 0;
    if (v < 0 && o + 1 < n)
        out[o++] = '-';
    for (size_t i = 0; i < len && o + 2 < n; i++) {
        if (i && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = raw[i];
    }
    out[o] = '\0';
}

static void rounds_text(json_t *ev, int round, char *out, size_t n)
{
    json_t *rounds = json_object_get(ev, "rounds");
    if (json_is_integer(rounds))
        snprintf(out, n, "round %d/%lld", round, (long long)json_integer_value(rounds));
    else
        snprintf(out, n, "round %d", round);
}

void ct_cli_print_header(ct_cli *c)
{
    json_t *a = c->created;
    if (c->json) {
        json_t *o = json_deep_copy(a);
        json_object_set_new(o, "type", json_string("created"));
        char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(12));
        printf("%s\n", text ? text : "{}");
        free(text);
        json_decref(o);
        fflush(stdout);
        return;
    }
    printf("%scrosstalk %s%s · %s on %s", style(c, BOLD), str(a, "name", c->name), style(c, RESET),
           str(a, "paradigm", "?"), str(a, "topology", "?"));
    if (json_is_integer(json_object_get(a, "rounds")))
    {
        long long rounds = json_integer_value(json_object_get(a, "rounds"));
        printf(" · %lld round%s", rounds, rounds == 1 ? "" : "s");
    }
    else
        printf(" · until stopped");
    if (json_is_number(json_object_get(a, "budget_usd")))
        printf(" · budget $%.4f", num(a, "budget_usd"));
    printf("\n%ssession %s%s\n", style(c, DIM), c->id, style(c, RESET));
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(a, "participants"), i, p) {
        const char *id = str(p, "id", "?");
        printf("  %s%-22s%s %s%s\n", speaker_color(c, id), str(p, "name", id), style(c, RESET),
               str(p, "model", "?"),
               json_is_false(json_object_get(p, "speaks_in_rotation")) ? "  (speaks at the end)" : "");
    }
    fflush(stdout);
}

static void print_turn_start(ct_cli *c, json_t *ev)
{
    end_line(c);
    const char *id = str(ev, "speaker", "?");
    int round = (int)num(ev, "round");
    if ((int)num(ev, "turn") == 1 && !json_is_true(json_object_get(ev, "retry"))) {
        char r[64];
        json_object_set(ev, "rounds", json_object_get(c->created, "rounds"));
        rounds_text(ev, round, r, sizeof r);
        printf("\n%s── %s ──%s\n", style(c, DIM), r, style(c, RESET));
    }
    printf("\n%s%s%s %s(%s)%s\n", speaker_color(c, id), str(ev, "name", id), style(c, RESET),
           style(c, DIM), str(ev, "model", "?"), style(c, RESET));
    snprintf(c->speaker, sizeof c->speaker, "%s", id);
    fflush(stdout);
}

static void print_tokens(ct_cli *c, json_t *ev)
{
    json_t *t = json_object_get(ev, "text");
    fwrite(json_string_value(t) ? json_string_value(t) : "", 1, json_string_length(t), stdout);
    if (json_string_length(t))
        c->mid_line = json_string_value(t)[json_string_length(t) - 1] != '\n';
    fflush(stdout);
}

static void print_status(ct_cli *c, json_t *ev)
{
    char r[64], tok[32];
    rounds_text(ev, (int)num(ev, "round"), r, sizeof r);
    thousands((long long)(num(ev, "tokens_input_total") + num(ev, "tokens_output_total")), tok,
              sizeof tok);
    printf("%s   %s · %.1fs · %s tokens · $%.6f", style(c, DIM), r, num(ev, "elapsed_s"), tok,
           num(ev, "cost_total"));
    if (json_is_integer(json_object_get(ev, "planned_turns")))
        printf(" · est. $%.6f", num(ev, "estimated_cost"));
    printf("%s\n", style(c, RESET));
}

static void print_turn_end(ct_cli *c, json_t *ev)
{
    end_line(c);
    if (strcmp(str(ev, "status", ""), "success") != 0)
        printf("%s   ✗ %s: %s%s\n", style(c, "\033[31m"), str(ev, "status", "error"),
               str(ev, "error", "failed"), style(c, RESET));
    print_status(c, ev);
    fflush(stdout);
}

static void print_state(ct_cli *c, json_t *ev)
{
    const char *state = str(ev, "state", "?");
    if (!strcmp(state, "paused") || !strcmp(state, "stepping") || !strcmp(state, "running"))
        ct_cli_note(c, "   [%s]", state);
}

static void print_end(ct_cli *c, json_t *ev)
{
    end_line(c);
    char tok[32];
    thousands((long long)(num(ev, "tokens_input_total") + num(ev, "tokens_output_total")), tok,
              sizeof tok);
    const char *state = str(ev, "state", "?");
    int bad = strcmp(state, "finished") != 0;
    printf("\n%s■ %s%s (%s): %s\n", style(c, bad ? "\033[1;31m" : BOLD), state, style(c, RESET),
           str(ev, "reason", "-"), str(ev, "detail", ""));
    int turns = (int)num(ev, "turns_done"), rounds = (int)num(ev, "rounds_done");
    printf("  %d turn%s · %d round%s · %.1fs · %s tokens · $%.6f · session %s\n", turns,
           turns == 1 ? "" : "s", rounds, rounds == 1 ? "" : "s", num(ev, "elapsed_s"), tok,
           num(ev, "cost_total"), c->id);
    fflush(stdout);
}

void ct_cli_print_event(ct_cli *c, json_t *ev)
{
    const char *type = str(ev, "type", "");
    if (c->json) {
        char *text = json_dumps(ev, JSON_COMPACT | JSON_REAL_PRECISION(12));
        printf("%s\n", text ? text : "{}");
        free(text);
        fflush(stdout);
        return;
    }
    if (!strcmp(type, "turn_start"))
        print_turn_start(c, ev);
    else if (!strcmp(type, "token"))
        print_tokens(c, ev);
    else if (!strcmp(type, "turn_end"))
        print_turn_end(c, ev);
    else if (!strcmp(type, "state"))
        print_state(c, ev);
    else if (!strcmp(type, "session_end"))
        print_end(c, ev);
}
