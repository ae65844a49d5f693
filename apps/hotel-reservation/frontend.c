/* frontend.c: the front end (:5000), DeathStarBench's HTTP API as its wrk2
 * script calls it:
 *   GET  /hotels?inDate=&outDate=&lat=&lon=          search -> reservation
 * (availability) -> profile GET
 * /recommendations?require=dis|rate|price&lat=&lon=   recommendation -> profile
 *   POST /user?username=&password=                   user
 *   POST
 * /reservation?inDate=&outDate=&lat=&lon=&hotelId=&customerName=&username=&password=&number=
 *                                                    user -> reservation
 * Hotels come back as a GeoJSON FeatureCollection; login and reservation as
 * {"message": ...} in DeathStarBench's words. Missing or malformed
 * parameters are 400 with DeathStarBench's message as a JSON error; a
 * wrong password is 401, a full hotel 409, an unknown hotel 404, a failure
 * downstream 500 with its cause.
 *
 * Releases with regressions (main.c): 1.1.0-rc1 counts a stay's weekend
 * nights in an array of a week, so searches of stays longer than seven
 * nights fail; 1.1.0-rc2 writes GeoJSON coordinates as [lat, lon] (every
 * hotel lands far outside the area searched); 1.1.0-rc3 asks profile for
 * one hotel per call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hr.h"

#define LOGIN_OK "Login successfully!"
#define LOGIN_FAILED "Failed. Please check your username and password. "
#define RESERVE_OK "Reserve successfully!"
#define RESERVE_FULL "Failed. Already reserved. "

/* inDate/outDate of the query; 0, or -1 after replying 400. */
static int stay_params(struct kit_req *r, long *in, long *out)
{
    const char *sin = kit_param(r, "inDate"), *sout = kit_param(r, "outDate");
    if (!sin || !*sin || !sout || !*sout) {
        kit_reply_error(r, 400, "Please specify inDate/outDate params");
        return -1;
    }
    if (hr_parse_date(sin, in) || hr_parse_date(sout, out) || *out <= *in || *out - *in > HR_MAX_NIGHTS) {
        kit_reply_error(r, 400, "Please check inDate/outDate format (YYYY-MM-DD)");
        return -1;
    }
    return 0;
}

static int location_params(struct kit_req *r, double *lat, double *lon)
{
    const char *slat = kit_param(r, "lat"), *slon = kit_param(r, "lon");
    if (hr_parse_coord(slat, 90, lat) || hr_parse_coord(slon, 180, lon)) {
        kit_reply_error(r, 400, "Please specify location params");
        return -1;
    }
    return 0;
}

/* Profiles of ids as DeathStarBench's GeoJSON answer; replies either way. */
static void reply_hotels(struct kit_req *r, json_t *ids)
{
    char err[512];
    json_t *features = json_array(), *hotels = json_array();
    /* rc3 asks for one hotel per call; the release before asked for all at once. */
    size_t per_call = kit_regression(r) == KIT_REGRESSION_SLOW ? 1 : json_array_size(ids);
    for (size_t at = 0; at < json_array_size(ids); at += per_call) {
        json_t *part = json_array();
        for (size_t j = at; j < at + per_call && j < json_array_size(ids); j++)
            json_array_append(part, json_array_get(ids, j));
        json_t *reply = NULL;
        json_t *q = json_pack("{s:o, s:s}", "hotelIds", part, "locale", "en");
        int st = kit_call(r, "profile", "POST", "/profiles", q, &reply, err, sizeof err);
        json_decref(q);
        if (st != 200) {
            hr_reply_downstream(r, "profile", st, reply, err);
            json_decref(reply);
            json_decref(features);
            json_decref(hotels);
            return;
        }
        json_array_extend(hotels, json_object_get(reply, "hotels"));
        json_decref(reply);
    }
    int swapped = kit_regression(r) == KIT_REGRESSION_WRONG_RESULTS; /* rc2: [lat, lon] */
    size_t i;
    json_t *h;
    json_array_foreach(hotels, i, h) {
        json_t *addr = json_object_get(h, "address");
        json_t *lon = json_object_get(addr, "lon"), *lat = json_object_get(addr, "lat");
        json_t *f = json_pack("{s:s, s:O?, s:{s:O?, s:O?}, s:{s:s, s:[O?, O?]}}", "type", "Feature", "id",
                              json_object_get(h, "id"), "properties", "name", json_object_get(h, "name"),
                              "phone_number", json_object_get(h, "phoneNumber"), "geometry", "type", "Point",
                              "coordinates", swapped ? lat : lon, swapped ? lon : lat);
        if (f) json_array_append_new(features, f);
    }
    json_decref(hotels);
    /* Coordinates with float32's precision, as DeathStarBench prints them. */
    json_t *body = json_pack("{s:s, s:o}", "type", "FeatureCollection", "features", features);
    char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(8));
    json_decref(body);
    if (text)
        kit_reply_text(r, 200, "application/json", text);
    else
        kit_reply_error(r, 500, "out of memory");
    free(text);
}

