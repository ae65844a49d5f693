/* middleware_pg_role: db-drop-user — the application's role is dropped.
 *
 * A role that owns tables cannot simply be dropped ("role cannot be
 * dropped because some objects depend on it"); an operator who means to
 * drop it follows PostgreSQL's documented procedure, in every database:
 * REASSIGN OWNED BY role TO postgres; DROP OWNED BY role; then DROP ROLE.
 * The data stays (the tables now belong to postgres), the role is gone:
 * new connections fail authentication, and sessions already open lose
 * their privileges. That is what this fault does, after saving everything
 * needed to undo it: the role's attributes and SCRAM verifier (so the
 * password in the Secret works again), its memberships, and per database
 * what it owned and which privileges it held. Recover creates the role
 * again with the same verifier and gives back ownership and privileges.
 * What it cannot bring back is the role's OID: sessions opened before the
 * drop keep the old one and can do nothing; recover ends them (as a DBA
 * would), and the services' pools reconnect. Its mitigation check asks
 * the same of any fix: the role logs in with the Secret's password, can
 * use again what it owned or was granted, and no such session is left. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "faults/middleware.h"
#include "faults/mwf_util.h"

static const char SQL_ROLE[] =
    "SELECT rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls,"
    " rolconnlimit, rolvaliduntil::text, rolpassword FROM pg_authid WHERE rolname = $1";

/* Role memberships both ways: (group, member, admin). */
static const char SQL_MEMBERS[] =
    "SELECT g.rolname, m.rolname, a.admin_option FROM pg_auth_members a"
    " JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member"
    " WHERE g.rolname = $1 OR m.rolname = $1";

/* What it owns in the current database: (kind for ALTER ... OWNER, name,
 * to_reg function to test it exists). Sequences that belong to a column
 * follow their table. */
static const char SQL_OWNED[] =
    "WITH r AS (SELECT oid FROM pg_roles WHERE rolname = $1)"
    " SELECT 'SCHEMA', quote_ident(nspname), 'to_regnamespace' FROM pg_namespace WHERE nspowner = (SELECT oid FROM r)"
    " UNION ALL"
    " SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'"
    "   WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, quote_ident(n.nspname) || '.' || quote_ident(c.relname), 'to_regclass'"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relowner = (SELECT oid FROM r) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')"
    "   AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass"
    "     AND d.objid = c.oid AND d.deptype IN ('a', 'i')))"
    " UNION ALL"
    " SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,"
    "   p.oid::regprocedure::text, 'to_regprocedure' FROM pg_proc p WHERE p.proowner = (SELECT oid FROM r)"
    " UNION ALL"
    " SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, format_type(t.oid, NULL), 'to_regtype'"
    " FROM pg_type t WHERE t.typowner = (SELECT oid FROM r) AND t.typtype IN ('e', 'd')";

/* Privileges granted to it on what it does not own: (kind, name, "SELECT,UPDATE*"). */
static const char SQL_GRANTS[] =
    "WITH r AS (SELECT oid FROM pg_roles WHERE rolname = $1)"
    " SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, quote_ident(n.nspname) || '.' ||"
    "   quote_ident(c.relname), string_agg(p.privilege_type || CASE WHEN p.is_grantable THEN '*' ELSE '' END, ','"
    "   ORDER BY p.privilege_type)"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN LATERAL aclexplode(c.relacl) p"
    " WHERE p.grantee = (SELECT oid FROM r) AND c.relowner <> (SELECT oid FROM r) GROUP BY 1, 2"
    " UNION ALL"
    " SELECT 'SCHEMA', quote_ident(s.nspname), string_agg(p.privilege_type || CASE WHEN p.is_grantable THEN '*'"
    "   ELSE '' END, ',' ORDER BY p.privilege_type)"
    " FROM pg_namespace s CROSS JOIN LATERAL aclexplode(s.nspacl) p"
    " WHERE p.grantee = (SELECT oid FROM r) AND s.nspowner <> (SELECT oid FROM r) GROUP BY 1, 2";

