/* session: see session.h. */
#include "orchestrator/session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/store.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "faults/digest.h"
#include "faults/fault.h"
#include "orchestrator/aci.h"
#include "orchestrator/evaluate.h"
#include "orchestrator/prompt.h"
#include "orchestrator/snapshot.h"

#define REPLY_MAX (64 * 1024)

static void progress(const struct session_opts *o, const char *event, const char *detail)
{
    if (o->progress) o->progress(o->progress_arg, event, detail);
}

static json_t *time_json(uint64_t ns)
{
    char t[40];
    time_rfc3339_nano(ns, t, sizeof t);
    return json_string(t);
}

static void trace_add(json_t *trace, const char *role, const char *text, size_t len)
{
    json_array_append_new(trace, json_pack("{s:s, s:o}", "role", role, "content", json_string_lossy(text, len)));
}

/* Inject the problem's fault and its noise. The fault's journal id in *id (0: a control). */
static int inject_all(const struct session_opts *o, const struct problem *p, int64_t *id, json_t *noise_ids,
                      uint64_t *took_ns, char *err, size_t errlen)
{
    *id = 0;
    *took_ns = wall_ns();
    size_t i;
    json_t *nz;
    json_array_foreach(p->noise, i, nz)
    {
        struct fault_injected r;
        if (fault_inject(o->lab, json_path_str(nz, "type", ""), p->app->namespace, json_path_str(nz, "target", ""),
                         json_object_get(nz, "params"), 1, &r, err, errlen))
            return -1;
        json_array_append_new(noise_ids, json_integer(r.id));
    }
    if (!p->fault) return 0;
    struct fault_injected r;
    if (fault_inject(o->lab, p->fault->id, p->app->namespace, p->target, p->params, 1, &r, err, errlen)) return -1;
    *id = r.id;
    *took_ns = r.took_ns;
    return 0;
}

static void recover_all(const struct session_opts *o, int64_t id, const json_t *noise_ids, json_t *rec)
{
    char err[512];
    int n;
    json_t *errors = json_array();
    if (id && fault_recover(o->lab, id, &n, err, sizeof err)) json_array_append_new(errors, json_string(err));
    size_t i;
    json_t *v;
    json_array_foreach(noise_ids, i, v) if (fault_recover(o->lab, json_integer_value(v), &n, err, sizeof err))
        json_array_append_new(errors, json_string(err));
    if (json_array_size(errors)) json_object_set_new(rec, "recover_errors", errors);
    else json_decref(errors);
}

static int make_workdir(char *out, size_t n)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(out, n, "%s/aiopslab-session-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(out)) return -1;
    /* The agent's shell may run as nobody: it reads and writes here. */
    return chmod(out, 01777);
}

/* What the sessions of a group share: one pre-fault window, one injection. */
struct shared {
    struct slo_window baseline;
    int64_t fid;
    uint64_t took_ns;
    json_t *noise_ids, *before, *before_data;
};

/* One agent's turns on the injected problem and their score, into rec. */
static void agent_session(const struct session_opts *o, struct scene *scene, const struct problem *p,
                          struct agent *agent, const struct shared *sh, const char *sid, json_t *rec)
{
    json_t *trace = json_array(), *results = json_object(), *truth = problem_truth(p), *submission = NULL;
    struct aci aci = {.lab = o->lab, .problem = p, .shell_timeout_max = 120};
    const char *status = "step_limit";
    char err[512];
    if (make_workdir(aci.workdir, sizeof aci.workdir)) {
        snprintf(err, sizeof err, "cannot make the session's folder: %s", strerror(errno));
        status = "agent_error";
        json_object_set_new(rec, "agent_error", json_string(err));
        aci.workdir[0] = '\0';
        goto record;
    }
    aci.shell = (struct shell_env){.lab = o->lab, .bindir = o->bindir, .workdir = aci.workdir};
    for (size_t i = 0; i < o->nhide && i < 16; i++) aci.shell.hide[aci.shell.nhide++] = o->hide[i];

