/* provider_state.c — providers an operator disabled survive restarts: the
 * names live in a small file next to the database, read at start and
 * rewritten by the main thread (never a worker loop) after each change. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../proxy/breaker.h"
#include "gateway.h"

static void state_path(const mg_gateway *gw, char *out, size_t len)
{
    char db[1024];
    snprintf(db, sizeof db, "%s", gw->cfg->cfg->db);
    snprintf(out, len, "%s/disabled_providers", dirname(db));
}

void mg_provider_state_load(mg_gateway *gw)
{
    char path[1100];
    state_path(gw, path, sizeof path);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (*line) {
            mg_breaker_set_disabled(gw->breakers, line, 1);
            mg_info("provider '%s' stays disabled (POST /api/providers/%s/enable)", line, line);
        }
    }
    fclose(f);
}

static void save(mg_gateway *gw)
{
    char path[1100], tmp[1110];
    state_path(gw, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    mg_buf list = {0};
    mg_breaker_disabled_list(gw->breakers, &list);
    FILE *f = fopen(tmp, "w");
    if (!f || fwrite(list.data ? list.data : "", 1, list.len, f) != list.len || fclose(f) != 0 ||
        rename(tmp, path) != 0)
        mg_warn("cannot save disabled providers to %s", path);
    mg_buf_free(&list);
}

static void on_persist(struct ev_loop *loop, ev_async *a, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    save(a->data);
}

void mg_provider_state_watch(mg_gateway *gw)
{
    ev_async_init(&gw->persist_async, on_persist);
    gw->persist_async.data = gw;
    ev_async_start(gw->main_loop, &gw->persist_async);
}

void mg_provider_state_changed(mg_gateway *gw)
{
    ev_async_send(gw->main_loop, &gw->persist_async);
}
