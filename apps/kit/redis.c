/* redis.c: the Redis pool (hiredis).
 *
 * Connections are opened on demand (at most KIT_REDIS_POOL) with a 1 s
 * connect timeout and 1 s read/write timeouts, authenticated when
 * <PREFIX>_PASSWORD is set, and reused. A command on a reused connection
 * that turns out broken is retried once on a fresh one. Errors read as a
 * Go service's would: "dial tcp HOST:PORT: connect: connection refused",
 * "read tcp HOST:PORT: i/o timeout", and Redis's own error replies as they
 * come ("OOM command not allowed when used memory > 'maxmemory'.").
 */
#include "kit_int.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_WAIT_MS 1000

struct kit_redis {
    struct kit *k;
    struct kit_pool pool;
    char *prefix, *host, *port, *password;
    int portnum;
};

static void io_error(struct kit_redis *rd, const redisContext *c, int connecting, char *err, size_t errlen)
{
    const char *s = c ? c->errstr : "out of memory";
    int e = 0;
    if (strstr(s, "refused"))
        e = ECONNREFUSED;
    else if (strstr(s, "timed out") || strstr(s, "temporarily unavailable"))
        e = ETIMEDOUT;
    else if (strstr(s, "reset by peer"))
        e = ECONNRESET;
    else if (strstr(s, "No route"))
        e = EHOSTUNREACH;
    if (connecting && e)
        kit__dial_error(err, errlen, rd->host, rd->port, e);
    else if (e == ETIMEDOUT)
        snprintf(err, errlen, "read tcp %s:%s: i/o timeout", rd->host, rd->port);
    else if (e == ECONNRESET)
        snprintf(err, errlen, "read tcp %s:%s: read: connection reset by peer", rd->host, rd->port);
    else if (c && c->err == REDIS_ERR_EOF)
        snprintf(err, errlen, "redis: connection to %s:%s closed (EOF)", rd->host, rd->port);
    else
        snprintf(err, errlen, "%s tcp %s:%s: %s", connecting ? "dial" : "read", rd->host, rd->port, s);
}

static redisContext *rd_connect(struct kit_redis *rd, char *err, size_t errlen)
{
    if (!rd->host) {
        snprintf(err, errlen, "redis: no host configured (%s_HOST is not set)", rd->prefix);
        return NULL;
    }
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout(rd->host, rd->portnum, tv);
    if (!c || c->err) {
        io_error(rd, c, 1, err, errlen);
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (rd->password) {
        redisReply *rep = redisCommand(c, "AUTH %s", rd->password);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            if (rep)
                snprintf(err, errlen, "%s", rep->str);
            else
                io_error(rd, c, 0, err, errlen);
            freeReplyObject(rep);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(rep);
    }
    return c;
}

static int rd_warm(void *arg)
{
    struct kit_redis *rd = arg;
    void *c = NULL;
    char err[256];
    int rc = kit__pool_get(&rd->pool, &c, 0);
    if (rc == 1) {
        kit__pool_put(&rd->pool, c);
        return 0;
    }
    if (rc < 0) return 0;
    c = rd_connect(rd, err, sizeof err);
    kit__pool_put(&rd->pool, c);
    return c ? 0 : -1;
}

struct kit_redis *kit_redis_new(struct kit *k, const char *env_prefix)
{
    struct kit_redis *rd = kit__xmalloc(sizeof *rd);
    memset(rd, 0, sizeof *rd);
    rd->k = k;
    rd->prefix = kit__xstrdup(env_prefix);
    char name[256];
    const char *v = kit__env2(env_prefix, "HOST", name, sizeof name);
    rd->host = v ? kit__xstrdup(v) : NULL;
    rd->port = kit__xstrdup(kit__env_port(env_prefix, "6379"));
    long port;
    if (kit__parse_long(rd->port, 1, 65535, &port) < 0) {
        kit_logf(k, KIT_ERROR, "bad configuration: %s_PORT=%s", env_prefix, rd->port);
        exit(1);
    }
    rd->portnum = (int)port;
    v = kit__env2(env_prefix, "PASSWORD", name, sizeof name);
    rd->password = v ? kit__xstrdup(v) : NULL;
    long size = 4;
    v = getenv("KIT_REDIS_POOL");
    if (v && *v && kit__parse_long(v, 1, 1000, &size) < 0) {
        kit_logf(k, KIT_ERROR, "bad configuration: KIT_REDIS_POOL=%s", v);
        exit(1);
    }
    kit__pool_init(&rd->pool, (int)size);
    kit__register_pool(k, rd_warm, rd);
    return rd;
}

redisReply *kit_redis(struct kit_req *r, struct kit_redis *rd, int argc, const char **argv, const size_t *argvlen,
                      char *err, size_t errlen)
{
    struct kit *k = rd->k;
    uint64_t start = kit__mono_ns();
    char op[24] = "other", name[48];
    if (argc > 0 && argv[0]) {
        size_t n = argvlen ? argvlen[0] : strlen(argv[0]);
        size_t i = 0;
        for (; i < n && i + 1 < sizeof op; i++) {
            char c = argv[0][i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) break;
            op[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        op[i] = '\0';
        if (!i) snprintf(op, sizeof op, "other");
    }
    snprintf(name, sizeof name, "redis %s", op);
    struct kit_span *span = kit__child_span(k, r, name, KIT_SPAN_CLIENT);
    kit_span_attr(span, "db.system", "redis");
    kit_span_attr(span, "db.operation", op);
    char e[512] = "";
    if (argc <= 0) {
        snprintf(e, sizeof e, "ERR empty command");
        goto fail;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        void *conn = NULL;
        int rc = kit__pool_get(&rd->pool, &conn, POOL_WAIT_MS);
        if (rc < 0) {
            snprintf(e, sizeof e, "redis: connection pool timeout (all %d connections busy)", rd->pool.max);
            break;
        }
        if (rc == 0) {
            conn = rd_connect(rd, e, sizeof e);
            if (!conn) {
                kit__pool_put(&rd->pool, NULL);
                break;
            }
        }
        redisContext *c = conn;
        redisReply *rep = redisCommandArgv(c, argc, argv, argvlen);
        if (!rep) {
            io_error(rd, c, 0, e, sizeof e);
            redisFree(c);
            kit__pool_put(&rd->pool, NULL);
            /* A reused connection found closed or reset: once more on a new
             * one. A timeout is not retried (the deadline is spent). */
            if (rc == 1 && !strstr(e, "i/o timeout")) continue;
            break;
        }
        kit__pool_put(&rd->pool, c);
        if (rep->type == REDIS_REPLY_ERROR) {
            snprintf(e, sizeof e, "%.*s", (int)rep->len, rep->str);
            freeReplyObject(rep);
            break;
        }
        kit__db_record(k, r, "redis", op, start, span, NULL);
        return rep;
    }
fail:
    if (!e[0]) snprintf(e, sizeof e, "redis: connection lost");
    snprintf(err, errlen, "%s", e);
    kit__db_record(k, r, "redis", op, start, span, e);
    return NULL;
}
