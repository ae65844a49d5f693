/* home_timeline.c: home-timeline-service. Each user's home timeline is a
 * sorted set in home-timeline-redis (key: the user id, member: post id,
 * score: post time), as in DeathStarBench, which keeps no database copy.
 * WriteHomeTimeline fans a new post out to the author's followers (from
 * social-graph-service) and the users it mentions, in one round trip (a
 * Lua script); ReadHomeTimeline reads a window newest first and fetches
 * the posts from post-storage-service.
 *
 * Releases with regressions (main.c): 1.1.0-rc1 sizes the fan-out for at
 * most four mentioned users, so a post mentioning five fails; 1.1.0-rc2
 * reads the window one past its start (the newest post of a first page
 * is never shown); 1.1.0-rc3 fetches the posts one by one (a ReadPost
 * call per post instead of one ReadPosts).
 */
#include "sn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FANOUT 4096

static struct kit_redis *rd;

static const char fanout_lua[] = "for i, k in ipairs(KEYS) do redis.call('ZADD', k, ARGV[1], ARGV[2]) end "
                                 "return #KEYS";

static void write_home_timeline(struct kit_req *r, void *arg SN_UNUSED)
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
    json_t *mentions = json_object_get(b, "user_mentions_id");
    if (mentions && (!json_is_array(mentions) || json_array_size(mentions) > SN_MAX_LIST)) {
        kit_reply_error(r, 400, "user_mentions_id must be a list of at most %d ids", SN_MAX_LIST);
        return;
    }
    char err[512];
    json_t *rep = NULL;
    int st = sn_call(r, "social-graph-service", "/GetFollowers", json_pack("{s:I}", "user_id", (json_int_t)user_id),
                     &rep, err, sizeof err);
    json_t *followers = json_object_get(rep, "followers");
    if (st / 100 != 2 || !json_is_array(followers)) {
        sn_reply_downstream(r, st / 100 == 2 ? 500 : st, "GetFollowers failed", st / 100 == 2 ? "bad reply" : err);
        json_decref(rep);
        return;
    }
    size_t nf = json_array_size(followers), nm = json_array_size(mentions);
    if (nf + nm > MAX_FANOUT) nf = MAX_FANOUT - nm;
    const char **argv = calloc(nf + nm + 5, sizeof *argv);
    char(*keys)[24] = calloc(nf + nm + 1, sizeof *keys);
    if (!argv || !keys) {
        free(argv);
        free(keys);
        json_decref(rep);
        kit_reply_error(r, 500, "out of memory");
        return;
    }
    size_t nk = 0;
    /* rc1: "a post mentions at most 4 users" when sizing the keys. */
    size_t cap = kit_regression(r) == KIT_REGRESSION_ERRORS ? nf + (nm < 4 ? nm : 4) : nf + nm;
    for (size_t i = 0; i < nf + nm; i++) {
        if (kit_index_check(r, nk, cap) < 0) {
            free(argv);
            free(keys);
            json_decref(rep);
            return;
        }
        json_t *v = i < nf ? json_array_get(followers, i) : json_array_get(mentions, i - nf);
        long long id;
        if (sn_value_i64(v, 1, SN_MAX_USER_ID, &id) == 0) snprintf(keys[nk++], sizeof keys[0], "%lld", id);
    }
    json_decref(rep);
    char nks[24], tss[24], pids[24];
    snprintf(nks, sizeof nks, "%zu", nk);
    snprintf(tss, sizeof tss, "%lld", ts);
    snprintf(pids, sizeof pids, "%lld", post_id);
    size_t argc = 0;
    argv[argc++] = "EVAL";
    argv[argc++] = fanout_lua;
    argv[argc++] = nks;
    for (size_t i = 0; i < nk; i++) argv[argc++] = keys[i];
    argv[argc++] = tss;
    argv[argc++] = pids;
    redisReply *z = kit_redis(r, rd, (int)argc, argv, NULL, err, sizeof err);
    free(argv);
    free(keys);
    if (!z) {
        kit_reply_error(r, 500, "%s", err);
        return;
    }
    freeReplyObject(z);
    kit_reply_json(r, 200, json_pack("{s:I}", "fanout", (json_int_t)nk));
}

/* rc3: {"posts": [...]} from one ReadPost call per post (a post gone
 * from post-storage is left out, as ReadPosts does). */
static void reply_posts_one_by_one(struct kit_req *r, const char *const *ids, size_t n)
{
    json_t *posts = json_array();
    for (size_t i = 0; i < n; i++) {
        char err[512];
        json_t *rep = NULL;
        int st = sn_call(r, "post-storage-service", "/ReadPost", json_pack("{s:s}", "post_id", ids[i]), &rep, err,
                         sizeof err);
        json_t *post = json_object_get(rep, "post");
        if (st / 100 == 2 && json_is_object(post)) json_array_append(posts, post);
        else if (st != 404) {
            json_decref(rep);
            json_decref(posts);
            sn_reply_downstream(r, st / 100 == 2 ? 500 : st, "ReadPost failed", st / 100 == 2 ? "bad reply" : err);
            return;
        }
        json_decref(rep);
    }
    kit_reply_json(r, 200, json_pack("{s:o}", "posts", posts));
}

static void read_home_timeline(struct kit_req *r, void *arg SN_UNUSED)
{
    json_t *b = sn_body(r);
    if (!b) return;
    long long user_id, start, stop;
    if (sn_timeline_args(r, b, &user_id, &start, &stop) < 0) return;
    char key[24], s1[24], s2[24], err[512];
    snprintf(key, sizeof key, "%lld", user_id);
    /* rc2: the window counted from one past start. */
    long long shift = kit_regression(r) == KIT_REGRESSION_WRONG_RESULTS;
    snprintf(s1, sizeof s1, "%lld", start + shift);
    snprintf(s2, sizeof s2, "%lld", stop - 1 + shift);
    const char *argv[] = {"ZREVRANGE", key, s1, s2};
    redisReply *rep = kit_redis(r, rd, 4, argv, NULL, err, sizeof err);
    if (!rep) {
        kit_reply_error(r, 500, "%s", err);
        return;
    }
    const char *ids[SN_MAX_TIMELINE];
    size_t n = 0;
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements && n < SN_MAX_TIMELINE; i++)
        if (rep->element[i]->type == REDIS_REPLY_STRING) ids[n++] = rep->element[i]->str;
    if (kit_regression(r) == KIT_REGRESSION_SLOW && n > 0) reply_posts_one_by_one(r, ids, n);
    else sn_reply_posts(r, user_id, ids, n);
    freeReplyObject(rep);
}

int sn_home_timeline_setup(struct kit *k)
{
    sn_store_env("HOME_TIMELINE_RD", "home-timeline-redis");
    rd = kit_redis_new(k, "HOME_TIMELINE_RD");
    kit_handle(k, "POST", "/WriteHomeTimeline", "write_home_timeline", write_home_timeline, NULL);
    kit_handle(k, "POST", "/ReadHomeTimeline", "read_home_timeline", read_home_timeline, NULL);
    return 0;
}