/* Databases: (name, owned by it, its privileges there). */
static const char SQL_DATABASES[] =
    "WITH r AS (SELECT oid FROM pg_roles WHERE rolname = $1)"
    " SELECT d.datname, d.datdba = (SELECT oid FROM r), coalesce((SELECT string_agg(p.privilege_type ||"
    "   CASE WHEN p.is_grantable THEN '*' ELSE '' END, ',' ORDER BY p.privilege_type)"
    "   FROM aclexplode(d.datacl) p WHERE p.grantee = (SELECT oid FROM r) AND d.datdba <> (SELECT oid FROM r)), ''),"
    " d.datallowconn FROM pg_database d ORDER BY 1";

/* Whether role $1 holds privilege $3 on table $2 (a table dropped since needs none). */
static const char SQL_HAS_PRIVILEGE[] =
    "SELECT to_regclass($2) IS NULL OR has_table_privilege($1::name, $2::text, $3::text)";

/* Client sessions whose role no longer exists. */
static const char SQL_END_ORPHANS[] =
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend'"
    " AND usesysid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = usesysid)";

static json_t *rows_json(PGresult *r)
{
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *row = json_array();
        for (int j = 0; j < PQnfields(r); j++)
            json_array_append_new(row, PQgetisnull(r, i, j) ? json_null() : json_string(PQgetvalue(r, i, j)));
        json_array_append_new(a, row);
    }
    return a;
}

static const char *cell(const json_t *row, size_t i) { return json_string_value(json_array_get(row, i)); }

/* Everything recover needs, into c->state. 0 or -1. */
static int record_role(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, const char *role)
{
    const char *args[] = {role};
    PGresult *r = mwf_pg_query(c, pg, SQL_ROLE, 1, args);
    if (!r) return -1;
    if (!PQntuples(r)) {
        PQclear(r);
        snprintf(c->err, sizeof c->err, "role %s does not exist", role);
        return -1;
    }
    json_t *rows = rows_json(r);
    json_object_set(c->state, "attributes", json_array_get(rows, 0));
    json_decref(rows);
    PQclear(r);
    if (!(r = mwf_pg_query(c, pg, SQL_MEMBERS, 1, args))) return -1;
    json_object_set_new(c->state, "memberships", rows_json(r));
    PQclear(r);
    if (!(r = mwf_pg_query(c, pg, SQL_DATABASES, 1, args))) return -1;
    json_t *dbs = rows_json(r);
    PQclear(r);
    json_object_set_new(c->state, "databases", dbs);
    json_t *per = json_object();
    json_object_set_new(c->state, "perDatabase", per);
    size_t i;
    json_t *row;
    json_array_foreach(dbs, i, row)
    {
        if (strcmp(cell(row, 3), "t")) continue;
        PGconn *db = mwf_pg_admin(c, s, cell(row, 0));
        if (!db) return -1;
        PGresult *o = mwf_pg_query(c, db, SQL_OWNED, 1, args);
        PGresult *g = o ? mwf_pg_query(c, db, SQL_GRANTS, 1, args) : NULL;
        if (g) json_object_set_new(per, cell(row, 0), json_pack("{s:o, s:o}", "owned", rows_json(o), "grants", rows_json(g)));
        PQclear(o);
        PQclear(g);
        PQfinish(db);
        if (!g) return -1;
    }
    return 0;
}

static int drop_do(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg)
{
    (void)arg;
    const char *role = mwf_pg_app_user(c, s);
    char qrole[256], qadmin[256], sql[800];
    if (!role || mwf_pg_ident(role, qrole, sizeof qrole) || mwf_pg_ident(mwf_pg_admin_user(s), qadmin, sizeof qadmin))
        return -1;
    json_object_set_new(c->state, "role", json_string(role));
    if (record_role(c, s, pg, role) || fault_save(c)) return -1;
    /* The documented way to drop a role that owns objects, database by database. */
    const char *dbname;
    json_t *v;
    json_object_foreach(json_object_get(c->state, "perDatabase"), dbname, v)
    {
        PGconn *db = mwf_pg_admin(c, s, dbname);
        snprintf(sql, sizeof sql, "REASSIGN OWNED BY %s TO %s", qrole, qadmin);
        int bad = !db || mwf_pg_exec(c, db, sql, 0, NULL);
        snprintf(sql, sizeof sql, "DROP OWNED BY %s", qrole);
        bad = bad || mwf_pg_exec(c, db, sql, 0, NULL);
        if (db) PQfinish(db);
        if (bad) return -1;
    }
    snprintf(sql, sizeof sql, "DROP ROLE %s", qrole);
    return mwf_pg_exec(c, pg, sql, 0, NULL);
}

