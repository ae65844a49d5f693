/* routes: the mesh's view of the lab, parsed from LABDIR/mesh/routes.json
 * (see docs/mesh.md): Services with their ports and ready endpoints, the
 * pods (to name the source of a connection) and the fault rules.
 *
 * A parsed table is immutable except for the round-robin counters; the
 * mesh swaps in a new table on SIGHUP and frees the old one. Connections
 * never keep pointers into a table (they copy what they need), so a table
 * can be freed while connections that it routed keep going.
 * Functions return 0 or a negative errno, with a message in err. */
#ifndef MESH_ROUTES_H
#define MESH_ROUTES_H
#include <stddef.h>
#include <stdint.h>

/* Addresses are IPv4 in host byte order throughout the mesh. */
struct mesh_endpoint {
    uint32_t ip;
    uint16_t port;
    char *pod;
};

struct mesh_service;

struct mesh_svc_port {
    struct mesh_service *svc;
    char *name;
    uint16_t port;
    struct mesh_endpoint *eps;
    size_t n_eps;
    unsigned rr; /* next endpoint, round robin */
};

struct mesh_service {
    char *ns, *name;
    uint32_t cluster_ip;
    struct mesh_svc_port *ports;
    size_t n_ports;
};

struct mesh_pod {
    uint32_t ip;
    char *ns, *name, *workload;
};

/* The fault kinds (docs/mesh.md, "Rules"). */
enum mesh_rule_action {
    MESH_RULE_DELAY,
    MESH_RULE_RESET,
    MESH_RULE_LOSS,
    MESH_RULE_BANDWIDTH,
    MESH_RULE_PARTITION,
    MESH_RULE_BLACKHOLE,
    MESH_RULE_ABORT,
    MESH_RULE_SLOW_CLOSE,
    MESH_RULE_DNS,
    MESH_RULE_N
};

/* direction: bytes toward the service (requests), from it (responses), or
 * both; for a partition, connections source → service, the reverse, or both. */
enum { MESH_DIR_TO = 1, MESH_DIR_FROM = 2, MESH_DIR_BOTH = 3 };

enum { MESH_DNS_NXDOMAIN = 1, MESH_DNS_SERVFAIL = 2 };

struct mesh_rule {
    char *id;
    enum mesh_rule_action action;
    char *src_ns, *src_workload; /* NULL: any source */
    char *dst_ns, *dst_service;  /* NULL only for a dns rule that names a host */
    char *name;                  /* dns: the name it fails (lowercase, no final dot), or NULL */
    uint16_t port;               /* 0: any port of the service */
    uint8_t direction;           /* MESH_DIR_* */
    uint32_t delay_ms, jitter_ms; /* delay */
    uint32_t slow_close_ms;       /* slow_close */
    int percent;                 /* 0..100 of connections (abort: of requests) */
    int loss_percent;            /* loss: 1..100 of packets */
    uint64_t bytes_per_second;   /* bandwidth */
    int http_status;             /* abort: 100..599 */
    int dns_error;               /* dns: MESH_DNS_* */
};

struct mesh_routes {
    int64_t generation;
    struct mesh_service *services;
    size_t n_services;
    struct mesh_pod *pods; /* sorted by ip */
    size_t n_pods;
    struct mesh_rule *rules;
    size_t n_rules;
    struct mesh_svc_port **by_addr; /* all service ports sorted by (clusterIP, port) */
    size_t n_addr;
};

/* Parse routes.json text. On success *out is a new table (free with
 * mesh_routes_free). Unknown fields are ignored; a malformed entry fails
 * the whole parse so that a bad file never half-applies. */
int mesh_routes_parse(const char *text, size_t len, struct mesh_routes **out, char *err, size_t errlen);
/* An empty table (no services, pods or rules). */
struct mesh_routes *mesh_routes_empty(void);
void mesh_routes_free(struct mesh_routes *r);

/* The Service port listening on ip:port, or NULL. */
struct mesh_svc_port *mesh_routes_find(const struct mesh_routes *r, uint32_t ip, uint16_t port);
/* The pod owning ip, or NULL (the source is then "unknown"). */
const struct mesh_pod *mesh_routes_pod(const struct mesh_routes *r, uint32_t ip);
/* The next endpoint of sp, round robin; NULL when it has none. */
const struct mesh_endpoint *mesh_routes_pick(struct mesh_svc_port *sp);

/* Dotted-quad parse/format helpers (host byte order). 0 or -EINVAL. */
int mesh_ip_parse(const char *s, uint32_t *ip);
void mesh_ip_format(uint32_t ip, char *out, size_t n);

#endif
