/* common.c: the parts of HotelReservation every role uses (see hr.h):
 * deterministic seed hotels, start-up seeding over libpq, parsing of the
 * front end's parameters with bounds, hotel-id lists, and the reply to a
 * failed downstream call.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hr.h"

/* ---- seed hotels ----------------------------------------------------------
 */

static uint32_t next_rand(uint32_t *x)
{
    *x = *x * 1664525u + 1013904223u;
    return *x >> 8;
}

void hr_hotel_seed(int id, struct hr_hotel *h)
{
    static const char *const dsb_names[6] = {"Clift Hotel",  "W San Francisco", "Hotel Zetta",
                                             "Hotel Vitale", "Phoenix Hotel",   "St. Regis San Francisco"};
    static const char *const first[10] = {"Bay",    "Harbor", "Golden", "Oak",  "Cedar",
                                          "Summit", "Vista",  "Marina", "Park", "Union"};
    static const char *const second[8] = {"Inn", "Suites", "Hotel", "Lodge", "Plaza", "Resort", "House", "Court"};
    static const char *const streets[8] = {"Main Street",  "Oak Avenue",  "Geary Street",  "Market Street",
                                           "Mission Road", "Pine Street", "Bay Boulevard", "3rd Street"};
    static const char *const cities[8] = {"Martinez",  "Pleasant Hill", "Concord",   "Clayton",
                                          "Lafayette", "Walnut Creek",  "Pittsburg", "Orinda"};
    static const double rates[5] = {109.00, 120.00, 124.00, 132.00, 232.00};
    static const double inclusive[5] = {123.17, 140.00, 144.00, 158.00, 258.00};
    uint32_t x = (uint32_t)id * 2654435761u ^ 0x9e3779b9u;
    int row = (id - 1) / 8, col = (id - 1) % 8;
    memset(h, 0, sizeof *h);
    h->id = id;
    if (id >= 1 && id <= 6)
        snprintf(h->name, sizeof h->name, "%s", dsb_names[id - 1]);
    else
        snprintf(h->name, sizeof h->name, "%s %s %d", first[id % 10], second[(id / 10) % 8], id);
    snprintf(h->phone, sizeof h->phone, "(415) 284-%04d", 4000 + id);
    snprintf(h->street_number, sizeof h->street_number, "%d", 100 + (id * 37) % 900);
    snprintf(h->street_name, sizeof h->street_name, "%s", streets[(id * 3) % 8]);
    snprintf(h->city, sizeof h->city, "%s", cities[col]);
    snprintf(h->postal_code, sizeof h->postal_code, "945%02d", (id * 7) % 100);
    /* A 10 x 8 grid centred on the workload's centre, each point jittered. */
    h->lat = 37.8075 + row * 0.048 + ((double)(next_rand(&x) % 2001) - 1000.0) / 1000.0 * 0.012;
    h->lon = -122.2525 + col * 0.045 + ((double)(next_rand(&x) % 2001) - 1000.0) / 1000.0 * 0.010;
    h->rating = 1.0 + (double)(next_rand(&x) % 41) / 10.0;
    h->price = 80.0 + (double)(next_rand(&x) % 22000) / 100.0;
    h->bookable_rate = rates[id % 5];
    h->total_rate_inclusive = inclusive[id % 5];
    h->rate_in = "2015-04-09";
    h->rate_out = id % 2 == 0 ? "2015-04-17" : "2015-04-24";
    /* One draw per statement: the order of arguments' evaluation is unspecified. */
    int minutes = 3 + (int)(next_rand(&x) % 25);
    const char *feature = next_rand(&x) % 2 ? "rooftop bar" : "heated pool";
    snprintf(h->description, sizeof h->description,
             "%s is a %d-room hotel in %s, %d minutes from the BART station, with free wifi and a %s.", h->name,
             HR_CAPACITY, h->city, minutes, feature);
}

/* ---- seeding
 * ------------------------------------------------------------------ */

