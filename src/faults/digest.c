/* digest: row counts and checksums of a namespace's PostgreSQL data (see
 * digest.h). The md5 is over each row's text form, in primary-key order
 * (in the order of the rows' text where a table has no primary key), so
 * the same data gives the same digest whatever its physical layout: a
 * store restarted, crash-recovered or vacuumed digests the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "faults/digest.h"
#include "faults/mwf_util.h"

static const char SQL_TABLES[] =
    "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), n.nspname || '.' || c.relname,"
    " coalesce((SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord)"
    "   FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)"
    "   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
    "   WHERE i.indrelid = c.oid AND i.indisprimary), '')"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition"
    "   AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
    "   AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'"
    " ORDER BY 2";

/* Is this Deployment a PostgreSQL store? Its program, or its image when
 * the program is a shell that starts it. */
static int is_postgres(const json_t *deploy)
{
    const json_t *ctr = json_array_get(json_path(deploy, "spec.template.spec.containers"), 0);
    const char *prog = json_string_value(json_array_get(json_object_get(ctr, "command"), 0));
    if (!prog) prog = json_string_value(json_array_get(json_object_get(ctr, "args"), 0));
    const char *base = prog ? (strrchr(prog, '/') ? strrchr(prog, '/') + 1 : prog) : "";
    if (!strcmp(base, "aiopslab-postgres") || !strcmp(base, "postgres")) return 1;
    const char *image = json_path_str(ctr, "image", "");
    return !strncmp(image, "postgres:", 9) || !strcmp(image, "postgres");
}

/* {"SCHEMA.TABLE": {rows, md5}} of one database, in one snapshot. */
static json_t *digest_db(struct fault_ctx *c, const struct mwf_store *s, const char *db)
{
    PGconn *pg = mwf_pg_admin(c, s, db);
    if (!pg) return NULL;
    json_t *out = NULL;
    PGresult *tabs = NULL;
    if (mwf_pg_exec(c, pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL)) goto out;
    if (!(tabs = mwf_pg_query(c, pg, SQL_TABLES, 0, NULL))) goto out;
    json_t *res = json_object();
    for (int i = 0; i < PQntuples(tabs); i++) {
        const char *qname = PQgetvalue(tabs, i, 0), *name = PQgetvalue(tabs, i, 1), *pk = PQgetvalue(tabs, i, 2);
        char sql[2048];
        snprintf(sql, sizeof sql,
                 "SELECT count(*), md5(coalesce(string_agg(md5(t::text), '' ORDER BY %s), '')) FROM %s AS t",
                 pk[0] ? pk : "t::text", qname);
        PGresult *r = mwf_pg_query(c, pg, sql, 0, NULL);
        if (!r) {
            char e[sizeof c->err];
            snprintf(e, sizeof e, "%s", c->err);
            snprintf(c->err, sizeof c->err, "%s/%s table %s: %s", s->deployment, db, name, e);
            json_decref(res);
            goto out;
        }
        json_object_set_new(res, name,
                            json_pack("{s:I, s:s}", "rows", (json_int_t)strtoll(PQgetvalue(r, 0, 0), NULL, 10),
                                      "md5", PQgetvalue(r, 0, 1)));
        PQclear(r);
    }
    out = res;
out:
    PQclear(tabs);
    PQfinish(pg);
    return out;
}

static json_t *digest_store(struct fault_ctx *c, const char *deployment)
{
    struct mwf_store s;
    if (mwf_store_find(c, deployment, "postgres", 5432, &s)) return NULL;
    json_t *out = NULL;
    PGconn *pg = mwf_pg_admin(c, &s, "postgres");
    PGresult *dbs = pg ? mwf_pg_query(c, pg, "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate"
                                             " ORDER BY 1", 0, NULL)
                       : NULL;
    /* The cluster's identity, so that a store that was recreated (its pod
     * replaced with an empty volume, then seeded again) is told from one
     * that kept its data even when the workload has since refilled its
     * tables past their old counts: initdb's system identifier, and the
     * incarnation aiopslab-postgres writes on the database "postgres" (its
     * clusters are copies of one template, sharing an identifier). */
    PGresult *id = dbs ? mwf_pg_query(c, pg,
                                      "SELECT system_identifier::text || coalesce(' ' || shobj_description(d.oid, "
                                      "'pg_database'), '') FROM pg_control_system(), pg_database d "
                                      "WHERE d.datname = 'postgres'",
                                      0, NULL)
                       : NULL;
    if (dbs && id && PQntuples(id) == 1) {
        json_t *res = json_pack("{s:s}", "identity", PQgetvalue(id, 0, 0));
        for (int i = 0; res && i < PQntuples(dbs); i++) {
            json_t *d = digest_db(c, &s, PQgetvalue(dbs, i, 0));
            if (d) json_object_set_new(res, PQgetvalue(dbs, i, 0), d);
            else json_decref(res), res = NULL;
        }
        out = res;
    }
    PQclear(id);
    PQclear(dbs);
    if (pg) PQfinish(pg);
    mwf_store_free(&s);
    return out;
}

json_t *fault_digest(const struct lab *lab, const char *ns, char *err, size_t errlen)
{
    struct fault_ctx c = {.lab = lab, .ns = ns};
    json_t *req = json_pack("{s:s, s:s, s:s}", "op", "get", "kind", "Deployment", "namespace", ns);
    json_t *reply = NULL;
    int rc = fault_call(&c, req, &reply);
    json_decref(req);
    if (rc) {
        snprintf(err, errlen, "%s", c.err);
        return NULL;
    }
    json_t *stores = json_object();
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(reply, "items"), i, d)
    {
        if (!is_postgres(d)) continue;
        const char *name = json_path_str(d, "metadata.name", "");
        json_t *one = digest_store(&c, name);
        if (!one) {
            snprintf(err, errlen, "%s", c.err);
            json_decref(stores);
            stores = NULL;
            break;
        }
        json_object_set_new(stores, name, one);
    }
    json_decref(reply);
    return stores ? json_pack("{s:s, s:o}", "namespace", ns, "stores", stores) : NULL;
}
