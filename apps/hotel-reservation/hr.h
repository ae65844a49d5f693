/* hr.h: what the services of HotelReservation share.
 *
 * HotelReservation is DeathStarBench's hotel app written on the kit: one
 * program, `hotel-reservation ROLE`, where ROLE is one of its eight
 * services (frontend, search, geo, profile, rate, recommendation,
 * reservation, user). This header holds the pieces more than one role
 * needs: the deterministic seed data (80 hotels around lat 38.0235, lon
 * -122.095; users Cornell_0..Cornell_500), the start-up seeding of a
 * service's PostgreSQL database (before the service listens, so a pod is
 * Ready only once its data is there), date and parameter parsing with
 * bounds, hotel-id lists in JSON, and the reply to a failed downstream call.
 */
#ifndef HR_H
#define HR_H
#include <stddef.h>

#include "kit.h"

#define HR_HOTELS 80
#define HR_USERS 501     /* Cornell_0 .. Cornell_500 */
#define HR_CAPACITY 200  /* rooms per hotel per night */
#define HR_MAX_IDS 100   /* the longest hotel-id list a request may carry */
#define HR_MAX_NIGHTS 31 /* the longest stay a request may ask about */
#define HR_SEARCH_RADIUS_KM 10.0
#define HR_SEARCH_RESULTS 5
#define HR_CACHE_TTL_S 3600
#define HR_VERSION "1.0.0" /* the release the manifests run (APP_VERSION) */

/* One seed hotel: its profile, geo point, rate plan and recommendation
 * attributes, all derived from its id alone. */
struct hr_hotel {
    int id;
    char name[64];
    char phone[24];
    char description[200];
    char street_number[8];
    char street_name[40];
    char city[24];
    char postal_code[8];
    double lat, lon;
    double rating; /* recommendation "rate": 1.0 .. 5.0 */
    double price;  /* recommendation "price" */
    double bookable_rate, total_rate_inclusive;
    const char *rate_in, *rate_out; /* the rate plan's dates */
};
void hr_hotel_seed(int id, struct hr_hotel *h);

/* kit_new for a role, with the app's feature-flag services and release
 * table (main.c). */
struct kit *hr_kit_new(const char *role);

/* Roles: each sets up its handlers and runs kit_serve; returns the exit code.
 */
int hr_frontend(void);
int hr_search(void);
int hr_geo(void);
int hr_profile(void);
int hr_rate(void);
int hr_recommendation(void);
int hr_reservation(void);
int hr_user(void);

/* Seeding. hr_seed_connect connects with libpq from <PREFIX>_HOST, _PORT,
 * _DB, _USER, _PASSWORD (the kit's pool variables), retrying every half
 * second until it succeeds, logging each failure. hr_seed_exec runs one
 * statement; 0 on success, -1 (logged) on failure. hr_seed_count returns
 * the count(*) a query gives, or -1. */
PGconn *hr_seed_connect(struct kit *k, const char *env_prefix);
int hr_seed_exec(struct kit *k, PGconn *c, const char *sql, int nparams, const char *const *params);
long hr_seed_count(struct kit *k, PGconn *c, const char *sql);
/* Run the seeding function until it succeeds (a database that goes away
 * mid-way is retried from a fresh connection). seed returns 0 on success. */
void hr_seed_run(struct kit *k, const char *env_prefix, int (*seed)(struct kit *k, PGconn *c));

/* kit_pg_exec, except that a database that lost its tables (the store
 * came back from an empty volume) is seeded again, once, and the statement
 * retried. */
/* Cache-aside over memcached, keyed by hotel id. hr_cache_get returns the
 * cached JSON when it is of type (-1: any), else NULL; a bad entry (about
 * "what" of hotel id) or a memcached error is logged. *hit is what
 * memcached said: 1 hit, 0 miss, -1 error. hr_cache_put stores text after
 * a miss (hit == 0) when it is at most max bytes (0: no bound). */
json_t *hr_cache_get(struct kit_req *r, struct kit_mc *mc, int id, int type, const char *what, int *hit);
/* Whether this request may use the cache: not when the CacheFailure flag
 * picked it, nor in a release without the cache (then hr_cache_get answers
 * NULL with *hit -2, and hr_cache_put does nothing). */
int hr_cache_on(const struct kit_req *r);
void hr_cache_put(struct kit_req *r, struct kit_mc *mc, int id, const char *text, size_t max, int hit);
PGresult *hr_pg(struct kit_req *r, struct kit_pg *pg, const char *sql, int nparams, const char *const *params,
                char *err, size_t errlen);

/* Dates are "YYYY-MM-DD"; days counts from 1970-01-01. 0 or -1. */
int hr_parse_date(const char *s, long *days);
void hr_format_date(long days, char out[11]);
/* A coordinate: a finite decimal within [-lim, lim]. 0 or -1. */
int hr_parse_coord(const char *s, double lim, double *out);
/* A positive integer no larger than max, as decimal digits only. 0 or -1. */
int hr_parse_int(const char *s, long max, long *out);

/* A JSON array of hotel ids (strings of digits, as DeathStarBench's
 * protobufs carry them) into ids; at most max. Count, or -1. */
int hr_ids_from_json(const json_t *arr, int *ids, int max);
/* New JSON array of id strings. */
json_t *hr_ids_to_json(const int *ids, int n);

/* Answer a request whose downstream call failed: a transport failure or a
 * 5xx is a 500 carrying the cause, a 4xx is passed on with its message. */
void hr_reply_downstream(struct kit_req *r, const char *service, int status, json_t *reply, const char *err);

/* Haversine distance in km between the point ($1, $2) and columns lat, lon,
 * as SQL. */
#define HR_SQL_DISTANCE                                                                                                \
    "(12742.0 * asin(sqrt(power(sin(radians(lat - $1::float8) / 2), 2) + "                                             \
    "cos(radians($1::float8)) * cos(radians(lat)) * power(sin(radians(lon - "                                          \
    "$2::float8) / 2), 2))))"

#endif
