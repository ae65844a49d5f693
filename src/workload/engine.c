/* engine: the load generator's workers (see load.h) — a non-blocking
 * HTTP/1.1 client on epoll, one loop per thread.
 *
 * The hot path is kept lean because the generator must not be the
 * bottleneck it measures: request bytes are prebuilt (or built into a
 * per-connection scratch buffer), nothing is allocated per request, and an
 * answer is parsed only as far as framing needs (status line,
 * Content-Length, chunked encoding, Connection: close). Connections are
 * keep-alive and carry one request at a time; due requests that find no
 * idle connection wait in a bounded FIFO of intended send times. Counters
 * are per thread, single writer, and stored with relaxed atomics so that
 * load_stats can read them while the run goes on. */
#include "workload/load.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/timeutil.h"
#include "workload/engine.h"

#define INC(x) __atomic_store_n(&(x), (x) + 1, __ATOMIC_RELAXED)
#define ADD(x, v) __atomic_store_n(&(x), (x) + (v), __ATOMIC_RELAXED)
#define GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

#define RBUF 16384
#define DRAIN_MAX_NS 5000000000ull

enum conn_state { C_DOWN, C_CONNECTING, C_IDLE, C_BUSY };
enum parse_state { P_HEAD, P_BODY, P_CHUNK_SIZE, P_CHUNK_DATA, P_CHUNK_CRLF, P_TRAILER, P_UNTIL_CLOSE };

struct conn {
    int fd;
    enum conn_state state;
    enum parse_state ps;
    int status, close_after, want_out, in_idle;
    unsigned op;
    uint64_t intended, sent_at, retry_at, backoff;
    uint64_t remaining; /* body or chunk bytes still to come */
    const char *req;
    size_t req_len, req_off;
    size_t rlen, rpos;
    char *scratch; /* LOAD_REQ_MAX, for mixes that build requests */
    char rbuf[RBUF];
};

const char *load_error_name(enum load_error e)
{
    static const char *const names[] = {"connect", "reset", "timeout", "parse", "http_4xx", "http_5xx", "backlog"};
    return (unsigned)e < LOAD_ERR_KINDS ? names[e] : "?";
}

void load_options_init(struct load_options *o)
{
    memset(o, 0, sizeof *o);
    o->threads = 1;
    o->connections = 16;
    o->seed = 1;
    o->timeout_ns = 10000000000ull;
    o->max_backlog = 1u << 20;
    snprintf(o->metrics_addr, sizeof o->metrics_addr, "127.0.0.1");
}

/* ---- the pending queue ------------------------------------------------- */

static int q_push(struct load_worker *w, uint64_t t)
{
    if (w->qlen == w->qcap) {
        if (w->qcap >= w->run->o.max_backlog) return -1;
        size_t ncap = w->qcap ? w->qcap * 2 : 1024;
        if (ncap > w->run->o.max_backlog) ncap = w->run->o.max_backlog;
        uint64_t *nq = xmalloc(ncap * sizeof *nq);
        for (size_t i = 0; i < w->qlen; i++) nq[i] = w->q[(w->qhead + i) % w->qcap];
        free(w->q);
        w->q = nq;
        w->qcap = ncap;
        w->qhead = 0;
    }
    w->q[(w->qhead + w->qlen) % w->qcap] = t;
    w->qlen++;
    return 0;
}

static uint64_t q_pop(struct load_worker *w)
{
    uint64_t t = w->q[w->qhead];
    w->qhead = (w->qhead + 1) % w->qcap;
    w->qlen--;
    return t;
}

/* ---- connections ------------------------------------------------------- */

static void set_events(struct load_worker *w, struct conn *c, uint32_t ev)
{
    struct epoll_event e = {.events = ev, .data.ptr = c};
    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &e);
}

static void conn_close(struct load_worker *w, struct conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    if (c->state == C_BUSY) w->busy--;
    if (c->state != C_DOWN) w->up--;
    c->state = C_DOWN;
}

