/* mc.c: the memcached pool — a small client of memcached's text protocol.
 *
 * libmemcached's own pool and error texts ("CONNECTION FAILURE", "SYSTEM
 * ERROR") say little to a reader, and its timeouts are per-server state;
 * the commands the apps need (get, multi-key get, set, delete) are a few
 * lines of the text protocol, so the kit speaks it itself over pooled
 * sockets with
 * 1 s timeouts. A multi-key get is one round trip: its keys go out as
 * `get k1 k2 ...` commands of at most GET_LINE_MAX bytes each (memcached
 * refuses longer command lines), all in one write, and the answers are
 * read in order. Everything read from the server is bounded: a line at
 * most LINE_MAX bytes, a value at most VALUE_MAX, a multi-key get's values
 * together at most MULTI_MAX. Keys are checked as memcached
 * checks them (1-250 bytes, no spaces or control characters). Errors read
 * as Go's gomemcache words them: "dial tcp HOST:PORT: connect: connection
 * refused", "memcache: server error: out of memory storing object".
 */
#include "kit_int.h"
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define POOL_WAIT_MS 1000
#define LINE_MAX_ 512
#define VALUE_MAX (8u << 20)
#define MULTI_MAX (64u << 20)
#define GET_LINE_MAX 2000

struct kit_mc {
    struct kit *k;
    struct kit_pool pool;
    char *prefix, *host, *port;
};

struct mconn {
    int fd;
    char buf[32768]; /* a timeline's multi-get answer (10 posts, ~14 KB) in one or two recv calls */
    size_t off, len;
};

static void mc_io_error(struct kit_mc *mc, int e, char *err, size_t errlen)
{
    if (e == EAGAIN || e == EWOULDBLOCK || e == ETIMEDOUT)
        snprintf(err, errlen, "read tcp %s:%s: i/o timeout", mc->host, mc->port);
    else if (e == ECONNRESET || e == EPIPE)
        snprintf(err, errlen, "read tcp %s:%s: read: connection reset by peer", mc->host, mc->port);
    else if (e == 0)
        snprintf(err, errlen, "memcache: connection to %s:%s closed (EOF)", mc->host, mc->port);
    else
        snprintf(err, errlen, "read tcp %s:%s: %s", mc->host, mc->port, strerror(e));
}

static void mconn_close(struct mconn *c)
{
    if (!c) return;
    close(c->fd);
    free(c);
}

static struct mconn *mc_connect(struct kit_mc *mc, char *err, size_t errlen)
{
    if (!mc->host) {
        snprintf(err, errlen, "memcache: no server configured (%s_HOST is not set)", mc->prefix);
        return NULL;
    }
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(mc->host, mc->port, &hints, &ai);
    if (g) {
        snprintf(err, errlen, "dial tcp: lookup %s: %s", mc->host, gai_strerror(g));
        return NULL;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        kit__dial_error(err, errlen, mc->host, mc->port, errno);
        freeaddrinfo(ai);
        return NULL;
    }
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv); /* bounds connect() too */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        int e = errno == EINPROGRESS || errno == EAGAIN ? ETIMEDOUT : errno;
        kit__dial_error(err, errlen, mc->host, mc->port, e);
        close(fd);
        freeaddrinfo(ai);
        return NULL;
    }
    freeaddrinfo(ai);
    struct mconn *c = kit__xmalloc(sizeof *c);
    c->fd = fd;
    c->off = c->len = 0;
    return c;
}