    char *prompt = prompt_full(p);
    struct buf input, reply, obs;
    buf_init(&input, 1u << 20);
    buf_init(&reply, 1u << 20);
    buf_init(&obs, 1u << 20);
    buf_append(&input, prompt, strlen(prompt));
    free(prompt);
    unsigned steps = 0;
    uint64_t deadline = mono_ns() + (uint64_t)o->wall_s * 1000000000u, submitted_ns = 0, agent_ns = 0;
    uint64_t actions_ns = 0; /* the ACI's own time executing actions (exec_shell, exports) */
    json_t *action_times = json_array(); /* [name, seconds] per step, "invalid" for a refused reply */
    trace_add(trace, "env", input.data, input.len);
    progress(o, "agent", p->id);
    if (agent->begin) agent->begin(agent, sid, task_name(p->task));
    for (;;) {
        if (steps >= o->max_steps) {
            status = "step_limit";
            break;
        }
        if (mono_ns() >= deadline) {
            status = "time_limit";
            break;
        }
        buf_append(&input, "", 1);
        reply.len = 0;
        char aerr[512] = "";
        uint64_t t_act = mono_ns();
        int arc = agent->act(agent, input.data, &reply, aerr, sizeof aerr);
        agent_ns += mono_ns() - t_act;
        if (arc) {
            status = "agent_error";
            json_object_set_new(rec, "agent_error", json_string(aerr));
            break;
        }
        if (reply.len > REPLY_MAX) reply.len = REPLY_MAX;
        steps++;
        trace_add(trace, "assistant", reply.data ? reply.data : "", reply.len);
        obs.len = 0;
        json_t *act = NULL, *sub = NULL;
        uint64_t t_aci = mono_ns();
        enum aci_result r = aci_step(&aci, reply.data ? reply.data : "", reply.len, &obs, &sub, &act);
        uint64_t took = mono_ns() - t_aci;
        actions_ns += took;
        const char *aname = json_string_value(json_object_get(act, "name"));
        json_array_append_new(action_times, json_pack("[s, f]", aname ? aname : "invalid", (double)took / 1e9));
        json_decref(act);
        if (r == ACI_SUBMITTED) {
            submission = sub;
            submitted_ns = wall_ns();
            status = "submitted";
            trace_add(trace, "env", "Submission received.", 20);
            break;
        }
        trace_add(trace, "env", obs.data ? obs.data : "", obs.len);
        input.len = 0;
        buf_append(&input, obs.data ? obs.data : "", obs.len);
        buf_append(&input, PROMPT_NEXT, strlen(PROMPT_NEXT));
    }
    buf_free(&input);
    buf_free(&reply);
    buf_free(&obs);
    if (agent->end) agent->end(agent, status);
    if (agent->log_path[0]) json_object_set_new(rec, "agent_log", json_string(agent->log_path));

    /* The score: the submission against the truth, the live system for mitigation. */
    progress(o, "evaluate", p->id);
    if (p->task == TASK_MITIGATION) {
        struct mitigation_input mi = {.lab = o->lab,
                                      .scene = scene,
                                      .fault_id = sh->fid,
                                      .entities = json_object_get(truth, "entities"),
                                      .before = sh->before,
                                      .before_data = sh->before_data,
                                      .baseline = &sh->baseline,
                                      .window_ms = o->verify_ms};
        evaluate_mitigation(&mi, submission != NULL, results);
    } else {
        evaluate_answer(p, truth, submission, results);
    }
    const char *tkey[TASKS] = {"TTD", "TTL", "TTA", "TTM"};
    json_object_set_new(results, tkey[p->task],
                        submitted_ns ? json_real((double)(submitted_ns - sh->took_ns) / 1e9) : json_null());
    json_object_set_new(results, "steps", json_integer(steps));
    json_object_set_new(results, "in_tokens", json_integer(agent->tokens_in));
    json_object_set_new(results, "out_tokens", json_integer(agent->tokens_out));
    json_object_set_new(rec, "timings",
                        json_pack("{s:o, s:o, s:f, s:f, s:f, s:f, s:f, s:o}", "fault_took_at", time_json(sh->took_ns),
                                  "submitted_at", submitted_ns ? time_json(submitted_ns) : json_null(),
                                  "baseline_error_rate", sh->baseline.error_rate, "baseline_p99_ms",
                                  sh->baseline.p99_ms, "baseline_rps",
                                  (double)sh->baseline.requests * 1000.0 / (o->baseline_ms ? o->baseline_ms : 1),
                                  "agent_seconds", (double)agent_ns / 1e9, "actions_seconds",
                                  (double)actions_ns / 1e9, "action_seconds", action_times));
record:
    json_object_set_new(rec, "status", json_string(status));
    json_object_set_new(rec, "trace", trace);
    json_object_set_new(rec, "results", results);
    json_object_set_new(rec, "ground_truth", truth);
    json_object_set_new(rec, "submission", submission ? submission : json_null());
    if (aci.workdir[0]) rm_rf(aci.workdir);
}

/* Can ps[0..m) share one injection? Same app, workload, fault, target,
 * parameters and noise; no mitigation (an agent's fix would change what the
 * next one sees). */
static int group_ok(const struct problem *const *ps, size_t m)
{
    for (size_t k = 0; k < m; k++) {
        const struct problem *a = ps[0], *b = ps[k];
        if (b->task == TASK_MITIGATION && m > 1) return 0;
        if (!session_same_injection(a, b)) return 0;
    }
    return m > 0;
}

int session_same_injection(const struct problem *a, const struct problem *b)
{
    return a->app == b->app && a->fault == b->fault && a->rate == b->rate &&
           !strcmp(a->target, b->target) &&
           json_equal(a->params ? a->params : json_null(), b->params ? b->params : json_null()) &&
           json_equal(a->noise ? a->noise : json_null(), b->noise ? b->noise : json_null());
}

