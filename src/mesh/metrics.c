/* metrics: edge table and Prometheus exposition (see metrics.h). Edges are
 * found through a small chained hash table at connection open; the
 * exposition walks them in creation order so that output is stable. */
#include "mesh/metrics.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#define HASH_SIZE 1024

static const double bucket_le[MESH_DURATION_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                        0.1,    0.25,  0.5,    1,     2.5,  5,     10};

struct mesh_metrics {
    struct mesh_edge *table[HASH_SIZE];
    struct mesh_edge **order; /* creation order, for rendering */
    size_t n, cap;
};

struct mesh_metrics *mesh_metrics_new(void)
{
    return xcalloc(1, sizeof(struct mesh_metrics));
}

void mesh_metrics_free(struct mesh_metrics *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) {
        struct mesh_edge *e = m->order[i];
        free(e->src_ns);
        free(e->src_workload);
        free(e->dst_ns);
        free(e->dst_service);
        free(e->codes);
        free(e);
    }
    free(m->order);
    free(m);
}

double mesh_metrics_bucket_le(int i)
{
    return bucket_le[i];
}

static uint32_t hash_str(uint32_t h, const char *s)
{
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return (h ^ 0xff) * 16777619u;
}

struct mesh_edge *mesh_metrics_edge(struct mesh_metrics *m, const char *src_ns, const char *src_workload,
                                    const char *dst_ns, const char *dst_service)
{
    if (!src_ns) src_ns = "unknown";
    if (!src_workload) src_workload = "unknown";
    if (!dst_ns) dst_ns = "unknown";
    if (!dst_service) dst_service = "unknown";
    uint32_t h = hash_str(hash_str(hash_str(hash_str(2166136261u, src_ns), src_workload), dst_ns), dst_service);
    struct mesh_edge **slot = &m->table[h % HASH_SIZE];
    for (struct mesh_edge *e = *slot; e; e = e->next)
        if (!strcmp(e->src_ns, src_ns) && !strcmp(e->src_workload, src_workload) && !strcmp(e->dst_ns, dst_ns) &&
            !strcmp(e->dst_service, dst_service))
            return e;
    struct mesh_edge *e = xcalloc(1, sizeof *e);
    e->src_ns = xstrdup(src_ns);
    e->src_workload = xstrdup(src_workload);
    e->dst_ns = xstrdup(dst_ns);
    e->dst_service = xstrdup(dst_service);
    e->next = *slot;
    *slot = e;
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->order = xrealloc(m->order, m->cap * sizeof *m->order);
    }
    m->order[m->n++] = e;
    return e;
}

void mesh_edge_request(struct mesh_edge *e, int code, uint64_t latency_ns)
{
    size_t i = 0;
    while (i < e->n_codes && e->codes[i].code != code) i++;
    if (i == e->n_codes) {
        if (e->n_codes >= 64) code = 0, i = 0; /* bounded: odd codes beyond 64 distinct fold into 0 */
        while (i < e->n_codes && e->codes[i].code != code) i++;
        if (i == e->n_codes) {
            e->codes = xrealloc(e->codes, (e->n_codes + 1) * sizeof *e->codes);
            e->codes[e->n_codes].code = code;
            e->codes[e->n_codes].count = 0;
            e->n_codes++;
        }
    }
    e->codes[i].count++;
    double s = (double)latency_ns / 1e9;
    int b = 0;
    while (b < MESH_DURATION_BUCKETS && s > bucket_le[b]) b++;
    if (b < MESH_DURATION_BUCKETS) e->buckets[b]++;
    e->duration_count++;
    e->duration_sum += s;
}

enum mesh_fail_reason mesh_fail_reason_of(int err)
{
    switch (err) {
    case ECONNREFUSED: return MESH_FAIL_REFUSED;
    case ETIMEDOUT: return MESH_FAIL_TIMEOUT;
    case ECONNRESET: return MESH_FAIL_RESET;
    default: return MESH_FAIL_OTHER;
    }
}

/* Label values escaped as the exposition format asks (\\, \", \n). */
static int put_escaped(struct buf *out, const char *s)
{
    int rc = 0;
    for (; *s && !rc; s++) {
        if (*s == '\\') rc = buf_puts(out, "\\\\");
        else if (*s == '"') rc = buf_puts(out, "\\\"");
        else if (*s == '\n') rc = buf_puts(out, "\\n");
        else rc = buf_append(out, s, 1);
    }
    return rc;
}

