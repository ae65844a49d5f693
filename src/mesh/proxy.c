/* proxy: connection state machine of the mesh (see proxy.h, docs/mesh.md).
 *
 * A connection has two sides (0: the caller, 1: the upstream endpoint) and
 * two directions, each with one fixed buffer: d[0] carries caller → service
 * bytes, d[1] service → caller. The hot path is recv into the direction's
 * buffer and send straight on; epoll interest changes only when a send
 * would block (then the source stops being read until the buffer drains),
 * which keeps the common request/response exchange at one recv and one
 * send per message, no allocation and no epoll_ctl.
 *
 * Under a delay rule every chunk read is copied into a queue with its due
 * time (order kept: due times never go backwards) and a per-direction
 * timer sends it on. A reset rule accepts the caller and resets it on its
 * first data. A connection closed inside an event is parked on the
 * graveyard and freed after the batch, so later events of the same batch
 * that still point at it are recognised and skipped. */
#include "mesh/proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/lab.h"
#include "core/log.h"
#include "mesh/http.h"
#include "mesh/rules.h"

#define BUF_SIZE 16384
#define DELAY_QUEUE_MAX (256 * 1024) /* bytes held per direction under a delay rule */
#define SHIM_HEADER_LEN 12

enum conn_state {
    ST_HEADER,     /* shim: reading the 12-byte header */
    ST_WAIT,       /* delayed connect pending */
    ST_CONNECTING, /* upstream connect in progress */
    ST_OPEN,       /* forwarding */
    ST_RESETTING   /* reset rule: waiting for the caller's first data */
};

struct chunk {
    struct chunk *next;
    uint64_t due;
    uint32_t off, len;
    char data[];
};

struct dir {
    uint32_t off, len;        /* pending bytes in buf */
    uint8_t eof, shut, blocked;
    struct chunk *head, *tail;
    size_t queued;
    uint64_t last_due;
    struct mesh_timer timer;
    char *buf;
};

struct mesh_conn {
    struct mesh_loop *L;
    struct mesh_handle h[2];
    int fd[2];
    uint32_t ev[2];           /* current epoll interest */
    uint8_t reg[2];           /* registered with epoll */
    uint8_t state, shim, closed, counted, http_on;
    uint32_t peer_ip;
    struct mesh_edge *edge;
    struct mesh_verdict verdict;
    struct mesh_timer connect_timer;
    uint32_t up_ip;
    uint16_t up_port;
    uint8_t hdr_len;
    char hdr[SHIM_HEADER_LEN];
    struct dir d[2];
    struct mesh_conn *prev, *next, *grave_next;
    struct mesh_http http;
    char bufs[2][BUF_SIZE];
};

static void conn_close(struct mesh_conn *c, int reset_caller);
static void update_interest(struct mesh_conn *c);
static void flush_dir(struct mesh_conn *c, int s);

static void set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void set_linger0(int fd)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

static void on_dir_timer(struct mesh_timer *t, void *arg)
{
    struct mesh_conn *c = arg;
    int s = t == &c->d[0].timer ? 0 : 1;
    flush_dir(c, s);
    if (!c->closed) update_interest(c);
}

static void do_connect(struct mesh_conn *c);

static void on_connect_timer(struct mesh_timer *t, void *arg)
{
    (void)t;
    do_connect(arg);
}

static struct mesh_conn *conn_new(struct mesh_loop *L, int fd, uint32_t peer_ip)
{
    struct mesh_conn *c = xmalloc(sizeof *c);
    memset(c, 0, offsetof(struct mesh_conn, http));
    mesh_http_init(&c->http);
    c->L = L;
    c->fd[0] = fd;
    c->fd[1] = -1;
    c->peer_ip = peer_ip;
    for (int s = 0; s < 2; s++) {
        c->h[s].kind = MESH_H_CONN;
        c->h[s].side = (uint8_t)s;
        c->h[s].owner = c;
        c->d[s].buf = c->bufs[s];
        c->d[s].timer.fn = on_dir_timer;
        c->d[s].timer.arg = c;
    }
    c->connect_timer.fn = on_connect_timer;
    c->connect_timer.arg = c;
    c->next = L->conns;
    if (L->conns) L->conns->prev = c;
    L->conns = c;
    L->n_conns++;
    return c;
}

