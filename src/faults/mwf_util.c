/* mwf_util: reaching a store as its operator would (see mwf_util.h). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/json.h"
#include "core/util.h"
#include "faults/mwf_util.h"
#include "faults/virtualization_util.h"

/* ---- env, as the kubelet resolves it ---------------------------------------------- */

static int b64val(int ch)
{
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
}

/* Decode base64 (padding and whitespace ignored) into a new string. */
static char *b64decode_str(const char *in)
{
    size_t len = strlen(in);
    char *out = malloc(len * 3 / 4 + 4);
    if (!out) return NULL;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (const char *p = in; *p; p++) {
        int v = b64val((unsigned char)*p);
        if (v < 0) continue;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    return out;
}

/* A key of a ConfigMap or Secret (decoded), or NULL. New string. */
static char *lookup_key(struct fault_ctx *c, const char *kind, const char *name, const char *key)
{
    json_t *o = fault_get(c, kind, name, NULL);
    if (!o) return NULL;
    char *v = NULL;
    if (!strcmp(kind, "Secret")) {
        const char *sd = json_string_value(json_object_get(json_object_get(o, "stringData"), key));
        const char *d = json_string_value(json_object_get(json_object_get(o, "data"), key));
        v = sd ? strdup(sd) : d ? b64decode_str(d) : NULL;
    } else {
        const char *d = json_string_value(json_object_get(json_object_get(o, "data"), key));
        v = d ? strdup(d) : NULL;
    }
    json_decref(o);
    return v;
}

static json_t *container_env(struct fault_ctx *c, const json_t *ctr)
{
    json_t *env = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(ctr, "envFrom"), i, e)
    {
        const char *kind = json_object_get(e, "configMapRef") ? "ConfigMap" : "Secret";
        const char *name = json_path_str(e, kind[0] == 'C' ? "configMapRef.name" : "secretRef.name", "");
        json_t *o = fault_get(c, kind, name, NULL);
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(o, "data"), k, v)
        {
            char *val = lookup_key(c, kind, name, k);
            char full[512];
            snprintf(full, sizeof full, "%s%s", json_path_str(e, "prefix", ""), k);
            if (val) json_object_set_new(env, full, json_string(val));
            free(val);
        }
        json_decref(o);
    }
    json_array_foreach(json_object_get(ctr, "env"), i, e)
    {
        const char *name = json_path_str(e, "name", NULL);
        const json_t *from = json_object_get(e, "valueFrom");
        if (!name) continue;
        if (!from) {
            json_object_set_new(env, name, json_string(json_path_str(e, "value", "")));
            continue;
        }
        const json_t *cm = json_object_get(from, "configMapKeyRef"), *sec = json_object_get(from, "secretKeyRef");
        if (!cm && !sec) continue;
        const json_t *ref = cm ? cm : sec;
        char *v = lookup_key(c, cm ? "ConfigMap" : "Secret", json_path_str(ref, "name", ""), json_path_str(ref, "key", ""));
        if (v) json_object_set_new(env, name, json_string(v));
        free(v);
    }
    return env;
}

int mwf_store_find(struct fault_ctx *c, const char *deployment, const char *port_name, int dflt, struct mwf_store *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->deployment, sizeof s->deployment, "%s", deployment);
    json_t *pods = fault_pods(c, deployment);
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p)
    {
        const char *ip = json_path_str(p, "status.podIP", "");
        if (!ip[0] || strcmp(json_path_str(p, "status.phase", ""), "Running")) continue;
        s->podobj = json_incref(p);
        snprintf(s->ip, sizeof s->ip, "%s", ip);
        snprintf(s->pod, sizeof s->pod, "%s", json_path_str(p, "metadata.name", ""));
        break;
    }
    json_decref(pods);
    if (!s->podobj) {
        snprintf(c->err, sizeof c->err, "Deployment \"%s\" has no running pod", deployment);
        return -1;
    }
    const json_t *ctr = json_array_get(json_path(s->podobj, "spec.containers"), 0);
    s->port = dflt;
    const json_t *ports = json_object_get(ctr, "ports");
    json_array_foreach(ports, i, p)
    {
        if (i == 0 || !strcmp(json_path_str(p, "name", ""), port_name))
            s->port = (int)json_path_int(p, "containerPort", dflt);
    }
    s->env = container_env(c, ctr);
    return 0;
}

void mwf_store_free(struct mwf_store *s)
{
    json_decref(s->podobj);
    json_decref(s->env);
    s->podobj = s->env = NULL;
}

