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

/* When the store's env var `var` comes from a Secret key: 1 when every
 * other Deployment of the namespace that reads the same key (services,
 * not other stores) runs pods started with its current value (see
 * virt_pods_env_is), 0 when one does not, -1 with c->err on an API error.
 * 1 when var is not from a Secret. */
int mwf_secret_consumers_current(struct fault_ctx *c, const struct mwf_store *s, const char *var);

/* A store fault's change lives in its pod: in the data directory (an
 * emptyDir volume goes with the pod) or in the server's memory. Inject
 * records the pod (name, uid, and whether all its volumes go with it) in
 * c->state with mwf_note_pod, before fault_save; recover asks
 * mwf_pod_replaced first: 1 when that pod is gone (deleted, scaled away,
 * replaced by a rollout) and took the change with it — nothing is left to
 * undo, and a new pod's fresh store must not get the old one's settings.
 * 0 when it is still there, or nothing was recorded, or on an API error
 * (recover then tries, and reports what fails). */
void mwf_note_pod(struct fault_ctx *c, const struct mwf_store *s);
int mwf_pod_replaced(struct fault_ctx *c);

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
/* The pattern of nearly every PostgreSQL fault step: find a running pod
 * of Deployment `deployment` (its "postgres" port, else 5432), open a
 * superuser session on db (NULL: the application's database), call
 * fn(c, s, pg, arg), close both. fn's value, or -1 with c->err when there
 * is no pod or no session. */
typedef int (*mwf_pg_fn)(struct fault_ctx *c, const struct mwf_store *s, PGconn *pg, void *arg);
int mwf_pg_admin_do(struct fault_ctx *c, const char *deployment, const char *db, mwf_pg_fn fn, void *arg);
/* mwf_pg_admin_do on c->target for an inject (the pod noted first,
 * mwf_note_pod) and for a recover (nothing to do when the pod was
 * replaced since, mwf_pod_replaced). */
int mwf_pg_inject(struct fault_ctx *c, const char *db, mwf_pg_fn fn);
int mwf_pg_recover(struct fault_ctx *c, const char *db, mwf_pg_fn fn);
/* A mitigation check (fixed()) of a fault on c->target: 0 while the
 * target does not serve (scaled to zero, deleted, not Ready: never a
 * fix), else fn over a superuser session on db (mwf_pg_admin_do). */
int mwf_pg_fixed(struct fault_ctx *c, const char *db, mwf_pg_fn fn, void *arg);
/* A query whose first cell is a boolean: 1 true, 0 false or no row, -1 with c->err. */
int mwf_pg_bool(struct fault_ctx *c, PGconn *pg, const char *sql, int n, const char *const *params);
/* mwf_pg_app_fails on a running pod of c->target: a fault's verify. 0
 * also when the store cannot be found. */
int mwf_pg_target_app_fails(struct fault_ctx *c, const char *sql, const char *const *wants);
/* Run sql with text parameters; NULL with c->err (the server's message).
 * The result is the caller's (PQclear). */
PGresult *mwf_pg_query(struct fault_ctx *c, PGconn *pg, const char *sql, int n, const char *const *params);
/* Run sql, discard the result. 0 or -1. */
int mwf_pg_exec(struct fault_ctx *c, PGconn *pg, const char *sql, int n, const char *const *params);
/* A quoted identifier ("a""b") into out. 0, or -1 when it does not fit. */
int mwf_pg_ident(const char *name, char *out, size_t n);
/* A quoted literal ('it''s') into out. 0, or -1 when it does not fit. */
int mwf_pg_literal(const char *s, char *out, size_t n);

/* Give back a saved privilege list ("SELECT,UPDATE*", * = WITH GRANT
 * OPTION) on `kind name` (TABLE public.posts, DATABASE "x": already
 * quoted) to qrole (quoted): one GRANT for the plain ones, one WITH GRANT
 * OPTION. 0 or -1. */
int mwf_pg_grant(struct fault_ctx *c, PGconn *pg, const char *kind, const char *name, const char *privs,
                 const char *qrole);
/* Pure: 1 when the privilege list "SELECT,UPDATE*" (as the faults save
 * it; * = WITH GRANT OPTION) names priv. */
int mwf_priv_listed(const char *list, const char *priv);
/* Pure: what an index is, without its name: the part of its definition
 * (pg_indexes.indexdef) from " ON " — table, method, columns, predicate —
 * or NULL when def has none. Points into def. */
const char *mwf_index_shape(const char *def);
/* Pure: the connection slots ordinary roles need for the application's
 * pools to fit: twice the connections the application's role held before
 * the fault, and at least ten more than that, but never more than the
 * slots there were before the fault (slots_before <= 0: unknown). */
long long mwf_pg_slots_needed(long long slots_before, long long app_connections);

/* ---- redis and memcached ---------------------------------------------------------- */
/* A connection (1 s timeouts) or NULL with c->err. */
redisContext *mwf_redis(struct fault_ctx *c, const struct mwf_store *s);
/* A command; an error reply becomes NULL with its text in c->err. freeReplyObject the result. */
redisReply *mwf_redis_cmd(struct fault_ctx *c, redisContext *r, const char *fmt, ...);
/* One INFO field as an integer (-1 when missing). */
long long mwf_redis_info(struct fault_ctx *c, redisContext *r, const char *section, const char *field);
/* Pure: 1 when Redis takes writes with this configuration: no cap
 * (maxmemory 0), a policy that evicts any key (allkeys-*), or at least
 * MWF_REDIS_ROOM bytes free under the cap (volatile-* policies evict only
 * keys with a TTL: they may free nothing). */
#define MWF_REDIS_ROOM (8LL << 20)
int mwf_redis_writable(long long maxmemory, long long used, const char *policy);
/* Send one memcached text command and read its reply up to the line that
 * ends it ("END", "OK", ...); reply NUL-terminated in out. 0 or -1. */
int mwf_memcached(struct fault_ctx *c, const struct mwf_store *s, const char *cmd, char *out, size_t n);
/* One "STAT name value" of memcached's stats as an integer (-1 when missing). */
long long mwf_memcached_stat(struct fault_ctx *c, const struct mwf_store *s, const char *name);

#endif