static PGconn *seed_connect_once(const char *env_prefix, char *msg, size_t msglen)
{
    static const char *const suffix[5] = {"_HOST", "_PORT", "_DB", "_USER", "_PASSWORD"};
    static const char *const keyword[5] = {"host", "port", "dbname", "user", "password"};
    const char *keys[7], *vals[7];
    int n = 0;
    for (int i = 0; i < 5; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s%s", env_prefix, suffix[i]);
        const char *v = getenv(name);
        if (i == 1 && (!v || !*v)) v = "5432";
        if (!v || !*v) continue;
        keys[n] = keyword[i];
        vals[n++] = v;
    }
    keys[n] = "connect_timeout";
    vals[n++] = "2";
    keys[n] = NULL;
    vals[n] = NULL;
    PGconn *c = PQconnectdbParams(keys, vals, 0);
    if (c && PQstatus(c) == CONNECTION_OK) {
        PQclear(PQexec(c, "SET client_min_messages = warning"));
        return c;
    }
    snprintf(msg, msglen, "%s", c ? PQerrorMessage(c) : "out of memory");
    msg[strcspn(msg, "\n")] = '\0';
    PQfinish(c);
    return NULL;
}

PGconn *hr_seed_connect(struct kit *k, const char *env_prefix)
{
    for (unsigned attempt = 1;; attempt++) {
        char msg[512];
        PGconn *c = seed_connect_once(env_prefix, msg, sizeof msg);
        if (c) return c;
        /* Every attempt for the first few seconds, then every tenth: a
         * store that stays down should not flood the log. */
        if (attempt <= 10 || attempt % 10 == 0)
            kit_logf(k, KIT_WARN, "seed: connect to %s failed (attempt %u): %s", env_prefix, attempt, msg);
        kit_pause(k, 500);
    }
}

int hr_seed_exec(struct kit *k, PGconn *c, const char *sql, int nparams, const char *const *params)
{
    PGresult *res = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        PQclear(res);
        return 0;
    }
    char msg[512];
    snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(res));
    msg[strcspn(msg, "\n")] = '\0';
    kit_logf(k, KIT_ERROR, "seed: pq: %s", msg);
    PQclear(res);
    return -1;
}

long hr_seed_count(struct kit *k, PGconn *c, const char *sql)
{
    PGresult *res = PQexec(c, sql);
    long n = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    else {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(res));
        msg[strcspn(msg, "\n")] = '\0';
        kit_logf(k, KIT_ERROR, "seed: pq: %s", msg);
    }
    PQclear(res);
    return n;
}

/* What hr_pg needs to seed again: the role's seeding, set by hr_seed_run. */
static struct {
    struct kit *k;
    const char *env_prefix;
    int (*seed)(struct kit *k, PGconn *c);
    pthread_mutex_t lock;
} reseed = {.lock = PTHREAD_MUTEX_INITIALIZER};

