/* cadvisor: the node's metrics endpoint, where kubelet has it —
 * http://NODE_IP:10250/metrics/cadvisor — with cAdvisor's metric names and
 * labels for every running container (cpu, memory working set, threads,
 * file descriptors, cpu throttling, OOM events, limits) and
 * kube-state-metrics' for pod and container state (restarts, ready,
 * waiting reasons, phases), so that Prometheus and agents see what they
 * would see on Kubernetes. Read on demand from the cgroups (or /proc when
 * no cgroup is in force), the run folders and the objects. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster/daemon.h"
#include "cluster/limits.h"
#include "cluster/paths.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"

#define REQ_MAX 8192

/* Threads and open descriptors of a set of processes. */
static void count_tasks(const pid_t *pids, int n, long *threads, long *fds)
{
    *threads = *fds = 0;
    for (int i = 0; i < n; i++) {
        char path[64], line[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pids[i]);
        FILE *f = fopen(path, "re");
        if (!f) continue;
        size_t len = fread(line, 1, sizeof line - 1, f);
        fclose(f);
        line[len] = '\0';
        char *p = strrchr(line, ')');
        /* num_threads is field 20: after the 18th space following ')' */
        for (int k = 0; p && k < 18; k++) p = strchr(p + 1, ' ');
        if (p) *threads += strtol(p + 1, NULL, 10);
        snprintf(path, sizeof path, "/proc/%d/fd", (int)pids[i]);
        DIR *d = opendir(path);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.') (*fds)++;
        closedir(d);
    }
}

/* A label value, escaped for the exposition format. */
static void esc(struct buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') buf_append(b, "\\", 1);
        if (*s == '\n') {
            buf_puts(b, "\\n");
            continue;
        }
        buf_append(b, s, 1);
    }
}

struct family {
    const char *name, *type, *help;
    struct buf body;
};

enum {
    F_CPU, F_MEM, F_THREADS, F_FDS, F_PERIODS, F_THROTTLED, F_THROTTLED_S, F_OOM, F_MEMLIMIT, F_CPUQUOTA, F_CPUPERIOD,
    F_START, F_RESTARTS, F_READY, F_RUNNING, F_WAITING, F_TERMINATED_LAST, F_PHASE, F_COUNT
};

static struct family families[F_COUNT] = {
    [F_CPU] = {"container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds.", {0}},
    [F_MEM] = {"container_memory_working_set_bytes", "gauge", "Current working set in bytes.", {0}},
    [F_THREADS] = {"container_threads", "gauge", "Number of threads running inside the container.", {0}},
    [F_FDS] = {"container_file_descriptors", "gauge", "Number of open file descriptors for the container.", {0}},
    [F_PERIODS] = {"container_cpu_cfs_periods_total", "counter", "Number of elapsed enforcement period intervals.", {0}},
    [F_THROTTLED] = {"container_cpu_cfs_throttled_periods_total", "counter", "Number of throttled period intervals.", {0}},
    [F_THROTTLED_S] = {"container_cpu_cfs_throttled_seconds_total", "counter", "Total time duration the container has been throttled.", {0}},
    [F_OOM] = {"container_oom_events_total", "counter", "Count of out of memory events observed for the container.", {0}},
    [F_MEMLIMIT] = {"container_spec_memory_limit_bytes", "gauge", "Memory limit for the container.", {0}},
    [F_CPUQUOTA] = {"container_spec_cpu_quota", "gauge", "CPU quota of the container.", {0}},
    [F_CPUPERIOD] = {"container_spec_cpu_period", "gauge", "CPU period of the container.", {0}},
    [F_START] = {"container_start_time_seconds", "gauge", "Start time of the container since unix epoch in seconds.", {0}},
    [F_RESTARTS] = {"kube_pod_container_status_restarts_total", "counter", "The number of container restarts per container.", {0}},
    [F_READY] = {"kube_pod_container_status_ready", "gauge", "Describes whether the containers readiness check succeeded.", {0}},
    [F_RUNNING] = {"kube_pod_container_status_running", "gauge", "Describes whether the container is currently in running state.", {0}},
    [F_WAITING] = {"kube_pod_container_status_waiting_reason", "gauge", "Describes the reason the container is currently in waiting state.", {0}},
    [F_TERMINATED_LAST] = {"kube_pod_container_status_last_terminated_reason", "gauge", "Describes the last reason the container was in terminated state.", {0}},
    [F_PHASE] = {"kube_pod_status_phase", "gauge", "The pods current phase.", {0}},
};

static void sample(int f, const char *labels, const char *extra, double v)
{
    struct buf *b = &families[f].body;
    buf_printf(b, "%s{%s%s} %.17g\n", families[f].name, labels, extra ? extra : "", v);
}

