/* podspec: environment, argv and volumes of a container (see podspec.h). */
#include "cluster/podspec.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster/manifest.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/util.h"

#define PODSPEC_MAX_KEYS 256  /* files of one ConfigMap or Secret volume */

/* The pod's app label, else the name it was generated from. */
static const char *workload_name(const json_t *pod)
{
    const char *app = json_path_str(pod, "metadata.labels.app", NULL);
    return app ? app : json_path_str(pod, "metadata.name", "");
}

/* An ordered environment: later settings of a name replace earlier ones. */
static void env_set(json_t *env, const char *name, const char *value)
{
    json_object_set_new(env, name, json_string(value));
}

/* USER_SERVICE_SERVICE_HOST and friends, for every Service of the pod's
 * namespace, as kubelet injects them. */
static void service_env(struct daemon *d, const char *ns, json_t *env)
{
    json_t *svcs = store_list(d->store, "Service", ns);
    size_t i;
    json_t *svc;
    json_array_foreach(svcs, i, svc) {
        const char *ip = json_path_str(svc, "spec.clusterIP", NULL);
        if (!ip || !strcmp(ip, "None")) continue;
        char prefix[128];
        const char *name = json_path_str(svc, "metadata.name", "");
        size_t k = 0;
        for (; name[k] && k < sizeof prefix - 1; k++)
            prefix[k] = name[k] == '-' ? '_' : (char)toupper((unsigned char)name[k]);
        prefix[k] = '\0';
        json_t *ports = json_path(svc, "spec.ports");
        size_t j;
        json_t *p;
        char key[256], val[256];
        json_array_foreach(ports, j, p) {
            json_int_t port = json_path_int(p, "port", 0);
            const char *proto = json_path_str(p, "protocol", "TCP");
            char lproto[8];
            snprintf(lproto, sizeof lproto, "%s", proto);
            for (char *c = lproto; *c; c++) *c = (char)tolower((unsigned char)*c);
            if (j == 0) {
                snprintf(key, sizeof key, "%s_SERVICE_HOST", prefix);
                env_set(env, key, ip);
                snprintf(key, sizeof key, "%s_SERVICE_PORT", prefix);
                snprintf(val, sizeof val, "%lld", (long long)port);
                env_set(env, key, val);
                snprintf(key, sizeof key, "%s_PORT", prefix);
                snprintf(val, sizeof val, "%s://%s:%lld", lproto, ip, (long long)port);
                env_set(env, key, val);
            }
            const char *pname = json_path_str(p, "name", NULL);
            if (pname) {
                char up[64];
                size_t m = 0;
                for (; pname[m] && m < sizeof up - 1; m++)
                    up[m] = pname[m] == '-' ? '_' : (char)toupper((unsigned char)pname[m]);
                up[m] = '\0';
                snprintf(key, sizeof key, "%s_SERVICE_PORT_%s", prefix, up);
                snprintf(val, sizeof val, "%lld", (long long)port);
                env_set(env, key, val);
            }
            snprintf(key, sizeof key, "%s_PORT_%lld_%s", prefix, (long long)port, proto);
            snprintf(val, sizeof val, "%s://%s:%lld", lproto, ip, (long long)port);
            env_set(env, key, val);
            snprintf(key, sizeof key, "%s_PORT_%lld_%s_PROTO", prefix, (long long)port, proto);
            env_set(env, key, lproto);
            snprintf(key, sizeof key, "%s_PORT_%lld_%s_PORT", prefix, (long long)port, proto);
            snprintf(val, sizeof val, "%lld", (long long)port);
            env_set(env, key, val);
            snprintf(key, sizeof key, "%s_PORT_%lld_%s_ADDR", prefix, (long long)port, proto);
            env_set(env, key, ip);
        }
    }
    json_decref(svcs);
}

/* The bytes of a ConfigMap or Secret key (Secret data is base64). */
static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

