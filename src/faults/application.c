/* application: the application layer's faults — the app's own code and
 * configuration going wrong, through the mechanisms the apps really have
 * (apps/kit): feature flags in the ConfigMap <app>-feature-flags (flagd's
 * flags.json, re-read by every service within a second), releases that
 * shipped a regression (env APP_VERSION on a Deployment picks compiled-in
 * buggy code), and the retry policy of the app's ConfigMap
 * (KIT_CALL_RETRIES, KIT_RETRY_ON, KIT_RETRY_BACKOFF_MS, read at start).
 * Each fault saves what it changes before changing it and puts back
 * exactly that; verify looks at the mesh's metrics of the target's Service
 * or the target's own /metrics (errors, latency, database work per
 * request, memory), against a baseline taken at inject. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "core/timeutil.h"
#include "faults/appwf_util.h"
#include "faults/fault.h"
#include "faults/journal.h"
#include "faults/layers.h"
#include "faults/virtualization_util.h"

#define FLAGS_KEY "flags.json"
#define BASELINE_MS 400
#define PER_REQUEST_BASELINE_MS 1500 /* long enough for >= 5 requests at the workloads' rates */

/* ---- feature flags ------------------------------------------------------------ */

enum ff_kind { FF_FAILURE, FF_HIGH_CPU, FF_MEMORY_LEAK, FF_SLOW_PATH, FF_CACHE_FAILURE };
static const char *const FF_SUFFIX[] = {"Failure", "HighCpu", "MemoryLeak", "SlowPath", "CacheFailure"};
static const char *const FF_PARAM[] = {"percent", "cpu", "bytes", "percent", "percent"};

static enum ff_kind ff_kind_of(const struct fault_ctx *c)
{
    const char *id = c->type->id;
    return !strcmp(id, "feature-flag-failure")        ? FF_FAILURE
           : !strcmp(id, "feature-flag-high-cpu")     ? FF_HIGH_CPU
           : !strcmp(id, "feature-flag-memory-leak")  ? FF_MEMORY_LEAK
           : !strcmp(id, "feature-flag-slow-path")    ? FF_SLOW_PATH
                                                      : FF_CACHE_FAILURE;
}

/* The service's name as the kit knows it: the role of a DeathStarBench
 * program (`social-network compose-post-service`), else the Deployment's. */
static void service_name(struct fault_ctx *c, const json_t *deploy, char *out, size_t n)
{
    const json_t *ctr = json_array_get(json_path(deploy, "spec.template.spec.containers"), 0);
    const char *role = json_string_value(json_array_get(json_object_get(ctr, "command"), 1));
    snprintf(out, n, "%s", role && role[0] != '-' ? role : c->target);
}

/* The flag prefix of a service: camelCase of its name (the kit's rule,
 * apps/kit/flags.c: compose-post-service -> composePostService). */
static void camel(const char *service, char *out, size_t n)
{
    size_t w = 0;
    int up = 0;
    for (const char *p = service; *p && w + 1 < n; p++) {
        if (*p == '-' || *p == '_' || *p == '.') {
            up = w > 0;
            continue;
        }
        char ch = *p;
        if (up && ch >= 'a' && ch <= 'z') ch = (char)(ch - 'a' + 'A');
        else if (w == 0 && ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
        out[w++] = ch;
        up = 0;
    }
    out[w] = '\0';
}

/* The feature-flags ConfigMap the Deployment mounts. */
static int flags_configmap(struct fault_ctx *c, const json_t *deploy, char *out, size_t n)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_path(deploy, "spec.template.spec.volumes"), i, v)
    {
        const char *cm = json_path_str(v, "configMap.name", NULL);
        size_t len = cm ? strlen(cm) : 0;
        if (len > 14 && !strcmp(cm + len - 14, "-feature-flags")) {
            snprintf(out, n, "%s", cm);
            return 0;
        }
    }
    snprintf(c->err, sizeof c->err, "Deployment \"%s\" mounts no feature-flags ConfigMap (<app>-feature-flags)",
             c->target);
    return -1;
}

static int put_flags(struct fault_ctx *c, const char *cm, const char *text)
{
    json_t *patch = json_pack("{s:{s:s}}", "data", FLAGS_KEY, text);
    int rc = fault_patch(c, "ConfigMap", cm, "merge", patch);
    json_decref(patch);
    return rc;
}

