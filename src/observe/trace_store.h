/* trace_store: the spans in SQLite (WAL). One writer connection takes
 * batches in transactions and enforces the bounds by deleting the oldest
 * spans; any number of reader connections (one per thread) answer queries
 * while it writes. A trace is a row of its own (its id and a number given
 * in arrival order); a span carries its trace's number. Span indexes:
 * trace, (service, start), (service, operation, start) -- both covering
 * duration, error and trace -- and start; services and operations are kept
 * in a small table of their own. All functions return 0 / a count, or a
 * negative errno with a message in err; a connection is used by one thread
 * at a time. */
#ifndef OBSERVE_TRACE_STORE_H
#define OBSERVE_TRACE_STORE_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "observe/trace_jaeger.h"
#include "observe/trace_otlp.h"

#define TRACE_SPANS_MAX 10000

struct trace_store;

/* Open (creating the file and schema when writer) the database at path. */
int trace_store_open(const char *path, int writer, struct trace_store **out, char *err, size_t errlen);
void trace_store_close(struct trace_store *st);

/* Insert a batch in one transaction. */
int trace_store_insert(struct trace_store *st, const struct trace_batch *b, char *err, size_t errlen);
/* Delete spans beyond the bounds: more than max_spans (0: no bound), or
 * starting before min_start_us (0: no bound), at most chunk rows per
 * transaction. Returns the number of spans deleted. */
long trace_store_prune(struct trace_store *st, long max_spans, int64_t min_start_us, int chunk);
/* Number of stored spans (counts the table: slow on millions; for tests and logs). */
long trace_store_count(struct trace_store *st);

/* Jaeger "data" values (new references), NULL with err on failure. */
json_t *trace_store_services(struct trace_store *st, char *err, size_t errlen);
/* The operations of a service: names (detailed 0) or {name, spanKind} (1). */
json_t *trace_store_operations(struct trace_store *st, const char *service, int detailed, char *err, size_t errlen);
/* Traces with a span matching q, most recent first, at most q->limit,
 * written as a JSON array of Jaeger traces at the end of out; *ntraces is
 * how many. 0, -E2BIG (out's maximum) or -EIO. */
int trace_store_find(struct trace_store *st, const struct trace_query *q, struct buf *out, int *ntraces, char *err,
                     size_t errlen);
/* One trace by id (32 hex digits, or 16 for a 64-bit id: zero-padded)
 * written as a Jaeger trace at the end of out. 0, -EINVAL (malformed id),
 * -ENOENT (no such trace), -E2BIG or -EIO. At most TRACE_SPANS_MAX spans of a
 * trace are returned (the earliest). */
int trace_store_trace(struct trace_store *st, const char *trace_id, struct buf *out, char *err, size_t errlen);
/* The summary behind `aiopslab traces summary`: per-service span and error
 * counts, the slowest root spans and the latest erroring traces since since_us. */
json_t *trace_store_stats(struct trace_store *st, int64_t since_us, int top, char *err, size_t errlen);

/* Normalize a trace id given by a user into 32 lowercase hex digits. */
int trace_id_normalize(const char *in, char out[33]);

#endif
