/* user_timeline.c: user-timeline-service. A user's own posts are rows in
 * user-timeline-mongodb (PostgreSQL, table user_timeline: user_id,
 * post_id, ts), the source of truth, and a sorted set in
 * user-timeline-redis (key: the user id). WriteUserTimeline writes both;
 * ReadUserTimeline reads the window from Redis and, as DeathStarBench
 * does, goes to the database when Redis has fewer posts than asked for
 * (then refills the set).
 */
#include "sn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct sn_db *db;
static struct kit_redis *rd;

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS user_timeline (user_id bigint NOT NULL, post_id bigint NOT NULL, ts bigint NOT NULL, "
    "CONSTRAINT user_timeline_pkey PRIMARY KEY (user_id, post_id)); "
    "CREATE INDEX IF NOT EXISTS user_timeline_by_time ON user_timeline (user_id, ts DESC)";

static void write_user_timeline(struct kit_req *r, void *arg SN_UNUSED)
{
    json_t *b = sn_body(r);
    if (!b) return;
    long long post_id, user_id, ts;
    if (sn_get_i64(b, "post_id", 0, 0x7fffffffffffffffLL, &post_id) < 0 ||
        sn_get_i64(b, "user_id", 1, SN_MAX_USER_ID, &user_id) < 0 ||
        sn_get_i64(b, "timestamp", 0, 0x7fffffffffffffffLL, &ts) < 0) {
        kit_reply_error(r, 400, "Incomplete arguments");
        return;
    }
    char u[24], p[24], t[24], err[512];
    snprintf(u, sizeof u, "%lld", user_id);
    snprintf(p, sizeof p, "%lld", post_id);
    snprintf(t, sizeof t, "%lld", ts);
    const char *params[] = {u, p, t};
    PGresult *res = sn_db_exec(r, db,
                                "INSERT INTO user_timeline (user_id, post_id, ts) VALUES ($1, $2, $3) "
                                "ON CONFLICT DO NOTHING",
                                3, params, err, sizeof err);
    if (!res) {
        kit_reply_error(r, 500, "%s", err);
        return;
    }
    PQclear(res);
    const char *argv[] = {"ZADD", u, t, p};
    redisReply *z = kit_redis(r, rd, 4, argv, NULL, err, sizeof err);
    if (!z) {
        kit_reply_error(r, 500, "%s", err);
        return;
    }
    freeReplyObject(z);
    kit_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static void read_user_timeline(struct kit_req *r, void *arg SN_UNUSED)
{
    json_t *b = sn_body(r);
    if (!b) return;
    long long user_id, start, stop;
    if (sn_timeline_args(r, b, &user_id, &start, &stop) < 0) return;
    char key[24], s1[24], s2[24], lim[24], err[512];
    snprintf(key, sizeof key, "%lld", user_id);
    snprintf(s1, sizeof s1, "%lld", start);
    snprintf(s2, sizeof s2, "%lld", stop - 1);
    snprintf(lim, sizeof lim, "%lld", stop);
    const char *argv[] = {"ZREVRANGE", key, s1, s2};
    redisReply *rep = kit_redis(r, rd, 4, argv, NULL, err, sizeof err);
    if (!rep) kit_log(r, KIT_WARN, "redis ZREVRANGE %s failed: %s", key, err);
    if (rep && rep->type == REDIS_REPLY_ARRAY && (long long)rep->elements >= stop - start) {
        const char *ids[SN_MAX_TIMELINE];
        size_t n = 0;
        for (size_t i = 0; i < rep->elements && n < SN_MAX_TIMELINE; i++)
            if (rep->element[i]->type == REDIS_REPLY_STRING) ids[n++] = rep->element[i]->str;
        sn_reply_posts(r, user_id, ids, n);
        freeReplyObject(rep);
        return;
    }
    if (rep) freeReplyObject(rep);
    const char *params[] = {key, lim};
    PGresult *res = sn_db_exec(r, db,
                                "SELECT post_id, ts FROM user_timeline WHERE user_id = $1 ORDER BY ts DESC LIMIT $2", 2,
                                params, err, sizeof err);
    if (!res) {
        kit_reply_error(r, 500, "%s", err);
        return;
    }
    int rows = PQntuples(res);
    if (rows > 0) { /* refill the cache with what the database has */
        const char **zv = malloc(sizeof *zv * (size_t)(2 + 2 * rows));
        if (zv) {
            zv[0] = "ZADD";
            zv[1] = key;
            for (int i = 0; i < rows; i++) {
                zv[2 + 2 * i] = PQgetvalue(res, i, 1);
                zv[3 + 2 * i] = PQgetvalue(res, i, 0);
            }
            char e2[256];
            redisReply *z = kit_redis(r, rd, 2 + 2 * rows, zv, NULL, e2, sizeof e2);
            if (z) freeReplyObject(z);
            free(zv);
        }
    }
    const char *ids[SN_MAX_TIMELINE];
    size_t n = 0;
    for (int i = (int)start; i < rows && n < SN_MAX_TIMELINE; i++) ids[n++] = PQgetvalue(res, i, 0);
    sn_reply_posts(r, user_id, ids, n);
    PQclear(res);
}

int sn_user_timeline_setup(struct kit *k)
{
    sn_store_env("USER_TIMELINE_DB", "user-timeline-mongodb");
    sn_store_env("USER_TIMELINE_RD", "user-timeline-redis");
    db = sn_db_open(k, "USER_TIMELINE_DB", schema, NULL);
    rd = kit_redis_new(k, "USER_TIMELINE_RD");
    kit_handle(k, "POST", "/WriteUserTimeline", "write_user_timeline", write_user_timeline, NULL);
    kit_handle(k, "POST", "/ReadUserTimeline", "read_user_timeline", read_user_timeline, NULL);
    return 0;
}