static int send_all(struct mconn *c, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return w < 0 ? -errno : -EPIPE;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Make at least one more byte available; 0, or -errno (0 errno: EOF). */
static int fill(struct mconn *c)
{
    if (c->off == c->len) c->off = c->len = 0;
    if (c->len == sizeof c->buf) {
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    for (;;) {
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        if (n == 0) return -ENODATA; /* EOF */
        c->len += (size_t)n;
        return 0;
    }
}

/* One line without its CRLF into out; 0 or -errno (-ENODATA: EOF,
 * -EMSGSIZE: too long). */
static int read_line(struct mconn *c, char *out, size_t outlen)
{
    size_t n = 0;
    for (;;) {
        while (c->off < c->len) {
            char ch = c->buf[c->off++];
            if (ch == '\n') {
                if (n && out[n - 1] == '\r') n--;
                out[n] = '\0';
                return 0;
            }
            if (n + 1 >= outlen) return -EMSGSIZE;
            out[n++] = ch;
        }
        int rc = fill(c);
        if (rc < 0) return rc;
    }
}

static int read_exact(struct mconn *c, char *out, size_t want)
{
    size_t got = 0;
    while (got < want) {
        if (c->off == c->len) {
            int rc = fill(c);
            if (rc < 0) return rc;
        }
        size_t take = c->len - c->off;
        if (take > want - got) take = want - got;
        memcpy(out + got, c->buf + c->off, take);
        c->off += take;
        got += take;
    }
    return 0;
}

static int mc_warm(void *arg)
{
    struct kit_mc *mc = arg;
    void *c = NULL;
    char err[256];
    int rc = kit__pool_get(&mc->pool, &c, 0);
    if (rc == 1) {
        kit__pool_put(&mc->pool, c);
        return 0;
    }
    if (rc < 0) return 0;
    c = mc_connect(mc, err, sizeof err);
    kit__pool_put(&mc->pool, c);
    return c ? 0 : -1;
}

struct kit_mc *kit_mc_new(struct kit *k, const char *env_prefix)
{
    struct kit_mc *mc = kit__xmalloc(sizeof *mc);
    memset(mc, 0, sizeof *mc);
    mc->k = k;
    mc->prefix = kit__xstrdup(env_prefix);
    char name[256];
    const char *v = kit__env2(env_prefix, "HOST", name, sizeof name);
    mc->host = v ? kit__xstrdup(v) : NULL;
    mc->port = kit__xstrdup(kit__env_port(env_prefix, "11211"));
    long size = 4;
    v = getenv("KIT_MC_POOL");
    if (v && *v && kit__parse_long(v, 1, 1000, &size) < 0) {
        kit_logf(k, KIT_ERROR, "bad configuration: KIT_MC_POOL=%s", v);
        exit(1);
    }
    kit__pool_init(&mc->pool, (int)size);
    kit__register_pool(k, mc_warm, mc);
    return mc;
}

static int bad_key(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > 250) return 1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)key[i] <= ' ' || key[i] == 0x7f) return 1;
    return 0;
}

/* A server's error line as gomemcache words it. */
static void server_error(const char *line, char *err, size_t errlen)
{
    if (!strncmp(line, "SERVER_ERROR ", 13))
        snprintf(err, errlen, "memcache: server error: %s", line + 13);
    else if (!strncmp(line, "CLIENT_ERROR ", 13))
        snprintf(err, errlen, "memcache: client error: %s", line + 13);
    else
        snprintf(err, errlen, "memcache: unexpected response line from server: %.200s", line);
}

enum op { OP_GET, OP_SET, OP_DELETE, OP_GET_MULTI };

/* What one operation needs: a key (and value) for get/set/delete, keys[n]
 * and their result slots for a multi-key get. */
struct mc_cmd {
    enum op op;
    const char *key, *val;
    size_t len;
    int ttl;
    char **out;
    size_t *outlen;
    const char *const *keys;
    size_t n;
    char **vals;
    size_t *lens;
};

/* One command on one connection. Returns 1/0 (hit/miss, stored, deleted/not
 * found), -1 with err set and the connection still usable, or -2 with err
 * set when the connection broke (the caller closes it). */