static int ff_inject(struct fault_ctx *c)
{
    enum ff_kind kind = ff_kind_of(c);
    json_t *d = fault_get(c, "Deployment", c->target, NULL);
    if (!d) return -1;
    char cm[256], svc[128], flag[192];
    int bad = flags_configmap(c, d, cm, sizeof cm);
    service_name(c, d, svc, sizeof svc);
    json_decref(d);
    if (bad) return -1;
    camel(svc, flag, sizeof flag);
    snprintf(flag + strlen(flag), sizeof flag - strlen(flag), "%s", FF_SUFFIX[kind]);
    json_t *obj = fault_get(c, "ConfigMap", cm, NULL);
    if (!obj) return -1;
    const char *text = json_string_value(json_object_get(json_object_get(obj, "data"), FLAGS_KEY));
    json_error_t je;
    json_t *root = text ? json_loads(text, 0, &je) : NULL;
    if (!json_is_object(json_object_get(root, "flags"))) {
        snprintf(c->err, sizeof c->err, "ConfigMap \"%s\" has no valid %s with a \"flags\" object", cm, FLAGS_KEY);
        json_decref(root);
        json_decref(obj);
        return -1;
    }
    /* What recover needs: the file as it was, and this flag as it was. */
    json_t *flags = json_object_get(root, "flags");
    json_t *prev = json_object_get(flags, flag);
    json_object_set_new(c->state, "configMap", json_string(cm));
    json_object_set_new(c->state, "flag", json_string(flag));
    json_object_set_new(c->state, "saved", json_string(text));
    json_object_set_new(c->state, "previous", prev ? json_deep_copy(prev) : json_null());
    json_decref(obj);
    /* Baselines: the Service's traffic (mesh) and the service's own metrics,
     * at the start and the end of the mesh's window: the store operations
     * per request just before the fault (a pod's lifetime average still
     * carries its cold cache's first minutes). */
    struct fault_pod_sample p0, ps;
    int per_req = kind == FF_SLOW_PATH || kind == FF_CACHE_FAILURE;
    if (fault_pod_metrics(c, c->target, &p0) ||
        fault_mesh_baseline(c, c->target, per_req ? PER_REQUEST_BASELINE_MS : BASELINE_MS) ||
        fault_pod_metrics(c, c->target, &ps)) {
        json_decref(root);
        return -1;
    }
    json_object_set_new(c->state, "pods",
                        json_pack("{s:f, s:f, s:f, s:f, s:f, s:{s:f, s:f, s:f}}", "requests", ps.requests, "dbOps",
                                  ps.db_ops, "cacheOps", ps.cache_ops, "cpu", ps.cpu_seconds, "rss", ps.rss_bytes,
                                  "window", "requests", ps.requests - p0.requests, "dbOps", ps.db_ops - p0.db_ops,
                                  "cacheOps", ps.cache_ops - p0.cache_ops));
    long long value = fault_param_int(c, FF_PARAM[kind]);
    json_object_set_new(flags, flag,
                        json_pack("{s:s, s:{s:I, s:i}, s:s}", "state", "ENABLED", "variants", "on", (json_int_t)value,
                                  "off", 0, "defaultVariant", "on"));
    char *written = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    json_object_set_new(c->state, "written", json_string(written));
    int rc = fault_save(c) || put_flags(c, cm, written) ? -1 : 0;
    free(written);
    return rc;
}

static int ff_recover(struct fault_ctx *c)
{
    const char *cm = json_string_value(json_object_get(c->state, "configMap"));
    const char *saved = json_string_value(json_object_get(c->state, "saved"));
    const char *written = json_string_value(json_object_get(c->state, "written"));
    const char *flag = json_string_value(json_object_get(c->state, "flag"));
    if (!cm || !saved || !written || !flag) return 0; /* the flags were never changed */
    int missing = 0;
    json_t *obj = fault_get(c, "ConfigMap", cm, &missing);
    if (!obj) return missing ? 0 : -1;
    const char *now = json_string_value(json_object_get(json_object_get(obj, "data"), FLAGS_KEY));
    int rc;
    json_error_t je;
    json_t *root = now ? json_loads(now, 0, &je) : NULL;
    if (!now || !strcmp(now, written) || !json_is_object(json_object_get(root, "flags"))) {
        /* Untouched since (or broken): the file exactly as it was. */
        rc = strcmp(now ? now : "", saved) ? put_flags(c, cm, saved) : 0;
    } else {
        /* Someone changed other flags since (another fault, an operator):
         * only this fault's flag goes back to what it was. */
        json_t *flags = json_object_get(root, "flags");
        json_t *prev = json_object_get(c->state, "previous");
        if (json_is_null(prev) || !prev) json_object_del(flags, flag);
        else json_object_set(flags, flag, prev);
        char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        rc = strcmp(text, now) ? put_flags(c, cm, text) : 0;
        free(text);
    }
    json_decref(root);
    json_decref(obj);
    return rc;
}

/* Store operations per request of the service, since inject and before:
 * PostgreSQL's and the caches' (both), or the caches' only. 0 while too
 * few requests. */
