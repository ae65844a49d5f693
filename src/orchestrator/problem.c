/* problem: loading and expanding the problem files (see problem.h). */
#include "orchestrator/problem.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/util.h"
#include "core/yaml.h"

#define MAX_PROBLEMS 4096
#define MAX_FILES 512

static const char *const TASKS_[TASKS] = {"detection", "localization", "analysis", "mitigation"};

const char *task_name(enum task t) { return t < TASKS ? TASKS_[t] : "?"; }

int task_parse(const char *s, enum task *out)
{
    for (int t = 0; t < TASKS; t++)
        if (!strcmp(s, TASKS_[t])) {
            *out = (enum task)t;
            return 0;
        }
    return -1;
}

static const struct app_info APPS[] = {
    {"social-network", "test-social-network",
     "Social Network is a broadcast-style social network with uni-directional follow relationships, built of "
     "loosely-coupled microservices that talk to each other over HTTP/JSON (DeathStarBench's SocialNetwork).",
     "Create text post (optional media: image, video, shortened URL, user tag); read post; read entire user "
     "timeline; receive recommendations on which users to follow; search database for user or post; register/login "
     "using user credentials; follow/unfollow user",
     "nginx-thrift", 8080, 0},
    {"hotel-reservation", "test-hotel-reservation",
     "Hotel Reservation is an application built with microservices that talk to each other over HTTP/JSON "
     "(DeathStarBench's HotelReservation), with PostgreSQL and memcached.",
     "Search for hotels by location and dates; get recommendations (distance, rate, price); user login; make a "
     "reservation",
     "frontend", 5000, 1},
};

const struct app_info *app_find(const char *name)
{
    for (size_t i = 0; i < sizeof APPS / sizeof APPS[0]; i++)
        if (!strcmp(APPS[i].name, name)) return &APPS[i];
    return NULL;
}

/* ---- errors that name the file, line and field ------------------------------------- */

struct loader {
    const char *file;
    const struct yaml_stream *ys;
    char *err;
    size_t errlen;
};

static int fail(struct loader *l, const json_t *node, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct loader *l, const json_t *node, const char *fmt, ...)
{
    int line = node ? yaml_line_of(l->ys, node) : 0;
    int n = line ? snprintf(l->err, l->errlen, "%s:%d: ", l->file, line) : snprintf(l->err, l->errlen, "%s: ", l->file);
    if (n < 0 || (size_t)n >= l->errlen) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->err + n, l->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static int name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (!n || n > max) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_')) return 0;
    return 1;
}

static const char *const TOP_KEYS[] = {"family", "app", "description", "fault", "variants", "tasks", "workload",
                                       "solution", "noise", NULL};

static int known_key(const char *k, const char *const *keys)
{
    for (; *keys; keys++)
        if (!strcmp(k, *keys)) return 1;
    return 0;
}

