/* results_cmd: `aiopslab results` — what the recorded sessions add up to,
 * read from the results database (orchestrator/results.h): a table per
 * grouping (task, fault, agent or layer) with sessions, success rate, mean
 * time to detect/localize/analyse/mitigate, mean steps and tokens; the
 * sessions themselves (`results list`); one session's record (`results
 * show ID`). Read-only: the database is opened without creating it. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/util.h"
#include "orchestrator/results.h"

static int usage(FILE *f)
{
    fprintf(f, "Usage: aiopslab results [--by task|fault|agent|layer] [--agent A] [--last N] [-o json]\n"
               "       aiopslab results list [--agent A] [--last N] [-o json]\n"
               "       aiopslab results show SESSION_ID\n"
               "\n"
               "Tables of the recorded sessions (aiopslab run records them in $AIOPSLAB_RESULTS, else\n"
               "$AIOPSLAB_HOME/results): per group, the sessions, the success rate (of sessions that were\n"
               "not void), mean time to detect/localize/analyse/mitigate, mean steps and tokens, and how\n"
               "many sessions ended on an agent error or were void (the fault did not take).\n"
               "\n"
               "  --by G       group by task (default), fault, agent or layer\n"
               "  --agent A    only sessions of agent A (as named in the table by agent)\n"
               "  --last N     only the N most recent sessions\n"
               "  -o json      JSON instead of a table\n"
               "  list         one line per session, newest first\n"
               "  show ID      a session's full record (a unique prefix of its id is enough)\n");
    return f == stdout ? 0 : 2;
}

struct opts {
    const char *by, *agent;
    long last;
    int json;
};

/* The database, read-only; NULL with a message when there are no results. */
static sqlite3 *open_db(char *dir, size_t n)
{
    char err[512], path[4200];
    if (results_dir(dir, n, err, sizeof err)) {
        fprintf(stderr, "aiopslab results: %s\n", err);
        return NULL;
    }
    snprintf(path, sizeof path, "%s/results.db", dir);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        fprintf(stderr, "aiopslab results: no results in %s yet (aiopslab run records sessions there)\n", dir);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st = NULL;
    int have = sqlite3_prepare_v2(db, "SELECT 1 FROM sessions LIMIT 1", -1, &st, NULL) == SQLITE_OK &&
               sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!have) {
        sqlite3_close(db);
        fprintf(stderr, "aiopslab results: no sessions recorded in %s yet (aiopslab run records them)\n", dir);
        return NULL;
    }
    return db;
}

/* The sessions the options select, newest first, as a subquery. */
#define SELECTED                                                                                                      \
    "(SELECT * FROM sessions WHERE (?1 IS NULL OR agent = ?1) ORDER BY start_time DESC, session_id LIMIT ?2)"

static int bind_selection(sqlite3_stmt *st, const struct opts *o)
{
    if (o->agent) sqlite3_bind_text(st, 1, o->agent, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, 1);
    return sqlite3_bind_int64(st, 2, o->last > 0 ? o->last : -1);
}

static const char *column_text(sqlite3_stmt *st, int i, const char *dflt)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : dflt;
}

static json_t *column_real(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null() : json_real(sqlite3_column_double(st, i));
}

