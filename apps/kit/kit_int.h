/* kit_int.h: what the kit's own files share (never included by an app).
 *
 * The kit is split by concept: server.c (libmicrohttpd, routing, probes,
 * shutdown), req.c (parameters, bodies, JSON, replies), client.c (kit_call
 * over libcurl), trace.c (trace context, spans, the OTLP exporter),
 * metrics.c (the Prometheus registry and text), log.c (JSON lines),
 * pool.c (the bounded connection pool the store clients share), pg.c,
 * redis.c and mc.c (the store clients). The structures below are the
 * service and the request every one of them works on.
 */
#ifndef KIT_INT_H
#define KIT_INT_H
#include "kit.h"
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define KIT_MAX_ROUTES 128
#define KIT_MAX_POOLS 32
#define KIT_MAX_ATTRS 12

/* ---- util (log.c) ---- */
uint64_t kit__now_ns(void);  /* CLOCK_REALTIME, for spans and logs */
uint64_t kit__mono_ns(void); /* CLOCK_MONOTONIC, for durations */
void *kit__xmalloc(size_t n);
void *kit__xrealloc(void *p, size_t n);
char *kit__xstrdup(const char *s);
/* Parse a decimal integer in [min, max]; 0 or -EINVAL. */
int kit__parse_long(const char *s, long min, long max, long *out);
/* Write one log line (one write(2)); trace_id/span_id may be NULL. */
void kit__log_line(struct kit *k, enum kit_level level, const char *trace_id, const char *span_id, const char *msg);
int kit__level_parse(const char *s, enum kit_level *out);

/* ---- metrics.c ---- */
enum kit_mtype { KIT_COUNTER, KIT_GAUGE, KIT_HISTOGRAM };
struct kit_metrics;
struct kit_family;
struct kit_metrics *kit__metrics_new(void);
void kit__metrics_free(struct kit_metrics *m);
/* Register a family (before any thread uses the registry). labels: nlabels
 * names; the returned family lives as long as the registry. */
struct kit_family *kit__family(struct kit_metrics *m, const char *name, const char *help, enum kit_mtype type,
                               int nlabels, const char *const *labels);
/* Counters and gauges: add v to the series of these label values. */
void kit__metric_add(struct kit_family *f, double v, const char *const *values);
/* Histograms: observe v. */
void kit__metric_observe(struct kit_family *f, double v, const char *const *values);
/* The value of a counter/gauge series (for tests), 0 when absent. */
double kit__metric_get(struct kit_family *f, const char *const *values);
/* The whole registry as Prometheus text 0.0.4 (malloc'd, NUL-terminated),
 * followed by the process metrics when with_process. */
char *kit__metrics_render(struct kit_metrics *m, int with_process, size_t *len);

/* ---- trace.c ---- */
struct kit_trace_ctx {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t flags;
};
/* W3C traceparent "00-<32 hex>-<16 hex>-<2 hex>" (lowercase; future
 * versions with extra fields accepted); 0, or -EINVAL for anything else,
 * including all-zero ids and version ff. */
int kit__traceparent_parse(const char *s, struct kit_trace_ctx *out);
/* out: at least 56 bytes. */
void kit__traceparent_format(const uint8_t trace_id[16], const uint8_t span_id[8], uint8_t flags, char *out);
void kit__random_id(uint8_t *out, size_t n);           /* never all zero */
void kit__hex(const uint8_t *in, size_t n, char *out); /* out: 2n+1 */

enum kit_span_kind { KIT_SPAN_INTERNAL = 1, KIT_SPAN_SERVER = 2, KIT_SPAN_CLIENT = 3 };
struct kit_span {
    struct kit *k;
    uint8_t trace_id[16], span_id[8], parent_id[8];
    int has_parent;
    uint8_t flags;
    int kind;
    char *name;
    uint64_t start_ns, end_ns;
    int error;
    char *status_msg;
    int nattrs;
    char *attr_key[KIT_MAX_ATTRS], *attr_val[KIT_MAX_ATTRS];
    struct kit_span *next;
};
/* A span in the trace of parent (or a new trace when parent is NULL). */
struct kit_span *kit__span_new(struct kit *k, const struct kit_span *parent, const char *name, int kind);
/* Finish and hand to the exporter (or free); error marks it failed. */
void kit__span_finish(struct kit_span *s, const char *error);
void kit__span_free(struct kit_span *s);
/* OTLP/HTTP JSON of spans (an ExportTraceServiceRequest), malloc'd. */
char *kit__otlp_json(const char *service, struct kit_span *const *spans, size_t n);
struct kit_exporter;
struct kit_exporter *kit__exporter_start(struct kit *k, const char *url);
/* Stop the thread after a last flush (bounded by the export timeout). */
void kit__exporter_stop(struct kit_exporter *e);

