/* patch: JSON Patch (RFC 6902), JSON Merge Patch (RFC 7386) and the
 * common core of Kubernetes' strategic merge patch, over jansson (see
 * patch.h). Every function works on a deep copy, so a failed patch leaves
 * the caller's object as it was, and the daemon can validate the result
 * (manifest_validate) before it replaces the stored object. */
#include "cluster/patch.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#define PATCH_MAX_DEPTH 256

/* ---- RFC 6901 pointers and RFC 6902 operations ------------------------- */

/* One decoded reference token (~1 -> '/', ~0 -> '~'). */
static int next_token(const char **p, char *tok, size_t toklen)
{
    const char *s = *p;
    if (*s != '/') return -EINVAL;
    s++;
    size_t n = 0;
    while (*s && *s != '/') {
        char ch = *s++;
        if (ch == '~') {
            if (*s == '0') ch = '~';
            else if (*s == '1') ch = '/';
            else return -EINVAL;
            s++;
        }
        if (n + 1 >= toklen) return -E2BIG;
        tok[n++] = ch;
    }
    tok[n] = '\0';
    *p = s;
    return 0;
}

/* An array index token: "0" or digits without a leading zero; "-" gives
 * size when allow_end. -1 when invalid. */
static long array_index(const char *tok, size_t size, int allow_end)
{
    if (allow_end && strcmp(tok, "-") == 0) return (long)size;
    if (!*tok || (tok[0] == '0' && tok[1]) || strlen(tok) > 18) return -1;
    long v = 0;
    for (const char *c = tok; *c; c++) {
        if (*c < '0' || *c > '9') return -1;
        v = v * 10 + (*c - '0');
    }
    return v;
}

/* Resolve the parent of the last token of ptr. *parent is borrowed from
 * doc; last receives the final token. -ENOENT when a step is missing. */
static int resolve_parent(json_t *doc, const char *ptr, json_t **parent, char *last, size_t lastlen)
{
    json_t *cur = doc;
    const char *p = ptr;
    char tok[1024];
    int rc = next_token(&p, tok, sizeof tok);
    if (rc) return rc;
    while (*p) {
        if (json_is_object(cur)) cur = json_object_get(cur, tok);
        else if (json_is_array(cur)) {
            long i = array_index(tok, json_array_size(cur), 0);
            cur = i < 0 ? NULL : json_array_get(cur, (size_t)i);
        } else cur = NULL;
        if (!cur) return -ENOENT;
        rc = next_token(&p, tok, sizeof tok);
        if (rc) return rc;
    }
    if (strlen(tok) >= lastlen) return -E2BIG;
    memcpy(last, tok, strlen(tok) + 1);
    *parent = cur;
    return 0;
}

/* The value at ptr (borrowed), NULL when absent or ptr is malformed. */
static json_t *pointer_get(json_t *doc, const char *ptr)
{
    if (!*ptr) return doc;
    json_t *parent;
    char last[1024];
    if (resolve_parent(doc, ptr, &parent, last, sizeof last)) return NULL;
    if (json_is_object(parent)) return json_object_get(parent, last);
    if (json_is_array(parent)) {
        long i = array_index(last, json_array_size(parent), 0);
        return i < 0 ? NULL : json_array_get(parent, (size_t)i);
    }
    return NULL;
}

/* add: steals value. */
static int op_add(json_t **doc, const char *path, json_t *value, char *err, size_t errlen)
{
    if (!*path) {
        json_decref(*doc);
        *doc = value;
        return 0;
    }
    json_t *parent;
    char last[1024];
    int rc = resolve_parent(*doc, path, &parent, last, sizeof last);
    if (rc == 0 && json_is_object(parent)) {
        json_object_set_new(parent, last, value);
        return 0;
    }
    if (rc == 0 && json_is_array(parent)) {
        long i = array_index(last, json_array_size(parent), 1);
        if (i < 0 || (size_t)i > json_array_size(parent)) {
            snprintf(err, errlen, "add operation: index out of bounds at \"%s\"", path);
            json_decref(value);
            return -EINVAL;
        }
        json_array_insert_new(parent, (size_t)i, value);
        return 0;
    }
    snprintf(err, errlen, "add operation does not apply: doc is missing path: \"%s\"", path);
    json_decref(value);
    return -EINVAL;
}