static int drop_inject(struct fault_ctx *c) { return mwf_pg_inject(c, "postgres", drop_do); }

static int drop_verify(struct fault_ctx *c)
{
    static const char *const auth_failed[] = {"password authentication failed", NULL};
    return mwf_pg_target_app_fails(c, NULL, auth_failed);
}

/* CREATE ROLE as it was (when it does not exist) and its memberships. */
static int create_role(struct fault_ctx *c, PGconn *pg, const char *role, const char *qrole)
{
    const char *args[] = {role};
    PGresult *r = mwf_pg_query(c, pg, "SELECT 1 FROM pg_roles WHERE rolname = $1", 1, args);
    if (!r) return -1;
    int exists = PQntuples(r) > 0;
    PQclear(r);
    const json_t *a = json_object_get(c->state, "attributes");
    char sql[2048], lit[1024];
    if (!exists) {
        static const char *const flags[] = {"SUPERUSER", "INHERIT", "CREATEROLE", "CREATEDB", "LOGIN", "REPLICATION",
                                            "BYPASSRLS"};
        int n = snprintf(sql, sizeof sql, "CREATE ROLE %s WITH", qrole);
        for (size_t i = 0; i < 7; i++)
            n += snprintf(sql + n, sizeof sql - (size_t)n, " %s%s", strcmp(cell(a, i), "t") ? "NO" : "", flags[i]);
        n += snprintf(sql + n, sizeof sql - (size_t)n, " CONNECTION LIMIT %ld", strtol(cell(a, 7), NULL, 10));
        if (cell(a, 8) && !mwf_pg_literal(cell(a, 8), lit, sizeof lit))
            n += snprintf(sql + n, sizeof sql - (size_t)n, " VALID UNTIL %s", lit);
        if (cell(a, 9) && !mwf_pg_literal(cell(a, 9), lit, sizeof lit))
            n += snprintf(sql + n, sizeof sql - (size_t)n, " PASSWORD %s", lit); /* the verifier, as it was */
        if ((size_t)n >= sizeof sql) {
            snprintf(c->err, sizeof c->err, "CREATE ROLE statement too long");
            return -1;
        }
        if (mwf_pg_exec(c, pg, sql, 0, NULL)) return -1;
    }
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(c->state, "memberships"), i, m)
    {
        char qg[256], qm[256];
        if (mwf_pg_ident(cell(m, 0), qg, sizeof qg) || mwf_pg_ident(cell(m, 1), qm, sizeof qm)) continue;
        const char *other[] = {strcmp(cell(m, 0), role) ? cell(m, 0) : cell(m, 1)};
        r = mwf_pg_query(c, pg, "SELECT 1 FROM pg_roles WHERE rolname = $1", 1, other);
        int there = r && PQntuples(r) > 0;
        PQclear(r);
        if (!there) continue; /* the other role went away since */
        snprintf(sql, sizeof sql, "GRANT %s TO %s%s", qg, qm, strcmp(cell(m, 2), "t") ? "" : " WITH ADMIN OPTION");
        if (mwf_pg_exec(c, pg, sql, 0, NULL)) return -1;
    }
    return 0;
}

