/* netf_util: probes through the mesh and cluster DNS queries for the
 * network faults' verify (see netf_util.h). The requests are the ones a
 * health check of each server would send, so they leave nothing unusual
 * in the servers' logs: GET /healthz over HTTP/1.0, redis PING then QUIT,
 * memcached version then quit, PostgreSQL's SSLRequest then a half-close
 * (PostgreSQL logs nothing for a client that leaves after the SSL answer). */
#include "faults/netf_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/json.h"
#include "core/lab.h"

#define REQUEST_MAX 8192
#define HEAD_KEEP 256 /* answer bytes kept to read an HTTP status and body */

int netf_target_of(struct fault_ctx *c, const char *service, struct netf_target *t)
{
    memset(t, 0, sizeof *t);
    json_t *svc = fault_get(c, "Service", service, NULL);
    if (!svc) return -1;
    const char *ip = json_path_str(svc, "spec.clusterIP", "");
    t->port = (int)json_path_int(json_array_get(json_path(svc, "spec.ports"), 0), "port", 0);
    snprintf(t->ip, sizeof t->ip, "%s", ip);
    snprintf(t->name, sizeof t->name, "%s", service);
    json_decref(svc);
    struct in_addr a;
    if (t->port <= 0 || inet_pton(AF_INET, t->ip, &a) != 1) {
        snprintf(c->err, sizeof c->err, "Service \"%s\" has no ClusterIP and port", service);
        return -1;
    }
    char prog[128] = "";
    if (fault_deployment_program(c, service, prog, sizeof prog)) c->err[0] = '\0'; /* no such Deployment: HTTP */
    if (!strcmp(prog, "redis-server")) t->proto = NETF_REDIS;
    else if (!strcmp(prog, "memcached")) t->proto = NETF_MEMCACHED;
    else if (!strcmp(prog, "postgres") || !strcmp(prog, "aiopslab-postgres")) t->proto = NETF_POSTGRES;
    else t->proto = NETF_HTTP;
    return 0;
}

int netf_pod_ip(struct fault_ctx *c, const char *deployment, char *ip, size_t n)
{
    json_t *pods = fault_pods(c, deployment);
    size_t i;
    json_t *p;
    int rc = -1;
    json_array_foreach(pods, i, p)
    {
        const char *pip = json_path_str(p, "status.podIP", "");
        if (pip[0] && !strcmp(json_path_str(p, "status.phase", ""), "Running")) {
            snprintf(ip, n, "%s", pip);
            rc = 0;
            break;
        }
    }
    json_decref(pods);
    if (rc) snprintf(c->err, sizeof c->err, "Deployment \"%s\" has no running pod", deployment);
    return rc;
}

#define METRICS_MAX (4u << 20)

/* The mesh's metrics text (GET /metrics on its admin port), malloc'd, or NULL. */
static char *mesh_metrics(struct fault_ctx *c)
{
    char node[16];
    lab_node_ip(c->lab, node, sizeof node);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return NULL;
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(LAB_MESH_ADMIN_PORT)};
    inet_pton(AF_INET, node, &a.sin_addr);
    static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
    char *text = NULL;
    size_t len = 0, cap = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) || send(fd, req, sizeof req - 1, MSG_NOSIGNAL) < 0) goto out;
    for (;;) {
        if (cap - len < 65536) {
            if (cap >= METRICS_MAX) break;
            cap = cap ? cap * 2 : 65536;
            char *bigger = realloc(text, cap + 1);
            if (!bigger) break;
            text = bigger;
        }
        ssize_t r = recv(fd, text + len, cap - len, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
    }
    if (text) text[len] = '\0';
out:
    close(fd);
    return text;
}

int netf_caller_ip(struct fault_ctx *c, const char *service, char *ip, size_t n)
{
    char *text = mesh_metrics(c);
    if (!text) return -1;
    char dst[600], src_ns[300];
    snprintf(dst, sizeof dst, "destination_namespace=\"%s\",destination_service=\"%s\"}", c->ns, service);
    snprintf(src_ns, sizeof src_ns, "mesh_tcp_connections_opened_total{source_namespace=\"%s\",source_workload=\"",
             c->ns);
    int rc = -1;
    size_t pre = strlen(src_ns);
    for (char *line = text; line && *line && rc; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        char *eol = strchr(line, '\n');
        if (strncmp(line, src_ns, pre)) continue;
        char *w = line + pre, *q = strchr(w, '"');
        if (!q || (eol && q > eol)) continue;
        char *d = strstr(q, dst);
        if (!d || (eol && d > eol)) continue;
        char workload[254];
        snprintf(workload, sizeof workload, "%.*s", (int)(q - w), w);
        if (strcmp(workload, "unknown")) rc = netf_pod_ip(c, workload, ip, n);
    }
    if (rc) c->err[0] = '\0'; /* no caller known: the probes go as a non-pod caller */
    free(text);
    return rc;
}

