/* rollout: `kubectl rollout restart|undo|history|status|pause|resume` on
 * deployments. restart and undo are daemon ops (the daemon stamps
 * kubectl.kubernetes.io/restartedAt, or copies an old ReplicaSet's
 * template back); history is read from the ReplicaSets the deployment
 * owns; status polls the deployment every 200 ms and prints kubectl's
 * progress lines, judged exactly as kubectl's status viewer does. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/manifest.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "kubectl/kc.h"
#include "kubectl/kcw.h"

#define REVISION_ANNOTATION "deployment.kubernetes.io/revision"
#define CHANGE_CAUSE_ANNOTATION "kubernetes.io/change-cause"

int kcw_rollout_status(const json_t *deploy, char *msg, size_t n)
{
    const char *name = json_path_str(deploy, "metadata.name", "");
    json_int_t gen = json_path_int(deploy, "metadata.generation", 0);
    json_int_t observed = json_path_int(deploy, "status.observedGeneration", gen);
    if (gen > observed) {
        snprintf(msg, n, "Waiting for deployment spec update to be observed...");
        return 0;
    }
    size_t i;
    json_t *c;
    json_array_foreach(json_path(deploy, "status.conditions"), i, c)
    {
        if (!strcmp(json_path_str(c, "type", ""), "Progressing") &&
            !strcmp(json_path_str(c, "reason", ""), "ProgressDeadlineExceeded")) {
            snprintf(msg, n, "deployment \"%s\" exceeded its progress deadline", name);
            return -1;
        }
    }
    json_int_t want = json_path_int(deploy, "spec.replicas", 1);
    json_int_t replicas = json_path_int(deploy, "status.replicas", 0);
    json_int_t updated = json_path_int(deploy, "status.updatedReplicas", 0);
    json_int_t available = json_path_int(deploy, "status.availableReplicas", 0);
    if (updated < want) {
        snprintf(msg, n, "Waiting for deployment \"%s\" rollout to finish: %lld out of %lld new replicas have been "
                         "updated...", name, (long long)updated, (long long)want);
        return 0;
    }
    if (replicas > updated) {
        snprintf(msg, n, "Waiting for deployment \"%s\" rollout to finish: %lld old replicas are pending "
                         "termination...", name, (long long)(replicas - updated));
        return 0;
    }
    if (available < updated) {
        snprintf(msg, n, "Waiting for deployment \"%s\" rollout to finish: %lld of %lld updated replicas are "
                         "available...", name, (long long)available, (long long)updated);
        return 0;
    }
    snprintf(msg, n, "deployment \"%s\" successfully rolled out", name);
    return 1;
}

int kcw_selector_of(const json_t *deploy, char *out, size_t n)
{
    struct buf b;
    buf_init(&b, n);
    const char *k;
    json_t *v;
    int first = 1;
    json_object_foreach(json_path(deploy, "spec.selector.matchLabels"), k, v)
    {
        if (!json_is_string(v)) continue;
        if (buf_printf(&b, "%s%s=%s", first ? "" : ",", k, json_string_value(v))) {
            buf_free(&b);
            return -E2BIG;
        }
        first = 0;
    }
    snprintf(out, n, "%s", b.data ? b.data : "");
    buf_free(&b);
    return 0;
}

static int owned_by(const json_t *rs, const json_t *deploy)
{
    const char *uid = json_path_str(deploy, "metadata.uid", NULL);
    const char *name = json_path_str(deploy, "metadata.name", "");
    size_t i;
    json_t *o;
    json_array_foreach(json_path(rs, "metadata.ownerReferences"), i, o)
    {
        if (strcmp(json_path_str(o, "kind", ""), "Deployment")) continue;
        const char *ouid = json_path_str(o, "uid", NULL);
        if (uid && ouid) {
            if (!strcmp(uid, ouid)) return 1;
        } else if (!strcmp(json_path_str(o, "name", ""), name)) {
            return 1;
        }
    }
    return 0;
}

static long revision_of(const json_t *rs)
{
    json_t *ann = json_path(rs, "metadata.annotations");
    const char *s = json_string_value(json_object_get(ann, REVISION_ANNOTATION));
    long r;
    if (!s || parse_long(s, 0, 1L << 40, &r)) return -1;
    return r;
}

struct rev {
    long revision;
    const json_t *rs;
};

static int cmp_rev(const void *a, const void *b)
{
    long x = ((const struct rev *)a)->revision, y = ((const struct rev *)b)->revision;
    return x < y ? -1 : x > y;
}

static void describe_template(const json_t *tpl, struct buf *out)
{
    buf_puts(out, "Pod Template:\n");
    const char *k;
    json_t *v;
    json_t *labels = json_path(tpl, "metadata.labels");
    buf_puts(out, "  Labels:");
    if (!json_object_size(labels)) buf_puts(out, "\t<none>\n");
    int first = 1;
    json_object_foreach(labels, k, v)
    {
        buf_printf(out, "%s%s=%s\n", first ? "\t" : "\t\t", k, json_string_value(v) ? json_string_value(v) : "");
        first = 0;
    }
    json_t *ann = json_path(tpl, "metadata.annotations");
    buf_puts(out, "  Annotations:");
    if (!json_object_size(ann)) buf_puts(out, "\t<none>\n");
    first = 1;
    json_object_foreach(ann, k, v)
    {
        buf_printf(out, "%s%s: %s\n", first ? "\t" : "\t\t", k, json_string_value(v) ? json_string_value(v) : "");
        first = 0;
    }
    buf_puts(out, "  Containers:\n");
    size_t i, j;
    json_t *c, *x;
    json_array_foreach(json_path(tpl, "spec.containers"), i, c)
    {
        buf_printf(out, "   %s:\n", json_path_str(c, "name", ""));
        buf_printf(out, "    Image:\t%s\n", json_path_str(c, "image", "<none>"));
        json_t *ports = json_object_get(c, "ports");
        if (!json_array_size(ports)) buf_puts(out, "    Port:\t<none>\n");
        json_array_foreach(ports, j, x)
        {
            buf_printf(out, "    Port:\t%lld/%s\n", (long long)json_path_int(x, "containerPort", 0),
                       json_path_str(x, "protocol", "TCP"));
        }
        json_t *cmd = json_object_get(c, "command");
        if (json_array_size(cmd)) {
            buf_puts(out, "    Command:\n");
            json_array_foreach(cmd, j, x) buf_printf(out, "      %s\n", json_string_value(x) ? json_string_value(x) : "");
        }
        json_t *args = json_object_get(c, "args");
        if (json_array_size(args)) {
            buf_puts(out, "    Args:\n");
            json_array_foreach(args, j, x) buf_printf(out, "      %s\n", json_string_value(x) ? json_string_value(x) : "");
        }
        json_t *env = json_object_get(c, "env");
        if (!json_array_size(env)) buf_puts(out, "    Environment:\t<none>\n");
        else buf_puts(out, "    Environment:\n");
        json_array_foreach(env, j, x)
        {
            if (json_object_get(x, "valueFrom"))
                buf_printf(out, "      %s:\t<set to a reference>\n", json_path_str(x, "name", ""));
            else
                buf_printf(out, "      %s:\t%s\n", json_path_str(x, "name", ""), json_path_str(x, "value", ""));
        }
        json_t *mounts = json_object_get(c, "volumeMounts");
        if (!json_array_size(mounts)) buf_puts(out, "    Mounts:\t<none>\n");
        else buf_puts(out, "    Mounts:\n");
        json_array_foreach(mounts, j, x)
        {
            buf_printf(out, "      %s from %s\n", json_path_str(x, "mountPath", ""), json_path_str(x, "name", ""));
        }
    }
    json_t *vols = json_path(tpl, "spec.volumes");
    if (!json_array_size(vols)) buf_puts(out, "  Volumes:\t<none>\n");
    else buf_puts(out, "  Volumes:\n");
    json_array_foreach(vols, i, c) buf_printf(out, "   %s\n", json_path_str(c, "name", ""));
}

int kcw_rollout_history(const json_t *deploy, const json_t *rs, long revision, struct buf *out, char *err,
                        size_t errlen)
{
    size_t cap = json_array_size(rs), count = 0;
    struct rev *revs = xcalloc(cap + 1, sizeof *revs);
    size_t i;
    json_t *r;
    json_array_foreach(rs, i, r)
    {
        if (!owned_by(r, deploy)) continue;
        long v = revision_of(r);
        if (v < 0) continue;
        revs[count].revision = v;
        revs[count].rs = r;
        count++;
    }
    qsort(revs, count, sizeof *revs, cmp_rev);
    const char *name = json_path_str(deploy, "metadata.name", "");
    int rc = 0;
    if (revision > 0) {
        const json_t *found = NULL;
        for (i = 0; i < count; i++)
            if (revs[i].revision == revision) found = revs[i].rs;
        if (!found) {
            snprintf(err, errlen, "unable to find the specified revision");
            rc = -ENOENT;
            goto out;
        }
        buf_printf(out, "deployment.apps/%s with revision #%ld\n", name, revision);
        describe_template(json_path(found, "spec.template"), out);
        buf_puts(out, "\n");
        goto out;
    }
    buf_printf(out, "deployment.apps/%s \n", name);
    buf_puts(out, "REVISION  CHANGE-CAUSE\n");
    for (i = 0; i < count; i++) {
        const char *cause = json_string_value(
            json_object_get(json_path(revs[i].rs, "metadata.annotations"), CHANGE_CAUSE_ANNOTATION));
        char num[32];
        snprintf(num, sizeof num, "%ld", revs[i].revision);
        buf_printf(out, "%-10s%s\n", num, cause && *cause ? cause : "<none>");
    }
    buf_puts(out, "\n");
out:
    free(revs);
    return rc;
}

static json_t *get_deployment(struct kc *kc, const char *name)
{
    json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "op", "get", "kind", "Deployment", "namespace", kc->ns, "name",
                            name);
    json_t *reply = NULL, *obj = NULL;
    if (!kc_call(kc, req, &reply)) {
        obj = json_array_get(json_object_get(reply, "items"), 0);
        if (obj) json_incref(obj);
        else fprintf(kc->err, "Error from server (NotFound): deployments.apps \"%s\" not found\n", name);
    }
    json_decref(req);
    json_decref(reply);
    return obj;
}

static int rollout_status(struct kc *kc, const char *name, int watch, uint64_t timeout_ns)
{
    uint64_t deadline = mono_ns() + timeout_ns;
    char last[512] = "";
    for (;;) {
        json_t *d = get_deployment(kc, name);
        if (!d) return 1;
        char msg[512];
        int st = kcw_rollout_status(d, msg, sizeof msg);
        json_decref(d);
        if (st < 0) return kc_error(kc, "%s", msg);
        if (strcmp(msg, last)) {
            fprintf(kc->out, "%s\n", msg);
            fflush(kc->out);
            snprintf(last, sizeof last, "%s", msg);
        }
        if (st > 0 || !watch) return 0;
        if (timeout_ns && mono_ns() >= deadline) return kc_error(kc, "timed out waiting for the condition");
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* kc_call, except that the daemon's refusals of a rollout (no history,
 * unknown revision, paused) come out as kubectl's client-side
 * "error: ..." lines rather than "Error from server (BadRequest)". The
 * request is sent once; kc_call's error text is caught and reworded. */
