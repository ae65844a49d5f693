/* rules: the fault hook. A rule (docs/mesh.md, "Rules") is parsed from the
 * routes table; a connection is matched against the rules once when it
 * opens (destination and source known) and again when the table changes,
 * so that rules also act on connections already open, as a network fault
 * does. The verdict (what acts on this connection) is copied into the
 * connection: a connection never points into a routes table.
 * Functions return 0 or a negative errno, with a message in err. */
#ifndef MESH_RULES_H
#define MESH_RULES_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/routes.h"

/* Verdict flags: which faults act on a connection. */
enum {
    MESH_V_DELAY = 1 << 0,
    MESH_V_RESET = 1 << 1,
    MESH_V_LOSS = 1 << 2,
    MESH_V_BANDWIDTH = 1 << 3,
    MESH_V_HANG = 1 << 4, /* partition or black hole */
    MESH_V_ABORT = 1 << 5,
    MESH_V_SLOW_CLOSE = 1 << 6,
    MESH_V_SHAPE_TO = 1 << 7,   /* delay, loss or bandwidth on bytes to the service */
    MESH_V_SHAPE_FROM = 1 << 8, /* ... on bytes from it */
};

/* What acts on one direction of a connection (0: to the service, 1: from it). */
struct mesh_dir_verdict {
    uint32_t delay_ms, jitter_ms;
    int loss_percent;
    uint64_t bytes_per_second; /* 0: unlimited */
};

struct mesh_verdict {
    uint32_t flags;
    struct mesh_dir_verdict dir[2];
    int abort_percent, abort_status;
    uint32_t slow_close_ms;
};

/* Parse and validate one rule object (the fields of docs/mesh.md). On
 * success *u is filled (free with mesh_rule_clear); on failure *u holds
 * nothing to free and err says which field is wrong and its bounds. The
 * daemon validates with the same function before it stores a rule. */
int mesh_rule_parse(const json_t *jr, struct mesh_rule *u, char *err, size_t errlen);
void mesh_rule_clear(struct mesh_rule *u);

/* Whether the rule's source (if any) is the pod src (NULL: not a pod). */
int mesh_rule_source_matches(const struct mesh_rule *u, const struct mesh_pod *src);

/* Match a connection from src (NULL: unknown source) to sp. Every kind of
 * fault acts at most once: the first matching rule of a kind whose roll
 * (uniform in [0, 100) through rnd) falls under its percent decides for
 * that kind; rules of different kinds combine. dns rules never match a
 * connection. Without rules this is one comparison. */
void mesh_rules_match(const struct mesh_routes *r, const struct mesh_pod *src, const struct mesh_svc_port *sp,
                      uint64_t *rnd_state, struct mesh_verdict *out);
/* xorshift64*: cheap per-connection randomness (not for secrets). */
uint32_t mesh_rand(uint64_t *state);
/* The delay of one chunk: delay ± jitter (uniform), in nanoseconds, >= 0. */
uint64_t mesh_rules_delay_ns(const struct mesh_dir_verdict *d, uint64_t *rnd_state);

/* TCP's answer to packet loss, as time (docs/mesh.md, "The loss model").
 * A data segment lost k times in a row arrives k retransmission timeouts
 * late (200 ms, doubling, each at most 120 s); a lost SYN (or SYN-ACK)
 * costs 1 s, 2 s, 4 s... Returns the extra time in ns, or UINT64_MAX when
 * TCP gives up (more than 15 data or 6 SYN retransmissions; always at
 * 100 %). */
#define MESH_LOSS_GIVE_UP UINT64_MAX
uint64_t mesh_rules_loss_ns(int loss_percent, int is_syn, uint64_t *rnd_state);

#endif
