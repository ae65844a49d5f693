/* validate_cmd: `aiopslab validate` — prove problems on the live lab: the
 * reference solution passes, doing nothing fails, the mitigation
 * shortcuts fail (see orchestrator/validate.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "orchestrator/results.h"
#include "orchestrator/validate.h"

static int usage(FILE *f)
{
    fprintf(f, "Usage: aiopslab validate [--problem ID]... [--family F] [--task T] [--app A] [--sample]\n"
               "                         [--no-shortcuts] [--jobs N] [--quiet]\n"
               "Every problem by default; --sample: the first variant of each family and task.\n"
               "The lab's cluster is brought up when it is not running.\n"
               "--jobs N: N labs at once (1-8; default 1): the lab and N-1 of its own (LAB-v2 ...,\n"
               "          removed at the end), each taking whole apps (or whole problem families\n"
               "          when there are fewer apps than labs).\n"
               "Sessions are recorded like any run's (agent validate:MODE).\n");
    return f == stdout ? 0 : 2;
}

static int quiet;

/* A line per session (with the seconds since this lab's previous line:
 * the session, or the deploy before it) and per (re)deploy. */
static void progress(void *arg, size_t index, size_t total, const struct problem *p, const char *event,
                     const char *detail)
{
    static uint64_t last;
    (void)arg;
    if (quiet) return;
    uint64_t now = mono_ns();
    double took = last ? (double)(now - last) / 1e9 : 0.0;
    if (!strcmp(event, "done")) {
        printf("[%zu/%zu] %-56s %-10s %6.1f s\n", index + 1, total, p->id, detail, took);
        last = now;
    } else if (!strcmp(event, "deploy") || !strcmp(event, "redeploy")) {
        printf("%s %s ...\n", event, detail);
        last = now;
    } else if (!last) {
        last = now;
    }
    fflush(stdout);
}

static void merge(struct validate_report *into, struct validate_report *r)
{
    into->problems += r->problems;
    into->passed += r->passed;
    into->sessions += r->sessions;
    json_array_extend(into->failures, r->failures);
    json_decref(r->failures);
    if (r->retried) json_array_extend(into->retried, r->retried);
    json_decref(r->retried);
}

/* Validate list on the lab AIOPSLAB_LAB names (its cluster brought up when
 * needed), adding the verdicts to *rep. */
static int validate_here(const struct problem *const *list, size_t n, int shortcuts, struct validate_report *rep)
{
    char err[2048], rdir[4096];
    struct lab lab;
    if (lab_resolve(NULL, &lab, err, sizeof err) || results_dir(rdir, sizeof rdir, err, sizeof err) ||
        run_ensure_cluster(&lab, err, sizeof err) || lab_resolve(NULL, &lab, err, sizeof err)) {
        fprintf(stderr, "aiopslab validate: %s\n", err);
        return -1;
    }
    struct run_opts o = {.lab = &lab, .max_steps = 30, .seed = 1, .results_dir = rdir, .progress = progress,
                         .baseline_ms = 1000 /* the pre-fault window: long enough to see the app serve cleanly */};
    struct validate_report r;
    if (validate_problems(&o, list, n, shortcuts, &r, err, sizeof err))
        fprintf(stderr, "aiopslab validate: %s: %s\n", lab.name, err);
    /* A problem whose every failure is validate_worth_again is judged once
     * more; its verdicts are the second run's, its first failures kept apart. */
    const struct problem **again = xcalloc(n + 1, sizeof *again);
    size_t na = 0;
    for (size_t i = 0; i < n; i++) {
        int failed = 0, decided = 0;
        size_t k;
        json_t *f;
        json_array_foreach(r.failures, k, f)
        {
            if (strcmp(json_path_str(f, "problem", ""), list[i]->id)) continue;
            failed = 1;
            decided |= !validate_worth_again(f);
        }
        if (failed && !decided) again[na++] = list[i];
    }
    if (na) {
        if (!quiet)
            printf("aiopslab validate: %s: once more, %zu problems whose fault did not take or whose reference missed "
                   "only the service level\n",
                   lab.name, na);
        struct validate_report r2;
        if (validate_problems(&o, again, na, shortcuts, &r2, err, sizeof err))
            fprintf(stderr, "aiopslab validate: %s: %s\n", lab.name, err);
        json_t *kept = json_array();
        size_t k;
        json_t *f;
        json_array_foreach(r.failures, k, f)
        {
            int retried = 0;
            for (size_t i = 0; i < na; i++) retried |= !strcmp(json_path_str(f, "problem", ""), again[i]->id);
            json_array_append(retried ? r.retried : kept, f);
        }
        json_decref(r.failures);
        r.failures = kept;
        r2.problems = 0; /* counted in r already */
        merge(&r, &r2);
    }
    free(again);
    merge(rep, &r);
    return 0;
}

