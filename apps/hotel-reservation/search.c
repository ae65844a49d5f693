/* search.c: the search service (:8082). POST /nearby {"lat", "lon",
 * "inDate", "outDate"} asks geo for the hotels near the point, then rate
 * for their rate plans, and answers {"hotelIds": [...]} in rate order: the
 * hotels that have a rate plan, as DeathStarBench's search does. No store
 * of its own.
 *
 * Releases with regressions (main.c): 1.1.0-rc1 files the point under one
 * of four latitude bands counted from the area's southern edge, which stop
 * short of its northern fifth (searches there fail); 1.1.0-rc2 asks geo
 * with the coordinates cut to one decimal (up to ~14 km off: hotels
 * outside the area asked for); 1.1.0-rc3 asks rate for one hotel per call.
 */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "hr.h"

static double total_rate(const json_t *plan)
{
    return json_number_value(json_object_get(json_object_get(plan, "roomType"), "totalRate"));
}

static int by_rate_desc(const void *a, const void *b)
{
    double x = total_rate(*(json_t *const *)a), y = total_rate(*(json_t *const *)b);
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Rate plans from several replies in rate's order: highest total rate first. */
static void sort_by_rate(json_t *plans)
{
    size_t n = json_array_size(plans);
    json_t **v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return;
    for (size_t i = 0; i < n; i++) v[i] = json_incref(json_array_get(plans, i));
    qsort(v, n, sizeof v[0], by_rate_desc);
    json_array_clear(plans);
    for (size_t i = 0; i < n; i++) json_array_append_new(plans, v[i]);
    free(v);
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
    json_t *lat = json_object_get(b, "lat"), *lon = json_object_get(b, "lon");
    json_t *in = json_object_get(b, "inDate"), *out = json_object_get(b, "outDate");
    if (!json_is_number(lat) || !json_is_number(lon) || !json_is_string(in) || !json_is_string(out)) {
        kit_reply_error(r, 400, "lat, lon, inDate and outDate are required");
        return;
    }
    if (kit_regression(r) == KIT_REGRESSION_ERRORS) {
        /* rc1: the region of the point, in bands of 0.096 degrees. */
        static const char *const bands[] = {"south", "south-central", "north-central", "north"};
        double off = (json_number_value(lat) - 37.7825) / 0.096;
        size_t band = off > 0 ? (size_t)off : 0;
        if (kit_index_check(r, band, sizeof bands / sizeof bands[0]) < 0) return;
        kit_log(r, KIT_DEBUG, "search in region %s", bands[band]);
    }
    json_t *geo_reply = NULL;
    json_t *q = kit_regression(r) == KIT_REGRESSION_WRONG_RESULTS /* rc2: a coarser point */
                    ? json_pack("{s:f, s:f}", "lat", trunc(json_number_value(lat) * 10) / 10, "lon",
                                trunc(json_number_value(lon) * 10) / 10)
                    : json_pack("{s:O, s:O}", "lat", lat, "lon", lon);
    int st = kit_call(r, "geo", "POST", "/nearby", q, &geo_reply, err, sizeof err);
    json_decref(q);
    if (st != 200) {
        hr_reply_downstream(r, "geo", st, geo_reply, err);
        json_decref(geo_reply);
        return;
    }
    int ids[HR_MAX_IDS];
    int n = hr_ids_from_json(json_object_get(geo_reply, "hotelIds"), ids, HR_MAX_IDS);
    json_decref(geo_reply);
    if (n < 0) {
        kit_reply_error(r, 500, "geo: answer without hotelIds");
        return;
    }
    if (n == 0) {
        kit_reply_json(r, 200, json_pack("{s:[]}", "hotelIds"));
        return;
    }
    /* rc3 asks for one hotel per call (and sorts the plans itself). */
    int per_call = kit_regression(r) == KIT_REGRESSION_SLOW ? 1 : n;
    json_t *plans = json_array();
    for (int at = 0; at < n; at += per_call) {
        json_t *rate_reply = NULL;
        q = json_pack("{s:o, s:O, s:O}", "hotelIds", hr_ids_to_json(ids + at, at + per_call <= n ? per_call : n - at),
                      "inDate", in, "outDate", out);
        st = kit_call(r, "rate", "POST", "/rates", q, &rate_reply, err, sizeof err);
        json_decref(q);
        if (st != 200) {
            hr_reply_downstream(r, "rate", st, rate_reply, err);
            json_decref(rate_reply);
            json_decref(plans);
            return;
        }
        json_array_extend(plans, json_object_get(rate_reply, "ratePlans"));
        json_decref(rate_reply);
    }
    if (per_call < n) sort_by_rate(plans);
    json_t *result = json_array();
    size_t i;
    json_t *plan;
    json_array_foreach(plans, i, plan) {
        json_t *id = json_object_get(plan, "hotelId");
        if (!json_is_string(id) || json_array_size(result) >= HR_MAX_IDS) continue;
        /* One entry per hotel, even when it has several plans. */
        int seen = 0;
        size_t j;
        json_t *s;
        json_array_foreach(result, j, s) seen |= json_equal(s, id);
        if (!seen) json_array_append(result, id);
    }
    json_decref(plans);
    kit_reply_json(r, 200, json_pack("{s:o}", "hotelIds", result));
}

int hr_search(void)
{
    struct kit *k = hr_kit_new("search");
    kit_handle(k, "POST", "/nearby", "Nearby", nearby, NULL);
    int rc = kit_serve(k);
    kit_free(k);
    return rc;
}
