/* engine: inject, verify, recover — in that order, with the journal
 * written before anything acts (see fault.h). Inject and recover hold
 * LABDIR/faults/lock (flock) so that `recover --all` never races an inject
 * that is still running; the lock dies with its process. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "cluster/daemon.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "faults/fault.h"
#include "faults/journal.h"

#define DEFAULT_VERIFY_MS 10000

static int lock_lab(const struct lab *lab, char *err, size_t errlen)
{
    char path[PATH_MAX];
    lab_path(lab, "faults", path, sizeof path);
    mkdir_p(path, 0700);
    lab_path(lab, "faults/lock", path, sizeof path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX) < 0) {
        snprintf(err, errlen, "cannot lock %s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

static void unlock_lab(int fd)
{
    if (fd >= 0) close(fd);
}

/* Is name a Deployment (or, for FT_SERVICE and peers, a Service) of ns? */
static int target_check(struct fault_ctx *c, enum fault_target kind, const char *name, char *err, size_t errlen)
{
    int missing = 0;
    const char *k = kind == FT_SERVICE ? "Service" : "Deployment";
    json_t *o = fault_get(c, k, name, &missing);
    if (!o && !missing) {
        snprintf(err, errlen, "%s", c->err);
        return -1;
    }
    if (!o && kind == FT_WORKLOAD) { /* a peer may be a Service only */
        o = fault_get(c, "Service", name, &missing);
        if (!o && !missing) {
            snprintf(err, errlen, "%s", c->err);
            return -1;
        }
    }
    if (!o) {
        snprintf(err, errlen, "%s: no %s \"%s\" in namespace \"%s\"", c->type->id,
                 kind == FT_SERVICE ? "Service" : "Deployment", name, c->ns);
        return -1;
    }
    json_decref(o);
    if (kind == FT_POSTGRES || kind == FT_REDIS || kind == FT_MEMCACHED || kind == FT_STORE) {
        char prog[128];
        fault_deployment_program(c, name, prog, sizeof prog);
        int pg = !strcmp(prog, "aiopslab-postgres") || !strcmp(prog, "postgres");
        int rd = !strcmp(prog, "redis-server"), mc = !strcmp(prog, "memcached");
        int ok = kind == FT_POSTGRES ? pg : kind == FT_REDIS ? rd : kind == FT_MEMCACHED ? mc : pg || rd || mc;
        if (!ok) {
            snprintf(err, errlen, "%s: \"%s\" is not a %s store (it runs %s)", c->type->id, name,
                     fault_target_name(kind), prog[0] ? prog : "an unknown program");
            return -1;
        }
    }
    return 0;
}

json_t *fault_truth(const struct fault_type *t, const char *ns, const char *target, const json_t *params)
{
    json_t *ents = json_array();
    json_array_append_new(ents, json_sprintf("%s/%s", ns, target));
    if (t->peer_param) {
        const char *peer = json_string_value(json_object_get(params, t->peer_param));
        if (peer) json_array_append_new(ents, json_sprintf("%s/%s", ns, peer));
    }
    return json_pack("{s:s, s:s, s:s, s:o, s:s}", "type", t->id, "layer", fault_layer_name(t->layer), "faultType",
                     fault_class_name(t->cls), "entities", ents, "symptoms", t->symptoms);
}

/* Start the fault's detached body; its pid goes into the state. */
static int start_runner(struct fault_ctx *c)
{
    char exe[PATH_MAX], id[32], log[PATH_MAX];
    if (self_exe(exe, sizeof exe)) {
        snprintf(c->err, sizeof c->err, "cannot find the aiopslab binary");
        return -1;
    }
    snprintf(id, sizeof id, "%lld", (long long)c->id);
    char rel[64];
    snprintf(rel, sizeof rel, "faults/run-%lld.log", (long long)c->id);
    lab_path(c->lab, rel, log, sizeof log);
    char *argv[] = {exe, "--lab", (char *)c->lab->name, "__fault-run", id, NULL};
    extern char **environ;
    pid_t pid;
    int pidfd = -1;
    int rc = spawn_detached(argv, environ, log, &pid, &pidfd);
    if (pidfd >= 0) close(pidfd);
    if (rc) {
        snprintf(c->err, sizeof c->err, "cannot start the fault's process: %s", strerror(-rc));
        return -1;
    }
    json_object_set_new(c->state, "runnerPid", json_integer(pid));
    json_object_set_new(c->state, "runnerStart", json_integer((json_int_t)proc_starttime(pid)));
    return fault_save(c);
}

static void stop_runner(struct fault_ctx *c)
{
    pid_t pid = (pid_t)json_integer_value(json_object_get(c->state, "runnerPid"));
    uint64_t start = (uint64_t)json_integer_value(json_object_get(c->state, "runnerStart"));
    if (pid <= 0 || fault_signal(pid, start, SIGTERM)) return;
    for (int i = 0; i < 50 && proc_starttime(pid) == start; i++) nanosleep(&(struct timespec){0, 20000000L}, NULL);
    fault_signal(pid, start, SIGKILL);
}