static int run(struct kit_mc *mc, struct mconn *c, enum op op, const char *key, const char *val, size_t len, int ttl,
               char **out, size_t *outlen, char *err, size_t errlen)
{
    char line[LINE_MAX_ + 64];
    int rc;
    if (op == OP_GET)
        snprintf(line, sizeof line, "get %s\r\n", key);
    else if (op == OP_DELETE)
        snprintf(line, sizeof line, "delete %s\r\n", key);
    else
        snprintf(line, sizeof line, "set %s 0 %d %zu\r\n", key, ttl, len);
    if ((rc = send_all(c, line, strlen(line))) < 0 ||
        (op == OP_SET && ((rc = send_all(c, val, len)) < 0 || (rc = send_all(c, "\r\n", 2)) < 0)))
        goto broken;
    if ((rc = read_line(c, line, sizeof line)) < 0) goto broken;
    if (op == OP_SET) {
        if (!strcmp(line, "STORED")) return 1;
        if (!strcmp(line, "NOT_STORED")) return 0;
        server_error(line, err, errlen);
        return -1;
    }
    if (op == OP_DELETE) {
        if (!strcmp(line, "DELETED")) return 1;
        if (!strcmp(line, "NOT_FOUND")) return 0;
        server_error(line, err, errlen);
        return -1;
    }
    if (!strcmp(line, "END")) return 0;
    if (strncmp(line, "VALUE ", 6)) {
        server_error(line, err, errlen);
        return strncmp(line, "SERVER_ERROR", 12) && strncmp(line, "CLIENT_ERROR", 12) ? -2 : -1;
    }
    /* VALUE <key> <flags> <bytes> */
    char *sp = strrchr(line, ' ');
    char *end;
    errno = 0;
    unsigned long long n = strtoull(sp + 1, &end, 10);
    if (errno || *end || n > VALUE_MAX) {
        snprintf(err, errlen, "memcache: bad value header from server: %.200s", line);
        return -2;
    }
    char *v = kit__xmalloc((size_t)n + 1);
    if ((rc = read_exact(c, v, (size_t)n)) < 0 || (rc = read_line(c, line, sizeof line)) < 0 ||
        (line[0] && (rc = -EPROTO)) || (rc = read_line(c, line, sizeof line)) < 0 ||
        (strcmp(line, "END") && (rc = -EPROTO))) {
        free(v);
        if (rc == -EPROTO) {
            snprintf(err, errlen, "memcache: corrupt get result from server");
            return -2;
        }
        goto broken;
    }
    v[n] = '\0';
    *out = v;
    *outlen = (size_t)n;
    return 1;
broken:
    mc_io_error(mc, rc == -ENODATA ? 0 : -rc, err, errlen);
    return -2;
}

static void free_vals(char **vals, size_t *lens, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(vals[i]);
        vals[i] = NULL;
        if (lens) lens[i] = 0;
    }
}

/* A multi-key get on one connection: every key's `get` goes out in one
 * write (chunked into commands of at most GET_LINE_MAX bytes), then each
 * command's answer (VALUE blocks, then END or an error line) is read in
 * order; memcached answers the hits of a command in the order of its keys,
 * so each VALUE is matched to the next requested key of that name.
 * Returns the number of hits, -1 with err set (a server error line; the
 * connection is still in step) or -2 with err set when it broke. On
 * failure no value is left in vals. */