int session_run_group(const struct session_opts *o, struct scene *scene, const struct problem *const *ps,
                      struct agent *const *agents, size_t m, json_t **outs, char *err, size_t errlen)
{
    for (size_t k = 0; k < m; k++) outs[k] = NULL;
    if (!group_ok(ps, m)) {
        snprintf(err, errlen, "these problems cannot share one injection");
        return -1;
    }
    const struct problem *p = ps[0];
    struct shared sh = {.noise_ids = json_array()};
    json_t *recs[SESSION_GROUP_MAX] = {0};
    int rc = -1;
    if (m > SESSION_GROUP_MAX) {
        snprintf(err, errlen, "at most %d sessions share one injection", SESSION_GROUP_MAX);
        goto done;
    }
    for (size_t k = 0; k < m; k++) {
        char sid[37];
        store_new_uid(sid);
        recs[k] = json_pack("{s:s, s:s, s:s, s:o}", "agent", agents[k]->name, "session_id", sid, "problem_id",
                            ps[k]->id, "start_time", time_json(wall_ns()));
        if (m > 1) json_object_set_new(recs[k], "shared_injection", json_integer((json_int_t)m));
    }

    /* Before the fault: the app settled, its objects, its service level. */
    if (!scene_settled(o->lab, p->app->namespace, 60000)) {
        snprintf(err, errlen, "%s is not healthy before the problem (Deployments not ready after 60 s)", p->app->name);
        goto done;
    }
    if (p->task == TASK_MITIGATION && (!(sh.before = snapshot_take(o->lab, p->app->namespace, err, errlen)) ||
                                       !(sh.before_data = fault_digest(o->lab, p->app->namespace, err, errlen))))
        goto done;
    /* The pre-fault window: the app must be serving cleanly first (the last
     * problem's errors gone), so that a control is a control and the SLO has
     * a healthy reference. At most 30 s of waiting. */
    progress(o, "baseline", p->id);
    for (int tries = 0;; tries++) {
        scene_measure(scene, o->baseline_ms, &sh.baseline);
        if (sh.baseline.error_rate <= 0.01 || tries * o->baseline_ms >= 30000) break;
    }

    progress(o, "inject", p->id);
    if (inject_all(o, p, &sh.fid, sh.noise_ids, &sh.took_ns, err, errlen)) {
        for (size_t k = 0; k < m; k++) {
            json_object_set_new(recs[k], "status", json_string("void"));
            json_object_set_new(recs[k], "void_reason", json_string(err));
            json_object_set_new(recs[k], "trace", json_array());
            json_object_set_new(recs[k], "results", json_object());
            json_object_set_new(recs[k], "ground_truth", problem_truth(ps[k]));
            json_object_set_new(recs[k], "submission", json_null());
        }
        recover_all(o, sh.fid, sh.noise_ids, recs[0]);
    } else {
        for (size_t k = 0; k < m; k++)
            agent_session(o, scene, ps[k], agents[k], &sh, json_path_str(recs[k], "session_id", ""), recs[k]);
        progress(o, "recover", p->id);
        recover_all(o, sh.fid, sh.noise_ids, recs[0]);
    }
    for (size_t k = 0; k < m; k++) {
        json_t *rerr = json_object_get(recs[0], "recover_errors");
        if (k && rerr) json_object_set(recs[k], "recover_errors", rerr);
        json_object_set_new(recs[k], "end_time", time_json(wall_ns()));
        json_object_set_new(recs[k], "task", json_string(task_name(ps[k]->task)));
        json_object_set_new(recs[k], "app", json_string(ps[k]->app->name));
    }
    /* Settle the app for the next problem. */
    if (!scene_settled(o->lab, p->app->namespace, 60000))
        for (size_t k = 0; k < m; k++)
            json_object_set_new(recs[k], "settle_warning", json_string("the app was not healthy 60 s after recovery"));
    for (size_t k = 0; k < m; k++) outs[k] = json_incref(recs[k]);
    rc = 0;
done:
    for (size_t k = 0; k < m && k < SESSION_GROUP_MAX; k++) json_decref(recs[k]);
    json_decref(sh.noise_ids);
    json_decref(sh.before);
    json_decref(sh.before_data);
    return rc;
}

int session_run(const struct session_opts *o, struct scene *scene, const struct problem *p, struct agent *agent,
                json_t **out, char *err, size_t errlen)
{
    return session_run_group(o, scene, &p, &agent, 1, out, err, errlen);
}

int session_success(const json_t *rec)
{
    const json_t *r = json_object_get(rec, "results");
    const char *acc = json_string_value(json_object_get(r, "Detection Accuracy"));
    if (acc) return !strcmp(acc, "Correct");
    return json_is_true(json_object_get(r, "success"));
}
