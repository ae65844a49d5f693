/* json: path helpers over jansson (see json.h). */
#include "core/json.h"

#include "core/buf.h"

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

json_t *json_string_lossy(const char *text, size_t n)
{
    const unsigned char *p = (const unsigned char *)text;
    struct buf b;
    buf_init(&b, n * 3 + 1);
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t k = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        int ok = k && i + k <= n;
        uint32_t cp = k == 1 ? c : k == 2 ? c & 0x1F : k == 3 ? c & 0x0F : c & 0x07;
        for (size_t j = 1; ok && j < k; j++) {
            if ((p[i + j] & 0xC0) != 0x80) ok = 0;
            cp = cp << 6 | (p[i + j] & 0x3F);
        }
        static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
        if (ok && (cp < least[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = 0;
        if (ok) {
            buf_append(&b, p + i, k);
            i += k;
        } else {
            buf_append(&b, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    json_t *s = json_stringn(b.data ? b.data : "", b.len);
    buf_free(&b);
    return s;
}
