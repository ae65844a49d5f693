/* scene: the live stage of a run — the lab, the app, and the workload
 * that keeps running against the app's front end for the whole run
 * (open loop, the app's mixed request mix), so that every problem sees
 * real traffic before, during and after its fault. Windows of that
 * workload measure the service level (error rate, p99). */
#ifndef ORCHESTRATOR_SCENE_H
#define ORCHESTRATOR_SCENE_H
#include <stddef.h>
#include <stdint.h>

#include "core/lab.h"
#include "orchestrator/problem.h"

struct load_run;
struct load_stats;

struct scene {
    const struct lab *lab;
    const struct app_info *app;
    struct load_run *run;
    double rate;
    uint64_t seed;
};

struct slo_window {
    uint64_t requests, errors;
    double error_rate; /* errors / requests */
    double p50_ms, p99_ms;
    char failed[200]; /* where the errors were: "compose 22 errors in 25 answers, ...; http_5xx 22" ("": none) */
};

/* Start (or, when app or rate changed, restart) the workload. 0 or -1 with err. */
int scene_load(struct scene *s, const struct app_info *app, double rate, char *err, size_t errlen);
void scene_stop(struct scene *s);
/* Measure the next ms milliseconds of the workload. */
void scene_measure(struct scene *s, unsigned ms, struct slo_window *out);
/* The requests and errors between two readings of a run: requests are
 * the answered (4xx and 5xx among them) and the never answered; an error
 * is a 5xx or no answer (a 4xx is the client's). */
void scene_window_counts(const struct load_stats *a, const struct load_stats *b, struct slo_window *out);
/* Does after meet the service level of before? (errors at most
 * max(2x, +1 point), p99 at most max(2x, +100 ms)); why says what failed. */
int scene_slo_met(const struct slo_window *before, const struct slo_window *after, char *why, size_t n);
/* Wait until every Deployment of ns has its replicas ready (at most ms). 1 when it has. */
int scene_settled(const struct lab *lab, const char *ns, unsigned ms);
/* scene_settled, but when no Deployment's status has moved for 5 s and
 * give_up(arg) says more waiting is of no use, 0 at once. */
int scene_settle(const struct lab *lab, const char *ns, unsigned ms, int (*give_up)(void *arg), void *arg);

#endif
