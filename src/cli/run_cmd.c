/* run_cmd: `aiopslab run` — the main job. Brings the lab up if needed,
 * poses problems to an agent on the live apps, records every session and
 * prints a table per task: problems, success, mean time to
 * detect/localize/analyse/mitigate, mean steps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/json.h"
#include "core/util.h"
#include "orchestrator/results.h"
#include "orchestrator/run.h"
#include "orchestrator/session.h"

static int usage(FILE *f)
{
    fprintf(f, "Usage: aiopslab run [--problem ID]... [--task TASK] [--app APP] [--all] [--agent NAME]\n"
               "                    [--agent-cmd CMD] [--agent-timeout S] [--seed N] [--max-steps N] [--quiet]\n"
               "\n"
               "Without a selection, a representative set: every task, several fault layers, fault-free\n"
               "controls, on SocialNetwork, with the baseline agent. The lab's cluster starts when it is\n"
               "not running and the apps are deployed once. Every session is recorded in the results\n"
               "folder ($AIOPSLAB_HOME/results; aiopslab results prints tables).\n"
               "\n"
               "  --problem ID    pose this problem (repeatable; aiopslab problems lists them)\n"
               "  --task TASK     detection, localization, analysis or mitigation\n"
               "  --app APP       social-network or hotel-reservation\n"
               "  --all           every problem (of --task/--app when given)\n"
               "  --agent NAME    baseline (default) or replay:FILE (a recorded session's JSON)\n"
               "  --agent-cmd CMD an external agent: a program speaking JSON lines (docs/agent-protocol.md)\n"
               "  --agent-timeout S  how long an external agent may take for one reply (default 120)\n"
               "  --seed N        the workload's seed (default 1)\n"
               "  --max-steps N   the agent's step limit (default 30)\n");
    return f == stdout ? 0 : 2;
}

static int quiet;

static void progress(void *arg, size_t index, size_t total, const struct problem *p, const char *event,
                     const char *detail)
{
    (void)arg;
    if (quiet) return;
    if (!strcmp(event, "deploy")) printf("deploying %s ...\n", detail);
    else if (!strcmp(event, "done")) printf("[%zu/%zu] %-56s %s\n", index + 1, total, p->id, detail);
    fflush(stdout);
}

static void summary(const json_t *records)
{
    static const char *const tasks[] = {"detection", "localization", "analysis", "mitigation"};
    static const char *const tkeys[] = {"TTD", "TTL", "TTA", "TTM"};
    printf("\n%-13s %8s %8s %9s %10s %7s %6s\n", "TASK", "PROBLEMS", "SUCCESS", "ACCURACY", "MEAN TT*", "STEPS",
           "VOID");
    for (int t = 0; t < 4; t++) {
        size_t n = 0, ok = 0, nt = 0, voids = 0;
        double tt = 0, steps = 0;
        size_t i;
        json_t *rec;
        json_array_foreach((json_t *)records, i, rec)
        {
            if (strcmp(json_path_str(rec, "task", ""), tasks[t])) continue;
            if (!strcmp(json_path_str(rec, "status", ""), "void")) {
                voids++;
                continue;
            }
            n++;
            ok += (size_t)session_success(rec);
            const json_t *r = json_object_get(rec, "results");
            json_t *v = json_object_get(r, tkeys[t]);
            if (json_is_number(v)) {
                tt += json_number_value(v);
                nt++;
            }
            steps += (double)json_integer_value(json_object_get(r, "steps"));
        }
        if (!n && !voids) continue;
        char mean[32] = "-";
        if (nt) snprintf(mean, sizeof mean, "%.1f s", tt / (double)nt);
        printf("%-13s %8zu %8zu %8.0f%% %10s %7.1f %6zu\n", tasks[t], n, ok, n ? 100.0 * (double)ok / (double)n : 0,
               mean, n ? steps / (double)n : 0, voids);
    }
}

int cli_run(int argc, char **argv)
{
    const char *ids[256], *task = NULL, *app = NULL, *agent = "baseline", *agent_cmd = NULL;
    size_t nids = 0;
    int all = 0;
    long seed = 1, max_steps = 30, agent_timeout = 120;
    quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout);
        if (!strcmp(a, "--all")) all = 1;
        else if (!strcmp(a, "--quiet")) quiet = 1;
        else if (!v) {
            fprintf(stderr, "aiopslab run: unknown or incomplete option \"%s\"\n", a);
            return usage(stderr);
        } else if (!strcmp(a, "--problem") && nids < 256) ids[nids++] = argv[++i];
        else if (!strcmp(a, "--task")) task = argv[++i];
        else if (!strcmp(a, "--app")) app = argv[++i];
        else if (!strcmp(a, "--agent")) agent = argv[++i];
        else if (!strcmp(a, "--agent-cmd")) agent_cmd = argv[++i];
        else if (!strcmp(a, "--seed") && !parse_long(v, 0, 1L << 40, &seed)) i++;
        else if (!strcmp(a, "--max-steps") && !parse_long(v, 1, 1000, &max_steps)) i++;
        else if (!strcmp(a, "--agent-timeout") && !parse_long(v, 1, 3600, &agent_timeout)) i++;
        else {
            fprintf(stderr, "aiopslab run: bad option \"%s %s\"\n", a, v);
            return usage(stderr);
        }
    }
    enum task t = TASK_DETECTION;
    if (task && task_parse(task, &t)) {
        fprintf(stderr, "aiopslab run: unknown task \"%s\" (detection, localization, analysis, mitigation)\n", task);
        return 2;
    }
    if (app && !app_find(app)) {
        fprintf(stderr, "aiopslab run: unknown app \"%s\" (social-network, hotel-reservation)\n", app);
        return 2;
    }
    char dir[4096], err[2048], rdir[4096];
    struct problem_set set;
    if (problems_dir(dir, sizeof dir) || problems_load(dir, &set, err, sizeof err)) {
        fprintf(stderr, "aiopslab run: %s\n", err);
        return 1;
    }
    const struct problem **list = calloc(set.n + nids + 1, sizeof *list); /* a --problem may repeat */
    size_t n = 0;
    for (size_t i = 0; i < nids; i++) {
        const struct problem *p = problem_find(&set, ids[i]);
        if (!p) {
            fprintf(stderr, "aiopslab run: no problem \"%s\" (aiopslab problems lists them)\n", ids[i]);
            free(list);
            problems_free(&set);
            return 2;
        }
        list[n++] = p;
    }
    if (!nids) {
        if (all || task || app) {
            for (size_t i = 0; i < set.n; i++) {
                const struct problem *p = &set.items[i];
                if (task && p->task != t) continue;
                if (app && strcmp(p->app->name, app)) continue;
                if (!all && p->variant != 1) continue;
                list[n++] = p;
            }
        } else {
            run_select_default(dir, &set, list, &n, set.n);
        }
    }
    struct lab lab;
    int rc = 1;
    json_t *records = NULL;
    if (lab_resolve(NULL, &lab, err, sizeof err)) {
        fprintf(stderr, "aiopslab: %s\n", err);
        goto out;
    }
    if (results_dir(rdir, sizeof rdir, err, sizeof err)) {
        fprintf(stderr, "aiopslab run: %s\n", err);
        goto out;
    }
    if (!quiet) printf("aiopslab run: %zu problems, agent %s, lab %s\n", n, agent_cmd ? agent_cmd : agent, lab.name);
    if (run_ensure_cluster(&lab, err, sizeof err) || lab_resolve(NULL, &lab, err, sizeof err)) {
        fprintf(stderr, "aiopslab run: %s\n", err);
        goto out;
    }
    struct run_opts o = {.lab = &lab,
                         .agent = agent,
                         .agent_cmd = agent_cmd,
                         .agent_timeout_ms = (unsigned)agent_timeout * 1000,
                         .confine_agents = 1,
                         .max_steps = (unsigned)max_steps,
                         .seed = (uint64_t)seed,
                         .results_dir = rdir,
                         .progress = progress};
    if (run_problems(&o, list, n, &records, err, sizeof err)) {
        fprintf(stderr, "aiopslab run: %s\n", err);
        if (records) summary(records);
        goto out;
    }
    summary(records);
    printf("\nsessions recorded in %s\n", rdir);
    rc = 0;
out:
    json_decref(records);
    free(list);
    problems_free(&set);
    return rc;
}