static char *b64decode(const char *s, size_t *outlen)
{
    size_t n = strlen(s);
    char *out = xmalloc(n * 3 / 4 + 4);
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0) continue; /* padding, newlines */
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

/* Value of key in a ConfigMap (data) or Secret (data base64 or stringData). */
static char *lookup_key(struct daemon *d, const char *kind, const char *ns, const char *name, const char *key,
                        int *missing_obj)
{
    json_t *o = store_get(d->store, kind, ns, name);
    *missing_obj = !o;
    if (!o) return NULL;
    if (!strcmp(kind, "Secret")) {
        const char *v = json_path_str(json_path(o, "stringData"), key, NULL);
        if (v) return xstrdup(v);
        v = json_is_object(json_path(o, "data")) ? json_string_value(json_object_get(json_path(o, "data"), key))
                                                  : NULL;
        if (!v) return NULL;
        size_t n;
        return b64decode(v, &n);
    }
    json_t *data = json_path(o, "data");
    json_t *v = json_is_object(data) ? json_object_get(data, key) : NULL;
    return json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
}

static int field_ref(const json_t *pod, const char *path, char *out, size_t n)
{
    if (!strcmp(path, "metadata.name")) return snprintf(out, n, "%s", json_path_str(pod, "metadata.name", "")), 0;
    if (!strcmp(path, "metadata.namespace"))
        return snprintf(out, n, "%s", json_path_str(pod, "metadata.namespace", "")), 0;
    if (!strcmp(path, "metadata.uid")) return snprintf(out, n, "%s", json_path_str(pod, "metadata.uid", "")), 0;
    if (!strcmp(path, "status.podIP") || !strcmp(path, "status.podIPs"))
        return snprintf(out, n, "%s", json_path_str(pod, "status.podIP", "")), 0;
    if (!strcmp(path, "status.hostIP"))
        return snprintf(out, n, "%s", json_path_str(pod, "status.hostIP", "")), 0;
    if (!strcmp(path, "spec.nodeName")) return snprintf(out, n, "%s", DAEMON_NODE_NAME), 0;
    if (!strcmp(path, "spec.serviceAccountName")) return snprintf(out, n, "default"), 0;
    const char *pre[] = {"metadata.labels['", "metadata.annotations['"};
    for (int i = 0; i < 2; i++) {
        size_t pl = strlen(pre[i]);
        if (!strncmp(path, pre[i], pl)) {
            char key[256];
            snprintf(key, sizeof key, "%s", path + pl);
            char *q = strstr(key, "']");
            if (!q) break;
            *q = '\0';
            json_t *m = json_path(pod, i ? "metadata.annotations" : "metadata.labels");
            json_t *v = json_is_object(m) ? json_object_get(m, key) : NULL;
            snprintf(out, n, "%s", json_is_string(v) ? json_string_value(v) : "");
            return 0;
        }
    }
    return -EINVAL;
}

/* $(VAR) expansion as Kubernetes does it: known variables expand, $$
 * escapes, unknown references stay as they are. */
static char *expand(const char *s, const json_t *env)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    for (const char *p = s; *p;) {
        if (p[0] == '$' && p[1] == '$') {
            buf_append(&b, "$", 1);
            p += 2;
        } else if (p[0] == '$' && p[1] == '(') {
            const char *end = strchr(p + 2, ')');
            if (end) {
                char name[256];
                size_t n = (size_t)(end - p - 2);
                if (n < sizeof name) {
                    memcpy(name, p + 2, n);
                    name[n] = '\0';
                    json_t *v = json_object_get(env, name);
                    if (json_is_string(v)) {
                        buf_puts(&b, json_string_value(v));
                        p = end + 1;
                        continue;
                    }
                }
            }
            buf_append(&b, p, 1);
            p++;
        } else {
            buf_append(&b, p, 1);
            p++;
        }
    }
    return buf_steal(&b);
}

