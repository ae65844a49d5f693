/* test_virt_fixed: the pure part of the Virtualization faults' mitigation
 * checks — when a Deployment's status says it has rolled out and serves. */
#include <jansson.h>

#include "faults/virtualization_util.h"
#include "t.h"

static json_t *dep(int want, int gen, int observed, int replicas, int updated, int ready)
{
    return json_pack("{s:{s:i}, s:{s:i}, s:{s:i, s:i, s:i, s:i}}", "metadata", "generation", gen, "spec", "replicas",
                     want, "status", "observedGeneration", observed, "replicas", replicas, "updatedReplicas", updated,
                     "readyReplicas", ready);
}

static void test_rolled_out(void)
{
    json_t *d = dep(1, 3, 3, 1, 1, 1);
    T_EQ_INT(virt_deployment_serving(d), 1);
    json_decref(d);
    d = dep(2, 3, 3, 2, 2, 2);
    T_EQ_INT(virt_deployment_serving(d), 1);
    json_decref(d);
}

/* Scaled to zero serves nothing, whatever the status says. */
static void test_zero_is_not_serving(void)
{
    json_t *d = dep(0, 2, 2, 0, 0, 0);
    T_EQ_INT(virt_deployment_serving(d), 0);
    json_decref(d);
}

/* A stuck rollout: the old pod is ready, the new one is not. */
static void test_stuck_rollout(void)
{
    json_t *d = dep(1, 2, 2, 2, 1, 1);
    T_EQ_INT(virt_deployment_serving(d), 0);
    json_decref(d);
    d = dep(1, 2, 2, 1, 1, 0); /* rolled out, not ready */
    T_EQ_INT(virt_deployment_serving(d), 0);
    json_decref(d);
    d = dep(2, 2, 2, 1, 1, 1); /* fewer than wanted */
    T_EQ_INT(virt_deployment_serving(d), 0);
    json_decref(d);
}

/* A status from before the last spec change (an undo just sent) says nothing yet. */
static void test_stale_status(void)
{
    json_t *d = dep(1, 4, 3, 1, 1, 1);
    T_EQ_INT(virt_deployment_serving(d), 0);
    json_decref(d);
}

static void test_no_status(void)
{
    json_t *d = json_pack("{s:{s:i}}", "spec", "replicas", 1);
    T_EQ_INT(virt_deployment_serving(d), 0);
    json_decref(d);
}

int main(void)
{
    T_RUN(test_rolled_out);
    T_RUN(test_zero_is_not_serving);
    T_RUN(test_stuck_rollout);
    T_RUN(test_stale_status);
    T_RUN(test_no_status);
    return t_done();
}
