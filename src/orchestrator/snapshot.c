/* snapshot: see snapshot.h. */
#include "orchestrator/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/client.h"
#include "core/json.h"

static const char *const KINDS[] = {"Deployment", "Service", "ConfigMap", "Secret"};

/* The part of an object that the app's behaviour depends on. */
static json_t *normalize(const char *kind, const json_t *o)
{
    if (!strcmp(kind, "Deployment")) {
        json_t *tpl = json_deep_copy(json_path(o, "spec.template"));
        json_t *ann = json_path(tpl, "metadata.annotations");
        if (ann) json_object_del(ann, "kubectl.kubernetes.io/restartedAt");
        return json_pack("{s:I, s:o}", "replicas", (json_int_t)json_path_int(o, "spec.replicas", 1), "template",
                         tpl ? tpl : json_null());
    }
    if (!strcmp(kind, "Service"))
        return json_pack("{s:O?, s:O?}", "ports", json_path(o, "spec.ports"), "selector", json_path(o, "spec.selector"));
    if (!strcmp(kind, "ConfigMap")) {
        /* A value that is a JSON document (flagd's flags.json, a config
         * file) is compared by meaning: an operator who turns a flag off
         * with jq rewrites its formatting, not its content. */
        json_t *data = json_object(), *v;
        const char *key;
        json_object_foreach(json_object_get(o, "data"), key, v)
        {
            const char *text = json_string_value(v);
            json_t *doc = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL; /* objects, arrays only */
            json_object_set_new(data, key, doc ? doc : json_incref(v));
        }
        return json_pack("{s:o}", "data", data);
    }
    return json_pack("{s:O?}", "data", json_object_get(o, "data"));
}

json_t *snapshot_take(const struct lab *lab, const char *ns, char *err, size_t errlen)
{
    json_t *snap = json_object();
    for (size_t k = 0; k < sizeof KINDS / sizeof KINDS[0]; k++) {
        json_t *req = json_pack("{s:s, s:s, s:s}", "op", "get", "kind", KINDS[k], "namespace", ns);
        json_t *reply = NULL;
        int rc = cluster_call(lab, req, &reply, err, errlen);
        json_decref(req);
        if (rc || json_object_get(reply, "error")) {
            if (!rc) snprintf(err, errlen, "%s", json_path_str(reply, "error.message", "get failed"));
            json_decref(reply);
            json_decref(snap);
            return NULL;
        }
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(reply, "items"), i, o)
        {
            char key[320];
            snprintf(key, sizeof key, "%s/%s", KINDS[k], json_path_str(o, "metadata.name", ""));
            json_object_set_new(snap, key, normalize(KINDS[k], o));
        }
        json_decref(reply);
    }
    return snap;
}

static int allowed(const char *key, const json_t *entities)
{
    const char *name = strchr(key, '/');
    if (!name) return 0;
    name++;
    size_t i;
    json_t *e;
    json_array_foreach(entities, i, e)
    {
        const char *slash = strchr(json_string_value(e), '/');
        if (slash && !strcmp(slash + 1, name)) return 1;
    }
    return 0;
}

static void describe_change(json_t *out, const char *key, const json_t *a, const json_t *b)
{
    if (!a) {
        json_array_append_new(out, json_sprintf("%s: created", key));
        return;
    }
    if (!b) {
        json_array_append_new(out, json_sprintf("%s: deleted", key));
        return;
    }
    const char *field;
    json_t *va;
    json_object_foreach((json_t *)a, field, va)
    {
        json_t *vb = json_object_get(b, field);
        if (json_same(va, vb)) continue;
        if (!strcmp(field, "replicas"))
            json_array_append_new(out, json_sprintf("%s: replicas %lld -> %lld", key,
                                                    (long long)json_integer_value(va), (long long)json_integer_value(vb)));
        else json_array_append_new(out, json_sprintf("%s: %s changed", key, field));
    }
}

json_t *snapshot_diff(const json_t *before, const json_t *after, const json_t *entities)
{
    json_t *out = json_array();
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)before, key, v)
    {
        json_t *w = json_object_get(after, key);
        if (json_same(v, w)) continue;
        /* The fault's own objects may differ, but never vanish or lose their replicas. */
        if (allowed(key, entities) && w &&
            (!json_object_get(v, "replicas") ||
             json_integer_value(json_object_get(w, "replicas")) >= json_integer_value(json_object_get(v, "replicas"))))
            continue;
        describe_change(out, key, v, w);
    }
    json_object_foreach((json_t *)after, key, v)
    {
        if (!json_object_get(before, key) && !allowed(key, entities)) describe_change(out, key, NULL, v);
    }
    return out;
}
