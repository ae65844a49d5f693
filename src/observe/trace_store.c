/* trace_store: spans in SQLite (see trace_store.h). A span is one row; its
 * tags, logs and process tags are kept as the Jaeger JSON they will be
 * served as. Finding traces walks the (service, start) or (service,
 * operation, start) index from the newest span backwards and stops as soon
 * as `limit` distinct traces matched, so a query costs about what it
 * returns, not what is stored. Deletion for the bounds goes by rowid (the
 * insertion order) and start time, in chunks, so the writer is never held
 * for long. */
#include "observe/trace_store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

/* The (service, operation, kind) rows the writer knows are in table ops,
 * so that a span pays for INSERT OR IGNORE only the first time its
 * operation is seen. Open addressing; emptied when it fills up and
 * whenever pruning deletes rows of ops. */
#define OPS_SEEN_SLOTS 4096
struct op_seen {
    uint64_t hash;
    char *key; /* service '\0' operation '\0' kind, NULL: free slot */
    size_t len;
};

/* The numbers of the traces the writer saw last, by id (the 32 hex digits
 * as two integers), so that a span pays for the lookup in traces only when
 * its trace is new or old. Open addressing; emptied when half full, after
 * pruning and when a transaction fails. */
#define TRACE_NUMS_SLOTS 65536
struct trace_num {
    uint64_t hi, lo;
    int64_t no; /* 0: free slot */
};

struct trace_store {
    sqlite3 *db;
    sqlite3_stmt *ins_span, *ins_op, *ins_trace, *trace_no, *get_trace;
    struct op_seen *ops_seen;
    size_t n_ops_seen;
    struct trace_num *nums;
    size_t n_nums;
};

/* Schema 2: a trace is a row of traces, numbered in the order its first span
 * arrived, and a span names its trace by that number. The only index with
 * random inserts (the one on the 32-digit trace id) then takes one entry per
 * trace, not one per span, and the span indexes that cover the trace carry an
 * integer that grows with time. Schema 1 (the trace id in every span) is
 * converted when a writer opens it. */
#define SCHEMA_VERSION 2
static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS traces(id INTEGER PRIMARY KEY, trace_id TEXT NOT NULL UNIQUE);"
    "CREATE TABLE IF NOT EXISTS spans("
    " id INTEGER PRIMARY KEY, trace INTEGER NOT NULL, span_id TEXT NOT NULL, parent_id TEXT NOT NULL,"
    " service TEXT NOT NULL, operation TEXT NOT NULL, kind INTEGER NOT NULL, start_us INTEGER NOT NULL,"
    " duration_us INTEGER NOT NULL, error INTEGER NOT NULL, tags TEXT, logs TEXT, ptags TEXT);"
    "CREATE INDEX IF NOT EXISTS spans_trace ON spans(trace);"
    /* covering the filters of /api/traces: a scan never reads the rows it skips */
    "CREATE INDEX IF NOT EXISTS spans_service ON spans(service, start_us, duration_us, error, trace);"
    "CREATE INDEX IF NOT EXISTS spans_operation ON spans(service, operation, start_us, duration_us, error, trace);"
    "CREATE INDEX IF NOT EXISTS spans_start ON spans(start_us);"
    "CREATE TABLE IF NOT EXISTS ops(service TEXT NOT NULL, operation TEXT NOT NULL, kind INTEGER NOT NULL,"
    " PRIMARY KEY(service, operation, kind)) WITHOUT ROWID;";

/* Schema 1 -> 2, in the transaction that creates schema 2. */
static const char MIGRATE_1[] =
    "ALTER TABLE spans RENAME TO spans_v1;"
    "DROP INDEX IF EXISTS spans_trace; DROP INDEX IF EXISTS spans_service2;"
    "DROP INDEX IF EXISTS spans_operation2; DROP INDEX IF EXISTS spans_start;";
