/* export_cmd: `aiopslab observe export [--since 10m] DIR` — the lab's
 * telemetry of a time window written to files, in the shapes AIOpsLab's
 * agents read (../shared/REFERENCE.md):
 *   DIR/metrics/NS.csv     timestamp,cmdb_id,kpi_name,value (Prometheus
 *                          query_range, step 5 s; cmdb_id is the pod, or the
 *                          destination Service for the mesh's series)
 *   DIR/traces/traces.csv  trace_id,span_id,parent_span,service_name,
 *                          operation_name,start_time,duration,has_error,response
 *                          (the trace store's Jaeger API; times in µs)
 *   DIR/logs/NS/POD.log    each pod's log lines in the window, every
 *                          container and run, merged by time
 *   DIR/events.csv         last_seen,type,reason,object,message
 * Each part is exported on its own: a dead Prometheus or trace store is
 * reported and the rest still written (exit 1). */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/prom.h"
#include "cluster/client.h"
#include "cluster/paths.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/lab.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "observe/logq.h"

#define STEP_MIN_S 5
#define POINTS_MAX 10000 /* Prometheus refuses more than 11000 points a series */
#define NS_FILES_MAX 256
#define RUNS_MAX 32      /* runs of a container read for its logs */
#define TRACE_PAGE 1500  /* traces asked per service (the store's maximum) */

static int usage(FILE *f)
{
    fprintf(f, "Usage: aiopslab [--lab NAME] observe export [--since 10m] DIR\n"
               "  writes DIR/metrics/NAMESPACE.csv (timestamp,cmdb_id,kpi_name,value),\n"
               "  DIR/traces/traces.csv (trace_id,span_id,parent_span,service_name,operation_name,\n"
               "  start_time,duration,has_error,response), DIR/logs/NAMESPACE/POD.log and\n"
               "  DIR/events.csv (last_seen,type,reason,object,message) for the last --since\n"
               "  (a duration: 30s, 10m, 1h; default 10m). --only metrics|traces|logs|events\n"
               "  writes that part alone.\n");
    return f == stdout ? 0 : 2;
}

/* One field of a CSV row (RFC 4180): quoted when it holds a comma, quote or line break. */
static void csv_field(FILE *f, const char *s, int last)
{
    if (!s) s = "";
    if (strpbrk(s, ",\"\r\n")) {
        fputc('"', f);
        for (const char *p = s; *p; p++) {
            if (*p == '"') fputc('"', f);
            fputc(*p, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
    fputc(last ? '\n' : ',', f);
}

/* Whether s is safe as one path component (Kubernetes names are). */
static int name_ok(const char *s)
{
    if (!*s || !strcmp(s, ".") || !strcmp(s, "..") || strlen(s) > 253) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
              *p == '.' || *p == '_'))
            return 0;
    return 1;
}

/* Close f, reporting a write failure of path. 0 or -1. */
static int close_checked(FILE *f, const char *path)
{
    int bad = ferror(f);
    if (fclose(f) || bad) {
        fprintf(stderr, "aiopslab: observe export: writing %s failed\n", path);
        return -1;
    }
    return 0;
}

struct part_result {
    size_t files, rows;
    int failed;
};

/* ---- metrics ----------------------------------------------------------- */

/* A series set: the PromQL, which labels hold the namespace and the
 * cmdb_id, and a label whose value is appended to the kpi name. */
struct metric_query {
    const char *kpi;
    const char *promql;
    const char *ns_label, *id_label, *suffix_label;
};

static const struct metric_query metric_queries[] = {
    {"container_cpu_usage_seconds_total",
     "sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{container!=\"\"}[30s]))", "namespace", "pod", NULL},
    {"container_memory_working_set_bytes",
     "sum by (namespace, pod) (container_memory_working_set_bytes{container!=\"\"})", "namespace", "pod", NULL},
    {"container_threads", "sum by (namespace, pod) (container_threads{container!=\"\"})", "namespace", "pod", NULL},
    {"kube_pod_container_status_restarts_total", "sum by (namespace, pod) (kube_pod_container_status_restarts_total)",
     "namespace", "pod", NULL},
    {"http_server_requests_total", "sum by (namespace, pod, status) (rate(http_server_requests_total[30s]))",
     "namespace", "pod", "status"},
    {"mesh_requests_total",
     "sum by (destination_namespace, destination_service, response_code) (rate(mesh_requests_total[30s]))",
     "destination_namespace", "destination_service", "response_code"},
    {"mesh_request_duration_seconds_p99",
     "histogram_quantile(0.99, sum by (le, destination_namespace, destination_service) "
     "(rate(mesh_request_duration_seconds_bucket[30s])))",
     "destination_namespace", "destination_service", NULL},
};

struct ns_file {
    char ns[254];
    char path[PATH_MAX];
    FILE *f;
    size_t rows;
};

/* The open CSV of namespace ns, created with its header on first use; NULL
 * when it cannot be (reported once through *failed). */
static struct ns_file *ns_file_get(struct ns_file *files, size_t *n, const char *dir, const char *ns, int *failed)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(files[i].ns, ns)) return files[i].f ? &files[i] : NULL;
    if (*n >= NS_FILES_MAX || !name_ok(ns)) return NULL;
    struct ns_file *nf = &files[(*n)++];
    memset(nf, 0, sizeof *nf);
    strlcpy_checked(nf->ns, ns, sizeof nf->ns);
    if (snprintf(nf->path, sizeof nf->path, "%s/metrics/%s.csv", dir, ns) >= (int)sizeof nf->path) return NULL;
    nf->f = fopen(nf->path, "w");
    if (!nf->f) {
        fprintf(stderr, "aiopslab: observe export: %s: %s\n", nf->path, strerror(errno));
        *failed = 1;
        return NULL;
    }
    fputs("timestamp,cmdb_id,kpi_name,value\n", nf->f);
    return nf;
}

