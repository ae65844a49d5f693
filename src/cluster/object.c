/* object: questions about Kubernetes objects (see object.h). */
#include "cluster/object.h"

#include <string.h>

#include "core/json.h"

int object_pod_ready(const json_t *pod)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_path(pod, "status.conditions"), i, c) {
        if (!strcmp(json_path_str(c, "type", ""), "Ready")) return !strcmp(json_path_str(c, "status", ""), "True");
    }
    return 0;
}

int object_owned_by(const json_t *obj, const char *uid)
{
    size_t i;
    json_t *ref;
    json_array_foreach(json_path(obj, "metadata.ownerReferences"), i, ref) {
        if (!strcmp(json_path_str(ref, "uid", ""), uid)) return 1;
    }
    return 0;
}

const char *object_annotation(const json_t *obj, const char *key)
{
    json_t *a = json_path(obj, "metadata.annotations");
    json_t *v = json_is_object(a) ? json_object_get(a, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

void object_set_annotation(json_t *obj, const char *key, const char *value)
{
    json_object_set_new(json_path_obj(obj, "metadata.annotations"), key, json_string(value));
}