/* ---- flags.c ---- */
enum { KIT_FLAG_FAILURE, KIT_FLAG_HIGH_CPU, KIT_FLAG_MEMORY_LEAK, KIT_FLAG_SLOW_PATH, KIT_FLAG_CACHE_FAILURE,
       KIT_FLAG_KINDS };
#define KIT_FLAGS_MAX_WARNED 64
struct kit_flag_values {
    long value[KIT_FLAG_KINDS]; /* indexed by KIT_FLAG_* */
};
/* "compose-post-service" -> "composePostService" (the flags' prefix); 0 or
 * -EINVAL (empty, or longer than n). */
int kit__flag_prefix(const char *service, char *out, size_t n);
/* Parse flagd's flags.json for service (services: every service of the
 * app, NULL-terminated, may be NULL): 0 with *out set, or -EINVAL with err
 * (malformed file). A bad or unknown flag is skipped and reported through
 * warn(arg, message). */
int kit__flags_parse(const char *text, size_t len, const char *service, const char *const *services,
                     struct kit_flag_values *out, void (*warn)(void *arg, const char *msg), void *arg, char *err,
                     size_t errlen);
/* Read KIT_FLAGS_FILE (if set) once, at kit_serve. */
void kit__flags_init(struct kit *k);
/* Re-read the file when it changed (at most once a second). */
void kit__flags_poll(struct kit *k);
/* Before a handler: leak, burn, pick the slow path and the cache bypass,
 * and fail the request when the Failure flag says so (1: answered). */
int kit__flags_apply(struct kit_req *r);

/* ---- release.c ---- */
/* 1 when v is a version APP_VERSION may name. */
int kit__version_valid(const char *v);
/* The regression table[0..n-1] lists for service at version (NONE when it
 * lists none). */
enum kit_regression kit__release_find(const struct kit_release *table, size_t n, const char *service,
                                      const char *version);

/* ---- client.c: the retry policy ---- */
enum { KIT_RETRY_CONNECT = 1, KIT_RETRY_TIMEOUT = 2, KIT_RETRY_5XX = 4, KIT_RETRY_RESET = 8 };
/* KIT_RETRY_ON's comma list (connect, timeout, 5xx, reset; spaces allowed;
 * "" or "none": nothing) into KIT_RETRY_* bits: 0, or -EINVAL with the bad
 * word in err. */
int kit__retry_on_parse(const char *s, unsigned *out, char *err, size_t errlen);
/* The bits back as a list ("connect,5xx", or "none"). */
void kit__retry_on_format(unsigned bits, char *out, size_t n);
/* The pause before retry number attempt (1 = the first retry): base * 2^(attempt-1),
 * at most 20 * base, with jitter from rnd into its upper half; 0 when base is 0. */
long kit__retry_backoff_ms(long base, int attempt, uint32_t rnd);

/* ---- the service ---- */
struct kit_route {
    char *method, *path, *operation;
    kit_handler h;
    void *arg;
};
/* A store pool, as the server sees it: warm() makes the first connection
 * (0 when it could), for /readyz. */
