/* run: see run.h. */
#include "orchestrator/run.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agents/agent.h"
#include "core/json.h"
#include "core/util.h"
#include "orchestrator/results.h"
#include "orchestrator/runcmd.h"
#include "orchestrator/scene.h"
#include "orchestrator/session.h"
#include "orchestrator/shell.h"

#define WARMUP_MS 20000 /* more than the 30 s rate windows need to hold only post-deploy samples, with startup noise aged out of the agent's first queries */

void run_select_default(const char *dir, const struct problem_set *all, const struct problem **out, size_t *n,
                        size_t max)
{
    *n = 0;
    char path[PATH_MAX + 32], line[256];
    snprintf(path, sizeof path, "%s/default-run.txt", dir);
    FILE *f = fopen(path, "r");
    if (f) {
        while (fgets(line, sizeof line, f) && *n < max) {
            line[strcspn(line, " \t\r\n#")] = '\0';
            const struct problem *p = line[0] ? problem_find(all, line) : NULL;
            if (p) out[(*n)++] = p;
        }
        fclose(f);
        if (*n) return;
    }
    int seen[TASKS][FAULT_LAYERS + 1] = {{0}};
    for (size_t i = 0; i < all->n && *n < max; i++) {
        const struct problem *p = &all->items[i];
        if (p->variant != 1 || strcmp(p->app->name, "social-network")) continue;
        int layer = p->fault ? (int)p->fault->layer : FAULT_LAYERS;
        if (seen[p->task][layer]) continue;
        seen[p->task][layer] = 1;
        out[(*n)++] = p;
    }
}

static const char *exe_path(char *out, size_t n)
{
    if (self_exe(out, n)) out[0] = '\0';
    return out;
}

static const char *exe_dir(char *out, size_t n)
{
    exe_path(out, n);
    char *slash = strrchr(out, '/');
    if (slash) *slash = '\0';
    return out;
}

/* `aiopslab deploy APP` (it applies the manifests and waits for readiness;
 * an app already healthy comes back unchanged within a second), or
 * `aiopslab undeploy APP`. */
static int deploy_verb(const struct run_opts *o, const char *verb, const char *app, char *err, size_t errlen)
{
    char exe[PATH_MAX];
    char *argv[] = {(char *)exe_path(exe, sizeof exe), "--lab", (char *)o->lab->name, (char *)verb, (char *)app, NULL};
    struct buf out;
    buf_init(&out, 64 * 1024);
    struct runcmd_result r;
    int rc = runcmd(argv, NULL, NULL, 300000, 8192, NULL, NULL, &out, &r);
    if (rc || r.status) {
        size_t keep = out.len < 2000 ? out.len : 2000; /* the reason is at the end */
        snprintf(err, errlen, "%s %s failed: %.*s", verb, app, (int)keep, out.data ? out.data + out.len - keep : "");
        buf_free(&out);
        return -1;
    }
    buf_free(&out);
    return 0;
}

static int deploy(const struct run_opts *o, const char *app, char *err, size_t errlen)
{
    return deploy_verb(o, "deploy", app, err, errlen);
}

/* `aiopslab --lab NAME cluster VERB [ARG]`: 0, or -1 with its output in err. */
static int cluster_cmd(const struct lab *lab, const char *verb, const char *arg, char *err, size_t errlen)
{
    char exe[PATH_MAX];
    char *argv[] = {(char *)exe_path(exe, sizeof exe), "--lab", (char *)lab->name, "cluster", (char *)verb, (char *)arg,
                    NULL};
    struct buf out;
    buf_init(&out, 64 * 1024);
    struct runcmd_result r;
    int rc = runcmd(argv, NULL, NULL, 120000, 8192, NULL, NULL, &out, &r);
    if (rc || r.status)
        snprintf(err, errlen, "cluster %s failed: %.*s", verb, (int)(out.len < 2000 ? out.len : 2000),
                 out.data ? out.data : "");
    buf_free(&out);
    return rc || r.status ? -1 : 0;
}

int run_ensure_cluster(const struct lab *lab, char *err, size_t errlen) { return cluster_cmd(lab, "up", NULL, err, errlen); }

int run_purge_cluster(const struct lab *lab, char *err, size_t errlen)
{
    return cluster_cmd(lab, "down", "--purge", err, errlen);
}

struct relay {
    const struct run_opts *o;
    size_t index, total;
    const struct problem *p;
};

static void relay_progress(void *arg, const char *event, const char *detail)
{
    struct relay *r = arg;
    if (r->o->progress) r->o->progress(r->o->progress_arg, r->index, r->total, r->p, event, detail);
}