static const char MIGRATE_1_ROWS[] =
    "INSERT INTO traces(trace_id) SELECT trace_id FROM spans_v1 GROUP BY trace_id ORDER BY MIN(id);"
    "INSERT INTO spans SELECT s.id, t.id, s.span_id, s.parent_id, s.service, s.operation, s.kind, s.start_us,"
    " s.duration_us, s.error, s.tags, s.logs, s.ptags FROM spans_v1 s JOIN traces t ON t.trace_id = s.trace_id;"
    "DROP TABLE spans_v1;";

/* A span's columns as the readers select them (spans s, traces t). */
static const char SPAN_COLS[] = "t.trace_id, s.span_id, s.parent_id, s.service, s.operation, s.kind, s.start_us,"
                                " s.duration_us, s.error, s.tags, s.logs, s.ptags";

static int fail(sqlite3 *db, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
    return -EIO;
}

/* SQL function tags_match(tags_json, want_json): the wanted tags are parsed
 * once per statement and kept as auxiliary data. */
static void sql_tags_match(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    json_t *want = sqlite3_get_auxdata(ctx, 1);
    if (!want) {
        const char *text = (const char *)sqlite3_value_text(argv[1]);
        want = text ? json_loads(text, 0, NULL) : NULL;
        if (!want) want = json_object();
        sqlite3_set_auxdata(ctx, 1, want, (void (*)(void *))json_decref);
        want = sqlite3_get_auxdata(ctx, 1);
        if (!want) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
    }
    sqlite3_result_int(ctx, trace_tags_match((const char *)sqlite3_value_text(argv[0]), want));
}

static int64_t scalar(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(q) == SQLITE_ROW) v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

