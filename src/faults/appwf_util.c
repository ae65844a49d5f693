/* appwf_util: front ends, the mesh's request metrics of a Service, and
 * load runs that live as long as a fault (see appwf_util.h). */
#include "faults/appwf_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "core/util.h"

#define METRICS_MAX (16u << 20)

/* ---- the front end ---------------------------------------------------------- */

const char *fault_app_name(enum fault_app a)
{
    return a == FAULT_APP_SOCIAL ? "social-network" : a == FAULT_APP_HOTEL ? "hotel-reservation" : "other";
}

enum fault_app fault_front_app(const struct fault_ctx *c)
{
    const char *app = json_string_value(json_object_get(c->state, "app"));
    if (app && !strcmp(app, "social-network")) return FAULT_APP_SOCIAL;
    if (app && !strcmp(app, "hotel-reservation")) return FAULT_APP_HOTEL;
    return FAULT_APP_OTHER;
}

int fault_front_resolve(struct fault_ctx *c)
{
    json_t *svc = fault_get(c, "Service", c->target, NULL);
    if (!svc) {
        snprintf(c->err, sizeof c->err, "the front end \"%s\" has no Service of its name in namespace \"%s\"",
                 c->target, c->ns);
        return -1;
    }
    const char *ip = json_path_str(svc, "spec.clusterIP", NULL);
    long long port = json_path_int(json_array_get(json_path(svc, "spec.ports"), 0), "port", 0);
    if (!ip || !ip[0] || !strcmp(ip, "None") || port <= 0 || port > 65535) {
        snprintf(c->err, sizeof c->err, "Service \"%s\" has no ClusterIP and port to send traffic to", c->target);
        json_decref(svc);
        return -1;
    }
    json_object_set_new(c->state, "frontHost", json_string(ip));
    json_object_set_new(c->state, "frontPort", json_integer(port));
    json_decref(svc);
    /* The DeathStarBench apps run as `social-network ROLE` / `hotel-reservation ROLE`. */
    char prog[128];
    fault_deployment_program(c, c->target, prog, sizeof prog);
    enum fault_app app = !strcmp(prog, "social-network")      ? FAULT_APP_SOCIAL
                         : !strcmp(prog, "hotel-reservation") ? FAULT_APP_HOTEL
                                                              : FAULT_APP_OTHER;
    json_object_set_new(c->state, "app", json_string(fault_app_name(app)));
    return 0;
}

/* ---- the mesh's metrics ----------------------------------------------------- */

/* GET /metrics from ip:port (Prometheus text) into out. */
static int metrics_get(struct fault_ctx *c, const char *ip, int port, struct buf *out)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
        snprintf(c->err, sizeof c->err, "bad address %s", ip);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(c->err, sizeof c->err, "socket: %s", strerror(errno));
        return -1;
    }
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char req[128];
    int n = snprintf(req, sizeof req, "GET /metrics HTTP/1.0\r\nHost: %s:%d\r\n\r\n", ip, port);
    int rc = -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        snprintf(c->err, sizeof c->err, "metrics at %s:%d: %s", ip, port, strerror(errno));
        goto out;
    }
    char chunk[65536];
    ssize_t got;
    while ((got = recv(fd, chunk, sizeof chunk, 0)) > 0) {
        if (buf_append(out, chunk, (size_t)got)) {
            snprintf(c->err, sizeof c->err, "metrics at %s:%d are larger than %u bytes", ip, port, METRICS_MAX);
            goto out;
        }
    }
    if (got < 0) {
        snprintf(c->err, sizeof c->err, "reading metrics at %s:%d: %s", ip, port, strerror(errno));
        goto out;
    }
    if (!out->data || strncmp(out->data, "HTTP/1.", 7) || !strstr(out->data, " 200 ")) {
        snprintf(c->err, sizeof c->err, "metrics at %s:%d: unexpected answer", ip, port);
        goto out;
    }
    rc = 0;