static int run_multi(struct kit_mc *mc, struct mconn *c, const struct mc_cmd *cmd, char *err, size_t errlen)
{
    size_t cap = 0;
    for (size_t i = 0; i < cmd->n; i++) cap += strlen(cmd->keys[i]) + 7; /* "get " + " " + "\r\n" at worst */
    char *out = kit__xmalloc(cap + 1);
    size_t olen = 0, nchunks = 0, line_start = 0;
    for (size_t i = 0; i < cmd->n; i++) {
        size_t kl = strlen(cmd->keys[i]);
        if (olen > line_start && olen - line_start + 1 + kl + 2 > GET_LINE_MAX) {
            memcpy(out + olen, "\r\n", 2);
            olen += 2;
            line_start = olen;
        }
        if (olen == line_start) {
            memcpy(out + olen, "get", 3);
            olen += 3;
            nchunks++;
        }
        out[olen++] = ' ';
        memcpy(out + olen, cmd->keys[i], kl);
        olen += kl;
    }
    memcpy(out + olen, "\r\n", 2);
    olen += 2;
    int rc = send_all(c, out, olen);
    free(out);
    if (rc < 0) goto broken;

    char line[LINE_MAX_ + 64];
    size_t cursor = 0, total = 0;
    int hits = 0, failed = 0;
    for (size_t chunk = 0; chunk < nchunks;) {
        if ((rc = read_line(c, line, sizeof line)) < 0) goto broken;
        if (!strcmp(line, "END")) {
            chunk++;
            continue;
        }
        if (strncmp(line, "VALUE ", 6)) {
            if (strncmp(line, "SERVER_ERROR", 12) && strncmp(line, "CLIENT_ERROR", 12)) {
                server_error(line, err, errlen);
                free_vals(cmd->vals, cmd->lens, cmd->n);
                return -2;
            }
            if (!failed) server_error(line, err, errlen); /* ends this command's answer */
            failed = 1;
            chunk++;
            continue;
        }
        /* VALUE <key> <flags> <bytes> */
        char *key = line + 6, *ksp = strchr(key, ' ');
        char *sp = strrchr(line, ' ');
        char *end;
        errno = 0;
        unsigned long long n = ksp ? strtoull(sp + 1, &end, 10) : 0;
        if (!ksp || errno || *end || n > VALUE_MAX || total + n > MULTI_MAX) {
            snprintf(err, errlen, "memcache: bad value header from server: %.200s", line);
            free_vals(cmd->vals, cmd->lens, cmd->n);
            return -2;
        }
        *ksp = '\0';
        size_t at = cursor;
        while (at < cmd->n && (cmd->vals[at] || strcmp(cmd->keys[at], key))) at++;
        if (at == cmd->n) {
            snprintf(err, errlen, "memcache: unexpected key %.250s in get result from server", key);
            free_vals(cmd->vals, cmd->lens, cmd->n);
            return -2;
        }
        char *v = kit__xmalloc((size_t)n + 1);
        if ((rc = read_exact(c, v, (size_t)n)) < 0 || (rc = read_line(c, line, sizeof line)) < 0 ||
            (line[0] && (rc = -EPROTO))) {
            free(v);
            free_vals(cmd->vals, cmd->lens, cmd->n);
            if (rc == -EPROTO) {
                snprintf(err, errlen, "memcache: corrupt get result from server");
                return -2;
            }
            goto broken;
        }
        v[n] = '\0';
        cmd->vals[at] = v;
        if (cmd->lens) cmd->lens[at] = (size_t)n;
        cursor = at + 1;
        total += (size_t)n;
        hits++;
    }
    if (failed) {
        free_vals(cmd->vals, cmd->lens, cmd->n);
        return -1;
    }
    return hits;
broken:
    free_vals(cmd->vals, cmd->lens, cmd->n);
    mc_io_error(mc, rc == -ENODATA ? 0 : -rc, err, errlen);
    return -2;
}

