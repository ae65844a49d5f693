/* mwf_util: how the middleware faults and the data digest reach a store —
 * the way a DBA would: the store's pod IP and port from its Deployment's
 * pods, the credentials from the Deployment's env (Secrets and ConfigMaps
 * resolved as the kubelet resolves them), then a real client session
 * (libpq, hiredis, memcached's text protocol).
 *
 * Every function that can fail returns 0 / a pointer, or -1 / NULL with
 * c->err set. c only needs lab and ns (the digest builds such a context).
 */
#ifndef FAULTS_MWF_UTIL_H
#define FAULTS_MWF_UTIL_H
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <sys/types.h>

#include "faults/fault.h"

/* One running pod of a store Deployment. */
struct mwf_store {
    char deployment[256];
    char pod[256];
    char ip[64];
    int port;
    json_t *podobj; /* the pod object */
    json_t *env;    /* the first container's env: name -> value */
};

/* Find a Running pod of the Deployment with an IP, its port (the first
 * container's containerPort named port_name, else its first, else dflt)
 * and its resolved env. Free with mwf_store_free. */
int mwf_store_find(struct fault_ctx *c, const char *deployment, const char *port_name, int dflt, struct mwf_store *s);
void mwf_store_free(struct mwf_store *s);
const char *mwf_env(const struct mwf_store *s, const char *name, const char *dflt);

/* The pid (and start time) of the store's server process inside the pod:
 * the topmost process named comm in the container's process tree (the
 * postmaster, not a backend; redis-server; memcached). 0 when none. */
pid_t mwf_server_pid(struct fault_ctx *c, const struct mwf_store *s, const char *comm, uint64_t *start);

/* ---- PostgreSQL ------------------------------------------------------------- */
/* The superuser (POSTGRES_USER, default postgres; POSTGRES_PASSWORD). */
const char *mwf_pg_admin_user(const struct mwf_store *s);
/* The application's role (APP_DB_USER) or NULL with c->err. */
const char *mwf_pg_app_user(struct fault_ctx *c, const struct mwf_store *s);
/* The application's database (POSTGRES_DB, default the superuser's name). */
const char *mwf_pg_app_db(const struct mwf_store *s);
/* A session as the superuser on db (NULL: the app's database). statement
 * and lock timeouts keep a fault's own statements from hanging. */
PGconn *mwf_pg_admin(struct fault_ctx *c, const struct mwf_store *s, const char *db);
/* A session as user/password, as a service would open one; NULL with the
 * server's message in c->err. */
PGconn *mwf_pg_connect(struct fault_ctx *c, const struct mwf_store *s, const char *db, const char *user,
                       const char *password);
/* What a service sees: connect as the application's role with its
 * password (APP_DB_PASSWORD) to its database and, if sql is not NULL, run
 * it. 1 when either fails with a message containing one of wants
 * (NULL-terminated), 0 when not (c->err holds any other error). */
int mwf_pg_app_fails(struct fault_ctx *c, const struct mwf_store *s, const char *sql, const char *const *wants);
/* Run sql with text parameters; NULL with c->err (the server's message).
 * The result is the caller's (PQclear). */
PGresult *mwf_pg_query(struct fault_ctx *c, PGconn *pg, const char *sql, int n, const char *const *params);
/* Run sql, discard the result. 0 or -1. */
int mwf_pg_exec(struct fault_ctx *c, PGconn *pg, const char *sql, int n, const char *const *params);
/* A quoted identifier ("a""b") into out. 0, or -1 when it does not fit. */
int mwf_pg_ident(const char *name, char *out, size_t n);
/* A quoted literal ('it''s') into out. 0, or -1 when it does not fit. */
int mwf_pg_literal(const char *s, char *out, size_t n);

/* ---- redis and memcached ---------------------------------------------------------- */
/* A connection (1 s timeouts) or NULL with c->err. */
redisContext *mwf_redis(struct fault_ctx *c, const struct mwf_store *s);
/* A command; an error reply becomes NULL with its text in c->err. freeReplyObject the result. */
redisReply *mwf_redis_cmd(struct fault_ctx *c, redisContext *r, const char *fmt, ...);
/* One INFO field as an integer (-1 when missing). */
long long mwf_redis_info(struct fault_ctx *c, redisContext *r, const char *section, const char *field);
/* Send one memcached text command and read its reply up to the line that
 * ends it ("END", "OK", ...); reply NUL-terminated in out. 0 or -1. */
int mwf_memcached(struct fault_ctx *c, const struct mwf_store *s, const char *cmd, char *out, size_t n);
/* One "STAT name value" of memcached's stats as an integer (-1 when missing). */
long long mwf_memcached_stat(struct fault_ctx *c, const struct mwf_store *s, const char *name);

#endif