/* Bring a writer's database to schema 2 (created, or converted from 1). */
static int schema_setup(sqlite3 *db)
{
    int64_t version = scalar(db, "PRAGMA user_version");
    if (version == SCHEMA_VERSION) return SQLITE_OK;
    if (version > SCHEMA_VERSION || version < 0) return SQLITE_MISMATCH;
    int v1 = scalar(db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'spans'") > 0;
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK && v1) rc = sqlite3_exec(db, MIGRATE_1, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, SCHEMA, NULL, NULL, NULL);
    if (rc == SQLITE_OK && v1) rc = sqlite3_exec(db, MIGRATE_1_ROWS, NULL, NULL, NULL);
    char done[64];
    snprintf(done, sizeof done, "PRAGMA user_version = %d; COMMIT", SCHEMA_VERSION);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, done, NULL, NULL, NULL);
    if (rc != SQLITE_OK) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int trace_store_open(const char *path, int writer, struct trace_store **out, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        int rc = fail(db, path, err, errlen);
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, 5000);
    const char *setup = writer ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;"
                                 " PRAGMA wal_autocheckpoint=8192; PRAGMA journal_size_limit=67108864;"
                               : "PRAGMA query_only=1; PRAGMA cache_size=-16384;";
    if (sqlite3_exec(db, setup, NULL, NULL, NULL) != SQLITE_OK ||
        (writer && schema_setup(db) != SQLITE_OK) ||
        sqlite3_create_function(db, "tags_match", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_tags_match, NULL,
                                NULL) != SQLITE_OK) {
        int rc = fail(db, path, err, errlen);
        sqlite3_close(db);
        return rc;
    }
    struct trace_store *st = xcalloc(1, sizeof *st);
    st->db = db;
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT %s FROM spans s JOIN traces t ON t.id = s.trace WHERE s.trace = ? ORDER BY s.start_us, s.id"
             " LIMIT %d",
             SPAN_COLS, TRACE_SPANS_MAX);
    if (sqlite3_prepare_v2(db, sql, -1, &st->get_trace, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT id FROM traces WHERE trace_id = ?", -1, &st->trace_no, NULL) != SQLITE_OK)
        goto bad;
    if (writer && (sqlite3_prepare_v2(db,
                                      "INSERT INTO spans(trace, span_id, parent_id, service, operation, kind, start_us,"
                                      " duration_us, error, tags, logs, ptags) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                                      -1, &st->ins_span, NULL) != SQLITE_OK ||
                   sqlite3_prepare_v2(db, "INSERT INTO traces(trace_id) VALUES(?)", -1, &st->ins_trace, NULL) !=
                       SQLITE_OK ||
                   sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO ops VALUES(?,?,?)", -1, &st->ins_op, NULL) !=
                       SQLITE_OK))
        goto bad;
    *out = st;
    return 0;
bad:;
    int rc = fail(db, "prepare", err, errlen);
    trace_store_close(st);
    return rc;
}

static void ops_seen_clear(struct trace_store *st)
{
    if (!st->ops_seen) return;
    for (size_t i = 0; i < OPS_SEEN_SLOTS; i++) xfree(st->ops_seen[i].key);
    memset(st->ops_seen, 0, OPS_SEEN_SLOTS * sizeof *st->ops_seen);
    st->n_ops_seen = 0;
}

/* Whether s's operation is known to be in ops. When it is not, it is
 * remembered (if there is room): the caller inserts it next, and forgets
 * everything should the transaction fail. */
static int op_known(struct trace_store *st, const struct trace_span *s)
{
    size_t ls = strlen(s->service), lo = strlen(s->operation), len = ls + lo + 2 + sizeof s->kind;
    char key[2 * TRACE_NAME_MAX + 2 + sizeof s->kind];
    if (ls > TRACE_NAME_MAX || lo > TRACE_NAME_MAX) return 0; /* not from the parser: not cached */
    memcpy(key, s->service, ls + 1);
    memcpy(key + ls + 1, s->operation, lo + 1);
    memcpy(key + ls + lo + 2, &s->kind, sizeof s->kind);
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
    if (!st->ops_seen) st->ops_seen = xcalloc(OPS_SEEN_SLOTS, sizeof *st->ops_seen);
    for (size_t i = h % OPS_SEEN_SLOTS;; i = (i + 1) % OPS_SEEN_SLOTS) { /* never full: at most half used */
        struct op_seen *e = &st->ops_seen[i];
        if (e->key && e->hash == h && e->len == len && !memcmp(e->key, key, len)) return 1;
        if (e->key) continue;
        if (st->n_ops_seen < OPS_SEEN_SLOTS / 2) {
            e->key = xmalloc(len);
            memcpy(e->key, key, len);
            e->hash = h;
            e->len = len;
            st->n_ops_seen++;
        }
        return 0;
    }
}

static void nums_clear(struct trace_store *st)
{
    if (st->nums) memset(st->nums, 0, TRACE_NUMS_SLOTS * sizeof *st->nums);
    st->n_nums = 0;
}

/* The number of the trace with this id (> 0), its row inserted when the
 * trace is new; -1 when the database fails. */
static int64_t trace_number(struct trace_store *st, const char *id)
{
    uint64_t half[2] = {0, 0};
    size_t i = 0;
    for (; i < 32; i++) {
        unsigned c = (unsigned char)id[i];
        unsigned d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : 16;
        if (d > 15) break;
        half[i / 16] = half[i / 16] << 4 | d;
    }
    struct trace_num *e = NULL;
    if (i == 32 && !id[32]) { /* a parsed id: cached */
        if (!st->nums) st->nums = xcalloc(TRACE_NUMS_SLOTS, sizeof *st->nums);
        if (st->n_nums >= TRACE_NUMS_SLOTS / 2) nums_clear(st);
        uint64_t h = (half[0] ^ (half[1] * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull;
        for (size_t k = h >> 48;; k = (k + 1) % TRACE_NUMS_SLOTS) {
            e = &st->nums[k];
            if (!e->no) break;
            if (e->hi == half[0] && e->lo == half[1]) return e->no;
        }
    }
    sqlite3_stmt *q = st->trace_no;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    int64_t no = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return -1;
    if (!no) {
        q = st->ins_trace;
        sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
        rc = sqlite3_step(q);
        sqlite3_reset(q);
        if (rc != SQLITE_DONE) return -1;
        no = sqlite3_last_insert_rowid(st->db);
    }
    if (e) {
        *e = (struct trace_num){half[0], half[1], no};
        st->n_nums++;
    }
    return no;
}

void trace_store_close(struct trace_store *st)
{
    if (!st) return;
    ops_seen_clear(st);
    free(st->ops_seen);
    free(st->nums);
    sqlite3_finalize(st->ins_span);
    sqlite3_finalize(st->ins_trace);
    sqlite3_finalize(st->trace_no);
    sqlite3_finalize(st->ins_op);
    sqlite3_finalize(st->get_trace);
    sqlite3_close(st->db);
    free(st);
}

int trace_store_insert(struct trace_store *st, const struct trace_batch *b, char *err, size_t errlen)
{
    if (!st->ins_span) {
        snprintf(err, errlen, "read-only store");
        return -EINVAL;
    }
    if (sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) return fail(st->db, "begin", err, errlen);
    for (size_t i = 0; i < b->n; i++) {
        const struct trace_span *s = &b->spans[i];
        int64_t no = trace_number(st, s->trace_id);
        if (no < 0) goto bad;
        sqlite3_stmt *q = st->ins_span;
        sqlite3_bind_int64(q, 1, no);
        sqlite3_bind_text(q, 2, s->span_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, s->parent_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, s->service, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 5, s->operation, -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 6, s->kind);
        sqlite3_bind_int64(q, 7, s->start_us);
        sqlite3_bind_int64(q, 8, s->duration_us);
        sqlite3_bind_int(q, 9, s->error);
        sqlite3_bind_text(q, 10, s->tags ? s->tags : "[]", -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 11, s->logs ? s->logs : "[]", -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 12, s->ptags ? s->ptags : "[]", -1, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        sqlite3_reset(q);
        if (rc != SQLITE_DONE) goto bad;
        if (op_known(st, s)) continue;
        q = st->ins_op;
        sqlite3_bind_text(q, 1, s->service, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, s->operation, -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 3, s->kind);
        rc = sqlite3_step(q);
        sqlite3_reset(q);
        if (rc != SQLITE_DONE) goto bad;
    }
    if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) goto bad;
    return 0;
bad:;
    int rc = fail(st->db, "insert", err, errlen);
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    ops_seen_clear(st); /* the rolled-back rows of ops and traces may be remembered */
    nums_clear(st);
    return rc;
}

/* Run a chunked delete statement (bound to limit first) until it deletes nothing. */
static long delete_chunks(sqlite3 *db, const char *sql, int64_t bound, int chunk)
{
    sqlite3_stmt *q;
    long total = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) return -EIO;
    for (;;) {
        sqlite3_bind_int64(q, 1, bound);
        sqlite3_bind_int(q, 2, chunk);
        int rc = sqlite3_step(q);
        sqlite3_reset(q);
        if (rc != SQLITE_DONE) {
            total = total ? total : -EIO;
            break;
        }
        int n = sqlite3_changes(db);
        total += n;
        if (n < chunk) break;
    }
    sqlite3_finalize(q);
    return total;
}

long trace_store_prune(struct trace_store *st, long max_spans, int64_t min_start_us, int chunk)
{
    long total = 0, n;
    if (chunk <= 0) chunk = 10000;
    if (min_start_us > 0) {
        n = delete_chunks(st->db, "DELETE FROM spans WHERE id IN (SELECT id FROM spans WHERE start_us < ?1 LIMIT ?2)",
                          min_start_us, chunk);
        if (n > 0) total += n;
    }
    if (max_spans > 0) {
        int64_t max_id = scalar(st->db, "SELECT MAX(id) FROM spans");
        if (max_id > max_spans) {
            n = delete_chunks(st->db, "DELETE FROM spans WHERE id IN (SELECT id FROM spans WHERE id <= ?1 LIMIT ?2)",
                              max_id - max_spans, chunk);
            if (n > 0) total += n;
        }
    }
    if (total > 0) {
        /* the traces left without spans: those numbered below every span's */
        sqlite3_exec(st->db, "DELETE FROM traces WHERE id < coalesce((SELECT MIN(trace) FROM spans), 1 << 62)", NULL,
                     NULL, NULL);
        nums_clear(st);
        ops_seen_clear(st);
        sqlite3_exec(st->db,
                     "DELETE FROM ops WHERE NOT EXISTS (SELECT 1 FROM spans s WHERE s.service = ops.service"
                     " AND s.operation = ops.operation)",
                     NULL, NULL, NULL);
    }
    return total;
}

long trace_store_count(struct trace_store *st)
{
    return (long)scalar(st->db, "SELECT COUNT(*) FROM spans");
}

static char *col_text(sqlite3_stmt *q, int i)
{
    const char *s = (const char *)sqlite3_column_text(q, i);
    return xstrdup(s ? s : "");
}

static void row_to_span(sqlite3_stmt *q, struct trace_span *s)
{
    snprintf(s->trace_id, sizeof s->trace_id, "%s", (const char *)sqlite3_column_text(q, 0));
    snprintf(s->span_id, sizeof s->span_id, "%s", (const char *)sqlite3_column_text(q, 1));
    snprintf(s->parent_id, sizeof s->parent_id, "%s", (const char *)sqlite3_column_text(q, 2));
    s->service = col_text(q, 3);
    s->operation = col_text(q, 4);
    s->kind = sqlite3_column_int(q, 5);
    s->start_us = sqlite3_column_int64(q, 6);
    s->duration_us = sqlite3_column_int64(q, 7);
    s->error = sqlite3_column_int(q, 8);
    s->tags = col_text(q, 9);
    s->logs = col_text(q, 10);
    s->ptags = col_text(q, 11);
}

/* Write the trace with this number; -ENOENT when it has no spans. */
static int write_trace(struct trace_store *st, int64_t no, struct buf *out)
{
    struct trace_batch b;
    trace_batch_init(&b);
    sqlite3_stmt *q = st->get_trace;
    sqlite3_bind_int64(q, 1, no);
    int r;
    while ((r = sqlite3_step(q)) == SQLITE_ROW) row_to_span(q, trace_batch_add(&b));
    sqlite3_reset(q);
    int rc = r != SQLITE_DONE ? -EIO : !b.n ? -ENOENT : trace_jaeger_write(out, b.spans, b.n);
    trace_batch_free(&b);
    return rc;
}

int trace_id_normalize(const char *in, char out[33])
{
    size_t n = strlen(in);
    if (n != 32 && n != 16) return -EINVAL;
    size_t pad = 32 - n;
    memset(out, '0', pad);
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c >= 'A' && c <= 'F') c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return -EINVAL;
        out[pad + i] = c;
    }
    out[32] = '\0';
    return 0;
}

int trace_store_trace(struct trace_store *st, const char *trace_id, struct buf *out, char *err, size_t errlen)
{
    char id[33];
    if (trace_id_normalize(trace_id, id)) {
        snprintf(err, errlen, "malformed trace id: want 32 (or 16) hex digits");
        return -EINVAL;
    }
    sqlite3_stmt *q = st->trace_no;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
    int r = sqlite3_step(q);
    int64_t no = r == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    sqlite3_reset(q);
    int rc = r != SQLITE_ROW && r != SQLITE_DONE ? -EIO : no ? write_trace(st, no, out) : -ENOENT;
    if (rc == -ENOENT) snprintf(err, errlen, "trace not found");
    else if (rc == -E2BIG) snprintf(err, errlen, "trace too large to answer");
    else if (rc) fail(st->db, "query", err, errlen);
    return rc;
}

static json_t *string_column(struct trace_store *st, const char *sql, const char *arg, char *err, size_t errlen)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) {
        fail(st->db, "query", err, errlen);
        return NULL;
    }
    if (arg) sqlite3_bind_text(q, 1, arg, -1, SQLITE_TRANSIENT);
    json_t *out = json_array();
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(q, 0);
        if (sqlite3_column_count(q) == 1) {
            json_array_append_new(out, json_string(s ? s : ""));
        } else {
            json_array_append_new(out, json_pack("{s:s, s:s}", "name", s ? s : "", "spanKind",
                                                 trace_kind_name(sqlite3_column_int(q, 1))));
        }
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        json_decref(out);
        snprintf(err, errlen, "query failed");
        return NULL;
    }
    return out;
}

