/* profile.c: the profile service (:8081). POST /profiles {"hotelIds",
 * "locale"} answers {"hotels": [...]} with each hotel's profile (name,
 * phone, description, address with lat/lon, images) in the order asked,
 * as DeathStarBench's profile does: memcached (memcached-profile) in front
 * of PostgreSQL (mongodb-profile), read with one multi-get and one query
 * for the misses (DeathStarBench's profile does the same with
 * memcached's GetMulti and MongoDB's $in). A cache that fails is logged
 * and bypassed; a database that fails is a 500.
 *
 * Flags: profileSlowPath reads hotel by hotel (a cache get and a query
 * each); profileCacheFailure skips memcached. Releases with regressions
 * (main.c): 1.1.0-rc1 adds the county to the address from a table that
 * forgot the last city (Orinda's hotels fail); 1.1.0-rc3 reads hotel by
 * hotel without the cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hr.h"

static struct kit_pg *profile_db;
static struct kit_mc *profile_cache;

static json_t *profile_json(const struct hr_hotel *h)
{
    char id[16], img[64];
    snprintf(id, sizeof id, "%d", h->id);
    snprintf(img, sizeof img, "https://images.example.com/hotels/%d/main.jpg", h->id);
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:f}, s:[{s:s, s:b}]}", "id", id,
                     "name", h->name, "phoneNumber", h->phone, "description", h->description, "address", "streetNumber",
                     h->street_number, "streetName", h->street_name, "city", h->city, "state", "CA", "country",
                     "United States", "postalCode", h->postal_code, "lat", h->lat, "lon", h->lon, "images", "url", img,
                     "default", 1);
}

static int profile_seed(struct kit *k, PGconn *c)
{
    if (hr_seed_exec(k, c, "CREATE TABLE IF NOT EXISTS hotels (hotel_id integer CONSTRAINT hotels_pkey PRIMARY KEY, profile jsonb NOT NULL)",
                     0, NULL))
        return -1;
    long n = hr_seed_count(k, c, "SELECT count(*) FROM hotels");
    if (n < 0) return -1;
    if (n >= HR_HOTELS) return 0;
    if (hr_seed_exec(k, c, "BEGIN", 0, NULL)) return -1;
    for (int id = 1; id <= HR_HOTELS; id++) {
        struct hr_hotel h;
        hr_hotel_seed(id, &h);
        json_t *j = profile_json(&h);
        char *text = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        char sid[16];
        snprintf(sid, sizeof sid, "%d", id);
        const char *p[2] = {sid, text};
        int rc = hr_seed_exec(k, c, "INSERT INTO hotels VALUES ($1, $2) ON CONFLICT DO NOTHING", 2, p);
        free(text);
        if (rc) return -1;
    }
    if (hr_seed_exec(k, c, "COMMIT", 0, NULL)) return -1;
    kit_logf(k, KIT_INFO, "seed: %d hotel profiles loaded", HR_HOTELS);
    return 0;
}

/* The profile of one hotel: a new reference, or NULL after replying. */
static json_t *get_profile(struct kit_req *r, int id)
{
    int hit;
    json_t *cached = hr_cache_get(r, profile_cache, id, -1, "profile", &hit);
    if (cached) return cached;
    char key[16], err[512];
    snprintf(key, sizeof key, "%d", id);
    const char *p[1] = {key};
    PGresult *res =
        hr_pg(r, profile_db, "SELECT profile::text FROM hotels WHERE hotel_id = $1::int", 1, p, err, sizeof err);
    if (!res) {
        kit_reply_error(r, 500, "%s", err);
        return NULL;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        kit_reply_error(r, 404, "hotel %d not found", id);
        return NULL;
    }
    const char *text = PQgetvalue(res, 0, 0);
    json_t *j = json_loads(text, 0, NULL);
    if (j) hr_cache_put(r, profile_cache, id, text, 0, hit);
    PQclear(res);
    if (!j) kit_reply_error(r, 500, "profile of hotel %d is not valid JSON", id);
    return j;
}

/* The hotels of every (ids[0..n-1]) in hotels[] (new references): one
 * multi-get, then one query for what the cache lacked. 0, or -1 after
 * replying (hotels[] all NULL). */
