/* recommendation.c: the recommendation service (:8085). POST
 * /recommendations {"require": "dis"|"rate"|"price", "lat", "lon"} answers
 * {"hotelIds": [...]}: the nearest hotel(s), the best rated, or the
 * cheapest, every hotel tied for the best included, as DeathStarBench's
 * recommendation does. The attributes live in PostgreSQL
 * (mongodb-recommendation), queried per request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hr.h"

static struct kit_pg *rec_db;

static int rec_seed(struct kit *k, PGconn *c)
{
    if (hr_seed_exec(
            k, c,
            "CREATE TABLE IF NOT EXISTS recommend (hotel_id integer CONSTRAINT recommend_pkey PRIMARY KEY, lat double precision NOT NULL, lon "
            "double precision NOT NULL, rate double precision NOT NULL, price double precision NOT NULL)",
            0, NULL))
        return -1;
    long n = hr_seed_count(k, c, "SELECT count(*) FROM recommend");
    if (n < 0) return -1;
    if (n >= HR_HOTELS) return 0;
    if (hr_seed_exec(k, c, "BEGIN", 0, NULL)) return -1;
    for (int id = 1; id <= HR_HOTELS; id++) {
        struct hr_hotel h;
        hr_hotel_seed(id, &h);
        char sid[16], lat[32], lon[32], rate[16], price[16];
        snprintf(sid, sizeof sid, "%d", id);
        snprintf(lat, sizeof lat, "%.6f", h.lat);
        snprintf(lon, sizeof lon, "%.6f", h.lon);
        snprintf(rate, sizeof rate, "%.1f", h.rating);
        snprintf(price, sizeof price, "%.2f", h.price);
        const char *p[5] = {sid, lat, lon, rate, price};
        if (hr_seed_exec(k, c, "INSERT INTO recommend VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING", 5, p))
            return -1;
    }
    if (hr_seed_exec(k, c, "COMMIT", 0, NULL)) return -1;
    kit_logf(k, KIT_INFO, "seed: recommendation attributes of %d hotels loaded", HR_HOTELS);
    return 0;
}

static void recommend(struct kit_req *r, void *arg)
{
    (void)arg;
    char err[512];
    json_t *b = kit_json(r, err, sizeof err);
    if (!b) {
        kit_reply_error(r, 400, "%s", err);
        return;
    }
    const char *require = json_string_value(json_object_get(b, "require"));
    json_t *jlat = json_object_get(b, "lat"), *jlon = json_object_get(b, "lon");
    double lat = json_number_value(jlat), lon = json_number_value(jlon);
    if (!json_is_number(jlat) || !json_is_number(jlon) || lat < -90 || lat > 90 || lon < -180 || lon > 180) {
        kit_reply_error(r, 400, "Please specify location params");
        return;
    }
    const char *sql;
    if (require && !strcmp(require, "dis"))
        sql = "WITH d AS (SELECT hotel_id, " HR_SQL_DISTANCE " AS km FROM recommend) SELECT hotel_id FROM d WHERE km "
                                                             "<= (SELECT min(km) FROM d) + 1e-9 ORDER BY hotel_id";
    else if (require && !strcmp(require, "rate"))
        sql = "SELECT hotel_id FROM recommend WHERE rate = (SELECT max(rate) FROM recommend) AND $1::float8 IS NOT "
              "NULL AND $2::float8 IS NOT NULL ORDER BY hotel_id";
    else if (require && !strcmp(require, "price"))
        sql = "SELECT hotel_id FROM recommend WHERE price = (SELECT min(price) FROM recommend) AND $1::float8 IS NOT "
              "NULL AND $2::float8 IS NOT NULL ORDER BY hotel_id";
    else {
        kit_reply_error(r, 400, "Please specify require params");
        return;
    }
    char slat[32], slon[32];
    snprintf(slat, sizeof slat, "%.6f", lat);
    snprintf(slon, sizeof slon, "%.6f", lon);
    const char *p[2] = {slat, slon};
    PGresult *res = hr_pg(r, rec_db, sql, 2, p, err, sizeof err);
    if (!res) {
        kit_reply_error(r, 500, "%s", err);
        return;
    }
    int ids[HR_MAX_IDS], n = 0;
    for (int i = 0; i < PQntuples(res) && n < HR_MAX_IDS; i++) ids[n++] = (int)strtol(PQgetvalue(res, i, 0), NULL, 10);
    PQclear(res);
    kit_reply_json(r, 200, json_pack("{s:o}", "hotelIds", hr_ids_to_json(ids, n)));
}

int hr_recommendation(void)
{
    struct kit *k = hr_kit_new("recommendation");
    rec_db = kit_pg_new(k, "RECOMMENDATION_DB");
    hr_seed_run(k, "RECOMMENDATION_DB", rec_seed);
    kit_handle(k, "POST", "/recommendations", "GetRecommendations", recommend, NULL);
    int rc = kit_serve(k);
    kit_free(k);
    return rc;
}
