/* proxy: connection state machine of the mesh (see proxy.h, docs/mesh.md).
 *
 * A connection has two sides (0: the caller, 1: the upstream endpoint) and
 * two directions, each with one fixed buffer: d[0] carries caller → service
 * bytes, d[1] service → caller. The hot path is recv into the direction's
 * buffer and, once the whole batch of epoll events is read, send on
 * (mesh_proxy_flush); epoll interest changes only when a send would block
 * (then the source stops being read until the buffer drains), which keeps
 * the common request/response exchange at one recv and one send per
 * message, no allocation and no epoll_ctl. A connection without fault
 * rules never leaves that path.
 *
 * Why the sends wait for the end of the batch: each send wakes its reader
 * (the caller or the service), and a reader woken on the mesh's cpu
 * preempts the mesh in the middle of its batch. Reading everything first
 * and sending last wakes the readers when the mesh is about to sleep
 * anyway, and a reader woken by the first send often finds the next ones
 * already queued. Measured on bench/mesh.sh's setup against the
 * send-at-once code in the same runs: 6-11% less mesh cpu and 3-22% fewer
 * context switches per request in two runs of three, 3% more cpu in the
 * third (see bench/RESULTS.md): a small gain, within the noise of req/s.
 * The delay it adds to a message is the reads of the rest of the batch, a
 * few microseconds.
 *
 * Faults (the verdict of rules.c) act here:
 *   - delay, loss and bandwidth shape a direction: every chunk read is
 *     copied into a queue with its due time (order kept: due times never go
 *     backwards) and a per-direction timer sends it on; loss and delay also
 *     hold the upstream connect (a lost SYN);
 *   - reset accepts the caller and resets it on its first data;
 *   - partition and black hole ("hang") never answer a new connection (the
 *     shim caller waits as for a SYN that gets no answer, until Linux's SYN
 *     retries would give up) and stall open ones until the rule goes;
 *   - abort answers a share of HTTP requests itself (http.c finds the
 *     request boundaries) and drops them;
 *   - slow close holds the FIN toward the caller.
 * Rules are matched when a connection opens and again on every routes
 * reload, so they act on open (keep-alive) connections too.
 *
 * The shim port also answers cluster DNS queries (dns.c). A connection
 * closed inside an event is parked on the graveyard and freed after the
 * batch, so later events of the same batch that still point at it are
 * recognised and skipped. */
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
#include "mesh/dns.h"
#include "mesh/http.h"
#include "mesh/rules.h"

#define BUF_SIZE 16384
#define DELAY_QUEUE_MAX (256 * 1024) /* bytes held per direction while shaped */
#define SHIM_HEADER_LEN 12
#define SHIM_FLAG_OOB 1 /* header byte 10: status as one urgent byte (non-blocking connect) */
/* Linux gives up a connect after 6 SYN retransmissions: 1+2+...+64 s. */
#define SYN_GIVE_UP_NS (127ull * 1000000000ull)

enum conn_state {
    ST_HEADER,     /* shim: reading the 12-byte header */
    ST_WAIT,       /* delayed connect pending */
    ST_CONNECTING, /* upstream connect in progress */
    ST_OPEN,       /* forwarding */
    ST_RESETTING,  /* reset rule: waiting for the caller's first data */
    ST_HANG,       /* partition / black hole / lost SYNs: never answered */
    ST_DNS         /* shim: reading a DNS query name */
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
    uint64_t bw_free;         /* bandwidth: when the link is free again */
    uint64_t fin_at;          /* slow close: when the FIN may go (0: not set) */
    struct mesh_timer timer;
    char *buf;
};

