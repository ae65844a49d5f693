/* load: the open-loop load generator, as a library (the `aiopslab load`
 * command and the orchestrator both drive it through this header).
 *
 * A run sends HTTP/1.1 requests over keep-alive connections to one target
 * (a plain URL or an app's front end) on a schedule of arrivals
 * (arrival.h), each request chosen from a mix (mix.h). It is open loop:
 * every request has an intended send time from the schedule, and its
 * latency is measured from that time, so a server that stalls shows its
 * stall in the percentiles instead of silently slowing the load down
 * (coordinated omission corrected, as wrk2 does). When every connection is
 * busy, due requests wait in a bounded queue; when the queue is full they
 * are dropped and counted ("backlog"). A run can also be closed loop
 * (max_rate: every connection sends its next request as soon as the
 * answer is in, as wrk does) to measure a server's capacity.
 *
 * Threads: the run has `threads` workers, each with its own epoll loop,
 * connections, share of the rate and histogram; nothing is shared on the
 * hot path. Memory is bounded (fixed histograms, a bounded queue), so a
 * run may last for hours. The same seed gives the same schedule and the
 * same request sequence on every thread.
 *
 * Use:
 *     struct load_options o; load_options_init(&o);
 *     ... fill o.host/o.port, o.mix (load_mix_*), o.schedule (arrival.h) ...
 *     struct load_run *run;
 *     if (load_start(&o, &run, err, sizeof err)) ...;   // o's mix and schedule now belong to run
 *     load_stats(run, &st, NULL);     // any time, from any thread
 *     load_stop(run);                 // optional: end early
 *     load_wait(run);                 // joins the workers (after the schedule or a stop)
 *     json_t *rep = load_report(run); // the final JSON report
 *     load_free(run);
 * Return convention: 0 or a negative errno, with a message in err. */
#ifndef WORKLOAD_LOAD_H
#define WORKLOAD_LOAD_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "workload/arrival.h"
#include "workload/hdr.h"
#include "workload/mix.h"

#define LOAD_MAX_THREADS 64
#define LOAD_MAX_CONNECTIONS 65536

enum load_error {
    LOAD_ERR_CONNECT, /* could not connect (refused, unreachable) */
    LOAD_ERR_RESET,   /* connection closed or reset before the answer */
    LOAD_ERR_TIMEOUT, /* no answer within the timeout */
    LOAD_ERR_PARSE,   /* not a valid HTTP/1.1 answer */
    LOAD_ERR_HTTP4,   /* 4xx status */
    LOAD_ERR_HTTP5,   /* 5xx status */
    LOAD_ERR_BACKLOG, /* dropped: every connection busy and the queue full */
    LOAD_ERR_KINDS
};
const char *load_error_name(enum load_error e);

struct load_options {
    char host[256];           /* address to connect to (name or IP) */
    char port[8];
    char target[512];         /* a label for reports: the URL or app */
    struct load_mix mix;      /* what to send (moved into the run) */
    struct load_schedule schedule; /* when (moved into the run) */
    int max_rate;             /* closed loop: as fast as answers come */
    unsigned threads;         /* default 1 */
    unsigned connections;     /* default 16 (split over the threads) */
    uint64_t seed;            /* default 1 */
    uint64_t timeout_ns;      /* per request, default 10 s */
    size_t max_backlog;       /* queued due requests per thread, default 1M */
    int metrics_port;         /* > 0: serve Prometheus /metrics there */
    char metrics_addr[64];    /* default 127.0.0.1 */
};

void load_options_init(struct load_options *o);

struct load_op_stats {
    uint64_t completed, errors;
};

/* A consistent-enough live view (counters from different threads are read
 * one after another). */
struct load_stats {
    double elapsed_s;       /* since the start */
    double duration_s;      /* of the schedule */
    double offered_rate;    /* the schedule's rate now (0 in max_rate mode) */
    uint64_t offered;       /* arrivals due so far */
    uint64_t sent, completed, reconnects, unfinished;
    uint64_t sent_in_schedule; /* sent before the schedule's end (not in the drain) */
    uint64_t errors[LOAD_ERR_KINDS];
    uint64_t errors_total;
    uint64_t status[6];     /* answers by class: [2] = 2xx ... [5] = 5xx, [0] other */
    uint64_t bytes_in;
    size_t nops;
    struct load_op_stats ops[LOAD_MIX_MAX_OPS];
    int done;               /* every worker has finished */
};

struct load_run;

int load_start(struct load_options *o, struct load_run **out, char *err, size_t errlen);
/* Ask the workers to end now (they finish what is in flight, briefly). */
void load_stop(struct load_run *run);
/* Wait for the workers to end (the schedule's end or load_stop). */
void load_wait(struct load_run *run);
/* Live counters; hdr (may be NULL) receives the merged latency histogram
 * (nanoseconds from each request's intended send time). */
void load_stats(struct load_run *run, struct load_stats *st, struct load_hdr *hdr);
/* The name of the run's request kind k (k < load_stats' nops). */
const char *load_op_name(const struct load_run *run, size_t k);
/* Read-only views for reports. */
const struct load_options *load_run_options(const struct load_run *run);
/* The final report (report.c): a new JSON object. */
json_t *load_report(struct load_run *run);
/* One line of live progress (report.c) into out. */
void load_progress_line(const struct load_stats *st, const struct load_stats *prev, const struct load_hdr *hdr,
                        char *out, size_t n);
/* Prometheus text of the run's metrics (metrics.c), appended to out. */
int load_metrics_render(struct load_run *run, struct buf *out);
void load_free(struct load_run *run);

/* Metrics server (metrics.c): started by load_start when metrics_port > 0. */
struct load_metrics_server;
int load_metrics_serve(struct load_run *run, const char *addr, int port, struct load_metrics_server **out, char *err,
                       size_t errlen);
void load_metrics_close(struct load_metrics_server *s);

#endif
