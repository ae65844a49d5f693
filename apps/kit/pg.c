/* pg.c: the PostgreSQL pool (libpq).
 *
 * Connections are opened on demand (at most KIT_PG_POOL) with a 2 s
 * connect timeout and statement_timeout set for the session, and kept for
 * reuse. A statement on a reused connection that turns out broken (the
 * server restarted) is retried once on a fresh one. Errors are worded as
 * Go's lib/pq words them, since that is what an SRE expects to read from
 * these services: "pq: " + the server's primary message for a failed
 * statement, "dial tcp HOST:PORT: connect: connection refused" when the
 * server cannot be reached.
 */
#include "kit_int.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_WAIT_MS 2000

struct kit_pg {
    struct kit *k;
    struct kit_pool pool;
    char *prefix;
    char *host, *port, *db, *user, *password, *sslmode;
    char options[64];
};

static char *env_or(const char *prefix, const char *suffix, const char *def)
{
    char name[256];
    const char *v = kit__env2(prefix, suffix, name, sizeof name);
    return v ? kit__xstrdup(v) : def ? kit__xstrdup(def) : NULL;
}

/* The first line of a libpq message, without "FATAL:  " / "ERROR:  ". */
static void first_line(const char *msg, char *out, size_t outlen)
{
    const char *p = msg;
    const char *f = strstr(msg, "FATAL:  ");
    if (f)
        p = f + 8;
    else if ((f = strstr(msg, "ERROR:  ")))
        p = f + 8;
    else if ((f = strstr(msg, " failed: ")))
        p = f + 9;
    size_t n = strcspn(p, "\n");
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\r'))
        n--;
    snprintf(out, outlen, "%.*s", (int)n, p);
}

static void conn_error(struct kit_pg *pg, const char *msg, char *err, size_t errlen)
{
    if (strstr(msg, "Connection refused"))
        kit__dial_error(err, errlen, pg->host, pg->port, ECONNREFUSED);
    else if (strstr(msg, "timeout expired"))
        kit__dial_error(err, errlen, pg->host, pg->port, ETIMEDOUT);
    else if (strstr(msg, "No route to host"))
        kit__dial_error(err, errlen, pg->host, pg->port, EHOSTUNREACH);
    else if (strstr(msg, "Connection reset"))
        kit__dial_error(err, errlen, pg->host, pg->port, ECONNRESET);
    else {
        char line[512];
        first_line(msg, line, sizeof line);
        snprintf(err, errlen, "pq: %s", line);
    }
}

static PGconn *pg_connect(struct kit_pg *pg, char *err, size_t errlen)
{
    if (!pg->host) {
        snprintf(err, errlen, "pq: no database host configured (%s_HOST is not set)", pg->prefix);
        return NULL;
    }
    const char *keys[] = {
        "host",    "port", "dbname", "user", "password", "connect_timeout", "options", "application_name",
        "sslmode", NULL};
    const char *vals[] = {pg->host, pg->port,    pg->db,         pg->user,    pg->password,
                          "2",      pg->options, pg->k->service, pg->sslmode, NULL};
    /* libpq stops at the first NULL value: give empty strings instead. */
    for (int i = 0; keys[i]; i++)
        if (!vals[i]) vals[i] = "";
    PGconn *c = PQconnectdbParams(keys, vals, 0);
    if (!c) {
        snprintf(err, errlen, "pq: out of memory");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        conn_error(pg, PQerrorMessage(c), err, errlen);
        PQfinish(c);
        return NULL;
    }
    return c;
}

static int pg_warm(void *arg)
{
    struct kit_pg *pg = arg;
    void *c = NULL;
    char err[512];
    int rc = kit__pool_get(&pg->pool, &c, 0);
    if (rc == 1) {
        kit__pool_put(&pg->pool, c);
        return 0;
    }
    if (rc < 0) return 0; /* every connection is busy: it works */
    c = pg_connect(pg, err, sizeof err);
    kit__pool_put(&pg->pool, c);
    return c ? 0 : -1;
}

