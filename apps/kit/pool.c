/* pool.c: the bounded connection pool the store clients share, and the
 * helpers that make their configuration and error texts alike.
 *
 * A pool hands out idle connections, or lets the caller open one while
 * fewer than max exist; past that a caller waits (bounded) for one to come
 * back. A connection that broke is returned as NULL, which frees its slot.
 * The pool stores opaque pointers; pg.c, redis.c and mc.c own what they
 * point to.
 */
#include "kit_int.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void kit__pool_init(struct kit_pool *p, int max)
{
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    p->max = max < 1 ? 1 : max;
    p->idle = kit__xmalloc(sizeof *p->idle * (size_t)p->max);
    p->nidle = p->total = 0;
}

int kit__pool_get(struct kit_pool *p, void **conn, long wait_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->nidle) {
            *conn = p->idle[--p->nidle];
            pthread_mutex_unlock(&p->mu);
            return 1;
        }
        if (p->total < p->max) {
            p->total++;
            pthread_mutex_unlock(&p->mu);
            return 0;
        }
        if (pthread_cond_timedwait(&p->cv, &p->mu, &until) == ETIMEDOUT) {
            pthread_mutex_unlock(&p->mu);
            return -ETIMEDOUT;
        }
    }
}

void kit__pool_put(struct kit_pool *p, void *conn)
{
    pthread_mutex_lock(&p->mu);
    if (conn && p->nidle < p->max)
        p->idle[p->nidle++] = conn;
    else
        p->total--;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

const char *kit__env2(const char *prefix, const char *suffix, char *buf, size_t buflen)
{
    snprintf(buf, buflen, "%s_%s", prefix, suffix);
    const char *v = getenv(buf);
    return v && *v ? v : NULL;
}

const char *kit__env_port(const char *prefix, const char *def)
{
    char name[256];
    const char *v = kit__env2(prefix, "PORT", name, sizeof name);
    if (!v) return def;
    if (!strncmp(v, "tcp://", 6)) {
        const char *colon = strrchr(v + 6, ':');
        return colon && colon[1] ? colon + 1 : def;
    }
    return v;
}

void kit__dial_error(char *err, size_t errlen, const char *host, const char *port, int errnum)
{
    const char *what;
    switch (errnum) {
    case ECONNREFUSED:
        what = "connect: connection refused";
        break;
    case ETIMEDOUT:
        what = "i/o timeout";
        break;
    case EHOSTUNREACH:
        what = "connect: no route to host";
        break;
    case ENETUNREACH:
        what = "connect: network is unreachable";
        break;
    case ECONNRESET:
        what = "read: connection reset by peer";
        break;
    default: {
        static __thread char buf[128];
        snprintf(buf, sizeof buf, "connect: %s", strerror(errnum));
        for (char *c = buf; *c; c++)
            if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
        what = buf;
    }
    }
    snprintf(err, errlen, "dial tcp %s:%s: %s", host, port, what);
}

void kit__db_record(struct kit *k, struct kit_req *r, const char *system, const char *operation, uint64_t start_mono,
                    struct kit_span *span, const char *error)
{
    (void)r;
    double secs = (double)(kit__mono_ns() - start_mono) / 1e9;
    const char *t[] = {k->service, system, operation, error ? "error" : "ok"};
    kit__metric_add(k->m_db_total, 1, t);
    const char *d[] = {k->service, system};
    kit__metric_observe(k->m_db_dur, secs, d);
    kit__span_finish(span, error);
}