static struct part_result export_metrics(const struct lab *lab, const char *dir, uint64_t start_ns, uint64_t end_ns)
{
    struct part_result res = {0};
    char path[PATH_MAX], err[1024];
    snprintf(path, sizeof path, "%s/metrics", dir);
    if (mkdir_p(path, 0755)) {
        fprintf(stderr, "aiopslab: observe export: cannot create %s\n", path);
        res.failed = 1;
        return res;
    }
    uint64_t window_s = (end_ns - start_ns) / 1000000000u;
    uint64_t step = window_s / POINTS_MAX + 1;
    if (step < STEP_MIN_S) step = STEP_MIN_S;
    char start[32], end[32], stepstr[32];
    snprintf(start, sizeof start, "%.3f", (double)start_ns / 1e9);
    snprintf(end, sizeof end, "%.3f", (double)end_ns / 1e9);
    snprintf(stepstr, sizeof stepstr, "%llus", (unsigned long long)step);
    struct ns_file *files = calloc(NS_FILES_MAX, sizeof *files);
    size_t nfiles = 0;
    if (!files) {
        fprintf(stderr, "aiopslab: observe export: out of memory\n");
        res.failed = 1;
        return res;
    }
    for (size_t q = 0; q < sizeof metric_queries / sizeof metric_queries[0]; q++) {
        const struct metric_query *mq = &metric_queries[q];
        const char *params[] = {"query", mq->promql, "start", start, "end", end, "step", stepstr, NULL};
        json_t *r = NULL;
        int rc = prom_get(lab, "/api/v1/query_range", params, &r, err, sizeof err);
        if (rc) {
            fprintf(stderr, "aiopslab: observe export: metrics: %s\n", err);
            res.failed = 1;
            if (rc == -EINVAL) continue; /* this query only */
            break;                       /* Prometheus is down: the other queries would fail alike */
        }
        size_t i;
        json_t *series;
        json_array_foreach(json_path(r, "data.result"), i, series) {
            json_t *labels = json_object_get(series, "metric");
            const char *ns = json_path_str(labels, mq->ns_label, "");
            const char *id = json_path_str(labels, mq->id_label, "");
            if (!*ns || !*id) continue;
            struct ns_file *nf = ns_file_get(files, &nfiles, dir, ns, &res.failed);
            if (!nf) continue;
            char kpi[512];
            if (mq->suffix_label)
                snprintf(kpi, sizeof kpi, "%s:%s", mq->kpi, json_path_str(labels, mq->suffix_label, ""));
            else
                snprintf(kpi, sizeof kpi, "%s", mq->kpi);
            size_t j;
            json_t *point;
            json_array_foreach(json_object_get(series, "values"), j, point) {
                const char *value = json_string_value(json_array_get(point, 1));
                if (!value || !strcmp(value, "NaN")) continue;
                fprintf(nf->f, "%lld,", (long long)json_number_value(json_array_get(point, 0)));
                csv_field(nf->f, id, 0);
                csv_field(nf->f, kpi, 0);
                csv_field(nf->f, value, 1);
                nf->rows++;
            }
        }
        json_decref(r);
    }
    for (size_t i = 0; i < nfiles; i++) {
        if (!files[i].f) continue;
        if (close_checked(files[i].f, files[i].path)) res.failed = 1;
        printf("metrics  %-60s %8zu rows\n", files[i].path, files[i].rows);
        res.files++;
        res.rows += files[i].rows;
    }
    free(files);
    return res;
}

