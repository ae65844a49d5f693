/* probe: kubelet-style container probes on the daemon's loop (see probe.h).
 * Each check is a small object with its own handles; it outlives the probe
 * when the probe is freed mid-check, and frees itself once every handle it
 * opened is closed (libuv's close-then-free rule). */
#include "cluster/probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"

struct check;

struct probe {
    uv_loop_t *loop;
    enum probe_kind kind;
    json_t *spec;
    char ip[16];
    int port;
    char **env;
    char *cwd;
    probe_cb cb;
    void *arg;
    uv_timer_t timer;
    int successes, failures;
    enum probe_result result;
    struct check *inflight;
};

struct check {
    struct probe *probe; /* NULL once the probe is gone */
    int open_handles;
    int finished;
    uv_timer_t timeout;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    uv_process_t proc;
    char req[1024];
    char resp[256];
    size_t resp_len;
    char url[600];
};

const char *probe_kind_name(enum probe_kind k)
{
    return k == PROBE_LIVENESS ? "Liveness" : k == PROBE_READINESS ? "Readiness" : "Startup";
}

static int spec_int(const json_t *spec, const char *key, int dflt, int min)
{
    json_int_t v = json_path_int(spec, key, dflt);
    return v < min ? min : v > 86400 ? 86400 : (int)v;
}

static void check_closed(uv_handle_t *h)
{
    struct check *c = h->data;
    if (--c->open_handles == 0) free(c);
}

static void close_if_open(struct check *c, uv_handle_t *h)
{
    if (h->loop && !uv_is_closing(h)) {
        h->data = c;
        uv_close(h, check_closed);
    }
}

static void schedule(struct probe *p);

/* Record the outcome of a check, once. */
static void check_done(struct check *c, int ok, const char *msg)
{
    if (c->finished) return;
    c->finished = 1;
    uv_timer_stop(&c->timeout);
    close_if_open(c, (uv_handle_t *)&c->timeout);
    close_if_open(c, (uv_handle_t *)&c->tcp);
    if (c->proc.loop && !uv_is_closing((uv_handle_t *)&c->proc)) {
        if (!ok) uv_process_kill(&c->proc, SIGKILL);
    }
    struct probe *p = c->probe;
    if (!p) return;
    p->inflight = NULL;
    int success_threshold = spec_int(p->spec, "successThreshold", 1, 1);
    int failure_threshold = spec_int(p->spec, "failureThreshold", 3, 1);
    if (ok) {
        p->failures = 0;
        if (++p->successes >= success_threshold) p->result = PROBE_SUCCESS;
    } else {
        p->successes = 0;
        if (++p->failures >= failure_threshold) p->result = PROBE_FAILURE;
    }
    enum probe_result r = p->result;
    if (r == PROBE_FAILURE && p->kind == PROBE_LIVENESS) p->failures = 0; /* kubelet restarts the count */
    schedule(p);
    p->cb(p->arg, p->kind, ok, msg, r);
}

static void on_timeout(uv_timer_t *t)
{
    struct check *c = t->data;
    char msg[700];
    if (c->url[0])
        snprintf(msg, sizeof msg,
                 "Get \"%s\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)", c->url);
    else
        snprintf(msg, sizeof msg, "probe timed out");
    check_done(c, 0, msg);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct check *c = h->data;
    b->base = c->resp + c->resp_len;
    b->len = sizeof c->resp - 1 - c->resp_len;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct check *c = s->data;
    if (c->finished) return;
    if (n > 0) c->resp_len += (size_t)n;
    c->resp[c->resp_len] = '\0';
    char *eol = strstr(c->resp, "\r\n");
    if (!eol && n >= 0 && c->resp_len < sizeof c->resp - 1) return;
    int code = 0;
    if (sscanf(c->resp, "HTTP/%*d.%*d %d", &code) != 1) {
        char msg[700];
        snprintf(msg, sizeof msg, "Get \"%s\": %s", c->url,
                 n < 0 && c->resp_len == 0 ? "EOF" : "net/http: HTTP/1.x transport connection broken: malformed HTTP response");
        check_done(c, 0, msg);
        return;
    }
    char msg[128];
    snprintf(msg, sizeof msg, "HTTP probe failed with statuscode: %d", code);
    check_done(c, code >= 200 && code < 400, msg);
}

static void on_written(uv_write_t *w, int status)
{
    struct check *c = w->data;
    if (c->finished) return;
    if (status < 0) {
        char msg[700];
        snprintf(msg, sizeof msg, "Get \"%s\": %s", c->url, uv_strerror(status));
        check_done(c, 0, msg);
        return;
    }
    c->tcp.data = c;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct check *c = req->data;
    if (c->finished) return;
    struct probe *p = c->probe;
    if (status < 0) {
        char msg[800];
        const char *why = status == UV_ECONNREFUSED ? "connection refused" : uv_strerror(status);
        if (c->url[0]) snprintf(msg, sizeof msg, "Get \"%s\": dial tcp %s:%d: connect: %s", c->url, p ? p->ip : "", p ? p->port : 0, why);
        else snprintf(msg, sizeof msg, "dial tcp %s:%d: connect: %s", p ? p->ip : "", p ? p->port : 0, why);
        check_done(c, 0, msg);
        return;
    }
    if (!c->url[0]) { /* tcpSocket */
        check_done(c, 1, "");
        return;
    }
    uv_buf_t b = uv_buf_init(c->req, (unsigned)strlen(c->req));
    c->write.data = c;
    if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, on_written)) check_done(c, 0, "write failed");
}