static int undo(struct fault_ctx *c)
{
    stop_runner(c);
    return c->type->recover(c);
}

int fault_inject(const struct lab *lab, const char *type, const char *ns, const char *target, const json_t *params,
                 int verify, struct fault_injected *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const struct fault_type *t = fault_type_find(type);
    if (!t) {
        snprintf(err, errlen, "unknown fault type \"%.64s\" (aiopslab fault list shows them)", type);
        return -1;
    }
    json_t *empty = json_object();
    json_t *p = fault_params_validate(t, params ? params : empty, err, errlen);
    json_decref(empty);
    if (!p) return -1;
    struct fault_ctx c = {.lab = lab, .type = t, .ns = ns, .target = target, .params = p};
    int rc = -1, lock = -1;
    struct fault_journal *j = NULL;
    if (target_check(&c, t->target, target, err, errlen)) goto out;
    for (const struct fault_param *fp = t->params; fp->key; fp++) {
        if (fp->type != FP_WORKLOAD) continue;
        const char *peer = fault_param_str(&c, fp->key);
        if (!strcmp(peer, target)) {
            snprintf(err, errlen, "%s: parameter %s must name another workload than the target", t->id, fp->key);
            goto out;
        }
        if (target_check(&c, FT_WORKLOAD, peer, err, errlen)) goto out;
    }
    if ((lock = lock_lab(lab, err, errlen)) < 0) goto out;
    if (journal_open(lab, &j, err, errlen)) goto out;
    json_t *truth = fault_truth(t, ns, target, p);
    int b = journal_begin(j, t->id, t->resource, ns, target, json_object_get(truth, "entities"), p, &c.id, err, errlen);
    json_decref(truth);
    if (b) goto out;
    c.journal = j;
    c.state = json_object();
    out->id = c.id;
    out->injected_ns = wall_ns();
    uint64_t t0 = mono_ns();
    if (t->inject(&c) || (t->run && start_runner(&c))) {
        snprintf(err, errlen, "%s: %s", t->id, c.err);
        c.err[0] = '\0';
        if (undo(&c)) journal_set_status(j, c.id, "recovering", 0, err);
        else journal_set_status(j, c.id, "failed", 0, err);
        goto out;
    }
    out->inject_ms = (mono_ns() - t0) / 1000000u;
    journal_set_status(j, c.id, "active", 0, NULL);
    unlock_lab(lock);
    lock = -1;
    if (verify) {
        unsigned bound = t->verify_ms ? t->verify_ms : DEFAULT_VERIFY_MS;
        uint64_t end = mono_ns() + (uint64_t)bound * 1000000u;
        int took = 0;
        for (;;) {
            took = t->verify(&c);
            if (took != 0 || mono_ns() >= end) break;
            nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
        }
        if (took <= 0) {
            snprintf(err, errlen, "%s did not take within %u ms%s%s; recovered it", t->id, bound, c.err[0] ? ": " : "",
                     c.err);
            if ((lock = lock_lab(lab, err + strlen(err), errlen - strlen(err))) < 0) goto out;
            journal_set_status(j, c.id, "recovering", 0, err);
            if (!undo(&c)) journal_set_status(j, c.id, "failed", 0, err);
            goto out;
        }
        out->took_ns = wall_ns();
        journal_set_status(j, c.id, "active", out->took_ns, NULL);
    }
    rc = 0;
out:
    unlock_lab(lock);
    journal_close(j);
    json_decref(c.state);
    json_decref(p);
    return rc;
}

/* The context of a journal row (borrowing the row's values). */
static struct fault_ctx ctx_of_row(const struct lab *lab, const struct fault_type *t, int64_t id, json_t *row,
                                   struct fault_journal *j)
{
    return (struct fault_ctx){.lab = lab,
                              .type = t,
                              .id = id,
                              .ns = json_string_value(json_object_get(row, "namespace")),
                              .target = json_string_value(json_object_get(row, "target")),
                              .params = json_object_get(row, "params"),
                              .state = json_object_get(row, "state"),
                              .journal = j};
}

/* Undo one journal row. 0 or -1 with err. */
static int recover_row(const struct lab *lab, struct fault_journal *j, json_t *row, char *err, size_t errlen)
{
    const char *tid = json_string_value(json_object_get(row, "type"));
    const struct fault_type *t = fault_type_find(tid);
    int64_t id = json_integer_value(json_object_get(row, "id"));
    if (!t) {
        snprintf(err, errlen, "fault %lld: unknown type \"%s\" in the journal (written by another version?)",
                 (long long)id, tid);
        return -1;
    }
    struct fault_ctx c = ctx_of_row(lab, t, id, row, j);
    journal_set_status(j, id, "recovering", 0, NULL);
    if (undo(&c)) {
        snprintf(err, errlen, "fault %lld (%s on %s/%s): recover failed: %s", (long long)id, t->id, c.ns, c.target,
                 c.err);
        return -1;
    }
    journal_set_status(j, id, "recovered", 0, NULL);
    return 0;
}