static int container_env(struct daemon *d, const json_t *pod, const json_t *ctr, json_t *env, char *err,
                         size_t errlen)
{
    const char *ns = json_path_str(pod, "metadata.namespace", "default");
    const char *podname = json_path_str(pod, "metadata.name", "");
    /* envFrom first, then env (env wins), as kubelet does. */
    size_t i;
    json_t *e;
    json_array_foreach(json_path(ctr, "envFrom"), i, e) {
        const char *kind = json_path(e, "configMapRef") ? "ConfigMap" : "Secret";
        const json_t *ref = json_path(e, kind[0] == 'C' ? "configMapRef" : "secretRef");
        const char *name = json_path_str(ref, "name", "");
        json_t *o = store_get(d->store, kind, ns, name);
        if (!o) {
            if (json_is_true(json_path(ref, "optional"))) continue;
            snprintf(err, errlen, "%s \"%s\" not found", kind[0] == 'C' ? "configmap" : "secret", name);
            return -EINVAL;
        }
        const char *prefix = json_path_str(e, "prefix", "");
        const char *k;
        json_t *v;
        json_object_foreach(json_path(o, "data"), k, v) {
            int miss;
            char *val = lookup_key(d, kind, ns, name, k, &miss);
            char full[512];
            snprintf(full, sizeof full, "%s%s", prefix, k);
            if (val) env_set(env, full, val);
            free(val);
        }
    }
    json_array_foreach(json_path(ctr, "env"), i, e) {
        const char *name = json_path_str(e, "name", NULL);
        if (!name) continue;
        json_t *from = json_path(e, "valueFrom");
        if (!from) {
            char *v = expand(json_path_str(e, "value", ""), env);
            env_set(env, name, v);
            free(v);
            continue;
        }
        const json_t *cm = json_path(from, "configMapKeyRef"), *sec = json_path(from, "secretKeyRef");
        const json_t *fr = json_path(from, "fieldRef");
        if (cm || sec) {
            const json_t *ref = cm ? cm : sec;
            const char *kind = cm ? "ConfigMap" : "Secret";
            const char *oname = json_path_str(ref, "name", ""), *key = json_path_str(ref, "key", "");
            int missing;
            char *v = lookup_key(d, kind, ns, oname, key, &missing);
            if (!v) {
                if (json_is_true(json_path(ref, "optional"))) continue;
                if (missing) snprintf(err, errlen, "%s \"%s\" not found", cm ? "configmap" : "secret", oname);
                else snprintf(err, errlen, "couldn't find key %s in %s %s/%s", key, kind, ns, oname);
                return -EINVAL;
            }
            env_set(env, name, v);
            free(v);
        } else if (fr) {
            char v[512];
            if (field_ref(pod, json_path_str(fr, "fieldPath", ""), v, sizeof v)) {
                snprintf(err, errlen, "unsupported fieldPath \"%s\" for env %s in pod %s",
                         json_path_str(fr, "fieldPath", ""), name, podname);
                return -EINVAL;
            }
            env_set(env, name, v);
        } else {
            snprintf(err, errlen, "env %s: valueFrom needs configMapKeyRef, secretKeyRef or fieldRef", name);
            return -EINVAL;
        }
    }
    return 0;
}

