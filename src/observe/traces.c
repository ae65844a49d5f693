/* traces: the trace store process, `aiopslab __traces --lab-dir LABDIR`
 * (see traces.h and docs/traces.md). Two libmicrohttpd servers on the
 * lab's node IP: the OTLP/HTTP JSON receiver, whose threads parse request
 * bodies and put the spans on a bounded queue (a full queue drops spans and
 * counts them), and the Jaeger query API, whose threads each read through a
 * SQLite connection of their own. One writer thread drains the queue into
 * the database in transactions and deletes the oldest spans past the
 * bounds, so ingestion never waits for a query. SIGTERM (through sigwait in
 * the main thread) stops the servers, flushes the queue and exits 0. */
#include "observe/traces.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "observe/trace_jaeger.h"
#include "observe/trace_otlp.h"
#include "observe/trace_store.h"

#define BODY_MAX_DEFAULT (8u << 20)
#define QUEUE_MAX_DEFAULT 200000
#define MAX_SPANS_DEFAULT 2000000L
#define MAX_AGE_DEFAULT_US (24LL * 3600 * 1000000)
#define READERS_MAX 64
#define RESPONSE_MAX (256u << 20)

struct traces {
    char lab_dir[PATH_MAX];
    char db_path[PATH_MAX + 32];
    long max_spans;
    int64_t max_age_us;
    size_t max_queue, max_body;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct trace_batch queue; /* spans waiting for the writer */
    int stop;
    struct trace_store *writer;

    pthread_mutex_t readers_mu;
    struct trace_store *readers[READERS_MAX];
    int n_readers;

    atomic_ullong received, rejected, dropped, stored, pruned, requests, bad_requests, queries;
};

static struct traces T;
static _Thread_local struct trace_store *reader;

/* ---- writer ---------------------------------------------------------- */

/* Wait on T.cv (T.mu held) until mono_ns() reaches deadline or a signal. */
static void wait_until(uint64_t deadline)
{
    uint64_t now = mono_ns();
    if (now >= deadline) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (deadline - now);
    ts.tv_sec += (time_t)(ns / 1000000000ull);
    ts.tv_nsec = (long)(ns % 1000000000ull);
    pthread_cond_timedwait(&T.cv, &T.mu, &ts);
}

/* One transaction takes what arrived over COMMIT_GATHER_NS (or
 * COMMIT_SPANS spans, if sooner): the pages a commit dirties (the table's
 * last pages, the hot pages of the service and operation indexes) are then
 * written once for thousands of spans instead of once per OTLP request.
 * Spans become queryable at most that much later. A transaction takes at
 * most COMMIT_SPANS_MAX spans, so that a flood cannot grow the WAL (which
 * holds a whole transaction) past a few tens of MB. */
#define COMMIT_GATHER_NS (200 * 1000000ull)
#define COMMIT_SPANS 8192
#define COMMIT_SPANS_MAX 16384

static void *writer_main(void *arg)
{
    (void)arg;
    uint64_t last_prune = 0, last_commit = 0;
    for (;;) {
        struct trace_batch b;
        trace_batch_init(&b);
        pthread_mutex_lock(&T.mu);
        if (!T.queue.n && !T.stop) wait_until(mono_ns() + 1000000000ull);
        while (T.queue.n && T.queue.n < COMMIT_SPANS && !T.stop && mono_ns() < last_commit + COMMIT_GATHER_NS)
            wait_until(last_commit + COMMIT_GATHER_NS);
        last_commit = mono_ns();
        trace_batch_take(&b, &T.queue, COMMIT_SPANS_MAX);
        int stop = T.stop;
        pthread_mutex_unlock(&T.mu);
        if (b.n) {
            char err[256];
            if (trace_store_insert(T.writer, &b, err, sizeof err)) {
                log_error("cannot store %zu spans: %s", b.n, err);
                atomic_fetch_add(&T.dropped, b.n);
            } else {
                atomic_fetch_add(&T.stored, b.n);
            }
        }
        trace_batch_free(&b);
        uint64_t now = mono_ns();
        if (now - last_prune >= 1000000000ull || stop) {
            last_prune = now;
            int64_t min_start = T.max_age_us > 0 ? (int64_t)(wall_ns() / 1000) - T.max_age_us : 0;
            long n = trace_store_prune(T.writer, T.max_spans, min_start, 20000);
            if (n > 0) {
                atomic_fetch_add(&T.pruned, (unsigned long long)n);
                log_debug("pruned %ld spans", n);
            }
        }
        if (stop) {
            pthread_mutex_lock(&T.mu);
            int empty = T.queue.n == 0;
            pthread_mutex_unlock(&T.mu);
            if (empty) break;
        }
    }
    return NULL;
}