int fault_recover(const struct lab *lab, int64_t id, int *count, char *err, size_t errlen)
{
    *count = 0;
    int lock = lock_lab(lab, err, errlen);
    if (lock < 0) return -1;
    struct fault_journal *j = NULL;
    int rc = 0;
    if (journal_open(lab, &j, err, errlen)) {
        unlock_lab(lock);
        return -1;
    }
    json_t *rows;
    if (id) {
        json_t *r = journal_get(j, id);
        if (!r) {
            snprintf(err, errlen, "no fault %lld in the journal (aiopslab fault status lists them)", (long long)id);
            rc = -1;
            goto out;
        }
        const char *st = json_string_value(json_object_get(r, "status"));
        if (!strcmp(st, "recovered") || !strcmp(st, "failed")) {
            json_decref(r);
            goto out;
        }
        rows = json_pack("[o]", r);
    } else {
        rows = journal_list(j, 0);
    }
    size_t i;
    json_t *row;
    char one[512];
    json_array_foreach(rows, i, row)
    {
        if (recover_row(lab, j, row, one, sizeof one)) {
            if (!rc) snprintf(err, errlen, "%s", one);
            rc = -1;
        } else {
            (*count)++;
        }
    }
    json_decref(rows);
out:
    journal_close(j);
    unlock_lab(lock);
    return rc;
}

json_t *fault_list_journal(const struct lab *lab, int all, char *err, size_t errlen)
{
    struct fault_journal *j = NULL;
    if (journal_open(lab, &j, err, errlen)) return NULL;
    json_t *rows = journal_list(j, all);
    journal_close(j);
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        const struct fault_type *t = fault_type_find(json_string_value(json_object_get(r, "type")));
        json_object_del(r, "state");
        json_object_del(r, "resource");
        if (!t) continue;
        json_object_set_new(r, "layer", json_string(fault_layer_name(t->layer)));
        json_object_set_new(r, "faultType", json_string(fault_class_name(t->cls)));
    }
    return rows;
}

int fault_still_active(struct fault_ctx *c)
{
    json_t *r = journal_get(c->journal, c->id);
    const char *st = r ? json_string_value(json_object_get(r, "status")) : "";
    int live = st && (!strcmp(st, "injecting") || !strcmp(st, "active"));
    json_decref(r);
    return live;
}

int fault_runner_main(const struct lab *lab, int64_t id)
{
    char err[512];
    struct fault_journal *j = NULL;
    if (journal_open(lab, &j, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    json_t *row = journal_get(j, id);
    const struct fault_type *t = row ? fault_type_find(json_string_value(json_object_get(row, "type"))) : NULL;
    if (!t || !t->run) {
        fprintf(stderr, "fault %lld: nothing to run\n", (long long)id);
        json_decref(row);
        journal_close(j);
        return 1;
    }
    signal(SIGTERM, SIG_DFL);
    /* The engine records this process's pid in the state after starting it:
     * wait for that (at most 2 s) so that a body that saves its state
     * later does not write the pid away. */
    for (int i = 0; i < 40; i++) {
        if (json_integer_value(json_object_get(json_object_get(row, "state"), "runnerPid")) == getpid()) break;
        nanosleep(&(struct timespec){0, 50000000L}, NULL);
        json_t *again = journal_get(j, id);
        if (!again) break;
        json_decref(row);
        row = again;
    }
    struct fault_ctx c = ctx_of_row(lab, t, id, row, j);
    int rc = t->run(&c);
    if (rc) fprintf(stderr, "fault %lld (%s): %s\n", (long long)id, t->id, c.err);
    json_decref(row);
    journal_close(j);
    return rc ? 1 : 0;
}

int fault_check_fixed(const struct lab *lab, int64_t id, char *err, size_t errlen)
{
    struct fault_journal *j = NULL;
    if (journal_open(lab, &j, err, errlen)) return -1;
    json_t *row = journal_get(j, id);
    const struct fault_type *t = row ? fault_type_find(json_string_value(json_object_get(row, "type"))) : NULL;
    int rc = -1;
    if (!t || !t->fixed) {
        snprintf(err, errlen, "fault %lld: %s", (long long)id, !row ? "not in the journal" : "no mitigation check");
    } else {
        struct fault_ctx c = ctx_of_row(lab, t, id, row, j);
        rc = t->fixed(&c);
        if (rc < 0) snprintf(err, errlen, "%s", c.err);
    }
    json_decref(row);
    journal_close(j);
    return rc;
}
