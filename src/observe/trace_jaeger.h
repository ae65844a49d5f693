/* trace_jaeger: the Jaeger query API's side of the trace store — stored
 * spans rendered in Jaeger's JSON shape (a trace with its spans and
 * processes, the {"data":..., "errors":...} envelope) and the parameters of
 * GET /api/traces read and checked into a trace_query. Pure functions. */
#ifndef OBSERVE_TRACE_JAEGER_H
#define OBSERVE_TRACE_JAEGER_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "observe/trace_otlp.h"

#define TRACE_LIMIT_DEFAULT 20
#define TRACE_LIMIT_MAX 1500

struct trace_query {
    char service[TRACE_NAME_MAX + 1];
    char operation[TRACE_NAME_MAX + 1]; /* "" for any */
    int64_t start_min_us, start_max_us; /* span start window */
    int64_t dur_min_us, dur_max_us;     /* 0 / INT64_MAX for no bound */
    int limit;
    int error;   /* -1 any, 0 no error, 1 error (the tag error=true/false) */
    json_t *tags; /* other tags to match, {"key":"value"} (owned), or NULL */
};

/* The spans of one trace (same trace id) as a Jaeger trace object. */
json_t *trace_jaeger_trace(const struct trace_span *spans, size_t n);
/* The same trace written as JSON text at the end of out, straight from the
 * stored JSON of tags, logs and process tags (no parse, no tree): this is
 * what the query API serves. 0, or -E2BIG when out's maximum is reached. */
int trace_jaeger_write(struct buf *out, const struct trace_span *spans, size_t n);
/* A JSON string literal of s (UTF-8) at the end of out. */
int trace_json_string(struct buf *out, const char *s);
/* {"data": data, "total": n, "limit": 0, "offset": 0, "errors": null}
 * (steals data; total is the size of an array data, else 0). */
json_t *trace_jaeger_envelope(json_t *data);
/* {"data": null, ..., "errors": [{"code": code, "msg": msg}]}. */
json_t *trace_jaeger_error(int code, const char *msg);

/* Read the parameters of /api/traces through get(ctx, name) (NULL when
 * absent) into q, with now_us as the present. 0, or -EINVAL with a message
 * (as Jaeger would say it) in err. Free q with trace_query_free. */
int trace_query_parse(const char *(*get)(void *ctx, const char *name), void *ctx, int64_t now_us,
                      struct trace_query *q, char *err, size_t errlen);
void trace_query_free(struct trace_query *q);
/* Whether a stored span's tags (JSON array) hold every tag of q->tags. */
int trace_tags_match(const char *tags_json, const json_t *want);
/* A duration like Jaeger's: Go syntax ("1h30m", "250ms", "1.5s") or days
 * ("2d"). 0 or -EINVAL. */
int trace_parse_duration_us(const char *s, int64_t *us);

#endif
