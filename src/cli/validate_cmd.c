/* validate_cmd: `aiopslab validate` — prove problems on the live lab: the
 * reference solution passes, doing nothing fails, the mitigation
 * shortcuts fail (see orchestrator/validate.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/json.h"
#include "orchestrator/results.h"
#include "orchestrator/validate.h"

static int usage(FILE *f)
{
    fprintf(f, "Usage: aiopslab validate [--problem ID]... [--family F] [--task T] [--app A] [--sample]\n"
               "                         [--no-shortcuts] [--quiet]\n"
               "Every problem by default; --sample: the first variant of each family and task.\n"
               "The lab's cluster is brought up when it is not running.\n"
               "Sessions are recorded like any run's (agent validate:MODE).\n");
    return f == stdout ? 0 : 2;
}

static int quiet;

static void progress(void *arg, size_t index, size_t total, const struct problem *p, const char *event,
                     const char *detail)
{
    (void)arg;
    if (quiet) return;
    if (!strcmp(event, "done")) printf("[%zu/%zu] %-56s %s\n", index + 1, total, p->id, detail);
    else if (!strcmp(event, "deploy") || !strcmp(event, "redeploy")) printf("%s %s ...\n", event, detail);
    fflush(stdout);
}

int cli_validate(int argc, char **argv)
{
    const char *ids[256], *family = NULL, *task = NULL, *app = NULL;
    size_t nids = 0;
    int sample = 0, shortcuts = 1;
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
        else {
            fprintf(stderr, "aiopslab validate: unexpected argument \"%s\"\n", a);
            return usage(stderr);
        }
    }
    enum task t = TASK_DETECTION;
    if (task && task_parse(task, &t)) {
        fprintf(stderr, "aiopslab validate: unknown task \"%s\"\n", task);
        return 2;
    }
    char dir[4096], err[2048], rdir[4096];
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
    struct lab lab;
    struct validate_report rep = {0};
    if (!n) {
        fprintf(stderr, "aiopslab validate: no problem matches\n");
        goto out;
    }
    if (lab_resolve(NULL, &lab, err, sizeof err) || results_dir(rdir, sizeof rdir, err, sizeof err) ||
        run_ensure_cluster(&lab, err, sizeof err) || lab_resolve(NULL, &lab, err, sizeof err)) {
        fprintf(stderr, "aiopslab validate: %s\n", err);
        goto out;
    }
    struct run_opts o = {.lab = &lab, .max_steps = 30, .seed = 1, .results_dir = rdir, .progress = progress,
                         .baseline_ms = 1000 /* the pre-fault window: long enough to see the app serve cleanly */};
    if (!quiet) printf("aiopslab validate: %zu problems%s\n", n, shortcuts ? "" : " (no shortcuts)");
    if (validate_problems(&o, list, n, shortcuts, &rep, err, sizeof err)) {
        fprintf(stderr, "aiopslab validate: %s\n", err);
    }
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
    printf("%zu problems validated (%zu sessions): %zu passed, %zu failed\n", rep.problems, rep.sessions, rep.passed,
           rep.problems - rep.passed);
    rc = rep.passed == rep.problems ? 0 : 1;
out:
    json_decref(rep.failures);
    free(all);
    free(list);
    problems_free(&set);
    return rc;
}
