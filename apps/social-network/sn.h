/* sn.h: what the SocialNetwork services share.
 *
 * SocialNetwork is DeathStarBench's social network written on the service
 * kit: one program, `social-network SERVICE`, whose roles are the DSB
 * services (compose-post-service, text-service, ..., nginx-thrift). Each
 * service file exports one setup function that registers its handlers and
 * store pools (and, for the services that own seed data, loads it) before
 * main.c hands control to kit_serve.
 *
 * Services talk HTTP/JSON through the mesh (kit_call); the paths are DSB's
 * Thrift method names (POST /ComposePost, /ReadHomeTimeline, ...). Ids go
 * between services as JSON integers or decimal strings (both accepted);
 * the posts they return carry ids as strings, as DSB's front end does.
 */
#ifndef SN_H
#define SN_H
#include "kit.h"
#include <stdint.h>

#define SN_UNUSED __attribute__((unused)) /* handler arguments most handlers ignore */
#define SN_MAX_USER_ID 9007199254740991LL /* 2^53-1: safe in every JSON reader */
#define SN_USERS 962                       /* seed users username_1..username_962 */
#define SN_SEED_EDGES 18812                /* seed friendships (socfb-Reed98's count) */
#define SN_MAX_TIMELINE 100                /* largest stop-start of one timeline read */
#define SN_MAX_TEXT 4096                   /* longest post text */
#define SN_MAX_LIST 64                     /* mentions, urls, media per post */
#define SN_VERSION "1.0.0"                 /* the release the manifests run (APP_VERSION) */

/* One setup function per service: register handlers and pools; 0 or -1. */
int sn_compose_post_setup(struct kit *k);
int sn_text_setup(struct kit *k);
int sn_user_mention_setup(struct kit *k);
int sn_url_shorten_setup(struct kit *k);
int sn_media_setup(struct kit *k);
int sn_unique_id_setup(struct kit *k);
int sn_user_setup(struct kit *k);
int sn_post_storage_setup(struct kit *k);
int sn_user_timeline_setup(struct kit *k);
int sn_home_timeline_setup(struct kit *k);
int sn_social_graph_setup(struct kit *k);
int sn_nginx_thrift_setup(struct kit *k);

/* ---- values ---- */

/* A decimal integer in [min, max] from the whole of s: 0, or -1. */
int sn_parse_i64(const char *s, long long min, long long max, long long *out);
/* o[key] as an integer in [min, max], given as a JSON integer or a decimal
 * string: 0, or -1. */
int sn_get_i64(const json_t *o, const char *key, long long min, long long max, long long *out);
/* The same for a value itself (e.g. a list's element). */
int sn_value_i64(const json_t *v, long long min, long long max, long long *out);
/* o[key] as a string (borrowed) or NULL. */
const char *sn_get_str(const json_t *o, const char *key);
/* A username DSB-style: 1..64 of [A-Za-z0-9_.-] (so it is also a valid
 * memcached key part). */
int sn_valid_username(const char *s);
/* A JSON string holding the decimal id. */
json_t *sn_id_json(long long id);
/* 64-bit FNV-1a then a splitmix finaliser: stable across runs and hosts. */
uint64_t sn_hash64(const void *data, size_t len);
/* The PostgreSQL array literal {1,2,3} of ids (malloc'd) or NULL. */
char *sn_pg_int_array(const long long *ids, size_t n);

/* ---- calls and errors ---- */

/* POST path to service with body (stolen, may be NULL). Returns the HTTP
 * status with the reply (new reference, may be NULL) in *reply; 0 for a
 * transport failure. When the status is not 2xx, err holds the reason:
 * the callee's {"error"} text or the transport error. */
int sn_call(struct kit_req *r, const char *service, const char *path, json_t *body, json_t **reply, char *err,
            size_t errlen);
/* sn_call with the reply as bytes (kit_call_raw): *reply malloc'd (caller
 * frees, may be NULL) and *len; err as sn_call sets it (the error body is
 * parsed only when the status is not 2xx). */
int sn_call_raw(struct kit_req *r, const char *service, const char *path, json_t *body, char **reply, size_t *len,
                char *err, size_t errlen);
/* The list of a {"posts":[...]} reply as the services write it (compact,
 * "posts" its only key; post-storage-service, home- and user-timeline-
 * service): *list points at its '[' within raw, *list_len up to its ']'.
 * 0, or -1 when raw is not of that form (then parse it). */
int sn_posts_slice(const char *raw, size_t len, const char **list, size_t *list_len);
/* Answer a failed downstream call: its 4xx status and text unchanged, else
 * 500 "WHAT: reason". */
void sn_reply_downstream(struct kit_req *r, int status, const char *what, const char *err);
/* The request's JSON body as an object, or NULL after answering 400. */
json_t *sn_body(struct kit_req *r);

/* start and stop of a timeline read (0 <= start < stop, stop - start <=
 * SN_MAX_TIMELINE) and user_id from body: 0, or -1 after answering 400. */
int sn_timeline_args(struct kit_req *r, const json_t *body, long long *user_id, long long *start, long long *stop);
/* Answer {"posts": [...]} for the post ids (decimal strings) through
 * post-storage-service; when there are none, a user unknown to
 * user-service gets 404. */
void sn_reply_posts(struct kit_req *r, long long user_id, const char *const *ids, size_t n);

/* ---- stores ---- */

/* Point the kit's <prefix>_HOST/_PORT at a Service's ClusterIP (from
 * <SERVICE>_SERVICE_HOST/_PORT) unless the manifest set them itself. */
void sn_store_env(const char *prefix, const char *service);
/* A service's database: the kit's pool plus what it takes to (re)create
 * its tables. */
struct sn_db;
/* Create the schema and load the seed once, before the service serves:
 * connects directly with libpq (same <prefix>_* variables as kit_pg_new),
 * retrying until the database answers; runs schema (may be NULL) and then
 * seed (may be NULL) in one transaction under an advisory lock, so that
 * replicas starting together load it exactly once. seed must itself check
 * that its tables are empty. Then opens the kit's pool. */
struct sn_db *sn_db_open(struct kit *k, const char *prefix, const char *schema,
                         int (*seed)(PGconn *c, char *err, size_t errlen));
/* kit_pg_exec on the pool. A database that lost its tables (a new pod with
 * a fresh volume) gets schema and seed again, and the statement is
 * retried once: services recover from a store's restart by themselves. */
PGresult *sn_db_exec(struct kit_req *r, struct sn_db *d, const char *sql, int nparams, const char *const *params,
                     char *err, size_t errlen);
/* Run SQL on a bootstrap connection (several statements when nparams is
 * 0); 0 or -1 with err. */
int sn_pg_run(PGconn *c, const char *sql, int nparams, const char *const *params, char *err, size_t errlen);

/* ---- seed data ---- */

/* The deterministic seed graph: SN_SEED_EDGES undirected friendships among
 * users 1..SN_USERS (no self loops, no duplicates), from a seeded Chung-Lu
 * generator with power-law weights. Fills edges[i][0] < edges[i][1];
 * returns the number written (SN_SEED_EDGES). */
size_t sn_seed_graph(uint32_t (*edges)[2], size_t max);

#endif