static int per_request(struct fault_ctx *c, int cache_only, double *since, double *before)
{
    struct fault_pod_sample s;
    const json_t *b = json_object_get(c->state, "pods");
    if (!b || fault_pod_metrics(c, c->target, &s)) return 0;
    double r0 = json_number_value(json_object_get(b, "requests"));
    double c0 = json_number_value(json_object_get(b, "cacheOps")), d0 = json_number_value(json_object_get(b, "dbOps"));
    double o0 = cache_only ? c0 : c0 + d0, o = cache_only ? s.cache_ops : s.cache_ops + s.db_ops;
    double reqs = s.requests - r0;
    if (reqs < 5) return 0;
    *since = (o - o0) / reqs;
    /* Before: the window just before the fault, or with too few requests
     * in it, the pod's lifetime. */
    const json_t *w = json_object_get(b, "window");
    double wr = json_number_value(json_object_get(w, "requests"));
    double wc = json_number_value(json_object_get(w, "cacheOps")), wd = json_number_value(json_object_get(w, "dbOps"));
    if (wr >= 5) *before = (cache_only ? wc : wc + wd) / wr;
    else *before = r0 > 0 ? o0 / r0 : 0;
    return 1;
}

static int ff_verify(struct fault_ctx *c)
{
    enum ff_kind kind = ff_kind_of(c);
    struct fault_mesh_delta d;
    switch (kind) {
    case FF_FAILURE: /* the Service answers 500s */
        return !fault_mesh_since(c, c->target, &d) && d.errors >= 3;
    case FF_HIGH_CPU: { /* every request burns cpu ms first: the service's CPU time per request */
        struct fault_pod_sample s;
        const json_t *b = json_object_get(c->state, "pods");
        if (!b || fault_pod_metrics(c, c->target, &s)) return 0;
        double reqs = s.requests - json_number_value(json_object_get(b, "requests"));
        double cpu = s.cpu_seconds - json_number_value(json_object_get(b, "cpu"));
        return reqs >= 3 && cpu / reqs >= (double)fault_param_int(c, "cpu") / 2000.0;
    }
    case FF_MEMORY_LEAK: { /* the process grows */
        struct fault_pod_sample s;
        double rss0 = json_number_value(json_object_get(json_object_get(c->state, "pods"), "rss"));
        return !fault_pod_metrics(c, c->target, &s) && s.rss_bytes >= rss0 + 8.0 * 1024 * 1024;
    }
    case FF_SLOW_PATH: { /* item by item reads: more store operations per request */
        double since, before;
        return per_request(c, 0, &since, &before) && since >= 1.5 * before + 0.3;
    }
    case FF_CACHE_FAILURE: { /* every read past the cache: the cache stops being asked */
        double since, before;
        return per_request(c, 1, &since, &before) && before >= 0.2 && since <= 0.5 * before;
    }
    }
    return 0;
}

/* Fixed when the fault's flag is off in the live flags file however it was
 * switched off (state DISABLED, the default variant's value 0 or false,
 * or the flag removed: the kit re-reads the file within a second) and the
 * target serves. */
static int ff_fixed(struct fault_ctx *c)
{
    const char *cm = json_string_value(json_object_get(c->state, "configMap"));
    const char *flag = json_string_value(json_object_get(c->state, "flag"));
    if (!cm || !flag) return 0;
    int missing = 0;
    json_t *obj = fault_get(c, "ConfigMap", cm, &missing);
    if (!obj) return missing ? 0 : -1;
    json_error_t je;
    const char *text = json_string_value(json_object_get(json_object_get(obj, "data"), FLAGS_KEY));
    json_t *root = text ? json_loads(text, 0, &je) : NULL;
    json_decref(obj);
    /* A file the kit cannot parse leaves every flag as it was: not fixed. */
    if (!json_is_object(json_object_get(root, "flags"))) {
        json_decref(root);
        return 0;
    }
    const json_t *f = json_object_get(json_object_get(root, "flags"), flag);
    const json_t *v = json_object_get(json_object_get(f, "variants"), json_path_str(f, "defaultVariant", ""));
    int off = !f || strcmp(json_path_str(f, "state", ""), "ENABLED") || json_is_false(v) ||
              (json_is_number(v) && json_number_value(v) == 0);
    json_decref(root);
    return off ? virt_target_serves(c, c->target) : 0;
}

static const struct fault_param ff_failure_params[] = {
    {"percent", FP_PERCENT, 1, 100, "50", NULL, "share of the service's requests that fail with 500"},
    {0},
};
static const struct fault_param ff_cpu_params[] = {
    {"cpu", FP_INT, 1, 10000, "50", NULL, "ms of CPU every request burns before its work"},
    {0},
};
static const struct fault_param ff_leak_params[] = {
    {"bytes", FP_BYTES, 1, 64LL << 20, "64k", NULL, "bytes every request allocates, touches and never frees"},
    {0},
};
static const struct fault_param ff_percent_params[] = {
    {"percent", FP_PERCENT, 1, 100, "100", NULL, "share of the service's requests affected"},
    {0},
};

