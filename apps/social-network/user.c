/* user.c: user-service. Users live in user-mongodb (PostgreSQL, table
 * users: user_id, username, names, a salt and the salted SHA-256 of the
 * password) with user-memcached in front for the lookups every compose and
 * follow makes. At first start it loads the seed users username_1 ..
 * username_962 (password password_N, as DeathStarBench's
 * init_social_graph.py registers them).
 *
 * RegisterUserWithId, Login, ComposeCreatorWithUserId (checks that the
 * user exists), GetUserId (by username) and GetUser (by id).
 *
 * Releases with regressions (main.c): 1.1.0-rc1 spreads the by-id cache
 * keys over key prefixes picked by user_id % 5 from a table of four, so a
 * fifth of the users cannot be looked up; 1.1.0-rc3 dropped the cache
 * (every lookup is a query).
 */
#include "sn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct sn_db *db;
static struct kit_mc *mc;

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS users (user_id bigint CONSTRAINT users_pkey PRIMARY KEY, "
    "username text NOT NULL CONSTRAINT users_username_key UNIQUE, "
    "first_name text NOT NULL, last_name text NOT NULL, salt text NOT NULL, password_hash text NOT NULL)";

static int seed(PGconn *c, char *err, size_t errlen)
{
    char n[16];
    snprintf(n, sizeof n, "%d", SN_USERS);
    const char *params[] = {n};
    return sn_pg_run(c,
                     "INSERT INTO users (user_id, username, first_name, last_name, salt, password_hash) "
                     "SELECT g, 'username_' || g, 'first_name_' || g, 'last_name_' || g, s.salt, "
                     "encode(sha256(convert_to(s.salt || 'password_' || g, 'UTF8')), 'hex') "
                     "FROM generate_series(1, $1::int) g, LATERAL (SELECT md5('salt' || g) AS salt) s "
                     "WHERE NOT EXISTS (SELECT 1 FROM users)",
                     1, params, err, errlen);
}

/* Whether this request uses user-memcached. */
static int cache_on(const struct kit_req *r)
{
    return !kit_flag_cache_bypass(r) && kit_regression(r) != KIT_REGRESSION_SLOW;
}

/* The username of user_id: 1 found, 0 unknown, -1 failed (err), -2
 * answered already. */
static int username_of(struct kit_req *r, long long id, char *name, size_t n, char *err, size_t errlen)
{
    char key[40], ids[24];
    snprintf(key, sizeof key, "user:%lld", id);
    if (kit_regression(r) == KIT_REGRESSION_ERRORS) {
        /* rc1: the cache's key space split into shards. */
        static const char *const shards[] = {"s0", "s1", "s2", "s3"};
        size_t shard = (size_t)(id % 5);
        if (kit_index_check(r, shard, sizeof shards / sizeof shards[0]) < 0) return -2;
        snprintf(key, sizeof key, "%s:user:%lld", shards[shard], id);
    }
    snprintf(ids, sizeof ids, "%lld", id);
    char *val = NULL;
    size_t len = 0;
    int cache = cache_on(r);
    if (cache && kit_mc_get(r, mc, key, &val, &len, err, errlen) == 1) {
        snprintf(name, n, "%.*s", (int)len, val);
        free(val);
        return 1;
    }
    const char *params[] = {ids};
    PGresult *res = sn_db_exec(r, db, "SELECT username FROM users WHERE user_id = $1", 1, params, err, errlen);
    if (!res) return -1;
    int found = PQntuples(res) > 0;
    if (found) {
        snprintf(name, n, "%s", PQgetvalue(res, 0, 0));
        if (cache) kit_mc_set(r, mc, key, name, strlen(name), 0, err, errlen);
    }
    PQclear(res);
    return found;
}

/* The id of username: 1 found, 0 unknown, -1 failed (err). */
static int id_of(struct kit_req *r, const char *username, long long *id, char *err, size_t errlen)
{
    char key[96];
    snprintf(key, sizeof key, "%s:user_id", username);
    char *val = NULL;
    size_t len = 0;
    int cache = cache_on(r);
    if (cache && kit_mc_get(r, mc, key, &val, &len, err, errlen) == 1) {
        char b[24];
        snprintf(b, sizeof b, "%.*s", (int)len, val);
        free(val);
        if (sn_parse_i64(b, 1, SN_MAX_USER_ID, id) == 0) return 1;
    }
    const char *params[] = {username};
    PGresult *res = sn_db_exec(r, db, "SELECT user_id FROM users WHERE username = $1", 1, params, err, errlen);
    if (!res) return -1;
    int found = PQntuples(res) > 0 && sn_parse_i64(PQgetvalue(res, 0, 0), 1, SN_MAX_USER_ID, id) == 0;
    if (found && cache) kit_mc_set(r, mc, key, PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)), 0, err, errlen);
    PQclear(res);
    return found;
}