static int table(sqlite3 *db, const struct opts *o)
{
    static const char *const groups[][2] = {{"task", "task"},
                                            {"fault", "COALESCE(fault, '(fault-free)')"},
                                            {"agent", "agent"},
                                            {"layer", "COALESCE(layer, '(fault-free)')"}};
    const char *expr = "task";
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        if (!strcmp(o->by, groups[i][0])) expr = groups[i][1];
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT %s AS g, COUNT(*), SUM(status != 'void'), SUM(CASE WHEN status != 'void' THEN success END),"
             " AVG(CASE WHEN status != 'void' THEN ttx END), AVG(CASE WHEN status != 'void' THEN steps END),"
             " AVG(in_tokens), AVG(out_tokens), SUM(status = 'agent_error'), SUM(status = 'void')"
             " FROM " SELECTED " GROUP BY g ORDER BY g",
             expr);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "aiopslab results: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    bind_selection(st, o);
    json_t *rows = json_array();
    char head[16];
    snprintf(head, sizeof head, "%s", o->by);
    for (char *c = head; *c; c++) *c = (char)(*c - 'a' + 'A');
    int rc;
    size_t n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!n++ && !o->json)
            printf("%-36s %8s %8s %10s %7s %10s %10s %7s %5s\n", head, "SESSIONS", "SUCCESS", "MEAN TTX", "STEPS",
                   "IN TOK", "OUT TOK", "ERRORS", "VOID");
        const char *g = column_text(st, 0, "");
        long long sessions = sqlite3_column_int64(st, 1), scored = sqlite3_column_int64(st, 2);
        long long ok = sqlite3_column_int64(st, 3);
        double rate = scored ? 100.0 * (double)ok / (double)scored : 0;
        if (o->json) {
            json_array_append_new(
                rows, json_pack("{s:s, s:I, s:I, s:I, s:o, s:o, s:o, s:f, s:f, s:I, s:I}", o->by, g, "sessions",
                                (json_int_t)sessions, "scored", (json_int_t)scored, "successes", (json_int_t)ok,
                                "success_rate", scored ? json_real(rate) : json_null(), "mean_ttx", column_real(st, 4),
                                "mean_steps", column_real(st, 5), "mean_in_tokens", sqlite3_column_double(st, 6),
                                "mean_out_tokens", sqlite3_column_double(st, 7), "agent_errors",
                                (json_int_t)sqlite3_column_int64(st, 8), "void", (json_int_t)sqlite3_column_int64(st, 9)));
            continue;
        }
        char succ[16] = "-", ttx[16] = "-", steps[16] = "-";
        if (scored) snprintf(succ, sizeof succ, "%.0f%%", rate);
        if (sqlite3_column_type(st, 4) != SQLITE_NULL) snprintf(ttx, sizeof ttx, "%.1f s", sqlite3_column_double(st, 4));
        if (sqlite3_column_type(st, 5) != SQLITE_NULL) snprintf(steps, sizeof steps, "%.1f", sqlite3_column_double(st, 5));
        printf("%-36.36s %8lld %8s %10s %7s %10.0f %10.0f %7lld %5lld\n", g, sessions, succ, ttx, steps,
               sqlite3_column_double(st, 6), sqlite3_column_double(st, 7), sqlite3_column_int64(st, 8),
               sqlite3_column_int64(st, 9));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "aiopslab results: %s\n", sqlite3_errmsg(db));
        json_decref(rows);
        return 1;
    }
    if (o->json) {
        json_dumpf(rows, stdout, JSON_INDENT(2));
        printf("\n");
    }
    json_decref(rows);
    if (!n) fprintf(stderr, "aiopslab results: no sessions of agent \"%s\"\n", o->agent ? o->agent : "");
    return n ? 0 : 1;
}

static int list(sqlite3 *db, const struct opts *o)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT session_id, problem_id, agent, status, success, ttx, steps, start_time FROM " SELECTED,
                           -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "aiopslab results: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    bind_selection(st, o);
    json_t *rows = json_array();
    if (!o->json)
        printf("%-36s %-44s %-12s %-7s %8s %5s  %s\n", "SESSION", "PROBLEM", "STATUS", "SUCCESS", "TTX", "STEPS",
               "AGENT");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (o->json) {
            json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:s, s:b, s:o, s:I, s:s}", "session_id",
                                                  column_text(st, 0, ""), "problem_id", column_text(st, 1, ""),
                                                  "agent", column_text(st, 2, ""), "status", column_text(st, 3, ""),
                                                  "success", sqlite3_column_int(st, 4), "ttx", column_real(st, 5),
                                                  "steps", (json_int_t)sqlite3_column_int64(st, 6), "start_time",
                                                  column_text(st, 7, "")));
            continue;
        }
        char ttx[16] = "-";
        if (sqlite3_column_type(st, 5) != SQLITE_NULL) snprintf(ttx, sizeof ttx, "%.1f s", sqlite3_column_double(st, 5));
        printf("%-36s %-44.44s %-12s %-7s %8s %5lld  %s\n", column_text(st, 0, ""), column_text(st, 1, ""),
               column_text(st, 3, ""), sqlite3_column_int(st, 4) ? "yes" : "no", ttx, sqlite3_column_int64(st, 6),
               column_text(st, 2, ""));
    }
    sqlite3_finalize(st);
    if (o->json) {
        json_dumpf(rows, stdout, JSON_INDENT(2));
        printf("\n");
    }
    json_decref(rows);
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "aiopslab results: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    return 0;
}

