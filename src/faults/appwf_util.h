/* appwf_util: what the workload and application faults share — the app's
 * front end (where its users' traffic comes in), the mesh's view of the
 * requests reaching a Service (Istio-style metrics on the mesh's admin
 * port: what an SRE's dashboard shows), and a load generator run that
 * lasts as long as its fault (src/workload/load.h).
 *
 * Return convention: 0, or -1 with c->err set. */
#ifndef FAULTS_APPWF_UTIL_H
#define FAULTS_APPWF_UTIL_H
#include <stdint.h>

#include "faults/fault.h"
#include "workload/load.h"

/* Which app a Deployment belongs to, from its program: the DeathStarBench
 * apps have request mixes and keys in src/workload/mix.h. */
enum fault_app { FAULT_APP_OTHER, FAULT_APP_SOCIAL, FAULT_APP_HOTEL };

/* The target front end: its Service (same name as the Deployment), its
 * ClusterIP and first port, and which app it is; recorded in c->state
 * ("frontHost", "frontPort", "app") for run() and recover. */
int fault_front_resolve(struct fault_ctx *c);
enum fault_app fault_front_app(const struct fault_ctx *c);
const char *fault_app_name(enum fault_app a); /* "social-network", "hotel-reservation", "other" */

/* Requests the mesh has seen reaching a Service, over all callers. */
struct fault_mesh_sample {
    uint64_t at_ns;              /* monotonic time of the sample */
    double requests, errors;     /* answered requests; of them 5xx */
    double latency_sum, latency_count; /* request head -> response head, seconds */
    double opened;               /* connections opened to it */
};
/* Scrape the mesh's /metrics for Service ns/svc. */
int fault_mesh_sample(struct fault_ctx *c, const char *svc, struct fault_mesh_sample *out);
/* The workloads of ns that have called Service ns/svc through the mesh
 * (its callers, from the mesh's per-edge metrics): a new array, or NULL
 * with c->err. */
json_t *fault_mesh_callers(struct fault_ctx *c, const char *svc);
/* Two samples `ms` apart, the second one's counters and the rate between
 * them saved in c->state["baseline"] (the front end before the fault). */
int fault_mesh_baseline(struct fault_ctx *c, const char *svc, unsigned ms);
/* What changed at the Service since the baseline. */
struct fault_mesh_delta {
    double secs;                    /* since the baseline */
    double requests, errors;        /* answered since; of them 5xx */
    double rate_before;             /* req/s before the fault */
    double mean, mean_before;       /* mean latency (s) since, and before (0: no answers) */
};
int fault_mesh_since(struct fault_ctx *c, const char *svc, struct fault_mesh_delta *d);
/* 1 when, since the baseline, the Service receives at least `extra_rps`
 * more requests per second than before, or its mean latency has at least
 * tripled (and grown by 20 ms), or more than 5 % of its answers are 5xx
 * (at least 10 of them); 0 not yet. */
int fault_mesh_symptom(struct fault_ctx *c, const char *svc, double extra_rps);

/* What a kit service's own /metrics say, summed over the Deployment's
 * running pods: its requests (probes and scrapes left out), its
 * PostgreSQL and cache (Redis, memcached) operations, its CPU time and
 * its resident memory. */
struct fault_pod_sample {
    uint64_t at_ns;
    int pods;
    double requests, db_ops, cache_ops, cpu_seconds, rss_bytes;
};
int fault_pod_metrics(struct fault_ctx *c, const char *deployment, struct fault_pod_sample *out);

/* The body of a traffic fault's run(): o (host, port, mix, schedule
 * filled by the caller and moved into the run) drives load until the fault
 * is no longer active, printing a progress line every 5 s to stderr (the
 * runner's log). 0, or -1 with c->err when the run cannot start. */
int fault_drive_load(struct fault_ctx *c, struct load_options *o);

#endif