/* The request of one probe: the protocol's health check, padded. */
static size_t build_request(const struct netf_target *t, size_t pad, char *out, size_t cap)
{
    size_t n = 0;
    switch (t->proto) {
    case NETF_HTTP: {
        n = (size_t)snprintf(out, cap, "GET /healthz HTTP/1.0\r\nHost: %s:%d\r\n", t->name, t->port);
        if (pad) {
            if (pad > cap - n - 64) pad = cap - n - 64;
            n += (size_t)snprintf(out + n, cap - n, "X-Padding: ");
            memset(out + n, 'a', pad);
            n += pad;
            n += (size_t)snprintf(out + n, cap - n, "\r\n");
        }
        n += (size_t)snprintf(out + n, cap - n, "\r\n");
        break;
    }
    case NETF_REDIS:
    case NETF_MEMCACHED: {
        const char *one = t->proto == NETF_REDIS ? "PING\r\n" : "version\r\n";
        const char *bye = t->proto == NETF_REDIS ? "QUIT\r\n" : "quit\r\n";
        size_t len = strlen(one);
        do {
            memcpy(out + n, one, len);
            n += len;
        } while (n + len + 8 < cap && n < pad);
        memcpy(out + n, bye, strlen(bye));
        n += strlen(bye);
        break;
    }
    case NETF_POSTGRES: {
        static const unsigned char ssl_request[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
        memcpy(out, ssl_request, sizeof ssl_request);
        n = sizeof ssl_request;
        break;
    }
    }
    return n;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* What the answer's first bytes say (HTTP status, the mesh's abort body). */
static void read_head(struct netf_probe *p, const char *head, size_t n)
{
    int code;
    if (n >= 12 && sscanf(head, "HTTP/1.%*1[01] %3d", &code) == 1) p->http_status = code;
    const char *body = memmem(head, n, "\r\n\r\n", 4);
    if (body) p->abort_body = (size_t)(head + n - (body + 4)) >= 18 && !memcmp(body + 4, "fault filter abort", 18);
}

int netf_probe_run(struct fault_ctx *c, const struct netf_target *t, const char *src_ip, size_t pad, int n,
                   unsigned wait_ms, struct netf_probe *out)
{
    if (n < 1) n = 1;
    if (n > NETF_PROBES_MAX) n = NETF_PROBES_MAX;
    memset(out, 0, sizeof *out * (size_t)n);
    char req[REQUEST_MAX];
    size_t req_len = build_request(t, pad, req, sizeof req);
    struct pollfd pfd[NETF_PROBES_MAX];
    char head[NETF_PROBES_MAX][HEAD_KEEP];
    size_t head_len[NETF_PROBES_MAX] = {0};
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t->port)};
    inet_pton(AF_INET, t->ip, &dst.sin_addr);
    struct sockaddr_in src = {.sin_family = AF_INET};
    if (src_ip) inet_pton(AF_INET, src_ip, &src.sin_addr);
    uint64_t t0 = now_ms();
    int made = 0;
    for (int i = 0; i < n; i++) {
        pfd[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        pfd[i].events = POLLOUT;
        if (pfd[i].fd < 0) continue;
        made++;
        int one = 1;
        setsockopt(pfd[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if ((src_ip && bind(pfd[i].fd, (struct sockaddr *)&src, sizeof src)) ||
            (connect(pfd[i].fd, (struct sockaddr *)&dst, sizeof dst) && errno != EINPROGRESS)) {
            close(pfd[i].fd);
            pfd[i].fd = -1;
        }
    }
    if (!made) {
        snprintf(c->err, sizeof c->err, "cannot make a probe socket: %s", strerror(errno));
        return -1;
    }
    for (;;) {
        int open = 0;
        for (int i = 0; i < n; i++) open += pfd[i].fd >= 0;
        uint64_t el = now_ms() - t0;
        if (!open || el >= wait_ms) break;
        if (poll(pfd, (nfds_t)n, (int)(wait_ms - el)) < 0 && errno != EINTR) break;
        uint32_t at = (uint32_t)(now_ms() - t0);
        for (int i = 0; i < n; i++) {
            struct netf_probe *p = &out[i];
            int fd = pfd[i].fd;
            if (fd < 0 || !pfd[i].revents) continue;
            int done = 0;
            if (!p->connected && (pfd[i].revents & (POLLOUT | POLLERR | POLLHUP))) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err) {
                    p->reset = err == ECONNRESET;
                    done = 1;
                } else {
                    p->connected = 1;
                }
            }
            if (p->connected && p->sent < req_len) {
                ssize_t w = send(fd, req + p->sent, req_len - p->sent, MSG_NOSIGNAL);
                if (w > 0) p->sent += (size_t)w;
                else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                    p->reset = errno == ECONNRESET || errno == EPIPE;
                    done = 1;
                }
                /* PostgreSQL answers the SSLRequest and then waits: the
                 * half-close lets it close as it does for a client that leaves. */
                if (p->sent == req_len && t->proto == NETF_POSTGRES) shutdown(fd, SHUT_WR);
            }
            while (!done && p->connected && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                char buf[4096];
                ssize_t r = recv(fd, buf, sizeof buf, 0);
                if (r > 0) {
                    if (!p->received) p->first_ms = at;
                    p->last_ms = at;
                    size_t keep = (size_t)r < HEAD_KEEP - head_len[i] ? (size_t)r : HEAD_KEEP - head_len[i];
                    memcpy(head[i] + head_len[i], buf, keep);
                    head_len[i] += keep;
                    p->received += (size_t)r;
                    continue;
                }
                if (r == 0) {
                    p->closed = 1;
                    p->close_ms = at;
                    done = 1;
                } else if (errno != EAGAIN && errno != EINTR) {
                    p->reset = errno == ECONNRESET;
                    done = 1;
                }
                break;
            }
            if (done) {
                close(fd);
                pfd[i].fd = -1;
            } else {
                pfd[i].events = (short)(POLLIN | (p->sent < req_len ? POLLOUT : 0));
            }
        }
    }
    for (int i = 0; i < n; i++) {
        read_head(&out[i], head[i], head_len[i]);
        if (pfd[i].fd < 0) continue;
        /* A reset, so that a hung connection leaves the mesh at once. */
        struct linger lg = {1, 0};
        setsockopt(pfd[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(pfd[i].fd);
    }
    return 0;
}

int netf_dns_query(struct fault_ctx *c, const char *src_ip, const char *name, unsigned timeout_ms, uint32_t *ip)
{
    size_t len = strlen(name);
    if (len == 0 || len > 253) {
        snprintf(c->err, sizeof c->err, "bad DNS name \"%.64s\"", name);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(c->err, sizeof c->err, "socket: %s", strerror(errno));
        return -1;
    }
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char node[16];
    lab_node_ip(c->lab, node, sizeof node);
    struct sockaddr_in mesh = {.sin_family = AF_INET, .sin_port = htons(LAB_MESH_SHIM_PORT)};
    inet_pton(AF_INET, node, &mesh.sin_addr);
    struct sockaddr_in src = {.sin_family = AF_INET};
    int rc = -1;
    if (src_ip && (inet_pton(AF_INET, src_ip, &src.sin_addr) != 1 || bind(fd, (struct sockaddr *)&src, sizeof src))) {
        snprintf(c->err, sizeof c->err, "cannot bind to %s: %s", src_ip, strerror(errno));
        goto out;
    }
    if (connect(fd, (struct sockaddr *)&mesh, sizeof mesh)) {
        snprintf(c->err, sizeof c->err, "cannot reach the mesh's DNS at %s:%d: %s", node, LAB_MESH_SHIM_PORT,
                 strerror(errno));
        goto out;
    }
    /* "AIOD", the name's length (network order), 6 zero bytes, the name. */
    char q[12 + 254] = "AIOD";
    uint16_t nl = htons((uint16_t)len);
    memcpy(q + 4, &nl, 2);
    memset(q + 6, 0, 6);
    memcpy(q + 12, name, len);
    if (send(fd, q, 12 + len, MSG_NOSIGNAL) != (ssize_t)(12 + len)) {
        snprintf(c->err, sizeof c->err, "DNS query: %s", strerror(errno));
        goto out;
    }
    uint32_t answer[2];
    size_t got = 0;
    while (got < sizeof answer) {
        ssize_t r = recv(fd, (char *)answer + got, sizeof answer - got, 0);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            snprintf(c->err, sizeof c->err, "the mesh's DNS gave no answer for %s", name);
            goto out;
        }
        got += (size_t)r;
    }
    rc = (int)ntohl(answer[0]);
    if (rc == 0 && ip) *ip = ntohl(answer[1]);
out:
    close(fd);
    return rc;
}