int run_problems(const struct run_opts *o, const struct problem *const *list, size_t n, json_t **records, char *err,
                 size_t errlen)
{
    *records = json_array();
    /* The agent's shell sees neither the problems (the active folder and the
     * source tree's), nor the source tree's history, nor the results. */
    char bindir[PATH_MAX], pdir[PATH_MAX], tree[PATH_MAX], tree_problems[PATH_MAX + 16], gitdir[PATH_MAX + 8];
    exe_dir(bindir, sizeof bindir);
    problems_dir(pdir, sizeof pdir);
    snprintf(tree, sizeof tree, "%s", bindir); /* BUILD/.. is the source tree */
    char *slash = strrchr(tree, '/');
    if (slash) *slash = '\0';
    snprintf(tree_problems, sizeof tree_problems, "%s/problems", tree);
    snprintf(gitdir, sizeof gitdir, "%s/.git", tree);
    struct session_opts so = {.lab = o->lab,
                              .max_steps = o->max_steps ? o->max_steps : 30,
                              .wall_s = o->wall_s ? o->wall_s : 600,
                              .baseline_ms = o->baseline_ms ? o->baseline_ms : 2000,
                              .verify_ms = 8000,
                              .bindir = bindir,
                              .hide = {pdir, tree_problems, gitdir, o->results_dir},
                              .nhide = o->results_dir ? 4 : 3,
                              .progress = relay_progress};
    /* An external agent's own process is confined like its shell: it could
     * otherwise read the journal or the problems itself. */
    static struct shell_confine conf; /* large: not on the stack */
    struct shell_env agent_env = {.lab = o->lab, .hide = {pdir, tree_problems, gitdir, o->results_dir},
                                  .nhide = o->results_dir ? 4 : 3};
    shell_confine_init(&conf, &agent_env);
    struct agent_confine confine = {o->confine_agents ? shell_confine_enter : NULL, &conf};
    struct scene scene = {.lab = o->lab, .seed = o->seed};
    const struct app_info *deployed[4] = {0};
    size_t ndeployed = 0;
    int rc = 0, redeployed = 0;
    for (size_t i = 0, m = 1; i < n && !rc; i += m) {
        const struct problem *p = list[i];
        m = 1;
        while (o->share && m < SESSION_GROUP_MAX && i + m < n && o->share(o->share_arg, i, i + m)) m++;
        struct relay rl = {o, i, n, p};
        so.progress_arg = &rl;
        int have = 0;
        for (size_t k = 0; k < ndeployed; k++) have |= deployed[k] == p->app;
        if (!have) {
            relay_progress(&rl, "deploy", p->app->name);
            if (deploy(o, p->app->name, err, errlen)) {
                rc = -1;
                break;
            }
            if (ndeployed < 4) deployed[ndeployed++] = p->app;
        }
        const struct app_info *was = scene.app;
        if (scene_load(&scene, p->app, p->rate, err, errlen)) {
            rc = -1;
            break;
        }
        if (was != p->app && !redeployed) { /* a new app's telemetry: let its rates fill with real traffic first */
            relay_progress(&rl, "warmup", p->app->name);
            struct slo_window w;
            scene_measure(&scene, WARMUP_MS, &w);
        }
        redeployed = 0;
        struct agent ags[SESSION_GROUP_MAX], *agp[SESSION_GROUP_MAX];
        json_t *recs[SESSION_GROUP_MAX] = {0};
        size_t opened = 0;
        for (; opened < m; opened++) {
            agp[opened] = &ags[opened];
            if (o->make_agent ? o->make_agent(o->make_agent_arg, i + opened, list[i + opened], &ags[opened], err, errlen)
                              : agent_open(o->agent, o->agent_cmd, o->agent_timeout_ms, &confine, &ags[opened], err,
                                           errlen)) {
                rc = -1;
                break;
            }
        }
        if (!rc) rc = session_run_group(&so, &scene, list + i, agp, m, recs, err, errlen);
        for (size_t k = 0; k < opened; k++) agent_close(&ags[k]);
        int again = 0;
        for (size_t k = 0; k < m; k++) {
            json_t *rec = recs[k];
            if (!rec) continue;
            char serr[512];
            if (o->results_dir && results_save(o->results_dir, rec, serr, sizeof serr))
                json_object_set_new(rec, "save_error", json_string(serr));
            json_array_append_new(*records, rec);
            int a = !rc && o->after ? o->after(o->after_arg, i + k, list[i + k], rec, err, errlen) : 0;
            if (a < 0) rc = -1;
            if (a > again) again = a;
            rl.index = i + k;
            rl.p = list[i + k];
            relay_progress(&rl, "done", json_path_str(rec, "status", ""));
        }
        if (again && !rc) { /* the manifests again: what a shortcut deleted or scaled down comes back,
                             * stores whose pods were deleted start from their seed; or the app afresh */
            relay_progress(&rl, "redeploy", p->app->name);
            if ((again > 1 && deploy_verb(o, "undeploy", p->app->name, err, errlen)) || deploy(o, p->app->name, err, errlen))
                rc = -1;
            redeployed = 1; /* the next session's pre-fault window waits for a clean service */
        }
    }
    scene_stop(&scene);
    return rc;
}