static void set_events(struct mesh_conn *c, int s, uint32_t ev)
{
    if (c->fd[s] < 0 || (c->reg[s] && c->ev[s] == ev)) return;
    struct epoll_event e = {.events = ev, .data.ptr = &c->h[s]};
    if (epoll_ctl(c->L->epfd, c->reg[s] ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd[s], &e) == 0) {
        c->reg[s] = 1;
        c->ev[s] = ev;
    }
}

static int can_read(const struct dir *d)
{
    return !d->eof && d->len == 0 && d->queued < DELAY_QUEUE_MAX;
}

/* Only touches epoll when the wanted set changes. */
static void update_interest(struct mesh_conn *c)
{
    uint32_t e0 = 0, e1 = 0;
    switch (c->state) {
    case ST_HEADER:
        e0 = EPOLLIN;
        break;
    case ST_RESETTING:
        e0 = EPOLLIN | (c->d[1].blocked ? EPOLLOUT : 0);
        break;
    case ST_WAIT:
        break;
    case ST_CONNECTING:
        e1 = EPOLLOUT;
        break;
    case ST_OPEN:
        if (can_read(&c->d[0])) e0 |= EPOLLIN;
        if (c->d[1].blocked) e0 |= EPOLLOUT;
        if (can_read(&c->d[1])) e1 |= EPOLLIN;
        if (c->d[0].blocked) e1 |= EPOLLOUT;
        break;
    }
    set_events(c, 0, e0);
    set_events(c, 1, e1);
}

static void free_chunks(struct dir *d)
{
    while (d->head) {
        struct chunk *k = d->head;
        d->head = k->next;
        free(k);
    }
    d->tail = NULL;
    d->queued = 0;
}

static void conn_close(struct mesh_conn *c, int reset)
{
    if (c->closed) return;
    struct mesh_loop *L = c->L;
    c->closed = 1;
    for (int s = 0; s < 2; s++) {
        if (c->fd[s] < 0) continue;
        if (reset) set_linger0(c->fd[s]);
        close(c->fd[s]); /* also leaves the epoll set */
        c->fd[s] = -1;
        mesh_timer_stop(&L->timers, &c->d[s].timer);
        free_chunks(&c->d[s]);
    }
    mesh_timer_stop(&L->timers, &c->connect_timer);
    if (c->counted) c->edge->closed++;
    if (c->prev) c->prev->next = c->next;
    else L->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    L->n_conns--;
    c->grave_next = L->graveyard;
    L->graveyard = c;
}

void mesh_proxy_reap(struct mesh_loop *L)
{
    while (L->graveyard) {
        struct mesh_conn *c = L->graveyard;
        L->graveyard = c->grave_next;
        free(c);
    }
}

void mesh_proxy_close_all(struct mesh_loop *L)
{
    while (L->conns) conn_close(L->conns, 0);
    mesh_proxy_reap(L);
}

/* The upstream connect failed (or there was nowhere to connect): the shim
 * caller gets the errno, a direct caller a reset. */
static void conn_fail(struct mesh_conn *c, enum mesh_fail_reason reason, int err)
{
    if (c->edge) c->edge->failures[reason]++;
    if (c->shim) {
        uint32_t status = htonl((uint32_t)err);
        ssize_t w = send(c->fd[0], &status, sizeof status, MSG_NOSIGNAL);
        (void)w;
        conn_close(c, 0);
    } else {
        conn_close(c, 1);
    }
}

static void conn_established(struct mesh_conn *c)
{
    c->state = ST_OPEN;
    if (c->shim) {
        uint32_t status = 0;
        memcpy(c->d[1].buf, &status, sizeof status);
        c->d[1].off = 0;
        c->d[1].len = sizeof status;
        flush_dir(c, 1);
        if (c->closed) return;
    }
    update_interest(c);
}

