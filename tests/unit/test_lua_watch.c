/* test_lua_watch.c — the reload watcher: edits, renames and deletions of
 * policy files and edits of the config file each call back once (after the
 * debounce); saving identical content, editor temporaries and unrelated
 * files do not. */
#include <ev.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lua/watch.h"
#include "lua_test_util.h"
#include "test.h"

static int changes;

static void on_change(void *ud)
{
    MG_UNUSED(ud);
    changes++;
}

static void write_path(const char *dir, const char *name, const char *content)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(content, f);
    fclose(f);
}

static void stop_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    MG_UNUSED(t);
    MG_UNUSED(revents);
    ev_break(loop, EVBREAK_ONE);
}

/* Let the loop run for `secs` (events, debounce, callback). */
static void settle(struct ev_loop *loop, double secs)
{
    ev_timer t;
    ev_timer_init(&t, stop_cb, secs, 0);
    ev_timer_start(loop, &t);
    ev_run(loop, 0);
    ev_timer_stop(loop, &t);
}

static void test_watch(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "a.lua", "return {}\n");
    write_path(d.root, "moongate.lua", "return { workers = 1 }\n");
    char config[160];
    snprintf(config, sizeof config, "%s/moongate.lua", d.root);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    char err[MG_ERRLEN];
    mg_lua_watch *w = mg_lua_watch_start(loop, d.policies, config, on_change, NULL, err,
                                         sizeof err);
    CHECK(w != NULL);
    if (!w)
        return;
    mg_lua_watch_set_delay(w, 0.05);

    lt_write(&d, "a.lua", "return { route = function() return 'x' end }\n");
    lt_write(&d, "a.lua", "return { route = function() return 'y' end }\n"); /* burst */
    settle(loop, 0.3);
    CHECK_EQ_INT(changes, 1);

    lt_write(&d, "a.lua", "return { route = function() return 'y' end }\n"); /* no-op save */
    lt_write(&d, ".a.lua.swp", "junk");
    lt_write(&d, "notes.txt", "junk");
    write_path(d.root, "other.lua", "return 1\n"); /* beside the config, not it */
    settle(loop, 0.3);
    CHECK_EQ_INT(changes, 1);

    write_path(d.root, "moongate.lua", "return { workers = 2 }\n");
    settle(loop, 0.3);
    CHECK_EQ_INT(changes, 2);

    lt_write(&d, "b.lua.tmp", "return {}\n"); /* editor-style save: write, rename */
    char from[256], to[256];
    snprintf(from, sizeof from, "%s/b.lua.tmp", d.policies);
    snprintf(to, sizeof to, "%s/b.lua", d.policies);
    CHECK(rename(from, to) == 0);
    settle(loop, 0.3);
    CHECK_EQ_INT(changes, 3);

    CHECK(unlink(to) == 0);
    settle(loop, 0.3);
    CHECK_EQ_INT(changes, 4);

    /* after a reload done for another reason, the same content is not new */
    lt_write(&d, "a.lua", "return {}\n");
    mg_lua_watch_rehash(w);
    settle(loop, 0.3);
    CHECK_EQ_INT(changes, 4);

    mg_lua_watch_stop(w);
    ev_loop_destroy(loop);
    lt_dir_free(&d);
}

TEST_MAIN(T(test_watch))
