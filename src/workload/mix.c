/* mix: the request mixes of the load generator (see mix.h). The shapes
 * follow DeathStarBench's wrk2 Lua scripts (mixed-workload.lua of
 * socialNetwork and hotelReservation), so the apps see what they would see
 * under the original benchmark; only the users are Zipf-distributed
 * instead of uniform, as real users are. */
#include "workload/mix.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

/* ---- Zipf -------------------------------------------------------------- */

int load_zipf_init(struct load_zipf *z, size_t n, double s)
{
    if (!n || n > 10000000 || !isfinite(s) || s < 0 || s > 10) return -EINVAL;
    z->cdf = xmalloc(n * sizeof *z->cdf);
    z->n = n;
    double sum = 0;
    for (size_t k = 1; k <= n; k++) {
        sum += 1.0 / pow((double)k, s);
        z->cdf[k - 1] = sum;
    }
    for (size_t k = 0; k < n; k++) z->cdf[k] /= sum;
    z->cdf[n - 1] = 1.0;
    return 0;
}

void load_zipf_free(struct load_zipf *z)
{
    xfree(z->cdf);
    z->n = 0;
}

size_t load_zipf_draw(const struct load_zipf *z, struct load_rng *r)
{
    double u = load_rng_double(r);
    size_t lo = 0, hi = z->n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo + 1;
}

/* ---- building requests ------------------------------------------------- */

enum op_kind {
    OP_FIXED,
    SN_HOME,
    SN_USER,
    SN_COMPOSE,
    HR_SEARCH,
    HR_RECOMMEND,
    HR_LOGIN,
    HR_RESERVE,
};

/* A bounded writer over the scratch buffer; a request that would not fit
 * is cut (cannot happen with the shapes below, which stay under 2 KB). */
struct w {
    char *p;
    size_t len, cap;
};