/* ---- traces ------------------------------------------------------------ */

/* GET path on the trace store's query API; its "data" (new reference) or
 * NULL with err set. */
static json_t *jaeger_get(const struct lab *lab, const char *path, char *err, size_t errlen)
{
    char ip[16], url[4096];
    lab_node_ip(lab, ip, sizeof ip);
    if (snprintf(url, sizeof url, "http://%s:%d%s", ip, LAB_TRACES_QUERY_PORT, path) >= (int)sizeof url) {
        snprintf(err, errlen, "query too long");
        return NULL;
    }
    json_t *root = NULL;
    long status = 0;
    int rc = prom_http_get_json(url, &root, &status, err, errlen);
    if (rc == -ECONNREFUSED) {
        snprintf(err, errlen, "the trace store of lab \"%s\" is not running (nothing answers on http://%s:%d)",
                 lab->name, ip, LAB_TRACES_QUERY_PORT);
        return NULL;
    }
    if (rc) return NULL;
    json_t *errors = json_object_get(root, "errors");
    if (status != 200 || json_array_size(errors)) {
        const char *msg = json_string_value(json_object_get(json_array_get(errors, 0), "msg"));
        snprintf(err, errlen, "%s: %s", path, msg ? msg : "the trace query failed");
        json_decref(root);
        return NULL;
    }
    json_t *data = json_incref(json_object_get(root, "data"));
    json_decref(root);
    return data;
}

/* The value of tag key of a span as text into out ("" when absent). */
static void span_tag(const json_t *span, const char *key, char *out, size_t n)
{
    out[0] = '\0';
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(span, "tags"), i, t) {
        const char *k = json_string_value(json_object_get(t, "key"));
        if (!k || strcmp(k, key)) continue;
        json_t *v = json_object_get(t, "value");
        if (json_is_string(v)) snprintf(out, n, "%s", json_string_value(v));
        else if (json_is_integer(v)) snprintf(out, n, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v)) snprintf(out, n, "%g", json_real_value(v));
        else if (json_is_boolean(v)) snprintf(out, n, "%s", json_is_true(v) ? "true" : "false");
        return;
    }
}

