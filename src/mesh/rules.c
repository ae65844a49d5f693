/* rules: matching connections against fault rules (see rules.h). Rules are
 * few (a handful injected at a time), so a linear scan per new connection
 * is cheaper than any index. */
#include "mesh/rules.h"

#include <string.h>

uint32_t mesh_rand(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

static int rule_applies(const struct mesh_rule *u, const struct mesh_pod *src, const struct mesh_svc_port *sp)
{
    if (strcmp(u->dst_service, sp->svc->name) || strcmp(u->dst_ns, sp->svc->ns)) return 0;
    if (u->port && u->port != sp->port) return 0;
    if (u->src_workload) {
        if (!src || strcmp(u->src_workload, src->workload) || strcmp(u->src_ns, src->ns)) return 0;
    }
    return 1;
}

void mesh_rules_match(const struct mesh_routes *r, const struct mesh_pod *src, const struct mesh_svc_port *sp,
                      uint64_t *rnd_state, struct mesh_verdict *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < r->n_rules; i++) {
        const struct mesh_rule *u = &r->rules[i];
        if (!rule_applies(u, src, sp)) continue;
        if (u->percent < 100 && (int)(mesh_rand(rnd_state) % 100) >= u->percent) continue;
        out->action = u->action == MESH_RULE_DELAY ? MESH_VERDICT_DELAY : MESH_VERDICT_RESET;
        out->delay_ms = u->delay_ms;
        out->jitter_ms = u->jitter_ms;
        return;
    }
}

uint64_t mesh_rules_delay_ns(const struct mesh_verdict *v, uint64_t *rnd_state)
{
    int64_t ms = v->delay_ms;
    if (v->jitter_ms) ms += (int64_t)(mesh_rand(rnd_state) % (2 * v->jitter_ms + 1)) - (int64_t)v->jitter_ms;
    if (ms < 0) ms = 0;
    return (uint64_t)ms * 1000000ull;
}