/* Every value of a params map as a string (YAML may type 9999 as a number). */
static json_t *params_strings(struct loader *l, const json_t *node, const char *field)
{
    json_t *out = json_object();
    if (!node || json_is_null(node)) return out;
    if (!json_is_object(node)) {
        fail(l, node, "%s must be a map of KEY: VALUE", field);
        json_decref(out);
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)node, k, v)
    {
        char buf[64];
        if (json_is_string(v)) json_object_set_new(out, k, json_string(json_string_value(v)));
        else if (json_is_integer(v)) {
            snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
            json_object_set_new(out, k, json_string(buf));
        } else {
            fail(l, v, "%s.%s must be a string or a number", field, k);
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static int grow(struct problem_set *s, size_t *cap)
{
    if (s->n < *cap) return 0;
    if (*cap >= MAX_PROBLEMS) return -1;
    *cap = *cap ? *cap * 2 : 64;
    s->items = xrealloc(s->items, *cap * sizeof *s->items);
    return 0;
}

/* The reference solution of a task when the file gives none: what the
 * ground truth says. */
static json_t *default_solution(const struct problem *p)
{
    switch (p->task) {
    case TASK_DETECTION: return json_pack("[s]", p->fault ? "submit(\"Yes\")" : "submit(\"No\")");
    case TASK_LOCALIZATION: {
        char *s = NULL;
        if (asprintf(&s, "submit([\"%s\"])", p->target) < 0) return NULL;
        json_t *a = json_pack("[s]", s);
        free(s);
        return a;
    }
    case TASK_ANALYSIS: {
        char *s = NULL;
        if (asprintf(&s, "submit({\"system_level\": \"%s\", \"fault_type\": \"%s\"})", fault_layer_name(p->fault->layer),
                     fault_class_name(p->fault->cls)) < 0)
            return NULL;
        json_t *a = json_pack("[s]", s);
        free(s);
        return a;
    }
    default: return NULL;
    }
}

static int load_file(struct loader *l, const json_t *root, struct problem_set *s, size_t *cap)
{
    if (!json_is_object(root)) return fail(l, root, "a problem file is a map (family, app, fault, variants, tasks)");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)root, k, v)
    {
        if (!known_key(k, TOP_KEYS)) return fail(l, v, "unknown field \"%s\"", k);
    }
    const json_t *fam = json_object_get(root, "family"), *app = json_object_get(root, "app");
    if (!json_is_string(fam) || !name_ok(json_string_value(fam), 60))
        return fail(l, fam ? fam : root, "family: required, 1-60 of a-z 0-9 - _");
    if (!json_is_string(app)) return fail(l, app ? app : root, "app: required (social-network, hotel-reservation)");
    const struct app_info *ai = app_find(json_string_value(app));
    if (!ai) return fail(l, app, "app: unknown app \"%s\" (social-network, hotel-reservation)", json_string_value(app));

    const json_t *fault = json_object_get(root, "fault");
    const struct fault_type *ft = NULL;
    json_t *base_params = NULL;
    if (fault && !json_is_null(fault)) {
        if (!json_is_object(fault)) return fail(l, fault, "fault: a map with type and params, or null (a control)");
        json_object_foreach((json_t *)fault, k, v)
        {
            if (strcmp(k, "type") && strcmp(k, "params")) return fail(l, v, "fault: unknown field \"%s\"", k);
        }
        const char *type = json_path_str(fault, "type", NULL);
        if (!type) return fail(l, fault, "fault.type: required");
        ft = fault_type_find(type);
        if (!ft) return fail(l, json_object_get(fault, "type"), "fault.type: unknown fault type \"%s\"", type);
        base_params = params_strings(l, json_object_get(fault, "params"), "fault.params");
        if (!base_params) return -1;
    }
    const json_t *tasks = json_object_get(root, "tasks");
    int want[TASKS] = {0};
    if (!json_is_array(tasks) || !json_array_size(tasks)) {
        json_decref(base_params);
        return fail(l, tasks ? tasks : root, "tasks: a list of detection, localization, analysis, mitigation");
    }
    size_t i;
    json_array_foreach(tasks, i, v)
    {
        enum task t;
        if (!json_is_string(v) || task_parse(json_string_value(v), &t)) {
            json_decref(base_params);
            return fail(l, v, "tasks[%zu]: one of detection, localization, analysis, mitigation", i);
        }
        if (!ft && t != TASK_DETECTION) {
            json_decref(base_params);
            return fail(l, v, "tasks: a fault-free control poses detection only");
        }
        if (t == TASK_MITIGATION && !ft->fixed) {
            json_decref(base_params);
            return fail(l, v, "tasks: %s has no mitigation check (it heals or is symptom-only)", ft->id);
        }
        want[t] = 1;
    }
    double rate = 20;
    const json_t *wl = json_object_get(root, "workload");
    if (wl) {
        const json_t *r = json_object_get(wl, "rate");
        if (!json_is_number(r) || json_number_value(r) <= 0 || json_number_value(r) > 5000) {
            json_decref(base_params);
            return fail(l, r ? r : wl, "workload.rate: requests per second, in (0, 5000]");
        }
        rate = json_number_value(r);
    }
    const json_t *sol = json_object_get(root, "solution");
    if (want[TASK_MITIGATION] && !json_is_array(json_object_get(sol, "mitigation"))) {
        json_decref(base_params);
        return fail(l, sol ? sol : root, "solution.mitigation: required for a mitigation task (a list of actions)");
    }
    const json_t *variants = json_object_get(root, "variants");
    json_t *one = NULL;
    if (!variants) variants = one = json_pack("[{}]");
    if (!json_is_array(variants) || !json_array_size(variants) || json_array_size(variants) > 64) {
        json_decref(base_params);
        json_decref(one);
        return fail(l, variants, "variants: a list of 1-64 maps (target, params)");
    }
    int rc = 0;
    json_array_foreach(variants, i, v)
    {
        const char *target = json_path_str(v, "target", "");
        if (ft && !name_ok(target, 63)) {
            rc = fail(l, v, "variants[%zu].target: required, a Deployment or Service name", i);
            break;
        }
        json_t *vp = params_strings(l, json_object_get(v, "params"), "params");
        if (!vp) {
            rc = -1;
            break;
        }
        json_t *params = base_params ? json_deep_copy(base_params) : json_object();
        json_object_update(params, vp);
        json_decref(vp);
        if (ft) { /* the parameters must pass the fault's own validation now, not at run time */
            char perr[256];
            json_t *typed = fault_params_validate(ft, params, perr, sizeof perr);
            if (!typed) {
                json_decref(params);
                rc = fail(l, v, "variants[%zu]: %s", i, perr);
                break;
            }
            json_decref(typed);
        }
        const json_t *noise = json_object_get(v, "noise");
        if (noise && !json_is_array(noise)) {
            json_decref(params);
            rc = fail(l, noise, "variants[%zu].noise: a list of {type, target, params}", i);
            break;
        }
        size_t k;
        json_t *nz;
        json_t *noise_ok = json_array();
        json_array_foreach(noise, k, nz)
        {
            const char *nt = json_path_str(nz, "type", NULL);
            json_t *np = NULL;
            if (!nt || !fault_type_find(nt) || !name_ok(json_path_str(nz, "target", ""), 63) ||
                !(np = params_strings(l, json_object_get(nz, "params"), "noise.params"))) {
                if (!np) rc = fail(l, nz, "variants[%zu].noise[%zu]: needs a known fault type and a target", i, k);
                else rc = -1;
                break;
            }
            json_array_append_new(noise_ok, json_pack("{s:s, s:s, s:o}", "type", nt, "target",
                                                      json_path_str(nz, "target", ""), "params", np));
        }
        if (rc) json_decref(noise_ok);
        if (rc) {
            json_decref(params);
            break;
        }
        const json_t *vr = json_object_get(v, "rate");
        double vrate = json_is_number(vr) ? json_number_value(vr) : rate;
        for (int t = 0; t < TASKS && !rc; t++) {
            if (!want[t]) continue;
            if (grow(s, cap)) {
                rc = fail(l, v, "too many problems (at most %d)", MAX_PROBLEMS);
                break;
            }
            struct problem *p = &s->items[s->n];
            memset(p, 0, sizeof *p);
            snprintf(p->family, sizeof p->family, "%s", json_string_value(fam));
            snprintf(p->id, sizeof p->id, "%s-%s-%zu", p->family, task_name((enum task)t), i + 1);
            p->app = ai;
            p->task = (enum task)t;
            p->variant = (int)i + 1;
            p->fault = ft;
            snprintf(p->target, sizeof p->target, "%s", target);
            p->params = json_incref(params);
            p->noise = json_incref(noise_ok);
            p->rate = vrate;
            snprintf(p->file, sizeof p->file, "%s", l->file);
            snprintf(p->description, sizeof p->description, "%s", json_path_str(root, "description", ""));
            json_t *given = json_object_get(sol, task_name((enum task)t));
            p->solution = given ? json_incref(given) : default_solution(p);
            s->n++;
        }
        json_decref(params);
        json_decref(noise_ok);
        if (rc) break;
    }
    json_decref(one);
    json_decref(base_params);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every *.yaml under dir, recursively, sorted. */
static void collect(const char *dir, char **files, size_t *n, int depth)
{
    DIR *d = opendir(dir);
    if (!d || depth > 4) {
        if (d) closedir(d);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) && *n < MAX_FILES) {
        if (e->d_name[0] == '.') continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue;
        size_t len = strlen(e->d_name);
        if (e->d_type == DT_DIR) collect(path, files, n, depth + 1);
        else if (len > 5 && !strcmp(e->d_name + len - 5, ".yaml")) files[(*n)++] = xstrdup(path);
    }
    closedir(d);
}

