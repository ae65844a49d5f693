/* kread: the read side of kubectl inside — table printing, pod status as
 * kubectl computes it, JSONPath, and resource name handling — shared by
 * get, describe, logs, top and events, and by the unit tests, which call
 * these with canned objects and no daemon. */
#ifndef KUBECTL_KREAD_H
#define KUBECTL_KREAD_H
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "core/buf.h"

/* A table laid out like kubectl's tabwriter: each column padded to its
 * widest cell plus 3 spaces (at least 6 wide), the last column unpadded. */
struct kc_table {
    char **cells; /* row-major, ncols per row */
    size_t count, cap, ncols;
};
void kc_table_init(struct kc_table *t, size_t ncols);
void kc_table_add(struct kc_table *t, const char *cell);
void kc_table_addf(struct kc_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kc_table_print(const struct kc_table *t, FILE *f);
void kc_table_free(struct kc_table *t);
/* Lay out tab-separated text as Go's text/tabwriter does (column blocks
 * of consecutive lines; kubectl describe uses minwidth 0, padding 2). */
void kc_tabwrite(const char *text, size_t minwidth, size_t padding, FILE *f);

/* Age of an RFC 3339 timestamp relative to now, kubectl style ("5m2s");
 * "<unknown>" when absent or unparsable. */
void kc_age(const char *ts, time_t now, char *out, size_t n);

/* A pod's READY / STATUS / RESTARTS columns, computed as kubectl does. */
struct kc_pod_summary {
    char ready[32];     /* "1/1" */
    char status[96];    /* "Running", "CrashLoopBackOff", "Init:0/1", ... */
    char restarts[64];  /* "3 (45s ago)" */
    int restart_count;
};
void kc_pod_summary(const json_t *pod, time_t now, struct kc_pod_summary *s);

/* The name kubectl prints for a kind in "KIND/name" forms: "pod",
 * "deployment.apps", "service", ...; lower-case kind when unknown. */
const char *kc_kind_prefix(const char *kind);

struct kc_print_opts {
    int wide, show_labels, no_headers, all_namespaces, with_kind;
    time_t now;
};
/* Print items (an array of objects of one kind) as kubectl's table. */
void kc_print_table(const char *kind, const json_t *items, const struct kc_print_opts *o, FILE *f);

/* Evaluate a kubectl JSONPath template against root, appending the text to
 * out (as_json: the results as a JSON array). 0, or -EINVAL with err. */
int kc_jsonpath(const char *tmpl, const json_t *root, int as_json, struct buf *out, char *err, size_t errlen);

/* Label selector matching (=, ==, !=, in (...), notin (...), key, !key).
 * 1 match, 0 no match, -EINVAL for a bad selector. */
int kc_selector_match(const char *selector, const json_t *labels);

/* "a=b,c=d" from a label map, or "<none>" when empty. Caller frees. */
char *kc_labels_string(const json_t *labels);

/* Get objects of a kind from the daemon (name and selector may be NULL;
 * ns NULL means all namespaces). 0 with *items (new reference), else -1
 * after printing the error. */
struct kc;
int kc_fetch(struct kc *kc, const char *kind, const char *ns, const char *name, const char *selector,
             json_t **items);
/* Events whose involvedObject is the given object, oldest first (new
 * reference; an empty array when none or on error). */
json_t *kc_events_for(struct kc *kc, const char *kind, const char *ns, const char *name);

#endif