static void conn_open(struct load_worker *w, struct conn *c, uint64_t now)
{
    const struct addrinfo *ai = w->run->addr;
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) goto fail;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
        close(fd);
        goto fail;
    }
    c->fd = fd;
    c->state = C_CONNECTING;
    c->rlen = c->rpos = 0;
    w->up++;
    struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};
    epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &e);
    return;
fail:
    INC(w->st.errors[LOAD_ERR_CONNECT]);
    c->backoff = c->backoff ? c->backoff * 2 : 10000000ull;
    if (c->backoff > 1000000000ull) c->backoff = 1000000000ull;
    c->retry_at = now + c->backoff;
}

static void idle_push(struct load_worker *w, struct conn *c)
{
    c->state = C_IDLE;
    if (!c->in_idle) {
        c->in_idle = 1;
        w->idle[w->nidle++] = c;
    }
}

/* Take an idle connection off the stack (skipping ones that went down). */
static struct conn *idle_pop(struct load_worker *w)
{
    while (w->nidle) {
        struct conn *c = w->idle[--w->nidle];
        c->in_idle = 0;
        if (c->state == C_IDLE) return c;
    }
    return NULL;
}

static void conn_send(struct load_worker *w, struct conn *c, uint64_t intended, uint64_t now);

/* A request failed: count it, and bring the connection back. */
static void conn_fail(struct load_worker *w, struct conn *c, enum load_error kind, uint64_t now)
{
    if (c->state == C_BUSY) {
        INC(w->st.errors[kind]);
        INC(w->st.op_errors[c->op]);
    } else if (c->state == C_CONNECTING) {
        INC(w->st.errors[LOAD_ERR_CONNECT]);
    }
    int was_connecting = c->state == C_CONNECTING;
    conn_close(w, c);
    if (was_connecting) {
        c->backoff = c->backoff ? c->backoff * 2 : 10000000ull;
        if (c->backoff > 1000000000ull) c->backoff = 1000000000ull;
        c->retry_at = now + c->backoff;
    } else {
        INC(w->st.reconnects);
        c->retry_at = now;
    }
}

static void next_for(struct load_worker *w, struct conn *c, uint64_t now)
{
    if (w->run->o.max_rate && !w->stopping) {
        conn_send(w, c, now, now);
        return;
    }
    if (w->qlen) {
        conn_send(w, c, q_pop(w), now);
        return;
    }
    idle_push(w, c);
}

static void conn_send(struct load_worker *w, struct conn *c, uint64_t intended, uint64_t now)
{
    c->req = load_mix_next(&w->run->o.mix, &w->mix_rng, c->scratch, LOAD_REQ_MAX, &c->req_len, &c->op);
    c->req_off = 0;
    c->intended = intended;
    c->sent_at = now;
    c->state = C_BUSY;
    c->ps = P_HEAD;
    c->status = 0;
    c->close_after = 0;
    w->busy++;
    INC(w->st.sent);
    if (!w->stopping) INC(w->st.sent_in_schedule);
    ssize_t n = send(c->fd, c->req, c->req_len, MSG_NOSIGNAL);
    if (n == (ssize_t)c->req_len) return;
    if (n < 0 && errno != EAGAIN) {
        conn_fail(w, c, LOAD_ERR_RESET, now);
        return;
    }
    c->req_off = n > 0 ? (size_t)n : 0;
    c->want_out = 1;
    set_events(w, c, EPOLLIN | EPOLLOUT);
}

/* ---- answers ----------------------------------------------------------- */

static int ieq_prefix(const char *p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - p) < n) return 0;
    return !strncasecmp(p, lit, n);
}

