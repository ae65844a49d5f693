/* server.c: the service — configuration, routing, probes, metrics and the
 * libmicrohttpd server with its graceful shutdown.
 *
 * kit_new reads the environment (see kit.h) and registers the metric
 * families; kit_handle adds exact-path routes. kit_serve starts
 * libmicrohttpd with a pool of KIT_THREADS threads, each running its
 * connections' handlers synchronously (a handler may block on kit_call or
 * a store: the pool size bounds the concurrency, as a Go server's would
 * be bounded by its downstream pools). Around every request the server
 * continues or begins the trace, counts it in flight, buffers the body up
 * to KIT_MAX_BODY (413 beyond), answers the built-in GET /healthz, /readyz
 * and /metrics, and on completion records the status and duration and
 * finishes the server span. SIGTERM/SIGINT are taken with sigwait on the
 * main thread: the listening socket is closed, requests in flight get up
 * to 10 s to finish, spans are flushed, and kit_serve returns 0.
 */
#include "kit_int.h"
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HEADER_MEMORY (32 * 1024) /* request line + headers: beyond it, 431 */
#define DRAIN_SECONDS 10

static long env_long(struct kit *k, const char *name, long def, long min, long max)
{
    const char *v = getenv(name);
    long out;
    if (!v || !*v) return def;
    if (kit__parse_long(v, min, max, &out) < 0) {
        kit_logf(k, KIT_ERROR, "bad configuration: %s=%s is not a number in [%ld, %ld]", name, v, min, max);
        exit(1);
    }
    return out;
}

/* The signals that stop a service: SIGTERM and SIGINT. */
static void stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
}

struct kit *kit_new(const char *service)
{
    /* SIGTERM/SIGINT are taken by kit_serve's sigwait: block them now, before
     * the app or the kit start threads that would otherwise receive them. */
    sigset_t set;
    stop_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct kit *k = kit__xmalloc(sizeof *k);
    memset(k, 0, sizeof *k);
    pthread_mutex_init(&k->log_mu, NULL);
    k->service = kit__xstrdup(service);
    k->level = KIT_INFO;
    const char *lv = getenv("LOG_LEVEL");
    if (lv && *lv && kit__level_parse(lv, &k->level) < 0) {
        kit_logf(k, KIT_ERROR, "bad configuration: LOG_LEVEL=%s (want debug, info, warn or error)", lv);
        exit(1);
    }
    if (!getenv("PORT") || !*getenv("PORT")) {
        kit_logf(k, KIT_ERROR, "bad configuration: PORT is not set");
        exit(1);
    }
    k->port = (int)env_long(k, "PORT", 0, 1, 65535);
    k->threads = (int)env_long(k, "KIT_THREADS", 4, 1, 256);
    k->call_timeout_ms = env_long(k, "KIT_CALL_TIMEOUT_MS", 2000, 1, 600000);
    k->call_retries = (int)env_long(k, "KIT_CALL_RETRIES", 1, 0, 10);
    k->retry_backoff_ms = env_long(k, "KIT_RETRY_BACKOFF_MS", 50, 0, 60000);
    const char *retry_on = getenv("KIT_RETRY_ON");
    char rerr[160];
    if (!retry_on) retry_on = "connect";
    if (kit__retry_on_parse(retry_on, &k->retry_on, rerr, sizeof rerr) < 0) {
        kit_logf(k, KIT_ERROR, "bad configuration: KIT_RETRY_ON=%s: %s", retry_on, rerr);
        exit(1);
    }
    k->max_body = (size_t)env_long(k, "KIT_MAX_BODY", 1 << 20, 0, 1L << 30);
    const char *otlp = getenv("OTEL_EXPORTER_OTLP_ENDPOINT");
    if (otlp && *otlp) {
        if (strncmp(otlp, "http://", 7) && strncmp(otlp, "https://", 8)) {
            kit_logf(k, KIT_ERROR,
                     "bad configuration: OTEL_EXPORTER_OTLP_ENDPOINT=%s is not an "
                     "http(s) URL",
                     otlp);
            exit(1);
        }
        k->otlp_url = kit__xstrdup(otlp);
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
        kit_logf(k, KIT_ERROR, "curl_global_init failed");
        exit(1);
    }

