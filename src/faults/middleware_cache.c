/* middleware_cache: faults of the caches (Redis, memcached) and of any
 * store's process: redis-maxmemory-noeviction (CONFIG SET, as an operator
 * capping memory), cache-flush (FLUSHALL / flush_all), memcached-down (its
 * Deployment scaled to 0) and store-kill (SIGKILL to the server process;
 * the kubelet restarts it, PostgreSQL recovers from its WAL). The first
 * and the third have a mitigation check (fixed()): writes go through
 * again; the cache serves again. The others heal by themselves. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "faults/middleware.h"
#include "faults/mwf_util.h"
#include "faults/virtualization_util.h"

enum store_kind { STORE_UNKNOWN, STORE_POSTGRES, STORE_REDIS, STORE_MEMCACHED };

static enum store_kind store_kind(struct fault_ctx *c)
{
    char prog[128];
    fault_deployment_program(c, c->target, prog, sizeof prog);
    if (!strcmp(prog, "aiopslab-postgres") || !strcmp(prog, "postgres")) return STORE_POSTGRES;
    if (!strcmp(prog, "redis-server")) return STORE_REDIS;
    if (!strcmp(prog, "memcached")) return STORE_MEMCACHED;
    return STORE_UNKNOWN;
}

static int find(struct fault_ctx *c, enum store_kind k, struct mwf_store *s)
{
    if (k == STORE_REDIS) return mwf_store_find(c, c->target, "redis", 6379, s);
    if (k == STORE_MEMCACHED) return mwf_store_find(c, c->target, "memcached", 11211, s);
    return mwf_store_find(c, c->target, "postgres", 5432, s);
}

static const struct fault_param no_params[] = {{0}};

/* ---- redis-maxmemory-noeviction ------------------------------------------------------------ */

/* CONFIG GET name: its value into out. 0 or -1. */
static int redis_config_get(struct fault_ctx *c, redisContext *r, const char *name, char *out, size_t n)
{
    redisReply *rep = mwf_redis_cmd(c, r, "CONFIG GET %s", name);
    int ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 && rep->element[1]->str;
    if (ok) snprintf(out, n, "%s", rep->element[1]->str);
    else if (rep) snprintf(c->err, sizeof c->err, "CONFIG GET %s: unexpected reply", name);
    if (rep) freeReplyObject(rep);
    return ok ? 0 : -1;
}

static int redis_config_set(struct fault_ctx *c, redisContext *r, const char *name, const char *value)
{
    redisReply *rep = mwf_redis_cmd(c, r, "CONFIG SET %s %s", name, value);
    if (rep) freeReplyObject(rep);
    return rep ? 0 : -1;
}

static int maxmem_inject(struct fault_ctx *c)
{
    struct mwf_store s;
    if (find(c, STORE_REDIS, &s)) return -1;
    int rc = -1;
    redisContext *r = mwf_redis(c, &s);
    char maxmem[64], policy[64], value[32];
    if (!r || redis_config_get(c, r, "maxmemory", maxmem, sizeof maxmem) ||
        redis_config_get(c, r, "maxmemory-policy", policy, sizeof policy))
        goto out;
    long long used = mwf_redis_info(c, r, "memory", "used_memory");
    if (used < 0) goto out;
    mwf_note_pod(c, &s);
    json_object_set_new(c->state, "maxmemory", json_string(maxmem));
    json_object_set_new(c->state, "policy", json_string(policy));
    if (fault_save(c)) goto out;
    snprintf(value, sizeof value, "%lld", used + fault_param_int(c, "headroom"));
    rc = redis_config_set(c, r, "maxmemory-policy", "noeviction") || redis_config_set(c, r, "maxmemory", value) ? -1 : 0;
out:
    if (r) redisFree(r);
    mwf_store_free(&s);
    return rc;
}

/* A write bigger than the headroom is refused, as the services' are. */
static int maxmem_verify(struct fault_ctx *c)
{
    struct mwf_store s;
    if (find(c, STORE_REDIS, &s)) return 0;
    int took = 0;
    redisContext *r = mwf_redis(c, &s);
    size_t len = (size_t)fault_param_int(c, "headroom") + 256 * 1024;
    char *big = r ? malloc(len) : NULL;
    if (big) {
        memset(big, 'x', len);
        redisReply *rep = redisCommand(r, "SET healthcheck:write %b", big, len);
        took = rep && rep->type == REDIS_REPLY_ERROR && strstr(rep->str, "OOM command not allowed");
        if (rep && rep->type != REDIS_REPLY_ERROR) freeReplyObject(redisCommand(r, "DEL healthcheck:write"));
        if (rep) freeReplyObject(rep);
        free(big);
    }
    if (r) redisFree(r);
    mwf_store_free(&s);
    return took;
}

static int maxmem_recover(struct fault_ctx *c)
{
    const char *maxmem = json_string_value(json_object_get(c->state, "maxmemory"));
    const char *policy = json_string_value(json_object_get(c->state, "policy"));
    if (!maxmem || !policy || mwf_pod_replaced(c)) return 0; /* a new pod's Redis starts from its command line */
    struct mwf_store s;
    if (find(c, STORE_REDIS, &s)) return -1;
    redisContext *r = mwf_redis(c, &s);
    int rc = !r || redis_config_set(c, r, "maxmemory", maxmem) || redis_config_set(c, r, "maxmemory-policy", policy)
                 ? -1
                 : 0;
    if (r) redisFree(r);
    mwf_store_free(&s);
    return rc;
}

