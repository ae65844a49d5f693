/* profile.c: the profile service (:8081). POST /profiles {"hotelIds",
 * "locale"} answers {"hotels": [...]} with each hotel's profile (name,
 * phone, description, address with lat/lon, images) in the order asked,
 * as DeathStarBench's profile does: memcached (memcached-profile) in front
 * of PostgreSQL (mongodb-profile). A cache that fails is logged and
 * bypassed; a database that fails is a 500.
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
    json_t *hotels = json_array();
    for (int i = 0; i < n; i++) {
        json_t *h = get_profile(r, ids[i]);
        if (!h) {
            json_decref(hotels);
            return;
        }
        json_array_append_new(hotels, h);
    }
    kit_reply_json(r, 200, json_pack("{s:o}", "hotels", hotels));
}

int hr_profile(void)
{
    struct kit *k = kit_new("profile");
    profile_db = kit_pg_new(k, "PROFILE_DB");
    profile_cache = kit_mc_new(k, "PROFILE_CACHE");
    hr_seed_run(k, "PROFILE_DB", profile_seed);
    kit_handle(k, "POST", "/profiles", "GetProfiles", profiles, NULL);
    int rc = kit_serve(k);
    kit_free(k);
    return rc;
}