/* A session id or prefix: the characters of a UUID only (it becomes part of a LIKE pattern). */
static int valid_id(const char *id)
{
    size_t n = strlen(id);
    if (!n || n > 64) return 0;
    return strspn(id, "0123456789abcdefABCDEF-") == n;
}

static int show(sqlite3 *db, const char *id)
{
    if (!valid_id(id)) {
        fprintf(stderr, "aiopslab results show: \"%.80s\" is not a session id (aiopslab results list shows them)\n", id);
        return 2;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT session_id, file FROM sessions WHERE session_id LIKE ?1 || '%' LIMIT 2", -1, &st,
                           NULL) != SQLITE_OK) {
        fprintf(stderr, "aiopslab results: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    char file[4200] = "", found[80] = "";
    int matches = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (!matches++) {
            snprintf(found, sizeof found, "%s", column_text(st, 0, ""));
            snprintf(file, sizeof file, "%s", column_text(st, 1, ""));
        }
    }
    sqlite3_finalize(st);
    if (matches != 1) {
        fprintf(stderr, "aiopslab results show: %s session matches \"%s\" (aiopslab results list shows them)\n",
                matches ? "more than one" : "no", id);
        return 1;
    }
    struct buf text;
    buf_init(&text, 256u << 20);
    int rc = read_file(file, &text);
    if (rc) {
        fprintf(stderr, "aiopslab results show: session %s: cannot read %s: %s\n", found, file, strerror(-rc));
        buf_free(&text);
        return 1;
    }
    fwrite(text.data, 1, text.len, stdout);
    if (text.len && text.data[text.len - 1] != '\n') putchar('\n');
    buf_free(&text);
    return 0;
}

int cli_results(int argc, char **argv)
{
    struct opts o = {.by = "task"};
    const char *sub = NULL, *id = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout);
        if (!sub && !id && (!strcmp(a, "list") || !strcmp(a, "show")) && i == 1) sub = a;
        else if (sub && !strcmp(sub, "show") && !id && a[0] != '-') id = a;
        else if (!v) {
            fprintf(stderr, "aiopslab results: unknown or incomplete option \"%s\"\n", a);
            return usage(stderr);
        } else if (!strcmp(a, "--by")) o.by = argv[++i];
        else if (!strcmp(a, "--agent")) o.agent = argv[++i];
        else if (!strcmp(a, "--last") && !parse_long(v, 1, 1L << 30, &o.last)) i++;
        else if (!strcmp(a, "-o") && !strcmp(v, "json")) {
            o.json = 1;
            i++;
        } else {
            fprintf(stderr, "aiopslab results: bad option \"%s %s\"\n", a, v);
            return usage(stderr);
        }
    }
    if (strcmp(o.by, "task") && strcmp(o.by, "fault") && strcmp(o.by, "agent") && strcmp(o.by, "layer")) {
        fprintf(stderr, "aiopslab results: cannot group by \"%s\" (task, fault, agent or layer)\n", o.by);
        return 2;
    }
    if (sub && !strcmp(sub, "show") && !id) {
        fprintf(stderr, "aiopslab results show: which session? (aiopslab results list shows them)\n");
        return 2;
    }
    char dir[4096];
    sqlite3 *db = open_db(dir, sizeof dir);
    if (!db) return 1;
    int rc = !sub ? table(db, &o) : !strcmp(sub, "list") ? list(db, &o) : show(db, id);
    sqlite3_close(db);
    return rc;
}