#define FEATURE_FLAG(var, ident, cls_, params_, gradual_, verify_ms_, summary_, symptoms_)                             \
    static const struct fault_type var = {                                                                              \
        .id = ident,                                                                                                    \
        .layer = FAULT_APPLICATION,                                                                                     \
        .cls = cls_,                                                                                                    \
        .target = FT_WORKLOAD,                                                                                          \
        .resource = "feature-flags",                                                                                    \
        .summary = summary_,                                                                                            \
        .symptoms = symptoms_,                                                                                          \
        .params = params_,                                                                                              \
        .verify_ms = verify_ms_,                                                                                        \
        .gradual = gradual_,                                                                                            \
        .inject = ff_inject,                                                                                            \
        .verify = ff_verify,                                                                                            \
        .recover = ff_recover,                                                                                          \
        .fixed = ff_fixed,                                                                                              \
    }

FEATURE_FLAG(ff_failure, "feature-flag-failure", FAULT_CODE_DEFECT, ff_failure_params, 0, 15000,
             "the feature flag <service>Failure is switched on: a share of the service's requests fail",
             "the service answers 500 (\"internal error: unexpected state\") to a share of requests; its callers log "
             "the errors and the front end returns 5xx; error spans in traces; the ConfigMap <app>-feature-flags "
             "shows the flag on; pods stay Ready");
FEATURE_FLAG(ff_high_cpu, "feature-flag-high-cpu", FAULT_CODE_DEFECT, ff_cpu_params, 0, 15000,
             "the feature flag <service>HighCpu is switched on: every request burns CPU",
             "the service's CPU use climbs (process_cpu_seconds_total, kubectl top) and its latency with it, and "
             "the latency of everything that calls it; under load it throttles against its CPU limit; the "
             "ConfigMap <app>-feature-flags shows the flag on");
FEATURE_FLAG(ff_memory_leak, "feature-flag-memory-leak", FAULT_CODE_DEFECT, ff_leak_params, 1, 60000,
             "the feature flag <service>MemoryLeak is switched on: every request leaks memory",
             "the service's resident memory grows with every request (process_resident_memory_bytes, kubectl "
             "top) until its memory limit OOM-kills it (OOMKilled, restarts), then grows again; the ConfigMap "
             "<app>-feature-flags shows the flag on");
FEATURE_FLAG(ff_slow_path, "feature-flag-slow-path", FAULT_CODE_DEFECT, ff_percent_params, 0, 15000,
             "the feature flag <service>SlowPath is switched on: requests take the service's slow code path",
             "the service reads item by item instead of in one call: its cache and database operations per "
             "request (db_client_operations_total) and its latency climb, with the latency of its callers; the "
             "ConfigMap <app>-feature-flags shows the flag on");
FEATURE_FLAG(ff_cache_failure, "feature-flag-cache-failure", FAULT_CODE_DEFECT, ff_percent_params, 0, 15000,
             "the feature flag <service>CacheFailure is switched on: requests bypass the service's cache",
             "every read goes past the cache to the database: the cache's hit traffic drops, the database's "
             "operations (db_client_operations_total) and latency climb; the ConfigMap <app>-feature-flags shows "
             "the flag on");

/* ---- buggy-revision ----------------------------------------------------------- */

/* The releases the apps shipped with regressions (each app's main.c;
 * the version shows in the start-up log and service_build_info). */
static const struct {
    const char *app, *service, *kind, *version;
} RELEASES[] = {
    {"social-network", "compose-post-service", "errors", "1.1.0-rc1"},
    {"social-network", "compose-post-service", "wrong-results", "1.1.0-rc2"},
    {"social-network", "home-timeline-service", "errors", "1.1.0-rc1"},
    {"social-network", "home-timeline-service", "wrong-results", "1.1.0-rc2"},
    {"social-network", "home-timeline-service", "slow", "1.1.0-rc3"},
    {"social-network", "post-storage-service", "errors", "1.1.0-rc1"},
    {"social-network", "post-storage-service", "wrong-results", "1.1.0-rc2"},
    {"social-network", "post-storage-service", "slow", "1.1.0-rc3"},
    {"social-network", "user-service", "errors", "1.1.0-rc1"},
    {"social-network", "user-service", "slow", "1.1.0-rc3"},
    {"hotel-reservation", "frontend", "errors", "1.1.0-rc1"},
    {"hotel-reservation", "frontend", "wrong-results", "1.1.0-rc2"},
    {"hotel-reservation", "frontend", "slow", "1.1.0-rc3"},
    {"hotel-reservation", "search", "errors", "1.1.0-rc1"},
    {"hotel-reservation", "search", "wrong-results", "1.1.0-rc2"},
    {"hotel-reservation", "search", "slow", "1.1.0-rc3"},
    {"hotel-reservation", "profile", "errors", "1.1.0-rc1"},
    {"hotel-reservation", "profile", "slow", "1.1.0-rc3"},
};