json_t *trace_store_services(struct trace_store *st, char *err, size_t errlen)
{
    return string_column(st, "SELECT DISTINCT service FROM ops ORDER BY service", NULL, err, errlen);
}

json_t *trace_store_operations(struct trace_store *st, const char *service, int detailed, char *err, size_t errlen)
{
    return string_column(st,
                         detailed ? "SELECT operation, kind FROM ops WHERE service = ? ORDER BY operation, kind"
                                  : "SELECT DISTINCT operation FROM ops WHERE service = ? ORDER BY operation",
                         service, err, errlen);
}

int trace_store_find(struct trace_store *st, const struct trace_query *q, struct buf *out, int *ntraces, char *err,
                     size_t errlen)
{
    char sql[768];
    snprintf(sql, sizeof sql,
                               "SELECT trace FROM spans WHERE service = ?1 AND start_us >= ?2 AND start_us <= ?3%s%s%s%s%s"
                               " ORDER BY start_us DESC",
                               q->operation[0] ? " AND operation = ?4" : "",
                               q->dur_min_us > 0 ? " AND duration_us >= ?5" : "",
                               q->dur_max_us < INT64_MAX ? " AND duration_us <= ?6" : "",
                               q->error >= 0 ? " AND error = ?7" : "",
                               json_object_size(q->tags) ? " AND tags_match(tags, ?8)" : "");
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) return fail(st->db, "query", err, errlen);
    sqlite3_bind_text(s, 1, q->service, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, q->start_min_us);
    sqlite3_bind_int64(s, 3, q->start_max_us);
    if (q->operation[0]) sqlite3_bind_text(s, 4, q->operation, -1, SQLITE_STATIC);
    if (q->dur_min_us > 0) sqlite3_bind_int64(s, 5, q->dur_min_us);
    if (q->dur_max_us < INT64_MAX) sqlite3_bind_int64(s, 6, q->dur_max_us);
    if (q->error >= 0) sqlite3_bind_int(s, 7, q->error);
    char *want = json_object_size(q->tags) ? json_dumps(q->tags, JSON_COMPACT) : NULL;
    if (want) sqlite3_bind_text(s, 8, want, -1, SQLITE_TRANSIENT);
    free(want);

    int limit = q->limit > 0 ? q->limit : TRACE_LIMIT_DEFAULT;
    int64_t *ids = xmalloc((size_t)limit * sizeof *ids);
    int n = 0, rc = SQLITE_DONE;
    while (n < limit && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0);
        int seen = 0;
        for (int i = 0; i < n && !seen; i++) seen = ids[i] == id;
        if (!seen) ids[n++] = id;
    }
    if (n < limit && rc != SQLITE_DONE) {
        int e = fail(st->db, "query", err, errlen);
        sqlite3_finalize(s);
        free(ids);
        return e;
    }
    sqlite3_finalize(s);
    int wrc = buf_puts(out, "["), written = 0;
    for (int i = 0; i < n && !wrc; i++) {
        size_t mark = out->len;
        if (written) wrc = buf_puts(out, ",");
        if (!wrc) wrc = write_trace(st, ids[i], out);
        if (wrc == -ENOENT) { /* pruned meanwhile */
            out->len = mark;
            out->data[mark] = '\0';
            wrc = 0;
        } else if (!wrc) {
            written++;
        }
    }
    if (!wrc) wrc = buf_puts(out, "]");
    free(ids);
    if (wrc == -E2BIG) snprintf(err, errlen, "answer too large: ask for fewer traces (limit)");
    else if (wrc) fail(st->db, "query", err, errlen);
    else *ntraces = written;
    return wrc;
}

