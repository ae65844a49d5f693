/* url_shorten.c: url-shorten-service. ComposeUrls gives every url a short
 * form http://short-url.com/XXXXXXXXXX (ten base-62 characters of a stable
 * hash of the url, so the same url always gets the same short form),
 * records the pair in url-shorten-mongodb (PostgreSQL, table urls) and
 * caches it in url-shorten-memcached. GetExtendedUrls maps short forms
 * back, cache first.
 */
#include "sn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHORT_PREFIX "http://short-url.com/"
#define MAX_URL 2048

static struct sn_db *db;
static struct kit_mc *mc;

static const char schema[] = "CREATE TABLE IF NOT EXISTS urls (shortened_url text CONSTRAINT urls_pkey PRIMARY KEY, "
                             "expanded_url text NOT NULL)";

static void shorten(const char *url, char *out, size_t n)
{
    static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    uint64_t h = sn_hash64(url, strlen(url));
    char code[11];
    for (int i = 0; i < 10; i++) {
        code[i] = b62[h % 62];
        h /= 62;
        if (i == 4) h ^= sn_hash64(code, 5); /* refill the bits the first five used */
    }
    code[10] = '\0';
    snprintf(out, n, "%s%s", SHORT_PREFIX, code);
}

static void compose_urls(struct kit_req *r, void *arg SN_UNUSED)
{
    json_t *b = sn_body(r);
    if (!b) return;
    json_t *urls = json_object_get(b, "urls");
    if (!json_is_array(urls) || json_array_size(urls) > SN_MAX_LIST) {
        kit_reply_error(r, 400, "urls must be a list of at most %d urls", SN_MAX_LIST);
        return;
    }
    json_t *out = json_array();
    size_t i;
    json_t *u;
    json_array_foreach(urls, i, u) {
        const char *url = json_string_value(u);
        if (!url || !*url || strlen(url) > MAX_URL) {
            kit_reply_error(r, 400, "invalid url at index %zu", i);
            json_decref(out);
            return;
        }
        char s[64], err[512];
        shorten(url, s, sizeof s);
        const char *params[] = {s, url};
        PGresult *res = sn_db_exec(r, db,
                                    "INSERT INTO urls (shortened_url, expanded_url) VALUES ($1, $2) "
                                    "ON CONFLICT (shortened_url) DO NOTHING",
                                    2, params, err, sizeof err);
        if (!res) {
            kit_reply_error(r, 500, "%s", err);
            json_decref(out);
            return;
        }
        PQclear(res);
        if (kit_mc_set(r, mc, s, url, strlen(url), 0, err, sizeof err) < 0)
            kit_log(r, KIT_WARN, "memcached set %s failed: %s", s, err);
        json_array_append_new(out, json_pack("{s:s, s:s}", "shortened_url", s, "expanded_url", url));
    }
    kit_reply_json(r, 200, json_pack("{s:o}", "urls", out));
}

static void get_extended_urls(struct kit_req *r, void *arg SN_UNUSED)
{
    json_t *b = sn_body(r);
    if (!b) return;
    json_t *list = json_object_get(b, "shortened_urls");
    if (!json_is_array(list) || json_array_size(list) > SN_MAX_LIST) {
        kit_reply_error(r, 400, "shortened_urls must be a list of at most %d urls", SN_MAX_LIST);
        return;
    }
    json_t *out = json_array();
    size_t i;
    json_t *u;
    json_array_foreach(list, i, u) {
        const char *s = json_string_value(u);
        char err[512];
        if (!s || strncmp(s, SHORT_PREFIX, strlen(SHORT_PREFIX)) != 0 || strlen(s) > 64) {
            kit_reply_error(r, 400, "invalid short url at index %zu", i);
            json_decref(out);
            return;
        }
        char *val = NULL;
        size_t len = 0;
        if (kit_mc_get(r, mc, s, &val, &len, err, sizeof err) == 1) {
            json_array_append_new(out, json_stringn(val, len));
            free(val);
            continue;
        }
        const char *params[] = {s};
        PGresult *res = sn_db_exec(r, db, "SELECT expanded_url FROM urls WHERE shortened_url = $1", 1, params, err,
                                    sizeof err);
        if (!res) {
            kit_reply_error(r, 500, "%s", err);
            json_decref(out);
            return;
        }
        if (PQntuples(res) == 0) {
            PQclear(res);
            kit_reply_error(r, 404, "short url %s not found", s);
            json_decref(out);
            return;
        }
        const char *x = PQgetvalue(res, 0, 0);
        kit_mc_set(r, mc, s, x, strlen(x), 0, err, sizeof err);
        json_array_append_new(out, json_string(x));
        PQclear(res);
    }
    kit_reply_json(r, 200, json_pack("{s:o}", "urls", out));
}

int sn_url_shorten_setup(struct kit *k)
{
    sn_store_env("URL_SHORTEN_DB", "url-shorten-mongodb");
    sn_store_env("URL_SHORTEN_MC", "url-shorten-memcached");
    db = sn_db_open(k, "URL_SHORTEN_DB", schema, NULL);
    mc = kit_mc_new(k, "URL_SHORTEN_MC");
    kit_handle(k, "POST", "/ComposeUrls", "compose_urls", compose_urls, NULL);
    kit_handle(k, "POST", "/GetExtendedUrls", "get_extended_urls", get_extended_urls, NULL);
    return 0;
}
