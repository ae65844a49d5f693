/* workload: the workload layer's faults — more traffic than the app was
 * sized for, sent at its front end by the lab's own load generator
 * (src/workload/load.h) from the fault's detached process, for as long as
 * the fault lasts:
 *   traffic-spike  the app's usual request mix (DeathStarBench's), open
 *                  loop at `rate` req/s on top of whatever already runs;
 *   hot-key        every request for one key (one user's timeline, one
 *                  account's login): one cache key and one row hot;
 *   flood          many clients hammering one cheap endpoint as fast as it
 *                  answers (or at `rate`), like the OpenTelemetry demo's
 *                  loadgeneratorFloodHomepage.
 * Nothing in the cluster changes, so recover has nothing to restore: the
 * engine ends the fault's process and the traffic stops with it. Verify
 * looks where an SRE looks: the mesh's request metrics of the front end's
 * Service (rate up, latency up or 5xx), against a baseline taken at
 * inject. */
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "faults/appwf_util.h"
#include "faults/fault.h"
#include "faults/layers.h"
#include "workload/load.h"

#define BASELINE_MS 400
#define FOREVER_NS (24ull * 3600 * 1000000000ull) /* the load ends with the fault, long before */
/* The least extra traffic verify asks of the front end: a busy machine's front end may serve no more. */
#define EXTRA_RPS 50.0

/* The parts every traffic fault shares. */
static int traffic_inject(struct fault_ctx *c)
{
    if (fault_front_resolve(c) || fault_mesh_baseline(c, c->target, BASELINE_MS)) return -1;
    return fault_save(c); /* the only side effect is the fault's process, started next by the engine */
}

/* The fault adds traffic and takes nothing away: nothing to restore once
 * the engine has ended its process. */
static int traffic_recover(struct fault_ctx *c)
{
    (void)c;
    return 0;
}

/* Options aimed at the recorded front end: open loop at rate (0: closed
 * loop) over `connections`. */
static void traffic_options(struct fault_ctx *c, struct load_options *o, long long rate)
{
    load_options_init(o);
    snprintf(o->host, sizeof o->host, "%s", json_path_str(c->state, "frontHost", ""));
    snprintf(o->port, sizeof o->port, "%lld", (long long)json_path_int(c->state, "frontPort", 0));
    snprintf(o->target, sizeof o->target, "%s/%s (fault %lld, %s)", c->ns, c->target, (long long)c->id,
             c->type->id);
    o->connections = (unsigned)fault_param_int(c, "connections");
    o->seed = (uint64_t)c->id;
    o->timeout_ns = 10000000000ull;
    struct load_phase *ph = &o->schedule.phases[0];
    load_phase_defaults(ph, LOAD_CONSTANT);
    ph->rate = (double)rate;
    ph->duration_ns = FOREVER_NS;
    o->schedule.n = 1;
    o->max_rate = rate == 0;
}

/* The Host header the apps expect: the address dialled. */
static void host_header(const struct load_options *o, char *out, size_t n)
{
    snprintf(out, n, "%s:%s", o->host, o->port);
}

/* Run o with its mix already set; frees them on failure. */
static int traffic_go(struct fault_ctx *c, struct load_options *o)
{
    char err[512];
    if (load_schedule_load(&o->schedule, err, sizeof err)) {
        load_mix_free(&o->mix);
        load_schedule_free(&o->schedule);
        snprintf(c->err, sizeof c->err, "%s", err);
        return -1;
    }
    return fault_drive_load(c, o);
}

/* An app's named mix (DeathStarBench's shapes, Zipf users), or GET / for
 * a front end the load generator has no mix for. */