static int put_labels(struct buf *out, const struct mesh_edge *e)
{
    int rc = buf_puts(out, "source_namespace=\"");
    if (!rc) rc = put_escaped(out, e->src_ns);
    if (!rc) rc = buf_puts(out, "\",source_workload=\"");
    if (!rc) rc = put_escaped(out, e->src_workload);
    if (!rc) rc = buf_puts(out, "\",destination_namespace=\"");
    if (!rc) rc = put_escaped(out, e->dst_ns);
    if (!rc) rc = buf_puts(out, "\",destination_service=\"");
    if (!rc) rc = put_escaped(out, e->dst_service);
    if (!rc) rc = buf_puts(out, "\"");
    return rc;
}

static int put_counter(struct buf *out, const struct mesh_edge *e, const char *name, uint64_t v)
{
    int rc = buf_printf(out, "%s{", name);
    if (!rc) rc = put_labels(out, e);
    if (!rc) rc = buf_printf(out, "} %llu\n", (unsigned long long)v);
    return rc;
}

static const char *reason_names[MESH_FAIL_N] = {"refused", "no_endpoints", "timeout", "reset", "other"};

int mesh_metrics_render(const struct mesh_metrics *m, struct buf *out)
{
    int rc = 0;
    struct {
        const char *name, *help;
        size_t off;
    } simple[] = {
        {"mesh_tcp_connections_opened_total", "Connections accepted by the mesh for an edge.", offsetof(struct mesh_edge, opened)},
        {"mesh_tcp_connections_closed_total", "Connections of an edge that were closed.", offsetof(struct mesh_edge, closed)},
        {"mesh_tcp_sent_bytes_total", "Bytes sent by the caller to the service.", offsetof(struct mesh_edge, sent_bytes)},
        {"mesh_tcp_received_bytes_total", "Bytes sent by the service back to the caller.", offsetof(struct mesh_edge, received_bytes)},
    };
    for (size_t k = 0; k < sizeof simple / sizeof simple[0] && !rc; k++) {
        rc = buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", simple[k].name, simple[k].help, simple[k].name);
        for (size_t i = 0; i < m->n && !rc; i++) {
            const struct mesh_edge *e = m->order[i];
            rc = put_counter(out, e, simple[k].name, *(const uint64_t *)((const char *)e + simple[k].off));
        }
    }
    if (!rc)
        rc = buf_puts(out, "# HELP mesh_tcp_connect_failures_total Connections the mesh could not connect upstream.\n"
                           "# TYPE mesh_tcp_connect_failures_total counter\n");
    for (size_t i = 0; i < m->n && !rc; i++) {
        const struct mesh_edge *e = m->order[i];
        for (int r = 0; r < MESH_FAIL_N && !rc; r++) {
            if (!e->failures[r]) continue;
            rc = buf_puts(out, "mesh_tcp_connect_failures_total{");
            if (!rc) rc = put_labels(out, e);
            if (!rc) rc = buf_printf(out, ",reason=\"%s\"} %llu\n", reason_names[r], (unsigned long long)e->failures[r]);
        }
    }
    if (!rc)
        rc = buf_puts(out, "# HELP mesh_requests_total HTTP/1.x requests answered, by response code.\n"
                           "# TYPE mesh_requests_total counter\n");
    for (size_t i = 0; i < m->n && !rc; i++) {
        const struct mesh_edge *e = m->order[i];
        for (size_t c = 0; c < e->n_codes && !rc; c++) {
            rc = buf_puts(out, "mesh_requests_total{");
            if (!rc) rc = put_labels(out, e);
            if (!rc) rc = buf_printf(out, ",response_code=\"%d\"} %llu\n", e->codes[c].code, (unsigned long long)e->codes[c].count);
        }
    }
    if (!rc)
        rc = buf_puts(out, "# HELP mesh_request_duration_seconds Time from request head to response head.\n"
                           "# TYPE mesh_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->n && !rc; i++) {
        const struct mesh_edge *e = m->order[i];
        if (!e->duration_count) continue;
        uint64_t cum = 0;
        for (int b = 0; b <= MESH_DURATION_BUCKETS && !rc; b++) {
            rc = buf_puts(out, "mesh_request_duration_seconds_bucket{");
            if (!rc) rc = put_labels(out, e);
            if (b < MESH_DURATION_BUCKETS) {
                cum += e->buckets[b];
                if (!rc) rc = buf_printf(out, ",le=\"%g\"} %llu\n", bucket_le[b], (unsigned long long)cum);
            } else if (!rc) {
                rc = buf_printf(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)e->duration_count);
            }
        }
        if (!rc) rc = buf_puts(out, "mesh_request_duration_seconds_sum{");
        if (!rc) rc = put_labels(out, e);
        if (!rc) rc = buf_printf(out, "} %.9g\n", e->duration_sum);
        if (!rc) rc = buf_puts(out, "mesh_request_duration_seconds_count{");
        if (!rc) rc = put_labels(out, e);
        if (!rc) rc = buf_printf(out, "} %llu\n", (unsigned long long)e->duration_count);
    }
    return rc;
}
