/* window.c — the sliding window behind rpm and tpm: MG_KEYS_WINDOW
 * one-second buckets in a ring, each stamped with the wall second it
 * counts. A bucket whose stamp is older than the window counts as empty,
 * so nothing needs a timer to expire. Callers hold the owner's lock. */
#include "internal.h"

static int in_window(int64_t stamp, int64_t now_sec)
{
    return stamp > now_sec - MG_KEYS_WINDOW && stamp <= now_sec;
}

static size_t slot_of(int64_t sec)
{
    int64_t m = sec % MG_KEYS_WINDOW;
    return (size_t)(m < 0 ? m + MG_KEYS_WINDOW : m);
}

long mg_keys_window_sum(const mg_keys_window *w, int64_t now_sec)
{
    long sum = 0;
    for (size_t i = 0; i < MG_KEYS_WINDOW; i++)
        if (in_window(w->stamp[i], now_sec))
            sum += w->value[i];
    return sum;
}

void mg_keys_window_add(mg_keys_window *w, int64_t now_sec, long v)
{
    size_t i = slot_of(now_sec);
    if (w->stamp[i] != now_sec) {
        w->stamp[i] = now_sec;
        w->value[i] = 0;
    }
    w->value[i] += v;
}

void mg_keys_window_settle(mg_keys_window *w, int64_t admit_sec, int64_t now_sec, long est,
                           long actual)
{
    size_t i = slot_of(admit_sec);
    if (w->stamp[i] == admit_sec && in_window(admit_sec, now_sec)) {
        long v = w->value[i] - est + actual;
        w->value[i] = v < 0 ? 0 : v;
        return;
    }
    /* The estimate already left the window: the tokens were used now. */
    if (actual > 0)
        mg_keys_window_add(w, now_sec, actual);
}

int mg_keys_window_retry(const mg_keys_window *w, int64_t now_sec, long limit, long need)
{
    long excess = mg_keys_window_sum(w, now_sec) + need - limit;
    if (excess <= 0)
        return 1;
    /* Walk buckets oldest first until enough has left the window. */
    for (int64_t age = MG_KEYS_WINDOW - 1; age >= 0; age--) {
        int64_t sec = now_sec - age;
        size_t i = slot_of(sec);
        if (w->stamp[i] != sec)
            continue;
        excess -= w->value[i];
        if (excess <= 0)
            return (int)(sec + MG_KEYS_WINDOW - now_sec);
    }
    return MG_KEYS_WINDOW;
}
