/* post_storage.c: post-storage-service. Posts are JSON documents in
 * post-storage-mongodb (PostgreSQL, table posts: post_id, doc) with
 * post-storage-memcached in front (key: the post id). StorePost writes
 * both; ReadPosts serves from the cache (one multi-get), fetches the
 * misses in one query and caches them; ReadPost answers 404 for an unknown post.
 * Feature flags: postStorageServiceCacheFailure skips memcached (every read
 * goes to the database); postStorageServiceSlowPath reads the posts one by
 * one, a cache get and a query per post (the N+1 a naive port would do).
 *
 * Releases with regressions (main.c): 1.1.0-rc1 keeps the hosts of a
 * post's urls in four preview slots, so a post with five urls fails to
 * store; 1.1.0-rc2 sorts the ids for the database's index order and
 * answers in that order (oldest first: timelines come back reversed);
 * 1.1.0-rc3 reads without the cache, one query per post.
 */
#include "sn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct sn_db *db;
static struct kit_mc *mc;

static const char schema[] = "CREATE TABLE IF NOT EXISTS posts (post_id bigint CONSTRAINT posts_pkey PRIMARY KEY, doc text NOT NULL)";

static void store_post(struct kit_req *r, void *arg SN_UNUSED)
{
    json_t *b = sn_body(r);
    if (!b) return;
    json_t *post = json_object_get(b, "post");
    long long id;
    if (!json_is_object(post) || sn_get_i64(post, "post_id", 1, 0x7fffffffffffffffLL, &id) < 0) {
        kit_reply_error(r, 400, "invalid post");
        return;
    }
    if (kit_regression(r) == KIT_REGRESSION_ERRORS) {
        /* rc1: the hosts of the post's urls, for link previews. */
        char hosts[4][128];
        json_t *urls = json_object_get(post, "urls"), *u;
        size_t i;
        json_array_foreach(urls, i, u) {
            if (kit_index_check(r, i, sizeof hosts / sizeof hosts[0]) < 0) return;
            const char *url = sn_get_str(u, "expanded_url"), *h = url ? strstr(url, "://") : NULL;
            snprintf(hosts[i], sizeof hosts[i], "%.*s", h ? (int)strcspn(h + 3, "/") : 0, h ? h + 3 : "");
        }
        json_t *list = json_array();
        for (size_t j = 0; j < json_array_size(urls); j++) json_array_append_new(list, json_string(hosts[j]));
        json_object_set_new(post, "url_hosts", list);
    }
    char *doc = json_dumps(post, JSON_COMPACT);
    if (!doc || strlen(doc) > 64 * 1024) {
        free(doc);
        kit_reply_error(r, 400, "post too large");
        return;
    }
    char ids[24], err[512];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *params[] = {ids, doc};
    PGresult *res = sn_db_exec(r, db, "INSERT INTO posts (post_id, doc) VALUES ($1, $2) ON CONFLICT DO NOTHING", 2,
                                params, err, sizeof err);
    if (!res) {
        free(doc);
        kit_reply_error(r, 500, "%s", err);
        return;
    }
    PQclear(res);
    if (!kit_flag_cache_bypass(r) && kit_mc_set(r, mc, ids, doc, strlen(doc), 0, err, sizeof err) < 0)
        kit_log(r, KIT_WARN, "memcached set %s failed: %s", ids, err);
    free(doc);
    kit_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

/* The slow path: one query per missing post (N+1), filling posts[] as
 * read_posts does. */
static int read_posts_one_by_one(struct kit_req *r, const long long *ids, size_t n, const long long *miss,
                                 size_t nmiss, char **posts, int cache_ok, char *err, size_t errlen)
{
    for (size_t m = 0; m < nmiss; m++) {
        char key[24];
        snprintf(key, sizeof key, "%lld", miss[m]);
        const char *params[] = {key};
        PGresult *res = sn_db_exec(r, db, "SELECT doc FROM posts WHERE post_id = $1", 1, params, err, errlen);
        if (!res) {
            for (size_t i = 0; i < n; i++) {
                free(posts[i]);
                posts[i] = NULL;
            }
            return -1;
        }
        if (PQntuples(res) > 0) {
            const char *doc = PQgetvalue(res, 0, 0);
            if (cache_ok) {
                char e2[256];
                kit_mc_set(r, mc, key, doc, strlen(doc), 0, e2, sizeof e2);
            }
            for (size_t i = 0; i < n; i++)
                if (ids[i] == miss[m] && !posts[i]) posts[i] = strdup(doc);
        }
        PQclear(res);
    }
    return 0;
}

/* docs[i] (malloc'd JSON text) for ids[i], NULL where unknown; 0, or -1
 * with err. The documents are the compact JSON StorePost wrote: they are
 * passed on as text, never parsed again (the hot path of every timeline).
 * The cache is read with one multi-get (DSB's memcached_mget), the misses
 * with one query. */
static int read_posts(struct kit_req *r, const long long *ids, size_t n, char **posts, char *err, size_t errlen)
{
    long long miss[SN_MAX_TIMELINE];
    char keys[SN_MAX_TIMELINE][24];
    const char *keyp[SN_MAX_TIMELINE] = {0};
    size_t lens[SN_MAX_TIMELINE], nmiss = 0;
    if (n > SN_MAX_TIMELINE) {
        snprintf(err, errlen, "at most %d posts at once", SN_MAX_TIMELINE);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(keys[i], sizeof keys[i], "%lld", ids[i]);
        keyp[i] = keys[i];
    }
    int rc3 = kit_regression(r) == KIT_REGRESSION_SLOW;
    int cache_ok = !kit_flag_cache_bypass(r) && !rc3, slow = kit_flag_slow_path(r) || rc3;
    for (size_t i = 0; i < n; i++) posts[i] = NULL;
    if (cache_ok && slow) {
        for (size_t i = 0; i < n && cache_ok; i++) {
            int got = kit_mc_get(r, mc, keyp[i], &posts[i], &lens[i], err, errlen);
            if (got < 0) {
                kit_log(r, KIT_WARN, "memcached get of post %s failed: %s", keyp[i], err);
                cache_ok = 0;
            }
        }
    } else if (cache_ok && kit_mc_get_multi(r, mc, keyp, n, posts, lens, err, errlen) < 0) {
        kit_log(r, KIT_WARN, "memcached get of %zu posts failed: %s", n, err);
        cache_ok = 0; /* read them all from the database */
    }
    for (size_t i = 0; i < n; i++) {
        if (posts[i] && !(lens[i] > 0 && posts[i][0] == '{' && !memchr(posts[i], '\0', lens[i]))) {
            free(posts[i]); /* not a document StorePost wrote */
            posts[i] = NULL;
        }
        if (!posts[i]) miss[nmiss++] = ids[i];
    }
    if (nmiss == 0) return 0;
    if (slow) return read_posts_one_by_one(r, ids, n, miss, nmiss, posts, cache_ok, err, errlen);
    char *arr = sn_pg_int_array(miss, nmiss);
    PGresult *res = NULL;
    if (!arr) snprintf(err, errlen, "out of memory");
    else {
        const char *params[] = {arr};
        res = sn_db_exec(r, db, "SELECT post_id, doc FROM posts WHERE post_id = ANY($1::bigint[])", 1, params, err,
                         errlen);
        free(arr);
    }
    if (!res) {
        for (size_t i = 0; i < n; i++) {
            free(posts[i]);
            posts[i] = NULL;
        }
        return -1;
    }
    for (int row = 0; row < PQntuples(res); row++) {
        long long id;
        if (sn_parse_i64(PQgetvalue(res, row, 0), 0, 0x7fffffffffffffffLL, &id) < 0) continue;
        const char *doc = PQgetvalue(res, row, 1);
        if (cache_ok) {
            char e2[256];
            kit_mc_set(r, mc, PQgetvalue(res, row, 0), doc, strlen(doc), 0, e2, sizeof e2);
        }
        for (size_t i = 0; i < n; i++)
            if (ids[i] == id && !posts[i]) posts[i] = strdup(doc);
    }
    PQclear(res);
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static void read_posts_handler(struct kit_req *r, void *arg SN_UNUSED)
{
    json_t *b = sn_body(r);
    if (!b) return;
    json_t *list = json_object_get(b, "post_ids");
    if (!json_is_array(list) || json_array_size(list) > SN_MAX_TIMELINE) {
        kit_reply_error(r, 400, "post_ids must be a list of at most %d ids", SN_MAX_TIMELINE);
        return;
    }
    long long ids[SN_MAX_TIMELINE];
    char *posts[SN_MAX_TIMELINE];
    size_t n = json_array_size(list);
    for (size_t i = 0; i < n; i++) {
        if (sn_value_i64(json_array_get(list, i), 0, 0x7fffffffffffffffLL, &ids[i]) < 0) {
            kit_reply_error(r, 400, "invalid post id at index %zu", i);
            return;
        }
    }
    /* rc2: sorted for the index scan, and the reply built from the sorted list. */
    if (kit_regression(r) == KIT_REGRESSION_WRONG_RESULTS) qsort(ids, n, sizeof ids[0], cmp_id);
    char err[512];
    if (read_posts(r, ids, n, posts, err, sizeof err) < 0) {
        kit_reply_error(r, 500, "%s", err);
        return;
    }
    size_t cap = 16, len = 0;
    for (size_t i = 0; i < n; i++) cap += posts[i] ? strlen(posts[i]) + 1 : 0;
    char *out = malloc(cap);
    if (!out) {
        for (size_t i = 0; i < n; i++) free(posts[i]);
        kit_reply_error(r, 500, "out of memory");
        return;
    }
    len = (size_t)snprintf(out, cap, "{\"posts\":[");
    for (size_t i = 0; i < n; i++) {
        if (!posts[i]) continue;
        if (out[len - 1] != '[') out[len++] = ',';
        size_t l = strlen(posts[i]);
        memcpy(out + len, posts[i], l);
        len += l;
        free(posts[i]);
    }
    memcpy(out + len, "]}", 2);
    len += 2;
    kit_reply_raw(r, 200, "application/json", out, len);
    free(out);
}

static void read_post(struct kit_req *r, void *arg SN_UNUSED)
{
    json_t *b = sn_body(r);
    if (!b) return;
    long long id;
    if (sn_get_i64(b, "post_id", 0, 0x7fffffffffffffffLL, &id) < 0) {
        kit_reply_error(r, 400, "invalid post_id");
        return;
    }
    char *doc = NULL, err[512];
    json_t *post;
    if (read_posts(r, &id, 1, &doc, err, sizeof err) < 0) kit_reply_error(r, 500, "%s", err);
    else if (!doc || !(post = json_loads(doc, 0, NULL))) kit_reply_error(r, 404, "post %lld not found", id);
    else kit_reply_json(r, 200, json_pack("{s:o}", "post", post));
    free(doc);
}

int sn_post_storage_setup(struct kit *k)
{
    sn_store_env("POST_STORAGE_DB", "post-storage-mongodb");
    sn_store_env("POST_STORAGE_MC", "post-storage-memcached");
    db = sn_db_open(k, "POST_STORAGE_DB", schema, NULL);
    mc = kit_mc_new(k, "POST_STORAGE_MC");
    kit_handle(k, "POST", "/StorePost", "store_post", store_post, NULL);
    kit_handle(k, "POST", "/ReadPosts", "read_posts", read_posts_handler, NULL);
    kit_handle(k, "POST", "/ReadPost", "read_post", read_post, NULL);
    return 0;
}
