/* reservation.c: the reservation service (:8087), DeathStarBench's
 * reservation: POST /reserve {"customerName", "hotelId", "inDate",
 * "outDate", "roomNumber"} books the rooms for every night of the stay or
 * none (answering {"hotelIds": [id]} or {"hotelIds": []} when a night would
 * exceed the hotel's capacity, 404 for an unknown hotel); POST
 * /availability {"hotelIds", "inDate", "outDate", "roomNumber"} answers the
 * hotels that have the rooms every night.
 *
 * PostgreSQL (mongodb-reservation) is the authority: a booking is one call
 * of the make_reservation() function, which locks the hotel's capacity row
 * so that two bookings of one hotel cannot both take its last rooms.
 * memcached (memcached-reserve) keeps each hotel's capacity and booked
 * nights for availability; a booking drops the hotel's entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hr.h"

static struct kit_pg *reserve_db;
static struct kit_mc *reserve_cache;

#define CACHE_MAX (64 * 1024) /* a hotel's booked nights larger than this are not cached */

static int reservation_seed(struct kit *k, PGconn *c)
{
    static const char *const ddl[] = {
        "CREATE TABLE IF NOT EXISTS hotel_capacity (hotel_id integer CONSTRAINT hotel_capacity_pkey PRIMARY KEY, capacity integer NOT NULL)",
        "CREATE TABLE IF NOT EXISTS reservations (id bigserial CONSTRAINT reservations_pkey PRIMARY KEY, hotel_id integer NOT NULL, customer_name "
        "text NOT NULL, in_date date NOT NULL, out_date date NOT NULL, number integer NOT NULL, created_at timestamptz "
        "NOT NULL DEFAULT now())",
        "CREATE TABLE IF NOT EXISTS booked (hotel_id integer NOT NULL, night date NOT NULL, rooms integer NOT NULL, "
        "CONSTRAINT booked_pkey PRIMARY KEY (hotel_id, night))",
        "CREATE OR REPLACE FUNCTION make_reservation(h integer, cust text, d_in date, d_out date, n integer) RETURNS "
        "integer LANGUAGE plpgsql AS $$\n"
        "DECLARE cap integer;\n"
        "BEGIN\n"
        "  SELECT capacity INTO cap FROM hotel_capacity WHERE hotel_id = h FOR UPDATE;\n"
        "  IF NOT FOUND THEN RETURN -1; END IF;\n"
        "  IF n > cap OR EXISTS (SELECT 1 FROM booked WHERE hotel_id = h AND night >= d_in AND night < d_out\n"
        "                        AND rooms + n > cap) THEN RETURN 0; END IF;\n"
        "  INSERT INTO reservations (hotel_id, customer_name, in_date, out_date, number)\n"
        "    VALUES (h, cust, d_in, d_out, n);\n"
        "  INSERT INTO booked (hotel_id, night, rooms)\n"
        "    SELECT h, g::date, n FROM generate_series(d_in::timestamp, d_out::timestamp - interval '1 day',\n"
        "                                              interval '1 day') AS g\n"
        "    ON CONFLICT (hotel_id, night) DO UPDATE SET rooms = booked.rooms + EXCLUDED.rooms;\n"
        "  RETURN 1;\n"
        "END $$",
    };
    for (size_t i = 0; i < sizeof ddl / sizeof ddl[0]; i++)
        if (hr_seed_exec(k, c, ddl[i], 0, NULL)) return -1;
    long n = hr_seed_count(k, c, "SELECT count(*) FROM hotel_capacity");
    if (n < 0) return -1;
    if (n >= HR_HOTELS) return 0;
    char hotels[16], cap[16];
    snprintf(hotels, sizeof hotels, "%d", HR_HOTELS);
    snprintf(cap, sizeof cap, "%d", HR_CAPACITY);
    const char *p[2] = {hotels, cap};
    if (hr_seed_exec(
            k, c,
            "INSERT INTO hotel_capacity SELECT g, $2::int FROM generate_series(1, $1::int) AS g ON CONFLICT DO NOTHING",
            2, p))
        return -1;
    kit_logf(k, KIT_INFO, "seed: capacity of %d hotels loaded (%d rooms each)", HR_HOTELS, HR_CAPACITY);
    return 0;
}

/* Dates and room count of a request body; 0, or -1 after replying 400. */
static int stay_of(struct kit_req *r, json_t *b, long *in, long *out, long *rooms)
{
    if (hr_parse_date(json_string_value(json_object_get(b, "inDate")), in) ||
        hr_parse_date(json_string_value(json_object_get(b, "outDate")), out) || *out <= *in ||
        *out - *in > HR_MAX_NIGHTS) {
        kit_reply_error(r, 400, "Please check inDate/outDate format (YYYY-MM-DD)");
        return -1;
    }
    json_t *n = json_object_get(b, "roomNumber");
    *rooms = json_is_integer(n) ? (long)json_integer_value(n) : 0;
    if (*rooms < 1 || *rooms > HR_CAPACITY) {
        kit_reply_error(r, 400, "roomNumber must be between 1 and %d", HR_CAPACITY);
        return -1;
    }
    return 0;
}