out:
    close(fd);
    return rc;
}

/* The value at the end of a sample line (after the closing brace). */
static double line_value(const char *line, const char *eol)
{
    const char *brace = memchr(line, '}', (size_t)(eol - line));
    if (!brace) return 0;
    char *end;
    double v = strtod(brace + 1, &end);
    return end > brace + 1 && v >= 0 ? v : 0;
}

int fault_mesh_sample(struct fault_ctx *c, const char *svc, struct fault_mesh_sample *out)
{
    struct buf b;
    buf_init(&b, METRICS_MAX);
    char ip[32];
    lab_node_ip(c->lab, ip, sizeof ip);
    if (metrics_get(c, ip, LAB_MESH_ADMIN_PORT, &b)) {
        buf_free(&b);
        return -1;
    }
    /* The mesh writes the labels in one order: the destination pair is one needle. */
    char needle[300];
    snprintf(needle, sizeof needle, "destination_namespace=\"%s\",destination_service=\"%s\"", c->ns, svc);
    struct fault_mesh_sample s = {.at_ns = mono_ns()};
    for (const char *line = b.data; line && *line;) {
        const char *eol = strchr(line, '\n');
        if (!eol) eol = line + strlen(line);
        size_t len = (size_t)(eol - line);
        char copy[1024];
        if (len < sizeof copy && line[0] == 'm') {
            memcpy(copy, line, len);
            copy[len] = '\0';
            if (strstr(copy, needle)) {
                double v = line_value(copy, copy + len);
                if (str_has_prefix(copy, "mesh_requests_total{")) {
                    s.requests += v;
                    if (strstr(copy, "response_code=\"5")) s.errors += v;
                } else if (str_has_prefix(copy, "mesh_request_duration_seconds_sum{")) {
                    s.latency_sum += v;
                } else if (str_has_prefix(copy, "mesh_request_duration_seconds_count{")) {
                    s.latency_count += v;
                } else if (str_has_prefix(copy, "mesh_tcp_connections_opened_total{")) {
                    s.opened += v;
                }
            }
        }
        line = *eol ? eol + 1 : eol;
    }
    buf_free(&b);
    *out = s;
    return 0;
}

json_t *fault_mesh_callers(struct fault_ctx *c, const char *svc)
{
    struct buf b;
    buf_init(&b, METRICS_MAX);
    char ip[32];
    lab_node_ip(c->lab, ip, sizeof ip);
    if (metrics_get(c, ip, LAB_MESH_ADMIN_PORT, &b)) {
        buf_free(&b);
        return NULL;
    }
    char needle[300], src[160];
    snprintf(needle, sizeof needle, "destination_namespace=\"%s\",destination_service=\"%s\"", c->ns, svc);
    int n = snprintf(src, sizeof src, "source_namespace=\"%s\",source_workload=\"", c->ns);
    json_t *out = json_array();
    for (const char *line = b.data; line && *line;) {
        const char *eol = strchr(line, '\n');
        if (!eol) eol = line + strlen(line);
        size_t len = (size_t)(eol - line);
        char copy[1024];
        if (len < sizeof copy && str_has_prefix(line, "mesh_requests_total{")) {
            memcpy(copy, line, len);
            copy[len] = '\0';
            const char *w = strstr(copy, src);
            const char *end = w ? strchr(w + n, '"') : NULL;
            if (strstr(copy, needle) && end && end > w + n) {
                char name[128];
                snprintf(name, sizeof name, "%.*s", (int)(end - (w + n)), w + n);
                int seen = 0;
                size_t i;
                json_t *v;
                json_array_foreach(out, i, v) seen |= !strcmp(json_string_value(v), name);
                if (!seen) json_array_append_new(out, json_string(name));
            }
        }
        line = *eol ? eol + 1 : eol;
    }
    buf_free(&b);
    return out;
}

