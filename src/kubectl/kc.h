/* kc: what every kubectl verb shares — parsed global flags, the daemon
 * connection, kubectl-style errors, and the verb table.
 *
 * kubectl_main (kubectl.c) strips the global flags wherever they appear
 * (-n/--namespace, -A/--all-namespaces, -l/--selector, -o/--output,
 * --lab), finds the verb, and calls its function with the remaining
 * arguments (argv[0] is the verb). A verb parses its own flags and rejects
 * unknown ones with kc_usage_error. Verbs return the exit status. */
#ifndef KUBECTL_KC_H
#define KUBECTL_KC_H
#include <jansson.h>
#include <stdio.h>

#include "core/lab.h"

struct kc {
    struct lab lab;
    const char *ns;       /* -n; "default" when not given */
    int ns_given;         /* -n was given */
    int all_namespaces;   /* -A */
    const char *selector; /* -l, or NULL */
    const char *output;   /* -o, or NULL */
    FILE *out, *err;
};

/* Call the daemon. On an error reply or a transport failure, print it the
 * way kubectl does ("Error from server (NotFound): pods \"x\" not found",
 * or "The connection to the server ... was refused") and return -1; else
 * 0 with the reply (new reference) in *reply. */
int kc_call(struct kc *kc, json_t *req, json_t **reply);
/* "error: MSG\nSee 'kubectl VERB --help' for usage." on err; returns 1. */
int kc_usage_error(struct kc *kc, const char *verb, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "error: MSG" on err; returns 1. */
int kc_error(struct kc *kc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Read side (get.c, describe.c, print.c, jsonpath.c). */
int kc_get(struct kc *kc, int argc, char **argv);
int kc_describe(struct kc *kc, int argc, char **argv);
int kc_events(struct kc *kc, int argc, char **argv);
int kc_logs(struct kc *kc, int argc, char **argv);
int kc_top(struct kc *kc, int argc, char **argv);
int kc_cluster_info(struct kc *kc, int argc, char **argv);
/* Write side (apply.c, edit verbs). */
int kc_apply(struct kc *kc, int argc, char **argv);  /* apply -f / create -f: argv[0] tells which */
int kc_delete(struct kc *kc, int argc, char **argv);
int kc_patch(struct kc *kc, int argc, char **argv);
int kc_scale(struct kc *kc, int argc, char **argv);
int kc_rollout(struct kc *kc, int argc, char **argv);
int kc_set(struct kc *kc, int argc, char **argv);    /* set env */
int kc_exec(struct kc *kc, int argc, char **argv);
int kc_label(struct kc *kc, int argc, char **argv);  /* label/annotate: optional */

/* Print objects in a -o form shared by get and the write verbs:
 * "json", "yaml", "name", "jsonpath=...", "jsonpath-as-json=...".
 * items is an array of objects; single chooses one object vs a v1 List.
 * Returns 0, or 1 after printing an error for a bad format. */
int kc_print_objects(struct kc *kc, json_t *items, int single);

#endif