int podspec_build(struct daemon *d, const json_t *pod, const json_t *ctr, const char *root, json_t **spec,
                  char *err, size_t errlen)
{
    const char *ns = json_path_str(pod, "metadata.namespace", "default");
    char net[8], path[PATH_MAX + 128];
    snprintf(net, sizeof net, "%d", d->lab.net);
    json_t *env = json_object();
    snprintf(path, sizeof path, "%s:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", d->appsbin);
    env_set(env, "PATH", path);
    env_set(env, "HOSTNAME", json_path_str(pod, "metadata.name", ""));
    env_set(env, "HOME", root);
    env_set(env, "LANG", "C.UTF-8");
    service_env(d, ns, env);
    /* Where the lab's trace store takes spans (a node-local collector, as
     * an OpenTelemetry agent on the host IP would be); a manifest may say
     * otherwise. */
    char otlp[64], node[16];
    lab_node_ip(&d->lab, node, sizeof node);
    snprintf(otlp, sizeof otlp, "http://%s:%d", node, LAB_TRACES_OTLP_PORT);
    env_set(env, "OTEL_EXPORTER_OTLP_ENDPOINT", otlp);
    env_set(env, "OTEL_SERVICE_NAME", workload_name(pod));
    int rc = container_env(d, pod, ctr, env, err, errlen);
    if (rc) {
        json_decref(env);
        return rc;
    }
    /* The shim's settings come last: a manifest cannot switch them off. */
    env_set(env, "LD_PRELOAD", d->shim);
    env_set(env, "AIOPSLAB_POD_IP", json_path_str(pod, "status.podIP", ""));
    env_set(env, "AIOPSLAB_LAB_NET", net);

    json_t *argv = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(json_path(ctr, "command"), i, a) {
        char *x = expand(json_string_value(a) ? json_string_value(a) : "", env);
        json_array_append_new(argv, json_string(x));
        free(x);
    }
    json_array_foreach(json_path(ctr, "args"), i, a) {
        char *x = expand(json_string_value(a) ? json_string_value(a) : "", env);
        json_array_append_new(argv, json_string(x));
        free(x);
    }
    if (json_array_size(argv) == 0) {
        json_decref(env);
        json_decref(argv);
        snprintf(err, errlen,
                 "container %s has no command: aiopslab runs a container's command as a local program, "
                 "so set command (and args)",
                 json_path_str(ctr, "name", ""));
        return -EINVAL;
    }
    json_t *envlist = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(env, k, v) {
        char *kv = xasprintf("%s=%s", k, json_string_value(v));
        json_array_append_new(envlist, json_string(kv));
        free(kv);
    }
    json_decref(env);

    const char *wd = json_path_str(ctr, "workingDir", NULL);
    char cwd[PATH_MAX + 512];
    snprintf(cwd, sizeof cwd, "%s%s%s", root, wd && wd[0] == '/' ? "" : "/", wd ? wd : "");
    if (wd) mkdir_p(cwd, 0755);

    long long mem = 0;
    long cpu = 0;
    const char *ms = json_path_str(ctr, "resources.limits.memory", NULL);
    const char *cs = json_path_str(ctr, "resources.limits.cpu", NULL);
    json_t *cpuv = json_path(ctr, "resources.limits.cpu");
    char cpubuf[32];
    if (!cs && json_is_number(cpuv)) {
        snprintf(cpubuf, sizeof cpubuf, "%g", json_number_value(cpuv));
        cs = cpubuf;
    }
    json_t *memv = json_path(ctr, "resources.limits.memory");
    char membuf[32];
    if (!ms && json_is_integer(memv)) {
        snprintf(membuf, sizeof membuf, "%lld", (long long)json_integer_value(memv));
        ms = membuf;
    }
    if (ms) manifest_parse_memory(ms, &mem);
    if (cs) manifest_parse_cpu(cs, &cpu);
    json_int_t uid = json_path_int(ctr, "securityContext.runAsUser", json_path_int(pod, "spec.securityContext.runAsUser", -1));
    json_int_t gid = json_path_int(ctr, "securityContext.runAsGroup", json_path_int(pod, "spec.securityContext.runAsGroup", uid));
    char cg[256];
    snprintf(cg, sizeof cg, "aiopslab-%s-%s-%s", d->lab.name, json_path_str(pod, "metadata.uid", ""),
             json_path_str(ctr, "name", ""));
    *spec = json_pack("{s:o, s:o, s:s, s:I, s:i, s:I, s:I, s:s, s:s, s:I}", "argv", argv, "env", envlist, "cwd",
                      cwd, "logMaxBytes", (json_int_t)10 << 20, "logMaxFiles", 3, "memoryLimitBytes",
                      (json_int_t)mem, "cpuLimitMillis", (json_int_t)cpu, "limits", "auto", "cgroupName", cg,
                      "gracePeriodSeconds", json_path_int(pod, "spec.terminationGracePeriodSeconds", 30));
    if (uid >= 0) {
        json_object_set_new(*spec, "runAsUser", json_integer(uid));
        json_object_set_new(*spec, "runAsGroup", json_integer(gid >= 0 ? gid : uid));
    }
    return 0;
}

