/* mix: what the load generator sends — weighted request mixes per app,
 * with users drawn from a Zipf distribution.
 *
 * A mix is a set of operations with weights. Each request picks an
 * operation and fills its variable parts (user, timeline window, text,
 * dates, coordinates) from the caller's random source, into the caller's
 * scratch buffer: no allocation per request. A plain URL target is a mix
 * of one operation whose bytes are built once.
 *
 * Mixes (`--app APP --mix NAME`):
 *   social-network   mixed (60 % home-timeline, 30 % user-timeline, 10 % compose;
 *                    DeathStarBench's wrk2 mix), home-timeline, user-timeline, compose;
 *                    users username_1 .. username_962 (Zipf)
 *   hotel-reservation mixed (60 % search, 39 % recommend, 0.5 % login,
 *                    0.5 % reserve), search, recommend, login, reserve;
 *                    users Cornell_0 .. Cornell_500 (Zipf)
 * Functions return 0 or a negative errno, with a message in err. */
#ifndef WORKLOAD_MIX_H
#define WORKLOAD_MIX_H
#include <stddef.h>
#include <stdint.h>

#include "workload/arrival.h"

#define LOAD_MIX_MAX_OPS 8
#define LOAD_REQ_MAX 4096 /* bytes of one request, headers and body */

/* Zipf over 1..n with exponent s: P(k) ~ 1/k^s. */
struct load_zipf {
    double *cdf;
    size_t n;
};
int load_zipf_init(struct load_zipf *z, size_t n, double s);
void load_zipf_free(struct load_zipf *z);
/* A rank in 1..n. */
size_t load_zipf_draw(const struct load_zipf *z, struct load_rng *r);

enum load_app { LOAD_APP_URL, LOAD_APP_SOCIAL, LOAD_APP_HOTEL };

struct load_mix {
    enum load_app app;
    char host[300]; /* the Host header */
    size_t nops;
    const char *op_names[LOAD_MIX_MAX_OPS];
    uint32_t op_cum[LOAD_MIX_MAX_OPS]; /* cumulative weights out of 1000000 */
    int op_kind[LOAD_MIX_MAX_OPS];
    struct load_zipf users;
    /* URL: the one request, prebuilt. */
    char *fixed;
    size_t fixed_len;
};

/* A mix for a plain target: METHOD (GET when NULL) of path (with query)
 * on host, with an optional body (sent as form data when a content type
 * is not given). */
int load_mix_url(struct load_mix *m, const char *host, const char *method, const char *path, const char *body,
                 const char *content_type, char *err, size_t errlen);
/* An app's mix by name (NULL: "mixed"). zipf_s is the users' exponent
 * (0: uniform; default 1.0). */
int load_mix_app(struct load_mix *m, const char *app, const char *name, const char *host, double zipf_s, char *err,
                 size_t errlen);
void load_mix_free(struct load_mix *m);
/* The mix names of an app, for help and errors ("mixed, compose, ..."). */
const char *load_mix_names(const char *app);

/* Build the next request: returns its bytes (in scratch, or the prebuilt
 * request) and length, and the operation index in *op. */
const char *load_mix_next(const struct load_mix *m, struct load_rng *r, char *scratch, size_t cap, size_t *len,
                          unsigned *op);

#endif