static void do_connect(struct mesh_conn *c)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_warn("upstream socket: %s", strerror(errno));
        conn_fail(c, MESH_FAIL_OTHER, errno);
        return;
    }
    set_nodelay(fd);
    c->fd[1] = fd;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(c->up_port), .sin_addr.s_addr = htonl(c->up_ip)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        conn_established(c);
        return;
    }
    if (errno != EINPROGRESS) {
        int err = errno;
        conn_fail(c, mesh_fail_reason_of(err), err);
        return;
    }
    c->state = ST_CONNECTING;
    update_interest(c);
}

/* Destination known (Service port sp; NULL: nothing listens there). */
static void conn_start(struct mesh_conn *c, struct mesh_svc_port *sp)
{
    struct mesh_loop *L = c->L;
    if (!sp) {
        conn_fail(c, MESH_FAIL_OTHER, ECONNREFUSED);
        return;
    }
    const struct mesh_pod *src = mesh_routes_pod(L->routes, c->peer_ip);
    c->edge = mesh_metrics_edge(L->metrics, src ? src->ns : NULL, src ? src->workload : NULL, sp->svc->ns,
                                sp->svc->name);
    c->edge->opened++;
    c->counted = 1;
    mesh_rules_match(L->routes, src, sp, &L->rnd, &c->verdict);
    if (c->verdict.action == MESH_VERDICT_RESET) {
        c->state = ST_RESETTING;
        if (c->shim) {
            uint32_t status = 0;
            memcpy(c->d[1].buf, &status, sizeof status);
            c->d[1].len = sizeof status;
            flush_dir(c, 1);
            if (c->closed) return;
        }
        update_interest(c);
        return;
    }
    const struct mesh_endpoint *ep = mesh_routes_pick(sp);
    if (!ep) {
        conn_fail(c, MESH_FAIL_NO_ENDPOINTS, ECONNREFUSED);
        return;
    }
    c->up_ip = ep->ip;
    c->up_port = ep->port;
    if (c->verdict.action == MESH_VERDICT_DELAY) {
        c->state = ST_WAIT;
        update_interest(c);
        mesh_timer_start(&L->timers, &c->connect_timer, L->now + mesh_rules_delay_ns(&c->verdict, &L->rnd));
        return;
    }
    do_connect(c);
}

void mesh_proxy_accept(struct mesh_loop *L, int lfd, int is_shim, uint32_t ip, uint16_t port)
{
    for (int i = 0; i < 64; i++) {
        struct sockaddr_in peer;
        socklen_t plen = sizeof peer;
        int fd = accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) log_warn("accept: %s", strerror(errno));
            return;
        }
        set_nodelay(fd);
        struct mesh_conn *c = conn_new(L, fd, peer.sin_family == AF_INET ? ntohl(peer.sin_addr.s_addr) : 0);
        if (is_shim) {
            c->shim = 1;
            c->state = ST_HEADER;
            update_interest(c);
        } else {
            conn_start(c, mesh_routes_find(L->routes, ip, port));
        }
    }
}

static void on_header(struct mesh_conn *c)
{
    ssize_t n = recv(c->fd[0], c->hdr + c->hdr_len, SHIM_HEADER_LEN - c->hdr_len, 0);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        conn_close(c, 0);
        return;
    }
    c->hdr_len += (uint8_t)n;
    if (c->hdr_len < SHIM_HEADER_LEN) return;
    if (memcmp(c->hdr, "AIOM", 4)) {
        log_warn("shim port: bad header, closing");
        conn_close(c, 1);
        return;
    }
    uint32_t ip;
    uint16_t port;
    memcpy(&ip, c->hdr + 4, 4);
    memcpy(&port, c->hdr + 8, 2);
    conn_start(c, mesh_routes_find(c->L->routes, ntohl(ip), ntohs(port)));
}

static void on_http_response(void *ctx, int status, uint64_t latency_ns)
{
    mesh_edge_request(ctx, status, latency_ns);
}