/* ---- ConfigMap and Secret volumes, written as kubelet's AtomicWriter does ----
 * A volume's files live in a hidden folder named after the time of the
 * write (..2024_01_02_03_04_05.123456789); the symlink ..data points at the
 * current one and every visible name is a symlink through it (KEY ->
 * ..data/KEY). An update writes a new folder and swaps ..data with one
 * rename(2): a reader sees the old set of files or the new one, never a
 * mix, and a program that reopens its file sees the change. */

struct payload {
    size_t n;
    char *path[PODSPEC_MAX_KEYS];
    char *data[PODSPEC_MAX_KEYS];
    size_t len[PODSPEC_MAX_KEYS];
};

static void payload_free(struct payload *pl)
{
    for (size_t i = 0; i < pl->n; i++) {
        free(pl->path[i]);
        free(pl->data[i]);
    }
    pl->n = 0;
}

/* The first component of a key's path ("conf" of "conf/app.conf"). */
static void top_name(const char *path, char *out, size_t n)
{
    snprintf(out, n, "%.*s", (int)strcspn(path, "/"), path);
}

static int payload_has_top(const struct payload *pl, const char *name)
{
    char t[256];
    for (size_t i = 0; i < pl->n; i++) {
        top_name(pl->path[i], t, sizeof t);
        if (!strcmp(t, name)) return 1;
    }
    return 0;
}

/* The files of a ConfigMap or Secret volume (all keys, or items). 0, or
 * -EINVAL with kubelet's message; an absent optional source is empty. */
static int payload_build(struct daemon *d, const char *kind, const char *ns, const char *name, const json_t *items,
                         int optional, struct payload *pl, char *err, size_t errlen)
{
    pl->n = 0;
    json_t *o = store_get(d->store, kind, ns, name);
    if (!o) {
        if (optional) return 0;
        snprintf(err, errlen, "%s \"%s\" not found", kind[0] == 'C' ? "configmap" : "secret", name);
        return -EINVAL;
    }
    json_t *keys = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(json_path(o, "data"), k, v) json_object_set_new(keys, k, json_string(k));
    json_object_foreach(json_path(o, "stringData"), k, v) json_object_set_new(keys, k, json_string(k));
    if (json_array_size(items)) {
        json_object_clear(keys);
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
            json_object_set_new(keys, json_path_str(it, "key", ""), json_string(json_path_str(it, "path", "")));
    }
    int rc = 0;
    json_object_foreach(keys, k, v) {
        const char *path = json_string_value(v);
        if (!*path || path[0] == '/' || strstr(path, "..")) {
            snprintf(err, errlen, "invalid path \"%s\" for key %s", path, k);
            rc = -EINVAL;
            break;
        }
        if (pl->n >= PODSPEC_MAX_KEYS) {
            snprintf(err, errlen, "%s %s/%s has more than %d keys", kind, ns, name, PODSPEC_MAX_KEYS);
            rc = -EINVAL;
            break;
        }
        int missing;
        char *val = lookup_key(d, kind, ns, name, k, &missing);
        if (!val) {
            if (!strcmp(kind, "Secret"))
                snprintf(err, errlen, "couldn't find key %s in Secret %s/%s", k, ns, name);
            else
                snprintf(err, errlen, "configmap references non-existent config key: %s", k);
            rc = -EINVAL;
            break;
        }
        size_t n = strlen(val);
        if (!strcmp(kind, "Secret") && !json_path_str(json_path(o, "stringData"), k, NULL)) {
            free(val);
            const char *b = json_string_value(json_object_get(json_path(o, "data"), k));
            val = b64decode(b ? b : "", &n);
        }
        pl->path[pl->n] = xstrdup(path);
        pl->data[pl->n] = val;
        pl->len[pl->n] = n;
        pl->n++;
    }
    json_decref(keys);
    if (rc) payload_free(pl);
    return rc;
}

