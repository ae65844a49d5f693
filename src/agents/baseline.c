/* baseline: a deterministic agent that uses only the ACI — kubectl through
 * exec_shell, PromQL through query_metrics, logs through get_logs — and
 * general rules an on-call engineer would apply first. It is a floor for
 * other agents: it knows no problem ids and no fault names, only symptoms
 * (pods not running or not ready, Deployments short of replicas, Services
 * without endpoints, 5xx and failed connects between services, errors in
 * logs) and the usual first fixes (scale back up, roll back, point a
 * Service at the port its pods listen on, restart).
 *
 * It reads the task and namespace from the prompt, surveys the namespace
 * in a fixed order, scores suspects, then answers. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agent.h"
#include "core/alloc.h"

#define MAX_SUSPECTS 64

enum step { S_PODS, S_DEPLOYS, S_ENDPOINTS, S_5XX, S_CONNECT, S_ERRSRC, S_LOGS, S_DECIDE, S_FIX2, S_SUBMIT };

struct suspect {
    char name[64];
    int score;
    unsigned why; /* reasons, a bit each */
};
enum { W_CRASH = 1, W_PENDING = 2, W_NOTREADY = 4, W_SCALED0 = 8, W_SHORT = 16, W_NOENDP = 32, W_5XX = 64,
       W_CONNECT = 128, W_SOURCE = 256, W_AUTH = 512, W_OOM = 1024 };

struct baseline {
    int task; /* 0 detection, 1 localization, 2 analysis, 3 mitigation */
    char ns[64];
    enum step step;
    struct suspect s[MAX_SUSPECTS];
    int n;
    char ctr_port[16];
};

static struct suspect *suspect(struct baseline *b, const char *name, size_t len)
{
    if (!len || len >= sizeof b->s[0].name) return NULL;
    for (int i = 0; i < b->n; i++)
        if (strlen(b->s[i].name) == len && !strncmp(b->s[i].name, name, len)) return &b->s[i];
    if (b->n >= MAX_SUSPECTS) return NULL;
    struct suspect *s = &b->s[b->n++];
    memset(s, 0, sizeof *s);
    memcpy(s->name, name, len);
    return s;
}

static void blame(struct baseline *b, const char *name, size_t len, int score, unsigned why)
{
    struct suspect *s = suspect(b, name, len);
    if (s) {
        s->score += score;
        s->why |= why;
    }
}

/* A pod's workload: its name without the ReplicaSet hash and the pod suffix. */
static size_t workload_len(const char *pod, size_t len)
{
    int dashes = 0;
    for (size_t i = len; i > 0; i--)
        if (pod[i - 1] == '-' && ++dashes == 2) return i - 1;
    return len;
}

/* Call fn on each line's whitespace-separated fields. */
static void each_row(const char *text, void (*fn)(struct baseline *, char **, int), struct baseline *b)
{
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char line[1024];
        if (len < sizeof line) {
            memcpy(line, p, len);
            line[len] = '\0';
            char *f[16];
            int n = 0;
            for (char *tok = strtok(line, " \t"); tok && n < 16; tok = strtok(NULL, " \t")) f[n++] = tok;
            if (n) fn(b, f, n);
        }
        p += len + (nl ? 1 : 0);
    }
}

static void on_pod(struct baseline *b, char **f, int n)
{
    if (n < 3 || !strcmp(f[0], "NAME") || !strchr(f[1], '/')) return;
    size_t wl = workload_len(f[0], strlen(f[0]));
    int ready = atoi(f[1]), want = atoi(strchr(f[1], '/') + 1);
    const char *st = f[2];
    if (!strcmp(st, "CrashLoopBackOff") || !strcmp(st, "Error") || strstr(st, "Err")) blame(b, f[0], wl, 3, W_CRASH);
    else if (!strcmp(st, "OOMKilled")) blame(b, f[0], wl, 3, W_OOM | W_CRASH);
    else if (!strcmp(st, "Pending")) blame(b, f[0], wl, 3, W_PENDING);
    else if (!strcmp(st, "Running") && ready < want) blame(b, f[0], wl, 3, W_NOTREADY);
}