/* remove; when taken is non-NULL the removed value is handed over. */
static int op_remove(json_t **doc, const char *path, json_t **taken, const char *opname, char *err, size_t errlen)
{
    if (!*path) {
        if (taken) *taken = json_incref(*doc);
        json_decref(*doc);
        *doc = json_null();
        return 0;
    }
    json_t *parent;
    char last[1024];
    int rc = resolve_parent(*doc, path, &parent, last, sizeof last);
    if (rc == 0 && json_is_object(parent) && json_object_get(parent, last)) {
        if (taken) *taken = json_incref(json_object_get(parent, last));
        json_object_del(parent, last);
        return 0;
    }
    if (rc == 0 && json_is_array(parent)) {
        long i = array_index(last, json_array_size(parent), 0);
        if (i >= 0 && (size_t)i < json_array_size(parent)) {
            if (taken) *taken = json_incref(json_array_get(parent, (size_t)i));
            json_array_remove(parent, (size_t)i);
            return 0;
        }
    }
    snprintf(err, errlen, "%s operation does not apply: doc is missing path: \"%s\"", opname, path);
    return -EINVAL;
}

/* RFC 6902 equality: as json_equal, except that numbers compare by value
 * (1 equals 1.0). */
static int values_equal(const json_t *a, const json_t *b, int depth)
{
    if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
    if (depth > PATCH_MAX_DEPTH || json_typeof(a) != json_typeof(b)) return json_equal(a, b);
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b)) return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!values_equal(json_array_get(a, i), json_array_get(b, i), depth + 1)) return 0;
        return 1;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b)) return 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v) {
            const json_t *w = json_object_get(b, k);
            if (!w || !values_equal(v, w, depth + 1)) return 0;
        }
        return 1;
    }
    return json_equal(a, b);
}

static const char *member_str(const json_t *op, const char *key)
{
    return json_string_value(json_object_get(op, key));
}

int patch_json(const json_t *obj, const json_t *patch, json_t **out, char *err, size_t errlen)
{
    if (!json_is_array(patch)) {
        snprintf(err, errlen, "json patch must be a list of operations");
        return -EINVAL;
    }
    json_t *doc = json_deep_copy(obj);
    size_t idx;
    json_t *op;
    json_array_foreach(patch, idx, op) {
        const char *name = member_str(op, "op");
        const char *path = member_str(op, "path");
        const char *from = member_str(op, "from");
        json_t *value = json_object_get(op, "value");
        int rc = 0;
        if (!json_is_object(op) || !name) {
            snprintf(err, errlen, "json patch operation %zu: missing \"op\"", idx);
            goto fail;
        }
        if (!path) {
            snprintf(err, errlen, "json patch operation %zu (%s): missing \"path\"", idx, name);
            goto fail;
        }
        if (*path && *path != '/') {
            snprintf(err, errlen, "json patch operation %zu (%s): invalid pointer \"%s\"", idx, name, path);
            goto fail;
        }
        if (!strcmp(name, "add") || !strcmp(name, "replace") || !strcmp(name, "test")) {
            if (!value) {
                snprintf(err, errlen, "json patch operation %zu (%s): missing \"value\"", idx, name);
                goto fail;
            }
        }
        if ((!strcmp(name, "move") || !strcmp(name, "copy")) && (!from || (*from && *from != '/'))) {
            snprintf(err, errlen, "json patch operation %zu (%s): missing or invalid \"from\"", idx, name);
            goto fail;
        }
        if (!strcmp(name, "add")) {
            rc = op_add(&doc, path, json_deep_copy(value), err, errlen);
        } else if (!strcmp(name, "remove")) {
            rc = op_remove(&doc, path, NULL, "remove", err, errlen);
        } else if (!strcmp(name, "replace")) {
            rc = op_remove(&doc, path, NULL, "replace", err, errlen);
            if (!rc) rc = op_add(&doc, path, json_deep_copy(value), err, errlen);
        } else if (!strcmp(name, "move")) {
            size_t fl = strlen(from);
            if (strncmp(path, from, fl) == 0 && path[fl] == '/') {
                snprintf(err, errlen, "move operation: \"from\" %s is an ancestor of \"path\" %s", from, path);
                goto fail;
            }
            json_t *taken = NULL;
            rc = op_remove(&doc, from, &taken, "move", err, errlen);
            if (!rc) rc = op_add(&doc, path, taken, err, errlen);
        } else if (!strcmp(name, "copy")) {
            json_t *src = pointer_get(doc, from);
            if (!src) {
                snprintf(err, errlen, "copy operation does not apply: doc is missing from path: \"%s\"", from);
                goto fail;
            }
            rc = op_add(&doc, path, json_deep_copy(src), err, errlen);
        } else if (!strcmp(name, "test")) {
            json_t *cur = pointer_get(doc, path);
            if (!cur || !values_equal(cur, value, 0)) {
                snprintf(err, errlen, "testing value %s failed: test failed", path);
                goto fail;
            }
        } else {
            snprintf(err, errlen, "json patch operation %zu: unexpected kind: \"%s\"", idx, name);
            goto fail;
        }
        if (rc) goto fail;
    }
    *out = doc;
    return 0;
fail:
    json_decref(doc);
    return -EINVAL;
}