/* Whether dir shows exactly pl already (then an update is no change). */
static int payload_current(const char *dir, const struct payload *pl)
{
    char path[PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/..data", dir);
    struct stat st;
    if (lstat(path, &st) < 0 || !S_ISLNK(st.st_mode)) return 0;
    for (size_t i = 0; i < pl->n; i++) {
        struct buf b;
        buf_init(&b, pl->len[i] + 1);
        snprintf(path, sizeof path, "%s/..data/%s", dir, pl->path[i]);
        int same = read_file(path, &b) == 0 && b.len == pl->len[i] && !memcmp(b.data, pl->data[i], b.len);
        buf_free(&b);
        if (!same) return 0;
    }
    DIR *dd = opendir(dir);
    if (!dd) return 0;
    int same = 1;
    struct dirent *e;
    while (same && (e = readdir(dd)))
        if (strncmp(e->d_name, "..", 2) && strcmp(e->d_name, ".")) same = payload_has_top(pl, e->d_name);
    closedir(dd);
    return same;
}

/* Point dir/name at target with a rename over whatever is there. */
static int swap_link(const char *dir, const char *name, const char *target)
{
    char link[PATH_MAX + 300], tmp[PATH_MAX + 300], cur[PATH_MAX];
    snprintf(link, sizeof link, "%s/%s", dir, name);
    ssize_t n = readlink(link, cur, sizeof cur - 1);
    if (n >= 0) {
        cur[n] = '\0';
        if (!strcmp(cur, target)) return 0;
    } else {
        struct stat st;
        if (lstat(link, &st) == 0 && S_ISDIR(st.st_mode)) rm_rf(link); /* a folder of an older layout */
    }
    snprintf(tmp, sizeof tmp, "%s/..link_tmp", dir);
    unlink(tmp);
    if (symlink(target, tmp) < 0 || rename(tmp, link) < 0) {
        int e = -errno;
        unlink(tmp);
        return e;
    }
    return 0;
}

/* Write pl into dir as the volume's new contents (nothing when it shows
 * them already): 1 written, 0 unchanged, or a negative errno. */
static int atomic_write(const char *dir, const struct payload *pl)
{
    if (payload_current(dir, pl)) return 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[96], tsdir[PATH_MAX + 300], path[PATH_MAX + 600];
    snprintf(stamp, sizeof stamp, "..%04d_%02d_%02d_%02d_%02d_%02d.%09ld", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)ts.tv_nsec);
    snprintf(tsdir, sizeof tsdir, "%s/%s", dir, stamp);
    if (mkdir(tsdir, 0755) < 0) return -errno;
    for (size_t i = 0; i < pl->n; i++) {
        snprintf(path, sizeof path, "%s/%s", tsdir, pl->path[i]);
        char *slash = strrchr(path, '/');
        *slash = '\0';
        mkdir_p(path, 0755);
        *slash = '/';
        int rc = write_file_replace(path, pl->data[i], pl->len[i]);
        if (rc) {
            rm_rf(tsdir);
            return rc;
        }
    }
    int rc = swap_link(dir, "..data", stamp);
    if (rc) {
        rm_rf(tsdir);
        return rc;
    }
    /* Visible names through ..data; names no longer in the source go, and
     * so do the folders of earlier writes. */
    char t[256], target[300];
    for (size_t i = 0; i < pl->n && !rc; i++) {
        top_name(pl->path[i], t, sizeof t);
        snprintf(target, sizeof target, "..data/%s", t);
        rc = swap_link(dir, t, target);
    }
    DIR *dd = opendir(dir);
    struct dirent *e;
    while (dd && (e = readdir(dd))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "..data") ||
            !strcmp(e->d_name, stamp))
            continue;
        if (!strncmp(e->d_name, "..", 2) || !payload_has_top(pl, e->d_name)) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            rm_rf(path);
        }
    }
    if (dd) closedir(dd);
    return rc ? rc : 1;
}

