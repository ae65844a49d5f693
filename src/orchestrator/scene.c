/* scene: see scene.h. */
#include "orchestrator/scene.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cluster/client.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "workload/load.h"

#define RUN_FOR_NS (24ull * 3600 * 1000000000ull) /* the workload's schedule: longer than any run */
#define STALL_NS (5ull * 1000000000ull)   /* no Deployment status moved for this long: stalled */

static int frontend(struct scene *s, const struct app_info *app, struct load_options *o, char *err, size_t errlen)
{
    json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "op", "get", "kind", "Service", "namespace", app->namespace,
                            "name", app->frontend);
    json_t *reply = NULL;
    int rc = cluster_call(s->lab, req, &reply, err, errlen);
    json_decref(req);
    if (rc) return -1;
    const char *ip = json_path_str(json_array_get(json_object_get(reply, "items"), 0), "spec.clusterIP", NULL);
    if (!ip) {
        snprintf(err, errlen, "%s is not deployed (no Service %s/%s)", app->name, app->namespace, app->frontend);
        json_decref(reply);
        return -1;
    }
    snprintf(o->host, sizeof o->host, "%s", ip);
    snprintf(o->port, sizeof o->port, "%d", app->port);
    json_decref(reply);
    return 0;
}

int scene_load(struct scene *s, const struct app_info *app, double rate, char *err, size_t errlen)
{
    if (s->run && s->app == app && s->rate == rate) return 0;
    scene_stop(s);
    struct load_options o;
    load_options_init(&o);
    if (frontend(s, app, &o, err, errlen)) return -1;
    if (load_mix_app(&o.mix, app->name, "mixed", "localhost", 0, err, errlen)) return -1;
    snprintf(o.mix.host, sizeof o.mix.host, "%s:%s", o.host, o.port);
    snprintf(o.target, sizeof o.target, "%s (the run's workload)", app->name);
    load_phase_defaults(&o.schedule.phases[0], LOAD_POISSON);
    o.schedule.phases[0].rate = rate;
    o.schedule.phases[0].duration_ns = RUN_FOR_NS;
    o.schedule.n = 1;
    o.seed = s->seed ? s->seed : 1;
    o.connections = 32;
    o.timeout_ns = 5000000000ull;
    if (load_start(&o, &s->run, err, errlen)) {
        load_mix_free(&o.mix);
        load_schedule_free(&o.schedule);
        return -1;
    }
    s->app = app;
    s->rate = rate;
    return 0;
}

void scene_stop(struct scene *s)
{
    if (!s->run) return;
    load_stop(s->run);
    load_wait(s->run);
    load_free(s->run);
    s->run = NULL;
}

void scene_window_counts(const struct load_stats *a, const struct load_stats *b, struct slo_window *out)
{
    uint64_t http_b = b->errors[LOAD_ERR_HTTP4] + b->errors[LOAD_ERR_HTTP5];
    uint64_t http_a = a->errors[LOAD_ERR_HTTP4] + a->errors[LOAD_ERR_HTTP5];
    uint64_t unanswered = (b->errors_total - http_b) - (a->errors_total - http_a);
    out->requests = b->completed - a->completed + unanswered;
    out->errors = unanswered + b->errors[LOAD_ERR_HTTP5] - a->errors[LOAD_ERR_HTTP5];
    out->error_rate = out->requests ? (double)out->errors / (double)out->requests : 0;
}

void scene_measure(struct scene *s, unsigned ms, struct slo_window *out)
{
    memset(out, 0, sizeof *out);
    if (!s->run) return;
    static struct load_hdr h0, h1, w; /* large: not on the stack */
    struct load_stats a, b;
    load_stats(s->run, &a, &h0);
    nanosleep(&(struct timespec){ms / 1000, (long)(ms % 1000) * 1000000L}, NULL);
    load_stats(s->run, &b, &h1);
    load_hdr_window(&w, &h1, &h0);
    scene_window_counts(&a, &b, out);
    out->p50_ms = (double)load_hdr_quantile(&w, 0.50) / 1e6;
    out->p99_ms = (double)load_hdr_quantile(&w, 0.99) / 1e6;
    if (!out->errors) return;
    size_t len = 0, cap = sizeof out->failed;
    for (size_t k = 0; k < b.nops && k < a.nops && len < cap; k++) {
        /* an op's errors are its 4xx/5xx answers (counted in completed too) and its unanswered requests */
        uint64_t e = b.ops[k].errors - a.ops[k].errors, answered = b.ops[k].completed - a.ops[k].completed;
        if (e)
            len += (size_t)snprintf(out->failed + len, cap - len, "%s%s %llu errors in %llu answers", len ? ", " : "",
                                    load_op_name(s->run, k), (unsigned long long)e, (unsigned long long)answered);
    }
    for (int k = 0; k < LOAD_ERR_KINDS && len < cap; k++) {
        uint64_t e = b.errors[k] - a.errors[k];
        if (e && k != LOAD_ERR_HTTP4)
            len += (size_t)snprintf(out->failed + len, cap - len, "%s%s %llu", len ? "; " : "",
                                    load_error_name((enum load_error)k), (unsigned long long)e);
    }
}

