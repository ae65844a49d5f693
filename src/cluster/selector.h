/* selector: Kubernetes label selectors — the string form kubectl's -l
 * takes ("app=x,tier!=db,env in (a,b),!canary,release") and the map form
 * of spec.selector / matchLabels. */
#ifndef CLUSTER_SELECTOR_H
#define CLUSTER_SELECTOR_H
#include <jansson.h>
#include <stddef.h>

/* Whether labels (an object of strings, may be NULL) satisfy the selector
 * string. 1 match, 0 no match, -EINVAL with err for a malformed selector. */
int selector_match_string(const char *sel, const json_t *labels, char *err, size_t errlen);
/* Whether labels hold every key=value of the map selector. An empty or
 * absent map selects nothing (as a Service selector without keys). */
int selector_match_map(const json_t *sel, const json_t *labels);

#endif
