/* middleware_pg: PostgreSQL faults, done as the store's superuser over a
 * real session (mwf_util.h), the way a DBA's mistake would be done:
 * REVOKE, ALTER ROLE ... PASSWORD, ALTER SYSTEM plus a restart, DROP
 * INDEX, a transaction left holding a lock, a client that takes every
 * connection slot. (db-drop-user is in middleware_pg_role.c.)
 *
 * Each one saves, before it acts, what recover needs to put the store
 * back exactly: the privileges revoked, the role's password verifier (not
 * the password: PostgreSQL takes the SCRAM verifier back as is), the
 * setting's previous value, the index's definition from pg_indexes.
 *
 * Their fixed() checks (mitigation) look at the live store, not at what
 * was saved: the role can use its tables again, however it was granted;
 * the limit leaves room for the pools; an index of the same shape exists,
 * under any name; no session holds the lock. Each first asks that the
 * store serve (mwf_pg_fixed): deleting or scaling it away fixes nothing. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/json.h"
#include "faults/middleware.h"
#include "faults/mwf_util.h"

static const char *const PERMISSION_DENIED[] = {"permission denied for table", NULL};
static const char *const AUTH_FAILED[] = {"password authentication failed", NULL};
static const char *const NO_SLOTS[] = {"too many clients already", "remaining connection slots are reserved", NULL};

/* fixed() of a fault whose record lacks what inject saves first. */
static int incomplete(struct fault_ctx *c)
{
    snprintf(c->err, sizeof c->err, "the fault's record holds nothing to check: its inject did not get to act");
    return -1;
}

static void sleep_ms(long ms) { nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL); }

/* Whether role $1 holds privilege $3 on table $2 (a table dropped since needs none). */
static const char SQL_HAS_PRIVILEGE[] =
    "SELECT to_regclass($2) IS NULL OR has_table_privilege($1::name, $2::text, $3::text)";

/* ---- db-revoke-privileges ------------------------------------------------------------- */

/* The role's privileges per table (of the "table" parameter, or all),
 * as "SELECT,UPDATE*" (* = WITH GRANT OPTION). */
static const char SQL_TABLE_PRIVS[] =
    "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname),"
    " string_agg(p.privilege_type || CASE WHEN p.is_grantable THEN '*' ELSE '' END, ',' ORDER BY p.privilege_type)"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) AS p"
    " WHERE p.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
    "   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'"
    "   AND ($2 = 'all' OR c.relname = $2 OR n.nspname || '.' || c.relname = $2)"
    " GROUP BY 1 ORDER BY 1";

static int revoke_do(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg)
{
    (void)arg;
    int rc = -1;
    PGresult *r = NULL;
    const char *role = mwf_pg_app_user(c, s);
    if (!role) goto out;
    const char *args[] = {role, fault_param_str(c, "table")};
    if (!(r = mwf_pg_query(c, pg, SQL_TABLE_PRIVS, 2, args))) goto out;
    if (!PQntuples(r)) {
        snprintf(c->err, sizeof c->err, "role %s has no privileges on %s in database %s", role,
                 strcmp(args[1], "all") ? args[1] : "any table", mwf_pg_app_db(s));
        goto out;
    }
    json_t *tables = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(tables, json_pack("{s:s, s:s}", "table", PQgetvalue(r, i, 0), "privileges",
                                                PQgetvalue(r, i, 1)));
    json_object_set_new(c->state, "role", json_string(role));
    json_object_set_new(c->state, "tables", tables);
    if (fault_save(c)) goto out;
    char qrole[256], sql[1024];
    if (mwf_pg_ident(role, qrole, sizeof qrole)) goto out;
    if (mwf_pg_exec(c, pg, "BEGIN", 0, NULL)) goto out;
    for (int i = 0; i < PQntuples(r); i++) {
        snprintf(sql, sizeof sql, "REVOKE ALL ON TABLE %s FROM %s", PQgetvalue(r, i, 0), qrole);
        if (mwf_pg_exec(c, pg, sql, 0, NULL)) goto out; /* the session's end rolls it back */
    }
    rc = mwf_pg_exec(c, pg, "COMMIT", 0, NULL);
out:
    PQclear(r);
    return rc;
}

static int revoke_inject(struct fault_ctx *c) { return mwf_pg_inject(c, NULL, revoke_do); }

static int revoke_verify(struct fault_ctx *c)
{
    char sql[600];
    snprintf(sql, sizeof sql, "SELECT 1 FROM %s LIMIT 1",
             json_string_value(json_object_get(json_array_get(json_object_get(c->state, "tables"), 0), "table")));
    return mwf_pg_target_app_fails(c, sql, PERMISSION_DENIED);
}

