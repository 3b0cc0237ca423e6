/* cli.c — `moongate whatif POLICY.lua [--since 7d] [--db PATH] [-c CONFIG]
 * [--json]`: load the config (prices, providers), replay, print. Progress
 * goes to stderr: a live counter on a terminal, a line per 10% otherwise. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../core/log.h"
#include "whatif.h"

static const char usage[] =
    "usage: moongate whatif POLICY.lua [--since 7d] [--db PATH] [-c CONFIG] [--json]\n"
    "  replays the recorded requests of the period (default 7d; s, m, h, d, w) through\n"
    "  POLICY.lua's route() and reports per model the requests moved, old and new cost,\n"
    "  saving and share moved. Nothing is sent to any provider.\n";

typedef struct progress {
    int tty;
    int last_decile;
    double last_print;
} progress;

static int on_progress(void *ud, long done, long total)
{
    progress *p = ud;
    double now = mg_now_mono();
    if (p->tty) {
        if (now - p->last_print >= 0.2 || done == total) {
            fprintf(stderr, "\rreplaying %ld/%ld (%.0f%%)", done, total,
                    total ? 100.0 * (double)done / (double)total : 100.0);
            p->last_print = now;
        }
        return 0;
    }
    int decile = total ? (int)(10 * done / total) : 10;
    if (decile > p->last_decile) {
        fprintf(stderr, "replayed %ld/%ld (%d%%)\n", done, total, decile * 10);
        p->last_decile = decile;
    }
    return 0;
}

int mg_whatif_main(int argc, char **argv, const char *home)
{
    const char *policy = NULL, *since = "7d", *db = NULL, *config = NULL;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--since") && v)
            since = v, i++;
        else if (!strcmp(a, "--db") && v)
            db = v, i++;
        else if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && v)
            config = v, i++;
        else if (!strcmp(a, "--json"))
            as_json = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (a[0] != '-' && !policy)
            policy = a;
        else {
            fprintf(stderr, "moongate whatif: unknown or incomplete option '%s'\n\n%s", a, usage);
            return 2;
        }
    }
    double seconds = 0;
    if (!policy || mg_whatif_parse_since(since, &seconds) != MG_OK) {
        fprintf(stderr, "%s%s", policy ? "moongate whatif: --since wants e.g. 7d, 24h, 90m\n\n" : "",
                usage);
        return 2;
    }
    char err[8192] = "";
    mg_config *cfg = mg_config_load(config, home, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "moongate whatif: %s\n", err);
        return 1;
    }
    progress p = {.tty = isatty(2), .last_decile = 0};
    mg_whatif_opts o = {.cfg = cfg, .db_path = db, .policy_path = policy,
                        .since_seconds = seconds, .progress = on_progress, .progress_ud = &p};
    mg_whatif_report rep;
    int rc = mg_whatif_run(&o, &rep, err, sizeof err);
    if (p.tty && p.last_print > 0)
        fputc('\n', stderr);
    if (rc != MG_OK) {
        fprintf(stderr, "moongate whatif: %s\n", err);
        mg_config_free(cfg);
        return 1;
    }
    mg_buf out = {0};
    if (as_json) {
        mg_whatif_report_json(&rep, &out);
        mg_buf_append_str(&out, "\n");
    } else {
        mg_buf_printf(&out, "what-if: %s over the last %s\n", policy, since);
        mg_whatif_report_text(&rep, &out);
    }
    fwrite(out.data, 1, out.len, stdout);
    mg_buf_free(&out);
    mg_whatif_report_free(&rep);
    mg_config_free(cfg);
    return 0;
}
