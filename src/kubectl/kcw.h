/* kcw: the pure parts of kubectl's write verbs (apply.c, edit.c, exec.c),
 * split from the verbs so that unit tests can check argument parsing and
 * the requests built without a running daemon. Everything here works on
 * json_t trees and strings; nothing talks to the daemon or prints.
 * Return convention: 0, or -EINVAL (or another negative errno) with a
 * kubectl-style message (without the "error: " prefix) in err. */
#ifndef KUBECTL_KCW_H
#define KUBECTL_KCW_H
#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"

/* "deployment.apps", "service", "pod": the TYPE of kubectl's "TYPE/NAME"
 * messages for a kind. The result is a static string or lives in a small
 * rotating buffer (valid for a few calls). */
const char *kcw_kind_type(const char *kind);
/* "deployments.apps", "services": the plural resource used in texts such
 * as `deployments.apps "x" not found`. */
const char *kcw_kind_resource(const char *kind);

/* One object a verb acts on. */
struct kcw_ref {
    const char *kind; /* static (from manifest) */
    char *name;       /* owned */
};
/* Parse "TYPE NAME..." or "TYPE/NAME..." (argv borrowed). A TYPE without
 * names gives n = 0 and *kind_only set (for -l/--all). Unknown TYPE:
 * `the server doesn't have a resource type "x"`. Free with kcw_refs_free. */
int kcw_parse_refs(int argc, char **argv, struct kcw_ref **refs, size_t *n, const char **kind_only, char *err,
                   size_t errlen);
void kcw_refs_free(struct kcw_ref *refs, size_t n);

/* Manifests: parse one file's text (file names it in messages), expand
 * kind: List, check kinds, validate, and give every namespaced object
 * without metadata.namespace the namespace ns. When ns_given and an
 * object names another namespace, that is kubectl's namespace mismatch
 * error. Objects are appended to out (an array) only when the whole file
 * is good. */
int kcw_manifest_objects(const char *file, const char *text, size_t len, const char *ns, int ns_given,
                         json_t *out, char *err, size_t errlen);
/* The files -f PATH names: PATH itself, or the .yaml/.yml/.json files of
 * a directory in name order (subdirectories too when recursive). Appends
 * strings to out (an array). */
int kcw_manifest_files(const char *path, int recursive, json_t *out, char *err, size_t errlen);

/* Verb helpers shared by apply.c and edit.c (these print, through kc). */
struct kc;
/* -f/--filename/-fX/-f=X at argv[*i]: 1 (path appended to paths, *i
 * advanced past a separate value), 0 when argv[*i] is another flag, -1
 * when the value is missing. */
int kcw_file_flag(int argc, char **argv, int *i, json_t *paths);
/* "--name=V" or "--name V" at argv[*i]: 1 with *val set (and *i advanced
 * past a separate value), 0 when argv[*i] is another flag, -1 when the
 * value is missing. */
int kcw_flag(int argc, char **argv, int *i, const char *name, const char **val);
/* Load the -f paths: *out is an array of {"file": F, "objects": [...]}
 * for the files that loaded; each bad one is reported on kc->err and
 * counted in *errors. */
int kcw_load_files(struct kc *kc, json_t *paths, int recursive, json_t **out, int *errors);

/* A patch given on the command line: JSON, else YAML. */
int kcw_parse_patch(const char *text, json_t **out, char *err, size_t errlen);
/* Whether two versions of an object differ in anything but bookkeeping
 * (resourceVersion, generation, managedFields, status). */
int kcw_object_changed(const json_t *before, const json_t *after);

/* set env: a strategic merge patch for deployment deploy that applies
 * KEY=VAL and KEY- to the containers (only container if non-NULL).
 * *patch is NULL when nothing would change. */
int kcw_setenv_patch(const json_t *deploy, const char *container, char **assigns, size_t n, json_t **patch,
                     char *err, size_t errlen);
/* set env --list text for a deployment (or pod) into out. */
int kcw_setenv_list(const json_t *obj, const char *container, struct buf *out, char *err, size_t errlen);

/* label/annotate: a merge patch of metadata.FIELD ("labels" or
 * "annotations") applying k=v and k- to obj. Without overwrite an existing
 * different value is kubectl's "'k' already has a value (v), and
 * --overwrite is false". *patch is NULL when nothing would change. */
int kcw_meta_patch(const json_t *obj, const char *field, char **assigns, size_t n, int overwrite, json_t **patch,
                   char *err, size_t errlen);

/* rollout status of a deployment: the message kubectl prints into msg.
 * 1 when rolled out, 0 when still waiting, -1 on a failed rollout
 * (progress deadline exceeded; msg is then the error). */
int kcw_rollout_status(const json_t *deploy, char *msg, size_t n);
/* rollout history: the REVISION/CHANGE-CAUSE table for deploy from the
 * ReplicaSets rs (an array; those not owned by deploy are skipped), or
 * with revision > 0 that revision's pod template. */
int kcw_rollout_history(const json_t *deploy, const json_t *rs, long revision, struct buf *out, char *err,
                        size_t errlen);
/* "a=b,c=d" from a deployment's spec.selector.matchLabels into out. */
int kcw_selector_of(const json_t *deploy, char *out, size_t n);

/* exec: what the command line asks for. */
struct kcw_exec_args {
    const char *target;    /* "POD", "pod/x", "deploy/x" */
    const char *container; /* -c, or NULL */
    int stdin_open;        /* -i */
    int tty;               /* -t (ignored) */
    char **cmd;            /* argv after "--", NULL-terminated (borrowed) */
    int cmdc;
};
int kcw_exec_parse(int argc, char **argv, struct kcw_exec_args *a, char *err, size_t errlen);
/* Pick the container of pod: name (or the first container) must be
 * running. On success *restart is its restartCount and *cname its name
 * (borrowed from pod). */
int kcw_exec_container(const json_t *pod, const char *name, const char **cname, int *restart, char *err,
                       size_t errlen);

#endif
