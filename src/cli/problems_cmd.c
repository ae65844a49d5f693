/* problems_cmd: `aiopslab problems [--task T] [--app A] [--layer L]` and
 * `aiopslab problems show ID` — the benchmark's problems, never their
 * answers (no fault type, target or solution is printed). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "orchestrator/problem.h"
#include "orchestrator/prompt.h"

static int usage(FILE *f)
{
    fprintf(f, "Usage:\n"
               "  aiopslab problems [--task TASK] [--app APP] [--layer LAYER] [--count]\n"
               "  aiopslab problems show ID\n"
               "\n"
               "Tasks: detection, localization, analysis, mitigation. Apps: social-network, hotel-reservation.\n"
               "Layers: hardware, os, network, virtualization, middleware, application, workload, none (controls).\n"
               "Problems are read from $AIOPSLAB_PROBLEMS or the problems/ folder of the source tree.\n");
    return f == stdout ? 0 : 2;
}

int cli_problems(int argc, char **argv)
{
    const char *task = NULL, *app = NULL, *layer = NULL, *show = NULL;
    int count = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(stdout);
        if (!strcmp(a, "--task") && v) task = argv[++i];
        else if (!strcmp(a, "--app") && v) app = argv[++i];
        else if (!strcmp(a, "--layer") && v) layer = argv[++i];
        else if (!strcmp(a, "--count")) count = 1;
        else if (!strcmp(a, "show") && v && i == 1) show = argv[++i];
        else {
            fprintf(stderr, "aiopslab: problems: unexpected argument \"%s\"\n", a);
            return usage(stderr);
        }
    }
    enum task t = TASK_DETECTION;
    enum fault_layer l = FAULT_HARDWARE;
    int nolayer = layer && !strcmp(layer, "none");
    if (task && task_parse(task, &t)) {
        fprintf(stderr, "aiopslab: problems: unknown task \"%s\"\n", task);
        return 2;
    }
    if (app && !app_find(app)) {
        fprintf(stderr, "aiopslab: problems: unknown app \"%s\"\n", app);
        return 2;
    }
    if (layer && !nolayer && fault_layer_parse(layer, &l)) {
        fprintf(stderr, "aiopslab: problems: unknown layer \"%s\"\n", layer);
        return 2;
    }
    char dir[4096], err[1024];
    struct problem_set set;
    if (problems_dir(dir, sizeof dir) || problems_load(dir, &set, err, sizeof err)) {
        fprintf(stderr, "aiopslab: problems: %s\n", err);
        return 1;
    }
    int rc = 0;
    if (show) {
        const struct problem *p = problem_find(&set, show);
        if (!p) {
            fprintf(stderr, "aiopslab: problems: no problem \"%s\" (aiopslab problems lists them)\n", show);
            rc = 1;
        } else {
            printf("Problem:   %s\nTask:      %s\nApp:       %s (namespace %s)\nWorkload:  %.0f requests/s\n\n", p->id,
                   task_name(p->task), p->app->name, p->app->namespace, p->rate);
            char *text = prompt_task(p);
            fputs(text, stdout);
            free(text);
        }
        problems_free(&set);
        return rc;
    }
    size_t shown = 0;
    if (!count) printf("%-52s %-13s %s\n", "ID", "TASK", "APP");
    for (size_t i = 0; i < set.n; i++) {
        const struct problem *p = &set.items[i];
        if (task && p->task != t) continue;
        if (app && strcmp(p->app->name, app)) continue;
        if (layer && (nolayer ? p->fault != NULL : !p->fault || p->fault->layer != l)) continue;
        shown++;
        if (!count) printf("%-52s %-13s %s\n", p->id, task_name(p->task), p->app->name);
    }
    if (count) printf("%zu\n", shown);
    problems_free(&set);
    return 0;
}