static struct part_result export_traces(const struct lab *lab, const char *dir, uint64_t start_ns, uint64_t end_ns)
{
    struct part_result res = {0};
    char path[PATH_MAX], err[1024];
    snprintf(path, sizeof path, "%s/traces", dir);
    if (mkdir_p(path, 0755)) {
        fprintf(stderr, "aiopslab: observe export: cannot create %s\n", path);
        res.failed = 1;
        return res;
    }
    json_t *services = jaeger_get(lab, "/api/services", err, sizeof err);
    if (!services) {
        fprintf(stderr, "aiopslab: observe export: traces: %s\n", err);
        res.failed = 1;
        return res;
    }
    snprintf(path, sizeof path, "%s/traces/traces.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "aiopslab: observe export: %s: %s\n", path, strerror(errno));
        json_decref(services);
        res.failed = 1;
        return res;
    }
    fputs("trace_id,span_id,parent_span,service_name,operation_name,start_time,duration,has_error,response\n", f);
    json_t *seen = json_object(); /* trace ids written: a trace shows under each of its services */
    size_t i;
    json_t *svc;
    json_array_foreach(services, i, svc) {
        const char *name = json_string_value(svc);
        if (!name) continue;
        char *esc = curl_easy_escape(NULL, name, 0);
        char q[2048];
        snprintf(q, sizeof q, "/api/traces?service=%s&start=%llu&end=%llu&limit=%d", esc ? esc : "",
                 (unsigned long long)(start_ns / 1000), (unsigned long long)(end_ns / 1000), TRACE_PAGE);
        curl_free(esc);
        json_t *traces = jaeger_get(lab, q, err, sizeof err);
        if (!traces) {
            fprintf(stderr, "aiopslab: observe export: traces of %s: %s\n", name, err);
            res.failed = 1;
            continue;
        }
        size_t j;
        json_t *trace;
        json_array_foreach(traces, j, trace) {
            const char *tid = json_string_value(json_object_get(trace, "traceID"));
            if (!tid || json_object_get(seen, tid)) continue;
            json_object_set_new(seen, tid, json_true());
            json_t *processes = json_object_get(trace, "processes");
            size_t k;
            json_t *span;
            json_array_foreach(json_object_get(trace, "spans"), k, span) {
                const char *pid = json_string_value(json_object_get(span, "processID"));
                const char *service = json_path_str(pid ? json_object_get(processes, pid) : NULL, "serviceName", "");
                json_t *ref = json_array_get(json_object_get(span, "references"), 0);
                char err_tag[16], response[64];
                span_tag(span, "error", err_tag, sizeof err_tag);
                span_tag(span, "http.status_code", response, sizeof response);
                if (!response[0]) span_tag(span, "otel.status_code", response, sizeof response);
                csv_field(f, tid, 0);
                csv_field(f, json_string_value(json_object_get(span, "spanID")), 0);
                csv_field(f, json_string_value(json_object_get(ref, "spanID")), 0);
                csv_field(f, service, 0);
                csv_field(f, json_string_value(json_object_get(span, "operationName")), 0);
                fprintf(f, "%lld,%lld,", (long long)json_integer_value(json_object_get(span, "startTime")),
                        (long long)json_integer_value(json_object_get(span, "duration")));
                csv_field(f, !strcmp(err_tag, "true") ? "True" : "False", 0);
                csv_field(f, response, 1);
                res.rows++;
            }
        }
        json_decref(traces);
    }
    json_decref(seen);
    json_decref(services);
    if (close_checked(f, path)) res.failed = 1;
    res.files = 1;
    printf("traces   %-60s %8zu rows\n", path, res.rows);
    return res;
}

/* ---- logs and events (the daemon) -------------------------------------- */

/* Every object of kind in every namespace; NULL after printing why. */
static json_t *daemon_list(const struct lab *lab, const char *kind)
{
    char err[512];
    json_t *req = json_pack("{s:s, s:s, s:n}", "op", "get", "kind", kind, "namespace");
    json_t *reply = NULL;
    int rc = cluster_call(lab, req, &reply, err, sizeof err);
    json_decref(req);
    if (rc) {
        if (rc == -ECONNREFUSED || rc == -ENOENT)
            fprintf(stderr, "aiopslab: observe export: lab \"%s\" is not running (`aiopslab cluster up`): %s\n",
                    lab->name, err);
        else
            fprintf(stderr, "aiopslab: observe export: %s\n", err);
        return NULL;
    }
    json_t *e = json_object_get(reply, "error");
    if (e) {
        fprintf(stderr, "aiopslab: observe export: %s\n", json_path_str(e, "message", "the daemon refused"));
        json_decref(reply);
        return NULL;
    }
    json_t *items = json_incref(json_object_get(reply, "items"));
    json_decref(reply);
    return json_is_array(items) ? items : (json_decref(items), json_array());
}