static int give_back(struct fault_ctx *c, const struct mwf_store *s, const char *dbname, const json_t *per,
                     const char *qrole)
{
    PGconn *db = mwf_pg_admin(c, s, dbname);
    if (!db) return -1;
    int rc = -1;
    size_t i;
    json_t *o;
    char sql[1024];
    json_array_foreach(json_object_get(per, "owned"), i, o)
    {
        char q[1024];
        snprintf(q, sizeof q, "SELECT %s($1) IS NOT NULL", cell(o, 2)); /* one of four names from SQL_OWNED */
        const char *args[] = {cell(o, 1)};
        PGresult *r = mwf_pg_query(c, db, q, 1, args);
        if (!r) goto out;
        int exists = PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
        if (!exists) continue;
        snprintf(sql, sizeof sql, "ALTER %s %s OWNER TO %s", cell(o, 0), cell(o, 1), qrole);
        if (mwf_pg_exec(c, db, sql, 0, NULL)) goto out;
    }
    json_array_foreach(json_object_get(per, "grants"), i, o)
    {
        const char *args[] = {cell(o, 1)};
        PGresult *r = mwf_pg_query(
            c, db, strcmp(cell(o, 0), "SCHEMA") ? "SELECT to_regclass($1) IS NOT NULL" : "SELECT to_regnamespace($1) IS NOT NULL",
            1, args);
        if (!r) goto out;
        int exists = PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
        if (exists && mwf_pg_grant(c, db, cell(o, 0), cell(o, 1), cell(o, 2), qrole)) goto out;
    }
    rc = 0;
out:
    PQfinish(db);
    return rc;
}

static int drop_undo(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg)
{
    (void)arg;
    const char *role = json_string_value(json_object_get(c->state, "role"));
    char qrole[256], qdb[256], sql[1024];
    if (mwf_pg_ident(role, qrole, sizeof qrole) || create_role(c, pg, role, qrole)) return -1;
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(c->state, "databases"), i, d)
    {
        const char *args[] = {cell(d, 0)};
        int there = mwf_pg_bool(c, pg, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", 1, args);
        if (there < 0) return -1;
        if (!there || mwf_pg_ident(cell(d, 0), qdb, sizeof qdb)) continue;
        if (!strcmp(cell(d, 1), "t")) {
            snprintf(sql, sizeof sql, "ALTER DATABASE %s OWNER TO %s", qdb, qrole);
            if (mwf_pg_exec(c, pg, sql, 0, NULL)) return -1;
        }
        if (cell(d, 2)[0] && mwf_pg_grant(c, pg, "DATABASE", qdb, cell(d, 2), qrole)) return -1;
    }
    const char *dbname;
    json_t *per;
    json_object_foreach(json_object_get(c->state, "perDatabase"), dbname, per)
    {
        if (give_back(c, s, dbname, per, qrole)) return -1;
    }
    /* Sessions opened before the drop still run as the old role's OID,
     * which no role has any more: nothing works in them. End them, so the
     * services' pools reconnect as the role that exists again. */
    return mwf_pg_exec(c, pg, SQL_END_ORPHANS, 0, NULL);
}

static int drop_recover(struct fault_ctx *c)
{
    if (!json_object_get(c->state, "role") || !json_object_get(c->state, "perDatabase"))
        return 0; /* nothing was changed */
    return mwf_pg_recover(c, "postgres", drop_undo);
}

/* ---- its mitigation check ---------------------------------------------------------------------- */

/* What the role must be able to do again on a table it owned (the
 * sequences of its columns included) or was granted. */
static int table_usable(struct fault_ctx *c, PGconn *db, const char *role, const char *table, const char *privs)
{
    static const char *const dml[] = {"SELECT", "INSERT", "UPDATE", "DELETE"};
    for (size_t k = 0; k < sizeof dml / sizeof dml[0]; k++) {
        if (privs && !mwf_priv_listed(privs, dml[k])) continue;
        const char *args[] = {role, table, dml[k]};
        int held = mwf_pg_bool(c, db, SQL_HAS_PRIVILEGE, 3, args);
        if (held != 1) return held;
    }
    if (privs) return 1;
    const char *args[] = {role, table};
    return mwf_pg_bool(c, db,
                       "SELECT coalesce(bool_and(has_sequence_privilege($1::name, d.objid, 'USAGE')), true)"
                       " FROM pg_depend d JOIN pg_class q ON q.oid = d.objid AND q.relkind = 'S'"
                       " WHERE d.classid = 'pg_class'::regclass AND d.refobjid = to_regclass($2)"
                       "   AND d.deptype IN ('a', 'i')",
                       2, args);
}

