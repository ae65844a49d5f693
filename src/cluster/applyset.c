/* applyset: three-way merge for apply (see applyset.h). */
#include "cluster/applyset.h"

#include <stdlib.h>
#include <string.h>

#include "cluster/object.h"
#include "cluster/patch.h"
#include "core/json.h"

/* A merge patch turning last into next: next's values, and null for the
 * keys of last that next dropped (recursively through maps). */
static json_t *three_way_patch(const json_t *last, const json_t *next)
{
    if (!json_is_object(next)) return json_deep_copy(next);
    json_t *patch = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)next, k, v) {
        json_t *lv = json_is_object(last) ? json_object_get(last, k) : NULL;
        json_object_set_new(patch, k, json_is_object(v) && json_is_object(lv) ? three_way_patch(lv, v)
                                                                               : json_deep_copy(v));
    }
    json_object_foreach((json_t *)last, k, v) {
        if (json_is_object(last) && !json_object_get(next, k)) json_object_set_new(patch, k, json_null());
    }
    return patch;
}

static char *config_text(const json_t *in)
{
    json_t *c = json_deep_copy(in);
    json_t *ann = json_path(c, "metadata.annotations");
    if (json_is_object(ann)) {
        json_object_del(ann, APPLYSET_LAST_APPLIED);
        if (!json_object_size(ann)) json_object_del(json_path(c, "metadata"), "annotations");
    }
    json_object_del(c, "status");
    char *text = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(c);
    return text;
}

json_t *applyset_merge(const json_t *live, const json_t *in)
{
    char *text = config_text(in);
    json_t *out = NULL;
    if (live) {
        const char *last_text = object_annotation(live, APPLYSET_LAST_APPLIED);
        json_error_t je;
        json_t *last = last_text ? json_loads(last_text, 0, &je) : NULL;
        json_t *cfg = json_loads(text, 0, &je);
        json_t *patch = three_way_patch(last, cfg);
        json_t *base = json_deep_copy(live);
        json_object_del(base, "status");
        char err[256];
        if (patch_merge(base, patch, &out, err, sizeof err)) out = NULL;
        json_decref(base);
        json_decref(patch);
        json_decref(cfg);
        json_decref(last);
    }
    if (!out) out = json_deep_copy(in);
    object_set_annotation(out, APPLYSET_LAST_APPLIED, text);
    free(text);
    return out;
}
