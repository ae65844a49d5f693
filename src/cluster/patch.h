/* patch: the three patch types kubectl sends, applied to a json_t object.
 *   json:       RFC 6902 JSON Patch (add, remove, replace, move, copy, test)
 *   merge:      RFC 7386 JSON Merge Patch
 *   strategic:  Kubernetes strategic merge patch for the common cases:
 *               merge patch, except that lists of objects with a merge key
 *               are merged by that key (containers, initContainers,
 *               volumes, env, volumeMounts by "name"; container ports
 *               by "containerPort", Service ports by "port"), "$patch": "delete"
 *               and "$patch": "replace" directives, and lists of scalars
 *               replaced.
 * Each returns a new object in *out (the input is not modified): 0, or
 * -EINVAL with err saying what in the patch is wrong. */
#ifndef CLUSTER_PATCH_H
#define CLUSTER_PATCH_H
#include <jansson.h>
#include <stddef.h>

int patch_json(const json_t *obj, const json_t *patch, json_t **out, char *err, size_t errlen);
int patch_merge(const json_t *obj, const json_t *patch, json_t **out, char *err, size_t errlen);
int patch_strategic(const json_t *obj, const json_t *patch, json_t **out, char *err, size_t errlen);
/* Dispatch by type name "json", "merge" or "strategic"; -EINVAL for another. */
int patch_apply(const char *type, const json_t *obj, const json_t *patch, json_t **out, char *err, size_t errlen);

#endif
