/* store: objects in memory, written through to SQLite (see store.h). */
#include "cluster/store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/timeutil.h"

struct store {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *put, *del;
    json_t *objects; /* key -> object */
    unsigned long long version;
};

static void make_key(char *out, size_t n, const char *kind, const char *ns, const char *name)
{
    snprintf(out, n, "%s/%s/%s", kind, ns ? ns : "", name);
}

static void obj_key(const json_t *obj, char *out, size_t n)
{
    make_key(out, n, json_path_str(obj, "kind", ""), json_path_str(obj, "metadata.namespace", ""),
             json_path_str(obj, "metadata.name", ""));
}

void store_new_uid(char out[37])
{
    unsigned char r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        for (size_t i = 0; i < sizeof r; i++) r[i] = (unsigned char)rand();
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2],
             r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
}

int store_open(struct store **out, const char *path, char *err, size_t errlen)
{
    struct store *s = xcalloc(1, sizeof *s);
    s->objects = json_object();
    s->path = xstrdup(path);
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) goto fail;
    if (sqlite3_exec(s->db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0;"
                     "CREATE TABLE IF NOT EXISTS objects (key TEXT PRIMARY KEY, body TEXT NOT NULL);",
                     NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO objects(key, body) VALUES (?, ?)", -1, &s->put, NULL) ||
        sqlite3_prepare_v2(s->db, "DELETE FROM objects WHERE key = ?", -1, &s->del, NULL))
        goto fail;
    sqlite3_stmt *sel;
    if (sqlite3_prepare_v2(s->db, "SELECT key, body FROM objects", -1, &sel, NULL)) goto fail;
    while (sqlite3_step(sel) == SQLITE_ROW) {
        json_error_t je;
        const char *body = (const char *)sqlite3_column_text(sel, 1);
        json_t *obj = body ? json_loads(body, 0, &je) : NULL;
        if (!json_is_object(obj)) {
            json_decref(obj);
            continue;
        }
        unsigned long long rv = strtoull(json_path_str(obj, "metadata.resourceVersion", "0"), NULL, 10);
        if (rv > s->version) s->version = rv;
        json_object_set_new(s->objects, (const char *)sqlite3_column_text(sel, 0), obj);
    }
    sqlite3_finalize(sel);
    *out = s;
    return 0;
fail:
    snprintf(err, errlen, "state database %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
    store_close(s);
    return -EIO;
}

void store_close(struct store *s)
{
    if (!s) return;
    sqlite3_finalize(s->put);
    sqlite3_finalize(s->del);
    sqlite3_close(s->db);
    json_decref(s->objects);
    free(s->path);
    free(s);
}

int store_checkpoint(const char *path)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -EIO;
}

const char *store_path(const struct store *s)
{
    return s->path;
}

json_t *store_get(struct store *s, const char *kind, const char *ns, const char *name)
{
    char key[600];
    make_key(key, sizeof key, kind, ns, name);
    return json_object_get(s->objects, key);
}

static int cmp_obj(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = strcmp(json_path_str(x, "metadata.namespace", ""), json_path_str(y, "metadata.namespace", ""));
    return c ? c : strcmp(json_path_str(x, "metadata.name", ""), json_path_str(y, "metadata.name", ""));
}

json_t *store_list(struct store *s, const char *kind, const char *ns)
{
    char prefix[300];
    int n = ns ? snprintf(prefix, sizeof prefix, "%s/%s/", kind, ns) : snprintf(prefix, sizeof prefix, "%s/", kind);
    size_t cap = 16, count = 0;
    json_t **v = xmalloc(cap * sizeof *v);
    const char *key;
    json_t *obj;
    json_object_foreach(s->objects, key, obj) {
        if (strncmp(key, prefix, (size_t)n)) continue;
        if (count == cap) v = xrealloc(v, (cap *= 2) * sizeof *v);
        v[count++] = obj;
    }
    qsort(v, count, sizeof *v, cmp_obj);
    json_t *arr = json_array();
    for (size_t i = 0; i < count; i++) json_array_append(arr, v[i]);
    free(v);
    return arr;
}

static int persist(struct store *s, const char *key, const json_t *obj)
{
    sqlite3_stmt *st = obj ? s->put : s->del;
    char *body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    if (body) sqlite3_bind_text(st, 2, body, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    free(body);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

int store_put(struct store *s, json_t *obj)
{
    json_t *meta = json_path_obj(obj, "metadata");
    if (!json_is_string(json_object_get(meta, "uid"))) {
        char uid[37];
        store_new_uid(uid);
        json_object_set_new(meta, "uid", json_string(uid));
    }
    if (!json_is_string(json_object_get(meta, "creationTimestamp"))) {
        char ts[32];
        time_rfc3339(time(NULL), ts, sizeof ts);
        json_object_set_new(meta, "creationTimestamp", json_string(ts));
    }
    char rv[24];
    snprintf(rv, sizeof rv, "%llu", ++s->version);
    json_object_set_new(meta, "resourceVersion", json_string(rv));
    char key[600];
    obj_key(obj, key, sizeof key);
    if (json_object_get(s->objects, key) != obj) json_object_set(s->objects, key, obj);
    return persist(s, key, obj);
}

unsigned long long store_version(const struct store *s)
{
    return s->version;
}

int store_del(struct store *s, const char *kind, const char *ns, const char *name)
{
    char key[600];
    make_key(key, sizeof key, kind, ns, name);
    if (json_object_del(s->objects, key)) return -ENOENT;
    s->version++;
    return persist(s, key, NULL);
}
