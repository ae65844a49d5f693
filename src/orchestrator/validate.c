/* validate: see validate.h. */
#include "orchestrator/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "orchestrator/session.h"

const char *validate_mode_name(enum validate_mode m)
{
    static const char *const names[V_MODES] = {"reference",    "nothing",     "scale-to-zero",
                                               "delete-target", "delete-pods", "restart-all"};
    return m < V_MODES ? names[m] : "?";
}

struct plan {
    const struct problem *p;
    enum validate_mode mode;
    size_t group; /* entries of one group share one injection */
};

struct vstate {
    struct plan *plan;
    struct validate_report *rep;
    int *ok;     /* per problem of the list: still passing */
    int *left;   /* per problem of the list: sessions not run yet (a stopped run fails them) */
    const struct problem *const *list;
    size_t n;
};

static json_t *script_for(const struct problem *p, enum validate_mode m)
{
    static const char *const nothing[TASKS] = {"submit(\"No\")", "submit([])", "submit({})", "submit()"};
    char cmd[512];
    const char *ns = p->app->namespace;
    switch (m) {
    case V_REFERENCE: {
        json_t *out = json_array();
        size_t i;
        json_t *a;
        json_array_foreach(p->solution, i, a)
        {
            char *s = problem_expand(p, json_string_value(a));
            json_array_append_new(out, json_string(s));
            free(s);
        }
        return out;
    }
    case V_NOTHING: return json_pack("[s]", nothing[p->task]);
    case V_SCALE_ZERO:
        snprintf(cmd, sizeof cmd, "exec_shell(\"kubectl scale deployment %s -n %s --replicas=0\")", p->target, ns);
        break;
    case V_DELETE: snprintf(cmd, sizeof cmd, "exec_shell(\"kubectl delete deployment %s -n %s\")", p->target, ns); break;
    case V_DELETE_PODS: snprintf(cmd, sizeof cmd, "exec_shell(\"kubectl delete pods --all -n %s\")", ns); break;
    case V_RESTART_ALL:
        snprintf(cmd, sizeof cmd,
                 "exec_shell(\"for d in $(kubectl get deployments -n %s -o name); do kubectl rollout restart $d -n %s; "
                 "done\")",
                 ns, ns);
        break;
    default: return json_array();
    }
    return json_pack("[s, s]", cmd, "submit()");
}

static int make_agent(void *arg, size_t i, const struct problem *p, struct agent *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    struct vstate *v = arg;
    json_t *script = script_for(p, v->plan[i].mode);
    char name[64];
    snprintf(name, sizeof name, "validate:%s", validate_mode_name(v->plan[i].mode));
    agent_script_open(out, name, script);
    json_decref(script);
    return 0;
}

static int target_is_store(const struct problem *p)
{
    if (!p->fault) return 0;
    enum fault_target t = p->fault->target;
    return t == FT_POSTGRES || t == FT_REDIS || t == FT_MEMCACHED || t == FT_STORE;
}

static int after(void *arg, size_t i, const struct problem *p, json_t *rec, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    struct vstate *v = arg;
    enum validate_mode m = v->plan[i].mode;
    int want = m == V_REFERENCE || (m == V_NOTHING && !p->fault); /* "No" is a control's right answer */
    int got = session_success(rec);
    const char *status = json_path_str(rec, "status", "");
    v->rep->sessions++;
    for (size_t k = 0; k < v->n; k++)
        if (v->list[k] == p) v->left[k]--;
    int pass = got == want && strcmp(status, "void");
    if (!pass) {
        for (size_t k = 0; k < v->n; k++)
            if (v->list[k] == p) v->ok[k] = 0;
        json_t *why = json_object_get(json_object_get(rec, "results"), "checks");
        json_array_append_new(v->rep->failures,
                              json_pack("{s:s, s:s, s:b, s:b, s:s, s:O?, s:O?}", "problem", p->id, "mode",
                                        validate_mode_name(m), "expected", want, "got", got, "status", status,
                                        "checks", why, "void_reason", json_object_get(rec, "void_reason")));
    }
    /* The shortcuts broke the app on purpose: its manifests again. A store
     * replaced comes back empty, and where services seed their stores only
     * when they start (a restarted one may even seed the old store just
     * before it goes), after a shortcut that replaced stores: the app
     * afresh. */
    if (p->app->services_seed &&
        (m == V_DELETE_PODS || m == V_RESTART_ALL || ((m == V_SCALE_ZERO || m == V_DELETE) && target_is_store(p))))
        return 2;
    return m >= V_SCALE_ZERO ? 1 : 0;
}

int validate_worth_again(const json_t *f)
{
    if (!strcmp(json_path_str(f, "status", ""), "void")) return 1;
    const json_t *c = json_object_get(f, "checks");
    return !strcmp(json_path_str(f, "mode", ""), "reference") && json_is_true(json_object_get(c, "root_cause_gone")) &&
           json_is_true(json_object_get(c, "nothing_broken")) && json_is_false(json_object_get(c, "slo_met"));
}