static void search_hotels(struct kit_req *r, void *arg)
{
    (void)arg;
    long in, out;
    double lat, lon;
    if (stay_params(r, &in, &out) || location_params(r, &lat, &lon)) return;
    if (kit_regression(r) == KIT_REGRESSION_ERRORS) {
        /* rc1: the stay's weekend nights, for the weekend-rate banner. */
        int weekend[7], nweekend = 0;
        for (long d = in; d < out; d++) {
            if (kit_index_check(r, (size_t)(d - in), sizeof weekend / sizeof weekend[0]) < 0) return;
            weekend[d - in] = (d + 3) % 7 >= 5; /* day 0, 1970-01-01, was a Thursday */
            nweekend += weekend[d - in];
        }
        kit_log(r, KIT_DEBUG, "stay of %ld nights, %d on a weekend", out - in, nweekend);
    }
    char din[11], dout[11], err[512];
    hr_format_date(in, din);
    hr_format_date(out, dout);
    json_t *reply = NULL;
    json_t *q = json_pack("{s:f, s:f, s:s, s:s}", "lat", lat, "lon", lon, "inDate", din, "outDate", dout);
    int st = kit_call(r, "search", "POST", "/nearby", q, &reply, err, sizeof err);
    json_decref(q);
    if (st != 200 || !json_is_array(json_object_get(reply, "hotelIds"))) {
        hr_reply_downstream(r, "search", st == 200 ? 502 : st, reply, err);
        json_decref(reply);
        return;
    }
    json_t *ids = json_incref(json_object_get(reply, "hotelIds"));
    json_decref(reply);
    if (json_array_size(ids) > 0) {
        reply = NULL;
        q = json_pack("{s:O, s:s, s:s, s:i}", "hotelIds", ids, "inDate", din, "outDate", dout, "roomNumber", 1);
        st = kit_call(r, "reservation", "POST", "/availability", q, &reply, err, sizeof err);
        json_decref(q);
        json_decref(ids);
        if (st != 200 || !json_is_array(json_object_get(reply, "hotelIds"))) {
            hr_reply_downstream(r, "reservation", st == 200 ? 502 : st, reply, err);
            json_decref(reply);
            return;
        }
        ids = json_incref(json_object_get(reply, "hotelIds"));
        json_decref(reply);
    }
    reply_hotels(r, ids);
    json_decref(ids);
}

static void recommendations(struct kit_req *r, void *arg)
{
    (void)arg;
    double lat, lon;
    if (location_params(r, &lat, &lon)) return;
    const char *require = kit_param(r, "require");
    if (!require || (strcmp(require, "dis") && strcmp(require, "rate") && strcmp(require, "price"))) {
        kit_reply_error(r, 400, "Please specify require params");
        return;
    }
    char err[512];
    json_t *reply = NULL;
    json_t *q = json_pack("{s:s, s:f, s:f}", "require", require, "lat", lat, "lon", lon);
    int st = kit_call(r, "recommendation", "POST", "/recommendations", q, &reply, err, sizeof err);
    json_decref(q);
    if (st != 200 || !json_is_array(json_object_get(reply, "hotelIds"))) {
        hr_reply_downstream(r, "recommendation", st == 200 ? 502 : st, reply, err);
        json_decref(reply);
        return;
    }
    json_t *ids = json_incref(json_object_get(reply, "hotelIds"));
    json_decref(reply);
    reply_hotels(r, ids);
    json_decref(ids);
}