/* Parse the head in [p, end) (ending in CRLF CRLF). 0 or -1. */
static int parse_head(struct conn *c, const char *p, const char *end, int head_request)
{
    if (end - p < 12 || memcmp(p, "HTTP/1.", 7) || p[8] != ' ') return -1;
    if (p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9') return -1;
    c->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    int http10 = p[7] == '0';
    c->close_after = http10;
    long long length = -1;
    int chunked = 0;
    const char *line = memchr(p, '\n', (size_t)(end - p));
    while (line && ++line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol) break;
        char first = (char)(*line | 0x20);
        if (first == 'c') {
            if (ieq_prefix(line, eol, "content-length:")) {
                const char *v = line + 15;
                while (v < eol && (*v == ' ' || *v == '\t')) v++;
                long long n = 0;
                int digits = 0;
                while (v < eol && *v >= '0' && *v <= '9' && digits < 18) {
                    n = n * 10 + (*v++ - '0');
                    digits++;
                }
                if (!digits) return -1;
                length = n;
            } else if (ieq_prefix(line, eol, "connection:")) {
                const char *v = line + 11;
                while (v < eol && (*v == ' ' || *v == '\t')) v++;
                if (ieq_prefix(v, eol, "close")) c->close_after = 1;
                else if (ieq_prefix(v, eol, "keep-alive")) c->close_after = 0;
            }
        } else if (first == 't' && ieq_prefix(line, eol, "transfer-encoding:")) {
            const char *v = line + 18;
            while (v < eol && (*v == ' ' || *v == '\t')) v++;
            if (ieq_prefix(v, eol, "chunked")) chunked = 1;
        }
        line = eol;
    }
    if (head_request || c->status == 204 || c->status == 304 || c->status < 200) {
        c->remaining = 0;
        c->ps = P_BODY;
    } else if (chunked) {
        c->ps = P_CHUNK_SIZE;
    } else if (length >= 0) {
        c->remaining = (uint64_t)length;
        c->ps = P_BODY;
    } else {
        c->ps = P_UNTIL_CLOSE;
        c->close_after = 1;
    }
    return 0;
}

static void complete(struct load_worker *w, struct conn *c, uint64_t now)
{
    uint64_t lat = now - (w->run->o.max_rate ? c->sent_at : c->intended);
    load_hdr_record(&w->hdr, lat);
    INC(w->st.completed);
    INC(w->st.op_completed[c->op]);
    int cls = c->status / 100;
    INC(w->st.status[cls >= 2 && cls <= 5 ? cls : 0]);
    if (cls == 4 || cls == 5) {
        INC(w->st.errors[cls == 4 ? LOAD_ERR_HTTP4 : LOAD_ERR_HTTP5]);
        INC(w->st.op_errors[c->op]);
    }
    w->busy--;
    c->state = C_IDLE;
    c->backoff = 0;
    if (c->close_after) {
        conn_close(w, c);
        INC(w->st.reconnects);
        c->retry_at = now;
        return;
    }
    next_for(w, c, now);
}

