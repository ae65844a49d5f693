/* compose_post.c: compose-post-service. ComposePost builds a post the way
 * DeathStarBench's does: a post id from unique-id-service, the creator
 * from user-service (which checks the user exists), the text with its
 * mentions and short urls from text-service, the media from
 * media-service; then stores it (post-storage-service) and writes it to
 * the author's timeline (user-timeline-service) and to the followers' and
 * mentioned users' home timelines (home-timeline-service).
 *
 * Releases with regressions (main.c): 1.1.0-rc1 names the post's media
 * layout from a table that stops at three media, so a post with four
 * fails; 1.1.0-rc2 stamps posts in seconds instead of milliseconds, so a
 * new post sorts below every older one in the timelines.
 */
#include "sn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One call whose reply must be 2xx: the reply, or NULL after answering. */
static json_t *must(struct kit_req *r, const char *service, const char *path, json_t *body, const char *what)
{
    char err[512];
    json_t *rep = NULL;
    int st = sn_call(r, service, path, body, &rep, err, sizeof err);
    if (st / 100 == 2) return rep ? rep : json_object();
    json_decref(rep);
    sn_reply_downstream(r, st, what, err);
    return NULL;
}

static void compose_post(struct kit_req *r, void *arg SN_UNUSED)
{
    json_t *b = sn_body(r);
    if (!b) return;
    const char *username = sn_get_str(b, "username"), *text = sn_get_str(b, "text");
    long long user_id, post_type = 0;
    if (!username || !text || sn_get_i64(b, "user_id", 1, SN_MAX_USER_ID, &user_id) < 0 ||
        (json_object_get(b, "post_type") && sn_get_i64(b, "post_type", 0, 3, &post_type) < 0)) {
        kit_reply_error(r, 400, "Incomplete arguments");
        return;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long ts = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    if (kit_regression(r) == KIT_REGRESSION_WRONG_RESULTS) ts = (long long)now.tv_sec; /* rc2: the unit slipped */
    char req_id[24];
    long long rid;
    if (sn_get_i64(b, "req_id", 0, SN_MAX_USER_ID, &rid) == 0) snprintf(req_id, sizeof req_id, "%lld", rid);
    else snprintf(req_id, sizeof req_id, "%llu", (unsigned long long)(sn_hash64(&now, sizeof now) >> 11));

    json_t *uid = NULL, *creator = NULL, *txt = NULL, *media = NULL, *post = NULL, *rep = NULL;
    if (!(uid = must(r, "unique-id-service", "/ComposeUniqueId",
                     json_pack("{s:s, s:I}", "req_id", req_id, "post_type", (json_int_t)post_type), "ComposeUniqueId failed")))
        goto out;
    if (!(creator = must(r, "user-service", "/ComposeCreatorWithUserId",
                         json_pack("{s:s, s:I, s:s}", "req_id", req_id, "user_id", (json_int_t)user_id, "username", username),
                         "ComposeCreatorWithUserId failed")))
        goto out;
    if (!(txt = must(r, "text-service", "/ComposeText", json_pack("{s:s, s:s}", "req_id", req_id, "text", text),
                     "ComposeText failed")))
        goto out;
    json_t *mreq = json_pack("{s:s}", "req_id", req_id);
    if (json_object_get(b, "media_ids")) json_object_set(mreq, "media_ids", json_object_get(b, "media_ids"));
    if (json_object_get(b, "media_types")) json_object_set(mreq, "media_types", json_object_get(b, "media_types"));
    if (!(media = must(r, "media-service", "/ComposeMedia", mreq, "ComposeMedia failed"))) goto out;

    const char *layout = NULL;
    if (kit_regression(r) == KIT_REGRESSION_ERRORS) {
        /* rc1: the layout a client draws the post's media in. */
        static const char *const layouts[] = {"none", "single", "pair", "triple"};
        size_t nmedia = json_array_size(json_object_get(media, "media"));
        if (kit_index_check(r, nmedia, sizeof layouts / sizeof layouts[0]) < 0) goto out;
        layout = layouts[nmedia];
    }
    const char *post_id = sn_get_str(uid, "post_id");
    json_t *c = json_object_get(creator, "creator"), *m = json_object_get(txt, "user_mentions");
    if (!post_id || !json_is_object(c) || !json_is_array(m)) {
        kit_reply_error(r, 500, "Compose post failure: malformed reply from a downstream service");
        goto out;
    }
    post = json_pack("{s:s, s:O, s:s, s:O, s:O, s:O, s:O, s:I, s:I}", "post_id", post_id, "creator", c, "req_id", req_id,
                     "text", json_object_get(txt, "text"), "user_mentions", m, "media",
                     json_object_get(media, "media") ? json_object_get(media, "media") : json_null(), "urls",
                     json_object_get(txt, "urls") ? json_object_get(txt, "urls") : json_null(), "timestamp",
                     (json_int_t)ts, "post_type", (json_int_t)post_type);
    if (!post) {
        kit_reply_error(r, 500, "Compose post failure: malformed reply from a downstream service");
        goto out;
    }
    if (layout) json_object_set_new(post, "media_layout", json_string(layout));
    if (!(rep = must(r, "post-storage-service", "/StorePost", json_pack("{s:O}", "post", post), "StorePost failed")))
        goto out;
    json_decref(rep);
    if (!(rep = must(r, "user-timeline-service", "/WriteUserTimeline",
                     json_pack("{s:s, s:I, s:I}", "post_id", post_id, "user_id", (json_int_t)user_id, "timestamp", (json_int_t)ts),
                     "WriteUserTimeline failed")))
        goto out;
    json_decref(rep);
    json_t *ids = json_array();
    size_t i;
    json_t *um;
    json_array_foreach(m, i, um) {
        long long mid;
        if (sn_get_i64(um, "user_id", 1, SN_MAX_USER_ID, &mid) == 0) json_array_append_new(ids, json_integer(mid));
    }
    if (!(rep = must(r, "home-timeline-service", "/WriteHomeTimeline",
                     json_pack("{s:s, s:I, s:I, s:o}", "post_id", post_id, "user_id", (json_int_t)user_id, "timestamp",
                               (json_int_t)ts, "user_mentions_id", ids),
                     "WriteHomeTimeline failed")))
        goto out;
    json_decref(rep);
    kit_reply_json(r, 200, json_pack("{s:O}", "post", post));
out:
    json_decref(uid);
    json_decref(creator);
    json_decref(txt);
    json_decref(media);
    json_decref(post);
}

int sn_compose_post_setup(struct kit *k)
{
    kit_handle(k, "POST", "/ComposePost", "compose_post", compose_post, NULL);
    return 0;
}
