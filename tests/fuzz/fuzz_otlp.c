/* libFuzzer target for the trace store's OTLP JSON parser: any body must be
 * parsed or refused cleanly; every span it keeps must have well-formed ids,
 * a non-negative duration and tags that are a JSON array, and must render
 * as a Jaeger trace. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "observe/trace_jaeger.h"
#include "observe/trace_otlp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hex_ok(const char *s, size_t n)
{
    if (strlen(s) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024) return 0;
    struct trace_batch b;
    trace_batch_init(&b);
    size_t rejected = 0;
    char err[256];
    int rc = trace_otlp_parse((const char *)data, size, &b, &rejected, err, sizeof err);
    if (rc && b.n) abort();
    for (size_t i = 0; i < b.n; i++) {
        const struct trace_span *s = &b.spans[i];
        if (!hex_ok(s->trace_id, 32) || !hex_ok(s->span_id, 16) || (s->parent_id[0] && !hex_ok(s->parent_id, 16)))
            abort();
        if (s->duration_us < 0 || s->start_us < 0 || s->kind < 0 || s->kind > 5) abort();
        if (strlen(s->service) > TRACE_NAME_MAX || strlen(s->operation) > TRACE_NAME_MAX) abort();
        json_t *tags = json_loads(s->tags, 0, NULL);
        if (!json_is_array(tags)) abort();
        json_decref(tags);
    }
    if (b.n) {
        json_t *t = trace_jaeger_trace(b.spans, b.n);
        if (!t) abort();
        json_decref(t);
    }
    trace_batch_free(&b);
    return 0;
}