/* The uid and gid a pod runs as (-1 when not set). */
static void pod_owner(const json_t *pod, json_int_t *uid, json_int_t *gid)
{
    *uid = json_path_int(pod, "spec.securityContext.runAsUser", -1);
    size_t i;
    json_t *c;
    json_array_foreach(json_path(pod, "spec.containers"), i, c)
        if (*uid < 0) *uid = json_path_int(c, "securityContext.runAsUser", -1);
    *gid = json_path_int(pod, "spec.securityContext.fsGroup",
                         json_path_int(pod, "spec.securityContext.runAsGroup", *uid));
}

/* A ConfigMap or Secret volume's source: kind, name, items, optional;
 * 0 for any other volume. */
static int volume_source(const json_t *v, const char **kind, const char **name, const json_t **items, int *optional)
{
    if (json_path(v, "configMap")) {
        *kind = "ConfigMap";
        *name = json_path_str(v, "configMap.name", "");
        *items = json_path(v, "configMap.items");
        *optional = json_is_true(json_path(v, "configMap.optional"));
        return 1;
    }
    if (json_path(v, "secret")) {
        *kind = "Secret";
        *name = json_path_str(v, "secret.secretName", "");
        *items = json_path(v, "secret.items");
        *optional = json_is_true(json_path(v, "secret.optional"));
        return 1;
    }
    return 0;
}

/* The version of a volume's source as the store has it ("uid/rv", or
 * "absent"): what podspec_refresh_volumes compares. */
static void source_version(struct daemon *d, const char *kind, const char *ns, const char *name, char *out, size_t n)
{
    json_t *o = store_get(d->store, kind, ns, name);
    if (!o)
        snprintf(out, n, "absent");
    else
        snprintf(out, n, "%s/%s", json_path_str(o, "metadata.uid", ""),
                 json_path_str(o, "metadata.resourceVersion", ""));
}

static int project(struct daemon *d, const char *kind, const char *ns, const char *name, const json_t *items,
                   const char *dir, char *err, size_t errlen, int optional)
{
    struct payload pl;
    int rc = payload_build(d, kind, ns, name, items, optional, &pl, err, errlen);
    if (rc) return rc;
    rc = atomic_write(dir, &pl);
    payload_free(&pl);
    if (rc < 0) {
        snprintf(err, errlen, "cannot write the volume's files: %s", strerror(-rc));
        return rc;
    }
    return rc;
}

int podspec_refresh_volumes(struct daemon *d, const json_t *pod, const char *poddir, json_t *versions, char *err,
                            size_t errlen)
{
    const char *ns = json_path_str(pod, "metadata.namespace", "default");
    int written = 0, failed = 0;
    size_t i;
    json_t *v;
    json_array_foreach(json_path(pod, "spec.volumes"), i, v) {
        const char *kind, *name, *vname = json_path_str(v, "name", "");
        const json_t *items;
        int optional;
        if (!volume_source(v, &kind, &name, &items, &optional)) continue;
        char ver[160];
        source_version(d, kind, ns, name, ver, sizeof ver);
        const char *seen = json_string_value(json_object_get(versions, vname));
        if (seen && !strcmp(seen, ver)) continue;
        /* Recorded even when it fails: the next try waits for a new version. */
        json_object_set_new(versions, vname, json_string(ver));
        char dir[PATH_MAX + 300], e[512];
        snprintf(dir, sizeof dir, "%s/volumes/%s", poddir, vname);
        int rc = project(d, kind, ns, name, items, dir, e, sizeof e, optional);
        if (rc < 0) {
            if (!failed) snprintf(err, errlen, "MountVolume.SetUp failed for volume \"%s\" : %s", vname, e);
            failed = 1;
            continue;
        }
        if (rc == 0) continue;
        written++;
        json_int_t uid, gid;
        pod_owner(pod, &uid, &gid);
        if (uid >= 0 && geteuid() == 0) chown_tree(dir, (uid_t)uid, (gid_t)gid);
    }
    return failed ? -EINVAL : written;
}

