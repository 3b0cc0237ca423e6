/* report.c — a what-if report as JSON (the API) and as the table the CLI
 * prints. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "whatif.h"

static double share(long part, long whole) { return whole > 0 ? (double)part / (double)whole : 0; }

static void json_model(const mg_whatif_model *m, mg_buf *out)
{
    mg_buf_append_str(out, "{\"model\":");
    mg_buf_append_json_str(out, m->model, strlen(m->model));
    mg_buf_printf(out, ",\"requests\":%ld,\"moved\":%ld,\"share_moved\":%.6f,\"old_cost\":%.10g,"
                       "\"new_cost\":%.10g,\"saving\":%.10g,\"top_target\":",
                  m->requests, m->moved, share(m->moved, m->requests), m->old_cost, m->new_cost,
                  m->old_cost - m->new_cost);
    if (m->top_target)
        mg_buf_append_json_str(out, m->top_target, strlen(m->top_target));
    else
        mg_buf_append_str(out, "null");
    mg_buf_append_str(out, "}");
}

void mg_whatif_report_json(const mg_whatif_report *r, mg_buf *out)
{
    mg_buf_printf(out, "{\"from_ms\":%lld,\"to_ms\":%lld,\"requests\":%ld,\"moved\":%ld,"
                       "\"share_moved\":%.6f,\"old_cost\":%.10g,\"new_cost\":%.10g,"
                       "\"saving\":%.10g,\"refused\":%ld,\"errors\":%ld,\"unpriced\":%ld,"
                       "\"seconds\":%.3f,\"first_error\":",
                  (long long)r->from_ms, (long long)r->to_ms, r->requests, r->moved,
                  share(r->moved, r->requests), r->old_cost, r->new_cost,
                  r->old_cost - r->new_cost, r->refused, r->errors, r->unpriced, r->seconds);
    if (r->first_error[0])
        mg_buf_append_json_str(out, r->first_error, strlen(r->first_error));
    else
        mg_buf_append_str(out, "null");
    mg_buf_append_str(out, ",\"models\":[");
    for (size_t i = 0; i < r->nmodels; i++) {
        if (i)
            mg_buf_append_str(out, ",");
        json_model(&r->models[i], out);
    }
    mg_buf_append_str(out, "]}");
}

static void utc(int64_t ms, char *out, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%d %H:%M", &tm);
}

static void line(mg_buf *out, const char *model, long req, long moved, double oldc, double newc,
                 const char *to)
{
    mg_buf_printf(out, "%-32.32s %9ld %8ld %6.1f%% %12.4f %12.4f %12.4f  %s\n", model, req, moved,
                  100.0 * share(moved, req), oldc, newc, oldc - newc, to ? to : "");
}

void mg_whatif_report_text(const mg_whatif_report *r, mg_buf *out)
{
    char from[32], to[32];
    utc(r->from_ms, from, sizeof from);
    utc(r->to_ms, to, sizeof to);
    mg_buf_printf(out, "period %s .. %s UTC: %ld requests replayed in %.2f s\n", from, to,
                  r->requests, r->seconds);
    mg_buf_printf(out, "moved %ld (%.1f%%), refused %ld, hook errors %ld%s%s\n\n", r->moved,
                  100.0 * share(r->moved, r->requests), r->refused, r->errors,
                  r->first_error[0] ? ", first: " : "", r->first_error);
    mg_buf_printf(out, "%-32s %9s %8s %7s %12s %12s %12s  %s\n", "model", "requests", "moved",
                  "share", "old USD", "new USD", "saving", "moved mostly to");
    for (size_t i = 0; i < r->nmodels; i++) {
        const mg_whatif_model *m = &r->models[i];
        line(out, m->model, m->requests, m->moved, m->old_cost, m->new_cost, m->top_target);
    }
    line(out, "total", r->requests, r->moved, r->old_cost, r->new_cost, NULL);
    if (r->unpriced)
        mg_buf_printf(out, "\n%ld moved request(s) went to models without a price; their "
                           "recorded cost was kept.\n", r->unpriced);
}