int scene_slo_met(const struct slo_window *before, const struct slo_window *after, char *why, size_t n)
{
    double err_max = before->error_rate * 2 > before->error_rate + 0.01 ? before->error_rate * 2
                                                                        : before->error_rate + 0.01;
    double p99_max = before->p99_ms * 2 > before->p99_ms + 100 ? before->p99_ms * 2 : before->p99_ms + 100;
    if (!after->requests) {
        snprintf(why, n, "no request completed in the verification window");
        return 0;
    }
    if (after->error_rate > err_max) {
        snprintf(why, n, "error rate %.1f%% over the allowed %.1f%% (before the fault: %.1f%%): %s",
                 after->error_rate * 100, err_max * 100, before->error_rate * 100, after->failed);
        return 0;
    }
    if (after->p99_ms > p99_max) {
        snprintf(why, n, "p99 %.0f ms over the allowed %.0f ms (before the fault: %.0f ms)", after->p99_ms, p99_max,
                 before->p99_ms);
        return 0;
    }
    snprintf(why, n, "error rate %.1f%%, p99 %.0f ms (before the fault: %.1f%%, %.0f ms)", after->error_rate * 100,
             after->p99_ms, before->error_rate * 100, before->p99_ms);
    return 1;
}

/* 1 when every Deployment of ns has its replicas ready and updated;
 * *sig: a hash of their status, which changes while a rollout moves. */
static int all_ready(const struct lab *lab, const char *ns, uint64_t *sig)
{
    json_t *req = json_pack("{s:s, s:s, s:s}", "op", "get", "kind", "Deployment", "namespace", ns);
    json_t *reply = NULL;
    char err[256];
    *sig = 0;
    int rc = cluster_call(lab, req, &reply, err, sizeof err);
    json_decref(req);
    if (rc) return 0;
    size_t i;
    json_t *d;
    int ok = json_array_size(json_object_get(reply, "items")) > 0;
    uint64_t h = 1469598103934665603ull;
    json_array_foreach(json_object_get(reply, "items"), i, d)
    {
        json_int_t want = json_path_int(d, "spec.replicas", 1);
        if (json_path_int(d, "status.readyReplicas", 0) < want || json_path_int(d, "status.replicas", 0) != want ||
            json_path_int(d, "status.updatedReplicas", 0) < want)
            ok = 0;
        json_int_t v[] = {want,
                          json_path_int(d, "metadata.generation", 0),
                          json_path_int(d, "status.observedGeneration", 0),
                          json_path_int(d, "status.replicas", 0),
                          json_path_int(d, "status.updatedReplicas", 0),
                          json_path_int(d, "status.readyReplicas", 0)};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) h = (h ^ (uint64_t)v[k]) * 1099511628211ull;
    }
    json_decref(reply);
    *sig = h;
    return ok;
}

int scene_settle(const struct lab *lab, const char *ns, unsigned ms, int (*give_up)(void *arg), void *arg)
{
    uint64_t now = mono_ns(), end = now + (uint64_t)ms * 1000000u, since = now, last = 0, sig;
    for (;;) {
        if (all_ready(lab, ns, &sig)) return 1;
        now = mono_ns();
        if (now >= end) return 0;
        if (sig != last) {
            since = now;
            last = sig;
        } else if (give_up && now - since >= STALL_NS) {
            if (give_up(arg)) return 0;
            since = now; /* asked again after the next stalled 5 s */
        }
        nanosleep(&(struct timespec){0, 200000000L}, NULL);
    }
}

int scene_settled(const struct lab *lab, const char *ns, unsigned ms) { return scene_settle(lab, ns, ms, NULL, NULL); }
