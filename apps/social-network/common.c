/* common.c: helpers every SocialNetwork service uses: bounded parsing of
 * ids and names, downstream calls with their error texts, the store
 * environment, the one-time schema/seed bootstrap over libpq, and the
 * deterministic seed social graph (see README.md, "Seed data").
 */
#include "sn.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int sn_parse_i64(const char *s, long long min, long long max, long long *out)
{
    if (!s || !*s || strlen(s) > 20) return -1;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p) && !(p == s && *p == '-')) return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

int sn_get_i64(const json_t *o, const char *key, long long min, long long max, long long *out)
{
    return sn_value_i64(json_object_get(o, key), min, max, out);
}

int sn_value_i64(const json_t *v, long long min, long long max, long long *out)
{
    if (json_is_integer(v)) {
        long long x = json_integer_value(v);
        if (x < min || x > max) return -1;
        *out = x;
        return 0;
    }
    if (json_is_string(v)) return sn_parse_i64(json_string_value(v), min, max, out);
    return -1;
}

const char *sn_get_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

int sn_valid_username(const char *s)
{
    size_t n = 0;
    if (!s) return 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= 64 || !(isalnum(c) || c == '_' || c == '-' || c == '.')) return 0;
    }
    return n > 0;
}

json_t *sn_id_json(long long id)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", id);
    return json_string(b);
}

uint64_t sn_hash64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

char *sn_pg_int_array(const long long *ids, size_t n)
{
    size_t cap = 3 + n * 21, len = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
    s[len++] = '{';
    for (size_t i = 0; i < n; i++) len += (size_t)snprintf(s + len, cap - len, "%s%lld", i ? "," : "", ids[i]);
    s[len++] = '}';
    s[len] = '\0';
    return s;
}

/* ---- calls and errors ---- */

int sn_call(struct kit_req *r, const char *service, const char *path, json_t *body, json_t **reply, char *err,
            size_t errlen)
{
    json_t *rep = NULL;
    err[0] = '\0';
    int st = kit_call(r, service, "POST", path, body, &rep, err, errlen);
    json_decref(body);
    if (st < 0) {
        json_decref(rep);
        *reply = NULL;
        return 0;
    }
    if (st / 100 != 2) {
        const char *msg = sn_get_str(rep, "error");
        if (msg) snprintf(err, errlen, "%s", msg);
        else snprintf(err, errlen, "%s answered HTTP %d", service, st);
    }
    *reply = rep;
    return st;
}

int sn_call_raw(struct kit_req *r, const char *service, const char *path, json_t *body, char **reply, size_t *len,
                char *err, size_t errlen)
{
    char *raw = NULL;
    size_t n = 0;
    err[0] = '\0';
    int st = kit_call_raw(r, service, "POST", path, body, &raw, &n, err, errlen);
    json_decref(body);
    if (st < 0) {
        free(raw);
        *reply = NULL;
        *len = 0;
        return 0;
    }
    if (st / 100 != 2) {
        json_t *rep = raw ? json_loadb(raw, n, 0, NULL) : NULL;
        const char *msg = sn_get_str(rep, "error");
        if (msg) snprintf(err, errlen, "%s", msg);
        else snprintf(err, errlen, "%s answered HTTP %d", service, st);
        json_decref(rep);
    }
    *reply = raw;
    *len = n;
    return st;
}

int sn_posts_slice(const char *raw, size_t len, const char **list, size_t *list_len)
{
    static const char head[] = "{\"posts\":[";
    if (!raw || len < sizeof head || memcmp(raw, head, sizeof head - 1)) return -1;
    while (len && (raw[len - 1] == '\n' || raw[len - 1] == ' ' || raw[len - 1] == '\r')) len--;
    if (len < sizeof head + 1 || raw[len - 1] != '}' || raw[len - 2] != ']') return -1;
    *list = raw + sizeof head - 2; /* from the '[' */
    *list_len = len - 1 - (sizeof head - 2);
    return 0;
}

void sn_reply_downstream(struct kit_req *r, int status, const char *what, const char *err)
{
    if (status >= 400 && status < 500) kit_reply_error(r, status, "%s", err);
    else kit_reply_error(r, 500, "%s: %s", what, err);
}

json_t *sn_body(struct kit_req *r)
{
    char err[256];
    json_t *b = kit_json(r, err, sizeof err);
    if (!b) {
        kit_reply_error(r, 400, "malformed request: %s", err);
        return NULL;
    }
    if (!json_is_object(b)) {
        kit_reply_error(r, 400, "malformed request: expected a JSON object");
        return NULL;
    }
    return b;
}

