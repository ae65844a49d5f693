/* rate.c: the rate service (:8084). POST /rates {"hotelIds", "inDate",
 * "outDate"} answers {"ratePlans": [...]}: every rate plan of the hotels
 * asked, highest total rate first, as DeathStarBench's rate does
 * (memcached-rate in front of PostgreSQL mongodb-rate; the cache keeps
 * each hotel's plans as a JSON list under its id).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hr.h"

static struct kit_pg *rate_db;
static struct kit_mc *rate_cache;

static int rate_seed(struct kit *k, PGconn *c)
{
    if (hr_seed_exec(k, c,
                     "CREATE TABLE IF NOT EXISTS rate_plans (hotel_id integer NOT NULL, code text NOT NULL, plan jsonb "
                     "NOT NULL, CONSTRAINT rate_plans_pkey PRIMARY KEY (hotel_id, code))",
                     0, NULL))
        return -1;
    long n = hr_seed_count(k, c, "SELECT count(*) FROM rate_plans");
    if (n < 0) return -1;
    if (n >= HR_HOTELS) return 0;
    if (hr_seed_exec(k, c, "BEGIN", 0, NULL)) return -1;
    for (int id = 1; id <= HR_HOTELS; id++) {
        struct hr_hotel h;
        hr_hotel_seed(id, &h);
        char sid[16];
        snprintf(sid, sizeof sid, "%d", id);
        json_t *plan =
            json_pack("{s:s, s:s, s:s, s:s, s:{s:f, s:f, s:f, s:s, s:s, s:s}}", "hotelId", sid, "code", "RACK",
                      "inDate", h.rate_in, "outDate", h.rate_out, "roomType", "bookableRate", h.bookable_rate,
                      "totalRate", h.bookable_rate, "totalRateInclusive", h.total_rate_inclusive, "code", "KNG",
                      "currency", "USD", "roomDescription", "King sized bed");
        char *text = json_dumps(plan, JSON_COMPACT);
        json_decref(plan);
        const char *p[2] = {sid, text};
        int rc = hr_seed_exec(k, c, "INSERT INTO rate_plans VALUES ($1, 'RACK', $2) ON CONFLICT DO NOTHING", 2, p);
        free(text);
        if (rc) return -1;
    }
    if (hr_seed_exec(k, c, "COMMIT", 0, NULL)) return -1;
    kit_logf(k, KIT_INFO, "seed: rate plans of %d hotels loaded", HR_HOTELS);
    return 0;
}

/* The plans of one hotel (a new JSON list), or NULL after replying. */
static json_t *hotel_plans(struct kit_req *r, int id)
{
    int hit;
    json_t *cached = hr_cache_get(r, rate_cache, id, JSON_ARRAY, "rate plans", &hit);
    if (cached) return cached;
    char key[16], err[512];
    snprintf(key, sizeof key, "%d", id);
    const char *p[1] = {key};
    PGresult *res =
        hr_pg(r, rate_db,
              "SELECT coalesce(json_agg(plan ORDER BY code), '[]')::text FROM rate_plans WHERE hotel_id = $1::int", 1,
              p, err, sizeof err);
    if (!res) {
        kit_reply_error(r, 500, "%s", err);
        return NULL;
    }
    const char *text = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "[]";
    json_t *j = json_loads(text, 0, NULL);
    if (json_is_array(j)) hr_cache_put(r, rate_cache, id, text, 0, hit);
    PQclear(res);
    if (!json_is_array(j)) {
        json_decref(j);
        kit_reply_error(r, 500, "rate plans of hotel %d are not a JSON list", id);
        return NULL;
    }
    return j;
}

static double total_rate(const json_t *plan)
{
    return json_number_value(json_object_get(json_object_get(plan, "roomType"), "totalRate"));
}

static int by_rate_desc(const void *a, const void *b)
{
    double x = total_rate(*(json_t *const *)a), y = total_rate(*(json_t *const *)b);
    return x < y ? 1 : x > y ? -1 : 0;
}

static void rates(struct kit_req *r, void *arg)
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
    long in, out;
    if (n < 0) {
        kit_reply_error(r, 400, "hotelIds must be a list of at most %d hotel ids", HR_MAX_IDS);
        return;
    }
    if (hr_parse_date(json_string_value(json_object_get(b, "inDate")), &in) ||
        hr_parse_date(json_string_value(json_object_get(b, "outDate")), &out)) {
        kit_reply_error(r, 400, "Please check inDate/outDate format (YYYY-MM-DD)");
        return;
    }
    json_t *all[HR_MAX_IDS * 4];
    size_t nall = 0;
    json_t *lists = json_array();
    for (int i = 0; i < n; i++) {
        json_t *plans = hotel_plans(r, ids[i]);
        if (!plans) {
            json_decref(lists);
            return;
        }
        json_array_append_new(lists, plans);
        size_t j;
        json_t *plan;
        json_array_foreach(plans, j, plan) {
            if (nall < sizeof all / sizeof all[0] && json_is_object(plan)) all[nall++] = plan;
        }
    }
    qsort(all, nall, sizeof all[0], by_rate_desc);
    json_t *outp = json_array();
    for (size_t i = 0; i < nall; i++) json_array_append(outp, all[i]);
    json_decref(lists);
    kit_reply_json(r, 200, json_pack("{s:o}", "ratePlans", outp));
}

int hr_rate(void)
{
    struct kit *k = hr_kit_new("rate");
    rate_db = kit_pg_new(k, "RATE_DB");
    rate_cache = kit_mc_new(k, "RATE_CACHE");
    hr_seed_run(k, "RATE_DB", rate_seed);
    kit_handle(k, "POST", "/rates", "GetRates", rates, NULL);
    int rc = kit_serve(k);
    kit_free(k);
    return rc;
}