    struct kit_metrics *m = k->metrics = kit__metrics_new();
    const char *l_req[] = {"service", "operation", "method", "status"};
    const char *l_op[] = {"service", "operation"};
    const char *l_svc[] = {"service"};
    const char *l_cli[] = {"service", "downstream", "status"};
    const char *l_down[] = {"service", "downstream"};
    const char *l_err[] = {"service", "downstream", "reason"};
    const char *l_db[] = {"service", "system", "operation", "status"};
    const char *l_dbd[] = {"service", "system"};
    k->m_req_total = kit__family(m, "http_server_requests_total", "HTTP requests served, by operation and status.",
                                 KIT_COUNTER, 4, l_req);
    k->m_req_dur = kit__family(m, "http_server_request_duration_seconds",
                               "Time to serve an HTTP request, by operation.", KIT_HISTOGRAM, 2, l_op);
    k->m_inflight =
        kit__family(m, "http_server_requests_in_flight", "HTTP requests being served.", KIT_GAUGE, 1, l_svc);
    k->m_cli_total = kit__family(m, "http_client_requests_total",
                                 "Outbound calls to other services, by "
                                 "downstream and status (error: no response).",
                                 KIT_COUNTER, 3, l_cli);
    k->m_cli_dur = kit__family(m, "http_client_request_duration_seconds",
                               "Time of an outbound call, retries included, by downstream.", KIT_HISTOGRAM, 2, l_down);
    k->m_down_err = kit__family(m, "downstream_errors_total",
                                "Failed outbound calls, by downstream and reason "
                                "(refused, timeout, reset, dns, "
                                "http_5xx, other).",
                                KIT_COUNTER, 3, l_err);
    const char *l_retry[] = {"service", "downstream", "reason"};
    k->m_retries = kit__family(m, "http_client_retries_total",
                               "Outbound calls sent again, by downstream and the failure retried "
                               "(connect, timeout, 5xx, reset).",
                               KIT_COUNTER, 3, l_retry);
    k->m_db_total = kit__family(m, "db_client_operations_total", "Store operations, by system, operation and status.",
                                KIT_COUNTER, 4, l_db);
    k->m_db_dur = kit__family(m, "db_client_operation_duration_seconds", "Time of a store operation, by system.",
                              KIT_HISTOGRAM, 2, l_dbd);
    k->m_dropped = kit__family(m, "trace_spans_dropped_total",
                               "Spans dropped because the export queue was full "
                               "or the collector failed.",
                               KIT_COUNTER, 1, l_svc);
    const char *v[] = {k->service};
    kit__metric_add(k->m_inflight, 0, v);
    kit__metric_add(k->m_dropped, 0, v);
    return k;
}

void kit_handle(struct kit *k, const char *method, const char *path, const char *operation, kit_handler h, void *arg)
{
    if (k->nroutes >= KIT_MAX_ROUTES) {
        kit_logf(k, KIT_ERROR, "too many routes (at most %d)", KIT_MAX_ROUTES);
        exit(1);
    }
    struct kit_route *rt = &k->routes[k->nroutes++];
    rt->method = kit__xstrdup(method);
    rt->path = kit__xstrdup(path);
    rt->operation = kit__xstrdup(operation);
    rt->h = h;
    rt->arg = arg;
}

void kit__register_pool(struct kit *k, int (*warm)(void *), void *pool)
{
    if (k->npools >= KIT_MAX_POOLS) {
        kit_logf(k, KIT_ERROR, "too many store pools (at most %d)", KIT_MAX_POOLS);
        exit(1);
    }
    struct kit_poolref *p = &k->pools[k->npools++];
    p->warm = warm;
    p->pool = pool;
    atomic_store(&p->ok, 0);
}

struct kit_span *kit__child_span(struct kit *k, struct kit_req *r, const char *name, int kind)
{
    return kit__span_new(k, r ? r->span : NULL, name, kind);
}

static int is_ready(struct kit *k, char *why, size_t whylen)
{
    if (!atomic_load(&k->listening) || atomic_load(&k->stopping)) {
        snprintf(why, whylen, "not ready: %s", atomic_load(&k->stopping) ? "shutting down" : "starting");
        return 0;
    }
    for (int i = 0; i < k->npools; i++)
        if (!atomic_load(&k->pools[i].ok)) {
            snprintf(why, whylen, "not ready: waiting for the first store connections");
            return 0;
        }
    return 1;
}

/* ---- the request's life ---- */

static const struct kit_route *find_route(struct kit *k, const char *method, const char *path, int *path_known)
{
    *path_known = 0;
    for (int i = 0; i < k->nroutes; i++) {
        if (strcmp(k->routes[i].path, path)) continue;
        *path_known = 1;
        if (!strcmp(k->routes[i].method, method) || (!strcmp(method, "HEAD") && !strcmp(k->routes[i].method, "GET")))
            return &k->routes[i];
    }
    return NULL;
}

static int builtin(const char *method, const char *path)
{
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) return 0;
    if (!strcmp(path, "/healthz")) return 1;
    if (!strcmp(path, "/readyz")) return 2;
    if (!strcmp(path, "/metrics")) return 3;
    return 0;
}