/* Queue spans for the writer (taking them from b), or drop them all when the
 * queue would pass its bound. Returns the number dropped. */
static size_t enqueue(struct trace_batch *b)
{
    size_t n = b->n;
    pthread_mutex_lock(&T.mu);
    int fits = T.queue.n + n <= T.max_queue;
    if (fits) {
        trace_batch_move(&T.queue, b);
        pthread_cond_signal(&T.cv);
    }
    pthread_mutex_unlock(&T.mu);
    if (fits) return 0;
    atomic_fetch_add(&T.dropped, n);
    return n;
}

/* ---- HTTP helpers ---------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return reply(c, status, "application/json", text ? text : xstrdup("{}"));
}

/* ---- OTLP receiver --------------------------------------------------- */

struct upload {
    struct buf body;
    int too_big;
};

static enum MHD_Result otlp_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    atomic_fetch_add(&T.bad_requests, 1);
    /* OTLP/HTTP answers errors with a google.rpc.Status */
    return reply_json(c, status, json_pack("{s:i, s:s}", "code", status == 400 ? 3 : 8, "message", msg));
}

static enum MHD_Result on_otlp(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *data, size_t *data_size, void **con_cls)
{
    (void)cls;
    (void)version;
    struct upload *u = *con_cls;
    if (!u) {
        atomic_fetch_add(&T.requests, 1);
        if (strcmp(url, "/v1/traces")) return otlp_error(c, MHD_HTTP_NOT_FOUND, "not found: POST /v1/traces");
        if (strcmp(method, "POST")) return otlp_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST");
        const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        if (type && !strstr(type, "json"))
            return otlp_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "only OTLP/HTTP JSON (application/json) is accepted");
        const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
        if (enc && strcmp(enc, "identity"))
            return otlp_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "compressed bodies are not accepted");
        const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        long n;
        if (len && !parse_long(len, 0, LONG_MAX, &n) && (size_t)n > T.max_body)
            return otlp_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "body too large");
        u = xcalloc(1, sizeof *u);
        buf_init(&u->body, T.max_body);
        *con_cls = u;
        return MHD_YES;
    }
    if (*data_size) {
        if (!u->too_big && buf_append(&u->body, data, *data_size)) u->too_big = 1;
        *data_size = 0;
        return MHD_YES;
    }
    if (u->too_big) return otlp_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "body too large");
    struct trace_batch b;
    trace_batch_init(&b);
    size_t rejected = 0;
    char err[256];
    if (trace_otlp_parse(u->body.data ? u->body.data : "", u->body.len, &b, &rejected, err, sizeof err)) {
        trace_batch_free(&b);
        return otlp_error(c, MHD_HTTP_BAD_REQUEST, err);
    }
    atomic_fetch_add(&T.received, b.n);
    atomic_fetch_add(&T.rejected, rejected);
    size_t dropped = b.n ? enqueue(&b) : 0;
    trace_batch_free(&b);
    json_t *partial = json_object();
    if (rejected + dropped) {
        json_object_set_new(partial, "rejectedSpans", json_integer((json_int_t)(rejected + dropped)));
        json_object_set_new(partial, "errorMessage",
                            json_string(dropped ? "the trace store is overloaded: spans dropped"
                                                : "spans with malformed ids or times were rejected"));
    }
    return reply_json(c, MHD_HTTP_OK, json_pack("{s:o}", "partialSuccess", partial));
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct upload *u = *con_cls;
    if (!u) return;
    buf_free(&u->body);
    free(u);
    *con_cls = NULL;
}