struct mesh_conn {
    struct mesh_loop *L;
    struct mesh_handle h[2];
    int fd[2];
    uint32_t ev[2];           /* current epoll interest */
    uint8_t reg[2];           /* registered with epoll */
    uint8_t state, shim, closed, counted, oob;
    uint8_t stalled;          /* hang verdict on an open connection */
    uint8_t aborting;         /* abort: the request being read is answered by the mesh */
    uint8_t draining;         /* its upstream left the Service's endpoints: close once idle */
    uint8_t flush_dirs;       /* bit s: direction s read data to send at the end of the batch */
    struct mesh_conn *flush_next;
    uint32_t peer_ip;
    uint32_t svc_ip;          /* the Service address (to match rules again on reload) */
    uint16_t svc_port, dns_len;
    uint64_t abort_start;
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
static void do_connect(struct mesh_conn *c);
static void conn_fail(struct mesh_conn *c, enum mesh_fail_reason reason, int err);
static void drain_check(struct mesh_conn *c);

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

/* A delayed connect is due, or a hung one gives up as Linux would. */
static void on_connect_timer(struct mesh_timer *t, void *arg)
{
    (void)t;
    struct mesh_conn *c = arg;
    if (c->state == ST_HANG) conn_fail(c, MESH_FAIL_TIMEOUT, ETIMEDOUT);
    else do_connect(c);
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
    case ST_DNS:
        e0 = EPOLLIN;
        break;
    case ST_RESETTING:
        e0 = EPOLLIN | (c->d[1].blocked ? EPOLLOUT : 0);
        break;
    case ST_HANG:
        e0 = EPOLLRDHUP; /* only to notice the caller giving up */
        break;
    case ST_WAIT:
        break;
    case ST_CONNECTING:
        e1 = EPOLLOUT;
        break;
    case ST_OPEN:
        if (c->stalled) break; /* a cut link carries nothing either way */
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
        if (c->fd[s] >= 0) {
            if (reset) set_linger0(c->fd[s]);
            close(c->fd[s]); /* also leaves the epoll set */
            c->fd[s] = -1;
        }
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

/* The shim's status for a caller whose connect went through the mesh: one
 * urgent byte (non-blocking connect: the shim finds it with POLLPRI, and
 * it never mixes with the stream) or 4 bytes in-band (blocking connect). */
static void send_status(struct mesh_conn *c, int err)
{
    if (c->oob) {
        unsigned char b = err > 0 && err < 256 ? (unsigned char)err : (err ? EIO : 0);
        ssize_t w = send(c->fd[0], &b, 1, MSG_OOB | MSG_NOSIGNAL);
        (void)w;
        return;
    }
    uint32_t status = htonl((uint32_t)err);
    if (err) {
        ssize_t w = send(c->fd[0], &status, sizeof status, MSG_NOSIGNAL);
        (void)w;
        return;
    }
    /* Success: ahead of the stream, through the direction's buffer. */
    memcpy(c->d[1].buf, &status, sizeof status);
    c->d[1].off = 0;
    c->d[1].len = sizeof status;
    flush_dir(c, 1);
}

/* The upstream connect failed (or there was nowhere to connect): the shim
 * caller gets the errno, a direct caller a reset. */
static void conn_fail(struct mesh_conn *c, enum mesh_fail_reason reason, int err)
{
    if (c->edge) c->edge->failures[reason]++;
    if (c->shim) {
        send_status(c, err);
        conn_close(c, 0);
    } else {
        conn_close(c, 1);
    }
}

static void conn_established(struct mesh_conn *c)
{
    c->state = ST_OPEN;
    if (c->shim) {
        send_status(c, 0);
        if (c->closed) return;
    }
    if (c->stalled) c->stalled = 0; /* set only by a reload while connecting */
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

/* Never answer the caller, as a cut link never answers a SYN; the shim
 * caller's own timeout fires first, else Linux's would. */
static void conn_hang(struct mesh_conn *c)
{
    c->state = ST_HANG;
    update_interest(c);
    mesh_timer_start(&c->L->timers, &c->connect_timer, c->L->now + SYN_GIVE_UP_NS);
}

/* The verdict is known: act on the new connection. */
static void conn_proceed(struct mesh_conn *c, struct mesh_svc_port *sp)
{
    struct mesh_loop *L = c->L;
    const struct mesh_verdict *v = &c->verdict;
    if (v->flags & MESH_V_HANG) {
        conn_hang(c);
        return;
    }
    if (v->flags & MESH_V_RESET) {
        c->state = ST_RESETTING;
        if (c->shim) {
            send_status(c, 0);
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
    if (v->flags & (MESH_V_DELAY | MESH_V_LOSS)) {
        uint64_t wait = 0;
        if (v->flags & MESH_V_DELAY) wait = mesh_rules_delay_ns(&v->dir[v->dir[0].delay_ms ? 0 : 1], &L->rnd);
        if (v->flags & MESH_V_LOSS) {
            /* The handshake is lost when the SYN or the SYN-ACK is. */
            int a = v->dir[0].loss_percent, b = v->dir[1].loss_percent;
            uint64_t syn = mesh_rules_loss_ns(100 - (100 - a) * (100 - b) / 100, 1, &L->rnd);
            if (syn == MESH_LOSS_GIVE_UP) {
                conn_hang(c);
                return;
            }
            wait += syn;
        }
        if (wait) {
            c->state = ST_WAIT;
            update_interest(c);
            mesh_timer_start(&L->timers, &c->connect_timer, L->now + wait);
            return;
        }
    }
    do_connect(c);
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
    c->svc_ip = sp->svc->cluster_ip;
    c->svc_port = sp->port;
    mesh_rules_match(L->routes, src, sp, &L->rnd, &c->verdict);
    conn_proceed(c, sp);
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

/* A DNS query from the shim: "AIOD", name length (2 bytes, network order),
 * 6 zero bytes, the name. The answer: status (4 bytes: dns.h), the IPv4
 * address (4 bytes), both in network order; then the mesh closes. */
static void on_dns(struct mesh_conn *c)
{
    struct dir *d = &c->d[0];
    ssize_t n = recv(c->fd[0], d->buf + d->len, c->dns_len - d->len, 0);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        conn_close(c, 0);
        return;
    }
    d->len += (uint32_t)n;
    if (d->len < c->dns_len) return;
    d->buf[d->len] = '\0';
    uint32_t ip = 0;
    int st = mesh_dns_resolve(c->L->routes, mesh_routes_pod(c->L->routes, c->peer_ip), d->buf, &c->L->rnd, &ip);
    uint32_t answer[2] = {htonl((uint32_t)st), htonl(ip)};
    ssize_t w = send(c->fd[0], answer, sizeof answer, MSG_NOSIGNAL);
    (void)w;
    d->len = 0;
    conn_close(c, 0);
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
    if (!memcmp(c->hdr, "AIOD", 4)) {
        uint16_t len;
        memcpy(&len, c->hdr + 4, 2);
        c->dns_len = ntohs(len);
        if (c->dns_len == 0 || c->dns_len > MESH_DNS_NAME_MAX + 1) {
            conn_close(c, 1);
            return;
        }
        c->state = ST_DNS;
        on_dns(c);
        return;
    }
    if (memcmp(c->hdr, "AIOM", 4)) {
        log_warn("shim port: bad header, closing");
        conn_close(c, 1);
        return;
    }
    uint32_t ip;
    uint16_t port;
    memcpy(&ip, c->hdr + 4, 4);
    memcpy(&port, c->hdr + 8, 2);
    c->oob = (c->hdr[10] & SHIM_FLAG_OOB) != 0;
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
    if (c->stalled) return;
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
        if (s == 1 && (c->verdict.flags & MESH_V_SLOW_CLOSE)) {
            /* slow close: the FIN toward the caller waits. */
            if (!d->fin_at) d->fin_at = c->L->now + (uint64_t)c->verdict.slow_close_ms * 1000000ull;
            if (c->L->now < d->fin_at) {
                mesh_timer_start(&c->L->timers, &d->timer, d->fin_at);
                return;
            }
        }
        d->shut = 1;
        shutdown(dst, SHUT_WR);
    }
    if (c->d[0].shut && c->d[1].shut) conn_close(c, 0);
    else if (s == 1) drain_check(c);
}

/* Queue n bytes of direction s, due at when (never before the previous chunk). */
static void enqueue(struct mesh_conn *c, int s, const char *p, size_t n, uint64_t when)
{
    struct dir *d = &c->d[s];
    struct chunk *k = xmalloc(sizeof *k + n);
    memcpy(k->data, p, n);
    k->off = 0;
    k->len = (uint32_t)n;
    k->next = NULL;
    if (when < d->last_due) when = d->last_due;
    d->last_due = k->due = when;
    if (d->tail) d->tail->next = k;
    else d->head = k;
    d->tail = k;
    d->queued += n;
}

/* When a chunk of n bytes read now in direction s arrives on the other
 * side, under delay, loss and bandwidth. */
static uint64_t shaped_due(struct mesh_conn *c, int s, size_t n)
{
    struct mesh_loop *L = c->L;
    const struct mesh_dir_verdict *v = &c->verdict.dir[s];
    struct dir *d = &c->d[s];
    uint64_t due = L->now;
    if (v->delay_ms || v->jitter_ms) due += mesh_rules_delay_ns(v, &L->rnd);
    if (v->loss_percent) {
        uint64_t extra = mesh_rules_loss_ns(v->loss_percent, 0, &L->rnd);
        if (extra == MESH_LOSS_GIVE_UP) return UINT64_MAX; /* this and all later bytes never arrive */
        due += extra;
    }
    if (v->bytes_per_second) {
        /* Token bucket of one chunk: the link sends n bytes in n / rate. */
        uint64_t start = due > d->bw_free ? due : d->bw_free;
        due = start + (uint64_t)((double)n * 1e9 / (double)v->bytes_per_second);
        d->bw_free = due;
    }
    return due;
}

static const char *reason_phrase(int code)
{
    switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

/* The mesh's own answer to an aborted request, as Envoy's fault filter
 * gives it; the connection stays usable (HTTP/1.0: closed after it). */
static void abort_answer(struct mesh_conn *c)
{
    static const char body[] = "fault filter abort";
    int v10 = c->http.req.http10, head = c->http.req.is_head_req;
    char resp[256];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 %d %s\r\ncontent-length: %zu\r\ncontent-type: text/plain\r\n%s\r\n%s",
                     c->verdict.abort_status, reason_phrase(c->verdict.abort_status), sizeof body - 1,
                     v10 ? "connection: close\r\n" : "", head ? "" : body);
    mesh_http_forget_request(&c->http);
    mesh_edge_request(c->edge, c->verdict.abort_status, c->L->now - c->abort_start);
    enqueue(c, 1, resp, (size_t)n, c->L->now);
    if (v10) c->d[0].eof = c->d[1].eof = 1;
}

/* abort: split what the caller sent into requests; answer the chosen ones
 * here and keep the rest (compacted in place). Only requests that start
 * with no other request awaiting its answer are chosen, so that answers
 * keep their order. Returns the bytes left to forward. */
static size_t abort_filter(struct mesh_conn *c, char *p, size_t n)
{
    struct mesh_loop *L = c->L;
    size_t in = 0, out = 0;
    while (in < n && !c->http.off) {
        if (!c->aborting && mesh_http_idle(&c->http) &&
            (int)(mesh_rand(&L->rnd) % 100) < c->verdict.abort_percent) {
            c->aborting = 1;
            c->abort_start = L->now;
        }
        int ended;
        size_t used = mesh_http_feed_one_request(&c->http, p + in, n - in, L->now, &ended);
        if (!c->aborting || c->http.off) {
            memmove(p + out, p + in, used);
            out += used;
        } else if (ended) {
            abort_answer(c);
        }
        if (ended || c->http.off) c->aborting = 0;
        in += used;
    }
    memmove(p + out, p + in, n - in);
    return out + (n - in);
}

/* How much to read at once: under a bandwidth cap, about 50 ms of it, so
 * that the bytes go out as a stream and not as rare bursts. */
static size_t read_size(const struct mesh_conn *c, int s)
{
    uint64_t rate = c->verdict.dir[s].bytes_per_second;
    if (!rate || rate / 20 >= BUF_SIZE) return BUF_SIZE;
    return rate / 20 ? (size_t)(rate / 20) : 1;
}

/* A connection whose upstream is no longer an endpoint of its Service
 * (the pod went, the Service's port or selector changed, the Service was
 * deleted) is closed as soon as no request awaits its answer, as Envoy
 * drains connections to hosts removed from a cluster: the caller's next
 * request opens a new connection and meets the Service as it is now. */
static void drain_check(struct mesh_conn *c)
{
    if (!c->draining || c->closed || c->d[1].len || c->d[1].head) return;
    if (c->http.off || mesh_http_idle(&c->http)) conn_close(c, 0);
}

static int upstream_listed(const struct mesh_svc_port *sp, uint32_t ip, uint16_t port)
{
    for (size_t i = 0; sp && i < sp->n_eps; i++)
        if (sp->eps[i].ip == ip && sp->eps[i].port == port) return 1;
    return 0;
}

static void on_readable(struct mesh_conn *c, int s)
{
    struct dir *d = &c->d[s];
    uint32_t flags = c->verdict.flags;
    if (s == 0 && (flags & MESH_V_RESET)) { /* a reset rule came for an open connection */
        conn_close(c, 1);
        return;
    }
    ssize_t n = recv(c->fd[s], d->buf, (flags & MESH_V_BANDWIDTH) ? read_size(c, s) : BUF_SIZE, 0);
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
        if ((flags & MESH_V_ABORT) && !c->http.off) {
            n = (ssize_t)abort_filter(c, d->buf, (size_t)n);
            if (c->d[1].head) flush_dir(c, 1);
            if (c->closed) return;
            if (n == 0) {
                if (d->eof) flush_dir(c, s);
                return;
            }
        } else if (!c->http.off) {
            mesh_http_feed_request(&c->http, d->buf, (size_t)n, L->now);
        }
    } else {
        c->edge->received_bytes += (uint64_t)n;
        if (!c->http.off) mesh_http_feed_response(&c->http, d->buf, (size_t)n, L->now, on_http_response, c->edge);
    }
    if ((flags & (s ? MESH_V_SHAPE_FROM : MESH_V_SHAPE_TO)) || d->head) {
        enqueue(c, s, d->buf, (size_t)n, (flags & (s ? MESH_V_SHAPE_FROM : MESH_V_SHAPE_TO)) ? shaped_due(c, s, (size_t)n) : L->now);
        if (!d->blocked) flush_dir(c, s);
        return;
    }
    d->off = 0;
    d->len = (uint32_t)n;
    if (!c->flush_dirs) { /* sent after the batch: see the top of this file */
        c->flush_next = NULL;
        if (L->flush_tail) L->flush_tail->flush_next = c;
        else L->flush_head = c;
        L->flush_tail = c;
    }
    c->flush_dirs |= (uint8_t)(1u << s);
}

void mesh_proxy_flush(struct mesh_loop *L)
{
    while (L->flush_head) {
        struct mesh_conn *c = L->flush_head;
        L->flush_head = c->flush_next;
        if (!L->flush_head) L->flush_tail = NULL;
        uint8_t dirs = c->flush_dirs;
        c->flush_dirs = 0;
        for (int s = 0; s < 2 && !c->closed; s++)
            if (dirs & (1u << s)) flush_dir(c, s);
        if (!c->closed) update_interest(c);
    }
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
    case ST_DNS:
        on_dns(c);
        break;
    case ST_HANG:
        if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) conn_close(c, 0);
        return;
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
    /* With data waiting for the flush, the interest is set after it (set
     * now, it would drop EPOLLIN and take it back: two epoll_ctl). */
    if (!c->closed && !c->flush_dirs) update_interest(c);
}

void mesh_proxy_routes_changed(struct mesh_loop *L)
{
    struct mesh_conn *next;
    for (struct mesh_conn *c = L->conns; c; c = next) {
        next = c->next;
        if (!c->counted || c->closed) continue; /* still reading its shim header */
        struct mesh_svc_port *sp = mesh_routes_find(L->routes, c->svc_ip, c->svc_port);
        if (sp) mesh_rules_match(L->routes, mesh_routes_pod(L->routes, c->peer_ip), sp, &L->rnd, &c->verdict);
        else memset(&c->verdict, 0, sizeof c->verdict); /* the Service is gone: its rules too */
        if (c->state == ST_OPEN && !upstream_listed(sp, c->up_ip, c->up_port)) {
            c->draining = 1;
            drain_check(c);
            if (c->closed) continue;
        }
        int hang = (c->verdict.flags & MESH_V_HANG) != 0;
        if (c->state == ST_HANG && !hang && sp) {
            /* The link is back: the next SYN retransmission gets through. */
            mesh_timer_stop(&L->timers, &c->connect_timer);
            conn_proceed(c, sp);
        } else if (c->state == ST_OPEN && hang != c->stalled) {
            c->stalled = (uint8_t)hang;
            if (!hang) {
                flush_dir(c, 0);
                if (!c->closed) flush_dir(c, 1);
            }
            if (!c->closed) update_interest(c);
        } else if (c->state == ST_WAIT || c->state == ST_CONNECTING) {
            c->stalled = 0;
        }
    }
}
