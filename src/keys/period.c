/* period.c — budgets over UTC days and months: which period a time falls
 * in, rolling spend over when a period ends, the admission check with its
 * message, and the warning thresholds. Callers hold the owner's lock. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define DAY_MS 86400000LL
/* Sums of float cents drift by far less than this; without it, 100 ×
 * $0.01 could sit a hair under a $1.00 budget and never reach it. */
#define USD_EPSILON 1e-9

int64_t mg_keys_day_of(int64_t ms)
{
    return ms >= 0 ? ms / DAY_MS : -((-ms + DAY_MS - 1) / DAY_MS);
}

int64_t mg_keys_month_of(int64_t ms)
{
    time_t t = (time_t)(mg_keys_day_of(ms) * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    return (int64_t)(tm.tm_year + 1900) * 12 + tm.tm_mon;
}

int64_t mg_keys_day_start_ms(int64_t day) { return day * DAY_MS; }

int64_t mg_keys_month_start_ms(int64_t month)
{
    struct tm tm = {0};
    tm.tm_year = (int)(month / 12) - 1900;
    tm.tm_mon = (int)(month % 12);
    tm.tm_mday = 1;
    return (int64_t)timegm(&tm) * 1000;
}

void mg_keys_iso_time(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void mg_keys_spend_roll(mg_keys_spend *s, int64_t now_ms)
{
    int64_t day = mg_keys_day_of(now_ms), month = mg_keys_month_of(now_ms);
    if (s->day != day) {
        s->day = day;
        s->day_spent = 0;
        s->day_fired = 0;
    }
    if (s->month != month) {
        s->month = month;
        s->month_spent = 0;
        s->month_fired = 0;
    }
}

static int reached(double spent, double amount) { return spent >= amount - USD_EPSILON; }

/* Cents, or for amounts under a cent as many decimals as they need (up
 * to a millionth): "$5.00", "$0.0005", "$0.000014". */
static void usd(double v, char out[32])
{
    if (!(v >= 0.01 || v <= 0)) {
        snprintf(out, 32, "$%.6f", v);
        size_t n = strlen(out);
        while (n > 5 && out[n - 1] == '0') /* keep "$0.00" at least */
            out[--n] = '\0';
        return;
    }
    snprintf(out, 32, "$%.2f", v > 0 ? v : 0.0);
}

typedef struct period_view {
    const char *label;     /* "daily" | "monthly" */
    char reset[48];        /* "at 00:00 UTC" | "on 2025-08-01 at 00:00 UTC" */
    int seconds_to_reset;
} period_view;

static void view_day(int64_t now_ms, period_view *v)
{
    int64_t end = mg_keys_day_start_ms(mg_keys_day_of(now_ms) + 1);
    v->label = "daily";
    snprintf(v->reset, sizeof v->reset, "at 00:00 UTC");
    v->seconds_to_reset = (int)((end - now_ms + 999) / 1000);
}

static void view_month(int64_t now_ms, period_view *v)
{
    int64_t end = mg_keys_month_start_ms(mg_keys_month_of(now_ms) + 1);
    char iso[32];
    mg_keys_iso_time(end, iso);
    v->label = "monthly";
    snprintf(v->reset, sizeof v->reset, "on %.10s at 00:00 UTC", iso);
    v->seconds_to_reset = (int)((end - now_ms + 999) / 1000);
}

static int check_period(double spent, double reserved, double budget, double est,
                        const period_view *v, const char *who, char *msg, size_t len,
                        int *retry_after)
{
    if (budget <= 0)
        return MG_OK;
    char b[32], left_s[32], est_s[32];
    usd(budget, b);
    if (reached(spent, budget)) {
        snprintf(msg, len, "%s reached its %s %s budget; resets %s", who, b, v->label, v->reset);
        *retry_after = v->seconds_to_reset;
        return MG_ERR;
    }
    if (spent + reserved + est <= budget + USD_EPSILON)
        return MG_OK;
    usd(est, est_s);
    if (spent + est > budget + USD_EPSILON) {
        usd(budget - spent, left_s);
        snprintf(msg, len,
                 "%s has %s left of its %s %s budget and this request may cost up to %s; "
                 "lower max_tokens or wait for the reset %s",
                 who, left_s, b, v->label, est_s, v->reset);
        *retry_after = v->seconds_to_reset;
        return MG_ERR;
    }
    /* It would fit once requests in flight settle below their worst case. */
    usd(MG_MAX(0.0, budget - spent - reserved), left_s);
    snprintf(msg, len,
             "%s has %s of its %s %s budget left after the requests in flight, and this "
             "request may cost up to %s; retry when they finish",
             who, left_s, b, v->label, est_s);
    *retry_after = 1;
    return MG_ERR;
}

int mg_keys_budget_check(const mg_keys_spend *s, double budget_day, double budget_month,
                         double est, int64_t now_ms, const char *who, char *msg, size_t len,
                         int *retry_after)
{
    /* The views (calendar arithmetic and text) are only built for a budget
     * that exists: most keys have none, and this runs on every request. */
    period_view view;
    if (est < 0)
        est = 0;
    if (budget_day > 0) {
        view_day(now_ms, &view);
        if (check_period(s->day_spent, s->reserved, budget_day, est, &view, who, msg, len,
                         retry_after) != MG_OK)
            return MG_ERR;
    }
    if (budget_month <= 0)
        return MG_OK;
    view_month(now_ms, &view);
    return check_period(s->month_spent, s->reserved, budget_month, est, &view, who, msg, len,
                        retry_after);
}

static void add_warning(const char *scope, const char *period, double threshold, double spent,
                        double budget, int64_t start, int64_t end, const struct mg_key *key,
                        mg_keys_pending *p, int *np)
{
    if (*np >= MG_KEYS_MAX_PENDING)
        return;
    mg_keys_pending *w = &p[(*np)++];
    memset(w, 0, sizeof *w);
    w->ev.scope = scope;
    w->ev.period = period;
    w->ev.threshold = threshold;
    w->ev.spent = spent;
    w->ev.budget = budget;
    w->ev.period_start_ms = start;
    w->ev.period_end_ms = end;
    if (key) {
        memcpy(w->key_id, key->id, sizeof w->key_id);
        memcpy(w->key_name, key->name, sizeof w->key_name);
        memcpy(w->user_id, key->user_id, sizeof w->user_id);
    }
}

static void warn_period(double spent, double budget, unsigned *fired, const double *th, int nth,
                        const char *scope, const char *period, int64_t start, int64_t end,
                        const struct mg_key *key, mg_keys_pending *p, int *np)
{
    if (budget <= 0)
        return;
    for (int i = 0; i < nth; i++) {
        unsigned bit = 1u << i;
        if ((*fired & bit) || !reached(spent, th[i] * budget))
            continue;
        *fired |= bit;
        add_warning(scope, period, th[i], spent, budget, start, end, key, p, np);
    }
}

void mg_keys_spend_warnings(mg_keys_spend *s, double budget_day, double budget_month,
                            const double *thresholds, int nthresholds, const char *scope,
                            const struct mg_key *key, mg_keys_pending *p, int *np)
{
    warn_period(s->day_spent, budget_day, &s->day_fired, thresholds, nthresholds, scope, "day",
                mg_keys_day_start_ms(s->day), mg_keys_day_start_ms(s->day + 1), key, p, np);
    warn_period(s->month_spent, budget_month, &s->month_fired, thresholds, nthresholds, scope,
                "month", mg_keys_month_start_ms(s->month), mg_keys_month_start_ms(s->month + 1),
                key, p, np);
}

void mg_keys_spend_mark_reached(mg_keys_spend *s, double budget_day, double budget_month,
                                const double *thresholds, int nthresholds)
{
    for (int i = 0; i < nthresholds; i++) {
        if (budget_day > 0 && reached(s->day_spent, thresholds[i] * budget_day))
            s->day_fired |= 1u << i;
        if (budget_month > 0 && reached(s->month_spent, thresholds[i] * budget_month))
            s->month_fired |= 1u << i;
    }
}
