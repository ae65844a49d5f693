/* json: path helpers over jansson (see json.h). */
#include "core/json.h"

#include <string.h>

#include "core/alloc.h"

json_t *json_path(const json_t *root, const char *path)
{
    const json_t *cur = root;
    const char *p = path;
    char key[256];
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof key) return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        if (!json_is_object(cur)) return NULL;
        cur = json_object_get(cur, key);
        p += n + (dot ? 1 : 0);
    }
    return (json_t *)cur;
}

const char *json_path_str(const json_t *root, const char *path, const char *dflt)
{
    json_t *v = json_path(root, path);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

json_int_t json_path_int(const json_t *root, const char *path, json_int_t dflt)
{
    json_t *v = json_path(root, path);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

json_t *json_path_obj(json_t *root, const char *path)
{
    json_t *cur = root;
    const char *p = path;
    char key[256];
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof key) n = sizeof key - 1;
        memcpy(key, p, n);
        key[n] = '\0';
        json_t *next = json_object_get(cur, key);
        if (!json_is_object(next)) {
            next = json_object();
            json_object_set_new(cur, key, next);
        }
        cur = next;
        p += n + (dot ? 1 : 0);
    }
    return cur;
}

void json_path_set(json_t *root, const char *path, json_t *value)
{
    const char *dot = strrchr(path, '.');
    if (!dot) {
        json_object_set_new(root, path, value);
        return;
    }
    char *parent = xstrndup(path, (size_t)(dot - path));
    json_object_set_new(json_path_obj(root, parent), dot + 1, value);
    free(parent);
}

char *json_dump_compact(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    return s ? s : xstrdup("null");
}

int json_same(const json_t *a, const json_t *b)
{
    if (!a || !b) return a == b;
    return json_equal(a, b);
}