const char *mwf_env(const struct mwf_store *s, const char *name, const char *dflt)
{
    const char *v = json_string_value(json_object_get(s->env, name));
    return v && v[0] ? v : dflt;
}

/* The secretKeyRef of env var `var` of a container, or NULL. Borrowed. */
static const json_t *secret_ref(const json_t *ctr, const char *var)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(ctr, "env"), i, e)
    {
        if (!strcmp(json_path_str(e, "name", ""), var)) return json_path(e, "valueFrom.secretKeyRef");
    }
    return NULL;
}

static int same_ref(const json_t *a, const json_t *b)
{
    return !strcmp(json_path_str(a, "name", "a"), json_path_str(b, "name", "b")) &&
           !strcmp(json_path_str(a, "key", "a"), json_path_str(b, "key", "b"));
}

int mwf_secret_consumers_current(struct fault_ctx *c, const struct mwf_store *s, const char *var)
{
    const json_t *ref = secret_ref(json_array_get(json_path(s->podobj, "spec.containers"), 0), var);
    const char *value = mwf_env(s, var, "");
    if (!ref) return 1;
    json_t *req = json_pack("{s:s, s:s, s:s}", "op", "get", "kind", "Deployment", "namespace", c->ns);
    json_t *reply = NULL;
    int rc = fault_call(c, req, &reply);
    json_decref(req);
    if (rc) return -1;
    int ok = 1;
    size_t i, j, k;
    json_t *dep, *ctr, *e;
    json_array_foreach(json_object_get(reply, "items"), i, dep)
    {
        const char *name = json_path_str(dep, "metadata.name", "");
        char prog[128] = "";
        if (!strcmp(name, s->deployment)) continue;
        fault_deployment_program(c, name, prog, sizeof prog);
        if (!strcmp(prog, "aiopslab-postgres") || !strcmp(prog, "postgres")) continue; /* read at initdb only */
        json_array_foreach(json_path(dep, "spec.template.spec.containers"), j, ctr)
        {
            json_array_foreach(json_object_get(ctr, "env"), k, e)
            {
                const json_t *r = json_path(e, "valueFrom.secretKeyRef");
                if (ok && r && same_ref(r, ref)) ok = virt_pods_env_is(c, name, json_path_str(e, "name", ""), value);
            }
        }
    }
    json_decref(reply);
    return ok;
}

void mwf_note_pod(struct fault_ctx *c, const struct mwf_store *s)
{
    int volatile_data = 1;
    size_t i;
    json_t *v;
    json_array_foreach(json_path(s->podobj, "spec.volumes"), i, v)
    {
        if (json_object_get(v, "persistentVolumeClaim") || json_object_get(v, "hostPath")) volatile_data = 0;
    }
    json_object_set_new(c->state, "pod", json_string(s->pod));
    json_object_set_new(c->state, "podUid", json_string(json_path_str(s->podobj, "metadata.uid", "")));
    json_object_set_new(c->state, "podDataVolatile", json_boolean(volatile_data));
}

int mwf_pod_replaced(struct fault_ctx *c)
{
    const char *pod = json_string_value(json_object_get(c->state, "pod"));
    const char *uid = json_string_value(json_object_get(c->state, "podUid"));
    if (!pod || !uid || !json_is_true(json_object_get(c->state, "podDataVolatile"))) return 0;
    int missing = 0;
    json_t *p = fault_get(c, "Pod", pod, &missing);
    int gone = missing || (p && json_path(p, "metadata.deletionTimestamp")) ||
               (p && strcmp(json_path_str(p, "metadata.uid", ""), uid));
    json_decref(p);
    return gone;
}

/* ---- the server process ------------------------------------------------------------- */

struct proc_row {
    pid_t pid, ppid;
    char comm[32];
};

static int read_stat(pid_t pid, struct proc_row *r)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    char *open = strchr(line, '('), *close = strrchr(line, ')');
    if (!open || !close || close < open) return -1;
    snprintf(r->comm, sizeof r->comm, "%.*s", (int)(close - open - 1), open + 1);
    r->pid = pid;
    r->ppid = (pid_t)strtol(close + 4, NULL, 10); /* ") S PPID" */
    return 0;
}

