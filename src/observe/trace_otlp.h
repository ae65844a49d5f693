/* trace_otlp: the span as the trace store keeps it, and the parser of
 * OTLP/HTTP JSON export requests (ExportTraceServiceRequest:
 * resourceSpans -> scopeSpans -> spans) into such spans. Attributes,
 * status, kind and events are turned into Jaeger tags and logs here, once,
 * so that queries hand them out as stored. Pure functions (the body is read
 * with trace_jread, no JSON tree is built): no SQLite, no threads, safe on
 * any input (there is a fuzz target). */
#ifndef OBSERVE_TRACE_OTLP_H
#define OBSERVE_TRACE_OTLP_H
#include <stddef.h>
#include <stdint.h>

#define TRACE_NAME_MAX 256      /* service and operation names are cut here */
#define TRACE_ATTRS_MAX 128     /* attributes kept per span (and per resource) */
#define TRACE_EVENTS_MAX 32     /* events kept per span */
#define TRACE_VALUE_MAX 4096    /* an attribute's string value is cut here */

struct trace_span {
    char trace_id[33]; /* 32 lowercase hex digits */
    char span_id[17];  /* 16 lowercase hex digits */
    char parent_id[17]; /* "" for a root span */
    char *service, *operation;
    int kind;          /* OTLP SpanKind 0..5 */
    int error;         /* status ERROR or an error=true attribute */
    int64_t start_us, duration_us;
    char *tags;  /* JSON array of Jaeger tags {key,type,value} */
    char *logs;  /* JSON array of Jaeger logs {timestamp,fields} */
    char *ptags; /* JSON array of the resource's tags (the Jaeger process) */
};

struct trace_batch {
    struct trace_span *spans;
    size_t n, cap;
};

void trace_batch_init(struct trace_batch *b);
/* Free the spans' strings and the array; the batch is empty afterwards. */
void trace_batch_free(struct trace_batch *b);
/* A new zeroed span at the end of the batch (owned by the batch). */
struct trace_span *trace_batch_add(struct trace_batch *b);
/* Move all spans of src to the end of dst; src is left empty. */
void trace_batch_move(struct trace_batch *dst, struct trace_batch *src);
/* Move the first max spans of src (all, if fewer) to the end of dst,
 * keeping their order; the rest stay in src, in order. */
void trace_batch_take(struct trace_batch *dst, struct trace_batch *src, size_t max);

/* Parse an OTLP JSON export request (len bytes, need not be terminated)
 * and append its valid spans to out. Spans with bad ids or times are
 * skipped and counted in *rejected. Returns 0, or -EINVAL with a message in
 * err when the body is not an OTLP JSON request at all (nothing appended). */
int trace_otlp_parse(const char *body, size_t len, struct trace_batch *out, size_t *rejected, char *err,
                     size_t errlen);

/* "server", "client", "producer", "consumer", "internal" or "" (unspecified). */
const char *trace_kind_name(int kind);

#endif