struct kit_pg *kit_pg_new(struct kit *k, const char *env_prefix)
{
    struct kit_pg *pg = kit__xmalloc(sizeof *pg);
    memset(pg, 0, sizeof *pg);
    pg->k = k;
    pg->prefix = kit__xstrdup(env_prefix);
    pg->host = env_or(env_prefix, "HOST", NULL);
    pg->port = kit__xstrdup(kit__env_port(env_prefix, "5432"));
    pg->db = env_or(env_prefix, "DB", NULL);
    pg->user = env_or(env_prefix, "USER", NULL);
    pg->password = env_or(env_prefix, "PASSWORD", NULL);
    pg->sslmode = env_or(env_prefix, "SSLMODE", "disable");
    long size = 4, timeout = 2000;
    const char *v = getenv("KIT_PG_POOL");
    if (v && *v && kit__parse_long(v, 1, 1000, &size) < 0) {
        kit_logf(k, KIT_ERROR, "bad configuration: KIT_PG_POOL=%s", v);
        exit(1);
    }
    v = getenv("KIT_PG_STATEMENT_TIMEOUT_MS");
    if (v && *v && kit__parse_long(v, 0, 3600000, &timeout) < 0) {
        kit_logf(k, KIT_ERROR, "bad configuration: KIT_PG_STATEMENT_TIMEOUT_MS=%s", v);
        exit(1);
    }
    snprintf(pg->options, sizeof pg->options, "-c statement_timeout=%ld", timeout);
    kit__pool_init(&pg->pool, (int)size);
    kit__register_pool(k, pg_warm, pg);
    return pg;
}

/* "select", "insert", ... from the statement, for the metric label. */
static void sql_operation(const char *sql, char *out, size_t outlen)
{
    while (*sql == ' ' || *sql == '\n' || *sql == '\t' || *sql == '(')
        sql++;
    size_t n = 0;
    while (n + 1 < outlen && ((sql[n] >= 'a' && sql[n] <= 'z') || (sql[n] >= 'A' && sql[n] <= 'Z'))) {
        out[n] = (char)(sql[n] >= 'A' && sql[n] <= 'Z' ? sql[n] - 'A' + 'a' : sql[n]);
        n++;
    }
    out[n] = '\0';
    if (!n) snprintf(out, outlen, "other");
}

PGresult *kit_pg_exec(struct kit_req *r, struct kit_pg *pg, const char *sql, int nparams, const char *const *params,
                      char *err, size_t errlen)
{
    struct kit *k = pg->k;
    uint64_t start = kit__mono_ns();
    char op[16], name[64];
    sql_operation(sql, op, sizeof op);
    snprintf(name, sizeof name, "postgresql %s", op);
    struct kit_span *span = kit__child_span(k, r, name, KIT_SPAN_CLIENT);
    kit_span_attr(span, "db.system", "postgresql");
    kit_span_attr(span, "db.name", pg->db ? pg->db : "");
    char stmt[256];
    snprintf(stmt, sizeof stmt, "%s", sql);
    kit_span_attr(span, "db.statement", stmt);
    char e[512] = "";
    for (int attempt = 0; attempt < 2; attempt++) {
        void *conn = NULL;
        int rc = kit__pool_get(&pg->pool, &conn, POOL_WAIT_MS);
        if (rc < 0) {
            snprintf(e, sizeof e, "pq: no free connection: all %d are busy (waited %d ms)", pg->pool.max, POOL_WAIT_MS);
            break;
        }
        if (rc == 0) {
            conn = pg_connect(pg, e, sizeof e);
            if (!conn) {
                kit__pool_put(&pg->pool, NULL);
                break;
            }
        }
        PGconn *c = conn;
        PGresult *res = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
        ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            kit__pool_put(&pg->pool, c);
            kit__db_record(k, r, "postgresql", op, start, span, NULL);
            return res;
        }
        if (PQstatus(c) == CONNECTION_BAD) {
            /* The connection died (server restart, network): a reused one is
             * retried once on a fresh connection. */
            conn_error(pg, res ? PQresultErrorMessage(res) : PQerrorMessage(c), e, sizeof e);
            PQclear(res);
            PQfinish(c);
            kit__pool_put(&pg->pool, NULL);
            if (rc == 1) continue;
            break;
        }
        const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        if (primary)
            snprintf(e, sizeof e, "pq: %s", primary);
        else {
            char line[400];
            first_line(res ? PQresultErrorMessage(res) : PQerrorMessage(c), line, sizeof line);
            snprintf(e, sizeof e, "pq: %s", line[0] ? line : PQresStatus(st));
        }
        PQclear(res);
        kit__pool_put(&pg->pool, c);
        break;
    }
    if (!e[0]) snprintf(e, sizeof e, "pq: connection lost");
    snprintf(err, errlen, "%s", e);
    kit__db_record(k, r, "postgresql", op, start, span, e);
    return NULL;
}