/* ---- query API ------------------------------------------------------- */

/* Finish a Jaeger envelope whose data out already holds (rc 0), or answer
 * the error rc stands for. Frees out. */
static enum MHD_Result reply_text(struct MHD_Connection *c, int rc, struct buf *out, int total, const char *err)
{
    if (!rc) rc = buf_printf(out, ",\"total\":%d,\"limit\":0,\"offset\":0,\"errors\":null}", total);
    if (!rc) return reply(c, MHD_HTTP_OK, "application/json", buf_steal(out));
    buf_free(out);
    if (rc == -E2BIG) err = "the answer is too large: ask for fewer traces";
    unsigned status = rc == -EINVAL ? MHD_HTTP_BAD_REQUEST : rc == -ENOENT ? MHD_HTTP_NOT_FOUND
                                                                            : MHD_HTTP_INTERNAL_SERVER_ERROR;
    if (status == MHD_HTTP_INTERNAL_SERVER_ERROR) log_warn("query failed: %s", err);
    return reply_json(c, status, trace_jaeger_error((int)status, err));
}

static struct trace_store *get_reader(char *err, size_t errlen)
{
    if (reader) return reader;
    pthread_mutex_lock(&T.readers_mu);
    int rc = T.n_readers < READERS_MAX ? trace_store_open(T.db_path, 0, &reader, err, errlen) : -EMFILE;
    if (!rc) T.readers[T.n_readers++] = reader;
    else if (rc == -EMFILE) snprintf(err, errlen, "too many reader threads");
    pthread_mutex_unlock(&T.readers_mu);
    return rc ? NULL : reader;
}