/* Consume what is in rbuf. 1: answer complete, 0: need more, -1: bad. */
static int parse(struct conn *c, int head_request)
{
    for (;;) {
        char *p = c->rbuf + c->rpos;
        size_t avail = c->rlen - c->rpos;
        switch (c->ps) {
        case P_HEAD: {
            char *end = avail >= 4 ? memmem(p, avail, "\r\n\r\n", 4) : NULL;
            if (!end) return c->rlen == RBUF && c->rpos == 0 ? -1 : 0;
            if (parse_head(c, p, end + 4, head_request)) return -1;
            c->rpos += (size_t)(end + 4 - p);
            if (c->status >= 100 && c->status < 200 && c->status != 101) c->ps = P_HEAD; /* interim answer */
            break;
        }
        case P_BODY:
            if (avail >= c->remaining) {
                c->rpos += c->remaining;
                c->remaining = 0;
                return 1;
            }
            c->remaining -= avail;
            c->rpos = c->rlen;
            return 0;
        case P_CHUNK_SIZE: {
            char *eol = memchr(p, '\n', avail);
            if (!eol) return avail > 64 ? -1 : 0;
            uint64_t n = 0;
            int digits = 0;
            for (char *q = p; q < eol; q++) {
                int d = *q >= '0' && *q <= '9' ? *q - '0' : (*q | 0x20) >= 'a' && (*q | 0x20) <= 'f' ? (*q | 0x20) - 'a' + 10 : -1;
                if (d < 0) break;
                if (++digits > 15) return -1;
                n = n * 16 + (uint64_t)d;
            }
            if (!digits) return -1;
            c->rpos += (size_t)(eol + 1 - p);
            if (n == 0) {
                c->ps = P_TRAILER;
            } else {
                c->remaining = n;
                c->ps = P_CHUNK_DATA;
            }
            break;
        }
        case P_CHUNK_DATA:
            if (avail >= c->remaining) {
                c->rpos += c->remaining;
                c->remaining = 2;
                c->ps = P_CHUNK_CRLF;
                break;
            }
            c->remaining -= avail;
            c->rpos = c->rlen;
            return 0;
        case P_CHUNK_CRLF: {
            size_t take = avail < c->remaining ? avail : c->remaining;
            c->rpos += take;
            c->remaining -= take;
            if (c->remaining) return 0;
            c->ps = P_CHUNK_SIZE;
            break;
        }
        case P_TRAILER: {
            char *eol = memchr(p, '\n', avail);
            if (!eol) return avail > 4096 ? -1 : 0;
            c->rpos += (size_t)(eol + 1 - p);
            if (eol == p || (eol == p + 1 && *p == '\r')) return 1;
            break;
        }
        case P_UNTIL_CLOSE: c->rpos = c->rlen; return 0;
        }
    }
}

static void on_readable(struct load_worker *w, struct conn *c, uint64_t now)
{
    for (;;) {
        if (c->rpos == c->rlen) c->rpos = c->rlen = 0;
        else if (c->rlen == RBUF) {
            memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
            c->rlen -= c->rpos;
            c->rpos = 0;
        }
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, RBUF - c->rlen, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            conn_fail(w, c, LOAD_ERR_RESET, now);
            return;
        }
        if (n == 0) {
            if (c->state == C_BUSY && c->ps == P_UNTIL_CLOSE) {
                c->close_after = 1;
                complete(w, c, now);
                return;
            }
            if (c->state == C_BUSY) conn_fail(w, c, LOAD_ERR_RESET, now);
            else { /* an idle connection closed by the server: not an error */
                conn_close(w, c);
                INC(w->st.reconnects);
                c->retry_at = now;
            }
            return;
        }
        ADD(w->st.bytes_in, (uint64_t)n);
        if (c->state != C_BUSY) { /* bytes nobody asked for */
            conn_fail(w, c, LOAD_ERR_PARSE, now);
            return;
        }
        c->rlen += (size_t)n;
        int rc = parse(c, w->head_method);
        if (rc < 0) {
            conn_fail(w, c, LOAD_ERR_PARSE, now);
            return;
        }
        if (rc == 1) {
            if (c->rpos != c->rlen) { /* more than one answer: not ours */
                conn_fail(w, c, LOAD_ERR_PARSE, now);
                return;
            }
            c->rpos = c->rlen = 0;
            complete(w, c, now);
            return;
        }
        if ((size_t)n < RBUF / 2) return; /* drained, most likely: wait for epoll */
    }
}

