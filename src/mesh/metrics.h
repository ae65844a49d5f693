/* metrics: per-edge counters of the mesh and their Prometheus text
 * exposition (format 0.0.4), with Istio's label names (docs/mesh.md).
 *
 * An edge is (source namespace, source workload, destination namespace,
 * destination service). Edges live as long as the mesh process (counters
 * never go back), so connections hold plain pointers to them. Updating a
 * counter is a field increment: the mesh is single-threaded. Nothing about
 * fault rules is kept here. */
#ifndef MESH_METRICS_H
#define MESH_METRICS_H
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define MESH_DURATION_BUCKETS 14

enum mesh_fail_reason {
    MESH_FAIL_REFUSED,
    MESH_FAIL_NO_ENDPOINTS,
    MESH_FAIL_TIMEOUT,
    MESH_FAIL_RESET,
    MESH_FAIL_OTHER,
    MESH_FAIL_N
};

struct mesh_code_count {
    int code;
    uint64_t count;
};

struct mesh_edge {
    char *src_ns, *src_workload, *dst_ns, *dst_service;
    uint64_t opened, closed, sent_bytes, received_bytes;
    uint64_t failures[MESH_FAIL_N];
    struct mesh_code_count *codes;
    size_t n_codes;
    uint64_t buckets[MESH_DURATION_BUCKETS]; /* non-cumulative; rendered cumulative */
    uint64_t duration_count;
    double duration_sum;
    struct mesh_edge *next; /* hash chain */
};

struct mesh_metrics;

struct mesh_metrics *mesh_metrics_new(void);
void mesh_metrics_free(struct mesh_metrics *m);
/* The edge for these names, created on first use. NULL names mean
 * "unknown". The pointer stays valid until mesh_metrics_free. */
struct mesh_edge *mesh_metrics_edge(struct mesh_metrics *m, const char *src_ns, const char *src_workload,
                                    const char *dst_ns, const char *dst_service);
/* The upper bound (seconds) of histogram bucket i. */
double mesh_metrics_bucket_le(int i);
void mesh_edge_request(struct mesh_edge *e, int code, uint64_t latency_ns);
enum mesh_fail_reason mesh_fail_reason_of(int err);
/* Append the whole exposition to out. 0 or -E2BIG. */
int mesh_metrics_render(const struct mesh_metrics *m, struct buf *out);

#endif