/* Read every run of every container of a pod (init containers too) into set. */
static void read_pod_logs(const struct lab *lab, const json_t *pod, struct logq_set *set, const struct logq_filter *f)
{
    const char *uid = json_path_str(pod, "metadata.uid", "");
    json_t *containers = json_array(), *list;
    if ((list = json_path(pod, "spec.initContainers"))) json_array_extend(containers, list);
    if ((list = json_path(pod, "spec.containers"))) json_array_extend(containers, list);
    size_t i;
    json_t *c;
    json_array_foreach(containers, i, c) {
        const char *cname = json_path_str(c, "name", "");
        int runs[RUNS_MAX];
        size_t n = logq_list_runs(lab, uid, cname, runs, RUNS_MAX);
        for (size_t r = n; r > 0; r--) { /* oldest first */
            char rundir[PATH_MAX];
            if (cluster_run_dir(lab, uid, cname, runs[r - 1], rundir, sizeof rundir)) continue;
            int rc = logq_read_run(set, rundir, cname, f, 0);
            if (rc && rc != -ENOENT) fprintf(stderr, "aiopslab: observe export: reading %s: %s\n", rundir, strerror(-rc));
        }
    }
    json_decref(containers);
}

static struct part_result export_logs(const struct lab *lab, const char *dir, uint64_t start_ns)
{
    struct part_result res = {0};
    json_t *pods = daemon_list(lab, "Pod");
    if (!pods) {
        res.failed = 1;
        return res;
    }
    struct logq_filter filter;
    char err[256];
    logq_filter_init(&filter, start_ns, LOGQ_LEVEL_NONE, NULL, err, sizeof err);
    size_t i;
    json_t *pod;
    json_array_foreach(pods, i, pod) {
        const char *ns = json_path_str(pod, "metadata.namespace", ""), *name = json_path_str(pod, "metadata.name", "");
        if (!name_ok(ns) || !name_ok(name) || !*json_path_str(pod, "metadata.uid", "")) continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/logs/%s", dir, ns);
        if (mkdir_p(path, 0755)) {
            fprintf(stderr, "aiopslab: observe export: cannot create %s\n", path);
            res.failed = 1;
            continue;
        }
        snprintf(path, sizeof path, "%s/logs/%s/%s.log", dir, ns, name);
        struct logq_set set;
        logq_set_init(&set, 0);
        read_pod_logs(lab, pod, &set, &filter);
        logq_sort(&set);
        int multi = json_array_size(json_path(pod, "spec.containers")) + json_array_size(json_path(pod, "spec.initContainers")) > 1;
        FILE *f = fopen(path, "w");
        if (!f) {
            fprintf(stderr, "aiopslab: observe export: %s: %s\n", path, strerror(errno));
            res.failed = 1;
        } else {
            for (size_t k = 0; k < set.n; k++) {
                const struct logq_line *l = &set.lines[k];
                char t[40] = "";
                if (l->ts_ns) time_rfc3339_nano(l->ts_ns, t, sizeof t);
                fprintf(f, "%s ", t[0] ? t : "-");
                if (multi) fprintf(f, "[%s] ", l->source);
                fwrite(l->text, 1, l->len, f);
                fputc('\n', f);
            }
            if (close_checked(f, path)) res.failed = 1;
            res.files++;
            res.rows += set.n;
        }
        if (set.dropped)
            fprintf(stderr, "aiopslab: observe export: %s: %zu lines left out past the %u MiB bound\n", path, set.dropped,
                    LOGQ_MAX_BYTES >> 20);
        logq_set_free(&set);
    }
    logq_filter_free(&filter);
    json_decref(pods);
    char logs[PATH_MAX];
    snprintf(logs, sizeof logs, "%s/logs", dir);
    printf("logs     %-60s %8zu lines in %zu files\n", logs, res.rows, res.files);
    return res;
}