static void on_event(struct load_worker *w, struct conn *c, uint32_t ev, uint64_t now)
{
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        if ((ev & (EPOLLERR | EPOLLHUP)) || getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
            conn_fail(w, c, LOAD_ERR_CONNECT, now);
            return;
        }
        set_events(w, c, EPOLLIN);
        c->want_out = 0;
        next_for(w, c, now);
        return;
    }
    if ((ev & EPOLLOUT) && c->state == C_BUSY && c->want_out) {
        ssize_t n = send(c->fd, c->req + c->req_off, c->req_len - c->req_off, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) {
            conn_fail(w, c, LOAD_ERR_RESET, now);
            return;
        }
        if (n > 0) c->req_off += (size_t)n;
        if (c->req_off == c->req_len) {
            c->want_out = 0;
            set_events(w, c, EPOLLIN);
        }
    }
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(w, c, now);
}

/* ---- the worker loop --------------------------------------------------- */

static void check_timeouts(struct load_worker *w, uint64_t now)
{
    uint64_t limit = w->run->o.timeout_ns;
    for (size_t i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (c->state == C_BUSY && now - c->sent_at > limit) conn_fail(w, c, LOAD_ERR_TIMEOUT, now);
        else if (c->state == C_CONNECTING && now - c->retry_at > limit) conn_fail(w, c, LOAD_ERR_CONNECT, now);
    }
}

static void reconnect(struct load_worker *w, uint64_t now)
{
    for (size_t i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (c->state == C_DOWN && c->retry_at <= now && (!w->stopping || w->qlen)) {
            c->retry_at = now; /* the connect deadline starts now */
            conn_open(w, c, now);
        }
    }
}