/* GRANT back each table's saved privileges (those WITH GRANT OPTION too). */
static int revoke_undo(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg)
{
    (void)s;
    (void)arg;
    char qrole[256];
    if (mwf_pg_ident(json_string_value(json_object_get(c->state, "role")), qrole, sizeof qrole)) return -1;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(c->state, "tables"), i, t)
    {
        const char *name = json_string_value(json_object_get(t, "table"));
        const char *args[] = {name};
        int exists = mwf_pg_bool(c, pg, "SELECT to_regclass($1) IS NOT NULL", 1, args);
        if (exists < 0) return -1;
        if (!exists) continue; /* dropped since: nothing to give back */
        if (mwf_pg_grant(c, pg, "TABLE", name, json_string_value(json_object_get(t, "privileges")), qrole))
            return -1;
    }
    return 0;
}

static int revoke_recover(struct fault_ctx *c)
{
    if (!json_object_get(c->state, "role") || !json_object_get(c->state, "tables")) return 0;
    return mwf_pg_recover(c, NULL, revoke_undo);
}

/* The data privileges the role had on each table it lost them on, held
 * again (directly, through a group role or PUBLIC: has_table_privilege). */
static int revoke_check(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg)
{
    (void)s;
    (void)arg;
    static const char *const dml[] = {"SELECT", "INSERT", "UPDATE", "DELETE"};
    const char *role = json_string_value(json_object_get(c->state, "role"));
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(c->state, "tables"), i, t)
    {
        const char *table = json_string_value(json_object_get(t, "table"));
        const char *privs = json_string_value(json_object_get(t, "privileges"));
        for (size_t k = 0; k < sizeof dml / sizeof dml[0]; k++) {
            if (!mwf_priv_listed(privs, dml[k])) continue;
            const char *args[] = {role, table, dml[k]};
            int held = mwf_pg_bool(c, pg, SQL_HAS_PRIVILEGE, 3, args);
            if (held != 1) return held;
        }
    }
    return 1;
}

static int revoke_fixed(struct fault_ctx *c)
{
    if (!json_object_get(c->state, "role")) return incomplete(c);
    return mwf_pg_fixed(c, NULL, revoke_check, NULL);
}

static const struct fault_param revoke_params[] = {
    {"table", FP_STRING, 0, 128, "all", NULL, "the table (or schema.table) whose privileges go, or all"},
    {0},
};

const struct fault_type mw_db_revoke_privileges = {
    .id = "db-revoke-privileges",
    .layer = FAULT_MIDDLEWARE,
    .cls = FAULT_AUTHENTICATION,
    .target = FT_POSTGRES,
    .resource = "db-role",
    .summary = "the application's role loses its privileges on its tables (REVOKE ALL)",
    .symptoms = "the services' queries fail with \"pq: permission denied for table ...\" and they answer 5xx; the "
                "store's log shows the same ERROR; its pod stays Running and Ready, connections still succeed",
    .params = revoke_params,
    .verify_ms = 5000,
    .inject = revoke_inject,
    .verify = revoke_verify,
    .recover = revoke_recover,
    .fixed = revoke_fixed,
};

/* ---- db-password-change -------------------------------------------------------------------- */