struct job {
    const struct problem **list;
    size_t n;
    pid_t pid;
    int fd;
    char lab[LAB_NAME_MAX + 1];
};

static int run_job(struct job *j, int shortcuts)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC)) return -1; /* the labs the job brings up must not keep it open */
    fflush(stdout);
    fflush(stderr);
    j->pid = fork();
    if (j->pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (j->pid == 0) {
        close(p[0]);
        setenv("AIOPSLAB_LAB", j->lab, 1);
        struct validate_report r = {.failures = json_array(), .retried = json_array()};
        int rc = validate_here(j->list, j->n, shortcuts, &r);
        if (rc) r.problems = j->n; /* its lab did not start: every problem of the job fails */
        json_t *out = json_pack("{s:I, s:I, s:I, s:O, s:O}", "problems", (json_int_t)r.problems, "passed",
                                (json_int_t)r.passed, "sessions", (json_int_t)r.sessions, "failures", r.failures,
                                "retried", r.retried);
        json_dumpfd(out, p[1], JSON_COMPACT);
        fflush(stdout);
        _exit(rc ? 1 : 0);
    }
    close(p[1]);
    j->fd = p[0];
    return 0;
}

/* A job's verdicts; a job that ended without them fails all its problems. */
static void collect(struct job *j, struct validate_report *rep)
{
    struct buf b;
    buf_init(&b, 64u << 20);
    char chunk[65536];
    ssize_t got;
    while ((got = read(j->fd, chunk, sizeof chunk)) > 0 || (got < 0 && errno == EINTR))
        if (got > 0) buf_append(&b, chunk, (size_t)got);
    close(j->fd);
    int status = 0;
    while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR) {}
    json_t *r = b.len ? json_loadb(b.data, b.len, 0, NULL) : NULL;
    buf_free(&b);
    if (!r) {
        fprintf(stderr, "aiopslab validate: lab %s ended without its verdicts (status %d)\n", j->lab, status);
        rep->problems += j->n;
        return;
    }
    struct validate_report one = {(size_t)json_path_int(r, "problems", 0), (size_t)json_path_int(r, "passed", 0),
                                  (size_t)json_path_int(r, "sessions", 0),
                                  json_incref(json_object_get(r, "failures")),
                                  json_incref(json_object_get(r, "retried"))};
    if (!one.failures) one.failures = json_array();
    merge(rep, &one);
    json_decref(r);
}

/* jobs labs at once: this one and LAB-v2 ... (brought up for the run and
 * purged after it). 0, or -1 when no lab could run. */
static int validate_jobs(const struct problem *const *list, size_t n, int shortcuts, int jobs,
                         struct validate_report *rep)
{
    if (jobs <= 1) return validate_here(list, n, shortcuts, rep);
    const char *base = getenv("AIOPSLAB_LAB");
    if (!base || !*base) base = "default";
    struct job job[VALIDATE_JOBS_MAX] = {{0}};
    for (int k = 0; k < jobs; k++) {
        job[k].list = calloc(n + 1, sizeof *job[k].list);
        if (k == 0) snprintf(job[k].lab, sizeof job[k].lab, "%s", base);
        else snprintf(job[k].lab, sizeof job[k].lab, "%.*s-v%d", LAB_NAME_MAX - 3, base, k + 1);
    }
    int *to = calloc(n + 1, sizeof *to);
    validate_split(list, n, shortcuts, jobs, to);
    for (size_t i = 0; i < n; i++) job[to[i]].list[job[to[i]].n++] = list[i];
    free(to);
    int started = 0;
    for (int k = 0; k < jobs; k++) {
        if (!job[k].n) continue;
        if (run_job(&job[k], shortcuts)) {
            fprintf(stderr, "aiopslab validate: cannot start the job of lab %s: %s\n", job[k].lab, strerror(errno));
            rep->problems += job[k].n;
            job[k].n = 0;
        } else started++;
    }
    for (int k = 0; k < jobs; k++)
        if (job[k].n) collect(&job[k], rep);
    for (int k = 1; k < jobs; k++) {
        struct lab lab;
        char err[2048];
        if (job[k].n && (lab_resolve(job[k].lab, &lab, err, sizeof err) || run_purge_cluster(&lab, err, sizeof err)))
            fprintf(stderr, "aiopslab validate: %s\n", err);
    }
    for (int k = 0; k < jobs; k++) free(job[k].list);
    return started ? 0 : -1;
}

