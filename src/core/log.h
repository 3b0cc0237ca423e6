/* log.h — leveled log lines to stderr, safe from any thread. Never pass a
 * secret: keys, tokens and query values are redacted by callers. */
#ifndef MG_LOG_H
#define MG_LOG_H

#include "common.h"

enum mg_log_level { MG_LOG_DEBUG = 0, MG_LOG_INFO, MG_LOG_WARN, MG_LOG_ERROR };

void mg_log_set_level(int level);
/* "debug" | "info" | "warn" | "error"; unknown names give info. */
int mg_log_level_from_name(const char *name);
int mg_log_get_level(void);
void mg_log(int level, const char *fmt, ...) MG_PRINTF(2, 3);

#define mg_debug(...) mg_log(MG_LOG_DEBUG, __VA_ARGS__)
#define mg_info(...) mg_log(MG_LOG_INFO, __VA_ARGS__)
#define mg_warn(...) mg_log(MG_LOG_WARN, __VA_ARGS__)
#define mg_error(...) mg_log(MG_LOG_ERROR, __VA_ARGS__)

#endif