pid_t mwf_server_pid(struct fault_ctx *c, const struct mwf_store *s, const char *comm, uint64_t *start)
{
    pid_t root = fault_container_pid(c, s->podobj, 0, NULL);
    if (root <= 0) return 0;
    enum { MAXP = 32768 };
    struct proc_row *rows = calloc(MAXP, sizeof *rows);
    if (!rows) return 0;
    size_t n = 0;
    DIR *d = opendir("/proc");
    struct dirent *de;
    while (d && (de = readdir(d)) && n < MAXP) {
        long pid;
        if (parse_long(de->d_name, 1, 1L << 30, &pid) == 0 && read_stat((pid_t)pid, &rows[n]) == 0) n++;
    }
    if (d) closedir(d);
    pid_t best = 0;
    int best_depth = 1 << 30;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].comm, comm)) continue;
        /* Walk up to the container's first process: the shallowest wins. */
        pid_t p = rows[i].pid;
        int depth = 0;
        while (p != root && p > 1 && depth < 64) {
            pid_t up = 0;
            for (size_t j = 0; j < n; j++)
                if (rows[j].pid == p) up = rows[j].ppid;
            p = up;
            depth++;
        }
        if (p == root && depth < best_depth) best = rows[i].pid, best_depth = depth;
    }
    free(rows);
    if (best && start) *start = proc_starttime(best);
    return best;
}

/* ---- PostgreSQL ------------------------------------------------------------------------ */

const char *mwf_pg_admin_user(const struct mwf_store *s) { return mwf_env(s, "POSTGRES_USER", "postgres"); }

const char *mwf_pg_app_user(struct fault_ctx *c, const struct mwf_store *s)
{
    const char *u = mwf_env(s, "APP_DB_USER", NULL);
    if (!u) snprintf(c->err, sizeof c->err, "store \"%s\" names no application role (APP_DB_USER)", s->deployment);
    return u;
}

const char *mwf_pg_app_db(const struct mwf_store *s) { return mwf_env(s, "POSTGRES_DB", mwf_pg_admin_user(s)); }

/* The first line of a libpq message without its severity. */
static void pg_message(const char *msg, char *out, size_t n)
{
    const char *p = msg;
    const char *f;
    if ((f = strstr(msg, "FATAL:  "))) p = f + 8;
    else if ((f = strstr(msg, "ERROR:  "))) p = f + 8;
    size_t len = strcspn(p, "\n");
    snprintf(out, n, "%.*s", (int)len, p);
}

