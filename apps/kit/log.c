/* log.c: the kit's JSON log lines and its small utilities.
 *
 * Every log line is one JSON object on stdout,
 *   {"ts":"2026-01-02T03:04:05.123456Z","level":"error","service":"user-service",
 *    "trace_id":"...","span_id":"...","msg":"connect to ... failed: Connection
 * refused"} written with a single write(2) under a mutex, so lines of
 * concurrent requests never interleave (conmon turns stdout into the pod's
 * log). Lines below LOG_LEVEL are dropped. Also here: clocks, checked
 * allocation and number parsing used by every other file of the kit.
 */
#include "kit_int.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t kit__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t kit__mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void oom(void)
{
    static const char msg[] = "kit: out of memory\n";
    if (write(2, msg, sizeof msg - 1) < 0) { /* nothing more to do */
    }
    abort();
}

void *kit__xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom();
    return p;
}

void *kit__xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) oom();
    return p;
}

char *kit__xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d) oom();
    return d;
}

int kit__parse_long(const char *s, long min, long max, long *out)
{
    if (!s || !*s) return -EINVAL;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max) return -EINVAL;
    *out = v;
    return 0;
}

static const char *level_names[] = {"debug", "info", "warn", "error"};

int kit__level_parse(const char *s, enum kit_level *out)
{
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(s, level_names[i])) {
            *out = (enum kit_level)i;
            return 0;
        }
    if (!strcasecmp(s, "warning")) {
        *out = KIT_WARN;
        return 0;
    }
    return -EINVAL;
}

void kit__log_line(struct kit *k, enum kit_level level, const char *trace_id, const char *span_id, const char *msg)
{
    if (level < k->level) return;
    uint64_t now = kit__now_ns();
    time_t sec = (time_t)(now / 1000000000ull);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char ts[48];
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)((now % 1000000000ull) / 1000));
    json_t *o = json_object();
    json_object_set_new(o, "ts", json_string(ts));
    json_object_set_new(o, "level", json_string(level_names[level]));
    json_object_set_new(o, "service", json_string(k->service));
    if (trace_id && *trace_id) json_object_set_new(o, "trace_id", json_string(trace_id));
    if (span_id && *span_id) json_object_set_new(o, "span_id", json_string(span_id));
    /* A message that is not UTF-8 (bytes from a request) is still logged. */
    json_t *m = json_string(msg);
    if (!m) {
        size_t n = strlen(msg);
        char *clean = kit__xmalloc(n + 1);
        for (size_t i = 0; i < n; i++)
            clean[i] = (unsigned char)msg[i] < 0x80 ? msg[i] : '?';
        clean[n] = '\0';
        m = json_string(clean);
        free(clean);
    }
    json_object_set_new(o, "msg", m ? m : json_string(""));
    char *line = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
    json_decref(o);
    if (!line) return;
    size_t n = strlen(line);
    line = kit__xrealloc(line, n + 2);
    line[n++] = '\n';
    pthread_mutex_lock(&k->log_mu);
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(1, line + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    pthread_mutex_unlock(&k->log_mu);
    free(line);
}

static void vlog(struct kit *k, enum kit_level level, const char *trace_id, const char *span_id, const char *fmt,
                 va_list ap)
{
    char msg[4096];
    vsnprintf(msg, sizeof msg, fmt, ap);
    kit__log_line(k, level, trace_id, span_id, msg);
}

void kit_logf(struct kit *k, enum kit_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(k, level, NULL, NULL, fmt, ap);
    va_end(ap);
}

void kit_log(struct kit_req *r, enum kit_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(r->k, level, r->trace_hex, r->span_hex, fmt, ap);
    va_end(ap);
}