static int br_inject(struct fault_ctx *c)
{
    json_t *d = fault_get(c, "Deployment", c->target, NULL);
    if (!d) return -1;
    const json_t *ctr = json_array_get(json_path(d, "spec.template.spec.containers"), 0);
    const char *app = json_string_value(json_array_get(json_object_get(ctr, "command"), 0));
    char svc[128];
    service_name(c, d, svc, sizeof svc);
    const char *kind = fault_param_str(c, "kind"), *version = NULL;
    for (size_t i = 0; app && i < sizeof RELEASES / sizeof RELEASES[0]; i++)
        if (!strcmp(RELEASES[i].app, app) && !strcmp(RELEASES[i].service, svc) && !strcmp(RELEASES[i].kind, kind))
            version = RELEASES[i].version;
    if (!version) {
        snprintf(c->err, sizeof c->err, "no release of %s shipped a regression of kind %s (%s)", svc, kind,
                 "social-network: compose-post-service, home-timeline-service, post-storage-service, user-service; "
                 "hotel-reservation: frontend, search, profile");
        json_decref(d);
        return -1;
    }
    /* Recover rolls back to exactly this template. */
    json_object_set_new(c->state, "template", json_deep_copy(json_path(d, "spec.template")));
    json_object_set_new(c->state, "version", json_string(version));
    if (fault_save(c)) {
        json_decref(d);
        return -1;
    }
    json_t *ctrs = json_deep_copy(json_path(d, "spec.template.spec.containers"));
    json_decref(d);
    json_t *c0 = json_array_get(ctrs, 0), *env = json_object_get(c0, "env");
    if (!env) json_object_set_new(c0, "env", env = json_array());
    size_t i;
    json_t *e;
    int set = 0;
    json_array_foreach(env, i, e)
    {
        if (!strcmp(json_path_str(e, "name", ""), "APP_VERSION")) {
            json_object_set_new(e, "value", json_string(version));
            json_object_del(e, "valueFrom");
            set = 1;
        }
    }
    if (!set) json_array_append_new(env, json_pack("{s:s, s:s}", "name", "APP_VERSION", "value", version));
    json_t *patch = json_pack("{s:{s:{s:{s:o}}}}", "spec", "template", "spec", "containers", ctrs);
    int rc = fault_patch(c, "Deployment", c->target, "merge", patch);
    json_decref(patch);
    return rc;
}

/* Every pod of the Deployment runs the new release and is Ready. */
static int br_rolled_out(struct fault_ctx *c)
{
    const char *version = json_string_value(json_object_get(c->state, "version"));
    json_t *pods = fault_pods(c, c->target);
    size_t i, ready = 0;
    json_t *p;
    int old = 0;
    json_array_foreach(pods, i, p)
    {
        const char *v = NULL;
        size_t k;
        json_t *e;
        json_array_foreach(json_object_get(json_array_get(json_path(p, "spec.containers"), 0), "env"), k, e)
        {
            if (!strcmp(json_path_str(e, "name", ""), "APP_VERSION")) v = json_path_str(e, "value", NULL);
        }
        if (!v || strcmp(v, version)) old = 1;
        json_t *cond;
        json_array_foreach(json_path(p, "status.conditions"), k, cond)
        {
            if (!strcmp(json_path_str(cond, "type", ""), "Ready") && !strcmp(json_path_str(cond, "status", ""), "True"))
                ready++;
        }
    }
    int done = !old && ready > 0 && ready == json_array_size(pods);
    json_decref(pods);
    return done;
}

static int br_verify(struct fault_ctx *c)
{
    if (!br_rolled_out(c)) return 0;
    const char *kind = fault_param_str(c, "kind");
    if (strcmp(kind, "errors")) return 1; /* wrong answers and a slow path: the new release is what serves */
    if (!json_object_get(c->state, "baseline") && fault_mesh_baseline(c, c->target, 0)) return 0;
    struct fault_mesh_delta d;
    return !fault_mesh_since(c, c->target, &d) && d.errors >= 1;
}

static int br_recover(struct fault_ctx *c)
{
    json_t *tmpl = json_object_get(c->state, "template");
    if (!tmpl) return 0;
    int missing = 0;
    json_t *d = fault_get(c, "Deployment", c->target, &missing);
    if (!d) return missing ? 0 : -1;
    int same = json_equal(json_path(d, "spec.template"), tmpl);
    json_decref(d);
    if (same) return 0;
    json_t *patch = json_pack("{s:{s:O}}", "spec", "template", tmpl);
    int rc = fault_patch(c, "Deployment", c->target, "merge", patch);
    json_decref(patch);
    return rc;
}

/* Fixed when the template no longer runs the buggy release (rolled back,
 * or APP_VERSION changed or removed) and the Deployment has rolled out and
 * serves: its pods run what the template says. */
