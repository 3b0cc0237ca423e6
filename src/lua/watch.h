/* watch.h — notices edits of the policies folder and the config file and
 * calls back once per real change. inotify on the policies folder and on the
 * config file's folder (filtered to its name) on a given libev loop (the
 * main thread's control loop), debounced by 100 ms; a combined SHA-256 of
 * every policies/NAME.lua file and the config file is compared with the last
 * one, so saving an unchanged file does not reload. Uses libev, inotify and
 * policy_files.h. */
#ifndef MG_LUA_WATCH_H
#define MG_LUA_WATCH_H

#include <ev.h>

typedef struct mg_lua_watch mg_lua_watch;

/* config_path may be NULL (bundled config: nothing to watch). Returns NULL
 * when inotify cannot be set up (err filled). changed runs on loop. */
mg_lua_watch *mg_lua_watch_start(struct ev_loop *loop, const char *policies_dir,
                                 const char *config_path, void (*changed)(void *ud), void *ud,
                                 char *err, size_t errlen);
/* Debounce delay in seconds (default 0.1). */
void mg_lua_watch_set_delay(mg_lua_watch *w, double seconds);
/* Record the current content as seen (after a reload the caller did for
 * another reason, e.g. SIGHUP), so the next event compares against it. */
void mg_lua_watch_rehash(mg_lua_watch *w);
void mg_lua_watch_stop(mg_lua_watch *w); /* stops and frees */

#endif