static void container_metrics(struct daemon *d, const json_t *pod, const json_t *cs)
{
    const char *ns = json_path_str(pod, "metadata.namespace", ""), *pname = json_path_str(pod, "metadata.name", "");
    const char *uid = json_path_str(pod, "metadata.uid", ""), *cname = json_path_str(cs, "name", "");
    struct buf lb;
    buf_init(&lb, 4096);
    buf_puts(&lb, "container=\"");
    esc(&lb, cname);
    buf_puts(&lb, "\",namespace=\"");
    esc(&lb, ns);
    buf_puts(&lb, "\",pod=\"");
    esc(&lb, pname);
    buf_puts(&lb, "\"");
    const char *L = lb.data;
    sample(F_RESTARTS, L, NULL, (double)json_path_int(cs, "restartCount", 0));
    sample(F_READY, L, NULL, json_is_true(json_path(cs, "ready")));
    sample(F_RUNNING, L, NULL, json_path(cs, "state.running") != NULL);
    const char *wr = json_path_str(cs, "state.waiting.reason", NULL);
    if (wr) {
        char extra[128];
        snprintf(extra, sizeof extra, ",reason=\"%s\"", wr);
        sample(F_WAITING, L, extra, 1);
    }
    const char *tr = json_path_str(cs, "lastState.terminated.reason", NULL);
    if (tr) {
        char extra[128];
        snprintf(extra, sizeof extra, ",reason=\"%s\"", tr);
        sample(F_TERMINATED_LAST, L, extra, 1);
    }
    sample(F_OOM, L, NULL, (double)kubelet_oom_kills(d, uid, cname));
    if (!json_path(cs, "state.running")) {
        buf_free(&lb);
        return;
    }
    char dir[PATH_MAX], path[PATH_MAX + 16];
    cluster_run_dir(&d->lab, uid, cname, (int)json_path_int(cs, "restartCount", 0), dir, sizeof dir);
    snprintf(path, sizeof path, "%s/state.json", dir);
    json_error_t je;
    json_t *st = json_load_file(path, 0, &je);
    snprintf(path, sizeof path, "%s/spec.json", dir);
    json_t *spec = json_load_file(path, 0, &je);
    pid_t pid = (pid_t)json_path_int(st, "pid", 0), conmon = (pid_t)json_path_int(st, "conmonPid", 0);
    enum limits_kind kind = LIMITS_POLL;
    limits_kind_parse(json_path_str(st, "limits", "poll"), &kind);
    struct limits_usage u = {0};
    int rc = (kind == LIMITS_CGROUP_V1 || kind == LIMITS_CGROUP_V2)
                 ? limits_cgroup_usage(kind, json_path_str(spec, "cgroupName", ""), &u)
                 : limits_proc_usage(pid, conmon, &u);
    if (rc == 0) {
        sample(F_CPU, L, ",cpu=\"total\"", (double)u.cpu_ns / 1e9);
        sample(F_MEM, L, NULL, (double)u.working_set);
        if (kind == LIMITS_CGROUP_V1 || kind == LIMITS_CGROUP_V2) {
            sample(F_PERIODS, L, NULL, (double)u.cfs_periods);
            sample(F_THROTTLED, L, NULL, (double)u.cfs_throttled_periods);
            sample(F_THROTTLED_S, L, NULL, (double)u.cfs_throttled_ns / 1e9);
        }
    }
    pid_t *members = NULL;
    int nm = limits_members(kind, json_path_str(spec, "cgroupName", ""), pid, conmon, &members);
    if (nm > 0) {
        long threads, fds;
        count_tasks(members, nm, &threads, &fds);
        sample(F_THREADS, L, NULL, (double)threads);
        sample(F_FDS, L, NULL, (double)fds);
    }
    free(members);
    json_int_t mem = json_path_int(spec, "memoryLimitBytes", 0), cpu = json_path_int(spec, "cpuLimitMillis", 0);
    if (mem) sample(F_MEMLIMIT, L, NULL, (double)mem);
    if (cpu) {
        sample(F_CPUQUOTA, L, NULL, (double)cpu * 100);
        sample(F_CPUPERIOD, L, NULL, 100000);
    }
    uint64_t started;
    if (time_parse_rfc3339(json_path_str(cs, "state.running.startedAt", ""), &started) == 0)
        sample(F_START, L, NULL, (double)(started / 1000000000ull));
    json_decref(st);
    json_decref(spec);
    buf_free(&lb);
}