int sn_timeline_args(struct kit_req *r, const json_t *body, long long *user_id, long long *start, long long *stop)
{
    if (sn_get_i64(body, "user_id", 1, SN_MAX_USER_ID, user_id) < 0 ||
        sn_get_i64(body, "start", 0, 1000000, start) < 0 || sn_get_i64(body, "stop", 0, 1000000, stop) < 0) {
        kit_reply_error(r, 400, "Incomplete arguments");
        return -1;
    }
    if (*stop <= *start || *stop - *start > SN_MAX_TIMELINE) {
        kit_reply_error(r, 400, "start must be below stop, at most %d apart", SN_MAX_TIMELINE);
        return -1;
    }
    return 0;
}

/* Users known to exist (ids below 2^20): there is no way to delete a user,
 * so an empty timeline of a known user needs no call to user-service. */
#define KNOWN_MAX (1u << 20)
static _Atomic uint8_t known_users[KNOWN_MAX / 8];

void sn_reply_posts(struct kit_req *r, long long user_id, const char *const *ids, size_t n)
{
    char err[512];
    json_t *rep = NULL;
    int st;
    if (n == 0) {
        int known = user_id < KNOWN_MAX && (known_users[user_id / 8] & (1u << (user_id % 8)));
        if (!known) {
            st = sn_call(r, "user-service", "/GetUser", json_pack("{s:I}", "user_id", (json_int_t)user_id), &rep,
                         err, sizeof err);
            json_decref(rep);
            if (st / 100 != 2) {
                sn_reply_downstream(r, st, "GetUser failed", err);
                return;
            }
            if (user_id < KNOWN_MAX) atomic_fetch_or(&known_users[user_id / 8], (uint8_t)(1u << (user_id % 8)));
        }
        kit_reply_json(r, 200, json_pack("{s:[]}", "posts"));
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(list, json_string(ids[i]));
    /* post-storage's {"posts":[...]} is this service's answer as it is:
     * passed on as bytes, never parsed and serialised again. */
    char *raw = NULL;
    size_t len = 0;
    const char *posts;
    size_t plen;
    st = sn_call_raw(r, "post-storage-service", "/ReadPosts", json_pack("{s:o}", "post_ids", list), &raw, &len, err,
                     sizeof err);
    if (st / 100 != 2) sn_reply_downstream(r, st, "ReadPosts failed", err);
    else if (sn_posts_slice(raw, len, &posts, &plen) < 0) kit_reply_error(r, 500, "ReadPosts failed: reply without posts");
    else kit_reply_raw(r, 200, "application/json", raw, len);
    free(raw);
}

/* ---- stores ---- */

void sn_store_env(const char *prefix, const char *service)
{
    char up[128], var[160];
    size_t i;
    for (i = 0; service[i] && i + 1 < sizeof up; i++)
        up[i] = service[i] == '-' ? '_' : (char)toupper((unsigned char)service[i]);
    up[i] = '\0';
    static const char *const parts[] = {"HOST", "PORT"};
    for (int p = 0; p < 2; p++) {
        snprintf(var, sizeof var, "%s_%s", prefix, parts[p]);
        if (getenv(var)) continue;
        char svc[160];
        snprintf(svc, sizeof svc, "%s_SERVICE_%s", up, parts[p]);
        const char *v = getenv(svc);
        if (v) setenv(var, v, 0);
    }
}

static const char *env_or(const char *prefix, const char *suffix, const char *dflt, char *buf, size_t n)
{
    snprintf(buf, n, "%s_%s", prefix, suffix);
    const char *v = getenv(buf);
    return v && *v ? v : dflt;
}

int sn_pg_run(PGconn *c, const char *sql, int nparams, const char *const *params, char *err, size_t errlen)
{
    /* Without parameters: the simple protocol, which takes several statements. */
    PGresult *res = nparams ? PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0) : PQexec(c, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *m = PQresultErrorMessage(res);
        snprintf(err, errlen, "pq: %.*s", (int)strcspn(m && *m ? m : PQerrorMessage(c), "\n"),
                 m && *m ? m : PQerrorMessage(c));
        rc = -1;
    }
    PQclear(res);
    return rc;
}

struct sn_db {
    struct kit *k;
    struct kit_pg *pg;
    char prefix[64];
    const char *schema;
    int (*seed)(PGconn *c, char *err, size_t errlen);
    pthread_mutex_t lock;
};