/* In one database: the tables (and their sequences) usable again, and,
 * where it owned the database, CREATE on the schemas the database's owner
 * owns (public) as an owner has. */
static int database_usable(struct fault_ctx *c, const struct mwf_store *s, const char *dbname, const json_t *per,
                           int owned_db)
{
    const char *role = json_string_value(json_object_get(c->state, "role"));
    PGconn *db = mwf_pg_admin(c, s, dbname);
    if (!db) return -1;
    int ok = 1;
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(per, "owned"), i, o)
    {
        if (ok == 1 && !strcmp(cell(o, 0), "TABLE")) ok = table_usable(c, db, role, cell(o, 1), NULL);
    }
    json_array_foreach(json_object_get(per, "grants"), i, o)
    {
        if (ok == 1 && !strcmp(cell(o, 0), "TABLE")) ok = table_usable(c, db, role, cell(o, 1), cell(o, 2));
    }
    const char *args[] = {role};
    if (ok == 1 && owned_db)
        ok = mwf_pg_bool(c, db,
                         "SELECT coalesce(bool_and(has_schema_privilege($1::name, oid, 'CREATE')), true)"
                         " FROM pg_namespace WHERE nspowner = 'pg_database_owner'::regrole",
                         1, args);
    PQfinish(db);
    return ok;
}

/* The role is back however it was made again: it logs in with the
 * password its Secret holds, can use in every database what it owned or
 * was granted there, and no session of the dropped role is left (those
 * can do nothing: the services' pools must open new ones). */
static int drop_check(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg)
{
    (void)arg;
    const char *role = json_string_value(json_object_get(c->state, "role"));
    c->err[0] = '\0';
    PGconn *app = mwf_pg_connect(c, s, NULL, role, mwf_env(s, "APP_DB_PASSWORD", ""));
    if (!app) return strstr(c->err, "password authentication failed") ? 0 : -1;
    PQfinish(app);
    int orphans = mwf_pg_bool(c, pg,
                              "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'client backend'"
                              " AND usesysid IS NOT NULL"
                              " AND NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = usesysid))",
                              0, NULL);
    if (orphans != 0) return orphans < 0 ? -1 : 0;
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(c->state, "databases"), i, d)
    {
        const json_t *per = json_object_get(json_object_get(c->state, "perDatabase"), cell(d, 0));
        if (!per) continue; /* no connections allowed there */
        const char *args[] = {cell(d, 0)};
        int there = mwf_pg_bool(c, pg, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", 1, args);
        if (there == 1) there = database_usable(c, s, cell(d, 0), per, !strcmp(cell(d, 1), "t"));
        else if (there == 0) there = 1; /* dropped since: nothing to use there */
        if (there != 1) return there;
    }
    return 1;
}

static int drop_fixed(struct fault_ctx *c)
{
    if (!json_object_get(c->state, "perDatabase")) {
        snprintf(c->err, sizeof c->err, "the fault's record holds nothing to check: its inject did not get to act");
        return -1;
    }
    return mwf_pg_fixed(c, "postgres", drop_check, NULL);
}

static const struct fault_param no_params[] = {{0}};

const struct fault_type mw_db_drop_user = {
    .id = "db-drop-user",
    .layer = FAULT_MIDDLEWARE,
    .cls = FAULT_AUTHENTICATION,
    .target = FT_POSTGRES,
    .resource = "db-role",
    .summary = "the application's role is dropped (REASSIGN OWNED to postgres, DROP OWNED, DROP ROLE); the data "
               "stays, owned by postgres",
    .symptoms = "new connections fail with \"pq: password authentication failed for user ...\" (the store's log "
                "adds \"Role ... does not exist\"); pooled connections get \"permission denied for table ...\"; "
                "services answer 5xx; \\du no longer lists the role",
    .params = no_params,
    .verify_ms = 5000,
    .inject = drop_inject,
    .verify = drop_verify,
    .recover = drop_recover,
    .fixed = drop_fixed,
};
