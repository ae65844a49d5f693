/* rules: the fault hook. A connection is matched against the rules of the
 * current routes table once, when it opens (destination known, source
 * known); the verdict is copied into the connection. */
#ifndef MESH_RULES_H
#define MESH_RULES_H
#include <stdint.h>

#include "mesh/routes.h"

struct mesh_verdict {
    enum { MESH_VERDICT_NONE, MESH_VERDICT_DELAY, MESH_VERDICT_RESET } action;
    uint32_t delay_ms, jitter_ms;
};

/* Match a connection from src (NULL: unknown source) to sp. roll is a
 * uniform random number in [0, 100) drawn per matching rule through rnd
 * (rnd(state) returns 32 random bits). The first matching rule whose roll
 * falls under its percent decides. */
void mesh_rules_match(const struct mesh_routes *r, const struct mesh_pod *src, const struct mesh_svc_port *sp,
                      uint64_t *rnd_state, struct mesh_verdict *out);
/* xorshift64*: cheap per-connection randomness (not for secrets). */
uint32_t mesh_rand(uint64_t *state);
/* The delay of one chunk: delay ± jitter (uniform), in nanoseconds, >= 0. */
uint64_t mesh_rules_delay_ns(const struct mesh_verdict *v, uint64_t *rnd_state);

#endif
