/* kit_echo: a tiny service on the kit, for the kit's own tests.
 *
 * `kit_echo NAME` serves on $PORT as service NAME. Its routes exercise
 * every part of the kit a real service uses:
 *   GET  /echo?name=X        parameters       {"name":"X"}; 400 without name
 *   POST /json               a JSON body      {"msg":M,"len":N} from {"msg":M};
 * 400 otherwise POST /form               a form body      {"a":A} GET  /whoami
 * trace context    {"service":NAME,"traceparent":inbound or null} GET
 * /chain?to=SVC       kit_call
 * {"service":..,"traceparent":..,"downstream":<SVC's /whoami>} GET  /slow?ms=N
 * a long request   {"slept":N} (for graceful shutdown) GET  /span an own span
 *   GET  /noreply            a handler bug    (the kit answers 500)
 *   GET  /pg/put?k=&v= /pg/get?k= /pg/denied      PostgreSQL (pools PG and
 * READER) GET  /redis/set?k=&v= /redis/get?k=           Redis (pool REDIS) GET
 * /mc/set?k=&v= /mc/get?k=                 memcached (pool MC) A store pool
 * exists only when its <PREFIX>_HOST is set, so one binary serves both as a
 * plain service and as the store client. Store and call failures answer 500/502
 * with the kit's error text.
 */
#include "kit.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *me;
static struct kit_pg *pg, *reader;
static struct kit_redis *rd;
static struct kit_mc *mc;

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static void h_echo(struct kit_req *r, void *arg)
{
    (void)arg;
    const char *name = kit_param(r, "name");
    if (!name || !*name) {
        kit_reply_error(r, 400, "missing parameter: name");
        return;
    }
    json_t *v = json_string(name);
    if (!v) {
        kit_reply_error(r, 400, "parameter name is not UTF-8");
        return;
    }
    kit_reply_json(r, 200, json_pack("{s:o}", "name", v));
}

static void h_json(struct kit_req *r, void *arg)
{
    (void)arg;
    char err[256];
    json_t *body = kit_json(r, err, sizeof err);
    if (!body) {
        kit_reply_error(r, 400, "%s", err);
        return;
    }
    const char *msg = json_string_value(json_object_get(body, "msg"));
    if (!msg) {
        kit_reply_error(r, 400, "field msg: want a string");
        return;
    }
    kit_reply_json(r, 200, json_pack("{s:s, s:i}", "msg", msg, "len", (int)strlen(msg)));
}

static void h_form(struct kit_req *r, void *arg)
{
    (void)arg;
    kit_reply_json(r, 200, json_pack("{s:o}", "a", str_or_null(kit_param(r, "a"))));
}

static void h_whoami(struct kit_req *r, void *arg)
{
    (void)arg;
    kit_log(r, KIT_INFO, "whoami asked");
    kit_reply_json(r, 200,
                   json_pack("{s:s, s:o}", "service", me, "traceparent", str_or_null(kit_header(r, "traceparent"))));
}

static void h_chain(struct kit_req *r, void *arg)
{
    (void)arg;
    const char *to = kit_param(r, "to");
    if (!to || !*to) {
        kit_reply_error(r, 400, "missing parameter: to");
        return;
    }
    char err[512];
    json_t *reply = NULL;
    int st = kit_call(r, to, "GET", "/whoami", NULL, &reply, err, sizeof err);
    if (st < 0) {
        kit_reply_error(r, 502, "%s", err);
        return;
    }
    if (st != 200) {
        json_decref(reply);
        kit_reply_error(r, 502, "%s answered %d", to, st);
        return;
    }
    kit_log(r, KIT_INFO, "chain to %s done", to);
    kit_reply_json(r, 200,
                   json_pack("{s:s, s:o, s:o}", "service", me, "traceparent", str_or_null(kit_header(r, "traceparent")),
                             "downstream", reply ? reply : json_null()));
}

