/* test_mwf: the middleware faults' pieces that need no live store — SQL
 * quoting (what keeps a role or table name from becoming SQL), env
 * lookups, the rules of the mitigation checks, and the types' parameter
 * tables (bounds, defaults). */
#include "faults/fault.h"
#include "faults/mwf_util.h"
#include "t.h"

static void test_ident(void)
{
    char out[16];
    T_EQ_INT(mwf_pg_ident("social", out, sizeof out), 0);
    T_EQ_STR(out, "\"social\"");
    T_EQ_INT(mwf_pg_ident("a\"b", out, sizeof out), 0);
    T_EQ_STR(out, "\"a\"\"b\"");
    T_EQ_INT(mwf_pg_ident("a-name-far-too-long", out, sizeof out), -1);
}

static void test_literal(void)
{
    char out[64];
    T_EQ_INT(mwf_pg_literal("it's", out, sizeof out), 0);
    T_EQ_STR(out, "'it''s'");
    T_EQ_INT(mwf_pg_literal("SCRAM-SHA-256$4096:abc=$d+e/f=:g=", out, sizeof out), 0);
    T_EQ_STR(out, "'SCRAM-SHA-256$4096:abc=$d+e/f=:g='");
    T_EQ_INT(mwf_pg_literal("back\\slash", out, sizeof out), -1); /* refused, not guessed */
}

static void test_env(void)
{
    struct mwf_store s = {.env = json_pack("{s:s, s:s, s:s}", "APP_DB_USER", "social", "POSTGRES_PASSWORD", "pw",
                                           "POSTGRES_DB", "")};
    struct fault_ctx c = {0};
    T_EQ_STR(mwf_pg_app_user(&c, &s), "social");
    T_EQ_STR(mwf_pg_admin_user(&s), "postgres");      /* POSTGRES_USER unset: the image's default */
    T_EQ_STR(mwf_pg_app_db(&s), "postgres");          /* an empty POSTGRES_DB counts as unset */
    json_object_del(s.env, "APP_DB_USER");
    T_CHECK(mwf_pg_app_user(&c, &s) == NULL);
    T_CHECK(strstr(c.err, "APP_DB_USER") != NULL);
    json_decref(s.env);
}

static void test_fixed_rules(void)
{
    /* privilege lists as the faults save them */
    T_CHECK(mwf_priv_listed("DELETE,INSERT,SELECT*,UPDATE", "SELECT"));
    T_CHECK(mwf_priv_listed("DELETE,INSERT,SELECT*,UPDATE", "UPDATE"));
    T_CHECK(!mwf_priv_listed("SELECT", "INSERT"));
    T_CHECK(!mwf_priv_listed("TRUNCATE", "UPDATE"));
    T_CHECK(!mwf_priv_listed("", "SELECT"));
    /* an index is its shape, whatever its name or uniqueness */
    const char *a = "CREATE INDEX follows_followee ON public.follows USING btree (followee)";
    T_EQ_STR(mwf_index_shape(a), "public.follows USING btree (followee)");
    T_EQ_STR(mwf_index_shape("CREATE UNIQUE INDEX x ON public.follows USING btree (followee)"), mwf_index_shape(a));
    T_CHECK(strcmp(mwf_index_shape("CREATE INDEX y ON public.follows USING btree (follower)"), mwf_index_shape(a)));
    T_CHECK(mwf_index_shape("garbage") == NULL);
    /* connection slots: the pools' need, capped by what there was */
    T_EQ_INT(mwf_pg_slots_needed(97, 4), 14);
    T_EQ_INT(mwf_pg_slots_needed(97, 40), 80);
    T_EQ_INT(mwf_pg_slots_needed(20, 40), 20);
    T_EQ_INT(mwf_pg_slots_needed(0, 0), 10);
    T_CHECK(2 < mwf_pg_slots_needed(97, 4)); /* the fault's default (2 slots) is never enough */
    /* redis writes */
    T_CHECK(mwf_redis_writable(0, 5 << 20, "noeviction"));
    T_CHECK(mwf_redis_writable(6 << 20, 5 << 20, "allkeys-lru"));
    T_CHECK(!mwf_redis_writable(6 << 20, 5 << 20, "noeviction"));
    T_CHECK(!mwf_redis_writable(6 << 20, 5 << 20, "volatile-lru"));
    T_CHECK(mwf_redis_writable((5 << 20) + MWF_REDIS_ROOM, 5 << 20, "noeviction"));
}

static json_t *validate(const char *type, const char *key, const char *value, char *err, size_t n)
{
    json_t *given = json_object();
    if (key) json_object_set_new(given, key, json_string(value));
    json_t *p = fault_params_validate(fault_type_find(type), given, err, n);
    json_decref(given);
    return p;
}

static void test_params(void)
{
    char err[512];
    json_t *p = validate("redis-maxmemory-noeviction", NULL, NULL, err, sizeof err);
    T_CHECK(p);
    T_EQ_INT(json_integer_value(json_object_get(p, "headroom")), 1000); /* k: 1000, Ki: 1024 */
    json_decref(p);
    T_CHECK(!validate("db-max-connections", "connections", "0", err, sizeof err));
    T_CHECK(strstr(err, "out of range") != NULL);
    T_CHECK(!validate("db-lock", "mode", "share", err, sizeof err));
    T_CHECK(!validate("db-drop-index", "index", "x; DROP TABLE posts", err, sizeof err));
    p = validate("db-lock", "table", "public.posts", err, sizeof err);
    T_CHECK(p);
    T_EQ_STR(json_string_value(json_object_get(p, "mode")), "exclusive");
    json_decref(p);
}

static void test_registry(void)
{
    static const char *const ids[] = {"db-revoke-privileges", "db-drop-user", "db-password-change",
                                      "db-max-connections", "db-drop-index", "db-lock",
                                      "db-connection-exhaustion", "redis-maxmemory-noeviction", "cache-flush",
                                      "memcached-down", "store-kill"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        const struct fault_type *t = fault_type_find(ids[i]);
        T_CHECK(t);
        T_EQ_INT(t->layer, FAULT_MIDDLEWARE);
        T_CHECK(t->target == FT_POSTGRES || t->target == FT_REDIS || t->target == FT_MEMCACHED ||
                t->target == FT_STORE);
    }
    T_CHECK(fault_type_find("db-lock")->run && fault_type_find("db-connection-exhaustion")->run);
    /* what an operator can fix has a mitigation check; what heals by itself has none */
    static const char *const fixable[] = {"db-revoke-privileges", "db-drop-user", "db-password-change",
                                          "db-max-connections", "db-drop-index", "db-lock",
                                          "redis-maxmemory-noeviction", "memcached-down"};
    for (size_t i = 0; i < sizeof fixable / sizeof fixable[0]; i++) T_CHECK(fault_type_find(fixable[i])->fixed);
    T_CHECK(!fault_type_find("cache-flush")->fixed && !fault_type_find("store-kill")->fixed);
}

int main(void)
{
    T_RUN(test_ident);
    T_RUN(test_literal);
    T_RUN(test_env);
    T_RUN(test_fixed_rules);
    T_RUN(test_params);
    T_RUN(test_registry);
    return t_done();
}