struct kit_poolref {
    int (*warm)(void *pool);
    void *pool;
    atomic_int ok;
};
struct kit {
    char *service;
    int port, threads;
    long call_timeout_ms;
    int call_retries;
    unsigned retry_on;     /* KIT_RETRY_* */
    long retry_backoff_ms; /* 0: retry at once */
    char *version;         /* kit_release */
    enum kit_regression regression;
    size_t max_body;
    enum kit_level level;
    char *otlp_url; /* NULL: no export */
    struct kit_route routes[KIT_MAX_ROUTES];
    int nroutes;
    struct kit_poolref pools[KIT_MAX_POOLS];
    int npools;
    pthread_t warm_thread;
    int warm_started;
    atomic_int listening, inflight, stopping;
    struct MHD_Daemon *daemon;
    struct kit_exporter *exporter;
    struct kit_metrics *metrics;
    struct kit_family *m_req_total, *m_req_dur, *m_inflight, *m_cli_total, *m_cli_dur, *m_down_err, *m_db_total,
        *m_db_dur, *m_dropped, *m_retries;
    pthread_mutex_t log_mu;
    /* feature flags (flags.c) */
    char *flags_path; /* NULL: no flags */
    char **flags_services;
    _Atomic long flags[KIT_FLAG_KINDS];
    _Atomic uint64_t flags_next_ns;
    pthread_mutex_t flags_mu;
    ino_t flags_ino;
    off_t flags_size;
    struct timespec flags_mtime;
    char *flags_warned[KIT_FLAGS_MAX_WARNED];
    int flags_nwarned;
};
struct kit_req {
    struct kit *k;
    struct MHD_Connection *conn;
    const char *method, *path;
    const struct kit_route *route;
    const char *operation;
    char *body;
    size_t len, cap;
    int too_big;
    json_t *json;
    int json_done;
    char json_err[256];
    char **form; /* key, value, key, value ... (decoded) */
    size_t nform;
    int form_done;
    struct kit_span *span;
    char trace_hex[33], span_hex[17];
    int replied, status;
    uint64_t start_mono;
    int slow_path, cache_bypass; /* picked by the flags for this request */
};

/* ---- req.c ---- */
/* Decode %XX and '+' of an URL-encoded component in place; 0, or -EINVAL
 * for a bad escape or an encoded NUL. */
int kit__url_decode(char *s);
/* Split an application/x-www-form-urlencoded text into decoded pairs
 * (malloc'd array of 2n strings); -EINVAL on a bad escape. */
int kit__form_parse(const char *text, size_t len, char ***pairs, size_t *n);
void kit__form_free(char **pairs, size_t n);
void kit__req_free(struct kit_req *r);
/* Queue a reply (the first one wins). */
void kit__reply(struct kit_req *r, int status, const char *content_type, char *body, size_t len);

/* ---- client / stores: recording an operation ---- */
/* A store operation: its metrics and its span finished (error marks it
 * failed). r may be NULL (work outside a request). The kit does not log
 * the error: the handler that gets it back does, once. */
void kit__db_record(struct kit *k, struct kit_req *r, const char *system, const char *operation, uint64_t start_mono,
                    struct kit_span *span, const char *error);
/* A span under the request's server span (a new trace when r is NULL). */
struct kit_span *kit__child_span(struct kit *k, struct kit_req *r, const char *name, int kind);
void kit__register_pool(struct kit *k, int (*warm)(void *), void *pool);

/* ---- pool.c: a bounded pool of connections ---- */
struct kit_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void **idle;
    int nidle, total, max;
};
void kit__pool_init(struct kit_pool *p, int max);
/* 1 with *conn an idle connection, 0 when the caller may open a new one
 * (counted), or -ETIMEDOUT after wait_ms with every connection busy. */
int kit__pool_get(struct kit_pool *p, void **conn, long wait_ms);
/* Return a connection; NULL when the caller's connection broke (or could
 * not be opened) and was closed. */
void kit__pool_put(struct kit_pool *p, void *conn);

/* Read <prefix>_<suffix> from the environment (NULL when unset). */
const char *kit__env2(const char *prefix, const char *suffix, char *buf, size_t buflen);
/* <prefix>_PORT, or def. Also takes Kubernetes' docker-link form
 * "tcp://10.0.0.7:6379", which a Service named like the prefix puts in
 * that very variable (Service "redis" sets REDIS_PORT). */
const char *kit__env_port(const char *prefix, const char *def);
/* Go's net error text for a failed dial: "dial tcp H:P: connect: connection
 * refused". */
void kit__dial_error(char *err, size_t errlen, const char *host, const char *port, int errnum);
#endif
