/* smtp.c — the SMTP thread (smtp.h). One message at a time with a curl
 * easy handle; between attempts the thread waits on its condition
 * variable, so shutting down never waits for a backoff. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/log.h"
#include "smtp.h"

#define SMTP_QUEUE_MAX 64

/* One message. Owns everything in it. */
typedef struct msg {
    struct msg *next;
    char *url, *from, *username, *password;
    char *to[MG_AL_CH_MAX_TO];
    size_t nto;
    double timeout;
    int retries;
    char *text;
    size_t len, sent;     /* read position for curl */
    mg_al_smtp_fn fn;
    void *ud;
    int ok, status, attempts;
    char error[256];
} msg;

typedef struct queue {
    msg *head, *tail;
    size_t n;
} queue;

struct mg_al_smtp {
    struct ev_loop *loop;
    ev_async wake;          /* thread → loop: results */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    queue todo, results;    /* under lock */
    int stopping;
    double backoff;
};

static void q_push(queue *q, msg *m)
{
    m->next = NULL;
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    q->n++;
}

static msg *q_pop(queue *q)
{
    msg *m = q->head;
    if (m) {
        q->head = m->next;
        if (!q->head)
            q->tail = NULL;
        q->n--;
    }
    return m;
}

static void msg_free(msg *m)
{
    free(m->url);
    free(m->from);
    free(m->username);
    free(m->password);
    for (size_t i = 0; i < m->nto; i++)
        free(m->to[i]);
    free(m->text);
    free(m);
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    msg *m = ud;
    size_t room = size * nitems, left = m->len - m->sent;
    size_t n = left < room ? left : room;
    memcpy(buf, m->text + m->sent, n);
    m->sent += n;
    return n;
}

static char *angle(const char *addr)
{
    size_t n = strlen(addr) + 3;
    char *s = mg_xmalloc(n);
    snprintf(s, n, "<%s>", addr);
    return s;
}

/* One attempt. Returns MG_OK or fills m->error. */
static int attempt(msg *m)
{
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(m->error, sizeof m->error, "cannot create a curl handle");
        return MG_ERR;
    }
    struct curl_slist *rcpt = NULL;
    for (size_t i = 0; i < m->nto; i++) {
        char *a = angle(m->to[i]);
        rcpt = curl_slist_append(rcpt, a);
        free(a);
    }
    char *from = angle(m->from);
    m->sent = 0;
    curl_easy_setopt(h, CURLOPT_URL, m->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(h, CURLOPT_READDATA, m);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(MG_MIN(m->timeout, 10.0) * 1000));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(m->timeout * 1000));
    if (m->username) {
        curl_easy_setopt(h, CURLOPT_USERNAME, m->username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, m->password ? m->password : "");
        /* Credentials never travel in clear: STARTTLS is required. */
        curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    } else {
        curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
    }
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    m->status = (int)code;
    if (rc != CURLE_OK)
        snprintf(m->error, sizeof m->error, "smtp: %s (last reply %ld)", curl_easy_strerror(rc),
                 code);
    curl_slist_free_all(rcpt);
    free(from);
    curl_easy_cleanup(h);
    return rc == CURLE_OK ? MG_OK : MG_ERR;
}

/* Wait `seconds` unless stopping; returns 1 when stopping. Lock held. */
static int pause_unless_stopping(mg_al_smtp *s, double seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long long ns = until.tv_nsec + (long long)(seconds * 1e9);
    until.tv_sec += (time_t)(ns / 1000000000LL);
    until.tv_nsec = (long)(ns % 1000000000LL);
    while (!s->stopping)
        if (pthread_cond_timedwait(&s->cond, &s->lock, &until) != 0)
            break;
    return s->stopping;
}

static void deliver(mg_al_smtp *s, msg *m)
{
    double delay = s->backoff;
    for (m->attempts = 1;; m->attempts++) {
        m->error[0] = 0;
        if (attempt(m) == MG_OK) {
            m->ok = 1;
            if (m->status == 0)
                m->status = 250;
            return;
        }
        if (m->attempts > m->retries)
            return;
        pthread_mutex_lock(&s->lock);
        int stop = pause_unless_stopping(s, delay);
        pthread_mutex_unlock(&s->lock);
        if (stop)
            return;
        delay = MG_MIN(delay * 2, 30.0);
    }
}

static void *thread_main(void *arg)
{
    mg_al_smtp *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        msg *m = q_pop(&s->todo);
        if (!m) {
            pthread_cond_wait(&s->cond, &s->lock);
            continue;
        }
        pthread_mutex_unlock(&s->lock);
        deliver(s, m);
        pthread_mutex_lock(&s->lock);
        q_push(&s->results, m);
        ev_async_send(s->loop, &s->wake);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void report(msg *m, int shutting_down)
{
    if (m->fn) {
        if (shutting_down && !m->ok && !m->error[0])
            snprintf(m->error, sizeof m->error, "shutting down");
        m->fn(m->ud, m->ok, m->status, m->attempts, m->error);
    }
    msg_free(m);
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    mg_al_smtp *s = w->data;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        msg *m = q_pop(&s->results);
        pthread_mutex_unlock(&s->lock);
        if (!m)
            return;
        report(m, 0);
    }
}

mg_al_smtp *mg_al_smtp_new(struct ev_loop *loop)
{
    mg_al_smtp *s = mg_xcalloc(1, sizeof *s);
    s->loop = loop;
    s->backoff = 1.0;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    ev_async_init(&s->wake, on_wake);
    s->wake.data = s;
    ev_async_start(loop, &s->wake);
    ev_unref(loop);
    if (pthread_create(&s->thread, NULL, thread_main, s) != 0) {
        mg_error("alerts: cannot start the SMTP thread; e-mail channels will fail");
        s->stopping = 1;
        s->thread = 0;
    }
    return s;
}

void mg_al_smtp_set_backoff(mg_al_smtp *s, double base) { s->backoff = base > 0 ? base : 1.0; }

void mg_al_smtp_free(mg_al_smtp *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    if (s->thread)
        pthread_join(s->thread, NULL);
    ev_ref(s->loop);
    ev_async_stop(s->loop, &s->wake);
    msg *m;
    while ((m = q_pop(&s->results)))
        report(m, 1);
    while ((m = q_pop(&s->todo)))
        report(m, 1);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s);
}

int mg_al_smtp_send(mg_al_smtp *s, const mg_al_channel *c, const char *message, size_t len,
                    mg_al_smtp_fn fn, void *ud)
{
    pthread_mutex_lock(&s->lock);
    int full = s->stopping || s->todo.n >= SMTP_QUEUE_MAX;
    pthread_mutex_unlock(&s->lock);
    if (full)
        return MG_AGAIN;
    msg *m = mg_xcalloc(1, sizeof *m);
    m->url = mg_xstrdup(c->url);
    m->from = mg_xstrdup(c->from);
    m->username = c->username ? mg_xstrdup(c->username) : NULL;
    m->password = c->password ? mg_xstrdup(c->password) : NULL;
    for (size_t i = 0; i < c->nto; i++)
        m->to[m->nto++] = mg_xstrdup(c->to[i]);
    m->timeout = c->timeout;
    m->retries = c->retries;
    m->text = mg_xstrndup(message, len);
    m->len = len;
    m->fn = fn;
    m->ud = ud;
    pthread_mutex_lock(&s->lock);
    q_push(&s->todo, m);
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return MG_OK;
}
