/* seed.c — after a restart the metrics ring is empty, so a rule over
 * cost_per_day would read zero until a day passed. At start the database
 * thread folds rollup_minute (schema/002_rollups.sql) of the last 31 days
 * into the ring's hour slots (by provider, model_routed, key_id, status,
 * environment; minutes before the engine started, so nothing counts
 * twice). Windows past the last hour read those slots. */
#include <sqlite3.h>
#include <stdlib.h>

#include "../core/log.h"
#include "al-t.h"

typedef struct seed_job {
    mg_al_ring *ring;   /* outlives the database thread */
    int64_t before_minute;
} seed_job;

static void seed_row(mg_al_ring *ring, sqlite3_stmt *st)
{
    const char *labels[MG_AL_NLABELS] = {0};
    labels[MG_AL_L_PROVIDER] = (const char *)sqlite3_column_text(st, 1);
    labels[MG_AL_L_MODEL_ROUTED] = (const char *)sqlite3_column_text(st, 2);
    labels[MG_AL_L_KEY_ID] = (const char *)sqlite3_column_text(st, 3);
    labels[MG_AL_L_STATUS] = (const char *)sqlite3_column_text(st, 4);
    labels[MG_AL_L_ENVIRONMENT] = (const char *)sqlite3_column_text(st, 5);
    for (int l = 0; l < MG_AL_NLABELS; l++)
        if (labels[l] && !labels[l][0])
            labels[l] = NULL; /* rollups store '' for none */
    static const char *const fields[] = {"tokens_input",       "tokens_output",
                                         "tokens_reasoning",   "tokens_cached_read",
                                         "tokens_cache_write", "cost",
                                         "savings",            "duration_ms",
                                         "ttft_ms"};
    double sums[MG_AL_MAX_NUM] = {0};
    for (size_t i = 0; i < MG_ARRAY_LEN(fields); i++) {
        int k = mg_al_num_of(fields[i]);
        if (k >= 0)
            sums[k] = sqlite3_column_double(st, 8 + (int)i);
    }
    int total = mg_al_num_of("tokens_total");
    if (total >= 0)
        sums[total] = sqlite3_column_double(st, 8) + sqlite3_column_double(st, 9);
    mg_al_ring_seed_hour(ring, sqlite3_column_int64(st, 0) * 3600000LL, labels,
                         (uint64_t)sqlite3_column_int64(st, 6),
                         (uint64_t)sqlite3_column_int64(st, 7), sums);
}

static void seed_run(sqlite3 *db, void *ud)
{
    seed_job *j = ud;
    static const char sql[] =
        "SELECT minute / 60, provider, model, key_id, status, environment, SUM(requests), "
        "SUM(errors), SUM(tokens_input), SUM(tokens_output), SUM(tokens_reasoning), "
        "SUM(tokens_cached_read), SUM(tokens_cache_write), SUM(cost), SUM(savings), "
        "SUM(duration_ms_sum), SUM(ttft_ms_sum) FROM rollup_minute "
        "WHERE minute >= ? AND minute < ? GROUP BY 1, 2, 3, 4, 5, 6";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        mg_warn("alerts: cannot read rollups for the metrics ring: %s", sqlite3_errmsg(db));
        return;
    }
    sqlite3_bind_int64(st, 1, j->before_minute - 31 * 24 * 60);
    sqlite3_bind_int64(st, 2, j->before_minute);
    long n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        seed_row(j->ring, st);
        n++;
    }
    sqlite3_finalize(st);
    if (n)
        mg_debug("alerts: metrics ring seeded with %ld hourly series", n);
}

static void seed_done(void *ud, int cancelled)
{
    MG_UNUSED(cancelled);
    free(ud);
}

void mg_al_seed_ring(mg_alerts *a)
{
    seed_job *j = mg_xcalloc(1, sizeof *j);
    j->ring = a->ring;
    j->before_minute = mg_now_wall_ms() / 60000;
    if (mg_al_submit(a, seed_run, seed_done, j) != MG_OK)
        free(j);
}
