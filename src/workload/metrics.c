/* metrics: the load generator's own Prometheus metrics — offered vs
 * achieved rate, errors by kind, answers by status class and the latency
 * histogram — rendered in the text exposition format and served on an
 * optional port (--metrics-port) so the lab's Prometheus can scrape the
 * generator next to the app it drives.
 *
 * The server is deliberately tiny (one thread, one short request per
 * connection, GET /metrics only): libmicrohttpd is not linked into the
 * aiopslab binary and a scrape endpoint needs nothing more. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "workload/engine.h"

static const double buckets_s[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
static const double quantiles[] = {0.5, 0.9, 0.99, 0.999, 0.9999};

static void esc(struct buf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') buf_append(out, "\\", 1);
        if (*s == '\n') buf_puts(out, "\\n");
        else buf_append(out, s, 1);
    }
}

int load_metrics_render(struct load_run *run, struct buf *out)
{
    struct load_stats st;
    struct load_hdr *h = xmalloc(sizeof *h);
    load_stats(run, &st, h);
    double active = st.elapsed_s < st.duration_s ? st.elapsed_s : st.duration_s;
    if (active <= 0) active = 1e-9;
    buf_printf(out, "# HELP load_offered_rate The schedule's request rate now (requests per second).\n"
                    "# TYPE load_offered_rate gauge\nload_offered_rate %.3f\n", st.offered_rate);
    buf_printf(out, "# HELP load_achieved_rate Answers per second since the start.\n"
                    "# TYPE load_achieved_rate gauge\nload_achieved_rate %.3f\n", (double)st.completed / active);
    buf_printf(out, "# HELP load_requests_offered_total Requests that fell due on the schedule.\n"
                    "# TYPE load_requests_offered_total counter\nload_requests_offered_total %llu\n",
               (unsigned long long)st.offered);
    buf_printf(out, "# HELP load_requests_sent_total Requests written to a connection.\n"
                    "# TYPE load_requests_sent_total counter\nload_requests_sent_total %llu\n",
               (unsigned long long)st.sent);
    buf_printf(out, "# HELP load_requests_completed_total Requests answered (any status).\n"
                    "# TYPE load_requests_completed_total counter\nload_requests_completed_total %llu\n",
               (unsigned long long)st.completed);
    buf_puts(out, "# HELP load_errors_total Failed requests by kind.\n# TYPE load_errors_total counter\n");
    for (int k = 0; k < LOAD_ERR_KINDS; k++)
        buf_printf(out, "load_errors_total{kind=\"%s\"} %llu\n", load_error_name((enum load_error)k),
                   (unsigned long long)st.errors[k]);
    buf_puts(out, "# HELP load_responses_total Answers by status class.\n# TYPE load_responses_total counter\n");
    static const char *const cls[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int k = 0; k < 6; k++)
        if (k != 1) buf_printf(out, "load_responses_total{code=\"%s\"} %llu\n", cls[k], (unsigned long long)st.status[k]);
    buf_puts(out, "# HELP load_operation_requests_total Answers by operation of the mix.\n"
                  "# TYPE load_operation_requests_total counter\n");
    for (size_t k = 0; k < st.nops; k++) {
        buf_puts(out, "load_operation_requests_total{operation=\"");
        esc(out, run->o.mix.op_names[k]);
        buf_printf(out, "\"} %llu\n", (unsigned long long)st.ops[k].completed);
    }
    buf_puts(out, "# HELP load_operation_errors_total Failed requests by operation of the mix.\n"
                  "# TYPE load_operation_errors_total counter\n");
    for (size_t k = 0; k < st.nops; k++) {
        buf_puts(out, "load_operation_errors_total{operation=\"");
        esc(out, run->o.mix.op_names[k]);
        buf_printf(out, "\"} %llu\n", (unsigned long long)st.ops[k].errors);
    }
    buf_puts(out, "# HELP load_request_duration_seconds Latency from each request's intended send time.\n"
                  "# TYPE load_request_duration_seconds histogram\n");
    for (size_t i = 0; i < sizeof buckets_s / sizeof *buckets_s; i++)
        buf_printf(out, "load_request_duration_seconds_bucket{le=\"%g\"} %llu\n", buckets_s[i],
                   (unsigned long long)load_hdr_count_le(h, (uint64_t)(buckets_s[i] * 1e9)));
    buf_printf(out, "load_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)h->count);
    buf_printf(out, "load_request_duration_seconds_sum %.9f\n", (double)h->sum / 1e9);
    buf_printf(out, "load_request_duration_seconds_count %llu\n", (unsigned long long)h->count);
    buf_puts(out, "# HELP load_request_latency_seconds Latency quantiles since the start (HDR histogram, 1 % precision).\n"
                  "# TYPE load_request_latency_seconds summary\n");
    for (size_t i = 0; i < sizeof quantiles / sizeof *quantiles; i++)
        buf_printf(out, "load_request_latency_seconds{quantile=\"%g\"} %.9f\n", quantiles[i],
                   (double)load_hdr_quantile(h, quantiles[i]) / 1e9);
    buf_printf(out, "load_request_latency_seconds_sum %.9f\n", (double)h->sum / 1e9);
    buf_printf(out, "load_request_latency_seconds_count %llu\n", (unsigned long long)h->count);
    free(h);
    return 0;
}

/* ---- the scrape endpoint ----------------------------------------------- */

