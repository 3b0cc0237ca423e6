/* log.c — leveled logging (see log.h). One fprintf per line keeps lines from
 * different threads whole; stderr is unbuffered. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int current_level = MG_LOG_INFO;
static const char *level_names[] = {"debug", "info", "warn", "error"};

void mg_log_set_level(int level) { current_level = level; }
int mg_log_get_level(void) { return current_level; }

int mg_log_level_from_name(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return MG_LOG_INFO;
}

void mg_log(int level, const char *fmt, ...)
{
    if (level < current_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s [%s] %s\n", ts, level_names[level & 3], msg);
}
