/* geo.c: the geo service (:8083). POST /nearby {"lat","lon"} answers the
 * ids of the HR_SEARCH_RESULTS hotels nearest to the point within
 * HR_SEARCH_RADIUS_KM, nearest first, as DeathStarBench's geo does. The
 * points live in PostgreSQL (Service mongodb-geo), queried per request.
 */
#include <stdio.h>
#include <stdlib.h>

#include "hr.h"

static struct kit_pg *geo_db;

static int geo_seed(struct kit *k, PGconn *c)
{
    if (hr_seed_exec(k, c,
                     "CREATE TABLE IF NOT EXISTS geo (hotel_id integer CONSTRAINT geo_pkey PRIMARY KEY, lat double precision NOT "
                     "NULL, lon double precision NOT NULL)",
                     0, NULL))
        return -1;
    long n = hr_seed_count(k, c, "SELECT count(*) FROM geo");
    if (n < 0) return -1;
    if (n >= HR_HOTELS) return 0;
    if (hr_seed_exec(k, c, "BEGIN", 0, NULL)) return -1;
    for (int id = 1; id <= HR_HOTELS; id++) {
        struct hr_hotel h;
        hr_hotel_seed(id, &h);
        char sid[16], lat[32], lon[32];
        snprintf(sid, sizeof sid, "%d", id);
        snprintf(lat, sizeof lat, "%.6f", h.lat);
        snprintf(lon, sizeof lon, "%.6f", h.lon);
        const char *p[3] = {sid, lat, lon};
        if (hr_seed_exec(k, c, "INSERT INTO geo VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", 3, p)) return -1;
    }
    if (hr_seed_exec(k, c, "COMMIT", 0, NULL)) return -1;
    kit_logf(k, KIT_INFO, "seed: %d hotel points loaded", HR_HOTELS);
    return 0;
}

static void nearby(struct kit_req *r, void *arg)
{
    (void)arg;
    char err[512];
    json_t *b = kit_json(r, err, sizeof err);
    if (!b) {
        kit_reply_error(r, 400, "%s", err);
        return;
    }
    json_t *jlat = json_object_get(b, "lat"), *jlon = json_object_get(b, "lon");
    double lat = json_number_value(jlat), lon = json_number_value(jlon);
    if (!json_is_number(jlat) || !json_is_number(jlon) || lat < -90 || lat > 90 || lon < -180 || lon > 180) {
        kit_reply_error(r, 400, "lat and lon must be numbers within range");
        return;
    }
    char slat[32], slon[32], radius[32], limit[16];
    snprintf(slat, sizeof slat, "%.6f", lat);
    snprintf(slon, sizeof slon, "%.6f", lon);
    snprintf(radius, sizeof radius, "%.1f", HR_SEARCH_RADIUS_KM);
    snprintf(limit, sizeof limit, "%d", HR_SEARCH_RESULTS);
    const char *p[4] = {slat, slon, radius, limit};
    PGresult *res = hr_pg(r, geo_db,
                          "SELECT hotel_id FROM (SELECT hotel_id, " HR_SQL_DISTANCE
                          " AS km FROM geo) g WHERE km <= $3::float8 ORDER BY km, hotel_id LIMIT $4::int",
                          4, p, err, sizeof err);
    if (!res) {
        kit_reply_error(r, 500, "%s", err);
        return;
    }
    int ids[HR_SEARCH_RESULTS], n = 0;
    for (int i = 0; i < PQntuples(res) && n < HR_SEARCH_RESULTS; i++)
        ids[n++] = (int)strtol(PQgetvalue(res, i, 0), NULL, 10);
    PQclear(res);
    kit_reply_json(r, 200, json_pack("{s:o}", "hotelIds", hr_ids_to_json(ids, n)));
}

int hr_geo(void)
{
    struct kit *k = hr_kit_new("geo");
    geo_db = kit_pg_new(k, "GEO_DB");
    hr_seed_run(k, "GEO_DB", geo_seed);
    kit_handle(k, "POST", "/nearby", "Nearby", nearby, NULL);
    int rc = kit_serve(k);
    kit_free(k);
    return rc;
}