static int br_fixed(struct fault_ctx *c)
{
    const char *version = json_string_value(json_object_get(c->state, "version"));
    if (!version) return 0;
    int missing = 0;
    json_t *d = fault_get(c, "Deployment", c->target, &missing);
    if (!d) return missing ? 0 : -1;
    int buggy = 0;
    size_t i, k;
    json_t *ctr, *e;
    json_array_foreach(json_path(d, "spec.template.spec.containers"), i, ctr) json_array_foreach(json_object_get(ctr, "env"), k, e)
    {
        buggy |= !strcmp(json_path_str(e, "name", ""), "APP_VERSION") && !strcmp(json_path_str(e, "value", ""), version);
    }
    json_decref(d);
    return buggy ? 0 : virt_target_serves(c, c->target);
}

static const struct fault_param br_params[] = {
    {"kind", FP_ENUM, 0, 0, "errors", "errors|wrong-results|slow", "the regression the release shipped"},
    {0},
};

static const struct fault_type buggy_revision = {
    .id = "buggy-revision",
    .layer = FAULT_APPLICATION,
    .cls = FAULT_CODE_DEFECT,
    .target = FT_WORKLOAD,
    .resource = "deployment",
    .summary = "a new revision of the Deployment runs a release (APP_VERSION) that shipped a regression: a share of "
               "errors, wrong results, or a slow code path",
    .symptoms = "a rollout just happened (kubectl rollout history, new pods, a new version in the start-up log and "
                "service_build_info); then, by kind: errors — a share of requests fail with 500 and a logged panic "
                "or error; wrong-results — answers are 200 but wrong (misordered or missing posts, misplaced "
                "hotels); slow — latency and calls or queries per request climb; pods stay Ready",
    .params = br_params,
    .verify_ms = 30000,
    .inject = br_inject,
    .verify = br_verify,
    .recover = br_recover,
    .fixed = br_fixed,
};

/* ---- retry-storm ---------------------------------------------------------------- */

/* The retry policy of the kit (apps/kit/client.c), in the app's ConfigMap. */
static const char *const RETRY_KEYS[] = {"KIT_CALL_RETRIES", "KIT_RETRY_ON", "KIT_RETRY_BACKOFF_MS"};
#define N_RETRY_KEYS 3
#define ROLLOUT_WAIT_NS (90ull * 1000000000ull)

/* The ConfigMap the target takes its kit settings from (envFrom). */
static int retry_configmap(struct fault_ctx *c, const json_t *deploy, char *out, size_t n)
{
    size_t i;
    json_t *ef;
    json_array_foreach(json_object_get(json_array_get(json_path(deploy, "spec.template.spec.containers"), 0), "envFrom"),
                       i, ef)
    {
        const char *name = json_path_str(ef, "configMapRef.name", NULL);
        if (!name) continue;
        json_t *cm = fault_get(c, "ConfigMap", name, NULL);
        int has = cm && json_object_get(json_object_get(cm, "data"), "KIT_CALL_RETRIES");
        json_decref(cm);
        if (has) {
            snprintf(out, n, "%s", name);
            return 0;
        }
    }
    snprintf(c->err, sizeof c->err, "Deployment \"%s\" takes no retry policy (KIT_CALL_RETRIES) from a ConfigMap",
             c->target);
    return -1;
}

/* The Deployments to restart: the target's callers (the mesh's edges into
 * it) that take their environment from cm — the clients whose retries
 * matter; the other services get the policy at their next restart. */
static json_t *callers_to_restart(struct fault_ctx *c, const char *cm)
{
    json_t *callers = fault_mesh_callers(c, c->target);
    if (!callers) return NULL;
    json_t *out = json_array();
    size_t i, k;
    json_t *name, *ef;
    json_array_foreach(callers, i, name)
    {
        json_t *d = fault_get(c, "Deployment", json_string_value(name), NULL);
        const json_t *ctr = json_array_get(json_path(d, "spec.template.spec.containers"), 0);
        json_array_foreach(json_object_get(ctr, "envFrom"), k, ef)
        {
            if (!strcmp(json_path_str(ef, "configMapRef.name", ""), cm)) {
                json_array_append(out, name);
                break;
            }
        }
        json_decref(d);
    }
    json_decref(callers);
    if (!json_array_size(out)) {
        snprintf(c->err, sizeof c->err,
                 "no caller of \"%s\" seen in the mesh's metrics (the retry storm needs traffic to it)", c->target);
        json_decref(out);
        return NULL;
    }
    return out;
}