static int app_mix(struct fault_ctx *c, struct load_options *o, const char *social, const char *hotel)
{
    char host[300], err[512];
    host_header(o, host, sizeof host);
    enum fault_app app = fault_front_app(c);
    int rc = app == FAULT_APP_OTHER ? load_mix_url(&o->mix, host, "GET", "/", NULL, NULL, err, sizeof err)
                                    : load_mix_app(&o->mix, fault_app_name(app),
                                                   app == FAULT_APP_SOCIAL ? social : hotel, host, 1.0, err,
                                                   sizeof err);
    if (rc) snprintf(c->err, sizeof c->err, "%s", err);
    return rc ? -1 : 0;
}

/* ---- traffic-spike ------------------------------------------------------------ */

/* Half the offered rate, or EXTRA_RPS more than before (0: closed loop). */
static double extra_rps(const struct fault_ctx *c)
{
    double half = (double)fault_param_int(c, "rate") / 2;
    return half > 0 && half < EXTRA_RPS ? half : EXTRA_RPS;
}

static int spike_verify(struct fault_ctx *c)
{
    return fault_mesh_symptom(c, c->target, extra_rps(c));
}

static int spike_run(struct fault_ctx *c)
{
    struct load_options o;
    traffic_options(c, &o, fault_param_int(c, "rate"));
    if (app_mix(c, &o, "mixed", "mixed")) return -1;
    return traffic_go(c, &o);
}

static const struct fault_param spike_params[] = {
    {"rate", FP_INT, 1, 20000, "1000", NULL, "extra requests per second (open loop), on top of the usual traffic"},
    {"connections", FP_INT, 1, 4096, "64", NULL, "connections the extra clients keep open"},
    {0},
};

static const struct fault_type traffic_spike = {
    .id = "traffic-spike",
    .layer = FAULT_WORKLOAD,
    .cls = FAULT_OVERLOAD,
    .target = FT_FRONTEND,
    .resource = "traffic-spike",
    .summary = "a sudden surge of ordinary users: the app's usual request mix at `rate` extra req/s on its front end",
    .symptoms = "the front end's request rate jumps (mesh_requests_total, http_server_requests_total); once it "
                "saturates, latency climbs along the whole call graph (mesh_request_duration_seconds, slow spans), "
                "requests time out and 5xx appear; CPU of the front end and its downstreams rises; no pod is "
                "unhealthy and nothing in the cluster changed",
    .params = spike_params,
    .verify_ms = 10000,
    .inject = traffic_inject,
    .verify = spike_verify,
    .recover = traffic_recover,
    .run = spike_run,
};

/* ---- hot-key ---------------------------------------------------------------- */

/* The one key's request: a user's home timeline (its Redis sorted set and
 * the posts behind it), or one account's login (its row in mongodb-user). */
static int hotkey_request(struct fault_ctx *c, char *method, size_t mlen, char *path, size_t plen)
{
    long long key = fault_param_int(c, "key");
    switch (fault_front_app(c)) {
    case FAULT_APP_SOCIAL:
        if (key < 1 || key > 962) break;
        snprintf(method, mlen, "GET");
        snprintf(path, plen, "/wrk2-api/home-timeline/read?user_id=%lld&start=0&stop=10", key);
        return 0;
    case FAULT_APP_HOTEL:
        if (key > 500) break;
        snprintf(method, mlen, "POST");
        snprintf(path, plen, "/user?username=Cornell_%lld&password=", key);
        for (int i = 0; i < 10; i++) snprintf(path + strlen(path), plen - strlen(path), "%lld", key);
        return 0;
    case FAULT_APP_OTHER:
        snprintf(c->err, sizeof c->err,
                 "hot-key knows the keys of social-network and hotel-reservation; \"%s\" is neither's front end",
                 c->target);
        return -1;
    }
    snprintf(c->err, sizeof c->err, "key=%lld is not a user of %s (social-network: 1..962, hotel-reservation: 0..500)",
             key, fault_app_name(fault_front_app(c)));
    return -1;
}

static int hotkey_inject(struct fault_ctx *c)
{
    char method[8], path[256];
    if (fault_front_resolve(c) || hotkey_request(c, method, sizeof method, path, sizeof path)) return -1;
    if (fault_mesh_baseline(c, c->target, BASELINE_MS)) return -1;
    return fault_save(c);
}