static void h_slow(struct kit_req *r, void *arg)
{
    (void)arg;
    const char *ms = kit_param(r, "ms");
    char *end;
    long n = ms ? strtol(ms, &end, 10) : -1;
    if (!ms || *end || n < 0 || n > 30000) {
        kit_reply_error(r, 400, "ms: want 0-30000");
        return;
    }
    struct timespec ts = {n / 1000, (n % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    kit_reply_json(r, 200, json_pack("{s:i}", "slept", (int)n));
}

static void h_span(struct kit_req *r, void *arg)
{
    (void)arg;
    struct kit_span *s = kit_span_begin(r, "echo-work");
    kit_span_attr(s, "work.kind", "test");
    kit_span_end(s, NULL);
    kit_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static void h_noreply(struct kit_req *r, void *arg)
{
    (void)r;
    (void)arg;
}

static int need(struct kit_req *r, const void *pool, const char *what, const char **k, const char **v)
{
    if (!pool) {
        kit_reply_error(r, 503, "%s is not configured", what);
        return -1;
    }
    *k = kit_param(r, "k");
    if (!*k || !**k) {
        kit_reply_error(r, 400, "missing parameter: k");
        return -1;
    }
    if (v) {
        *v = kit_param(r, "v");
        if (!*v) {
            kit_reply_error(r, 400, "missing parameter: v");
            return -1;
        }
    }
    return 0;
}

static void h_pg_put(struct kit_req *r, void *arg)
{
    (void)arg;
    const char *k, *v;
    if (need(r, pg, "postgresql", &k, &v) < 0) return;
    char err[512];
    const char *p[] = {k, v};
    PGresult *res = kit_pg_exec(r, pg,
                                "INSERT INTO kv (k, v) VALUES ($1, $2) ON "
                                "CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
                                2, p, err, sizeof err);
    if (!res) {
        kit_reply_error(r, 500, "%s", err);
        return;
    }
    PQclear(res);
    kit_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static void h_pg_get(struct kit_req *r, void *arg)
{
    (void)arg;
    const char *k;
    if (need(r, pg, "postgresql", &k, NULL) < 0) return;
    char err[512];
    const char *p[] = {k};
    PGresult *res = kit_pg_exec(r, pg, "SELECT v FROM kv WHERE k = $1", 1, p, err, sizeof err);
    if (!res) {
        kit_reply_error(r, 500, "%s", err);
        return;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        kit_reply_error(r, 404, "no such key: %s", k);
        return;
    }
    kit_reply_json(r, 200, json_pack("{s:s}", "v", PQgetvalue(res, 0, 0)));
    PQclear(res);
}

static void h_pg_denied(struct kit_req *r, void *arg)
{
    (void)arg;
    if (!reader) {
        kit_reply_error(r, 503, "reader pool is not configured");
        return;
    }
    char err[512];
    PGresult *res = kit_pg_exec(r, reader, "SELECT v FROM kv LIMIT 1", 0, NULL, err, sizeof err);
    if (!res) {
        kit_reply_error(r, 500, "%s", err);
        return;
    }
    PQclear(res);
    kit_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static void h_redis_set(struct kit_req *r, void *arg)
{
    (void)arg;
    const char *k, *v;
    if (need(r, rd, "redis", &k, &v) < 0) return;
    char err[512];
    const char *argv[] = {"SET", k, v};
    redisReply *rep = kit_redis(r, rd, 3, argv, NULL, err, sizeof err);
    if (!rep) {
        kit_reply_error(r, 500, "%s", err);
        return;
    }
    freeReplyObject(rep);
    kit_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static void h_redis_get(struct kit_req *r, void *arg)
{
    (void)arg;
    const char *k;
    if (need(r, rd, "redis", &k, NULL) < 0) return;
    char err[512];
    const char *argv[] = {"GET", k};
    redisReply *rep = kit_redis(r, rd, 2, argv, NULL, err, sizeof err);
    if (!rep) {
        kit_reply_error(r, 500, "%s", err);
        return;
    }
    if (rep->type != REDIS_REPLY_STRING) {
        freeReplyObject(rep);
        kit_reply_error(r, 404, "no such key: %s", k);
        return;
    }
    kit_reply_json(r, 200, json_pack("{s:s%}", "v", rep->str, rep->len));
    freeReplyObject(rep);
}

static void h_mc_set(struct kit_req *r, void *arg)
{
    (void)arg;
    const char *k, *v;
    if (need(r, mc, "memcached", &k, &v) < 0) return;
    char err[512];
    if (kit_mc_set(r, mc, k, v, strlen(v), 0, err, sizeof err) < 0) {
        kit_reply_error(r, 500, "%s", err);
        return;
    }
    kit_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static void h_mc_get(struct kit_req *r, void *arg)
{
    (void)arg;
    const char *k;
    if (need(r, mc, "memcached", &k, NULL) < 0) return;
    char err[512], *v = NULL;
    size_t n = 0;
    int rc = kit_mc_get(r, mc, k, &v, &n, err, sizeof err);
    if (rc < 0) {
        kit_reply_error(r, 500, "%s", err);
        return;
    }
    if (rc == 0) {
        kit_reply_error(r, 404, "no such key: %s", k);
        return;
    }
    kit_reply_json(r, 200, json_pack("{s:s%}", "v", v, n));
    free(v);
}

int main(int argc, char **argv)
{
    me = argc > 1 ? argv[1] : "kit-echo";
    struct kit *k = kit_new(me);
    if (getenv("PG_HOST")) pg = kit_pg_new(k, "PG");
    if (getenv("READER_HOST")) reader = kit_pg_new(k, "READER");
    if (getenv("REDIS_HOST")) rd = kit_redis_new(k, "REDIS");
    if (getenv("MC_HOST")) mc = kit_mc_new(k, "MC");
    kit_handle(k, "GET", "/echo", "echo", h_echo, NULL);
    kit_handle(k, "POST", "/json", "json", h_json, NULL);
    kit_handle(k, "POST", "/form", "form", h_form, NULL);
    kit_handle(k, "GET", "/whoami", "whoami", h_whoami, NULL);
    kit_handle(k, "GET", "/chain", "chain", h_chain, NULL);
    kit_handle(k, "GET", "/slow", "slow", h_slow, NULL);
    kit_handle(k, "GET", "/span", "span", h_span, NULL);
    kit_handle(k, "GET", "/noreply", "noreply", h_noreply, NULL);
    kit_handle(k, "GET", "/pg/put", "pg_put", h_pg_put, NULL);
    kit_handle(k, "GET", "/pg/get", "pg_get", h_pg_get, NULL);
    kit_handle(k, "GET", "/pg/denied", "pg_denied", h_pg_denied, NULL);
    kit_handle(k, "GET", "/redis/set", "redis_set", h_redis_set, NULL);
    kit_handle(k, "GET", "/redis/get", "redis_get", h_redis_get, NULL);
    kit_handle(k, "GET", "/mc/set", "mc_set", h_mc_set, NULL);
    kit_handle(k, "GET", "/mc/get", "mc_get", h_mc_get, NULL);
    /* ECHO_START_WAIT_MS: wait before serving, as for a store not up yet. */
    const char *w = getenv("ECHO_START_WAIT_MS");
    if (w) kit_pause(k, (unsigned)strtoul(w, NULL, 10));
    int rc = kit_serve(k);
    kit_free(k);
    return rc;
}