static int retry_inject(struct fault_ctx *c)
{
    json_t *d = fault_get(c, "Deployment", c->target, NULL);
    if (!d) return -1;
    char cm[256];
    int bad = retry_configmap(c, d, cm, sizeof cm);
    json_decref(d);
    if (bad) return -1;
    json_t *obj = fault_get(c, "ConfigMap", cm, NULL);
    if (!obj) return -1;
    json_t *saved = json_object();
    for (int i = 0; i < N_RETRY_KEYS; i++) {
        json_t *v = json_object_get(json_object_get(obj, "data"), RETRY_KEYS[i]);
        json_object_set(saved, RETRY_KEYS[i], v ? v : json_null());
    }
    json_decref(obj);
    json_t *users = callers_to_restart(c, cm);
    if (!users) {
        json_decref(saved);
        return -1;
    }
    json_object_set_new(c->state, "configMap", json_string(cm));
    json_object_set_new(c->state, "saved", saved);
    json_object_set_new(c->state, "restart", users);
    json_object_set_new(c->state, "changed", json_true());
    if (fault_save(c)) return -1;
    char retries[16];
    snprintf(retries, sizeof retries, "%lld", fault_param_int(c, "retries"));
    /* Every failure retried, at once, each attempt with its own deadline. */
    json_t *patch = json_pack("{s:{s:s, s:s, s:s}}", "data", "KIT_CALL_RETRIES", retries, "KIT_RETRY_ON",
                              "connect,timeout,5xx,reset", "KIT_RETRY_BACKOFF_MS", "0");
    int rc = fault_patch(c, "ConfigMap", cm, "merge", patch);
    json_decref(patch);
    if (rc) return -1;
    /* The kit reads its policy at start: the callers are restarted, as an
     * operator rolls out a config change. */
    size_t i;
    json_t *name;
    json_array_foreach(users, i, name) if (fault_rollout(c, json_string_value(name), "restart")) return -1;
    return 0;
}

/* Every restarted Deployment has rolled out (its pods Ready, none left of
 * the old revision). */
static int restarts_done(struct fault_ctx *c)
{
    size_t i;
    json_t *name;
    json_array_foreach(json_object_get(c->state, "restart"), i, name)
    {
        json_t *d = fault_get(c, "Deployment", json_string_value(name), NULL);
        if (!d) return 0;
        long long want = json_path_int(d, "spec.replicas", 1);
        int done = json_path_int(d, "status.observedGeneration", 0) >= json_path_int(d, "metadata.generation", 0) &&
                   json_path_int(d, "status.updatedReplicas", 0) == want &&
                   json_path_int(d, "status.readyReplicas", 0) == want && json_path_int(d, "status.replicas", 0) == want;
        json_decref(d);
        if (!done) return 0;
    }
    return 1;
}

/* The journal's copy of the state, read again: the engine recorded the
 * runner's pid after this process read its row, and a save from here must
 * not drop it. */
static int reload_state(struct fault_ctx *c)
{
    json_t *row = journal_get(c->journal, c->id);
    json_t *st = json_object_get(row, "state");
    if (st) json_object_update(c->state, st);
    json_decref(row);
    return st ? 0 : -1;
}

static void sleep_ms(unsigned ms) { nanosleep(&(struct timespec){ms / 1000, (long)(ms % 1000) * 1000000L}, NULL); }

/* The blip: once the services run with the new policy, a short delay on
 * the target (longer than the callers' deadline); the retries do the rest. */
static int retry_run(struct fault_ctx *c)
{
    uint64_t end = mono_ns() + ROLLOUT_WAIT_NS;
    while (!restarts_done(c)) {
        if (!fault_still_active(c)) return 0;
        if (mono_ns() > end) {
            snprintf(c->err, sizeof c->err, "the restarted services did not roll out within 90 s");
            return -1;
        }
        sleep_ms(500);
    }
    if (!fault_still_active(c) || reload_state(c)) return 0;
    struct fault_mesh_sample s;
    if (fault_mesh_sample(c, c->target, &s)) return -1;
    json_object_set_new(c->state, "blip",
                        json_pack("{s:f, s:f}", "requests", s.requests, "opened", s.opened));
    json_t *rule = json_pack("{s:s, s:n, s:{s:s, s:s}, s:I, s:i}", "action", "delay", "source", "destination",
                             "namespace", c->ns, "service", c->target, "delayMs",
                             (json_int_t)fault_param_int(c, "delay"), "percent", 100);
    char id[64];
    int rc = fault_mesh_add(c, rule, id, sizeof id);
    json_decref(rule);
    if (rc) return -1;
    fprintf(stderr, "blip: mesh rule %s delays %s/%s by %lld ms\n", id, c->ns, c->target,
            fault_param_int(c, "delay"));
    uint64_t blip_end = mono_ns() + (uint64_t)fault_param_int(c, "blip") * 1000000ull;
    while (mono_ns() < blip_end && fault_still_active(c)) sleep_ms(200);
    rc = fault_mesh_clear(c);
    fprintf(stderr, "blip over\n");
    return rc;
}

/* The storm shows at the target: attempts abandoned at their deadline and
 * sent again on fresh connections, many more than the answers it gives. */