int podspec_volumes(struct daemon *d, const json_t *pod, const char *poddir, char *err, size_t errlen)
{
    const char *ns = json_path_str(pod, "metadata.namespace", "default");
    char root[PATH_MAX], vol[PATH_MAX + 300];
    snprintf(root, sizeof root, "%s/root", poddir);
    mkdir_p(root, 0755);
    size_t i;
    json_t *v;
    json_array_foreach(json_path(pod, "spec.volumes"), i, v) {
        const char *name = json_path_str(v, "name", "");
        snprintf(vol, sizeof vol, "%s/volumes/%s", poddir, name);
        mkdir_p(vol, 0755);
        int rc = 0;
        const char *kind, *source;
        const json_t *items;
        int optional;
        if (volume_source(v, &kind, &source, &items, &optional))
            rc = project(d, kind, ns, source, items, vol, err, errlen, optional);
        if (rc < 0) {
            char msg[512];
            snprintf(msg, sizeof msg, "MountVolume.SetUp failed for volume \"%s\" : %s", name, err);
            snprintf(err, errlen, "%s", msg);
            return rc;
        }
    }
    /* Link every mount path into the pod's root. */
    json_t *c;
    json_array_foreach(json_path(pod, "spec.containers"), i, c) {
        size_t j;
        json_t *m;
        json_array_foreach(json_path(c, "volumeMounts"), j, m) {
            const char *mp = json_path_str(m, "mountPath", "");
            if (!*mp || strstr(mp, "..")) continue;
            char link[PATH_MAX + 600];
            snprintf(vol, sizeof vol, "%s/volumes/%s", poddir, json_path_str(m, "name", ""));
            snprintf(link, sizeof link, "%s%s%s", root, mp[0] == '/' ? "" : "/", mp);
            char parent[sizeof link];
            snprintf(parent, sizeof parent, "%s", link);
            char *slash = strrchr(parent, '/');
            if (slash) {
                *slash = '\0';
                mkdir_p(parent, 0755);
            }
            struct stat st;
            if (lstat(link, &st) == 0) continue;
            if (symlink(vol, link) < 0 && errno != EEXIST) {
                snprintf(err, errlen, "cannot mount volume at %s: %s", mp, strerror(errno));
                return -errno;
            }
        }
    }
    /* A pod that runs as another user owns its folders (root only). */
    json_int_t uid, gid;
    pod_owner(pod, &uid, &gid);
    if (uid >= 0 && geteuid() == 0) {
        char vols[PATH_MAX + 16];
        snprintf(vols, sizeof vols, "%s/volumes", poddir);
        chown_tree(root, (uid_t)uid, (gid_t)gid);
        chown_tree(vols, (uid_t)uid, (gid_t)gid);
    }
    return 0;
}

int podspec_port(const json_t *pod, const json_t *port)
{
    if (json_is_integer(port)) return (int)json_integer_value(port);
    if (!json_is_string(port)) return 0;
    const char *s = json_string_value(port);
    long n;
    if (parse_long(s, 1, 65535, &n) == 0) return (int)n;
    size_t i, j;
    json_t *c, *p;
    json_array_foreach(json_path(pod, "spec.containers"), i, c) {
        json_array_foreach(json_path(c, "ports"), j, p) {
            if (!strcmp(json_path_str(p, "name", ""), s)) return (int)json_path_int(p, "containerPort", 0);
        }
    }
    return 0;
}
