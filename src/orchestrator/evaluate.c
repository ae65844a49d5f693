/* evaluate: see evaluate.h. */
#include "orchestrator/evaluate.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "faults/digest.h"
#include "faults/fault.h"
#include "orchestrator/snapshot.h"

/* "user-service", "test-social-network/user-service" and "  User-Service " name the same thing. */
static int same_entity(const char *submitted, const char *truth)
{
    const char *t = strchr(truth, '/');
    t = t ? t + 1 : truth;
    const char *s = strrchr(submitted, '/');
    s = s ? s + 1 : submitted;
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) n--;
    return n == strlen(t) && !strncasecmp(s, t, n);
}

static int truth_has(const json_t *truth, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(truth, "entities"), i, e) if (same_entity(name, json_string_value(e))) return 1;
    return 0;
}

int evaluate_answer(const struct problem *p, const json_t *truth, const json_t *sub, json_t *res)
{
    int ok = 0;
    switch (p->task) {
    case TASK_DETECTION: {
        const char *a = json_string_value(json_object_get(sub, "has_anomaly"));
        int yes = a && !strcasecmp(a, "yes"), no = a && !strcasecmp(a, "no");
        ok = p->fault ? yes : no;
        json_object_set_new(res, "Detection Accuracy", json_string(ok ? "Correct" : "Incorrect"));
        if (a && !yes && !no) json_object_set_new(res, "note", json_string("the answer must be \"Yes\" or \"No\""));
        break;
    }
    case TASK_LOCALIZATION: {
        const json_t *list = json_object_get(sub, "faulty_components");
        size_t n = json_array_size(list), hits = 0, i;
        json_t *v;
        json_array_foreach(list, i, v) if (json_is_string(v) && truth_has(truth, json_string_value(v))) hits++;
        /* AIOpsLab's accuracy: the truth alone is 100, the truth among n answers 100/n. */
        double acc = hits && n ? 100.0 / (double)n : 0;
        ok = hits > 0;
        json_object_set_new(res, "Localization Accuracy", json_real(acc));
        json_object_set_new(res, "success", json_boolean(ok));
        json_object_set_new(res, "is_subset", json_boolean(hits == n && n > 0));
        break;
    }
    case TASK_ANALYSIS: {
        const json_t *a = json_object_get(sub, "analysis");
        const char *sl = json_string_value(json_object_get(a, "system_level"));
        const char *ft = json_string_value(json_object_get(a, "fault_type"));
        int slc = sl && !strcasecmp(sl, json_string_value(json_object_get(truth, "layer")));
        int ftc = ft && !strcasecmp(ft, json_string_value(json_object_get(truth, "faultType")));
        ok = slc && ftc;
        json_object_set_new(res, "system_level_correct", json_boolean(slc));
        json_object_set_new(res, "fault_type_correct", json_boolean(ftc));
        json_object_set_new(res, "success", json_boolean(ok));
        break;
    }
    default: break;
    }
    return ok;
}

/* Tables that lost rows (or vanished) since before; the workload only adds. */
static void data_lost(const json_t *before, const json_t *after, json_t *out)
{
    const char *store, *db, *table;
    json_t *dbs, *tables, *t;
    json_object_foreach(json_object_get((json_t *)before, "stores"), store, dbs)
    {
        const json_t *now_store = json_object_get(json_object_get((json_t *)after, "stores"), store);
        const char *was_id = json_string_value(json_object_get(dbs, "identity"));
        const char *now_id = json_string_value(json_object_get(now_store, "identity"));
        if (was_id && now_id && strcmp(was_id, now_id)) {
            json_array_append_new(out, json_sprintf("%s: its database was created anew (\"%s\", \"%s\" before the "
                                                    "fault): the data it held is lost",
                                                    store, now_id, was_id));
            continue;
        }
        json_object_foreach(dbs, db, tables)
        {
            if (!json_is_object(tables)) continue;
            json_object_foreach(tables, table, t)
            {
                json_t *now = json_object_get(
                    json_object_get(json_object_get(json_object_get((json_t *)after, "stores"), store), db), table);
                json_int_t was = json_integer_value(json_object_get(t, "rows"));
                if (!now) json_array_append_new(out, json_sprintf("%s/%s %s: gone", store, db, table));
                else if (json_integer_value(json_object_get(now, "rows")) < was)
                    json_array_append_new(out, json_sprintf("%s/%s %s: %lld rows, %lld before the fault", store, db,
                                                            table, (long long)json_integer_value(json_object_get(now, "rows")),
                                                            (long long)was));
            }
        }
    }
}

static int cause_remains(void *arg)
{
    const struct mitigation_input *in = arg;
    char err[512];
    return fault_check_fixed(in->lab, in->fault_id, err, sizeof err) == 0;
}

int evaluate_mitigation(const struct mitigation_input *in, int submitted, json_t *res)
{
    json_t *checks = json_object();
    char err[512], why[512];
    const char *ns = in->scene->app->namespace;
    /* Wait for the app to settle, but not for what cannot: a rollout that
     * stopped moving while the root cause is still there (pods that crash
     * or never schedule because of the fault) would only run out the wait. */
    int settled = scene_settle(in->lab, ns, 30000, cause_remains, (void *)in);
    /* (a) the root cause is gone */
    int fixed = fault_check_fixed(in->lab, in->fault_id, err, sizeof err);
    json_object_set_new(checks, "root_cause_gone", json_boolean(fixed == 1));
    if (fixed < 0) json_object_set_new(checks, "root_cause_error", json_string(err));
    json_object_set_new(checks, "settled", json_boolean(settled));
    /* (c) nothing else broken */
    json_t *now = snapshot_take(in->lab, ns, err, sizeof err);
    json_t *diff = now ? snapshot_diff(in->before, now, in->entities) : json_pack("[s]", err);
    if (in->before_data) {
        json_t *data = fault_digest(in->lab, ns, err, sizeof err);
        if (data) data_lost(in->before_data, data, diff);
        else json_array_append_new(diff, json_sprintf("the stores cannot be read: %s", err));
        json_decref(data);
    }
    int intact = json_array_size(diff) == 0;
    json_object_set_new(checks, "nothing_broken", json_boolean(intact));
    json_object_set_new(checks, "broken", diff);
    json_decref(now);
    /* (b) the service level is back: within three windows (a pod that has
     * just started is slow for its first requests; a fix that holds shows
     * within them, a broken service in none). Measured only when it can
     * still decide the outcome: a mitigation that failed (a) or (c) would
     * spend up to three windows to learn nothing. */
    int slo = 0;
    if (submitted && fixed == 1 && intact) {
        struct slo_window after;
        for (int w = 0; w < 3 && !slo; w++) {
            scene_measure(in->scene, in->window_ms, &after);
            slo = scene_slo_met(in->baseline, &after, why, sizeof why);
        }
        json_object_set_new(checks, "slo_met", json_boolean(slo));
        json_object_set_new(checks, "slo", json_string(why));
    } else {
        json_object_set_new(checks, "slo_met", json_null());
        json_object_set_new(checks, "slo", json_string(!submitted ? "not measured: nothing was submitted"
                                                       : fixed != 1 ? "not measured: the root cause is still there"
                                                                    : "not measured: something else was broken"));
    }
    int ok = submitted && fixed == 1 && slo && intact;
    json_object_set_new(res, "success", json_boolean(ok));
    json_object_set_new(res, "checks", checks);
    return ok;
}