static json_t *sample_json(const struct fault_mesh_sample *s)
{
    return json_pack("{s:I, s:f, s:f, s:f, s:f}", "atNs", (json_int_t)s->at_ns, "requests", s->requests, "errors",
                     s->errors, "latencySum", s->latency_sum, "latencyCount", s->latency_count);
}

int fault_mesh_baseline(struct fault_ctx *c, const char *svc, unsigned ms)
{
    struct fault_mesh_sample a, b;
    if (fault_mesh_sample(c, svc, &a)) return -1;
    nanosleep(&(struct timespec){ms / 1000, (long)(ms % 1000) * 1000000L}, NULL);
    if (fault_mesh_sample(c, svc, &b)) return -1;
    double secs = (double)(b.at_ns - a.at_ns) / 1e9;
    json_t *base = sample_json(&b);
    json_object_set_new(base, "rate", json_real(secs > 0 ? (b.requests - a.requests) / secs : 0));
    /* The latency before the fault: the window's mean, or with too few
     * answers in it, the mean of everything seen so far. */
    double n = b.latency_count - a.latency_count;
    double mean = n >= 3 ? (b.latency_sum - a.latency_sum) / n
                  : b.latency_count > 0 ? b.latency_sum / b.latency_count
                                        : 0;
    json_object_set_new(base, "meanLatency", json_real(mean));
    json_object_set_new(c->state, "baseline", base);
    return 0;
}