static void dispatch(struct kit_req *r)
{
    struct kit *k = r->k;
    if (r->too_big) {
        kit_reply_error(r, 413, "request body larger than %zu bytes", k->max_body);
        return;
    }
    char why[128];
    switch (builtin(r->method, r->path)) {
    case 1:
        kit_reply_text(r, 200, "text/plain; charset=utf-8", "ok\n");
        return;
    case 2:
        if (is_ready(k, why, sizeof why))
            kit_reply_text(r, 200, "text/plain; charset=utf-8", "ready\n");
        else {
            size_t n = strlen(why);
            char *b = kit__xmalloc(n + 2);
            memcpy(b, why, n);
            b[n] = '\n';
            b[n + 1] = '\0';
            kit__reply(r, 503, "text/plain; charset=utf-8", b, n + 1);
        }
        return;
    case 3: {
        size_t len;
        char *text = kit__metrics_render(k->metrics, 1, &len);
        kit__reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
        return;
    }
    }
    int path_known;
    const struct kit_route *rt = find_route(k, r->method, r->path, &path_known);
    if (!rt) {
        if (path_known)
            kit_reply_error(r, 405, "method %s not allowed on %s", r->method, r->path);
        else
            kit_reply_error(r, 404, "no route for %s %s", r->method, r->path);
        return;
    }
    if (kit__flags_apply(r)) return;
    rt->h(r, rt->arg);
    if (!r->replied) kit_reply_error(r, 500, "handler of %s returned no reply", rt->operation);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    struct kit *k = cls;
    struct kit_req *r = *con_cls;
    if (!r) {
        r = kit__xmalloc(sizeof *r);
        memset(r, 0, sizeof *r);
        r->k = k;
        r->conn = conn;
        r->method = method;
        r->path = url;
        r->start_mono = kit__mono_ns();
        *con_cls = r;
        atomic_fetch_add(&k->inflight, 1);
        const char *v[] = {k->service};
        kit__metric_add(k->m_inflight, 1, v);
        int known, b = builtin(method, url);
        const struct kit_route *rt = find_route(k, method, url, &known);
        r->route = rt;
        r->operation = b == 1 ? "healthz" : b == 2 ? "readyz" : b == 3 ? "metrics" : rt ? rt->operation : "unknown";
        r->span = kit__span_new(k, NULL, r->operation, KIT_SPAN_SERVER);
        struct kit_trace_ctx ctx;
        const char *tp = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "traceparent");
        if (tp && kit__traceparent_parse(tp, &ctx) == 0) {
            memcpy(r->span->trace_id, ctx.trace_id, 16);
            memcpy(r->span->parent_id, ctx.span_id, 8);
            r->span->has_parent = 1;
            r->span->flags = ctx.flags;
        }
        if (b) r->span->flags = 0; /* probes and scrapes are not traced */
        kit__hex(r->span->trace_id, 16, r->trace_hex);
        kit__hex(r->span->span_id, 8, r->span_hex);
        kit_span_attr(r->span, "http.method", method);
        kit_span_attr(r->span, "http.target", url);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        long n;
        if (cl && (kit__parse_long(cl, 0, 1L << 62, &n) < 0 || (size_t)n > k->max_body)) {
            r->too_big = 1; /* answer now, without reading the body */
            dispatch(r);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!r->too_big && !r->replied) {
            if (r->len + *upload_size > k->max_body) {
                r->too_big = 1;
                free(r->body);
                r->body = NULL;
                r->len = r->cap = 0;
            } else {
                if (r->len + *upload_size + 1 > r->cap) {
                    r->cap = (r->len + *upload_size + 1) * 2;
                    if (r->cap > k->max_body + 1) r->cap = k->max_body + 1;
                    r->body = kit__xrealloc(r->body, r->cap);
                }
                memcpy(r->body + r->len, upload, *upload_size);
                r->len += *upload_size;
                r->body[r->len] = '\0';
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (!r->replied) dispatch(r);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    struct kit *k = cls;
    struct kit_req *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    int status = r->replied ? r->status : 499; /* the client went away first */
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    double secs = (double)(kit__mono_ns() - r->start_mono) / 1e9;
    const char *lv[] = {k->service, r->operation, r->method, code};
    kit__metric_add(k->m_req_total, 1, lv);
    const char *dv[] = {k->service, r->operation};
    kit__metric_observe(k->m_req_dur, secs, dv);
    const char *v[] = {k->service};
    kit__metric_add(k->m_inflight, -1, v);
    char st[8];
    snprintf(st, sizeof st, "%d", status);
    kit_span_attr(r->span, "http.status_code", st);
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && r->replied && status < 500)
        kit_span_attr(r->span, "error.detail", "connection closed before the reply was sent");
    if (k->level <= KIT_DEBUG) {
        char line[512];
        snprintf(line, sizeof line, "%s %s %d %.3f ms", r->method, r->path, status, secs * 1000);
        kit__log_line(k, KIT_DEBUG, r->trace_hex, r->span_hex, line);
    }
    if (status >= 500 && !r->span->error) {
        r->span->error = 1;
        if (!r->span->status_msg) r->span->status_msg = kit__xstrdup(code);
    }
    kit__span_finish(r->span, NULL);
    r->span = NULL;
    kit__req_free(r);
    atomic_fetch_sub(&k->inflight, 1);
}

/* ---- readiness of the store pools ---- */

static void *warm_loop(void *arg)
{
    struct kit *k = arg;
    int logged = 0;
    while (!atomic_load(&k->stopping)) {
        int all = 1;
        for (int i = 0; i < k->npools; i++) {
            if (atomic_load(&k->pools[i].ok)) continue;
            if (k->pools[i].warm(k->pools[i].pool) == 0)
                atomic_store(&k->pools[i].ok, 1);
            else
                all = 0;
        }
        if (all) {
            if (logged) kit_logf(k, KIT_INFO, "all store connections established");
            return NULL;
        }
        logged = 1;
        for (int i = 0; i < 10 && !atomic_load(&k->stopping); i++) {
            struct timespec ts = {0, 50 * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* ---- serving ---- */

void kit_pause(struct kit *k, unsigned ms)
{
    sigset_t set;
    stop_signals(&set);
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    int sig = sigtimedwait(&set, NULL, &ts);
    if (sig == SIGTERM || sig == SIGINT) {
        kit_logf(k, KIT_INFO, "received %s before serving, exiting", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        exit(0);
    }
}

int kit_serve(struct kit *k)
{
    sigset_t set;
    stop_signals(&set);
    /* Blocked before any thread exists, so that sigwait below takes them. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (k->otlp_url) k->exporter = kit__exporter_start(k, k->otlp_url);
    kit__flags_init(k);
    k->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_EPOLL, (uint16_t)k->port, NULL, NULL,
                         on_request, k, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)k->threads, MHD_OPTION_NOTIFY_COMPLETED,
                         on_completed, k, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HEADER_MEMORY,
                         MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
    if (!k->daemon) {
        int e = errno;
        kit_logf(k, KIT_ERROR, "listen on :%d failed: %s", k->port, strerror(e ? e : EADDRINUSE));
        kit__exporter_stop(k->exporter);
        k->exporter = NULL;
        return 1;
    }
    atomic_store(&k->listening, 1);
    char policy[64];
    kit__retry_on_format(k->retry_on, policy, sizeof policy);
    kit_logf(k, KIT_INFO, "%s listening on :%d (%d threads; calls: timeout %ld ms, %d retries on %s, back-off %ld ms)",
             k->service, k->port, k->threads, k->call_timeout_ms, k->call_retries, policy, k->retry_backoff_ms);
    if (k->npools && !pthread_create(&k->warm_thread, NULL, warm_loop, k)) k->warm_started = 1;

    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    kit_logf(k, KIT_INFO, "received %s, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    atomic_store(&k->stopping, 1);
    MHD_socket lfd = MHD_quiesce_daemon(k->daemon);
    if (lfd != MHD_INVALID_SOCKET) close(lfd);
    uint64_t deadline = kit__mono_ns() + DRAIN_SECONDS * 1000000000ull;
    while (atomic_load(&k->inflight) > 0 && kit__mono_ns() < deadline) {
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    int left = atomic_load(&k->inflight);
    if (left > 0) kit_logf(k, KIT_WARN, "%d requests still in flight after %d s; closing them", left, DRAIN_SECONDS);
    MHD_stop_daemon(k->daemon);
    k->daemon = NULL;
    if (k->warm_started) pthread_join(k->warm_thread, NULL);
    k->warm_started = 0;
    kit__exporter_stop(k->exporter);
    k->exporter = NULL;
    kit_logf(k, KIT_INFO, "stopped");
    return 0;
}

void kit_free(struct kit *k)
{
    if (!k) return;
    if (k->daemon) MHD_stop_daemon(k->daemon);
    kit__exporter_stop(k->exporter);
    for (int i = 0; i < k->nroutes; i++) {
        free(k->routes[i].method);
        free(k->routes[i].path);
        free(k->routes[i].operation);
    }
    kit__metrics_free(k->metrics);
    pthread_mutex_destroy(&k->log_mu);
    free(k->flags_path);
    for (char **s = k->flags_services; s && *s; s++) free(*s);
    free(k->flags_services);
    for (int i = 0; i < k->flags_nwarned; i++) free(k->flags_warned[i]);
    free(k->otlp_url);
    free(k->version);
    free(k->service);
    free(k);
}