static void *worker_main(void *arg)
{
    struct load_worker *w = arg;
    struct load_run *run = w->run;
    const uint64_t start = run->start_ns;
    const uint64_t duration = load_schedule_duration(&run->o.schedule);
    struct epoll_event evs[256];
    uint64_t next = run->o.max_rate ? UINT64_MAX : load_arrivals_next(&w->arr);
    uint64_t now = mono_ns(), drain_until = 0, last_check = now;
    reconnect(w, now);
    for (;;) {
        now = mono_ns();
        uint64_t rel = now - start;
        if (!w->stopping && !run->o.max_rate) { /* what fell due, the schedule's last arrivals too */
            while (next <= rel) {
                INC(w->st.offered);
                if (!w->up) { /* nothing to send on: the target is down */
                    INC(w->st.errors[LOAD_ERR_CONNECT]);
                } else {
                    struct conn *c = w->qlen ? NULL : idle_pop(w);
                    if (c) conn_send(w, c, start + next, now);
                    else if (q_push(w, start + next)) INC(w->st.errors[LOAD_ERR_BACKLOG]);
                }
                next = load_arrivals_next(&w->arr);
            }
        }
        if (!w->stopping && (rel >= duration || GET(run->stop))) {
            w->stopping = 1;
            uint64_t drain = run->o.timeout_ns < DRAIN_MAX_NS ? run->o.timeout_ns : DRAIN_MAX_NS;
            if (GET(run->stop)) { /* asked to end: what is queued is not sent */
                drain = drain < 1000000000ull ? drain : 1000000000ull;
                ADD(w->st.unfinished, w->qlen);
                w->qlen = 0;
            }
            drain_until = now + drain;
        }
        if (!w->up && w->qlen) { /* the target is down: queued requests fail now */
            ADD(w->st.errors[LOAD_ERR_CONNECT], w->qlen);
            w->qlen = 0;
        }
        if (w->stopping && ((w->busy == 0 && w->qlen == 0) || now >= drain_until)) break;
        if (now - last_check >= 50000000ull) {
            check_timeouts(w, now);
            reconnect(w, now);
            last_check = now;
        }
        /* Sleep until the next arrival, at most 50 ms. */
        uint64_t wait = 50000000ull;
        if (!w->stopping && next != UINT64_MAX) {
            uint64_t due = start + next;
            wait = due > now ? due - now : 0;
            if (wait > 50000000ull) wait = 50000000ull;
        }
        struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000ull), .tv_nsec = (long)(wait % 1000000000ull)};
        int n = epoll_pwait2(w->ep, evs, 256, &ts, NULL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == ENOSYS) {
                n = epoll_wait(w->ep, evs, 256, (int)((wait + 999999) / 1000000));
                if (n < 0) continue;
            } else
                break;
        }
        if (n > 0) now = mono_ns();
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->fd < 0) continue;
            on_event(w, c, evs[i].events, now);
        }
        /* Reconnect at once what the events closed (keep-alive ends). */
        if (w->up < w->nconns && (!w->stopping || w->qlen)) {
            for (size_t i = 0; i < w->nconns; i++)
                if (w->conns[i].state == C_DOWN && w->conns[i].retry_at <= now) {
                    w->conns[i].retry_at = now;
                    conn_open(w, &w->conns[i], now);
                }
        }
    }
    ADD(w->st.unfinished, w->busy + w->qlen); /* in flight or due, at the drain's end */
    for (size_t i = 0; i < w->nconns; i++)
        if (w->conns[i].fd >= 0) conn_close(w, &w->conns[i]);
    __atomic_store_n(&w->finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* ---- runs -------------------------------------------------------------- */

int load_start(struct load_options *o, struct load_run **out, char *err, size_t errlen)
{
    if (!o->threads || o->threads > LOAD_MAX_THREADS) {
        snprintf(err, errlen, "threads must be 1..%d", LOAD_MAX_THREADS);
        return -EINVAL;
    }
    if (o->connections < o->threads || o->connections > LOAD_MAX_CONNECTIONS) {
        snprintf(err, errlen, "connections must be at least the threads (%u) and at most %d", o->threads,
                 LOAD_MAX_CONNECTIONS);
        return -EINVAL;
    }
    if (!o->mix.nops || !o->schedule.n) {
        snprintf(err, errlen, "no mix or no schedule");
        return -EINVAL;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int gai = getaddrinfo(o->host, o->port, &hints, &ai);
    if (gai) {
        snprintf(err, errlen, "cannot resolve %s:%s: %s", o->host, o->port, gai_strerror(gai));
        return -EINVAL;
    }
    struct load_run *run = xcalloc(1, sizeof *run);
    run->o = *o;
    memset(&o->mix, 0, sizeof o->mix);
    memset(&o->schedule, 0, sizeof o->schedule);
    run->addr = ai;
    run->nworkers = o->threads;
    run->workers = xcalloc(run->nworkers, sizeof *run->workers);
    for (unsigned i = 0; i < run->nworkers; i++) {
        struct load_worker *w = &run->workers[i];
        w->run = run;
        w->idx = i;
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        w->nconns = o->connections / o->threads + (i < o->connections % o->threads);
        w->conns = xcalloc(w->nconns, sizeof *w->conns);
        w->idle = xcalloc(w->nconns + 1, sizeof *w->idle);
        w->head_method = run->o.mix.fixed && !strncmp(run->o.mix.fixed, "HEAD ", 5);
        for (size_t k = 0; k < w->nconns; k++) {
            w->conns[k].fd = -1;
            if (run->o.mix.app != LOAD_APP_URL) w->conns[k].scratch = xmalloc(LOAD_REQ_MAX);
        }
        load_hdr_init(&w->hdr);
        load_arrivals_init(&w->arr, &run->o.schedule, o->seed, i, o->threads);
        load_rng_seed(&w->mix_rng, o->seed ^ (0x6d69780000000000ull + i));
    }
    if (o->metrics_port > 0) {
        int rc = load_metrics_serve(run, o->metrics_addr, o->metrics_port, &run->metrics, err, errlen);
        if (rc) {
            *o = run->o; /* hand mix and schedule back */
            run->o.mix.fixed = NULL;
            run->o.mix.users.cdf = NULL;
            run->o.schedule.n = 0;
            load_free(run);
            return rc;
        }
    }
    run->start_ns = mono_ns();
    run->start_wall_ns = wall_ns();
    for (unsigned i = 0; i < run->nworkers; i++) {
        if (pthread_create(&run->workers[i].thread, NULL, worker_main, &run->workers[i])) {
            __atomic_store_n(&run->stop, 1, __ATOMIC_RELAXED);
            for (unsigned k = 0; k < i; k++) pthread_join(run->workers[k].thread, NULL);
            run->nstarted = 0;
            snprintf(err, errlen, "cannot start a worker thread");
            load_free(run);
            return -EAGAIN;
        }
        run->nstarted++;
    }
    *out = run;
    return 0;
}

void load_stop(struct load_run *run) { __atomic_store_n(&run->stop, 1, __ATOMIC_RELAXED); }

void load_wait(struct load_run *run)
{
    for (unsigned i = 0; i < run->nstarted; i++) pthread_join(run->workers[i].thread, NULL);
    if (run->nstarted && !GET(run->end_ns)) __atomic_store_n(&run->end_ns, mono_ns(), __ATOMIC_RELAXED);
    run->nstarted = 0;
}

const char *load_op_name(const struct load_run *run, size_t k)
{
    return k < run->o.mix.nops ? run->o.mix.op_names[k] : "?";
}

void load_stats(struct load_run *run, struct load_stats *st, struct load_hdr *hdr)
{
    memset(st, 0, sizeof *st);
    if (hdr) load_hdr_init(hdr);
    uint64_t end = GET(run->end_ns), now = end ? end : mono_ns();
    st->elapsed_s = (double)(now - run->start_ns) / 1e9;
    st->duration_s = (double)load_schedule_duration(&run->o.schedule) / 1e9;
    st->nops = run->o.mix.nops;
    int done = 1;
    for (unsigned i = 0; i < run->nworkers; i++) {
        struct load_worker *w = &run->workers[i];
        st->offered += GET(w->st.offered);
        st->sent += GET(w->st.sent);
        st->sent_in_schedule += GET(w->st.sent_in_schedule);
        st->completed += GET(w->st.completed);
        st->reconnects += GET(w->st.reconnects);
        st->unfinished += GET(w->st.unfinished);
        st->bytes_in += GET(w->st.bytes_in);
        for (int k = 0; k < LOAD_ERR_KINDS; k++) st->errors[k] += GET(w->st.errors[k]);
        for (int k = 0; k < 6; k++) st->status[k] += GET(w->st.status[k]);
        for (size_t k = 0; k < st->nops; k++) {
            st->ops[k].completed += GET(w->st.op_completed[k]);
            st->ops[k].errors += GET(w->st.op_errors[k]);
        }
        if (hdr) load_hdr_add(hdr, &w->hdr);
        if (!__atomic_load_n(&w->finished, __ATOMIC_ACQUIRE)) done = 0;
    }
    for (int k = 0; k < LOAD_ERR_KINDS; k++) st->errors_total += st->errors[k];
    if (run->o.max_rate) st->offered = st->sent;
    else
        st->offered_rate = load_schedule_rate(&run->o.schedule, now - run->start_ns);
    st->done = done;
}

const struct load_options *load_run_options(const struct load_run *run) { return &run->o; }

void load_free(struct load_run *run)
{
    if (!run) return;
    load_stop(run);
    load_wait(run);
    if (run->metrics) load_metrics_close(run->metrics);
    for (unsigned i = 0; i < run->nworkers; i++) {
        struct load_worker *w = &run->workers[i];
        for (size_t k = 0; k < w->nconns; k++) {
            if (w->conns[k].fd >= 0) close(w->conns[k].fd);
            free(w->conns[k].scratch);
        }
        free(w->conns);
        free(w->idle);
        free(w->q);
        if (w->ep >= 0) close(w->ep);
    }
    free(run->workers);
    if (run->addr) freeaddrinfo(run->addr);
    load_mix_free(&run->o.mix);
    load_schedule_free(&run->o.schedule);
    free(run);
}