/* Check the user's password; 1 correct, 0 wrong (replied 401), -1 failed
 * (replied). */
static int check_user(struct kit_req *r, const char *username, const char *password)
{
    char err[512];
    json_t *reply = NULL;
    json_t *q = json_pack("{s:s, s:s}", "username", username, "password", password);
    int st = kit_call(r, "user", "POST", "/check", q, &reply, err, sizeof err);
    json_decref(q);
    if (st != 200 || !json_is_boolean(json_object_get(reply, "correct"))) {
        hr_reply_downstream(r, "user", st == 200 ? 502 : st, reply, err);
        json_decref(reply);
        return -1;
    }
    int ok = json_is_true(json_object_get(reply, "correct"));
    json_decref(reply);
    if (!ok) kit_reply_json(r, 401, json_pack("{s:s}", "message", LOGIN_FAILED));
    return ok;
}

static int credentials(struct kit_req *r, const char **username, const char **password)
{
    *username = kit_param(r, "username");
    *password = kit_param(r, "password");
    if (!*username || !**username || !*password || !**password || strlen(*username) > 128 || strlen(*password) > 256) {
        kit_reply_error(r, 400, "Please specify username and password");
        return -1;
    }
    return 0;
}

static void login(struct kit_req *r, void *arg)
{
    (void)arg;
    const char *username, *password;
    if (credentials(r, &username, &password)) return;
    if (check_user(r, username, password) == 1) kit_reply_json(r, 200, json_pack("{s:s}", "message", LOGIN_OK));
}

static void reservation(struct kit_req *r, void *arg)
{
    (void)arg;
    long in, out, hotel, rooms = 1;
    if (stay_params(r, &in, &out)) return;
    const char *shotel = kit_param(r, "hotelId");
    if (!shotel || !*shotel) {
        kit_reply_error(r, 400, "Please specify hotelId params");
        return;
    }
    if (hr_parse_int(shotel, 1000000000L, &hotel)) {
        kit_reply_error(r, 400, "Please check hotelId params (a hotel number)");
        return;
    }
    const char *customer = kit_param(r, "customerName");
    if (!customer || !*customer || strlen(customer) > 128) {
        kit_reply_error(r, 400, "Please specify customerName params");
        return;
    }
    const char *username, *password;
    if (credentials(r, &username, &password)) return;
    const char *num = kit_param(r, "number");
    if (num && *num && hr_parse_int(num, HR_CAPACITY, &rooms)) {
        kit_reply_error(r, 400, "Please check number params (1 to %d rooms)", HR_CAPACITY);
        return;
    }
    if (check_user(r, username, password) != 1) return;
    char din[11], dout[11], sid[16], err[512];
    hr_format_date(in, din);
    hr_format_date(out, dout);
    snprintf(sid, sizeof sid, "%ld", hotel);
    json_t *reply = NULL;
    json_t *q = json_pack("{s:s, s:s, s:s, s:s, s:I}", "customerName", customer, "hotelId", sid, "inDate", din,
                          "outDate", dout, "roomNumber", (json_int_t)rooms);
    int st = kit_call(r, "reservation", "POST", "/reserve", q, &reply, err, sizeof err);
    json_decref(q);
    if (st != 200 || !json_is_array(json_object_get(reply, "hotelIds"))) {
        hr_reply_downstream(r, "reservation", st == 200 ? 502 : st, reply, err);
        json_decref(reply);
        return;
    }
    int booked = json_array_size(json_object_get(reply, "hotelIds")) > 0;
    json_decref(reply);
    if (booked)
        kit_reply_json(r, 200, json_pack("{s:s}", "message", RESERVE_OK));
    else
        kit_reply_json(r, 409, json_pack("{s:s}", "message", RESERVE_FULL));
}

int hr_frontend(void)
{
    struct kit *k = hr_kit_new("frontend");
    kit_handle(k, "GET", "/hotels", "SearchHandler", search_hotels, NULL);
    kit_handle(k, "GET", "/recommendations", "RecommendHandler", recommendations, NULL);
    kit_handle(k, "POST", "/user", "UserHandler", login, NULL);
    kit_handle(k, "POST", "/reservation", "ReservationHandler", reservation, NULL);
    int rc = kit_serve(k);
    kit_free(k);
    return rc;
}
