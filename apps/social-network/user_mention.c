/* user_mention.c: user-mention-service. ComposeUserMentions resolves the
 * usernames a post mentions to user ids, as DeathStarBench does: from
 * user-memcached first, the misses in one query to user-mongodb
 * (PostgreSQL, the users table user-service owns). Unknown usernames are
 * left out: a mention of nobody is plain text.
 */
#include "sn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct sn_db *db;
static struct kit_mc *mc;

static void compose_user_mentions(struct kit_req *r, void *arg SN_UNUSED)
{
    json_t *b = sn_body(r);
    if (!b) return;
    json_t *names = json_object_get(b, "usernames");
    if (!json_is_array(names) || json_array_size(names) > SN_MAX_LIST) {
        kit_reply_error(r, 400, "usernames must be a list of at most %d names", SN_MAX_LIST);
        return;
    }
    json_t *out = json_array();
    char misses[SN_MAX_LIST * 70 + 3], err[512];
    size_t mlen = 0, nmiss = 0, i;
    json_t *v;
    misses[mlen++] = '{';
    json_array_foreach(names, i, v) {
        const char *name = json_string_value(v);
        if (!sn_valid_username(name)) continue; /* not a username: stays text */
        char key[96], *val = NULL;
        size_t len = 0;
        long long id;
        snprintf(key, sizeof key, "%s:user_id", name);
        if (kit_mc_get(r, mc, key, &val, &len, err, sizeof err) == 1) {
            char num[24];
            snprintf(num, sizeof num, "%.*s", (int)len, val);
            free(val);
            if (sn_parse_i64(num, 1, SN_MAX_USER_ID, &id) == 0) {
                json_array_append_new(out, json_pack("{s:o, s:s}", "user_id", sn_id_json(id), "username", name));
                continue;
            }
        }
        mlen += (size_t)snprintf(misses + mlen, sizeof misses - mlen, "%s\"%s\"", nmiss++ ? "," : "", name);
    }
    misses[mlen++] = '}';
    misses[mlen] = '\0';
    if (nmiss > 0) {
        const char *params[] = {misses};
        PGresult *res = sn_db_exec(r, db, "SELECT user_id, username FROM users WHERE username = ANY($1::text[])", 1,
                                    params, err, sizeof err);
        if (!res) {
            json_decref(out);
            kit_reply_error(r, 500, "%s", err);
            return;
        }
        for (int row = 0; row < PQntuples(res); row++) {
            const char *id = PQgetvalue(res, row, 0), *name = PQgetvalue(res, row, 1);
            char key[96];
            snprintf(key, sizeof key, "%s:user_id", name);
            kit_mc_set(r, mc, key, id, strlen(id), 0, err, sizeof err);
            json_array_append_new(out, json_pack("{s:s, s:s}", "user_id", id, "username", name));
        }
        PQclear(res);
    }
    kit_reply_json(r, 200, json_pack("{s:o}", "user_mentions", out));
}

int sn_user_mention_setup(struct kit *k)
{
    sn_store_env("USER_DB", "user-mongodb");
    sn_store_env("USER_MC", "user-memcached");
    db = sn_db_open(k, "USER_DB", NULL, NULL);
    mc = kit_mc_new(k, "USER_MC");
    kit_handle(k, "POST", "/ComposeUserMentions", "compose_user_mentions", compose_user_mentions, NULL);
    return 0;
}