static int share(void *arg, size_t i, size_t j)
{
    struct vstate *v = arg;
    return v->plan[i].group == v->plan[j].group;
}

/* The plan: answers of detection, localization and analysis are judged
 * against one injection per fault variant (they only read the system), up
 * to SESSION_GROUP_MAX per group; each mitigation session has its own. */
static size_t make_plan(const struct problem *const *list, size_t n, int shortcuts, struct plan *plan)
{
    size_t np = 0, group = 0;
    char *placed = xcalloc(n + 1, 1);
    for (size_t i = 0; i < n; i++) {
        if (placed[i]) continue;
        const struct problem *p = list[i];
        if (p->task == TASK_MITIGATION) {
            placed[i] = 1;
            plan[np++] = (struct plan){p, V_REFERENCE, group++};
            plan[np++] = (struct plan){p, V_NOTHING, group++};
            if (shortcuts)
                for (int m = V_SCALE_ZERO; m < V_MODES; m++) plan[np++] = (struct plan){p, (enum validate_mode)m, group++};
            continue;
        }
        size_t in_group = 0;
        for (size_t k = i; k < n; k++) {
            const struct problem *q = list[k];
            size_t need = q->fault ? 2 : 1;
            if (placed[k] || q->task == TASK_MITIGATION || !session_same_injection(p, q)) continue;
            if (in_group + need > SESSION_GROUP_MAX) break;
            placed[k] = 1;
            plan[np++] = (struct plan){q, V_REFERENCE, group};
            if (q->fault) plan[np++] = (struct plan){q, V_NOTHING, group};
            in_group += need;
        }
        group++;
    }
    free(placed);
    return np;
}

int validate_problems(struct run_opts *o, const struct problem *const *list, size_t n, int shortcuts,
                      struct validate_report *rep, char *err, size_t errlen)
{
    memset(rep, 0, sizeof *rep);
    rep->failures = json_array();
    rep->retried = json_array();
    rep->problems = n;
    struct plan *plan = xcalloc(n * V_MODES + 1, sizeof *plan);
    const struct problem **seq = xcalloc(n * V_MODES + 1, sizeof *seq);
    size_t np = make_plan(list, n, shortcuts, plan);
    for (size_t i = 0; i < np; i++) seq[i] = plan[i].p;
    int *ok = xcalloc(n + 1, sizeof *ok), *left = xcalloc(n + 1, sizeof *left);
    for (size_t i = 0; i < n; i++) ok[i] = 1;
    for (size_t i = 0; i < np; i++)
        for (size_t k = 0; k < n; k++)
            if (list[k] == plan[i].p) left[k]++;
    struct vstate v = {plan, rep, ok, left, list, n};
    o->make_agent = make_agent;
    o->make_agent_arg = &v;
    o->after = after;
    o->after_arg = &v;
    o->share = share;
    o->share_arg = &v;
    json_t *records = NULL;
    int rc = run_problems(o, seq, np, &records, err, errlen);
    json_decref(records);
    for (size_t i = 0; i < n; i++) rep->passed += (size_t)(ok[i] && left[i] == 0);
    free(ok);
    free(left);
    free(seq);
    free(plan);
    return rc;
}

void validate_sample(const struct problem_set *all, const struct problem **out, size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < all->n; i++) {
        const struct problem *p = &all->items[i];
        if (p->variant != 1) continue;
        int seen = 0; /* one app per family and task */
        for (size_t k = 0; k < *n && !seen; k++)
            seen = !strcmp(out[k]->family, p->family) && out[k]->task == p->task;
        if (!seen) out[(*n)++] = p;
    }
}

void validate_split(const struct problem *const *list, size_t n, int shortcuts, int jobs, int *job_of)
{
    size_t apps = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < i && list[k]->app != list[i]->app) k++;
        apps += k == i;
    }
    int by_app = apps >= (size_t)jobs;
    double *w = xcalloc(n + 1, sizeof *w); /* on a unit's first problem: its weight */
    size_t *first = xcalloc(n + 1, sizeof *first);
    for (size_t i = 0; i < n; i++) {
        first[i] = i;
        for (size_t k = 0; k < i && first[i] == i; k++)
            if (by_app ? list[k]->app == list[i]->app : !strcmp(list[k]->family, list[i]->family)) first[i] = k;
        w[first[i]] += list[i]->task == TASK_MITIGATION ? (shortcuts ? 6 : 2) : 0.5;
    }
    double load[VALIDATE_JOBS_MAX] = {0};
    if (jobs > VALIDATE_JOBS_MAX) jobs = VALIDATE_JOBS_MAX;
    for (;;) { /* the heaviest unit left -> the lightest job */
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (w[i] > 0 && (best == n || w[i] > w[best])) best = i;
        if (best == n) break;
        int j = 0;
        for (int k = 1; k < jobs; k++)
            if (load[k] < load[j]) j = k;
        load[j] += w[best];
        w[best] = 0;
        job_of[best] = j;
    }
    for (size_t i = 0; i < n; i++) job_of[i] = job_of[first[i]];
    free(w);
    free(first);
}