/* Writes succeed again, however Redis was set: no cap, a policy that
 * evicts, or room under the cap (mwf_redis_writable), read from the live
 * server (CONFIG GET, INFO memory). A restarted Redis comes back with its
 * command line's configuration: that counts as the cause gone. */
static int maxmem_fixed(struct fault_ctx *c)
{
    int serves = virt_target_serves(c, c->target);
    if (serves != 1) return serves;
    struct mwf_store s;
    if (find(c, STORE_REDIS, &s)) return -1;
    int rc = -1;
    redisContext *r = mwf_redis(c, &s);
    char maxmem[64], policy[64];
    long long used = -1;
    if (r && !redis_config_get(c, r, "maxmemory", maxmem, sizeof maxmem) &&
        !redis_config_get(c, r, "maxmemory-policy", policy, sizeof policy) &&
        (used = mwf_redis_info(c, r, "memory", "used_memory")) >= 0)
        rc = mwf_redis_writable(strtoll(maxmem, NULL, 10), used, policy);
    if (r) redisFree(r);
    mwf_store_free(&s);
    return rc;
}

static const struct fault_param maxmem_params[] = {
    {"headroom", FP_BYTES, 0, 64LL << 20, "1k", NULL, "how far above the memory used now the cap is set"},
    {0},
};

const struct fault_type mw_redis_maxmemory_noeviction = {
    .id = "redis-maxmemory-noeviction",
    .layer = FAULT_MIDDLEWARE,
    .cls = FAULT_MISCONFIGURATION,
    .target = FT_REDIS,
    .resource = "redis-config",
    .summary = "Redis's maxmemory is set just above the memory it uses, with maxmemory-policy noeviction",
    .symptoms = "writes fail with \"OOM command not allowed when used memory > 'maxmemory'\" (services log it and "
                "answer 5xx on write paths); reads still work; INFO memory shows used_memory at maxmemory",
    .params = maxmem_params,
    .verify_ms = 5000,
    .inject = maxmem_inject,
    .verify = maxmem_verify,
    .recover = maxmem_recover,
    .fixed = maxmem_fixed,
};

/* ---- cache-flush -------------------------------------------------------------------------------- */

/* Misses so far: what a flushed cache makes grow. */
static long long cache_misses(struct fault_ctx *c, enum store_kind k, const struct mwf_store *s)
{
    if (k == STORE_MEMCACHED) {
        long long m = mwf_memcached_stat(c, s, "get_misses"), f = mwf_memcached_stat(c, s, "get_flushed");
        return m < 0 ? -1 : m + (f > 0 ? f : 0);
    }
    redisContext *r = mwf_redis(c, s);
    long long v = r ? mwf_redis_info(c, r, "stats", "keyspace_misses") : -1;
    if (r) redisFree(r);
    return v;
}

static long long redis_keys(struct fault_ctx *c, const struct mwf_store *s)
{
    redisContext *r = mwf_redis(c, s);
    redisReply *rep = r ? mwf_redis_cmd(c, r, "DBSIZE") : NULL;
    long long n = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
    if (rep) freeReplyObject(rep);
    if (r) redisFree(r);
    return n;
}

static int flush_inject(struct fault_ctx *c)
{
    enum store_kind k = store_kind(c);
    if (k != STORE_REDIS && k != STORE_MEMCACHED) {
        snprintf(c->err, sizeof c->err, "\"%s\" is not a cache (cache-flush takes a Redis or memcached store)",
                 c->target);
        return -1;
    }
    struct mwf_store s;
    if (find(c, k, &s)) return -1;
    int rc = -1;
    long long misses = cache_misses(c, k, &s), keys = k == STORE_REDIS ? redis_keys(c, &s) : 0;
    if (misses < 0 || keys < 0) goto out;
    json_object_set_new(c->state, "misses", json_integer(misses));
    json_object_set_new(c->state, "keys", json_integer(keys));
    if (fault_save(c)) goto out;
    if (k == STORE_MEMCACHED) {
        char reply[256];
        rc = mwf_memcached(c, &s, "flush_all\r\n", reply, sizeof reply);
        if (!rc && strncmp(reply, "OK", 2)) {
            snprintf(c->err, sizeof c->err, "flush_all: %.100s", reply);
            rc = -1;
        }
    } else {
        redisContext *r = mwf_redis(c, &s);
        redisReply *rep = r ? mwf_redis_cmd(c, r, "FLUSHALL") : NULL;
        rc = rep ? 0 : -1;
        if (rep) freeReplyObject(rep);
        if (r) redisFree(r);
    }
out:
    mwf_store_free(&s);
    return rc;
}

