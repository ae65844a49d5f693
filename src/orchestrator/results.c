/* results: see results.h. */
#include "orchestrator/results.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json.h"
#include "core/util.h"

int results_dir(char *out, size_t n, char *err, size_t errlen)
{
    const char *env = getenv("AIOPSLAB_RESULTS"), *home = getenv("AIOPSLAB_HOME"), *uhome = getenv("HOME");
    int w;
    if (env && *env) w = snprintf(out, n, "%s", env);
    else if (home && *home) w = snprintf(out, n, "%s/results", home);
    else if (geteuid() == 0) w = snprintf(out, n, "/var/lib/aiopslab/results");
    else w = snprintf(out, n, "%s/.aiopslab/results", uhome ? uhome : ".");
    if (w < 0 || (size_t)w >= n) {
        snprintf(err, errlen, "results folder path too long");
        return -1;
    }
    if (mkdir_p(out, 0700) && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", out, strerror(errno));
        return -1;
    }
    chmod(out, 0700);
    return 0;
}

static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS sessions ("
    " session_id TEXT PRIMARY KEY, problem_id TEXT NOT NULL, agent TEXT NOT NULL, task TEXT NOT NULL,"
    " app TEXT NOT NULL, fault TEXT, layer TEXT, status TEXT NOT NULL, success INTEGER NOT NULL,"
    " score REAL, ttx REAL, steps INTEGER, in_tokens INTEGER, out_tokens INTEGER,"
    " start_time TEXT NOT NULL, end_time TEXT NOT NULL, file TEXT NOT NULL);";

int results_save(const char *dir, const json_t *s, char *err, size_t errlen)
{
    const char *sid = json_path_str(s, "session_id", NULL);
    if (!sid) {
        snprintf(err, errlen, "a session without session_id");
        return -1;
    }
    char file[4200], db_path[4200];
    snprintf(file, sizeof file, "%s/%s.json", dir, sid);
    snprintf(db_path, sizeof db_path, "%s/results.db", dir);
    char *text = json_dumps(s, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text || write_file_atomic(file, text, strlen(text))) {
        snprintf(err, errlen, "cannot write %s: %s", file, strerror(errno));
        free(text);
        return -1;
    }
    free(text);
    chmod(file, 0600);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s", db_path);
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL;", NULL, NULL, NULL);
    int rc = -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_exec(db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT OR REPLACE INTO sessions VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                           "?12, ?13, ?14, ?15, ?16, ?17)",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", db_path, sqlite3_errmsg(db));
        goto out;
    }
    const json_t *r = json_object_get(s, "results"), *truth = json_object_get(s, "ground_truth");
    const char *task = json_path_str(s, "task", "");
    const char *acc = json_string_value(json_object_get(r, "Detection Accuracy"));
    int success = acc ? !strcmp(acc, "Correct") : json_is_true(json_object_get(r, "success"));
    static const char *const tt[] = {"TTD", "TTL", "TTA", "TTM"};
    json_t *ttx = NULL;
    for (int i = 0; i < 4 && !ttx; i++) ttx = json_object_get(r, tt[i]);
    json_t *score = json_object_get(r, "Localization Accuracy");
    sqlite3_bind_text(st, 1, sid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, json_path_str(s, "problem_id", ""), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, json_path_str(s, "agent", ""), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, task, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, json_path_str(s, "app", ""), -1, SQLITE_STATIC);
    const char *fault = json_path_str(truth, "type", NULL);
    if (fault) sqlite3_bind_text(st, 6, fault, -1, SQLITE_STATIC);
    const char *layer = json_path_str(truth, "layer", NULL);
    if (layer) sqlite3_bind_text(st, 7, layer, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, json_path_str(s, "status", ""), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 9, success);
    if (json_is_number(score)) sqlite3_bind_double(st, 10, json_number_value(score));
    else sqlite3_bind_double(st, 10, success ? 100.0 : 0.0);
    if (json_is_number(ttx)) sqlite3_bind_double(st, 11, json_number_value(ttx));
    sqlite3_bind_int64(st, 12, json_integer_value(json_object_get(r, "steps")));
    sqlite3_bind_int64(st, 13, json_integer_value(json_object_get(r, "in_tokens")));
    sqlite3_bind_int64(st, 14, json_integer_value(json_object_get(r, "out_tokens")));
    sqlite3_bind_text(st, 15, json_path_str(s, "start_time", ""), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 16, json_path_str(s, "end_time", ""), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 17, file, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) snprintf(err, errlen, "%s: %s", db_path, sqlite3_errmsg(db));
    else rc = 0;
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    chmod(db_path, 0600);
    return rc;
}