static char *render(struct daemon *d)
{
    for (int f = 0; f < F_COUNT; f++) buf_init(&families[f].body, 16u << 20);
    json_t *pods = store_list(d->store, "Pod", NULL);
    size_t i, j;
    json_t *pod, *cs;
    static const char *phases[] = {"Pending", "Running", "Succeeded", "Failed", "Unknown"};
    json_array_foreach(pods, i, pod) {
        json_array_foreach(json_path(pod, "status.containerStatuses"), j, cs) container_metrics(d, pod, cs);
        const char *phase = json_path_str(pod, "status.phase", "Pending");
        for (size_t k = 0; k < 5; k++) {
            char labels[700];
            snprintf(labels, sizeof labels, "namespace=\"%s\",phase=\"%s\",pod=\"%s\"",
                     json_path_str(pod, "metadata.namespace", ""), phases[k], json_path_str(pod, "metadata.name", ""));
            sample(F_PHASE, labels, NULL, !strcmp(phase, phases[k]));
        }
    }
    json_decref(pods);
    struct buf out;
    buf_init(&out, 64u << 20);
    for (int f = 0; f < F_COUNT; f++) {
        buf_printf(&out, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help, families[f].name,
                   families[f].type);
        if (families[f].body.len) buf_append(&out, families[f].body.data, families[f].body.len);
        buf_free(&families[f].body);
    }
    return buf_steal(&out);
}

/* ---- the HTTP side: GET only, one response per connection ---- */

struct hconn {
    uv_tcp_t tcp;
    struct daemon *d;
    char req[REQ_MAX];
    size_t len;
    int answered;
};

static void hclosed(uv_handle_t *h)
{
    free(h->data);
}

static void hwritten(uv_write_t *w, int status)
{
    struct hconn *c = w->data;
    free(w);
    uv_close((uv_handle_t *)&c->tcp, hclosed);
}

static void respond(struct hconn *c, int code, const char *ctype, char *body)
{
    c->answered = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
    size_t blen = strlen(body);
    char head[256];
    int hn = snprintf(head, sizeof head,
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", code,
                      code == 200 ? "OK" : code == 404 ? "Not Found" : "Bad Request", ctype, blen);
    uv_write_t *w = xmalloc(sizeof *w + (size_t)hn + blen);
    char *data = (char *)(w + 1);
    memcpy(data, head, (size_t)hn);
    memcpy(data + hn, body, blen);
    free(body);
    w->data = c;
    uv_buf_t b = uv_buf_init(data, (unsigned)(hn + (int)blen));
    if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, hwritten)) {
        free(w);
        uv_close((uv_handle_t *)&c->tcp, hclosed);
    }
}

static void halloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct hconn *c = h->data;
    b->base = c->req + c->len;
    b->len = REQ_MAX - 1 - c->len;
}

static void hread(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct hconn *c = s->data;
    if (c->answered) return;
    if (n < 0) {
        uv_close((uv_handle_t *)&c->tcp, hclosed);
        return;
    }
    c->len += (size_t)n;
    c->req[c->len] = '\0';
    if (!strstr(c->req, "\r\n\r\n")) {
        if (c->len >= REQ_MAX - 1) respond(c, 400, "text/plain", xstrdup("request too large\n"));
        return;
    }
    if (!strncmp(c->req, "GET /metrics/cadvisor ", 22) || !strncmp(c->req, "GET /metrics ", 13))
        respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", render(c->d));
    else if (!strncmp(c->req, "GET /healthz ", 13))
        respond(c, 200, "text/plain", xstrdup("ok"));
    else
        respond(c, 404, "text/plain", xstrdup("404 page not found\n"));
}

static void on_conn(uv_stream_t *server, int status)
{
    if (status < 0) return;
    struct hconn *c = xcalloc(1, sizeof *c);
    c->d = server->data;
    uv_tcp_init(c->d->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) || uv_read_start((uv_stream_t *)&c->tcp, halloc, hread))
        uv_close((uv_handle_t *)&c->tcp, hclosed);
}

int cadvisor_start(struct daemon *d, char *err, size_t errlen)
{
    char ip[16];
    lab_node_ip(&d->lab, ip, sizeof ip);
    struct sockaddr_in sa;
    uv_ip4_addr(ip, LAB_KUBELET_PORT, &sa);
    uv_tcp_init(d->loop, &d->kubelet_http);
    d->kubelet_http.data = d;
    int rc = uv_tcp_bind(&d->kubelet_http, (struct sockaddr *)&sa, 0);
    if (!rc) rc = uv_listen((uv_stream_t *)&d->kubelet_http, 64, on_conn);
    if (rc == UV_EADDRINUSE) {
        snprintf(err, errlen, "lab network 127.%d.0.0/16 is in use: another lab's daemon serves %s:%d", d->lab.net,
                 ip, LAB_KUBELET_PORT);
        return -EADDRINUSE;
    }
    if (rc) log_error("cannot serve node metrics on %s:%d: %s", ip, LAB_KUBELET_PORT, uv_strerror(rc));
    return 0;
}