static struct part_result export_events(const struct lab *lab, const char *dir, uint64_t start_ns)
{
    struct part_result res = {0};
    json_t *events = daemon_list(lab, "Event");
    if (!events) {
        res.failed = 1;
        return res;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/events.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "aiopslab: observe export: %s: %s\n", path, strerror(errno));
        json_decref(events);
        res.failed = 1;
        return res;
    }
    fputs("last_seen,type,reason,object,message\n", f);
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e) {
        const char *last = json_path_str(e, "lastTimestamp", json_path_str(e, "eventTime", ""));
        uint64_t last_ns = 0;
        if (!time_parse_rfc3339(last, &last_ns) && last_ns < start_ns) continue;
        char object[600], kind[64];
        snprintf(kind, sizeof kind, "%s", json_path_str(e, "involvedObject.kind", ""));
        for (char *p = kind; *p; p++)
            if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
        snprintf(object, sizeof object, "%s/%s", kind, json_path_str(e, "involvedObject.name", ""));
        csv_field(f, last, 0);
        csv_field(f, json_path_str(e, "type", ""), 0);
        csv_field(f, json_path_str(e, "reason", ""), 0);
        csv_field(f, object, 0);
        csv_field(f, json_path_str(e, "message", ""), 1);
        res.rows++;
    }
    json_decref(events);
    if (close_checked(f, path)) res.failed = 1;
    res.files = 1;
    printf("events   %-60s %8zu rows\n", path, res.rows);
    return res;
}

int cli_export(int argc, char **argv)
{
    const char *since = "10m", *dir = NULL, *only = NULL;
    static const char *const PARTS[4] = {"metrics", "traces", "logs", "events"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout);
        if (!strcmp(a, "--only") && i + 1 < argc) {
            only = argv[++i];
            int known = 0;
            for (int k = 0; k < 4; k++) known |= !strcmp(only, PARTS[k]);
            if (!known) {
                fprintf(stderr, "aiopslab observe export: --only takes metrics, traces, logs or events\n");
                return usage(stderr);
            }
        } else if (!strcmp(a, "--since")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "aiopslab observe export: --since needs a value\n");
                return usage(stderr);
            }
            since = argv[++i];
        } else if (!strncmp(a, "--since=", 8)) {
            since = a + 8;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "aiopslab observe export: unknown flag \"%s\"\n", a);
            return usage(stderr);
        } else if (!dir) {
            dir = a;
        } else {
            fprintf(stderr, "aiopslab observe export: one DIR only (got \"%s\" and \"%s\")\n", dir, a);
            return usage(stderr);
        }
    }
    uint64_t window_ns;
    if (time_parse_duration(since, &window_ns) || window_ns < 1000000000u ||
        window_ns > 31ull * 86400 * 1000000000ull) {
        fprintf(stderr, "aiopslab observe export: bad --since \"%s\" (a duration from 1s to 31d: 30s, 10m, 1h)\n", since);
        return usage(stderr);
    }
    if (!dir || !*dir || strlen(dir) > PATH_MAX - 600) {
        fprintf(stderr, "aiopslab observe export: DIR is required\n");
        return usage(stderr);
    }
    struct lab lab;
    char err[512];
    if (lab_resolve(NULL, &lab, err, sizeof err)) {
        fprintf(stderr, "aiopslab: %s\n", err);
        return 1;
    }
    if (!lab.net) {
        fprintf(stderr, "aiopslab: lab \"%s\" does not exist (aiopslab cluster up)\n", lab.name);
        return 1;
    }
    int mrc = mkdir_p(dir, 0755);
    if (mrc) {
        fprintf(stderr, "aiopslab observe export: cannot create %s: %s\n", dir, strerror(-mrc));
        return 1;
    }
    uint64_t end_ns = wall_ns(), start_ns = end_ns - window_ns;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct part_result parts[4] = {{0}};
    if (!only || !strcmp(only, PARTS[0])) parts[0] = export_metrics(&lab, dir, start_ns, end_ns);
    if (!only || !strcmp(only, PARTS[1])) parts[1] = export_traces(&lab, dir, start_ns, end_ns);
    if (!only || !strcmp(only, PARTS[2])) parts[2] = export_logs(&lab, dir, start_ns);
    if (!only || !strcmp(only, PARTS[3])) parts[3] = export_events(&lab, dir, start_ns);
    curl_global_cleanup();
    size_t files = 0, rows = 0;
    int failed = 0;
    for (size_t i = 0; i < 4; i++) {
        files += parts[i].files;
        rows += parts[i].rows;
        failed |= parts[i].failed;
    }
    printf("exported %zu files, %zu rows and lines, to %s%s\n", files, rows, dir,
           failed ? " (some parts failed: see above)" : "");
    return failed ? 1 : 0;
}