static const char *arg_of(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

static char *metrics_text(void)
{
    struct buf b;
    buf_init(&b, 1 << 16);
    pthread_mutex_lock(&T.mu);
    size_t queued = T.queue.n;
    pthread_mutex_unlock(&T.mu);
    buf_printf(&b,
               "# TYPE traces_spans_received_total counter\ntraces_spans_received_total %llu\n"
               "# TYPE traces_spans_rejected_total counter\ntraces_spans_rejected_total %llu\n"
               "# TYPE traces_spans_dropped_total counter\ntraces_spans_dropped_total %llu\n"
               "# TYPE traces_spans_stored_total counter\ntraces_spans_stored_total %llu\n"
               "# TYPE traces_spans_pruned_total counter\ntraces_spans_pruned_total %llu\n"
               "# TYPE traces_otlp_requests_total counter\ntraces_otlp_requests_total %llu\n"
               "# TYPE traces_otlp_bad_requests_total counter\ntraces_otlp_bad_requests_total %llu\n"
               "# TYPE traces_queries_total counter\ntraces_queries_total %llu\n"
               "# TYPE traces_queue_spans gauge\ntraces_queue_spans %zu\n",
               (unsigned long long)T.received, (unsigned long long)T.rejected, (unsigned long long)T.dropped,
               (unsigned long long)T.stored, (unsigned long long)T.pruned, (unsigned long long)T.requests,
               (unsigned long long)T.bad_requests, (unsigned long long)T.queries, queued);
    return buf_steal(&b);
}

static enum MHD_Result on_query(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                const char *version, const char *data, size_t *data_size, void **con_cls)
{
    (void)cls;
    (void)version;
    (void)data;
    (void)data_size;
    (void)con_cls;
    atomic_fetch_add(&T.queries, 1);
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return reply_json(c, MHD_HTTP_METHOD_NOT_ALLOWED, trace_jaeger_error(405, "use GET"));
    if (!strcmp(url, "/metrics")) return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4", metrics_text());
    char err[512];
    struct trace_store *st = get_reader(err, sizeof err);
    if (!st) return reply_json(c, MHD_HTTP_INTERNAL_SERVER_ERROR, trace_jaeger_error(500, err));
    json_t *data_v = NULL;
    unsigned status = MHD_HTTP_OK;
    size_t n;
    const char *rest;
    if (!strcmp(url, "/api/services")) {
        data_v = trace_store_services(st, err, sizeof err);
    } else if (str_has_prefix(url, "/api/services/") && (n = strlen(url)) > sizeof "/api/services//operations" - 1 &&
               !strcmp(url + n - strlen("/operations"), "/operations")) {
        rest = url + strlen("/api/services/");
        size_t sl = (size_t)(url + n - strlen("/operations") - rest);
        if (sl > TRACE_NAME_MAX) {
            return reply_json(c, MHD_HTTP_BAD_REQUEST, trace_jaeger_error(400, "service name too long"));
        }
        char svc[TRACE_NAME_MAX + 1];
        memcpy(svc, rest, sl);
        svc[sl] = '\0';
        data_v = trace_store_operations(st, svc, 0, err, sizeof err);
    } else if (!strcmp(url, "/api/operations")) {
        const char *svc = arg_of(c, "service");
        if (!svc || !*svc)
            return reply_json(c, MHD_HTTP_BAD_REQUEST, trace_jaeger_error(400, "parameter 'service' is required"));
        data_v = trace_store_operations(st, svc, 1, err, sizeof err);
        const char *kind = arg_of(c, "spanKind");
        if (data_v && kind && *kind) {
            json_t *keep = json_array(), *o;
            size_t i;
            json_array_foreach(data_v, i, o) if (!strcmp(json_string_value(json_object_get(o, "spanKind")), kind))
                json_array_append(keep, o);
            json_decref(data_v);
            data_v = keep;
        }
    } else if (!strcmp(url, "/api/traces")) {
        struct trace_query q;
        if (trace_query_parse(arg_of, c, (int64_t)(wall_ns() / 1000), &q, err, sizeof err))
            return reply_json(c, MHD_HTTP_BAD_REQUEST, trace_jaeger_error(400, err));
        int n = 0;
        struct buf out;
        buf_init(&out, RESPONSE_MAX);
        int rc = buf_puts(&out, "{\"data\":");
        if (!rc) rc = trace_store_find(st, &q, &out, &n, err, sizeof err);
        trace_query_free(&q);
        return reply_text(c, rc, &out, n, err);
    } else if (str_has_prefix(url, "/api/traces/")) {
        struct buf out;
        buf_init(&out, RESPONSE_MAX);
        int rc = buf_puts(&out, "{\"data\":[");
        if (!rc) rc = trace_store_trace(st, url + strlen("/api/traces/"), &out, err, sizeof err);
        if (!rc) rc = buf_puts(&out, "]");
        return reply_text(c, rc, &out, 1, err);
    } else if (!strcmp(url, "/api/stats")) {
        /* aiopslab's own: what `aiopslab traces summary` prints */
        int64_t lookback = 15LL * 60 * 1000000;
        long top = 10;
        const char *v = arg_of(c, "lookback");
        if (v && *v && trace_parse_duration_us(v, &lookback))
            return reply_json(c, MHD_HTTP_BAD_REQUEST,
                              trace_jaeger_error(400, "unable to parse param 'lookback': not a duration"));
        v = arg_of(c, "limit");
        if (v && *v && parse_long(v, 1, 100, &top))
            return reply_json(c, MHD_HTTP_BAD_REQUEST, trace_jaeger_error(400, "parameter 'limit' must be 1..100"));
        data_v = trace_store_stats(st, (int64_t)(wall_ns() / 1000) - lookback, (int)top, err, sizeof err);
    } else {
        return reply_json(c, MHD_HTTP_NOT_FOUND, trace_jaeger_error(404, "not found"));
    }
    if (!data_v) {
        log_warn("query %s failed: %s", url, err);
        return reply_json(c, MHD_HTTP_INTERNAL_SERVER_ERROR, trace_jaeger_error(500, err));
    }
    return reply_json(c, status, trace_jaeger_envelope(data_v));
}

/* ---- process --------------------------------------------------------- */

/* No SO_REUSEPORT: a second trace store for the same lab must fail to
 * start rather than silently share the ports. */
static struct MHD_Daemon *serve(uint32_t ip, int port, MHD_AccessHandlerCallback handler, int otlp)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(ip);
    return MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)port, NULL, NULL, handler,
                            NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE,
                            (unsigned)2, MHD_OPTION_CONNECTION_LIMIT, (unsigned)512, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)30,
                            MHD_OPTION_NOTIFY_COMPLETED, otlp ? on_completed : NULL, NULL, MHD_OPTION_END);
}