int problems_load(const char *dir, struct problem_set *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char *files[MAX_FILES];
    size_t nf = 0, cap = 0;
    collect(dir, files, &nf, 0);
    if (!nf) {
        snprintf(err, errlen, "no problem files (*.yaml) under %s", dir);
        return -1;
    }
    qsort(files, nf, sizeof files[0], cmp_str);
    int rc = 0;
    for (size_t i = 0; i < nf && !rc; i++) {
        struct buf b;
        buf_init(&b, 1u << 20);
        if (read_file(files[i], &b)) {
            snprintf(err, errlen, "%s: cannot read (at most 1 MiB): %s", files[i], strerror(errno));
            rc = -1;
        } else {
            struct yaml_stream ys;
            if (yaml_parse(b.data, b.len, files[i], &ys, err, errlen)) rc = -1;
            else {
                struct loader l = {files[i], &ys, err, errlen};
                for (size_t d = 0; d < ys.count && !rc; d++) rc = load_file(&l, ys.docs[d].root, out, &cap);
                yaml_stream_free(&ys);
            }
        }
        buf_free(&b);
    }
    for (size_t i = 0; i < nf; i++) free(files[i]);
    /* Ids are unique across files. */
    for (size_t i = 0; i < out->n && !rc; i++)
        for (size_t j = i + 1; j < out->n; j++)
            if (!strcmp(out->items[i].id, out->items[j].id)) {
                snprintf(err, errlen, "%s: problem id %s is also declared in %s", out->items[j].file, out->items[j].id,
                         out->items[i].file);
                rc = -1;
                break;
            }
    if (rc) problems_free(out);
    return rc;
}