json_t *trace_store_stats(struct trace_store *st, int64_t since_us, int top, char *err, size_t errlen)
{
    sqlite3_stmt *q = NULL;
    json_t *services = json_array(), *slowest = json_array(), *erroring = json_array();
    if (sqlite3_prepare_v2(st->db,
                           "SELECT service, COUNT(*), SUM(error), COUNT(DISTINCT trace) FROM spans"
                           " WHERE start_us >= ? GROUP BY service ORDER BY service",
                           -1, &q, NULL) != SQLITE_OK)
        goto bad;
    sqlite3_bind_int64(q, 1, since_us);
    while (sqlite3_step(q) == SQLITE_ROW) {
        int64_t spans = sqlite3_column_int64(q, 1), errors = sqlite3_column_int64(q, 2);
        json_array_append_new(services,
                              json_pack("{s:s, s:I, s:I, s:I, s:f}", "service", (const char *)sqlite3_column_text(q, 0),
                                        "spans", (json_int_t)spans, "errors", (json_int_t)errors, "traces",
                                        (json_int_t)sqlite3_column_int64(q, 3), "errorRate",
                                        spans ? (double)errors / (double)spans : 0.0));
    }
    sqlite3_finalize(q);
    if (sqlite3_prepare_v2(st->db,
                           "SELECT t.trace_id, s.service, s.operation, s.start_us, s.duration_us, s.error"
                           " FROM spans s JOIN traces t ON t.id = s.trace"
                           " WHERE s.start_us >= ? AND s.parent_id = '' ORDER BY s.duration_us DESC LIMIT ?",
                           -1, &q, NULL) != SQLITE_OK)
        goto bad;
    sqlite3_bind_int64(q, 1, since_us);
    sqlite3_bind_int(q, 2, top);
    while (sqlite3_step(q) == SQLITE_ROW)
        json_array_append_new(slowest, json_pack("{s:s, s:s, s:s, s:I, s:I, s:b}", "traceID",
                                                 (const char *)sqlite3_column_text(q, 0), "service",
                                                 (const char *)sqlite3_column_text(q, 1), "operation",
                                                 (const char *)sqlite3_column_text(q, 2), "startTime",
                                                 (json_int_t)sqlite3_column_int64(q, 3), "duration",
                                                 (json_int_t)sqlite3_column_int64(q, 4), "error",
                                                 sqlite3_column_int(q, 5)));
    sqlite3_finalize(q);
    if (sqlite3_prepare_v2(st->db,
                           "SELECT t.trace_id, s.service, s.operation, s.start_us, s.duration_us"
                           " FROM spans s JOIN traces t ON t.id = s.trace"
                           " WHERE s.start_us >= ? AND s.error = 1 ORDER BY s.start_us DESC",
                           -1, &q, NULL) != SQLITE_OK)
        goto bad;
    sqlite3_bind_int64(q, 1, since_us);
    while ((int)json_array_size(erroring) < top && sqlite3_step(q) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(q, 0);
        size_t i;
        json_t *e;
        int seen = 0;
        json_array_foreach(erroring, i, e) seen |= !strcmp(json_string_value(json_object_get(e, "traceID")), id);
        if (seen) continue;
        json_array_append_new(erroring, json_pack("{s:s, s:s, s:s, s:I, s:I}", "traceID", id, "service",
                                                  (const char *)sqlite3_column_text(q, 1), "operation",
                                                  (const char *)sqlite3_column_text(q, 2), "startTime",
                                                  (json_int_t)sqlite3_column_int64(q, 3), "duration",
                                                  (json_int_t)sqlite3_column_int64(q, 4)));
    }
    sqlite3_finalize(q);
    return json_pack("{s:o, s:o, s:o}", "services", services, "slowest", slowest, "erroring", erroring);
bad:
    fail(st->db, "query", err, errlen);
    json_decref(services);
    json_decref(slowest);
    json_decref(erroring);
    return NULL;
}
