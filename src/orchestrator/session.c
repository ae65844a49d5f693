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

int session_run(const struct session_opts *o, struct scene *scene, const struct problem *p, struct agent *agent,
                json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    char sid[37];
    store_new_uid(sid);
    json_t *rec = json_object(), *trace = json_array(), *results = json_object(), *noise_ids = json_array();
    json_t *truth = problem_truth(p), *before = NULL, *before_data = NULL, *submission = NULL;
    struct aci aci = {.lab = o->lab, .problem = p, .shell_timeout_max = 120};
    const char *status = "step_limit";
    int rc = -1;
    if (make_workdir(aci.workdir, sizeof aci.workdir)) {
        snprintf(err, errlen, "cannot make the session's folder: %s", strerror(errno));
        goto done;
    }
    aci.shell = (struct shell_env){.lab = o->lab, .bindir = o->bindir, .workdir = aci.workdir};
    for (size_t i = 0; i < o->nhide && i < 16; i++) aci.shell.hide[aci.shell.nhide++] = o->hide[i];

    uint64_t start = wall_ns();
    json_object_set_new(rec, "agent", json_string(agent->name));
    json_object_set_new(rec, "session_id", json_string(sid));
    json_object_set_new(rec, "problem_id", json_string(p->id));
    json_object_set_new(rec, "start_time", time_json(start));

    /* Before the fault: the app settled, its objects, its service level. */
    if (!scene_settled(o->lab, p->app->namespace, 60000)) {
        snprintf(err, errlen, "%s is not healthy before the problem (Deployments not ready after 60 s)", p->app->name);
        goto done;
    }
    if (p->task == TASK_MITIGATION && (!(before = snapshot_take(o->lab, p->app->namespace, err, errlen)) ||
                                       !(before_data = fault_digest(o->lab, p->app->namespace, err, errlen))))
        goto done;
    /* The pre-fault window: the app must be serving cleanly first (the last
     * problem's errors gone), so that a control is a control and the SLO has
     * a healthy reference. At most 30 s of waiting. */
    struct slo_window baseline;
    progress(o, "baseline", p->id);
    for (int tries = 0;; tries++) {
        scene_measure(scene, o->baseline_ms, &baseline);
        if (baseline.error_rate <= 0.01 || tries * o->baseline_ms >= 30000) break;
    }

    int64_t fid = 0;
    uint64_t took_ns = 0;
    progress(o, "inject", p->id);
    if (inject_all(o, p, &fid, noise_ids, &took_ns, err, errlen)) {
        status = "void";
        json_object_set_new(rec, "void_reason", json_string(err));
        recover_all(o, fid, noise_ids, rec);
        rc = 0;
        goto record;
    }

    /* The agent's turns. */
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
        actions_ns += mono_ns() - t_aci;
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
    int success;
    if (p->task == TASK_MITIGATION) {
        struct mitigation_input mi = {.lab = o->lab,
                                      .scene = scene,
                                      .fault_id = fid,
                                      .entities = json_object_get(truth, "entities"),
                                      .before = before,
                                      .before_data = before_data,
                                      .baseline = &baseline,
                                      .window_ms = o->verify_ms};
        success = evaluate_mitigation(&mi, submission != NULL, results);
    } else {
        success = evaluate_answer(p, truth, submission, results);
    }
    (void)success;
    const char *tkey[TASKS] = {"TTD", "TTL", "TTA", "TTM"};
    json_object_set_new(results, tkey[p->task],
                        submitted_ns ? json_real((double)(submitted_ns - took_ns) / 1e9) : json_null());
    json_object_set_new(results, "steps", json_integer(steps));
    json_object_set_new(results, "in_tokens", json_integer(agent->tokens_in));
    json_object_set_new(results, "out_tokens", json_integer(agent->tokens_out));
    progress(o, "recover", p->id);
    recover_all(o, fid, noise_ids, rec);
    json_object_set_new(rec, "timings",
                        json_pack("{s:o, s:o, s:f, s:f, s:f, s:f, s:f}", "fault_took_at", time_json(took_ns),
                                  "submitted_at", submitted_ns ? time_json(submitted_ns) : json_null(),
                                  "baseline_error_rate", baseline.error_rate, "baseline_p99_ms", baseline.p99_ms,
                                  "baseline_rps",
                                  (double)baseline.requests * 1000.0 / (o->baseline_ms ? o->baseline_ms : 1),
                                  "agent_seconds", (double)agent_ns / 1e9, "actions_seconds",
                                  (double)actions_ns / 1e9));
    rc = 0;
record:
    json_object_set_new(rec, "end_time", time_json(wall_ns()));
    json_object_set_new(rec, "status", json_string(status));
    json_object_set_new(rec, "task", json_string(task_name(p->task)));
    json_object_set_new(rec, "app", json_string(p->app->name));
    json_object_set_new(rec, "trace", json_incref(trace));
    json_object_set_new(rec, "results", json_incref(results));
    json_object_set_new(rec, "ground_truth", json_incref(truth));
    json_object_set_new(rec, "submission", submission ? json_incref(submission) : json_null());
    *out = json_incref(rec);
    /* Settle the app for the next problem. */
    if (!scene_settled(o->lab, p->app->namespace, 60000))
        json_object_set_new(rec, "settle_warning", json_string("the app was not healthy 60 s after recovery"));
done:
    if (aci.workdir[0]) rm_rf(aci.workdir);
    json_decref(rec);
    json_decref(trace);
    json_decref(results);
    json_decref(noise_ids);
    json_decref(truth);
    json_decref(before);
    json_decref(before_data);
    json_decref(submission);
    return rc;
}

int session_success(const json_t *rec)
{
    const json_t *r = json_object_get(rec, "results");
    const char *acc = json_string_value(json_object_get(r, "Detection Accuracy"));
    if (acc) return !strcmp(acc, "Correct");
    return json_is_true(json_object_get(r, "success"));
}