static int password_do(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg)
{
    (void)arg;
    int rc = -1;
    PGresult *r = NULL;
    const char *role = mwf_pg_app_user(c, s);
    if (!role) goto out;
    const char *args[] = {role};
    if (!(r = mwf_pg_query(c, pg, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", 1, args))) goto out;
    if (!PQntuples(r)) {
        snprintf(c->err, sizeof c->err, "role %s does not exist", role);
        goto out;
    }
    json_object_set_new(c->state, "role", json_string(role));
    json_object_set_new(c->state, "verifier", PQgetisnull(r, 0, 0) ? json_null() : json_string(PQgetvalue(r, 0, 0)));
    if (fault_save(c)) goto out;
    /* A new password nobody knows, as a rotation done in the database only. */
    unsigned char rnd[12];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, rnd, sizeof rnd) != (ssize_t)sizeof rnd) {
        if (fd >= 0) close(fd);
        snprintf(c->err, sizeof c->err, "cannot read /dev/urandom");
        goto out;
    }
    close(fd);
    char pw[32] = "", qrole[256], sql[512];
    for (size_t i = 0; i < sizeof rnd; i++) snprintf(pw + 2 * i, 3, "%02x", rnd[i]);
    if (mwf_pg_ident(role, qrole, sizeof qrole)) goto out;
    snprintf(sql, sizeof sql, "ALTER ROLE %s PASSWORD '%s'", qrole, pw);
    rc = mwf_pg_exec(c, pg, sql, 0, NULL);
out:
    PQclear(r);
    return rc;
}

static int password_inject(struct fault_ctx *c) { return mwf_pg_inject(c, NULL, password_do); }

static int auth_fails_verify(struct fault_ctx *c) { return mwf_pg_target_app_fails(c, NULL, AUTH_FAILED); }

static int password_undo(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg)
{
    (void)s;
    (void)arg;
    json_t *v = json_object_get(c->state, "verifier");
    char qrole[256], lit[512], sql[1024];
    if (mwf_pg_ident(json_string_value(json_object_get(c->state, "role")), qrole, sizeof qrole)) return -1;
    if (json_is_null(v)) {
        snprintf(sql, sizeof sql, "ALTER ROLE %s PASSWORD NULL", qrole);
    } else {
        if (mwf_pg_literal(json_string_value(v), lit, sizeof lit)) return -1;
        snprintf(sql, sizeof sql, "ALTER ROLE %s PASSWORD %s", qrole, lit); /* the verifier, stored as is */
    }
    return mwf_pg_exec(c, pg, sql, 0, NULL);
}

static int password_recover(struct fault_ctx *c)
{
    if (!json_object_get(c->state, "role") || !json_object_get(c->state, "verifier")) return 0;
    return mwf_pg_recover(c, NULL, password_undo);
}

/* The application's role logs in with the password its Secret holds now,
 * and every service reading that Secret key runs with that value (a
 * changed Secret needs its consumers restarted). */
static int password_check(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg)
{
    (void)pg;
    (void)arg;
    const char *role = mwf_pg_app_user(c, s);
    if (!role) return -1;
    c->err[0] = '\0';
    PGconn *app = mwf_pg_connect(c, s, NULL, role, mwf_env(s, "APP_DB_PASSWORD", ""));
    if (!app) return strstr(c->err, "password authentication failed") ? 0 : -1;
    PQfinish(app);
    return mwf_secret_consumers_current(c, s, "APP_DB_PASSWORD");
}

static int password_fixed(struct fault_ctx *c) { return mwf_pg_fixed(c, NULL, password_check, NULL); }

static const struct fault_param no_params[] = {{0}};

const struct fault_type mw_db_password_change = {
    .id = "db-password-change",
    .layer = FAULT_MIDDLEWARE,
    .cls = FAULT_AUTHENTICATION,
    .target = FT_POSTGRES,
    .resource = "db-role",
    .summary = "the application role's password is changed in the database only (the Secret keeps the old one)",
    .symptoms = "new connections fail with \"pq: password authentication failed for user ...\" (the store logs "
                "FATAL for each); pooled connections keep working until they are reopened, so errors grow as "
                "services reconnect or restart",
    .params = no_params,
    .verify_ms = 5000,
    .inject = password_inject,
    .verify = auth_fails_verify,
    .recover = password_recover,
    .fixed = password_fixed,
};

/* ---- db-max-connections --------------------------------------------------------------------- */

/* A running value, or -1. */
static long long pg_setting(struct fault_ctx *c, PGconn *pg, const char *name)
{
    const char *args[] = {name};
    PGresult *r = mwf_pg_query(c, pg, "SELECT setting::bigint FROM pg_settings WHERE name = $1", 1, args);
    long long v = r && PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    return v;
}

/* Restart the postmaster as `pg_ctl restart` in the container would: a
 * fast shutdown (SIGINT) ends the container's process, and the kubelet
 * starts it again in the same pod, on the same emptyDir data. */
static int restart_postgres(struct fault_ctx *c, const struct mwf_store *s)
{
    uint64_t start = 0;
    pid_t pid = mwf_server_pid(c, s, "postgres", &start);
    if (!pid) {
        snprintf(c->err, sizeof c->err, "no postgres process in pod %s", s->pod);
        return -1;
    }
    return fault_signal(pid, start, SIGINT) ? -1 : 0;
}

static int maxconn_do(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg)
{
    (void)arg;
    int rc = -1;
    PGresult *r = NULL;
    long long slots = fault_param_int(c, "connections");
    long long max = pg_setting(c, pg, "max_connections"), reserved = pg_setting(c, pg, "superuser_reserved_connections");
    const char *args[] = {"max_connections"};
    if (max < 0 || reserved < 0 ||
        !(r = mwf_pg_query(c, pg, "SELECT source FROM pg_settings WHERE name = $1", 1, args)))
        goto out;
    /* max_connections given on the server's command line (the manifests
     * do) beats ALTER SYSTEM: then the same limit on ordinary roles is
     * set through superuser_reserved_connections. */
    int cmdline = !strcmp(PQgetvalue(r, 0, 0), "command line");
    const char *param = cmdline ? "superuser_reserved_connections" : "max_connections";
    long long before = cmdline ? reserved : max, value = cmdline ? max - slots : reserved + slots;
    if (value < 0 || (cmdline && value <= reserved) || (!cmdline && value >= max)) {
        snprintf(c->err, sizeof c->err, "connections=%lld is not below the %lld slots ordinary roles have now", slots,
                 max - reserved);
        goto out;
    }
    PQclear(r);
    const char *a2[] = {param};
    r = mwf_pg_query(c, pg,
                     "SELECT setting FROM pg_file_settings WHERE name = $1 AND sourcefile LIKE '%postgresql.auto.conf'"
                     " ORDER BY seqno DESC LIMIT 1",
                     1, a2);
    if (!r) goto out;
    /* What the application's pools hold now: the mitigation check's measure. */
    const char *a3[] = {mwf_env(s, "APP_DB_USER", "")};
    PGresult *held = mwf_pg_query(c, pg, "SELECT count(*) FROM pg_stat_activity WHERE usename = $1", 1, a3);
    if (!held) goto out;
    json_object_set_new(c->state, "appConnections", json_integer(strtoll(PQgetvalue(held, 0, 0), NULL, 10)));
    PQclear(held);
    json_object_set_new(c->state, "slotsBefore", json_integer(max - reserved));
    json_object_set_new(c->state, "param", json_string(param));
    json_object_set_new(c->state, "before", json_integer(before));
    json_object_set_new(c->state, "autoConf", PQntuples(r) ? json_string(PQgetvalue(r, 0, 0)) : json_null());
    json_object_set_new(c->state, "value", json_integer(value));
    if (fault_save(c)) goto out;
    char sql[256];
    snprintf(sql, sizeof sql, "ALTER SYSTEM SET %s = %lld", param, value);
    if (mwf_pg_exec(c, pg, sql, 0, NULL)) goto out;
    rc = restart_postgres(c, s);
out:
    PQclear(r);
    return rc;
}

static int maxconn_inject(struct fault_ctx *c) { return mwf_pg_inject(c, NULL, maxconn_do); }

/* The server is back with the new limit, and a service's next connection
 * finds no slot (the services' pools hold what there is, or the probes do). */
static int maxconn_took(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg)
{
    (void)arg;
    const char *param = json_string_value(json_object_get(c->state, "param"));
    if (!param || pg_setting(c, pg, param) != json_integer_value(json_object_get(c->state, "value"))) return 0;
    PGconn *held[64];
    int n = 0, took = 0;
    long long slots = fault_param_int(c, "connections");
    const char *user = mwf_pg_app_user(c, s);
    for (; user && n <= slots && n < 64; n++) {
        c->err[0] = '\0';
        if (!(held[n] = mwf_pg_connect(c, s, NULL, user, mwf_env(s, "APP_DB_PASSWORD", "")))) break;
    }
    for (const char *const *w = NO_SLOTS; *w && !took; w++) took = strstr(c->err, *w) != NULL;
    for (int i = 0; i < n && i < 64; i++)
        if (held[i]) PQfinish(held[i]);
    return took;
}

static int maxconn_verify(struct fault_ctx *c) { return mwf_pg_admin_do(c, c->target, NULL, maxconn_took, NULL) == 1; }

static int maxconn_undo(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg)
{
    (void)arg;
    const char *param = json_string_value(json_object_get(c->state, "param"));
    char sql[512], lit[256];
    json_t *was = json_object_get(c->state, "autoConf");
    if (json_is_string(was)) {
        if (mwf_pg_literal(json_string_value(was), lit, sizeof lit)) return -1;
        snprintf(sql, sizeof sql, "ALTER SYSTEM SET %s = %s", param, lit);
    } else {
        snprintf(sql, sizeof sql, "ALTER SYSTEM RESET %s", param);
    }
    if (mwf_pg_exec(c, pg, sql, 0, NULL)) return -1;
    long long now = pg_setting(c, pg, param);
    return now == json_integer_value(json_object_get(c->state, "before")) ? 0 : restart_postgres(c, s);
}

static int maxconn_recover(struct fault_ctx *c)
{
    if (!json_object_get(c->state, "param")) return 0;
    /* Right after inject the server may still be restarting. */
    int rc = -1;
    for (int i = 0; i < 30 && rc < 0; i++) {
        if (i) sleep_ms(100);
        rc = mwf_pg_recover(c, NULL, maxconn_undo);
    }
    return rc;
}

/* The running limit leaves the application's pools room again (however it
 * was raised: the setting reset or set higher, max_connections raised),
 * and a new connection as the application's role gets a slot. A setting
 * changed but not yet applied (no restart) is not a fix. */
static int maxconn_check(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg)
{
    (void)arg;
    long long max = pg_setting(c, pg, "max_connections"), reserved = pg_setting(c, pg, "superuser_reserved_connections");
    if (max < 0 || reserved < 0) return -1;
    long long need = mwf_pg_slots_needed(json_integer_value(json_object_get(c->state, "slotsBefore")),
                                         json_integer_value(json_object_get(c->state, "appConnections")));
    if (max - reserved < need) return 0;
    int refused = mwf_pg_app_fails(c, s, NULL, NO_SLOTS);
    return refused ? 0 : c->err[0] ? -1 : 1;
}

static int maxconn_fixed(struct fault_ctx *c)
{
    if (!json_object_get(c->state, "param")) return incomplete(c);
    return mwf_pg_fixed(c, NULL, maxconn_check, NULL);
}

static const struct fault_param maxconn_params[] = {
    {"connections", FP_INT, 1, 50, "2", NULL, "connection slots left to ordinary roles (the services)"},
    {0},
};

const struct fault_type mw_db_max_connections = {
    .id = "db-max-connections",
    .layer = FAULT_MIDDLEWARE,
    .cls = FAULT_MISCONFIGURATION,
    .target = FT_POSTGRES,
    .resource = "db-connections",
    .summary = "the server's connection limit is lowered (ALTER SYSTEM, then the postgres process restarts in its "
               "pod): max_connections, or superuser_reserved_connections where max_connections is fixed on the "
               "command line",
    .symptoms = "the store's container restarts once (its RESTARTS count goes up, data intact); then services get "
                "\"pq: remaining connection slots are reserved for non-replication superuser connections\" or "
                "\"pq: sorry, too many clients already\" for connections past the limit and answer 5xx",
    .params = maxconn_params,
    .verify_ms = 20000,
    .inject = maxconn_inject,
    .verify = maxconn_verify,
    .recover = maxconn_recover,
    .fixed = maxconn_fixed,
};

/* ---- db-drop-index -------------------------------------------------------------------------- */

/* The index to drop: the named one, or the one the queries use most; an
 * index that backs a constraint (primary key, unique) is not an index a
 * DROP INDEX can remove. */
static const char SQL_INDEX[] =
    "SELECT s.schemaname, s.indexrelname, quote_ident(s.schemaname) || '.' || quote_ident(s.relname),"
    " x.indexdef, coalesce(t.seq_scan, 0),"
    " EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = s.indexrelid)"
    " FROM pg_stat_user_indexes s JOIN pg_indexes x ON x.schemaname = s.schemaname AND x.indexname = s.indexrelname"
    " JOIN pg_stat_user_tables t ON t.relid = s.relid"
    " WHERE ($1 = 'auto' AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = s.indexrelid))"
    "    OR s.indexrelname = $1 OR s.schemaname || '.' || s.indexrelname = $1"
    " ORDER BY s.idx_scan DESC, s.indexrelname LIMIT 1";

static int seq_scans(struct fault_ctx *c, PGconn *pg, const char *table, long long *out)
{
    const char *args[] = {table};
    PGresult *r = mwf_pg_query(c, pg, "SELECT coalesce(seq_scan, 0) FROM pg_stat_user_tables WHERE relid = to_regclass($1)",
                               1, args);
    if (!r) return -1;
    *out = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return 0;
}

static int index_do(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg)
{
    (void)arg;
    int rc = -1;
    const char *want = fault_param_str(c, "index");
    const char *args[] = {want};
    PGresult *r = mwf_pg_query(c, pg, SQL_INDEX, 1, args);
    if (!r) goto out;
    if (!PQntuples(r)) {
        snprintf(c->err, sizeof c->err, "%s in database %s", strcmp(want, "auto") ? "no such index" :
                 "no index outside constraints to drop", mwf_pg_app_db(s));
        goto out;
    }
    if (PQgetvalue(r, 0, 5)[0] == 't') {
        snprintf(c->err, sizeof c->err, "index %s backs a constraint (a primary key or unique): not droppable by "
                 "DROP INDEX", want);
        goto out;
    }
    char qs[256], qi[256], sql[600];
    if (mwf_pg_ident(PQgetvalue(r, 0, 0), qs, sizeof qs) || mwf_pg_ident(PQgetvalue(r, 0, 1), qi, sizeof qi)) goto out;
    snprintf(sql, sizeof sql, "%s.%s", qs, qi);
    json_object_set_new(c->state, "index", json_string(sql));
    json_object_set_new(c->state, "table", json_string(PQgetvalue(r, 0, 2)));
    json_object_set_new(c->state, "definition", json_string(PQgetvalue(r, 0, 3)));
    json_object_set_new(c->state, "seqScans", json_integer(strtoll(PQgetvalue(r, 0, 4), NULL, 10)));
    if (fault_save(c)) goto out;
    snprintf(sql, sizeof sql, "DROP INDEX %s.%s", qs, qi);
    rc = mwf_pg_exec(c, pg, sql, 0, NULL);
out:
    PQclear(r);
    return rc;
}

static int index_inject(struct fault_ctx *c) { return mwf_pg_inject(c, NULL, index_do); }

/* The index is gone and its table is now read by sequential scans. */
static int index_took(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg)
{
    (void)s;
    (void)arg;
    const char *args[] = {json_string_value(json_object_get(c->state, "index"))};
    long long scans = 0;
    int gone = mwf_pg_bool(c, pg, "SELECT to_regclass($1) IS NULL", 1, args);
    if (gone != 1 || seq_scans(c, pg, json_string_value(json_object_get(c->state, "table")), &scans)) return 0;
    return scans > json_integer_value(json_object_get(c->state, "seqScans"));
}

static int index_verify(struct fault_ctx *c) { return mwf_pg_admin_do(c, c->target, NULL, index_took, NULL) == 1; }

static int index_undo(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg)
{
    (void)s;
    (void)arg;
    const char *args[] = {json_string_value(json_object_get(c->state, "index"))};
    int gone = mwf_pg_bool(c, pg, "SELECT to_regclass($1) IS NULL", 1, args);
    if (gone != 1) return gone;
    return mwf_pg_exec(c, pg, json_string_value(json_object_get(c->state, "definition")), 0, NULL); /* as it was */
}

static int index_recover(struct fault_ctx *c)
{
    if (!json_object_get(c->state, "definition")) return 0;
    return mwf_pg_recover(c, NULL, index_undo);
}

/* A valid index of the same shape (table, method, columns, predicate) is
 * on the table again, under any name; a unique one serves as well. */
static int index_check(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg)
{
    (void)s;
    (void)arg;
    const char *want = mwf_index_shape(json_string_value(json_object_get(c->state, "definition")));
    const char *args[] = {json_string_value(json_object_get(c->state, "table"))};
    PGresult *r = mwf_pg_query(c, pg,
                               "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = to_regclass($1)"
                               " AND indisvalid AND indisready",
                               1, args);
    if (!r) return -1;
    int found = 0;
    for (int i = 0; i < PQntuples(r) && want && !found; i++) {
        const char *shape = mwf_index_shape(PQgetvalue(r, i, 0));
        found = shape && !strcmp(shape, want);
    }
    PQclear(r);
    return found;
}

static int index_fixed(struct fault_ctx *c)
{
    if (!json_object_get(c->state, "definition")) return incomplete(c);
    return mwf_pg_fixed(c, NULL, index_check, NULL);
}

static const struct fault_param index_params[] = {
    {"index", FP_STRING, 0, 128, "auto", NULL, "the index (or schema.index) to drop; auto: the most used one"},
    {0},
};

const struct fault_type mw_db_drop_index = {
    .id = "db-drop-index",
    .layer = FAULT_MIDDLEWARE,
    .cls = FAULT_OPERATION_ERROR,
    .target = FT_POSTGRES,
    .resource = "db-index",
    .summary = "an index the hot queries use is dropped (DROP INDEX)",
    .symptoms = "the queries on its table turn into sequential scans: their latency and the store's CPU go up, the "
                "services' p99 latency rises (timeouts under load); no errors at first; pg_stat_user_tables shows "
                "seq_scan growing, \\d shows the index missing",
    .params = index_params,
    .verify_ms = 10000,
    .inject = index_inject,
    .verify = index_verify,
    .recover = index_recover,
    .fixed = index_fixed,
};

/* ---- db-lock ------------------------------------------------------------------------------------- */

static const char SQL_HOT_TABLE[] =
    "SELECT quote_ident(schemaname) || '.' || quote_ident(relname) FROM pg_stat_user_tables"
    " WHERE $1 = 'auto' OR relname = $1 OR schemaname || '.' || relname = $1"
    " ORDER BY n_tup_ins + n_tup_upd + n_tup_del DESC, seq_scan + coalesce(idx_scan, 0) DESC, relname LIMIT 1";

/* Choose the table now (the run body locks it). */
static int lock_do(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg)
{
    (void)arg;
    const char *args[] = {fault_param_str(c, "table")};
    PGresult *r = mwf_pg_query(c, pg, SQL_HOT_TABLE, 1, args);
    int rc = -1;
    if (r && !PQntuples(r)) snprintf(c->err, sizeof c->err, "no table %s in database %s", args[0], mwf_pg_app_db(s));
    if (r && PQntuples(r)) {
        json_object_set_new(c->state, "table", json_string(PQgetvalue(r, 0, 0)));
        rc = fault_save(c);
    }
    PQclear(r);
    return rc;
}

static int lock_inject(struct fault_ctx *c) { return mwf_pg_admin_do(c, c->target, NULL, lock_do, NULL); }

/* The long transaction: BEGIN; LOCK TABLE; then nothing, holding the
 * session open until the fault is recovered (the engine ends this process:
 * its connection closes and the server rolls the transaction back). */
static int lock_run(struct fault_ctx *c)
{
    const char *table = json_string_value(json_object_get(c->state, "table"));
    char sql[600];
    snprintf(sql, sizeof sql, "LOCK TABLE %s IN %s MODE", table ? table : "",
             strcmp(fault_param_str(c, "mode"), "access-exclusive") ? "EXCLUSIVE" : "ACCESS EXCLUSIVE");
    PGconn *pg = NULL;
    while (fault_still_active(c)) {
        if (pg && PQstatus(pg) == CONNECTION_OK) {
            /* Held: poll the session too, so a pg_terminate_backend is noticed. */
            PQconsumeInput(pg);
            if (PQstatus(pg) != CONNECTION_OK || PQtransactionStatus(pg) != PQTRANS_INTRANS) {
                PQfinish(pg);
                return 0; /* someone ended the transaction: the lock is gone for good */
            }
            sleep_ms(200);
            continue;
        }
        struct mwf_store s;
        if (!mwf_store_find(c, c->target, "postgres", 5432, &s)) {
            pg = mwf_pg_admin(c, &s, NULL);
            mwf_store_free(&s);
        }
        if (pg && (mwf_pg_exec(c, pg, "BEGIN", 0, NULL) || mwf_pg_exec(c, pg, sql, 0, NULL))) {
            fprintf(stderr, "lock %s: %s (retrying)\n", table, c->err);
            PQfinish(pg);
            pg = NULL;
        }
        if (!pg) sleep_ms(300);
    }
    if (pg) PQfinish(pg);
    return 0;
}

/* Someone waits for the lock: writers are blocked. */
static int lock_took(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg)
{
    (void)s;
    (void)arg;
    const char *args[] = {json_string_value(json_object_get(c->state, "table"))};
    return mwf_pg_bool(c, pg,
                       "SELECT count(*) FILTER (WHERE granted) > 0 AND count(*) FILTER (WHERE NOT granted) > 0"
                       " FROM pg_locks WHERE locktype = 'relation' AND relation = to_regclass($1)",
                       1, args);
}

static int lock_verify(struct fault_ctx *c) { return mwf_pg_admin_do(c, c->target, NULL, lock_took, NULL) == 1; }

/* No session holds the table in a mode that blocks its writers
 * (EXCLUSIVE or ACCESS EXCLUSIVE: the services take neither) and none
 * waits for a lock on it — however the holder went (pg_terminate_backend,
 * pg_cancel_backend of its transaction, the client ended). */
static int lock_check(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg)
{
    (void)s;
    (void)arg;
    const char *args[] = {json_string_value(json_object_get(c->state, "table"))};
    return mwf_pg_bool(c, pg,
                       "SELECT NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'relation'"
                       " AND relation = to_regclass($1)"
                       " AND (NOT granted OR mode IN ('ExclusiveLock', 'AccessExclusiveLock')))",
                       1, args);
}

static int lock_fixed(struct fault_ctx *c)
{
    if (!json_object_get(c->state, "table")) return incomplete(c);
    return mwf_pg_fixed(c, NULL, lock_check, NULL);
}

/* The engine has ended the run body, and with it the transaction. */
static int nothing_to_undo(struct fault_ctx *c)
{
    (void)c;
    return 0;
}

static const struct fault_param lock_params[] = {
    {"table", FP_STRING, 0, 128, "auto", NULL, "the table to lock; auto: the most written one"},
    {"mode", FP_ENUM, 0, 0, "exclusive", "exclusive|access-exclusive",
     "exclusive blocks writers, access-exclusive readers too"},
    {0},
};

const struct fault_type mw_db_lock = {
    .id = "db-lock",
    .layer = FAULT_MIDDLEWARE,
    .cls = FAULT_OPERATION_ERROR,
    .target = FT_POSTGRES,
    .resource = "db-lock",
    .summary = "a long transaction holds a lock on a hot table (BEGIN; LOCK TABLE ...; left open)",
    .symptoms = "writes to the table hang until the services' statement timeout: \"pq: canceling statement due to "
                "statement timeout\", 5xx and high latency on the write paths while reads work; pg_stat_activity "
                "shows a session \"idle in transaction\" and others waiting on a Lock",
    .params = lock_params,
    .verify_ms = 15000,
    .inject = lock_inject,
    .verify = lock_verify,
    .recover = nothing_to_undo,
    .run = lock_run,
    .fixed = lock_fixed,
};

/* ---- db-connection-exhaustion ------------------------------------------------------------- */

static int exhaust_inject(struct fault_ctx *c)
{
    struct mwf_store s;
    if (mwf_store_find(c, c->target, "postgres", 5432, &s)) return -1;
    int rc = mwf_pg_app_user(c, &s) ? 0 : -1;
    mwf_store_free(&s);
    return rc;
}

/* A client that leaks: it opens connections as the application's role
 * until the server refuses, keeps them, and takes any slot that frees. */
static int exhaust_run(struct fault_ctx *c)
{
    long long max = fault_param_int(c, "connections");
    PGconn **held = calloc((size_t)max, sizeof *held);
    if (!held) return -1;
    long long n = 0;
    struct mwf_store s;
    int have_store = 0;
    while (fault_still_active(c)) {
        if (!have_store) have_store = !mwf_store_find(c, c->target, "postgres", 5432, &s);
        const char *user = have_store ? mwf_pg_app_user(c, &s) : NULL;
        for (int burst = 0; user && n < max && burst < 20; burst++) {
            PGconn *pg = mwf_pg_connect(c, &s, NULL, user, mwf_env(&s, "APP_DB_PASSWORD", ""));
            if (pg) {
                held[n++] = pg;
                continue;
            }
            /* Refused for want of a slot: the point. Anything else (the
             * pod moved, the server restarts): look the store up again. */
            if (!strstr(c->err, "connection slots") && !strstr(c->err, "too many clients")) {
                mwf_store_free(&s);
                have_store = 0;
            }
            break;
        }
        sleep_ms(200);
        /* Connections the server ended (restart, pg_terminate_backend) free their place. */
        for (long long i = 0; i < n; i++) {
            PQconsumeInput(held[i]);
            if (PQstatus(held[i]) != CONNECTION_OK) {
                PQfinish(held[i]);
                held[i--] = held[--n];
            }
        }
    }
    if (have_store) mwf_store_free(&s);
    for (long long i = 0; i < n; i++) PQfinish(held[i]);
    free(held);
    return 0;
}

static int exhaust_verify(struct fault_ctx *c) { return mwf_pg_target_app_fails(c, NULL, NO_SLOTS); }

/* The engine has ended the leaking client; the server ends its sessions
 * when it notices the closed sockets, a moment later. Recovered means the
 * slots are free: wait for that, and end any session of the client's kind
 * (the app's role, application_name psql) still there after 5 s. */
static int exhaust_undo(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg)
{
    (void)arg;
    const char *args[] = {mwf_pg_app_user(c, s)};
    if (!args[0]) return -1;
    for (int i = 0; i < 100; i++) {
        int gone = mwf_pg_bool(c, pg,
                               "SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = $1 AND application_name = 'psql'"
                               " AND pid <> pg_backend_pid()",
                               1, args);
        if (gone) return gone < 0 ? -1 : 0;
        if (i == 50 && mwf_pg_exec(c, pg,
                                   "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1"
                                   " AND application_name = 'psql' AND pid <> pg_backend_pid()",
                                   1, args))
            return -1;
        sleep_ms(100);
    }
    snprintf(c->err, sizeof c->err, "the leaked connections of %s are still open after 10 s", args[0]);
    return -1;
}

/* No running server (scaled to zero, deleted): no slot is held. */
static int exhaust_recover(struct fault_ctx *c)
{
    struct mwf_store s;
    if (mwf_store_find(c, c->target, "postgres", 5432, &s)) return 0;
    PGconn *pg = mwf_pg_admin(c, &s, NULL);
    int rc = pg ? exhaust_undo(c, &s, pg, NULL) : -1;
    if (pg) PQfinish(pg);
    mwf_store_free(&s);
    return rc;
}

static const struct fault_param exhaust_params[] = {
    {"connections", FP_INT, 1, 1000, "500", NULL, "the most connections it takes (it stops when refused)"},
    {0},
};

const struct fault_type mw_db_connection_exhaustion = {
    .id = "db-connection-exhaustion",
    .layer = FAULT_MIDDLEWARE,
    .cls = FAULT_RESOURCE_EXHAUSTION,
    .target = FT_POSTGRES,
    .resource = "db-connections",
    .summary = "a client opens connections as the application's role until the server has no slot left",
    .symptoms = "services that open a connection get \"pq: remaining connection slots are reserved for "
                "non-replication superuser connections\" or \"pq: sorry, too many clients already\" and answer 5xx; "
                "pg_stat_activity shows the role's connections at the limit, most of them idle",
    .params = exhaust_params,
    .verify_ms = 30000,
    .inject = exhaust_inject,
    .verify = exhaust_verify,
    .recover = exhaust_recover,
    .run = exhaust_run,
};