static void on_deploy(struct baseline *b, char **f, int n)
{
    if (n < 2 || !strcmp(f[0], "NAME") || !strchr(f[1], '/')) return;
    int ready = atoi(f[1]), want = atoi(strchr(f[1], '/') + 1);
    if (want == 0) blame(b, f[0], strlen(f[0]), 4, W_SCALED0);
    else if (ready < want) blame(b, f[0], strlen(f[0]), 1, W_SHORT);
}

static void on_endpoints(struct baseline *b, char **f, int n)
{
    if (n >= 2 && strcmp(f[0], "NAME") && !strcmp(f[1], "<none>")) blame(b, f[0], strlen(f[0]), 3, W_NOENDP);
}

/* A metrics table: LABEL VALUE rows after a header. */
static int metric_row(char **f, int n, double *v)
{
    if (n < 2 || !strcmp(f[n - 1], "VALUE")) return 0;
    *v = atof(f[n - 1]);
    return *v > 0;
}

static void on_5xx(struct baseline *b, char **f, int n)
{
    double v;
    if (metric_row(f, n, &v) && v > 0.01) blame(b, f[0], strlen(f[0]), 1, W_5XX);
}

static void on_connect(struct baseline *b, char **f, int n)
{
    double v;
    if (metric_row(f, n, &v) && v > 0.01) blame(b, f[0], strlen(f[0]), 2, W_CONNECT);
}

/* Services whose own calls fail are more likely victims than causes. */
static void on_errsrc(struct baseline *b, char **f, int n)
{
    double v;
    if (!metric_row(f, n, &v) || v <= 0.01) return;
    struct suspect *s = suspect(b, f[0], strlen(f[0]));
    if (s && (s->why & (W_5XX | W_CONNECT)) && !(s->why & ~(W_5XX | W_CONNECT | W_SOURCE))) s->score -= 1;
    if (s) s->why |= W_SOURCE;
}

static struct suspect *top(struct baseline *b)
{
    struct suspect *best = NULL;
    for (int i = 0; i < b->n; i++)
        if (b->s[i].score > 0 && (!best || b->s[i].score > best->score)) best = &b->s[i];
    return best;
}

/* One action, in a fenced block. */
static void say(struct buf *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct buf *r, const char *fmt, ...)
{
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    buf_printf(r, "```\n%s\n```", tmp);
}

static void first_word_after(const char *text, const char *key, char *out, size_t n)
{
    out[0] = '\0';
    const char *p = strstr(text, key);
    if (!p) return;
    p += strlen(key);
    while (*p == ' ') p++;
    size_t i = 0;
    while (p[i] && !isspace((unsigned char)p[i]) && i + 1 < n) {
        out[i] = p[i];
        i++;
    }
    out[i] = '\0';
}

static void answer(struct baseline *b, struct buf *r)
{
    struct suspect *t = top(b);
    switch (b->task) {
    case 0: say(r, "submit(\"%s\")", t ? "Yes" : "No"); break;
    case 1:
        if (t) say(r, "submit([\"%s\"])", t->name);
        else say(r, "submit([])");
        break;
    case 2: {
        const char *level = "Application", *type = "Code Defect";
        if (t && (t->why & W_SCALED0)) level = "Virtualization", type = "Operation Error";
        else if (t && (t->why & (W_NOENDP | W_CRASH | W_PENDING | W_NOTREADY | W_OOM)))
            level = "Virtualization", type = "Misconfiguration";
        else if (t && (t->why & W_CONNECT)) level = "Virtualization", type = "Misconfiguration";
        else if (t && (t->why & W_AUTH)) level = "Middleware", type = "Authentication Issue";
        say(r, "submit({\"system_level\": \"%s\", \"fault_type\": \"%s\"})", level, type);
        break;
    }
    default: say(r, "submit()"); break;
    }
}