/* A hotel's capacity and booked nights ({"cap": N, "booked": {"YYYY-MM-DD":
 * rooms}}), from the cache or the database. NULL after replying 500; a JSON
 * null for an unknown hotel. */
static json_t *hotel_bookings(struct kit_req *r, int id)
{
    int hit;
    json_t *cached = hr_cache_get(r, reserve_cache, id, JSON_OBJECT, "bookings", &hit);
    if (cached) return cached;
    char key[16], err[512];
    snprintf(key, sizeof key, "%d", id);
    const char *p[1] = {key};
    PGresult *res = hr_pg(
        r, reserve_db,
        "SELECT json_build_object('cap', c.capacity, 'booked', coalesce((SELECT json_object_agg(night::text, rooms) "
        "FROM booked b WHERE b.hotel_id = c.hotel_id), '{}'))::text FROM hotel_capacity c WHERE c.hotel_id = $1::int",
        1, p, err, sizeof err);
    if (!res) {
        kit_reply_error(r, 500, "%s", err);
        return NULL;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return json_null();
    }
    const char *text = PQgetvalue(res, 0, 0);
    json_t *j = json_loads(text, 0, NULL);
    if (json_is_object(j)) hr_cache_put(r, reserve_cache, id, text, CACHE_MAX, hit);
    PQclear(res);
    if (!json_is_object(j)) {
        json_decref(j);
        kit_reply_error(r, 500, "bookings of hotel %d are not a JSON object", id);
        return NULL;
    }
    return j;
}

static void availability(struct kit_req *r, void *arg)
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
    long in, out, rooms;
    if (stay_of(r, b, &in, &out, &rooms)) return;
    int avail[HR_MAX_IDS], na = 0;
    for (int i = 0; i < n; i++) {
        json_t *h = hotel_bookings(r, ids[i]);
        if (!h) return;
        json_int_t cap = json_integer_value(json_object_get(h, "cap"));
        json_t *booked = json_object_get(h, "booked");
        int ok = json_is_object(h) && rooms <= cap;
        for (long d = in; ok && d < out; d++) {
            char night[11];
            hr_format_date(d, night);
            if (json_integer_value(json_object_get(booked, night)) + rooms > cap) ok = 0;
        }
        json_decref(h);
        if (ok) avail[na++] = ids[i];
    }
    kit_reply_json(r, 200, json_pack("{s:o}", "hotelIds", hr_ids_to_json(avail, na)));
}

static void reserve(struct kit_req *r, void *arg)
{
    (void)arg;
    char err[512];
    json_t *b = kit_json(r, err, sizeof err);
    if (!b) {
        kit_reply_error(r, 400, "%s", err);
        return;
    }
    const char *customer = json_string_value(json_object_get(b, "customerName"));
    long hotel;
    if (!customer || !*customer || strlen(customer) > 128) {
        kit_reply_error(r, 400, "Please specify customerName params");
        return;
    }
    if (hr_parse_int(json_string_value(json_object_get(b, "hotelId")), 1000000000L, &hotel)) {
        kit_reply_error(r, 400, "Please specify hotelId params");
        return;
    }
    long in, out, rooms;
    if (stay_of(r, b, &in, &out, &rooms)) return;
    char sid[16], din[11], dout[11], sn[16];
    snprintf(sid, sizeof sid, "%ld", hotel);
    hr_format_date(in, din);
    hr_format_date(out, dout);
    snprintf(sn, sizeof sn, "%ld", rooms);
    const char *p[5] = {sid, customer, din, dout, sn};
    PGresult *res = hr_pg(r, reserve_db, "SELECT make_reservation($1::int, $2, $3::date, $4::date, $5::int)", 5, p, err,
                          sizeof err);
    if (!res) {
        kit_reply_error(r, 500, "%s", err);
        return;
    }
    long rc = PQntuples(res) == 1 ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : -2;
    PQclear(res);
    if (rc == -1) {
        kit_reply_error(r, 404, "hotel %s not found", sid);
        return;
    }
    if (rc == 0) {
        kit_log(r, KIT_INFO, "hotel %s is full for %s..%s (%ld rooms asked by %s)", sid, din, dout, rooms, customer);
        kit_reply_json(r, 200, json_pack("{s:[]}", "hotelIds"));
        return;
    }
    if (rc != 1) {
        kit_reply_error(r, 500, "make_reservation answered nothing");
        return;
    }
    if (kit_mc_delete(r, reserve_cache, sid, err, sizeof err) < 0)
        kit_log(r, KIT_ERROR, "memcached: delete %s: %s", sid, err);
    kit_reply_json(r, 200, json_pack("{s:[s]}", "hotelIds", sid));
}

int hr_reservation(void)
{
    struct kit *k = hr_kit_new("reservation");
    reserve_db = kit_pg_new(k, "RESERVATION_DB");
    reserve_cache = kit_mc_new(k, "RESERVATION_CACHE");
    hr_seed_run(k, "RESERVATION_DB", reservation_seed);
    kit_handle(k, "POST", "/reserve", "MakeReservation", reserve, NULL);
    kit_handle(k, "POST", "/availability", "CheckAvailability", availability, NULL);
    int rc = kit_serve(k);
    kit_free(k);
    return rc;
}