static void register_user(struct kit_req *r, void *arg SN_UNUSED)
{
    json_t *b = sn_body(r);
    if (!b) return;
    const char *first = sn_get_str(b, "first_name"), *last = sn_get_str(b, "last_name");
    const char *username = sn_get_str(b, "username"), *password = sn_get_str(b, "password");
    long long id;
    if (!first || !last || !username || !password || sn_get_i64(b, "user_id", 1, SN_MAX_USER_ID, &id) < 0) {
        kit_reply_error(r, 400, "Incomplete arguments");
        return;
    }
    if (!sn_valid_username(username)) {
        kit_reply_error(r, 400, "invalid username (1-64 of A-Z a-z 0-9 _ . -)");
        return;
    }
    if (strlen(first) > 128 || strlen(last) > 128 || strlen(password) > 128 || !*password) {
        kit_reply_error(r, 400, "names and password must be 1-128 bytes");
        return;
    }
    char ids[24], err[512];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *params[] = {ids, username, first, last, password};
    PGresult *res = sn_db_exec(r, db,
                                "INSERT INTO users (user_id, username, first_name, last_name, salt, password_hash) "
                                "SELECT $1, $2, $3, $4, s.salt, encode(sha256(convert_to(s.salt || $5, 'UTF8')), 'hex') "
                                "FROM (SELECT md5(random()::text) AS salt) s ON CONFLICT DO NOTHING RETURNING user_id",
                                5, params, err, sizeof err);
    if (!res) {
        kit_reply_error(r, 500, "%s", err);
        return;
    }
    int inserted = PQntuples(res) > 0;
    PQclear(res);
    if (!inserted) {
        kit_reply_error(r, 409, "User %s already existed", username);
        return;
    }
    kit_log(r, KIT_INFO, "registered user %s (user_id %lld)", username, id);
    json_t *rep = NULL;
    int st = sn_call(r, "social-graph-service", "/InsertUser", json_pack("{s:I}", "user_id", (json_int_t)id), &rep, err,
                     sizeof err);
    json_decref(rep);
    if (st / 100 != 2) {
        sn_reply_downstream(r, st, "InsertUser failed", err);
        return;
    }
    kit_reply_json(r, 200, json_pack("{s:o, s:s}", "user_id", sn_id_json(id), "username", username));
}