static int retry_verify(struct fault_ctx *c)
{
    json_t *row = journal_get(c->journal, c->id);
    const json_t *blip = json_path(row, "state.blip");
    struct fault_mesh_sample s;
    int storm = 0;
    if (blip && !fault_mesh_sample(c, c->target, &s)) {
        double opened = s.opened - json_number_value(json_object_get(blip, "opened"));
        double answered = s.requests - json_number_value(json_object_get(blip, "requests"));
        storm = opened >= 10 && opened >= 2 * answered;
    }
    json_decref(row);
    return storm;
}

static int retry_recover(struct fault_ctx *c)
{
    int rc = fault_mesh_clear(c);
    const char *cm = json_string_value(json_object_get(c->state, "configMap"));
    if (!cm || !json_is_true(json_object_get(c->state, "changed"))) return rc;
    int missing = 0;
    json_t *obj = fault_get(c, "ConfigMap", cm, &missing);
    if (!obj) return missing ? rc : -1;
    /* A merge patch puts back each key's value; null removes a key that
     * was not there. Then the services restart to read it again. */
    json_t *data = json_object_get(obj, "data");
    int differs = 0;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(c->state, "saved"), k, v)
    {
        json_t *now = json_object_get(data, k);
        if (json_is_null(v) ? now != NULL : !json_equal(now, v)) differs = 1;
    }
    json_decref(obj);
    if (!differs) return rc;
    json_t *patch = json_pack("{s:O}", "data", json_object_get(c->state, "saved"));
    if (fault_patch(c, "ConfigMap", cm, "merge", patch)) rc = -1;
    json_decref(patch);
    size_t i;
    json_t *name;
    json_array_foreach(json_object_get(c->state, "restart"), i, name)
    {
        json_t *d = fault_get(c, "Deployment", json_string_value(name), NULL);
        int exists = d != NULL;
        json_decref(d);
        if (exists && fault_rollout(c, json_string_value(name), "restart")) rc = -1;
    }
    return rc;
}

/* Fixed when the ConfigMap's retry policy is as before the fault and every
 * restarted caller runs with it (the kit reads it at start: a pod keeps
 * the environment it started with) and serves. */
static int retry_fixed(struct fault_ctx *c)
{
    const char *cm = json_string_value(json_object_get(c->state, "configMap"));
    const json_t *saved = json_object_get(c->state, "saved");
    if (!cm || !saved) return 0;
    int missing = 0;
    json_t *obj = fault_get(c, "ConfigMap", cm, &missing);
    if (!obj) return missing ? 0 : -1;
    int ok = 1;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)saved, k, v)
    {
        json_t *now = json_object_get(json_object_get(obj, "data"), k);
        ok = ok && (json_is_null(v) ? now == NULL : json_equal(now, v));
    }
    json_decref(obj);
    size_t i;
    json_t *name;
    json_array_foreach(json_object_get(c->state, "restart"), i, name)
    {
        const char *dep = json_string_value(name);
        json_object_foreach((json_t *)saved, k, v) ok = ok && (json_is_null(v) || virt_pods_env_is(c, dep, k, json_string_value(v)));
        ok = ok && virt_target_serves(c, dep) == 1;
    }
    return ok;
}

static const struct fault_param retry_params[] = {
    {"retries", FP_INT, 2, 10, "5", NULL, "KIT_CALL_RETRIES the services are given (retried on every failure, no back-off)"},
    {"blip", FP_MS, 500, 60000, "5s", NULL, "how long the target is slowed once the services run the new policy"},
    {"delay", FP_MS, 100, 60000, "2500ms", NULL, "the blip's delay, longer than the callers' deadline (KIT_CALL_TIMEOUT_MS)"},
    {0},
};

static const struct fault_type retry_storm = {
    .id = "retry-storm",
    .layer = FAULT_APPLICATION,
    .cls = FAULT_MISCONFIGURATION,
    .target = FT_WORKLOAD,
    .resource = "retry-policy",
    .summary = "aggressive retries in the app's ConfigMap (every failure, no back-off) and a restart, then a short "
               "blip on the target that the retries amplify",
    .symptoms = "the app's services restarted with KIT_CALL_RETRIES raised and KIT_RETRY_ON=connect,timeout,5xx,reset, "
                "KIT_RETRY_BACKOFF_MS=0; when the target slows down its callers resend every timed-out call at once: "
                "connections and requests to it multiply (mesh_tcp_connections_opened_total, "
                "downstream_errors_total{reason=\"timeout\"}), its queue grows and the overload can outlast the blip; "
                "front-end latency and 5xx climb",
    .params = retry_params,
    .verify_ms = 60000,
    .inject = retry_inject,
    .verify = retry_verify,
    .recover = retry_recover,
    .run = retry_run,
    .fixed = retry_fixed,
};

const struct fault_type *const fault_types_application[] = {
    &ff_failure, &ff_high_cpu, &ff_memory_leak, &ff_slow_path, &ff_cache_failure, &buggy_revision, &retry_storm, NULL,
};