/* ---- RFC 7386 ---------------------------------------------------------- */

static json_t *merge_value(json_t *target, const json_t *patch, int depth)
{
    if (!json_is_object(patch) || depth > PATCH_MAX_DEPTH) return json_deep_copy(patch);
    json_t *res = json_is_object(target) ? json_deep_copy(target) : json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)patch, k, v) {
        if (json_is_null(v)) json_object_del(res, k);
        else json_object_set_new(res, k, merge_value(json_object_get(res, k), v, depth + 1));
    }
    return res;
}

int patch_merge(const json_t *obj, const json_t *patch, json_t **out, char *err, size_t errlen)
{
    if (!patch) {
        snprintf(err, errlen, "merge patch is empty");
        return -EINVAL;
    }
    *out = merge_value((json_t *)obj, patch, 0);
    return 0;
}

/* ---- strategic merge patch --------------------------------------------- */

struct smp {
    char *err;
    size_t errlen;
    int failed;
};

static json_t *smp_merge(struct smp *s, const json_t *target, const json_t *patch, const char *field, int depth);

/* The merge key of a list field, judged by the field name and, for
 * "ports", by what the patch's items carry (container ports have
 * containerPort, Service ports have port). NULL: the list is replaced. */
static const char *merge_key_of(const char *field, const json_t *patch_list)
{
    static const char *const by_name[] = {"containers", "initContainers", "ephemeralContainers", "volumes",
                                          "env", "volumeMounts", "imagePullSecrets", "volumeDevices"};
    if (!field) return NULL;
    for (size_t i = 0; i < sizeof by_name / sizeof by_name[0]; i++)
        if (!strcmp(field, by_name[i])) return "name";
    if (!strcmp(field, "ports")) {
        size_t i;
        json_t *item;
        json_array_foreach(patch_list, i, item) {
            if (json_object_get(item, "containerPort")) return "containerPort";
            if (json_object_get(item, "port")) return "port";
        }
        return "port";
    }
    return NULL;
}

static const char *directive(const json_t *o)
{
    return json_is_object(o) ? json_string_value(json_object_get(o, "$patch")) : NULL;
}

__attribute__((format(printf, 2, 3))) static void smp_fail(struct smp *s, const char *fmt, ...)
{
    if (s->failed) return;
    s->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, s->errlen, fmt, ap);
    va_end(ap);
}

