/* object: small questions about Kubernetes objects that several
 * controllers ask — is a pod Ready, who owns an object, annotations (whose
 * keys hold dots, so json_path cannot reach them). */
#ifndef CLUSTER_OBJECT_H
#define CLUSTER_OBJECT_H
#include <jansson.h>

/* The pod's Ready condition is True. */
int object_pod_ready(const json_t *pod);
/* obj lists an owner reference with this uid. */
int object_owned_by(const json_t *obj, const char *uid);
/* metadata.annotations[key], or NULL. */
const char *object_annotation(const json_t *obj, const char *key);
void object_set_annotation(json_t *obj, const char *key, const char *value);

#endif
