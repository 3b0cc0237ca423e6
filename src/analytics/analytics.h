/* analytics.h — the analytics query engine behind /api/analytics/… and
 * /api/system/db. Heavy SQLite reads never run on a loop thread: each
 * mg_analytics owns ONE reader thread with its own read-only connection
 * (WAL lets it read while the store's writer thread writes). A loop hands a
 * query over with mg_analytics_query; the reader runs it and posts the reply
 * back to that loop through the loop's "inbox" (one ev_async per
 * (analytics, loop) pair), where `done` runs on the loop thread.
 * Uses SQLite, libev, pthreads, core (buf, log); reads the tables of
 * schema/001_requests.sql and schema/002_rollups.sql and the field list of
 * src/store/record.h.
 *
 * Lifecycle and threads
 *   main thread:   a = mg_analytics_open(db_path, err)
 *   each worker:   mg_analytics_attach_loop(a, loop)      (on that loop's thread)
 *                  ... mg_analytics_query / mg_analytics_cancel ...
 *                  mg_analytics_detach_loop(a, loop)      (on that loop's thread,
 *                                                           before ev_loop_destroy)
 *   main thread:   mg_analytics_close(a)                  (after every loop stopped)
 * query, cancel and detach must run on the thread of the loop they name.
 * close drops (frees without calling `done`) every query still queued,
 * running or waiting in an inbox; it expects every loop to be detached
 * (an inbox still attached is freed without touching its loop, which must
 * then never run again).
 *
 * Endpoints (the part of the path after "/api/"), all answering JSON unless
 * noted, every value from the client bound as an SQL parameter:
 *   analytics/summary          totals, error rate, avg and p50/p95/p99 latency, avg ttft
 *   analytics/timeseries       metric=requests|errors|cost|savings|tokens|tokens_input|
 *                              tokens_output|duration_ms_avg, bucket=minute|hour|day
 *                              → [{t, value}], empty buckets 0 (rollups when possible)
 *   analytics/models           per model_routed: requests, cost, tokens, latency, error rate
 *                              (models, cost-breakdown, providers and leaderboard read
 *                              rollups for whole minutes, `requests` for the edges: exact)
 *   analytics/model-comparison per model: avg cost, p50/p95/p99 latency, tokens/request
 *   analytics/cost-breakdown   cost by provider and by model
 *   analytics/token-breakdown  token kinds per time bucket (bucket=minute|hour|day)
 *   analytics/savings          total and per requested→routed model pair
 *   analytics/errors           non-success rows grouped by provider/status/http/error text
 *   analytics/providers        providers seen in [from, to): last hour requests, error
 *                              rate, latency; last success/failure (30-day lookback)
 *   analytics/leaderboard      top keys, users, models; period=today|week|month|all,
 *                              by=requests|tokens|cost, limit ≤ 100
 *   analytics/requests         newest first, limit ≤ 500 (default 50), cursor or offset
 *   analytics/request?id=ID    one full record (404 when absent)
 *   analytics/export           format=csv|json, newest first, at most
 *                              MG_ANALYTICS_EXPORT_MAX rows (reply.truncated says so)
 *   system/db                  database bytes, page counts, row counts, time span
 * Common filters (query string, URL-encoded): from, to (epoch ms or ISO 8601
 * UTC/offset; default the last 24 h; range is [from, to)), provider, model
 * (model_routed), key (key_id), user (user_id), status, environment,
 * session (crosstalk_session), min_cost, max_cost, min_latency, max_latency
 * (duration_ms). A bad value answers 400 {"error":{"message":..,"code":400}}
 * naming the parameter; an unknown endpoint answers 404 the same way. Each
 * endpoint's parameters and reply shape are at the top of its file
 * (src/analytics/ep_*.c). */
#ifndef MG_ANALYTICS_H
#define MG_ANALYTICS_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;

/* Queries waiting for the reader thread, over all loops; past it
 * mg_analytics_query returns MG_AGAIN (answer 503). */
#define MG_ANALYTICS_QUEUE_MAX 256
/* A query running longer than this is interrupted and answered 503. */
#define MG_ANALYTICS_QUERY_TIMEOUT_S 30.0
/* Longer raw query strings are answered 400. */
#define MG_ANALYTICS_QUERY_MAX 8192
/* analytics/export stops after this many rows (newest kept). */
#define MG_ANALYTICS_EXPORT_MAX 100000

typedef struct mg_analytics mg_analytics;

/* What a query produced. Everything it points to belongs to the engine and
 * is valid only during the `done` call. */
typedef struct mg_analytics_reply {
    int status;                /* HTTP status: 200, 400, 404, 500, 503 */
    const char *content_type;  /* "application/json" or "text/csv; charset=utf-8" */
    const char *extra_headers; /* complete "Name: value\r\n" lines or NULL (export:
                                  Content-Disposition, X-Moongate-Truncated) */
    const char *body;
    size_t len;
    int truncated;             /* export left rows out (its limit, at most
                                  MG_ANALYTICS_EXPORT_MAX, was reached) */
} mg_analytics_reply;

/* Runs on the loop thread of the query, exactly once per query that was
 * accepted (MG_OK) and neither cancelled nor dropped by detach/close. It
 * is never called from inside mg_analytics_query. It may call
 * mg_analytics_query and mg_analytics_cancel, but not detach or close. */
typedef void (*mg_analytics_done)(void *ud, const mg_analytics_reply *reply);

/* Starts the reader thread on a read-only connection to db_path (the store
 * must have created the database). NULL with err (MG_ERRLEN) filled. */
mg_analytics *mg_analytics_open(const char *db_path, char *err);
/* Stops and joins the reader (a running query is interrupted), frees every
 * pending query without calling `done`, closes the connection. NULL is ok. */
void mg_analytics_close(mg_analytics *a);

/* Registers loop's inbox (an ev_async, started at once and ev_unref'd, so
 * it never keeps ev_run alive on its own). Call on the loop's own thread,
 * or before that loop first runs; attaching an attached loop is a no-op.
 * MG_OK, or MG_ERR after close began / on NULL arguments. */
int mg_analytics_attach_loop(mg_analytics *a, struct ev_loop *loop);
/* Stops and frees loop's inbox; queries of this loop that are queued,
 * running or delivered but not yet handed to `done` are dropped. Call on
 * the loop's thread before the loop is destroyed. Unknown loop: no-op. */
void mg_analytics_detach_loop(mg_analytics *a, struct ev_loop *loop);

/* 1 when endpoint (e.g. "analytics/summary") is served here. Lets the
 * caller route without queueing; mg_analytics_query answers 404 via `done`
 * for anything else. */
int mg_analytics_handles(const char *endpoint);

/* Queues one query. endpoint is the path after "/api/" (no query string);
 * query_string is the raw URL query ("from=..&provider=..", may be NULL or
 * ""); both are copied. On MG_OK *ticket (when non-NULL) gets a nonzero id
 * for mg_analytics_cancel and `done(ud, reply)` will run later on `loop`.
 * MG_AGAIN: the queue is full (nothing queued, answer 503). MG_ERR: loop not
 * attached or a NULL argument. `done` is never called unless MG_OK. */
int mg_analytics_query(mg_analytics *a, struct ev_loop *loop, const char *endpoint,
                       const char *query_string, mg_analytics_done done, void *ud,
                       uint64_t *ticket);

/* The client went away: the query is dropped wherever it is (a running
 * SQLite statement is interrupted) and `done` will not be called. Call on
 * the query's loop thread. Unknown or finished tickets: no-op. */
void mg_analytics_cancel(mg_analytics *a, uint64_t ticket);

#endif