void hr_seed_run(struct kit *k, const char *env_prefix, int (*seed)(struct kit *k, PGconn *c))
{
    reseed.k = k;
    reseed.env_prefix = env_prefix;
    reseed.seed = seed;
    for (;;) {
        PGconn *c = hr_seed_connect(k, env_prefix);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rc = seed(k, c);
        PQfinish(c);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (!rc) {
            kit_logf(k, KIT_INFO, "seed: database ready in %.0f ms",
                     (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
            return;
        }
        kit_pause(k, 1000);
    }
}

int hr_cache_on(const struct kit_req *r)
{
    return !kit_flag_cache_bypass(r) && kit_regression(r) != KIT_REGRESSION_SLOW;
}

json_t *hr_cache_get(struct kit_req *r, struct kit_mc *mc, int id, int type, const char *what, int *hit)
{
    char key[16], err[512];
    if (!hr_cache_on(r)) {
        *hit = -2; /* not asked: nothing to put back either */
        return NULL;
    }
    snprintf(key, sizeof key, "%d", id);
    char *val = NULL;
    size_t len = 0;
    *hit = kit_mc_get(r, mc, key, &val, &len, err, sizeof err);
    if (*hit == 1) {
        json_t *j = json_loadb(val, len, 0, NULL);
        free(val);
        if (j && (type < 0 || json_typeof(j) == (json_type)type)) return j;
        json_decref(j);
        kit_log(r, KIT_WARN, "memcached: bad cached %s for hotel %d, reloading", what, id);
    } else if (*hit < 0) {
        kit_log(r, KIT_ERROR, "memcached: get %s: %s", key, err);
    }
    return NULL;
}

void hr_cache_put(struct kit_req *r, struct kit_mc *mc, int id, const char *text, size_t max, int hit)
{
    char key[16], err[512];
    size_t n = strlen(text);
    if (hit != 0 || (max && n > max)) return;
    snprintf(key, sizeof key, "%d", id);
    if (kit_mc_set(r, mc, key, text, n, HR_CACHE_TTL_S, err, sizeof err) < 0)
        kit_log(r, KIT_ERROR, "memcached: set %s: %s", key, err);
}

PGresult *hr_pg(struct kit_req *r, struct kit_pg *pg, const char *sql, int nparams, const char *const *params,
                char *err, size_t errlen)
{
    PGresult *res = kit_pg_exec(r, pg, sql, nparams, params, err, errlen);
    if (res || !reseed.seed || !strstr(err, "does not exist")) return res;
    /* The store came back empty (a new pod, a fresh volume): seed it again,
     * one request at a time, and retry once. */
    kit_log(r, KIT_WARN, "%s; seeding the database again", err);
    pthread_mutex_lock(&reseed.lock);
    char msg[512];
    PGconn *c = seed_connect_once(reseed.env_prefix, msg, sizeof msg);
    int rc = c ? reseed.seed(reseed.k, c) : -1;
    PQfinish(c);
    pthread_mutex_unlock(&reseed.lock);
    if (rc) return NULL;
    return kit_pg_exec(r, pg, sql, nparams, params, err, errlen);
}

/* ---- parameters
 * ------------------------------------------------------------------- */

static long days_from_civil(long y, long m, long d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int hr_parse_date(const char *s, long *days)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-') return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return -1;
    long y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    long m = (s[5] - '0') * 10 + (s[6] - '0');
    long d = (s[8] - '0') * 10 + (s[9] - '0');
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1]) return -1;
    if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) return -1;
    *days = days_from_civil(y, m, d);
    return 0;
}

void hr_format_date(long days, char out[11])
{
    time_t t = (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, 11, "%04d-%02d-%02d", (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday);
}

int hr_parse_coord(const char *s, double lim, double *out)
{
    if (!s || !*s || strlen(s) > 32) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < -lim || v > lim) return -1;
    *out = v;
    return 0;
}

int hr_parse_int(const char *s, long max, long *out)
{
    if (!s || !*s || strlen(s) > 9) return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9') return -1;
    long v = strtol(s, NULL, 10);
    if (v < 1 || v > max) return -1;
    *out = v;
    return 0;
}

/* ---- hotel ids
 * ------------------------------------------------------------------- */

int hr_ids_from_json(const json_t *arr, int *ids, int max)
{
    if (!json_is_array(arr) || (int)json_array_size(arr) > max) return -1;
    size_t i;
    json_t *v;
    int n = 0;
    json_array_foreach(arr, i, v) {
        long id;
        if (!json_is_string(v) || hr_parse_int(json_string_value(v), 1000000000L, &id)) return -1;
        ids[n++] = (int)id;
    }
    return n;
}

json_t *hr_ids_to_json(const int *ids, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        char s[16];
        snprintf(s, sizeof s, "%d", ids[i]);
        json_array_append_new(a, json_string(s));
    }
    return a;
}

void hr_reply_downstream(struct kit_req *r, const char *service, int status, json_t *reply, const char *err)
{
    const char *msg = NULL;
    if (status > 0) {
        msg = json_string_value(json_object_get(reply, "error"));
        if (!msg) msg = json_string_value(json_object_get(reply, "message"));
    }
    if (status < 0)
        kit_reply_error(r, 500, "%s", err);
    else if (status >= 400 && status < 500)
        kit_reply_error(r, status, "%s", msg ? msg : "bad request");
    else
        kit_reply_error(r, 500, "%s: %s", service, msg ? msg : "unexpected answer");
}