static void w_put(struct w *w, const char *s, size_t n)
{
    if (w->len + n >= w->cap) n = w->cap - 1 - w->len;
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

static void w_str(struct w *w, const char *s) { w_put(w, s, strlen(s)); }

static void w_uint(struct w *w, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    w_put(w, tmp + i, sizeof tmp - i);
}

static void w_fmt(struct w *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void w_fmt(struct w *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->p + w->len, w->cap - w->len, fmt, ap);
    va_end(ap);
    if (n > 0) w->len += (size_t)n < w->cap - w->len ? (size_t)n : w->cap - 1 - w->len;
}

static void w_random(struct w *w, struct load_rng *r, size_t n, const char *alphabet)
{
    size_t k = strlen(alphabet);
    for (size_t i = 0; i < n && w->len + 1 < w->cap; i++) w->p[w->len++] = alphabet[load_rng_below(r, k)];
}

static const char ALNUM[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/* The request head, with a body length when there is a body. */
static void head(struct w *w, const struct load_mix *m, const char *method, size_t body_len, int form)
{
    w_str(w, " HTTP/1.1\r\nHost: ");
    w_str(w, m->host);
    w_str(w, "\r\n");
    if (!strcmp(method, "POST")) {
        if (form) w_str(w, "Content-Type: application/x-www-form-urlencoded\r\n");
        w_str(w, "Content-Length: ");
        w_uint(w, body_len);
        w_str(w, "\r\n");
    }
    w_str(w, "\r\n");
}

static void sn_timeline(struct w *w, const struct load_mix *m, struct load_rng *r, const char *which)
{
    size_t user = load_zipf_draw(&m->users, r);
    uint64_t start = load_rng_below(r, 101);
    w_str(w, "GET /wrk2-api/");
    w_str(w, which);
    w_str(w, "/read?user_id=");
    w_uint(w, user);
    w_str(w, "&start=");
    w_uint(w, start);
    w_str(w, "&stop=");
    w_uint(w, start + 10);
    head(w, m, "GET", 0, 0);
}

static void sn_compose(struct w *w, const struct load_mix *m, struct load_rng *r)
{
    char body[2048];
    struct w b = {body, 0, sizeof body};
    size_t user = load_zipf_draw(&m->users, r);
    w_str(&b, "username=username_");
    w_uint(&b, user);
    w_str(&b, "&user_id=");
    w_uint(&b, user);
    w_str(&b, "&text=");
    w_random(&b, r, 256, ALNUM);
    uint64_t mentions = load_rng_below(r, 6), urls = load_rng_below(r, 6), media = load_rng_below(r, 5);
    for (uint64_t i = 0; i < mentions; i++) {
        w_str(&b, "%20@username_");
        w_uint(&b, load_zipf_draw(&m->users, r));
    }
    for (uint64_t i = 0; i < urls; i++) {
        w_str(&b, "%20http://");
        w_random(&b, r, 64, ALNUM);
    }
    w_str(&b, "&media_ids=[");
    for (uint64_t i = 0; i < media; i++) {
        w_str(&b, i ? ",\"" : "\"");
        w_random(&b, r, 18, "0123456789");
        w_str(&b, "\"");
    }
    w_str(&b, "]&media_types=[");
    for (uint64_t i = 0; i < media; i++) w_str(&b, i ? ",\"png\"" : "\"png\"");
    w_str(&b, "]&post_type=0");
    w_str(w, "POST /wrk2-api/post/compose");
    head(w, m, "POST", b.len, 1);
    w_put(w, body, b.len);
}

static void hr_latlon(struct w *w, struct load_rng *r)
{
    double lat = 38.0235 + ((double)load_rng_below(r, 482) - 240.5) / 1000.0;
    double lon = -122.095 + ((double)load_rng_below(r, 326) - 157.0) / 1000.0;
    w_fmt(w, "lat=%.4f&lon=%.4f", lat, lon);
}

static void hr_dates(struct w *w, struct load_rng *r, int reserve)
{
    uint64_t in = 9 + load_rng_below(r, 15); /* 9..23 */
    uint64_t out = reserve ? in + 1 + load_rng_below(r, 5) : in + 1 + load_rng_below(r, 24 - in);
    w_fmt(w, "inDate=2015-04-%02u&outDate=2015-04-%02u", (unsigned)in, (unsigned)out);
}

static void hr_user(struct w *w, const struct load_mix *m, struct load_rng *r, const char *ukey, const char *pkey)
{
    size_t id = load_zipf_draw(&m->users, r) - 1; /* Cornell_0 .. Cornell_500 */
    w_str(w, ukey);
    w_str(w, "=Cornell_");
    w_uint(w, id);
    w_str(w, "&");
    w_str(w, pkey);
    w_str(w, "=");
    for (int i = 0; i < 10; i++) w_uint(w, id);
}

const char *load_mix_next(const struct load_mix *m, struct load_rng *r, char *scratch, size_t cap, size_t *len,
                          unsigned *op)
{
    unsigned i = 0;
    if (m->nops > 1) {
        uint32_t pick = (uint32_t)load_rng_below(r, 1000000);
        while (i + 1 < m->nops && pick >= m->op_cum[i]) i++;
    }
    *op = i;
    struct w w = {scratch, 0, cap};
    switch (m->op_kind[i]) {
    case OP_FIXED: *len = m->fixed_len; return m->fixed;
    case SN_HOME: sn_timeline(&w, m, r, "home-timeline"); break;
    case SN_USER: sn_timeline(&w, m, r, "user-timeline"); break;
    case SN_COMPOSE: sn_compose(&w, m, r); break;
    case HR_SEARCH:
        w_str(&w, "GET /hotels?");
        hr_dates(&w, r, 0);
        w_str(&w, "&");
        hr_latlon(&w, r);
        head(&w, m, "GET", 0, 0);
        break;
    case HR_RECOMMEND: {
        double coin = load_rng_double(r);
        w_str(&w, "GET /recommendations?require=");
        w_str(&w, coin < 0.33 ? "dis" : coin < 0.66 ? "rate" : "price");
        w_str(&w, "&");
        hr_latlon(&w, r);
        head(&w, m, "GET", 0, 0);
        break;
    }
    case HR_LOGIN:
        w_str(&w, "POST /user?");
        hr_user(&w, m, r, "username", "password");
        head(&w, m, "POST", 0, 0);
        break;
    case HR_RESERVE: {
        w_str(&w, "POST /reservation?");
        hr_dates(&w, r, 1);
        w_str(&w, "&");
        hr_latlon(&w, r);
        w_str(&w, "&hotelId=");
        w_uint(&w, 1 + load_rng_below(r, 80));
        size_t id = load_zipf_draw(&m->users, r) - 1;
        w_str(&w, "&customerName=Cornell_");
        w_uint(&w, id);
        w_str(&w, "&username=Cornell_");
        w_uint(&w, id);
        w_str(&w, "&password=");
        for (int k = 0; k < 10; k++) w_uint(&w, id);
        w_str(&w, "&number=1");
        head(&w, m, "POST", 0, 0);
        break;
    }
    }
    scratch[w.len] = '\0';
    *len = w.len;
    return scratch;
}

/* ---- mixes ------------------------------------------------------------- */

static int valid_token(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (!n || n > max) return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f) return 0;
    return 1;
}

int load_mix_url(struct load_mix *m, const char *host, const char *method, const char *path, const char *body,
                 const char *content_type, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (!method) method = "GET";
    if (!valid_token(method, 16)) {
        snprintf(err, errlen, "bad method \"%.20s\"", method);
        return -EINVAL;
    }
    if (!valid_token(host, sizeof m->host - 1) || !valid_token(path, 2048) || path[0] != '/') {
        snprintf(err, errlen, "bad host or path");
        return -EINVAL;
    }
    if (content_type && !valid_token(content_type, 200)) {
        snprintf(err, errlen, "bad content type");
        return -EINVAL;
    }
    size_t body_len = body ? strlen(body) : 0;
    if (body_len > LOAD_REQ_MAX - 2600) {
        snprintf(err, errlen, "body too long (at most %d bytes)", LOAD_REQ_MAX - 2600);
        return -EINVAL;
    }
    snprintf(m->host, sizeof m->host, "%s", host);
    m->app = LOAD_APP_URL;
    m->nops = 1;
    m->op_names[0] = "request";
    m->op_cum[0] = 1000000;
    m->op_kind[0] = OP_FIXED;
    m->fixed = xmalloc(LOAD_REQ_MAX);
    struct w w = {m->fixed, 0, LOAD_REQ_MAX};
    w_str(&w, method);
    w_str(&w, " ");
    w_str(&w, path);
    w_str(&w, " HTTP/1.1\r\nHost: ");
    w_str(&w, host);
    w_str(&w, "\r\n");
    if (body) {
        w_str(&w, "Content-Type: ");
        w_str(&w, content_type ? content_type : "application/x-www-form-urlencoded");
        w_str(&w, "\r\nContent-Length: ");
        w_uint(&w, body_len);
        w_str(&w, "\r\n");
    } else if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        w_str(&w, "Content-Length: 0\r\n");
    }
    w_str(&w, "\r\n");
    if (body) w_put(&w, body, body_len);
    m->fixed[w.len] = '\0';
    m->fixed_len = w.len;
    return 0;
}

