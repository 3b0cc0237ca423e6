/* reply.h — answering an admin request from another thread. The admin
 * handler runs on a worker loop; the engine answers from the main loop or
 * the database thread. A reply object is created on the worker (it starts
 * an ev_async on req->loop and takes req->ud / req->on_abort); any thread
 * then sends the answer once, which wakes the worker to write it. If the
 * client left first, the answer is dropped. Two owners share it (the
 * worker side and the sender) and the last one frees it. Uses libev,
 * pthreads, jansson, net/http.h. */
#ifndef MG_AL_REPLY_H
#define MG_AL_REPLY_H

#include <jansson.h>

#include "../net/http.h"

typedef struct mg_al_reply mg_al_reply;

/* Worker thread (req's loop). */
mg_al_reply *mg_al_reply_new(mg_http_req *req);
/* Any thread, exactly once per reply: the body is copied. */
void mg_al_reply_send(mg_al_reply *r, int status, const char *json, size_t len);
/* Same with a JSON value (stolen; NULL answers 500). */
void mg_al_reply_json(mg_al_reply *r, int status, json_t *body);
/* {"error":{"message":..,"code":status}} */
void mg_al_reply_error(mg_al_reply *r, int status, const char *message);
/* Whether the client is still there (a hint: long jobs may stop early). */
int mg_al_reply_alive(mg_al_reply *r);

#endif