static int rollout_call(struct kc *kc, json_t *req, json_t **reply)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) return kc_call(kc, req, reply);
    FILE *saved = kc->err;
    kc->err = mem;
    int rc = kc_call(kc, req, reply);
    kc->err = saved;
    fclose(mem);
    static const char bad[] = "Error from server (BadRequest): ";
    if (text && str_has_prefix(text, bad)) fprintf(kc->err, "error: %s", text + strlen(bad));
    else if (text) fputs(text, kc->err);
    free(text);
    return rc;
}

int kc_rollout(struct kc *kc, int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-')
        return kc_usage_error(kc, "rollout", "you must specify a subcommand: history, pause, restart, resume, "
                                             "status, undo");
    const char *sub = argv[1];
    if (strcmp(sub, "restart") && strcmp(sub, "undo") && strcmp(sub, "history") && strcmp(sub, "status") &&
        strcmp(sub, "pause") && strcmp(sub, "resume"))
        return kc_usage_error(kc, "rollout", "unknown command \"%s\" for \"kubectl rollout\"", sub);
    char verb[64];
    snprintf(verb, sizeof verb, "rollout %s", sub);
    char **pos = xcalloc((size_t)argc + 1, sizeof *pos);
    int npos = 0, status = 0, watch = 1;
    long to_revision = 0, revision = 0;
    uint64_t timeout_ns = 5ull * 60 * 1000000000ull;
    struct kcw_ref *refs = NULL;
    size_t nrefs = 0;
    char err[1024];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int t;
        if ((t = kcw_flag(argc, argv, &i, "--to-revision", &v))) {
            if (t < 0 || parse_long(v, 0, 1L << 40, &to_revision)) goto bad;
        } else if ((t = kcw_flag(argc, argv, &i, "--revision", &v))) {
            if (t < 0 || parse_long(v, 0, 1L << 40, &revision)) goto bad;
        } else if ((t = kcw_flag(argc, argv, &i, "--timeout", &v))) {
            if (t < 0) goto bad;
            if (!strcmp(v, "0")) timeout_ns = 0;
            else if (time_parse_duration(v, &timeout_ns)) goto bad;
        } else if (!strcmp(a, "-w") || !strcmp(a, "--watch") || !strcmp(a, "--watch=true")) {
            watch = 1;
        } else if (!strcmp(a, "--watch=false")) {
            watch = 0;
        } else if (str_has_prefix(a, "--dry-run") || str_has_prefix(a, "--record")) {
        } else if (a[0] == '-' && a[1]) {
            status = kc_usage_error(kc, verb, "unknown flag: %s", a);
            goto out;
        } else {
            pos[npos++] = argv[i];
        }
        continue;
    bad:
        status = kc_usage_error(kc, verb, "invalid argument for %s", a);
        goto out;
    }
    const char *kind_only = NULL;
    if (npos == 0) {
        status = kc_error(kc, "required resource not specified");
        goto out;
    }
    if (kcw_parse_refs(npos, pos, &refs, &nrefs, &kind_only, err, sizeof err)) {
        status = kc_error(kc, "%s", err);
        goto out;
    }
    if (kind_only || nrefs == 0) {
        status = kc_error(kc, "resource(s) were provided, but no name was specified");
        goto out;
    }
    int errors = 0;
    for (size_t i = 0; i < nrefs; i++) {
        const char *name = refs[i].name;
        if (strcmp(refs[i].kind, "Deployment")) {
            fprintf(kc->err, "error: no %s rollout for %s \"%s\" (aiopslab supports deployments)\n", sub,
                    kcw_kind_resource(refs[i].kind), name);
            errors++;
            continue;
        }
        if (!strcmp(sub, "status")) {
            errors += rollout_status(kc, name, watch, timeout_ns);
            continue;
        }
        if (!strcmp(sub, "history")) {
            json_t *d = get_deployment(kc, name);
            if (!d) {
                errors++;
                continue;
            }
            json_t *req = json_pack("{s:s, s:s, s:s}", "op", "get", "kind", "ReplicaSet", "namespace", kc->ns);
            json_t *reply = NULL;
            if (kc_call(kc, req, &reply)) {
                errors++;
            } else {
                struct buf b;
                buf_init(&b, 4u << 20);
                if (kcw_rollout_history(d, json_object_get(reply, "items"), revision, &b, err, sizeof err)) {
                    fprintf(kc->err, "error: %s\n", err);
                    errors++;
                } else {
                    fputs(b.data ? b.data : "", kc->out);
                }
                buf_free(&b);
            }
            json_decref(req);
            json_decref(reply);
            json_decref(d);
            continue;
        }
        json_t *req = NULL, *reply = NULL;
        const char *done;
        if (!strcmp(sub, "pause") || !strcmp(sub, "resume")) {
            int pause = !strcmp(sub, "pause");
            req = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:{s:b}}}", "op", "patch", "kind", "Deployment",
                            "namespace", kc->ns, "name", name, "type", "merge", "patch", "spec", "paused", pause);
            done = pause ? "paused" : "resumed";
        } else {
            req = json_pack("{s:s, s:s, s:s, s:s, s:I}", "op", "rollout", "action", sub, "namespace", kc->ns, "name",
                            name, "toRevision", (json_int_t)to_revision);
            done = !strcmp(sub, "restart") ? "restarted" : "rolled back";
        }
        if (rollout_call(kc, req, &reply)) {
            errors++;
        } else if (kc->output && strcmp(kc->output, "name")) {
            json_t *items = json_pack("[O]", json_object_get(reply, "object"));
            if (json_object_get(reply, "object") && kc_print_objects(kc, items, 1)) errors++;
            json_decref(items);
        } else if (kc->output) {
            fprintf(kc->out, "deployment.apps/%s\n", name);
        } else {
            fprintf(kc->out, "deployment.apps/%s %s\n", name, done);
        }
        json_decref(req);
        json_decref(reply);
    }
    status = errors ? 1 : 0;
out:
    kcw_refs_free(refs, nrefs);
    free(pos);
    return status;
}