static int get_profiles_batch(struct kit_req *r, const int *ids, int n, json_t **hotels)
{
    char keys[HR_MAX_IDS][16], err[512];
    const char *kp[HR_MAX_IDS];
    char *vals[HR_MAX_IDS];
    size_t lens[HR_MAX_IDS];
    for (int i = 0; i < n; i++) {
        snprintf(keys[i], sizeof keys[i], "%d", ids[i]);
        kp[i] = keys[i];
        hotels[i] = NULL;
        vals[i] = NULL;
    }
    int cache = hr_cache_on(r);
    if (cache && kit_mc_get_multi(r, profile_cache, kp, (size_t)n, vals, lens, err, sizeof err) < 0) {
        kit_log(r, KIT_ERROR, "memcached: get of %d profiles: %s", n, err);
        cache = 0;
    }
    char arr[HR_MAX_IDS * 12 + 3];
    size_t w = (size_t)snprintf(arr, sizeof arr, "{");
    for (int i = 0; i < n; i++) {
        if (vals[i]) {
            hotels[i] = json_loadb(vals[i], lens[i], 0, NULL);
            free(vals[i]);
            if (!json_is_object(hotels[i])) {
                kit_log(r, KIT_WARN, "memcached: bad cached profile for hotel %d, reloading", ids[i]);
                json_decref(hotels[i]);
                hotels[i] = NULL;
            }
        }
        if (!hotels[i]) w += (size_t)snprintf(arr + w, sizeof arr - w, "%s%d", w > 1 ? "," : "", ids[i]);
    }
    snprintf(arr + w, sizeof arr - w, "}");
    int status = 0;
    if (w > 1) {
        const char *p[1] = {arr};
        PGresult *res = hr_pg(r, profile_db, "SELECT hotel_id, profile::text FROM hotels WHERE hotel_id = ANY($1::int[])",
                              1, p, err, sizeof err);
        if (!res) status = 500;
        for (int row = 0; res && row < PQntuples(res); row++) {
            int id = (int)strtol(PQgetvalue(res, row, 0), NULL, 10);
            const char *text = PQgetvalue(res, row, 1);
            for (int i = 0; i < n; i++) {
                if (ids[i] != id || hotels[i]) continue;
                if (!(hotels[i] = json_loads(text, 0, NULL))) {
                    snprintf(err, sizeof err, "profile of hotel %d is not valid JSON", id);
                    status = 500;
                } else if (cache) {
                    char e2[256];
                    if (kit_mc_set(r, profile_cache, keys[i], text, strlen(text), HR_CACHE_TTL_S, e2, sizeof e2) < 0)
                        kit_log(r, KIT_ERROR, "memcached: set %s: %s", keys[i], e2);
                }
            }
        }
        PQclear(res);
    }
    for (int i = 0; i < n && !status; i++)
        if (!hotels[i]) {
            snprintf(err, sizeof err, "hotel %d not found", ids[i]);
            status = 404;
        }
    if (!status) return 0;
    for (int i = 0; i < n; i++) json_decref(hotels[i]);
    kit_reply_error(r, status, "%s", err);
    return -1;
}

/* rc1: the county of the hotel's city in its address; 0, or -1 after
 * replying. */
static int add_county(struct kit_req *r, json_t *profile)
{
    static const char *const cities[] = {"Martinez",  "Pleasant Hill", "Concord",   "Clayton",
                                         "Lafayette", "Walnut Creek",  "Pittsburg", "Orinda"};
    static const char *const counties[] = {"Contra Costa", "Contra Costa", "Contra Costa", "Contra Costa",
                                           "Contra Costa", "Contra Costa", "Contra Costa"};
    json_t *addr = json_object_get(profile, "address");
    const char *city = json_string_value(json_object_get(addr, "city"));
    for (size_t i = 0; city && i < sizeof cities / sizeof cities[0]; i++) {
        if (strcmp(city, cities[i])) continue;
        if (kit_index_check(r, i, sizeof counties / sizeof counties[0]) < 0) return -1;
        json_object_set_new(addr, "county", json_string(counties[i]));
    }
    return 0;
}

static void profiles(struct kit_req *r, void *arg)
{
    (void)arg;
    char err[512];
    json_t *b = kit_json(r, err, sizeof err);
    if (!b) {
        kit_reply_error(r, 400, "%s", err);
        return;
    }
    int ids[HR_MAX_IDS];
    int n = hr_ids_from_json(json_object_get(b, "hotelIds"), ids, HR_MAX_IDS);
    if (n < 0) {
        kit_reply_error(r, 400, "hotelIds must be a list of at most %d hotel ids", HR_MAX_IDS);
        return;
    }
    json_t *got[HR_MAX_IDS];
    if (kit_flag_slow_path(r) || kit_regression(r) == KIT_REGRESSION_SLOW) {
        for (int i = 0; i < n; i++)
            if (!(got[i] = get_profile(r, ids[i]))) {
                while (i-- > 0) json_decref(got[i]);
                return;
            }
    } else if (get_profiles_batch(r, ids, n, got) < 0) {
        return;
    }
    json_t *hotels = json_array();
    int failed = 0;
    for (int i = 0; i < n; i++) {
        if (!failed && kit_regression(r) == KIT_REGRESSION_ERRORS && add_county(r, got[i]) < 0) failed = 1;
        json_array_append_new(hotels, got[i]);
    }
    if (failed) json_decref(hotels);
    else kit_reply_json(r, 200, json_pack("{s:o}", "hotels", hotels));
}

int hr_profile(void)
{
    struct kit *k = hr_kit_new("profile");
    profile_db = kit_pg_new(k, "PROFILE_DB");
    profile_cache = kit_mc_new(k, "PROFILE_CACHE");
    hr_seed_run(k, "PROFILE_DB", profile_seed);
    kit_handle(k, "POST", "/profiles", "GetProfiles", profiles, NULL);
    int rc = kit_serve(k);
    kit_free(k);
    return rc;
}
