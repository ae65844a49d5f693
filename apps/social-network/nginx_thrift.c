/* nginx_thrift.c: nginx-thrift, the front end (:8080). DeathStarBench's
 * HTTP API as its wrk2 scripts call it: form-urlencoded POSTs and query
 * strings in, DSB's answers out ("Successfully upload post", "Success!",
 * timelines as JSON lists of posts). Missing arguments are 400
 * "Incomplete arguments"; a failing service behind is a 500 naming the
 * step ("Get home-timeline failure: ..."); its 4xx (unknown user, bad
 * value) pass through. Errors are JSON {"error": "..."}.
 */
#include "sn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A required parameter, non-empty. */
static const char *need(struct kit_req *r, const char *name)
{
    const char *v = kit_param(r, name);
    return v && *v ? v : NULL;
}

/* Call and answer: 2xx runs ok (may be NULL: reply with text), else the
 * downstream error under what. A timeline's {"posts":[...]} reply is not
 * parsed: its list goes out as the bytes it came in (parsed only when it
 * is not in the services' compact form). */
static void forward(struct kit_req *r, const char *service, const char *path, json_t *body, const char *what,
                    const char *ok_text)
{
    char err[512], *raw = NULL;
    size_t len = 0, plen;
    const char *posts;
    int st = sn_call_raw(r, service, path, body, &raw, &len, err, sizeof err);
    if (st / 100 != 2) sn_reply_downstream(r, st, what, err);
    else if (ok_text) kit_reply_text(r, 200, "text/plain", ok_text);
    else if (sn_posts_slice(raw, len, &posts, &plen) == 0) {
        raw[(posts - raw) + plen] = '\n'; /* the list and a newline, as kit_reply_json writes it */
        kit_reply_raw(r, 200, "application/json", posts, plen + 1);
    } else {
        json_t *rep = raw ? json_loadb(raw, len, 0, NULL) : NULL;
        json_t *list = json_object_get(rep, "posts");
        if (json_is_array(list)) kit_reply_json(r, 200, json_incref(list));
        else kit_reply_error(r, 500, "%s: reply without posts", what);
        json_decref(rep);
    }
    free(raw);
}

/* A form value holding a JSON list of strings (media_ids=["1","2"]); NULL if absent or malformed. */
static json_t *json_list(const char *v)
{
    json_t *l = json_loads(v, JSON_DECODE_ANY, NULL);
    if (!json_is_array(l) || json_array_size(l) > SN_MAX_LIST) {
        json_decref(l);
        return NULL;
    }
    return l;
}

static void compose(struct kit_req *r, void *arg SN_UNUSED)
{
    const char *username = need(r, "username"), *user_id = need(r, "user_id"), *text = need(r, "text");
    const char *post_type = need(r, "post_type");
    long long uid, pt;
    if (!username || !user_id || !text || !post_type) {
        kit_reply_error(r, 400, "Incomplete arguments");
        return;
    }
    if (sn_parse_i64(user_id, 1, SN_MAX_USER_ID, &uid) < 0 || sn_parse_i64(post_type, 0, 3, &pt) < 0) {
        kit_reply_error(r, 400, "Invalid arguments: user_id and post_type must be numbers");
        return;
    }
    json_t *body = json_pack("{s:s, s:I, s:s, s:I}", "username", username, "user_id", (json_int_t)uid, "text", text,
                             "post_type", (json_int_t)pt);
    if (!body) {
        kit_reply_error(r, 400, "Invalid arguments: text must be UTF-8");
        return;
    }
    const char *mi = need(r, "media_ids"), *mt = need(r, "media_types");
    if (mi && mt) {
        json_t *ids = json_list(mi), *types = json_list(mt);
        if (!ids || !types) {
            json_decref(ids);
            json_decref(types);
            json_decref(body);
            kit_reply_error(r, 400, "Invalid arguments: media_ids and media_types must be JSON lists");
            return;
        }
        json_object_set_new(body, "media_ids", ids);
        json_object_set_new(body, "media_types", types);
    }
    forward(r, "compose-post-service", "/ComposePost", body, "Compose post failure", "Successfully upload post");
}

static void read_timeline(struct kit_req *r, const char *service, const char *path, const char *what)
{
    const char *user_id = need(r, "user_id"), *start = need(r, "start"), *stop = need(r, "stop");
    long long u, a, z;
    if (!user_id || !start || !stop) {
        kit_reply_error(r, 400, "Incomplete arguments");
        return;
    }
    if (sn_parse_i64(user_id, 1, SN_MAX_USER_ID, &u) < 0 || sn_parse_i64(start, 0, 1000000, &a) < 0 ||
        sn_parse_i64(stop, 0, 1000000, &z) < 0) {
        kit_reply_error(r, 400, "Invalid arguments: user_id, start and stop must be numbers");
        return;
    }
    forward(r, service, path, json_pack("{s:I, s:I, s:I}", "user_id", (json_int_t)u, "start", (json_int_t)a, "stop", (json_int_t)z),
            what, NULL);
}