static void login(struct kit_req *r, void *arg SN_UNUSED)
{
    json_t *b = sn_body(r);
    if (!b) return;
    const char *username = sn_get_str(b, "username"), *password = sn_get_str(b, "password");
    if (!username || !password || strlen(password) > 128) {
        kit_reply_error(r, 400, "Incomplete arguments");
        return;
    }
    char err[512];
    const char *params[] = {username, password};
    PGresult *res = sn_db_exec(r, db,
                                "SELECT user_id, password_hash = " "encode(sha256(convert_to(salt || $2, 'UTF8')), 'hex') "
                                "FROM users WHERE username = $1",
                                2, params, err, sizeof err);
    if (!res) {
        kit_reply_error(r, 500, "%s", err);
        return;
    }
    if (PQntuples(res) == 0) kit_reply_error(r, 404, "User %s not found", username);
    else if (strcmp(PQgetvalue(res, 0, 1), "t") != 0) kit_reply_error(r, 401, "Incorrect username or password");
    else {
        char token[40];
        snprintf(token, sizeof token, "%016llx", (unsigned long long)sn_hash64(PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0))));
        kit_reply_json(r, 200, json_pack("{s:s, s:s}", "user_id", PQgetvalue(res, 0, 0), "token", token));
    }
    PQclear(res);
}

static void compose_creator(struct kit_req *r, void *arg SN_UNUSED)
{
    json_t *b = sn_body(r);
    if (!b) return;
    long long id;
    const char *username = sn_get_str(b, "username");
    if (!username || sn_get_i64(b, "user_id", 1, SN_MAX_USER_ID, &id) < 0) {
        kit_reply_error(r, 400, "Incomplete arguments");
        return;
    }
    char name[96], err[512];
    int f = username_of(r, id, name, sizeof name, err, sizeof err);
    if (f == -2) return;
    if (f < 0) kit_reply_error(r, 500, "%s", err);
    else if (!f) kit_reply_error(r, 404, "user_id %lld not found", id);
    else if (strcmp(name, username) != 0) kit_reply_error(r, 400, "username %s does not match user_id %lld", username, id);
    else kit_reply_json(r, 200, json_pack("{s:{s:o, s:s}}", "creator", "user_id", sn_id_json(id), "username", name));
}

static void get_user_id(struct kit_req *r, void *arg SN_UNUSED)
{
    json_t *b = sn_body(r);
    if (!b) return;
    const char *username = sn_get_str(b, "username");
    if (!sn_valid_username(username)) {
        kit_reply_error(r, 400, "invalid username");
        return;
    }
    long long id;
    char err[512];
    int f = id_of(r, username, &id, err, sizeof err);
    if (f < 0) kit_reply_error(r, 500, "%s", err);
    else if (!f) kit_reply_error(r, 404, "User %s not found", username);
    else kit_reply_json(r, 200, json_pack("{s:I}", "user_id", (json_int_t)id));
}

static void get_user(struct kit_req *r, void *arg SN_UNUSED)
{
    json_t *b = sn_body(r);
    if (!b) return;
    long long id;
    if (sn_get_i64(b, "user_id", 1, SN_MAX_USER_ID, &id) < 0) {
        kit_reply_error(r, 400, "invalid user_id");
        return;
    }
    char name[96], err[512];
    int f = username_of(r, id, name, sizeof name, err, sizeof err);
    if (f == -2) return;
    if (f < 0) kit_reply_error(r, 500, "%s", err);
    else if (!f) kit_reply_error(r, 404, "user_id %lld not found", id);
    else kit_reply_json(r, 200, json_pack("{s:I, s:s}", "user_id", (json_int_t)id, "username", name));
}

int sn_user_setup(struct kit *k)
{
    sn_store_env("USER_DB", "user-mongodb");
    sn_store_env("USER_MC", "user-memcached");
    db = sn_db_open(k, "USER_DB", schema, seed);
    mc = kit_mc_new(k, "USER_MC");
    kit_handle(k, "POST", "/RegisterUserWithId", "register_user", register_user, NULL);
    kit_handle(k, "POST", "/Login", "login", login, NULL);
    kit_handle(k, "POST", "/ComposeCreatorWithUserId", "compose_creator_with_userid", compose_creator, NULL);
    kit_handle(k, "POST", "/GetUserId", "get_user_id", get_user_id, NULL);
    kit_handle(k, "POST", "/GetUser", "get_user", get_user, NULL);
    return 0;
}
