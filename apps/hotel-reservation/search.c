/* search.c: the search service (:8082). POST /nearby {"lat", "lon",
 * "inDate", "outDate"} asks geo for the hotels near the point, then rate
 * for their rate plans, and answers {"hotelIds": [...]} in rate order: the
 * hotels that have a rate plan, as DeathStarBench's search does. No store
 * of its own.
 */
#include <stdio.h>
#include <string.h>

#include "hr.h"

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
    json_t *geo_reply = NULL;
    json_t *q = json_pack("{s:O, s:O}", "lat", lat, "lon", lon);
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
    json_t *rate_reply = NULL;
    q = json_pack("{s:o, s:O, s:O}", "hotelIds", hr_ids_to_json(ids, n), "inDate", in, "outDate", out);
    st = kit_call(r, "rate", "POST", "/rates", q, &rate_reply, err, sizeof err);
    json_decref(q);
    if (st != 200) {
        hr_reply_downstream(r, "rate", st, rate_reply, err);
        json_decref(rate_reply);
        return;
    }
    json_t *plans = json_object_get(rate_reply, "ratePlans");
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
    json_decref(rate_reply);
    kit_reply_json(r, 200, json_pack("{s:o}", "hotelIds", result));
}

int hr_search(void)
{
    struct kit *k = kit_new("search");
    kit_handle(k, "POST", "/nearby", "Nearby", nearby, NULL);
    int rc = kit_serve(k);
    kit_free(k);
    return rc;
}