struct mix_def {
    const char *app, *name;
    size_t nops;
    struct {
        const char *name;
        int kind;
        uint32_t weight; /* per million */
    } ops[4];
};

static const struct mix_def defs[] = {
    {"social-network", "mixed", 3,
     {{"home-timeline", SN_HOME, 600000}, {"user-timeline", SN_USER, 300000}, {"compose", SN_COMPOSE, 100000}}},
    {"social-network", "home-timeline", 1, {{"home-timeline", SN_HOME, 1000000}}},
    {"social-network", "user-timeline", 1, {{"user-timeline", SN_USER, 1000000}}},
    {"social-network", "compose", 1, {{"compose", SN_COMPOSE, 1000000}}},
    {"hotel-reservation", "mixed", 4,
     {{"search", HR_SEARCH, 600000},
      {"recommend", HR_RECOMMEND, 390000},
      {"login", HR_LOGIN, 5000},
      {"reserve", HR_RESERVE, 5000}}},
    {"hotel-reservation", "search", 1, {{"search", HR_SEARCH, 1000000}}},
    {"hotel-reservation", "recommend", 1, {{"recommend", HR_RECOMMEND, 1000000}}},
    {"hotel-reservation", "login", 1, {{"login", HR_LOGIN, 1000000}}},
    {"hotel-reservation", "reserve", 1, {{"reserve", HR_RESERVE, 1000000}}},
};

const char *load_mix_names(const char *app)
{
    if (!strcmp(app, "social-network")) return "mixed, home-timeline, user-timeline, compose";
    if (!strcmp(app, "hotel-reservation")) return "mixed, search, recommend, login, reserve";
    return NULL;
}

int load_mix_app(struct load_mix *m, const char *app, const char *name, const char *host, double zipf_s, char *err,
                 size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (!name) name = "mixed";
    if (!load_mix_names(app)) {
        snprintf(err, errlen, "unknown app \"%.60s\" (social-network, hotel-reservation)", app);
        return -EINVAL;
    }
    const struct mix_def *d = NULL;
    for (size_t i = 0; i < sizeof defs / sizeof *defs; i++)
        if (!strcmp(defs[i].app, app) && !strcmp(defs[i].name, name)) d = &defs[i];
    if (!d) {
        snprintf(err, errlen, "unknown mix \"%.60s\" for %s (%s)", name, app, load_mix_names(app));
        return -EINVAL;
    }
    if (!valid_token(host, sizeof m->host - 1)) {
        snprintf(err, errlen, "bad host");
        return -EINVAL;
    }
    snprintf(m->host, sizeof m->host, "%s", host);
    m->app = !strcmp(app, "social-network") ? LOAD_APP_SOCIAL : LOAD_APP_HOTEL;
    if (load_zipf_init(&m->users, m->app == LOAD_APP_SOCIAL ? 962 : 501, zipf_s)) {
        snprintf(err, errlen, "bad Zipf exponent %g (0..10)", zipf_s);
        return -EINVAL;
    }
    m->nops = d->nops;
    uint32_t cum = 0;
    for (size_t i = 0; i < d->nops; i++) {
        m->op_names[i] = d->ops[i].name;
        m->op_kind[i] = d->ops[i].kind;
        cum += d->ops[i].weight;
        m->op_cum[i] = cum;
    }
    return 0;
}

void load_mix_free(struct load_mix *m)
{
    xfree(m->fixed);
    load_zipf_free(&m->users);
}