struct load_metrics_server {
    struct load_run *run;
    int fd, stop_pipe[2];
    pthread_t thread;
};

static void serve_one(struct load_metrics_server *s, int fd)
{
    char req[4096];
    size_t len = 0;
    uint64_t deadline = mono_ns() + 2000000000ull;
    while (len < sizeof req - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        uint64_t now = mono_ns();
        if (now >= deadline || poll(&p, 1, (int)((deadline - now) / 1000000) + 1) <= 0) return;
        ssize_t n = recv(fd, req + len, sizeof req - 1 - len, 0);
        if (n <= 0) return;
        len += (size_t)n;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n")) break;
    }
    struct buf body, head;
    buf_init(&body, 1u << 20);
    buf_init(&head, 1024);
    int ok = !strncmp(req, "GET /metrics ", 13) || !strncmp(req, "GET /metrics?", 13) || !strncmp(req, "GET / ", 6);
    if (ok) load_metrics_render(s->run, &body);
    else buf_puts(&body, "not found: the load generator serves GET /metrics\n");
    buf_printf(&head, "HTTP/1.1 %s\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
               ok ? "200 OK" : "404 Not Found", body.len);
    if (!write_all(fd, head.data, head.len)) write_all(fd, body.data, body.len);
    buf_free(&head);
    buf_free(&body);
}

static void *server_main(void *arg)
{
    struct load_metrics_server *s = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = s->fd, .events = POLLIN}, {.fd = s->stop_pipe[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p[1].revents) break;
        if (!(p[0].revents & POLLIN)) continue;
        int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) continue;
        serve_one(s, fd);
        close(fd);
    }
    return NULL;
}

int load_metrics_serve(struct load_run *run, const char *addr, int port, struct load_metrics_server **out, char *err,
                       size_t errlen)
{
    if (port <= 0 || port > 65535) {
        snprintf(err, errlen, "metrics port must be 1..65535");
        return -EINVAL;
    }
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
    int gai = getaddrinfo(addr, portstr, &hints, &ai);
    if (gai) {
        snprintf(err, errlen, "metrics address %s: %s", addr, gai_strerror(gai));
        return -EINVAL;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
        int e = errno;
        snprintf(err, errlen, "metrics: cannot listen on %s:%d: %s", addr, port, strerror(e));
        if (fd >= 0) close(fd);
        freeaddrinfo(ai);
        return -e;
    }
    freeaddrinfo(ai);
    struct load_metrics_server *s = xcalloc(1, sizeof *s);
    s->run = run;
    s->fd = fd;
    if (pipe2(s->stop_pipe, O_CLOEXEC) || pthread_create(&s->thread, NULL, server_main, s)) {
        snprintf(err, errlen, "metrics: cannot start the server");
        close(fd);
        free(s);
        return -EAGAIN;
    }
    *out = s;
    return 0;
}

void load_metrics_close(struct load_metrics_server *s)
{
    if (!s) return;
    if (write(s->stop_pipe[1], "x", 1) < 0) { /* the thread ends on the pipe */ }
    pthread_join(s->thread, NULL);
    close(s->stop_pipe[0]);
    close(s->stop_pipe[1]);
    close(s->fd);
    free(s);
}