static int hotkey_verify(struct fault_ctx *c)
{
    return fault_mesh_symptom(c, c->target, extra_rps(c));
}

static int hotkey_run(struct fault_ctx *c)
{
    struct load_options o;
    traffic_options(c, &o, fault_param_int(c, "rate"));
    char method[8], path[256], host[300], err[512];
    if (hotkey_request(c, method, sizeof method, path, sizeof path)) return -1;
    host_header(&o, host, sizeof host);
    if (load_mix_url(&o.mix, host, method, path, NULL, NULL, err, sizeof err)) {
        snprintf(c->err, sizeof c->err, "%s", err);
        return -1;
    }
    return traffic_go(c, &o);
}

static const struct fault_param hotkey_params[] = {
    {"key", FP_INT, 0, 962, "1", NULL,
     "the hot user: social-network user_id 1..962 (home timeline), hotel-reservation Cornell_N 0..500 (login)"},
    {"rate", FP_INT, 1, 20000, "300", NULL, "requests per second for that one key (open loop)"},
    {"connections", FP_INT, 1, 4096, "64", NULL, "connections the clients keep open"},
    {0},
};

static const struct fault_type hot_key = {
    .id = "hot-key",
    .layer = FAULT_WORKLOAD,
    .cls = FAULT_OVERLOAD,
    .target = FT_FRONTEND,
    .resource = "hot-key",
    .summary = "traffic concentrated on one key: one user's home timeline (social-network) or one account's login "
               "(hotel-reservation) at `rate` req/s",
    .symptoms = "one operation of the front end dominates its request rate (read_home_timeline, UserHandler); the "
                "service and store behind that one key (home-timeline-service and home-timeline-redis, user and "
                "mongodb-user) take the load while the rest of the app idles; latency of that path climbs, and with "
                "it the front end's",
    .params = hotkey_params,
    .verify_ms = 10000,
    .inject = hotkey_inject,
    .verify = hotkey_verify,
    .recover = traffic_recover,
    .run = hotkey_run,
};

/* ---- flood ------------------------------------------------------------------- */

static int flood_verify(struct fault_ctx *c)
{
    return fault_mesh_symptom(c, c->target, extra_rps(c));
}

static int flood_run(struct fault_ctx *c)
{
    struct load_options o;
    traffic_options(c, &o, fault_param_int(c, "rate"));
    /* The endpoint a home page calls: home-timeline reads, recommendations. */
    if (app_mix(c, &o, "home-timeline", "recommend")) return -1;
    return traffic_go(c, &o);
}

static const struct fault_param flood_params[] = {
    {"connections", FP_INT, 1, 4096, "256", NULL, "clients, each sending its next request as soon as it has an answer"},
    {"rate", FP_INT, 0, 100000, "0", NULL, "cap on requests per second (0: as fast as the front end answers)"},
    {0},
};

static const struct fault_type flood = {
    .id = "flood",
    .layer = FAULT_WORKLOAD,
    .cls = FAULT_OVERLOAD,
    .target = FT_FRONTEND,
    .resource = "flood",
    .summary = "a flood of cheap requests at one endpoint of the front end (home-timeline reads, recommendations, "
               "or GET /) from many connections, as fast as it answers",
    .symptoms = "the front end's request rate jumps on one operation and its connections pile up "
                "(mesh_tcp_connections_opened_total, http_server_requests_in_flight at its thread count); its CPU "
                "saturates; every other request waits behind the flood: latency of all endpoints climbs, and "
                "when the connections outnumber what the front end can serve, timeouts and 5xx follow",
    .params = flood_params,
    .verify_ms = 10000,
    .inject = traffic_inject,
    .verify = flood_verify,
    .recover = traffic_recover,
    .run = flood_run,
};

const struct fault_type *const fault_types_workload[] = {
    &traffic_spike,
    &hot_key,
    &flood,
    NULL,
};