/* The services miss: misses grow, or (Redis) the keys are gone. */
static int flush_verify(struct fault_ctx *c)
{
    enum store_kind k = store_kind(c);
    struct mwf_store s;
    if (find(c, k, &s)) return 0;
    long long misses = cache_misses(c, k, &s);
    long long before = json_integer_value(json_object_get(c->state, "keys"));
    int took = misses > json_integer_value(json_object_get(c->state, "misses"));
    if (!took && k == STORE_REDIS && before > 0) {
        long long keys = redis_keys(c, &s);
        took = keys >= 0 && keys < before;
    }
    mwf_store_free(&s);
    return took;
}

/* A flush is not undone: the cache refills from the database on misses. */
static int nothing_to_undo(struct fault_ctx *c)
{
    (void)c;
    return 0;
}

const struct fault_type mw_cache_flush = {
    .id = "cache-flush",
    .layer = FAULT_MIDDLEWARE,
    .cls = FAULT_OPERATION_ERROR,
    .target = FT_STORE,
    .resource = "cache-data",
    .summary = "a cache is emptied (FLUSHALL on Redis, flush_all on memcached); the data in the databases stays",
    .symptoms = "cache misses jump (keyspace_misses, get_misses), the databases behind take the load: their query "
                "rate and the services' latency rise for a while; Redis-only data (timelines) is gone",
    .params = no_params,
    .verify_ms = 10000,
    .inject = flush_inject,
    .verify = flush_verify,
    .recover = nothing_to_undo,
};

/* ---- memcached-down ------------------------------------------------------------------------------- */

/* The Deployment wants replicas again and they are Ready, its Service
 * takes connections, and memcached answers a stats command. */
static int memcached_fixed(struct fault_ctx *c)
{
    int serves = virt_target_serves(c, c->target);
    if (serves != 1) return serves;
    struct mwf_store s;
    if (find(c, STORE_MEMCACHED, &s)) return 0;
    long long pid = mwf_memcached_stat(c, &s, "pid");
    mwf_store_free(&s);
    return pid > 0;
}

const struct fault_type mw_memcached_down = {
    .id = "memcached-down",
    .layer = FAULT_MIDDLEWARE,
    .cls = FAULT_DEPENDENCY,
    .target = FT_MEMCACHED,
    .resource = "deployment",
    .summary = "a memcached's Deployment is scaled to 0: the cache is gone",
    .symptoms = "the services log \"dial tcp ...:11211: connect: connection refused\" on every cache call and fall "
                "back to the database (higher latency, more database load) or fail where they cannot; the "
                "memcached Service has no endpoints",
    .params = no_params,
    .verify_ms = 10000,
    .inject = fault_scale_down,
    .verify = fault_scaled_down,
    .recover = fault_scale_back,
    .fixed = memcached_fixed,
};

/* ---- store-kill ----------------------------------------------------------------------------------- */

static long long restarts(struct fault_ctx *c, const char *pod)
{
    json_t *p = fault_get(c, "Pod", pod, NULL);
    long long n = p ? json_integer_value(json_object_get(
                          json_array_get(json_path(p, "status.containerStatuses"), 0), "restartCount"))
                    : -1;
    json_decref(p);
    return n;
}

static int kill_inject(struct fault_ctx *c)
{
    enum store_kind k = store_kind(c);
    struct mwf_store s;
    if (find(c, k, &s)) return -1;
    int rc = -1;
    const char *comm = k == STORE_REDIS ? "redis-server" : k == STORE_MEMCACHED ? "memcached" : "postgres";
    uint64_t start = 0;
    pid_t pid = mwf_server_pid(c, &s, comm, &start);
    if (!pid) {
        snprintf(c->err, sizeof c->err, "no %s process in pod %s", comm, s.pod);
        goto out;
    }
    json_object_set_new(c->state, "pod", json_string(s.pod));
    json_object_set_new(c->state, "restarts", json_integer(restarts(c, s.pod)));
    if (fault_save(c)) goto out;
    rc = fault_signal(pid, start, SIGKILL);
    if (rc) snprintf(c->err, sizeof c->err, "kill %d: %s", (int)pid, strerror(-rc));
out:
    mwf_store_free(&s);
    return rc ? -1 : 0;
}

/* The kubelet saw the container die: its restart count went up. */
static int kill_verify(struct fault_ctx *c)
{
    const char *pod = json_string_value(json_object_get(c->state, "pod"));
    return pod && restarts(c, pod) > json_integer_value(json_object_get(c->state, "restarts"));
}

const struct fault_type mw_store_kill = {
    .id = "store-kill",
    .layer = FAULT_MIDDLEWARE,
    .cls = FAULT_DEPENDENCY,
    .target = FT_STORE,
    .resource = "store-process",
    .summary = "the store's server process gets SIGKILL (the kubelet restarts it; PostgreSQL runs crash recovery)",
    .symptoms = "the store's container restarts (RESTARTS goes up, exit code 137, the previous log ends abruptly; "
                "PostgreSQL logs \"database system was interrupted\" and redo); services get connection refused or "
                "reset for a few seconds, then reconnect; Redis and memcached come back empty",
    .params = no_params,
    .verify_ms = 10000,
    .inject = kill_inject,
    .verify = kill_verify,
    .recover = nothing_to_undo,
};