static double num(const json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

int fault_mesh_since(struct fault_ctx *c, const char *svc, struct fault_mesh_delta *d)
{
    const json_t *base = json_object_get(c->state, "baseline");
    if (!base) {
        snprintf(c->err, sizeof c->err, "no baseline of the Service's traffic was recorded");
        return -1;
    }
    struct fault_mesh_sample now;
    if (fault_mesh_sample(c, svc, &now)) return -1;
    memset(d, 0, sizeof *d);
    d->secs = (double)(now.at_ns - (uint64_t)json_integer_value(json_object_get(base, "atNs"))) / 1e9;
    d->requests = now.requests - num(base, "requests");
    d->errors = now.errors - num(base, "errors");
    d->rate_before = num(base, "rate");
    d->mean_before = num(base, "meanLatency");
    double n = now.latency_count - num(base, "latencyCount");
    d->mean = n > 0 ? (now.latency_sum - num(base, "latencySum")) / n : 0;
    return 0;
}

int fault_mesh_symptom(struct fault_ctx *c, const char *svc, double extra_rps)
{
    struct fault_mesh_delta d;
    /* A scrape that fails (the mesh busy under the very load) is "not yet":
     * c->err keeps why, for the message if the symptom never shows. */
    if (fault_mesh_since(c, svc, &d)) return json_object_get(c->state, "baseline") ? 0 : -1;
    if (d.secs < 0.5) return 0; /* too short a window for a rate */
    if (d.requests / d.secs >= d.rate_before + extra_rps) return 1;
    if (d.mean > 0 && d.mean_before > 0 && d.mean >= 3 * d.mean_before && d.mean >= d.mean_before + 0.020) return 1;
    return d.errors >= 10 && d.requests > 0 && d.errors > 0.05 * d.requests;
}

/* ---- a workload's own metrics ------------------------------------------------ */

int fault_pod_metrics(struct fault_ctx *c, const char *deployment, struct fault_pod_sample *out)
{
    json_t *pods = fault_pods(c, deployment);
    struct fault_pod_sample s = {.at_ns = mono_ns()};
    size_t i;
    json_t *pod;
    int rc = 0;
    json_array_foreach(pods, i, pod)
    {
        const char *ip = json_path_str(pod, "status.podIP", NULL);
        const json_t *ctr = json_array_get(json_path(pod, "spec.containers"), 0);
        int port = (int)json_path_int(json_array_get(json_object_get(ctr, "ports"), 0), "containerPort", 0);
        if (!ip || port <= 0 || port > 65535) continue;
        struct buf b;
        buf_init(&b, METRICS_MAX);
        if (metrics_get(c, ip, port, &b)) {
            buf_free(&b);
            rc = -1;
            continue;
        }
        s.pods++;
        for (const char *line = b.data; line && *line;) {
            const char *eol = strchr(line, '\n');
            if (!eol) eol = line + strlen(line);
            size_t len = (size_t)(eol - line);
            char copy[1024];
            if (len < sizeof copy && (line[0] == 'h' || line[0] == 'd' || line[0] == 'p')) {
                memcpy(copy, line, len);
                copy[len] = '\0';
                double v = line_value(copy, copy + len);
                if (str_has_prefix(copy, "http_server_requests_total{")) {
                    /* Probes and scrapes are not the service's work. */
                    if (!strstr(copy, "operation=\"healthz\"") && !strstr(copy, "operation=\"readyz\"") &&
                        !strstr(copy, "operation=\"metrics\""))
                        s.requests += v;
                } else if (str_has_prefix(copy, "db_client_operations_total{")) {
                    if (strstr(copy, "system=\"postgresql\"")) s.db_ops += v;
                    else s.cache_ops += v; /* redis, memcached */
                } else if (str_has_prefix(copy, "process_cpu_seconds_total")) {
                    const char *rest = copy + strlen("process_cpu_seconds_total");
                    if (*rest == '{') s.cpu_seconds += v;
                    else if (*rest == ' ') s.cpu_seconds += strtod(rest, NULL);
                } else if (str_has_prefix(copy, "process_resident_memory_bytes")) {
                    const char *rest = copy + strlen("process_resident_memory_bytes");
                    if (*rest == '{') s.rss_bytes += v;
                    else if (*rest == ' ') s.rss_bytes += strtod(rest, NULL);
                }
            }
            line = *eol ? eol + 1 : eol;
        }
        buf_free(&b);
    }
    json_decref(pods);
    if (!s.pods) {
        if (!rc) snprintf(c->err, sizeof c->err, "no running pod of \"%s\" exposes metrics", deployment);
        return -1;
    }
    *out = s;
    return 0;
}

/* ---- load for the fault's life ---------------------------------------------- */

int fault_drive_load(struct fault_ctx *c, struct load_options *o)
{
    char err[512];
    struct load_run *run;
    if (load_start(o, &run, err, sizeof err)) {
        load_mix_free(&o->mix);
        load_schedule_free(&o->schedule);
        snprintf(c->err, sizeof c->err, "cannot start the load: %s", err);
        return -1;
    }
    fprintf(stderr, "load on %s started\n", o->target);
    struct load_stats st, prev;
    memset(&prev, 0, sizeof prev);
    /* Percentiles of the last window: the difference of two snapshots. */
    struct load_hdr *hdr = xmalloc(sizeof *hdr), *hprev = xmalloc(sizeof *hprev), *win = xmalloc(sizeof *win);
    load_hdr_init(hprev);
    uint64_t last = mono_ns();
    for (;;) {
        nanosleep(&(struct timespec){0, 200 * 1000000L}, NULL);
        load_stats(run, &st, NULL);
        if (st.done || !fault_still_active(c)) break;
        if (mono_ns() - last >= 5000000000ull) {
            last = mono_ns();
            char line[256];
            load_stats(run, &st, hdr);
            load_hdr_window(win, hdr, hprev);
            load_progress_line(&st, &prev, win, line, sizeof line);
            fprintf(stderr, "%s\n", line);
            prev = st;
            struct load_hdr *t = hprev;
            hprev = hdr;
            hdr = t;
        }
    }
    xfree(hdr);
    xfree(hprev);
    xfree(win);
    load_stop(run);
    load_wait(run);
    load_stats(run, &st, NULL);
    fprintf(stderr, "load on %s stopped: %llu sent, %llu answered, %llu errors\n", o->target,
            (unsigned long long)st.sent, (unsigned long long)st.completed, (unsigned long long)st.errors_total);
    load_free(run);
    return 0;
}