static json_t *smp_list(struct smp *s, const json_t *target, const json_t *patch, const char *field, int depth)
{
    const char *key = merge_key_of(field, patch);
    size_t i;
    json_t *item;
    /* {"$patch": "replace"} inside a list: the list becomes the rest */
    json_array_foreach(patch, i, item) {
        const char *d = directive(item);
        if (d && !strcmp(d, "replace") && json_object_size(item) == 1) {
            json_t *res = json_array();
            size_t j;
            json_t *other;
            json_array_foreach(patch, j, other) {
                if (j != i) json_array_append_new(res, smp_merge(s, NULL, other, NULL, depth + 1));
            }
            return res;
        }
    }
    if (!key || !json_is_array(target)) {
        json_t *res = json_array();
        json_array_foreach(patch, i, item) {
            const char *d = directive(item);
            if (d && !strcmp(d, "delete")) continue;
            json_array_append_new(res, smp_merge(s, NULL, item, NULL, depth + 1));
        }
        return res;
    }
    json_t *res = json_deep_copy(target);
    json_array_foreach(patch, i, item) {
        if (!json_is_object(item)) {
            smp_fail(s, "%s: items must be objects with a \"%s\"", field, key);
            break;
        }
        json_t *kv = json_object_get(item, key);
        if (!kv) {
            smp_fail(s, "map: %s does not contain declared merge key: %s", field, key);
            break;
        }
        size_t found = (size_t)-1, j;
        json_t *cur;
        json_array_foreach(res, j, cur) {
            if (json_equal(json_object_get(cur, key), kv)) {
                found = j;
                break;
            }
        }
        const char *d = directive(item);
        if (d && !strcmp(d, "delete")) {
            if (found != (size_t)-1) json_array_remove(res, found);
            continue;
        }
        if (found != (size_t)-1) json_array_set_new(res, found, smp_merge(s, json_array_get(res, found), item, NULL, depth + 1));
        else json_array_append_new(res, smp_merge(s, NULL, item, NULL, depth + 1));
    }
    return res;
}

/* Merge patch into target (either may be NULL = absent); a new value. */
static json_t *smp_merge(struct smp *s, const json_t *target, const json_t *patch, const char *field, int depth)
{
    if (depth > PATCH_MAX_DEPTH) {
        smp_fail(s, "patch nested too deeply");
        return json_null();
    }
    if (json_is_array(patch)) return smp_list(s, target, patch, field, depth);
    if (!json_is_object(patch)) return json_deep_copy(patch);
    const char *d = directive(patch);
    json_t *res;
    if (d && !strcmp(d, "replace")) res = json_object();
    else if (d && strcmp(d, "delete") && strcmp(d, "merge")) {
        smp_fail(s, "unknown patch type: %s", d);
        return json_object();
    } else res = json_is_object(target) ? json_deep_copy(target) : json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)patch, k, v) {
        if (!strcmp(k, "$patch") || !strcmp(k, "$retainKeys") || !strncmp(k, "$setElementOrder/", 17)) continue;
        if (!strncmp(k, "$deleteFromPrimitiveList/", 25)) {
            json_t *list = json_object_get(res, k + 25);
            size_t i;
            json_t *gone;
            if (!json_is_array(list) || !json_is_array(v)) continue;
            json_array_foreach(v, i, gone) {
                for (size_t j = json_array_size(list); j-- > 0;)
                    if (json_equal(json_array_get(list, j), gone)) json_array_remove(list, j);
            }
            continue;
        }
        if (json_is_null(v)) {
            json_object_del(res, k);
            continue;
        }
        const char *vd = directive(v);
        if (vd && !strcmp(vd, "delete")) {
            json_object_del(res, k);
            continue;
        }
        json_object_set_new(res, k, smp_merge(s, json_object_get(res, k), v, k, depth + 1));
    }
    return res;
}

int patch_strategic(const json_t *obj, const json_t *patch, json_t **out, char *err, size_t errlen)
{
    if (!json_is_object(patch)) {
        snprintf(err, errlen, "strategic merge patch must be a JSON object");
        return -EINVAL;
    }
    struct smp s = {err, errlen, 0};
    json_t *res = smp_merge(&s, obj, patch, NULL, 0);
    if (s.failed) {
        json_decref(res);
        return -EINVAL;
    }
    *out = res;
    return 0;
}

int patch_apply(const char *type, const json_t *obj, const json_t *patch, json_t **out, char *err, size_t errlen)
{
    if (type && !strcmp(type, "json")) return patch_json(obj, patch, out, err, errlen);
    if (type && !strcmp(type, "merge")) return patch_merge(obj, patch, out, err, errlen);
    if (type && !strcmp(type, "strategic")) return patch_strategic(obj, patch, out, err, errlen);
    snprintf(err, errlen, "--type must be one of [json merge strategic], not \"%s\"", type ? type : "");
    return -EINVAL;
}