static int read_net(const char *lab_dir, char *err, size_t errlen)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/lab.json", lab_dir);
    json_error_t jerr;
    json_t *lab = json_load_file(path, 0, &jerr);
    json_int_t net = json_path_int(lab, "net", 0);
    json_decref(lab);
    if (net < 2 || net > 254) {
        snprintf(err, errlen, "%s: no usable \"net\" (2..254)%s%s", path, lab ? "" : ": ", lab ? "" : jerr.text);
        return -1;
    }
    return (int)net;
}

static void usage(void)
{
    fprintf(stderr, "usage: aiopslab __traces --lab-dir LABDIR [--max-spans N] [--max-age 24h] [--max-queue N]\n"
                    "                         [--max-body BYTES] [--debug]\n"
                    "  (env: AIOPSLAB_TRACES_MAX_SPANS, AIOPSLAB_TRACES_MAX_AGE)\n");
}

static int set_max_spans(const char *v)
{
    return parse_long(v, 0, 1000000000L, &T.max_spans);
}

static int set_max_age(const char *v)
{
    return !strcmp(v, "0") ? (T.max_age_us = 0, 0) : trace_parse_duration_us(v, &T.max_age_us);
}

int traces_main(int argc, char **argv)
{
    const char *lab_dir = NULL, *v;
    int debug = 0;
    T.max_spans = MAX_SPANS_DEFAULT;
    T.max_age_us = MAX_AGE_DEFAULT_US;
    T.max_queue = QUEUE_MAX_DEFAULT;
    T.max_body = BODY_MAX_DEFAULT;
    if ((v = getenv("AIOPSLAB_TRACES_MAX_SPANS")) && *v && set_max_spans(v)) {
        fprintf(stderr, "aiopslab traces: bad AIOPSLAB_TRACES_MAX_SPANS=%s\n", v);
        return 2;
    }
    if ((v = getenv("AIOPSLAB_TRACES_MAX_AGE")) && *v && set_max_age(v)) {
        fprintf(stderr, "aiopslab traces: bad AIOPSLAB_TRACES_MAX_AGE=%s\n", v);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        if (!strcmp(a, "--debug")) {
            debug = 1;
            continue;
        }
        if (!val) goto bad;
        i++;
        if (!strcmp(a, "--lab-dir")) lab_dir = val;
        else if (!strcmp(a, "--max-spans") && !set_max_spans(val)) continue;
        else if (!strcmp(a, "--max-age") && !set_max_age(val)) continue;
        else if (!strcmp(a, "--max-queue") && !parse_long(val, 1, 100000000L, &n)) T.max_queue = (size_t)n;
        else if (!strcmp(a, "--max-body") && !parse_long(val, 1024, 1L << 30, &n)) T.max_body = (size_t)n;
        else goto bad;
    }
    if (!lab_dir || snprintf(T.lab_dir, sizeof T.lab_dir, "%s", lab_dir) >= (int)sizeof T.lab_dir) goto bad;
    char err[PATH_MAX + 256], path[PATH_MAX + 32];
    int net = read_net(lab_dir, err, sizeof err);
    if (net < 0) {
        fprintf(stderr, "aiopslab traces: %s\n", err);
        return 1;
    }
    snprintf(path, sizeof path, "%s/logs", lab_dir);
    mkdir_p(path, 0755);
    snprintf(path, sizeof path, "%s/traces", lab_dir);
    mkdir_p(path, 0755);
    snprintf(path, sizeof path, "%s/logs/traces.log", lab_dir);
    if (log_open("traces", path)) fprintf(stderr, "aiopslab traces: cannot open %s, logging to stderr\n", path);
    if (debug) log_set_level(LOG_DEBUG);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread starts: they all inherit it */
    signal(SIGPIPE, SIG_IGN);

    pthread_mutex_init(&T.mu, NULL);
    pthread_cond_init(&T.cv, NULL);
    pthread_mutex_init(&T.readers_mu, NULL);
    trace_batch_init(&T.queue);
    snprintf(T.db_path, sizeof T.db_path, "%s/traces/traces.db", lab_dir);
    if (trace_store_open(T.db_path, 1, &T.writer, err, sizeof err)) {
        log_error("cannot open the store: %s", err);
        fprintf(stderr, "aiopslab traces: %s\n", err);
        return 1;
    }
    pthread_t writer;
    if (pthread_create(&writer, NULL, writer_main, NULL)) {
        log_error("cannot start the writer thread");
        trace_store_close(T.writer);
        return 1;
    }
    pthread_setname_np(writer, "trace-writer"); /* bench/traces.sh ingest tells its cpu apart by this name */
    uint32_t ip = (127u << 24) | ((uint32_t)net << 16) | 1;
    struct MHD_Daemon *otlp = serve(ip, TRACES_OTLP_PORT, on_otlp, 1);
    struct MHD_Daemon *query = otlp ? serve(ip, TRACES_QUERY_PORT, on_query, 0) : NULL;
    int rc = 0;
    if (!otlp || !query) {
        log_error("cannot listen on 127.%d.0.1:%d: %s", net, otlp ? TRACES_QUERY_PORT : TRACES_OTLP_PORT,
                  strerror(errno));
        fprintf(stderr, "aiopslab traces: cannot listen on 127.%d.0.1:%d\n", net,
                otlp ? TRACES_QUERY_PORT : TRACES_OTLP_PORT);
        rc = 1;
    } else {
        snprintf(path, sizeof path, "%s/traces/traces.pid", lab_dir);
        char pid[32];
        int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
        if (write_file_atomic(path, pid, (size_t)n)) log_warn("cannot write %s", path);
        log_info("traces up: OTLP 127.%d.0.1:%d, query 127.%d.0.1:%d, max %ld spans, max age %llds", net,
                 TRACES_OTLP_PORT, net, TRACES_QUERY_PORT, T.max_spans, (long long)(T.max_age_us / 1000000));
        for (;;) {
            int sig = 0;
            if (sigwait(&set, &sig)) continue;
            if (sig == SIGHUP) continue;
            log_info("signal %d: stopping", sig);
            break;
        }
        unlink(path);
    }
    if (query) MHD_stop_daemon(query);
    if (otlp) MHD_stop_daemon(otlp);
    pthread_mutex_lock(&T.mu);
    T.stop = 1;
    pthread_cond_signal(&T.cv);
    pthread_mutex_unlock(&T.mu);
    pthread_join(writer, NULL);
    for (int i = 0; i < T.n_readers; i++) trace_store_close(T.readers[i]);
    trace_store_close(T.writer);
    log_info("traces stopped: %llu spans stored, %llu dropped, %llu rejected", (unsigned long long)T.stored,
             (unsigned long long)T.dropped, (unsigned long long)T.rejected);
    return rc;
bad:
    usage();
    return 2;
}