static int baseline_act(struct agent *a, const char *input, struct buf *r, char *err, size_t errlen)
{
    struct baseline *b = a->impl;
    if (!b->ns[0]) { /* the prompt */
        b->task = strstr(input, "detect anomalies")     ? 0
                  : strstr(input, "localize faults")    ? 1
                  : strstr(input, "root cause analysis") ? 2
                                                         : 3;
        first_word_after(input, "Namespace:", b->ns, sizeof b->ns);
        if (!b->ns[0]) {
            snprintf(err, errlen, "baseline: no namespace in the prompt");
            return -1;
        }
        b->step = S_PODS;
    } else {
        switch (b->step) { /* the observation answers the previous step */
        case S_DEPLOYS: each_row(input, on_pod, b); break;
        case S_ENDPOINTS: each_row(input, on_deploy, b); break;
        case S_5XX: each_row(input, on_endpoints, b); break;
        case S_CONNECT: each_row(input, on_5xx, b); break;
        case S_ERRSRC: each_row(input, on_connect, b); break;
        case S_LOGS: each_row(input, on_errsrc, b); break;
        case S_DECIDE: {
            struct suspect *t = top(b);
            if (t && (strstr(input, "permission denied") || strstr(input, "password authentication failed") ||
                      strstr(input, "too many clients")))
                t->why |= W_AUTH;
            break;
        }
        default: break;
        }
    }
    struct suspect *t;
    switch (b->step) {
    case S_PODS: /* like an engineer paged for an incident: let the telemetry show it first */
        say(r, "exec_shell(\"sleep 10; kubectl get pods -n %s --no-headers\")", b->ns);
        break;
    case S_DEPLOYS: say(r, "exec_shell(\"kubectl get deployments -n %s --no-headers\")", b->ns); break;
    case S_ENDPOINTS: say(r, "exec_shell(\"kubectl get endpoints -n %s --no-headers\")", b->ns); break;
    case S_5XX:
        say(r, "query_metrics(\"sum by (destination_service) (rate(mesh_requests_total{destination_namespace=\\\"%s\\\", "
               "response_code=~\\\"5..\\\"}[10s]))\")",
            b->ns);
        break;
    case S_CONNECT:
        say(r, "query_metrics(\"sum by (destination_service) (rate(mesh_tcp_connect_failures_total{"
               "destination_namespace=\\\"%s\\\"}[10s]))\")",
            b->ns);
        break;
    case S_ERRSRC:
        say(r, "query_metrics(\"sum by (source_workload) (rate(mesh_requests_total{source_namespace=\\\"%s\\\", "
               "response_code=~\\\"5..\\\"}[10s]))\")",
            b->ns);
        break;
    case S_LOGS:
        t = top(b);
        if (t) {
            say(r, "get_logs(\"%s\", \"%s\")", b->ns, t->name);
            break;
        }
        b->step = S_DECIDE; /* nothing to read: answer now */
        /* fall through */
    case S_DECIDE:
        t = top(b);
        if (b->task != 3 || !t) {
            answer(b, r);
            break;
        }
        if (t->why & W_SCALED0) {
            say(r, "exec_shell(\"kubectl scale deployment %s -n %s --replicas=1\")", t->name, b->ns);
            b->step = S_SUBMIT - 1;
        } else if (t->why & (W_CRASH | W_PENDING | W_NOTREADY | W_OOM)) {
            say(r, "exec_shell(\"kubectl rollout undo deployment %s -n %s\")", t->name, b->ns);
            b->step = S_SUBMIT - 1;
        } else if (t->why & (W_NOENDP | W_CONNECT)) {
            say(r, "exec_shell(\"kubectl get deployment %s -n %s -o jsonpath='{.spec.template.spec.containers[0].ports[0]"
                   ".containerPort}'\")",
                t->name, b->ns);
            b->step = S_FIX2 - 1; /* the step moves on below */
            break;
        } else {
            say(r, "exec_shell(\"kubectl rollout restart deployment %s -n %s\")", t->name, b->ns);
            b->step = S_SUBMIT - 1;
        }
        break;
    case S_FIX2:
        t = top(b);
        first_word_after(input, "", b->ctr_port, sizeof b->ctr_port);
        if (t && b->ctr_port[0] && isdigit((unsigned char)b->ctr_port[0]))
            say(r, "exec_shell(\"kubectl patch service %s -n %s --type json -p '[{\\\"op\\\": \\\"replace\\\", "
                   "\\\"path\\\": \\\"/spec/ports/0/targetPort\\\", \\\"value\\\": %s}]'\")",
                t->name, b->ns, b->ctr_port);
        else answer(b, r);
        b->step = S_SUBMIT - 1;
        break;
    default: answer(b, r); break;
    }
    b->step++;
    return 0;
}

static void baseline_close(struct agent *a)
{
    free(a->impl);
    a->impl = NULL;
}

int agent_baseline_open(struct agent *a)
{
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "baseline");
    a->impl = xcalloc(1, sizeof(struct baseline));
    a->act = baseline_act;
    a->close = baseline_close;
    return 0;
}
