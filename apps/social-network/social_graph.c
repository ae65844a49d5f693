/* social_graph.c: social-graph-service. Who follows whom lives in
 * social-graph-mongodb (PostgreSQL, table follows: follower, followee,
 * ts), with social-graph-redis caching each user's followers and followees
 * as sorted sets ("<id>:followers", "<id>:followees", scored by follow
 * time), filled from the database on a miss and dropped when a follow
 * changes them. At first start it loads the seed graph (common.c) as
 * DeathStarBench's init_social_graph.py does: every friendship is two
 * follows.
 *
 * GetFollowers, GetFollowees, Follow, Unfollow, FollowWithUsername,
 * UnfollowWithUsername (names resolved by user-service), InsertUser.
 */
#include "sn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct sn_db *db;
static struct kit_redis *rd;

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS follows (follower bigint NOT NULL, followee bigint NOT NULL, ts bigint NOT NULL, "
    "CONSTRAINT follows_pkey PRIMARY KEY (follower, followee)); "
    "CREATE INDEX IF NOT EXISTS follows_followee ON follows (followee)";

static int seed(PGconn *c, char *err, size_t errlen)
{
    PGresult *res = PQexec(c, "SELECT EXISTS (SELECT 1 FROM follows)");
    int has = PQresultStatus(res) == PGRES_TUPLES_OK && !strcmp(PQgetvalue(res, 0, 0), "t");
    PQclear(res);
    if (has) return 0;
    static uint32_t edges[SN_SEED_EDGES][2];
    size_t n = sn_seed_graph(edges, SN_SEED_EDGES);
    size_t cap = n * 2 * 5 + 8;
    char *from = malloc(cap), *to = malloc(cap);
    if (!from || !to) {
        free(from);
        free(to);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t fl = 0, tl = 0;
    from[fl++] = '{';
    to[tl++] = '{';
    for (size_t i = 0; i < n; i++) {
        fl += (size_t)snprintf(from + fl, cap - fl, "%s%u,%u", i ? "," : "", edges[i][0], edges[i][1]);
        tl += (size_t)snprintf(to + tl, cap - tl, "%s%u,%u", i ? "," : "", edges[i][1], edges[i][0]);
    }
    snprintf(from + fl, cap - fl, "}");
    snprintf(to + tl, cap - tl, "}");
    const char *params[] = {from, to};
    /* Seed follow times: one a minute going back from 2024-01-01, in edge order. */
    int rc = sn_pg_run(c,
                       "INSERT INTO follows (follower, followee, ts) "
                       "SELECT f, t, 1704067200000 - 60000 * o FROM unnest($1::bigint[], $2::bigint[]) "
                       "WITH ORDINALITY AS e(f, t, o)",
                       2, params, err, errlen);
    free(from);
    free(to);
    return rc;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The followers (dir 0) or followees (dir 1) of id as a JSON array of ids;
 * NULL with err on a store failure. */
static json_t *neighbours(struct kit_req *r, long long id, int dir, char *err, size_t errlen)
{
    char key[48];
    snprintf(key, sizeof key, "%lld:%s", id, dir ? "followees" : "followers");
    const char *zr[] = {"ZRANGE", key, "0", "-1"};
    /* socialGraphServiceCacheFailure: Redis is not asked, the database is. */
    int cache = !kit_flag_cache_bypass(r);
    redisReply *rep = cache ? kit_redis(r, rd, 4, zr, NULL, err, errlen) : NULL;
    json_t *out = json_array();
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements > 0) {
        for (size_t i = 0; i < rep->elements; i++) {
            long long v;
            if (rep->element[i]->type == REDIS_REPLY_STRING &&
                sn_parse_i64(rep->element[i]->str, 1, SN_MAX_USER_ID, &v) == 0)
                json_array_append_new(out, json_integer(v));
        }
        freeReplyObject(rep);
        return out;
    }
    if (rep) freeReplyObject(rep);
    else if (cache) kit_log(r, KIT_WARN, "redis ZRANGE %s failed: %s", key, err); /* the database still answers */
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *params[] = {ids};
    PGresult *res = sn_db_exec(r, db,
                                dir ? "SELECT followee, ts FROM follows WHERE follower = $1"
                                    : "SELECT follower, ts FROM follows WHERE followee = $1",
                                1, params, err, errlen);
    if (!res) {
        json_decref(out);
        return NULL;
    }
    int n = PQntuples(res);
    if (n > 0 && cache) {
        const char **argv = malloc(sizeof *argv * (size_t)(2 + 2 * n));
        if (argv) {
            argv[0] = "ZADD";
            argv[1] = key;
            for (int i = 0; i < n; i++) {
                argv[2 + 2 * i] = PQgetvalue(res, i, 1);
                argv[3 + 2 * i] = PQgetvalue(res, i, 0);
            }
            char e2[256];
            redisReply *z = kit_redis(r, rd, 2 + 2 * n, argv, NULL, e2, sizeof e2);
            if (z) freeReplyObject(z);
            free(argv);
        }
    }
    for (int i = 0; i < n; i++) {
        long long v;
        if (sn_parse_i64(PQgetvalue(res, i, 0), 1, SN_MAX_USER_ID, &v) == 0) json_array_append_new(out, json_integer(v));
    }
    PQclear(res);
    return out;
}

static void get_neighbours(struct kit_req *r, int dir)
{
    json_t *b = sn_body(r);
    if (!b) return;
    long long id;
    if (sn_get_i64(b, "user_id", 1, SN_MAX_USER_ID, &id) < 0) {
        kit_reply_error(r, 400, "invalid user_id");
        return;
    }
    char err[512];
    json_t *list = neighbours(r, id, dir, err, sizeof err);
    if (!list) kit_reply_error(r, 500, "%s", err);
    else kit_reply_json(r, 200, json_pack("{s:o}", dir ? "followees" : "followers", list));
}

static void get_followers(struct kit_req *r, void *arg SN_UNUSED)
{
    get_neighbours(r, 0);
}

static void get_followees(struct kit_req *r, void *arg SN_UNUSED)
{
    get_neighbours(r, 1);
}

/* Check that user id exists (user-service): 1, or 0 after answering. */
static int user_exists(struct kit_req *r, long long id)
{
    char err[512];
    json_t *rep = NULL;
    int st = sn_call(r, "user-service", "/GetUser", json_pack("{s:I}", "user_id", (json_int_t)id), &rep, err, sizeof err);
    json_decref(rep);
    if (st / 100 == 2) return 1;
    sn_reply_downstream(r, st, "GetUser failed", err);
    return 0;
}

static void change(struct kit_req *r, long long user, long long followee, int follow)
{
    if (user == followee) {
        kit_reply_error(r, 400, "a user cannot follow themselves");
        return;
    }
    if (!user_exists(r, user) || !user_exists(r, followee)) return;
    char u[24], f[24], ts[24], err[512];
    snprintf(u, sizeof u, "%lld", user);
    snprintf(f, sizeof f, "%lld", followee);
    snprintf(ts, sizeof ts, "%lld", now_ms());
    const char *params[] = {u, f, ts};
    PGresult *res = follow ? sn_db_exec(r, db,
                                         "INSERT INTO follows (follower, followee, ts) VALUES ($1, $2, $3) "
                                         "ON CONFLICT DO NOTHING",
                                         3, params, err, sizeof err)
                           : sn_db_exec(r, db, "DELETE FROM follows WHERE follower = $1 AND followee = $2", 2, params,
                                         err, sizeof err);
    if (!res) {
        kit_reply_error(r, 500, "%s", err);
        return;
    }
    PQclear(res);
    /* The database is the truth: drop both cached sets, the next read refills them. */
    char k1[48], k2[48];
    snprintf(k1, sizeof k1, "%lld:followees", user);
    snprintf(k2, sizeof k2, "%lld:followers", followee);
    const char *del[] = {"DEL", k1, k2};
    redisReply *rep = kit_redis(r, rd, 3, del, NULL, err, sizeof err);
    if (!rep) {
        kit_reply_error(r, 500, "%s", err);
        return;
    }
    freeReplyObject(rep);
    kit_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static void follow_ids(struct kit_req *r, int follow)
{
    json_t *b = sn_body(r);
    if (!b) return;
    long long u, f;
    if (sn_get_i64(b, "user_id", 1, SN_MAX_USER_ID, &u) < 0 || sn_get_i64(b, "followee_id", 1, SN_MAX_USER_ID, &f) < 0) {
        kit_reply_error(r, 400, "Incomplete arguments");
        return;
    }
    change(r, u, f, follow);
}

/* The id of username (user-service): 1, or 0 after answering. */
static int id_of(struct kit_req *r, const char *username, long long *id)
{
    char err[512];
    json_t *rep = NULL;
    int st = sn_call(r, "user-service", "/GetUserId", json_pack("{s:s}", "username", username), &rep, err, sizeof err);
    if (st / 100 == 2 && sn_get_i64(rep, "user_id", 1, SN_MAX_USER_ID, id) == 0) {
        json_decref(rep);
        return 1;
    }
    json_decref(rep);
    sn_reply_downstream(r, st / 100 == 2 ? 500 : st, "GetUserId failed", st / 100 == 2 ? "bad reply" : err);
    return 0;
}

static void follow_names(struct kit_req *r, int follow)
{
    json_t *b = sn_body(r);
    if (!b) return;
    const char *un = sn_get_str(b, "user_name"), *fn = sn_get_str(b, "followee_name");
    if (!un || !fn) {
        kit_reply_error(r, 400, "Incomplete arguments");
        return;
    }
    if (!sn_valid_username(un) || !sn_valid_username(fn)) {
        kit_reply_error(r, 400, "invalid username");
        return;
    }
    long long u, f;
    if (!id_of(r, un, &u) || !id_of(r, fn, &f)) return;
    change(r, u, f, follow);
}

static void follow(struct kit_req *r, void *arg SN_UNUSED)
{
    follow_ids(r, 1);
}
static void unfollow(struct kit_req *r, void *arg SN_UNUSED)
{
    follow_ids(r, 0);
}
static void follow_with_username(struct kit_req *r, void *arg SN_UNUSED)
{
    follow_names(r, 1);
}
static void unfollow_with_username(struct kit_req *r, void *arg SN_UNUSED)
{
    follow_names(r, 0);
}

/* DSB keeps a document per user; follows are rows here, so a new user has
 * nothing to store until they follow someone. */
static void insert_user(struct kit_req *r, void *arg SN_UNUSED)
{
    json_t *b = sn_body(r);
    if (!b) return;
    long long id;
    if (sn_get_i64(b, "user_id", 1, SN_MAX_USER_ID, &id) < 0) {
        kit_reply_error(r, 400, "invalid user_id");
        return;
    }
    kit_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

int sn_social_graph_setup(struct kit *k)
{
    sn_store_env("SOCIAL_GRAPH_DB", "social-graph-mongodb");
    sn_store_env("SOCIAL_GRAPH_RD", "social-graph-redis");
    db = sn_db_open(k, "SOCIAL_GRAPH_DB", schema, seed);
    rd = kit_redis_new(k, "SOCIAL_GRAPH_RD");
    kit_handle(k, "POST", "/GetFollowers", "get_followers", get_followers, NULL);
    kit_handle(k, "POST", "/GetFollowees", "get_followees", get_followees, NULL);
    kit_handle(k, "POST", "/Follow", "follow", follow, NULL);
    kit_handle(k, "POST", "/Unfollow", "unfollow", unfollow, NULL);
    kit_handle(k, "POST", "/FollowWithUsername", "follow_with_username", follow_with_username, NULL);
    kit_handle(k, "POST", "/UnfollowWithUsername", "unfollow_with_username", unfollow_with_username, NULL);
    kit_handle(k, "POST", "/InsertUser", "insert_user", insert_user, NULL);
    return 0;
}