static int mc_op(struct kit_req *r, struct kit_mc *mc, const struct mc_cmd *cmd, char *err, size_t errlen)
{
    static const char *names[] = {"get", "set", "delete", "get_multi"};
    struct kit *k = mc->k;
    enum op op = cmd->op;
    uint64_t start = kit__mono_ns();
    char name[32];
    snprintf(name, sizeof name, "memcached %s", names[op]);
    struct kit_span *span = kit__child_span(k, r, name, KIT_SPAN_CLIENT);
    kit_span_attr(span, "db.system", "memcached");
    kit_span_attr(span, "db.operation", names[op]);
    char e[512] = "";
    int ret = -1;
    if (op == OP_GET_MULTI) {
        char nk[24];
        snprintf(nk, sizeof nk, "%zu", cmd->n);
        kit_span_attr(span, "db.memcached.keys", nk);
        for (size_t i = 0; i < cmd->n; i++) {
            cmd->vals[i] = NULL;
            if (cmd->lens) cmd->lens[i] = 0;
        }
        for (size_t i = 0; i < cmd->n; i++)
            if (!cmd->keys[i] || bad_key(cmd->keys[i])) {
                snprintf(e, sizeof e,
                         "memcache: unexpected key at index %zu: not 1-250 bytes without spaces or "
                         "control characters",
                         i);
                goto out;
            }
        if (cmd->n == 0) {
            ret = 0; /* nothing to ask */
            goto out;
        }
    } else if (!cmd->key || bad_key(cmd->key)) {
        snprintf(e, sizeof e,
                 "memcache: unexpected key: not 1-250 bytes without spaces or "
                 "control characters");
        goto out;
    }
    if (op == OP_SET && (cmd->len > VALUE_MAX || cmd->ttl < 0)) {
        snprintf(e, sizeof e, "memcache: server error: object too large for cache");
        goto out;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        void *conn = NULL;
        int rc = kit__pool_get(&mc->pool, &conn, POOL_WAIT_MS);
        if (rc < 0) {
            snprintf(e, sizeof e, "memcache: no free connection (all %d busy)", mc->pool.max);
            break;
        }
        if (rc == 0) {
            conn = mc_connect(mc, e, sizeof e);
            if (!conn) {
                kit__pool_put(&mc->pool, NULL);
                break;
            }
        }
        e[0] = '\0';
        ret = op == OP_GET_MULTI ? run_multi(mc, conn, cmd, e, sizeof e)
                                 : run(mc, conn, op, cmd->key, cmd->val, cmd->len, cmd->ttl, cmd->out, cmd->outlen, e,
                                       sizeof e);
        if (ret == -2) {
            mconn_close(conn);
            kit__pool_put(&mc->pool, NULL);
            ret = -1;
            if (rc == 1 && !strstr(e, "i/o timeout")) continue; /* stale connection: once more */
            break;
        }
        kit__pool_put(&mc->pool, conn);
        break;
    }
out:
    if (ret < 0) {
        if (!e[0]) snprintf(e, sizeof e, "memcache: connection lost");
        snprintf(err, errlen, "%s", e);
    }
    kit__db_record(k, r, "memcached", names[op], start, span, ret < 0 ? e : NULL);
    return ret;
}

int kit_mc_get(struct kit_req *r, struct kit_mc *mc, const char *key, char **val, size_t *len, char *err, size_t errlen)
{
    char *v = NULL;
    size_t n = 0;
    struct mc_cmd cmd = {.op = OP_GET, .key = key, .out = &v, .outlen = &n};
    int rc = mc_op(r, mc, &cmd, err, errlen);
    if (rc == 1) {
        *val = v;
        if (len) *len = n;
    }
    return rc;
}

int kit_mc_get_multi(struct kit_req *r, struct kit_mc *mc, const char *const *keys, size_t n, char **vals,
                     size_t *lens, char *err, size_t errlen)
{
    struct mc_cmd cmd = {.op = OP_GET_MULTI, .keys = keys, .n = n, .vals = vals, .lens = lens};
    return mc_op(r, mc, &cmd, err, errlen);
}

int kit_mc_set(struct kit_req *r, struct kit_mc *mc, const char *key, const char *val, size_t len, int ttl_s, char *err,
               size_t errlen)
{
    struct mc_cmd cmd = {.op = OP_SET, .key = key, .val = val, .len = len, .ttl = ttl_s};
    int rc = mc_op(r, mc, &cmd, err, errlen);
    if (rc == 0) {
        snprintf(err, errlen, "memcache: item not stored");
        return -1;
    }
    return rc < 0 ? -1 : 0;
}

int kit_mc_delete(struct kit_req *r, struct kit_mc *mc, const char *key, char *err, size_t errlen)
{
    struct mc_cmd cmd = {.op = OP_DELETE, .key = key};
    return mc_op(r, mc, &cmd, err, errlen);
}
