/* engine: the inside of a load run, shared by engine.c (the workers),
 * report.c and metrics.c. Nothing outside src/workload includes this:
 * the public interface is load.h. */
#ifndef WORKLOAD_ENGINE_H
#define WORKLOAD_ENGINE_H
#include <netdb.h>
#include <pthread.h>

#include "workload/load.h"

/* One worker's counters: written by the worker only (relaxed stores),
 * read by anyone (relaxed loads). */
struct load_counters {
    uint64_t offered, sent, sent_in_schedule, completed, reconnects, unfinished, bytes_in;
    uint64_t errors[LOAD_ERR_KINDS];
    uint64_t status[6];
    uint64_t op_completed[LOAD_MIX_MAX_OPS], op_errors[LOAD_MIX_MAX_OPS];
};

struct conn;

struct load_worker {
    struct load_run *run;
    unsigned idx;
    pthread_t thread;
    int ep;
    struct conn *conns;
    size_t nconns, up, busy;
    struct conn **idle;
    size_t nidle;
    uint64_t *q; /* ring of intended send times (absolute mono ns) */
    size_t qhead, qlen, qcap;
    int stopping, head_method, finished;
    struct load_arrivals arr;
    struct load_rng mix_rng;
    struct load_hdr hdr;
    struct load_counters st;
};

struct load_run {
    struct load_options o;
    struct addrinfo *addr;
    struct load_worker *workers;
    unsigned nworkers, nstarted;
    int stop;
    uint64_t start_ns, start_wall_ns, end_ns;
    struct load_metrics_server *metrics;
};

#endif