int cli_validate(int argc, char **argv)
{
    const char *ids[256], *family = NULL, *task = NULL, *app = NULL;
    size_t nids = 0;
    int sample = 0, shortcuts = 1;
    long jobs = 1;
    quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout);
        if (!strcmp(a, "--sample")) sample = 1;
        else if (!strcmp(a, "--no-shortcuts")) shortcuts = 0;
        else if (!strcmp(a, "--quiet")) quiet = 1;
        else if (v && !strcmp(a, "--problem") && nids < 256) ids[nids++] = argv[++i];
        else if (v && !strcmp(a, "--family")) family = argv[++i];
        else if (v && !strcmp(a, "--task")) task = argv[++i];
        else if (v && !strcmp(a, "--app")) app = argv[++i];
        else if (v && !strcmp(a, "--jobs")) {
            if (parse_long(argv[++i], 1, VALIDATE_JOBS_MAX, &jobs)) {
                fprintf(stderr, "aiopslab validate: --jobs wants a number from 1 to 8\n");
                return 2;
            }
        } else {
            fprintf(stderr, "aiopslab validate: unexpected argument \"%s\"\n", a);
            return usage(stderr);
        }
    }
    enum task t = TASK_DETECTION;
    if (task && task_parse(task, &t)) {
        fprintf(stderr, "aiopslab validate: unknown task \"%s\"\n", task);
        return 2;
    }
    char dir[4096], err[2048];
    struct problem_set set;
    if (problems_dir(dir, sizeof dir) || problems_load(dir, &set, err, sizeof err)) {
        fprintf(stderr, "aiopslab validate: %s\n", err);
        return 1;
    }
    const struct problem **all = calloc(set.n + 1, sizeof *all), **list = calloc(set.n + 1, sizeof *list);
    size_t nall = 0, n = 0;
    if (sample) validate_sample(&set, all, &nall);
    else
        for (size_t i = 0; i < set.n; i++) all[nall++] = &set.items[i];
    for (size_t i = 0; i < nall; i++) {
        const struct problem *p = all[i];
        int pick = !nids;
        for (size_t k = 0; k < nids; k++) pick |= !strcmp(ids[k], p->id);
        if (family && strcmp(family, p->family)) pick = 0;
        if (task && p->task != t) pick = 0;
        if (app && strcmp(app, p->app->name)) pick = 0;
        if (pick) list[n++] = p;
    }
    int rc = 1;
    struct validate_report rep = {.failures = json_array(), .retried = json_array()};
    if (!n) {
        fprintf(stderr, "aiopslab validate: no problem matches\n");
        goto out;
    }
    if (!quiet) printf("aiopslab validate: %zu problems%s\n", n, shortcuts ? "" : " (no shortcuts)");
    if (validate_jobs(list, n, shortcuts, (int)jobs, &rep)) goto out;
    size_t i;
    json_t *f;
    json_array_foreach(rep.failures, i, f)
    {
        char *s = json_dumps(f, JSON_COMPACT);
        printf("FAIL %s %s: expected %s, got %s (%s) %s\n", json_path_str(f, "problem", ""), json_path_str(f, "mode", ""),
               json_is_true(json_object_get(f, "expected")) ? "success" : "failure",
               json_is_true(json_object_get(f, "got")) ? "success" : "failure", json_path_str(f, "status", ""), s);
        free(s);
    }
    json_array_foreach(rep.retried, i, f)
    {
        char *s = json_dumps(json_object_get(f, "checks"), JSON_COMPACT);
        printf("AGAIN %s %s: judged once more after: %s %s\n", json_path_str(f, "problem", ""),
               json_path_str(f, "mode", ""), json_path_str(f, "status", ""), s ? s : "");
        free(s);
    }
    printf("%zu problems validated (%zu sessions): %zu passed, %zu failed", rep.problems, rep.sessions, rep.passed,
           rep.problems - rep.passed);
    json_t *again = json_object(); /* problem -> true */
    json_array_foreach(rep.retried, i, f) json_object_set_new(again, json_path_str(f, "problem", ""), json_true());
    if (json_object_size(again)) printf(" (%zu judged once more: AGAIN lines)", json_object_size(again));
    json_decref(again);
    printf("\n");
    rc = rep.passed == rep.problems ? 0 : 1;
out:
    json_decref(rep.failures);
    json_decref(rep.retried);
    free(all);
    free(list);
    problems_free(&set);
    return rc;
}