static void home_timeline(struct kit_req *r, void *arg SN_UNUSED)
{
    read_timeline(r, "home-timeline-service", "/ReadHomeTimeline", "Get home-timeline failure");
}

static void user_timeline(struct kit_req *r, void *arg SN_UNUSED)
{
    read_timeline(r, "user-timeline-service", "/ReadUserTimeline", "Get user-timeline failure");
}

static void register_user(struct kit_req *r, void *arg SN_UNUSED)
{
    const char *first = need(r, "first_name"), *last = need(r, "last_name"), *username = need(r, "username");
    const char *password = need(r, "password"), *user_id = need(r, "user_id");
    long long uid;
    if (!first || !last || !username || !password || !user_id) {
        kit_reply_error(r, 400, "Incomplete arguments");
        return;
    }
    if (sn_parse_i64(user_id, 1, SN_MAX_USER_ID, &uid) < 0) {
        kit_reply_error(r, 400, "Invalid arguments: user_id must be a number");
        return;
    }
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:I}", "first_name", first, "last_name", last, "username", username,
                             "password", password, "user_id", (json_int_t)uid);
    if (!body) {
        kit_reply_error(r, 400, "Invalid arguments: values must be UTF-8");
        return;
    }
    forward(r, "user-service", "/RegisterUserWithId", body, "User registration failure", "Success!");
}

static void follow_or_unfollow(struct kit_req *r, int follow)
{
    const char *un = need(r, "user_name"), *fn = need(r, "followee_name");
    const char *ui = need(r, "user_id"), *fi = need(r, "followee_id");
    const char *what = follow ? "Follow failure" : "Unfollow failure";
    if (un && fn) {
        json_t *body = json_pack("{s:s, s:s}", "user_name", un, "followee_name", fn);
        if (!body) {
            kit_reply_error(r, 400, "Invalid arguments: names must be UTF-8");
            return;
        }
        forward(r, "social-graph-service", follow ? "/FollowWithUsername" : "/UnfollowWithUsername", body, what,
                "Success!");
        return;
    }
    long long u, f;
    if (!ui || !fi) {
        kit_reply_error(r, 400, "Incomplete arguments");
        return;
    }
    if (sn_parse_i64(ui, 1, SN_MAX_USER_ID, &u) < 0 || sn_parse_i64(fi, 1, SN_MAX_USER_ID, &f) < 0) {
        kit_reply_error(r, 400, "Invalid arguments: user_id and followee_id must be numbers");
        return;
    }
    forward(r, "social-graph-service", follow ? "/Follow" : "/Unfollow",
            json_pack("{s:I, s:I}", "user_id", (json_int_t)u, "followee_id", (json_int_t)f), what, "Success!");
}

static void follow(struct kit_req *r, void *arg SN_UNUSED)
{
    follow_or_unfollow(r, 1);
}

static void unfollow(struct kit_req *r, void *arg SN_UNUSED)
{
    follow_or_unfollow(r, 0);
}

static void login(struct kit_req *r, void *arg SN_UNUSED)
{
    const char *username = need(r, "username"), *password = need(r, "password");
    if (!username || !password) {
        kit_reply_error(r, 400, "Incomplete arguments");
        return;
    }
    json_t *body = json_pack("{s:s, s:s}", "username", username, "password", password);
    if (!body) {
        kit_reply_error(r, 400, "Invalid arguments: values must be UTF-8");
        return;
    }
    forward(r, "user-service", "/Login", body, "User login failure", "Login successfully!");
}

int sn_nginx_thrift_setup(struct kit *k)
{
    kit_handle(k, "POST", "/wrk2-api/post/compose", "compose_post", compose, NULL);
    kit_handle(k, "GET", "/wrk2-api/home-timeline/read", "read_home_timeline", home_timeline, NULL);
    kit_handle(k, "GET", "/wrk2-api/user-timeline/read", "read_user_timeline", user_timeline, NULL);
    kit_handle(k, "POST", "/wrk2-api/user/register", "register_user", register_user, NULL);
    kit_handle(k, "POST", "/wrk2-api/user/follow", "follow", follow, NULL);
    kit_handle(k, "POST", "/wrk2-api/user/unfollow", "unfollow", unfollow, NULL);
    kit_handle(k, "POST", "/wrk2-api/user/login", "login", login, NULL);
    return 0;
}