/* Send what direction s holds (buffer, then due chunks) to the other side. */
static void flush_dir(struct mesh_conn *c, int s)
{
    struct dir *d = &c->d[s];
    int dst = c->fd[1 - s];
    d->blocked = 0;
    while (d->len) {
        ssize_t w = send(dst, d->buf + d->off, d->len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                d->blocked = 1;
                return;
            }
            conn_close(c, 1);
            return;
        }
        d->off += (uint32_t)w;
        d->len -= (uint32_t)w;
    }
    d->off = 0;
    while (d->head && d->head->due <= c->L->now) {
        struct chunk *k = d->head;
        ssize_t w = send(dst, k->data + k->off, k->len - k->off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                d->blocked = 1;
                return;
            }
            conn_close(c, 1);
            return;
        }
        k->off += (uint32_t)w;
        if (k->off < k->len) continue;
        d->queued -= k->len;
        d->head = k->next;
        if (!d->head) d->tail = NULL;
        free(k);
    }
    if (d->head) {
        if (!d->timer.pos) mesh_timer_start(&c->L->timers, &d->timer, d->head->due);
        return;
    }
    if (d->eof && !d->shut) {
        d->shut = 1;
        shutdown(dst, SHUT_WR);
    }
    if (c->d[0].shut && c->d[1].shut) conn_close(c, 0);
}

static void on_readable(struct mesh_conn *c, int s)
{
    struct dir *d = &c->d[s];
    ssize_t n = recv(c->fd[s], d->buf, BUF_SIZE, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        conn_close(c, 1); /* a reset on one side resets the other */
        return;
    }
    if (n == 0) {
        d->eof = 1;
        flush_dir(c, s);
        return;
    }
    struct mesh_loop *L = c->L;
    if (s == 0) {
        c->edge->sent_bytes += (uint64_t)n;
        if (!c->http.off) mesh_http_feed_request(&c->http, d->buf, (size_t)n, L->now);
    } else {
        c->edge->received_bytes += (uint64_t)n;
        if (!c->http.off) mesh_http_feed_response(&c->http, d->buf, (size_t)n, L->now, on_http_response, c->edge);
    }
    if (c->verdict.action == MESH_VERDICT_DELAY) {
        struct chunk *k = xmalloc(sizeof *k + (size_t)n);
        memcpy(k->data, d->buf, (size_t)n);
        k->off = 0;
        k->len = (uint32_t)n;
        k->next = NULL;
        uint64_t due = L->now + mesh_rules_delay_ns(&c->verdict, &L->rnd);
        if (due < d->last_due) due = d->last_due;
        d->last_due = k->due = due;
        if (d->tail) d->tail->next = k;
        else d->head = k;
        d->tail = k;
        d->queued += (size_t)n;
        if (!d->blocked) flush_dir(c, s);
        return;
    }
    d->off = 0;
    d->len = (uint32_t)n;
    flush_dir(c, s);
}

void mesh_proxy_event(struct mesh_loop *L, struct mesh_handle *h, uint32_t events)
{
    struct mesh_conn *c = h->owner;
    int s = h->side;
    if (c->closed) return;
    if (s == 0 && (c->state == ST_WAIT || c->state == ST_CONNECTING)) {
        /* The caller went away (or reset) before the upstream was ready. */
        if (events & (EPOLLERR | EPOLLHUP)) conn_close(c, 1);
        return;
    }
    switch (c->state) {
    case ST_HEADER:
        on_header(c);
        break;
    case ST_RESETTING:
        if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
            conn_close(c, 1);
            return;
        }
        if (events & EPOLLOUT) flush_dir(c, 1);
        break;
    case ST_CONNECTING: {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
        if (err) {
            conn_fail(c, mesh_fail_reason_of(err), err);
            return;
        }
        conn_established(c);
        return;
    }
    case ST_OPEN:
        if (events & EPOLLOUT) {
            flush_dir(c, 1 - s);
            if (c->closed) return;
        }
        if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
            if (can_read(&c->d[s])) on_readable(c, s);
            else if (events & EPOLLERR) conn_close(c, 1);
            if (c->closed) return;
        }
        break;
    default:
        break;
    }
    (void)L;
    if (!c->closed) update_interest(c);
}