/* Schema and seed in one transaction: 0, or -1 with err. */
static int bootstrap_once(struct sn_db *d, char *err, size_t errlen)
{
    char b1[160], b2[160], b3[160], b4[160], b5[160], b6[160];
    const char *keys[] = {"host",    "port",     "dbname", "user", "password", "connect_timeout", "application_name",
                          "sslmode", NULL};
    const char *vals[] = {env_or(d->prefix, "HOST", "127.0.0.1", b1, sizeof b1),
                          env_or(d->prefix, "PORT", "5432", b2, sizeof b2),
                          env_or(d->prefix, "DB", "postgres", b3, sizeof b3),
                          env_or(d->prefix, "USER", "postgres", b4, sizeof b4),
                          env_or(d->prefix, "PASSWORD", "", b5, sizeof b5),
                          "2",
                          "social-network-bootstrap",
                          env_or(d->prefix, "SSLMODE", "disable", b6, sizeof b6),
                          NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 0);
    int rc = -1;
    if (PQstatus(c) != CONNECTION_OK) {
        const char *m = PQerrorMessage(c);
        snprintf(err, errlen, "dial tcp %s:%s: %.*s", vals[0], vals[1], (int)strcspn(m, "\n"), m);
    } else if (sn_pg_run(c, "BEGIN", 0, NULL, err, errlen) == 0 &&
               sn_pg_run(c, "SELECT pg_advisory_xact_lock(7021)", 0, NULL, err, errlen) == 0 &&
               (!d->schema || sn_pg_run(c, d->schema, 0, NULL, err, errlen) == 0) &&
               (!d->seed || d->seed(c, err, errlen) == 0) && sn_pg_run(c, "COMMIT", 0, NULL, err, errlen) == 0) {
        rc = 0;
    }
    PQfinish(c);
    return rc;
}

struct sn_db *sn_db_open(struct kit *k, const char *prefix, const char *schema,
                         int (*seed)(PGconn *c, char *err, size_t errlen))
{
    struct sn_db *d = calloc(1, sizeof *d);
    if (!d) {
        kit_logf(k, KIT_ERROR, "out of memory");
        exit(1);
    }
    d->k = k;
    snprintf(d->prefix, sizeof d->prefix, "%s", prefix);
    d->schema = schema;
    d->seed = seed;
    pthread_mutex_init(&d->lock, NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int attempt = 0; (schema || seed); attempt++) {
        char err[512] = "";
        if (bootstrap_once(d, err, sizeof err) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            kit_logf(k, KIT_INFO, "database ready: schema and seed data checked in %.0f ms",
                     (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
            break;
        }
        /* The database pod usually starts with us: say so only now and then. */
        if (attempt % 25 == 0) kit_logf(k, attempt ? KIT_WARN : KIT_INFO, "waiting for the database: %s", err);
        kit_pause(k, 200);
    }
    d->pg = kit_pg_new(k, prefix);
    return d;
}

PGresult *sn_db_exec(struct kit_req *r, struct sn_db *d, const char *sql, int nparams, const char *const *params,
                     char *err, size_t errlen)
{
    PGresult *res = kit_pg_exec(r, d->pg, sql, nparams, params, err, errlen);
    if (res || !(d->schema || d->seed) || !strstr(err, "does not exist") || !strstr(err, "relation")) return res;
    /* The tables are gone (a new database pod): create them again, once. */
    kit_log(r, KIT_WARN, "%s: recreating the schema", err);
    pthread_mutex_lock(&d->lock);
    char e2[512];
    int rc = bootstrap_once(d, e2, sizeof e2);
    pthread_mutex_unlock(&d->lock);
    if (rc < 0) {
        snprintf(err, errlen, "%s", e2);
        return NULL;
    }
    return kit_pg_exec(r, d->pg, sql, nparams, params, err, errlen);
}

/* ---- seed graph ---- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

size_t sn_seed_graph(uint32_t (*edges)[2], size_t max)
{
    enum { N = SN_USERS };
    uint64_t rng = 0x5eed5eed2016ULL; /* the seed: change it and the graph changes */
    /* Weights w_i = (i + 8)^-0.75 give a heavy tail (max degree near 300,
     * median near 25, as in socfb-Reed98); a seeded shuffle spreads the
     * hubs over the user ids. */
    static double cum[N];
    uint32_t perm[N];
    double total = 0;
    for (int i = 0; i < N; i++) {
        total += 1.0 / pow(i + 8.0, 0.75);
        cum[i] = total;
        perm[i] = (uint32_t)i + 1;
    }
    for (int i = N - 1; i > 0; i--) {
        int j = (int)(splitmix(&rng) % (uint64_t)(i + 1));
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    static uint8_t seen[(N + 1) * (N + 1) / 8 + 1];
    memset(seen, 0, sizeof seen);
    size_t n = 0, want = max < SN_SEED_EDGES ? max : SN_SEED_EDGES;
    while (n < want) {
        uint32_t ends[2];
        for (int e = 0; e < 2; e++) {
            double x = (double)(splitmix(&rng) >> 11) / 9007199254740992.0 * total;
            int lo = 0, hi = N - 1;
            while (lo < hi) {
                int mid = (lo + hi) / 2;
                if (cum[mid] < x) lo = mid + 1;
                else hi = mid;
            }
            ends[e] = perm[lo];
        }
        if (ends[0] == ends[1]) continue;
        uint32_t a = ends[0] < ends[1] ? ends[0] : ends[1], b = ends[0] ^ ends[1] ^ a;
        size_t bit = (size_t)a * (N + 1) + b;
        if (seen[bit / 8] & (1u << (bit % 8))) continue;
        seen[bit / 8] |= (uint8_t)(1u << (bit % 8));
        edges[n][0] = a;
        edges[n][1] = b;
        n++;
    }
    return n;
}