void problems_free(struct problem_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        json_decref(s->items[i].params);
        json_decref(s->items[i].noise);
        json_decref(s->items[i].solution);
    }
    free(s->items);
    memset(s, 0, sizeof *s);
}

const struct problem *problem_find(const struct problem_set *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->items[i].id, id)) return &s->items[i];
    return NULL;
}

int problems_dir(char *out, size_t n)
{
    const char *env = getenv("AIOPSLAB_PROBLEMS");
    if (env && *env) return snprintf(out, n, "%s", env) >= (int)n ? -1 : 0;
    char exe[PATH_MAX];
    if (self_exe(exe, sizeof exe) == 0) {
        char *slash = strrchr(exe, '/'); /* BUILD/aiopslab -> BUILD -> the tree */
        if (slash) *slash = '\0';
        slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            if (snprintf(out, n, "%s/problems", exe) < (int)n && access(out, R_OK) == 0) return 0;
        }
    }
    return snprintf(out, n, "problems") >= (int)n ? -1 : 0;
}

json_t *problem_truth(const struct problem *p)
{
    if (!p->fault) return json_pack("{s:n}", "fault");
    return fault_truth(p->fault, p->app->namespace, p->target, p->params);
}

char *problem_expand(const struct problem *p, const char *text)
{
    struct buf b;
    buf_init(&b, 1u << 20);
    for (const char *s = text; *s;) {
        const char *open = strchr(s, '{');
        const char *close = open ? strchr(open, '}') : NULL;
        if (!open || !close) {
            buf_append(&b, s, strlen(s));
            break;
        }
        buf_append(&b, s, (size_t)(open - s));
        char key[96];
        size_t kl = (size_t)(close - open - 1);
        const char *val = NULL;
        if (kl < sizeof key) {
            memcpy(key, open + 1, kl);
            key[kl] = '\0';
            if (!strcmp(key, "namespace")) val = p->app->namespace;
            else if (!strcmp(key, "target")) val = p->target;
            else if (!strncmp(key, "param.", 6)) val = json_string_value(json_object_get(p->params, key + 6));
        }
        if (val) {
            buf_append(&b, val, strlen(val));
            s = close + 1;
        } else { /* not a placeholder (a JSON brace): keep it */
            buf_append(&b, open, 1);
            s = open + 1;
        }
    }
    buf_append(&b, "", 1);
    return b.data;
}
