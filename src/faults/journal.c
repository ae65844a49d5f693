/* journal: see journal.h. */
#include "faults/journal.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/json.h"
#include "core/timeutil.h"
#include "core/util.h"

struct fault_journal {
    sqlite3 *db;
};

static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS faults ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " type TEXT NOT NULL, resource TEXT NOT NULL, namespace TEXT NOT NULL, target TEXT NOT NULL,"
    " entities TEXT NOT NULL, params TEXT NOT NULL, state TEXT NOT NULL DEFAULT '{}',"
    " status TEXT NOT NULL, injected_at INTEGER NOT NULL, took_at INTEGER NOT NULL DEFAULT 0,"
    " recovered_at INTEGER NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX IF NOT EXISTS faults_open ON faults(status);";

int journal_open(const struct lab *lab, struct fault_journal **out, char *err, size_t errlen)
{
    char dir[PATH_MAX], path[PATH_MAX];
    if (lab_path(lab, "faults", dir, sizeof dir) || lab_path(lab, "faults/journal.db", path, sizeof path)) {
        snprintf(err, errlen, "lab path too long");
        return -ENAMETOOLONG;
    }
    if (mkdir_p(dir, 0700) && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -errno;
    }
    chmod(dir, 0700);
    mode_t old = umask(077);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    umask(old);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open the fault journal %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return -EIO;
    }
    sqlite3_busy_timeout(db, 10000);
    char *msg = NULL;
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "fault journal %s: %s", path, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        sqlite3_close(db);
        return -EIO;
    }
    struct fault_journal *j = calloc(1, sizeof *j);
    if (!j) {
        sqlite3_close(db);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    j->db = db;
    *out = j;
    return 0;
}

void journal_close(struct fault_journal *j)
{
    if (!j) return;
    sqlite3_close(j->db);
    free(j);
}

static int bind_json(sqlite3_stmt *st, int idx, const json_t *v)
{
    char *s = json_dump_compact(v ? v : json_null());
    int rc = sqlite3_bind_text(st, idx, s, -1, free);
    return rc;
}

/* Does an open row hold resource on one of entities? Fills err with it. */
static int conflict(struct fault_journal *j, const char *resource, const json_t *entities, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(j->db,
                           "SELECT id, type, entities FROM faults WHERE status != 'recovered' AND status != 'failed' "
                           "AND resource = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    sqlite3_bind_text(st, 1, resource, -1, SQLITE_STATIC);
    int found = 0;
    while (!found && sqlite3_step(st) == SQLITE_ROW) {
        json_t *theirs = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
        size_t a, b;
        json_t *x, *y;
        json_array_foreach(entities, a, x) json_array_foreach(theirs, b, y)
        {
            if (!found && json_equal(x, y)) {
                snprintf(err, errlen, "conflicts with active fault %lld (%s on %s): both change the %s of %s",
                         (long long)sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                         json_string_value(y), resource, json_string_value(y));
                found = 1;
            }
        }
        json_decref(theirs);
    }
    sqlite3_finalize(st);
    return found;
}

int journal_begin(struct fault_journal *j, const char *type, const char *resource, const char *ns, const char *target,
                  const json_t *entities, const json_t *params, int64_t *id, char *err, size_t errlen)
{
    if (sqlite3_exec(j->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "fault journal busy: %s", sqlite3_errmsg(j->db));
        return -EBUSY;
    }
    int c = conflict(j, resource, entities, err, errlen);
    if (c) {
        sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
        if (c < 0) snprintf(err, errlen, "fault journal: %s", sqlite3_errmsg(j->db));
        return c < 0 ? -EIO : -EBUSY;
    }
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(j->db,
                                "INSERT INTO faults(type, resource, namespace, target, entities, params, status, "
                                "injected_at) VALUES (?, ?, ?, ?, ?, ?, 'injecting', ?)",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, resource, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, ns, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, target, -1, SQLITE_STATIC);
        bind_json(st, 5, entities);
        bind_json(st, 6, params);
        sqlite3_bind_int64(st, 7, (sqlite3_int64)wall_ns());
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
    }
    if (rc != SQLITE_DONE || sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "fault journal: %s", sqlite3_errmsg(j->db));
        sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
        return -EIO;
    }
    *id = sqlite3_last_insert_rowid(j->db);
    return 0;
}

int journal_save_state(struct fault_journal *j, int64_t id, const json_t *state)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(j->db, "UPDATE faults SET state = ? WHERE id = ?", -1, &st, NULL) != SQLITE_OK) return -EIO;
    bind_json(st, 1, state);
    sqlite3_bind_int64(st, 2, id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

int journal_set_status(struct fault_journal *j, int64_t id, const char *status, uint64_t took_ns, const char *message)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(j->db,
                           "UPDATE faults SET status = ?1, took_at = CASE WHEN ?2 > 0 THEN ?2 ELSE took_at END, "
                           "message = COALESCE(?3, message), "
                           "recovered_at = CASE WHEN ?1 IN ('recovered', 'failed') THEN ?4 ELSE recovered_at END "
                           "WHERE id = ?5",
                           -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)took_ns);
    if (message) sqlite3_bind_text(st, 3, message, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, 3);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)wall_ns());
    sqlite3_bind_int64(st, 5, id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

static json_t *row(sqlite3_stmt *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
    static const char *const text[] = {NULL, "type", "resource", "namespace", "target"};
    for (int i = 1; i <= 4; i++) json_object_set_new(o, text[i], json_string((const char *)sqlite3_column_text(st, i)));
    static const char *const js[] = {"entities", "params", "state"};
    for (int i = 0; i < 3; i++) {
        json_t *v = json_loads((const char *)sqlite3_column_text(st, 5 + i), JSON_DECODE_ANY, NULL);
        json_object_set_new(o, js[i], v ? v : json_object());
    }
    json_object_set_new(o, "status", json_string((const char *)sqlite3_column_text(st, 8)));
    json_object_set_new(o, "injectedAt", json_integer(sqlite3_column_int64(st, 9)));
    json_object_set_new(o, "tookAt", json_integer(sqlite3_column_int64(st, 10)));
    json_object_set_new(o, "recoveredAt", json_integer(sqlite3_column_int64(st, 11)));
    json_object_set_new(o, "message", json_string((const char *)sqlite3_column_text(st, 12)));
    return o;
}

#define COLUMNS                                                                                                        \
    "id, type, resource, namespace, target, entities, params, state, status, injected_at, took_at, recovered_at, "    \
    "message"

json_t *journal_get(struct fault_journal *j, int64_t id)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(j->db, "SELECT " COLUMNS " FROM faults WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_int64(st, 1, id);
    json_t *o = sqlite3_step(st) == SQLITE_ROW ? row(st) : NULL;
    sqlite3_finalize(st);
    return o;
}

json_t *journal_list(struct fault_journal *j, int all)
{
    sqlite3_stmt *st;
    const char *sql = all ? "SELECT " COLUMNS " FROM faults ORDER BY id"
                          : "SELECT " COLUMNS " FROM faults WHERE status NOT IN ('recovered', 'failed') ORDER BY id";
    json_t *out = json_array();
    if (sqlite3_prepare_v2(j->db, sql, -1, &st, NULL) != SQLITE_OK) return out;
    while (sqlite3_step(st) == SQLITE_ROW) json_array_append_new(out, row(st));
    sqlite3_finalize(st);
    return out;
}