static PGconn *pg_open(struct fault_ctx *c, const struct mwf_store *s, const char *db, const char *user,
                       const char *password, const char *options)
{
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    const char *keys[] = {"host", "port", "dbname", "user", "password", "connect_timeout", "options",
                          "application_name", "sslmode", NULL};
    const char *vals[] = {s->ip, port, db, user, password ? password : "", "2", options, "psql", "disable", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 0);
    if (!pg) {
        snprintf(c->err, sizeof c->err, "out of memory");
        return NULL;
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        char msg[400];
        pg_message(PQerrorMessage(pg), msg, sizeof msg);
        snprintf(c->err, sizeof c->err, "%s", msg);
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

PGconn *mwf_pg_admin(struct fault_ctx *c, const struct mwf_store *s, const char *db)
{
    PGconn *pg = pg_open(c, s, db ? db : mwf_pg_app_db(s), mwf_pg_admin_user(s), mwf_env(s, "POSTGRES_PASSWORD", ""),
                         "-c statement_timeout=5000 -c lock_timeout=3000");
    if (!pg) {
        char e[sizeof c->err];
        snprintf(e, sizeof e, "%s", c->err);
        snprintf(c->err, sizeof c->err, "%s as %s: %s", s->deployment, mwf_pg_admin_user(s), e);
    }
    return pg;
}

PGconn *mwf_pg_connect(struct fault_ctx *c, const struct mwf_store *s, const char *db, const char *user,
                       const char *password)
{
    return pg_open(c, s, db ? db : mwf_pg_app_db(s), user, password, "");
}

int mwf_pg_app_fails(struct fault_ctx *c, const struct mwf_store *s, const char *sql, const char *const *wants)
{
    const char *user = mwf_pg_app_user(c, s);
    if (!user) return 0;
    c->err[0] = '\0';
    PGconn *pg = mwf_pg_connect(c, s, NULL, user, mwf_env(s, "APP_DB_PASSWORD", ""));
    if (pg && sql) PQclear(mwf_pg_query(c, pg, sql, 0, NULL));
    if (pg) PQfinish(pg);
    for (const char *const *w = wants; *w; w++)
        if (strstr(c->err, *w)) return 1;
    return 0;
}

int mwf_pg_target_app_fails(struct fault_ctx *c, const char *sql, const char *const *wants)
{
    struct mwf_store s;
    if (mwf_store_find(c, c->target, "postgres", 5432, &s)) return 0;
    int took = mwf_pg_app_fails(c, &s, sql, wants);
    mwf_store_free(&s);
    return took;
}

int mwf_pg_admin_do(struct fault_ctx *c, const char *deployment, const char *db, mwf_pg_fn fn, void *arg)
{
    struct mwf_store s;
    if (mwf_store_find(c, deployment, "postgres", 5432, &s)) return -1;
    PGconn *pg = mwf_pg_admin(c, &s, db);
    int rc = pg ? fn(c, &s, pg, arg) : -1;
    if (pg) PQfinish(pg);
    mwf_store_free(&s);
    return rc;
}

struct noted {
    mwf_pg_fn fn;
};

static int note_then(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg)
{
    mwf_note_pod(c, s);
    return ((struct noted *)arg)->fn(c, s, pg, NULL);
}

int mwf_pg_inject(struct fault_ctx *c, const char *db, mwf_pg_fn fn)
{
    struct noted n = {fn};
    return mwf_pg_admin_do(c, c->target, db, note_then, &n);
}

int mwf_pg_recover(struct fault_ctx *c, const char *db, mwf_pg_fn fn)
{
    return mwf_pod_replaced(c) ? 0 : mwf_pg_admin_do(c, c->target, db, fn, NULL);
}

int mwf_pg_fixed(struct fault_ctx *c, const char *db, mwf_pg_fn fn, void *arg)
{
    int serves = virt_target_serves(c, c->target);
    return serves == 1 ? mwf_pg_admin_do(c, c->target, db, fn, arg) : serves;
}

int mwf_pg_bool(struct fault_ctx *c, PGconn *pg, const char *sql, int n, const char *const *params)
{
    PGresult *r = mwf_pg_query(c, pg, sql, n, params);
    if (!r) return -1;
    int yes = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return yes;
}

PGresult *mwf_pg_query(struct fault_ctx *c, PGconn *pg, const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
    char msg[400];
    pg_message(r ? PQresultErrorMessage(r) : PQerrorMessage(pg), msg, sizeof msg);
    snprintf(c->err, sizeof c->err, "%s", msg);
    PQclear(r);
    return NULL;
}

int mwf_pg_exec(struct fault_ctx *c, PGconn *pg, const char *sql, int n, const char *const *params)
{
    PGresult *r = mwf_pg_query(c, pg, sql, n, params);
    PQclear(r);
    return r ? 0 : -1;
}

static int quote(const char *s, char q, char *out, size_t n)
{
    size_t o = 0;
    if (n < 3) return -1;
    out[o++] = q;
    for (; *s; s++) {
        if (o + 3 >= n) return -1;
        if (*s == q) out[o++] = q;
        out[o++] = *s;
    }
    out[o++] = q;
    out[o] = '\0';
    return 0;
}

int mwf_pg_ident(const char *name, char *out, size_t n) { return quote(name, '"', out, n); }

int mwf_pg_literal(const char *s, char *out, size_t n)
{
    if (strchr(s, '\\')) return -1; /* standard_conforming_strings: refuse rather than guess */
    return quote(s, '\'', out, n);
}

int mwf_pg_grant(struct fault_ctx *c, PGconn *pg, const char *kind, const char *name, const char *privs,
                 const char *qrole)
{
    char plain[256] = "", grantable[256] = "", list[256], sql[1024];
    snprintf(list, sizeof list, "%s", privs);
    for (char *p = list, *next; p && *p; p = next) {
        next = strchr(p, ',');
        if (next) *next++ = '\0';
        size_t len = strlen(p);
        int g = len && p[len - 1] == '*';
        if (g) p[len - 1] = '\0';
        char *dst = g ? grantable : plain;
        snprintf(dst + strlen(dst), 256 - strlen(dst), "%s%s", dst[0] ? ", " : "", p);
    }
    if (plain[0]) {
        snprintf(sql, sizeof sql, "GRANT %s ON %s %s TO %s", plain, kind, name, qrole);
        if (mwf_pg_exec(c, pg, sql, 0, NULL)) return -1;
    }
    if (grantable[0]) {
        snprintf(sql, sizeof sql, "GRANT %s ON %s %s TO %s WITH GRANT OPTION", grantable, kind, name, qrole);
        if (mwf_pg_exec(c, pg, sql, 0, NULL)) return -1;
    }
    return 0;
}

int mwf_priv_listed(const char *list, const char *priv)
{
    size_t n = strlen(priv);
    for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (!strncmp(p, priv, n) && (p[n] == '\0' || p[n] == ',' || p[n] == '*')) return 1;
    return 0;
}

const char *mwf_index_shape(const char *def)
{
    const char *on = strstr(def, " ON ");
    return on ? on + 4 : NULL;
}

long long mwf_pg_slots_needed(long long slots_before, long long app_connections)
{
    if (app_connections < 0) app_connections = 0;
    long long need = app_connections * 2 > app_connections + 10 ? app_connections * 2 : app_connections + 10;
    return slots_before > 0 && need > slots_before ? slots_before : need;
}

/* ---- redis and memcached --------------------------------------------------------------- */

int mwf_redis_writable(long long maxmemory, long long used, const char *policy)
{
    if (maxmemory == 0 || !strncmp(policy, "allkeys-", 8)) return 1;
    return maxmemory - used >= MWF_REDIS_ROOM;
}

redisContext *mwf_redis(struct fault_ctx *c, const struct mwf_store *s)
{
    struct timeval tv = {1, 0};
    redisContext *r = redisConnectWithTimeout(s->ip, s->port, tv);
    if (!r || r->err) {
        snprintf(c->err, sizeof c->err, "redis %s:%d: %s", s->ip, s->port, r ? r->errstr : "out of memory");
        if (r) redisFree(r);
        return NULL;
    }
    redisSetTimeout(r, tv);
    return r;
}

redisReply *mwf_redis_cmd(struct fault_ctx *c, redisContext *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(r, fmt, ap);
    va_end(ap);
    if (!rep) {
        snprintf(c->err, sizeof c->err, "redis: %s", r->errstr[0] ? r->errstr : "no reply");
        return NULL;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(c->err, sizeof c->err, "%s", rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

long long mwf_redis_info(struct fault_ctx *c, redisContext *r, const char *section, const char *field)
{
    redisReply *rep = mwf_redis_cmd(c, r, "INFO %s", section);
    if (!rep) return -1;
    long long v = -1;
    char key[128];
    snprintf(key, sizeof key, "\n%s:", field);
    const char *p = rep->type == REDIS_REPLY_STRING ? strstr(rep->str, key) : NULL;
    if (p) v = strtoll(p + strlen(key), NULL, 10);
    freeReplyObject(rep);
    return v;
}

int mwf_memcached(struct fault_ctx *c, const struct mwf_store *s, const char *cmd, char *out, size_t n)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    struct timeval tv = {1, 0};
    int rc = -1;
    if (fd < 0 || inet_pton(AF_INET, s->ip, &a.sin_addr) != 1) {
        snprintf(c->err, sizeof c->err, "memcached %s: bad address", s->ip);
        goto out;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 || write_all(fd, cmd, strlen(cmd)) < 0) {
        snprintf(c->err, sizeof c->err, "memcached %s:%d: %s", s->ip, s->port, strerror(errno));
        goto out;
    }
    size_t len = 0;
    out[0] = '\0';
    for (;;) {
        if (len + 1 >= n) {
            snprintf(c->err, sizeof c->err, "memcached %s:%d: reply too long", s->ip, s->port);
            goto out;
        }
        ssize_t got = read(fd, out + len, n - 1 - len);
        if (got <= 0) {
            snprintf(c->err, sizeof c->err, "memcached %s:%d: %s", s->ip, s->port,
                     got == 0 ? "connection closed" : strerror(errno));
            goto out;
        }
        len += (size_t)got;
        out[len] = '\0';
        /* A reply ends with a line of its own: END, OK or an error. */
        if (len < 2 || strcmp(out + len - 2, "\r\n")) continue;
        const char *last = out + len - 2;
        while (last > out && last[-1] != '\n') last--;
        if (!strncmp(last, "END\r", 4) || !strncmp(last, "OK\r", 3) || strstr(last, "ERROR") == last ||
            strstr(last, "SERVER_ERROR") == last || strstr(last, "CLIENT_ERROR") == last) {
            rc = 0;
            goto out;
        }
    }
out:
    if (fd >= 0) close(fd);
    return rc;
}

long long mwf_memcached_stat(struct fault_ctx *c, const struct mwf_store *s, const char *name)
{
    char buf[16384], key[128];
    if (mwf_memcached(c, s, "stats\r\n", buf, sizeof buf)) return -1;
    snprintf(key, sizeof key, "STAT %s ", name);
    const char *p = strstr(buf, key);
    return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}
