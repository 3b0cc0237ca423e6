/* static.h — the dashboard's files, read into memory once at start (on the
 * main thread) so serving them never touches the disk on a loop. Immutable
 * after load, so every worker reads it without locks. */
#ifndef MG_STATIC_H
#define MG_STATIC_H

#include <stddef.h>

#include "../net/http.h"

typedef struct mg_static mg_static;

/* Load every file under dir (bounded: 4 levels, 16 MiB). NULL when dir
 * does not exist. */
mg_static *mg_static_load(const char *dir);
void mg_static_free(mg_static *s);
/* Serve req (path below the mount, e.g. "/" or "/js/app.js"). */
void mg_static_serve(const mg_static *s, mg_http_req *req, const char *subpath);

#endif