static void on_exec_exit(uv_process_t *proc, int64_t status, int sig)
{
    struct check *c = proc->data;
    close_if_open(c, (uv_handle_t *)proc);
    char msg[128];
    if (sig) snprintf(msg, sizeof msg, "command terminated by signal %d", sig);
    else snprintf(msg, sizeof msg, "command exited with code %lld", (long long)status);
    check_done(c, status == 0 && sig == 0, msg);
}

static void run_check(struct probe *p)
{
    struct check *c = xcalloc(1, sizeof *c);
    c->probe = p;
    p->inflight = c;
    uv_timer_init(p->loop, &c->timeout);
    c->timeout.data = c;
    c->open_handles++;
    uv_timer_start(&c->timeout, on_timeout, (uint64_t)spec_int(p->spec, "timeoutSeconds", 1, 1) * 1000, 0);

    json_t *exec = json_path(p->spec, "exec");
    if (exec) {
        json_t *cmd = json_path(exec, "command");
        size_t n = json_array_size(cmd);
        if (n == 0 || n > 256) {
            check_done(c, 0, "exec probe has no command");
            return;
        }
        char **args = xcalloc(n + 1, sizeof *args);
        for (size_t i = 0; i < n; i++) args[i] = (char *)json_string_value(json_array_get(cmd, i));
        uv_process_options_t o = {0};
        o.file = args[0];
        o.args = args;
        o.env = p->env;
        o.cwd = p->cwd;
        o.exit_cb = on_exec_exit;
        o.flags = UV_PROCESS_DETACHED;
        c->proc.data = c;
        int rc = uv_spawn(p->loop, &c->proc, &o);
        free(args);
        if (rc) {
            char msg[256];
            snprintf(msg, sizeof msg, "exec: \"%s\": %s", o.file ? o.file : "", uv_strerror(rc));
            c->open_handles++;
            close_if_open(c, (uv_handle_t *)&c->proc);
            check_done(c, 0, msg);
            return;
        }
        c->open_handles++;
        return;
    }
    json_t *http = json_path(p->spec, "httpGet");
    if (http) {
        const char *path = json_path_str(http, "path", "/");
        snprintf(c->url, sizeof c->url, "http://%s:%d%s", p->ip, p->port, path);
        int n = snprintf(c->req, sizeof c->req,
                         "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: kube-probe/1.29\r\nAccept: */*\r\n"
                         "Connection: close\r\n",
                         path, p->ip, p->port);
        size_t i;
        json_t *h;
        json_array_foreach(json_path(http, "httpHeaders"), i, h) {
            if (n < (int)sizeof c->req - 64)
                n += snprintf(c->req + n, sizeof c->req - (size_t)n, "%s: %s\r\n", json_path_str(h, "name", "X"),
                              json_path_str(h, "value", ""));
        }
        if (n < (int)sizeof c->req - 3) snprintf(c->req + n, sizeof c->req - (size_t)n, "\r\n");
    }
    struct sockaddr_in sa;
    uv_ip4_addr(p->ip, p->port, &sa);
    uv_tcp_init(p->loop, &c->tcp);
    c->tcp.data = c;
    c->open_handles++;
    c->connect.data = c;
    if (uv_tcp_connect(&c->connect, &c->tcp, (struct sockaddr *)&sa, on_connect))
        check_done(c, 0, "connect failed");
}

static void on_tick(uv_timer_t *t)
{
    struct probe *p = t->data;
    if (!p->inflight) run_check(p);
}

static void schedule(struct probe *p)
{
    uv_timer_start(&p->timer, on_tick, (uint64_t)spec_int(p->spec, "periodSeconds", 10, 1) * 1000, 0);
}

struct probe *probe_new(uv_loop_t *loop, enum probe_kind kind, const json_t *spec, const char *ip, int port,
                        const json_t *env, const char *cwd, probe_cb cb, void *arg)
{
    struct probe *p = xcalloc(1, sizeof *p);
    p->loop = loop;
    p->kind = kind;
    p->spec = json_deep_copy(spec);
    snprintf(p->ip, sizeof p->ip, "%s", ip);
    p->port = port;
    size_t n = json_array_size(env);
    p->env = xcalloc(n + 1, sizeof *p->env);
    for (size_t i = 0; i < n; i++) p->env[i] = xstrdup(json_string_value(json_array_get(env, i)));
    p->cwd = xstrdup(cwd ? cwd : "/");
    p->cb = cb;
    p->arg = arg;
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, on_tick, (uint64_t)spec_int(spec, "initialDelaySeconds", 0, 0) * 1000, 0);
    return p;
}

static void probe_closed(uv_handle_t *h)
{
    struct probe *p = h->data;
    for (char **e = p->env; *e; e++) free(*e);
    free(p->env);
    free(p->cwd);
    json_decref(p->spec);
    free(p);
}

void probe_free(struct probe *p)
{
    if (!p) return;
    if (p->inflight) {
        p->inflight->probe = NULL;
        p->inflight = NULL;
    }
    uv_close((uv_handle_t *)&p->timer, probe_closed);
}
