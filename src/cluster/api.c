/* api: the daemon's request handling — a Unix socket, one JSON request
 * line in, one JSON reply line out (the protocol is in client.h). Every
 * request is bounded and validated; a bad request gets an error reply and
 * never disturbs what runs. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster/applyset.h"
#include "cluster/client.h"
#include "cluster/daemon.h"
#include "cluster/manifest.h"
#include "cluster/patch.h"
#include "cluster/selector.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"

#define API_MAX_CONNS 256      /* on daemon.sock */
#define API_MAX_AGENT_CONNS 64 /* on agent.sock: an agent cannot crowd the lab's own clients out */
#define API_REQUEST_MS 30000 /* default: the whole request must arrive within this after the accept */
#define API_REPLY_MS 30000   /* default: the reply must be taken within this after it is queued */

struct conn {
    uv_pipe_t pipe;
    uv_timer_t deadline; /* bounds the connection's life: see "connections" below */
    int open_handles;    /* of pipe and deadline, not yet closed; freed at 0 */
    int closing;
    struct daemon *d;
    struct buf in;
    int done; /* a reply is queued: reading has stopped */
    int shutdown_after;
    int agent; /* came in on agent.sock: the agents' view (see api_start) */
};

static int open_conns[2]; /* by conn.agent */
static uint64_t api_request_ms = API_REQUEST_MS, api_reply_ms = API_REPLY_MS;

json_t *api_error(int code, const char *reason, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return json_pack("{s:{s:i, s:s, s:s}}", "error", "code", code, "reason", reason, "message", msg);
}

/* "pods", "deployments.apps" — how kubectl names a kind in messages. */
static void resource_name(const char *kind, char *out, size_t n)
{
    const char *r = manifest_resource_of_kind(kind);
    int apps = !strcmp(kind, "Deployment") || !strcmp(kind, "ReplicaSet");
    snprintf(out, n, "%s%s", r ? r : kind, apps ? ".apps" : "");
}

static json_t *not_found(const char *kind, const char *name)
{
    char r[64];
    resource_name(kind, r, sizeof r);
    return api_error(404, "NotFound", "%s \"%s\" not found", r, name);
}

static const char *req_str(const json_t *req, const char *key)
{
    json_t *v = json_object_get(req, key);
    return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

/* Common checks of kind and namespace; returns an error reply or NULL. */
static json_t *check_target(struct daemon *d, const char *kind, const char **ns, int need_ns_exists)
{
    if (!kind || !manifest_kind_known(kind)) return api_error(400, "BadRequest", "unknown kind \"%s\"", kind ? kind : "");
    if (!manifest_kind_namespaced(kind)) {
        *ns = NULL;
        return NULL;
    }
    if (*ns && need_ns_exists && !store_get(d->store, "Namespace", NULL, *ns))
        return api_error(404, "NotFound", "namespaces \"%s\" not found", *ns);
    return NULL;
}

/* New content cannot go into a namespace that is being deleted. */
static json_t *check_not_terminating(struct daemon *d, const char *kind, const char *ns, const char *name)
{
    json_t *nso = ns ? store_get(d->store, "Namespace", NULL, ns) : NULL;
    if (!nso || !json_path(nso, "metadata.deletionTimestamp")) return NULL;
    char r[64];
    resource_name(kind, r, sizeof r);
    return api_error(403, "Forbidden",
                     "%s \"%s\" is forbidden: unable to create new content in namespace %s because it is being "
                     "terminated",
                     r, name, ns);
}

static json_t *op_get(struct daemon *d, json_t *req)
{
    const char *kind = req_str(req, "kind"), *ns = req_str(req, "namespace"), *name = req_str(req, "name");
    const char *sel = req_str(req, "selector");
    json_t *e = check_target(d, kind, &ns, 0);
    if (e) return e;
    if (name) {
        json_t *obj = store_get(d->store, kind, ns, name);
        if (!obj) return not_found(kind, name);
        return json_pack("{s:[O]}", "items", obj);
    }
    json_t *all = store_list(d->store, kind, ns), *items = json_array();
    size_t i;
    json_t *obj;
    char err[256];
    json_array_foreach(all, i, obj) {
        if (sel) {
            int m = selector_match_string(sel, json_path(obj, "metadata.labels"), err, sizeof err);
            if (m < 0) {
                json_decref(all);
                json_decref(items);
                return api_error(400, "BadRequest", "unable to parse requirement: %s", err);
            }
            if (!m) continue;
        }
        json_array_append(items, obj);
    }
    json_decref(all);
    return json_pack("{s:o}", "items", items);
}

/* Equal apart from resourceVersion? */
static int same_object(const json_t *a, const json_t *b)
{
    json_t *x = json_deep_copy(a), *y = json_deep_copy(b);
    json_object_del(json_path(x, "metadata"), "resourceVersion");
    json_object_del(json_path(y, "metadata"), "resourceVersion");
    int eq = json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return eq;
}

static void base64(const unsigned char *in, size_t n, struct buf *out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        char q[4] = {tbl[v >> 18 & 63], tbl[v >> 12 & 63], i + 1 < n ? tbl[v >> 6 & 63] : '=', i + 2 < n ? tbl[v & 63] : '='};
        buf_append(out, q, 4);
    }
}

/* A Secret's stringData goes into data (base64), as the API server
 * stores it; type defaults to Opaque. */
static void fold_string_data(json_t *secret)
{
    json_t *sd = json_object_get(secret, "stringData");
    if (json_is_object(sd)) {
        json_t *data = json_path_obj(secret, "data");
        const char *k;
        json_t *v;
        json_object_foreach(sd, k, v) {
            if (!json_is_string(v)) continue;
            struct buf b;
            buf_init(&b, 64u << 20);
            base64((const unsigned char *)json_string_value(v), json_string_length(v), &b);
            json_object_set_new(data, k, json_string(b.data ? b.data : ""));
            buf_free(&b);
        }
        json_object_del(secret, "stringData");
    }
    if (!json_is_string(json_object_get(secret, "type"))) json_object_set_new(secret, "type", json_string("Opaque"));
}

/* Turn an incoming object into the stored update of old (NULL: create).
 * Keeps identity, status and allocated fields; enforces immutables. On
 * success *out holds the object to store (new reference). */
static json_t *prepare_update(struct daemon *d, const json_t *old, json_t *in, json_t **out)
{
    char err[512];
    const json_t *bad = NULL;
    const char *kind = json_path_str(in, "kind", "");
    const char *name = json_path_str(in, "metadata.name", "");
    if (manifest_validate(in, err, sizeof err, &bad)) {
        char r[64];
        resource_name(kind, r, sizeof r);
        return api_error(422, "Invalid", "%s \"%s\" is invalid: %s", r, name, err);
    }
    json_t *obj = json_deep_copy(in);
    json_t *meta = json_path_obj(obj, "metadata");
    json_object_del(meta, "resourceVersion");
    if (old) {
        json_object_set(meta, "uid", json_path(old, "metadata.uid"));
        json_object_set(meta, "creationTimestamp", json_path(old, "metadata.creationTimestamp"));
        if (json_path(old, "metadata.deletionTimestamp"))
            json_object_set(meta, "deletionTimestamp", json_path(old, "metadata.deletionTimestamp"));
        if (json_path(old, "metadata.ownerReferences") && !json_object_get(meta, "ownerReferences"))
            json_object_set(meta, "ownerReferences", json_path(old, "metadata.ownerReferences"));
        if (json_object_get(old, "status")) json_object_set_new(obj, "status", json_deep_copy(json_object_get(old, "status")));
        else json_object_del(obj, "status");
    } else {
        json_object_del(meta, "uid");
        json_object_del(meta, "creationTimestamp");
        json_object_del(meta, "deletionTimestamp");
        json_object_del(obj, "status");
        json_object_set_new(meta, "generation", json_integer(1));
    }
    if (!strcmp(kind, "Service")) {
        if (service_assign_ip(d, obj, old, err, sizeof err)) {
            json_decref(obj);
            return api_error(422, "Invalid", "Service \"%s\" is invalid: %s", name, err);
        }
    } else if (!strcmp(kind, "Deployment") && old &&
               !json_equal(json_path(old, "spec.selector"), json_path(obj, "spec.selector"))) {
        json_decref(obj);
        return api_error(422, "Invalid",
                         "Deployment.apps \"%s\" is invalid: spec.selector: Invalid value: field is immutable", name);
    } else if (!strcmp(kind, "Pod") && old && !json_equal(json_path(old, "spec"), json_path(obj, "spec"))) {
        json_decref(obj);
        return api_error(422, "Invalid",
                         "Pod \"%s\" is invalid: spec: Forbidden: pod updates may not change fields other than "
                         "labels and annotations",
                         name);
    } else if (!strcmp(kind, "Pod") && old) {
        json_object_set_new(obj, "spec", json_deep_copy(json_path(old, "spec")));
    }
    if (!strcmp(kind, "Secret")) fold_string_data(obj);
    if (!strcmp(kind, "Namespace") && !old)
        json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Active"));
    if (old) { /* after the defaults above, so that defaulting is no change */
        json_int_t gen = json_path_int(old, "metadata.generation", 1);
        if (!json_same(json_object_get(old, "spec"), json_object_get(obj, "spec"))) gen++;
        json_object_set_new(meta, "generation", json_integer(gen));
    }
    *out = obj;
    return NULL;
}

static json_t *op_apply(struct daemon *d, json_t *req)
{
    json_t *objects = json_object_get(req, "objects");
    int create = json_is_true(json_object_get(req, "create"));
    if (!json_is_array(objects)) return api_error(400, "BadRequest", "apply needs \"objects\": a list");
    /* Validate everything first: a bad object refuses the whole request. */
    json_t *prepared = json_array();
    size_t i;
    json_t *in;
    json_array_foreach(objects, i, in) {
        if (!json_is_object(in)) {
            json_decref(prepared);
            return api_error(400, "BadRequest", "object %zu is not a JSON object", i);
        }
        const char *kind = json_path_str(in, "kind", NULL);
        const char *ns = json_path_str(in, "metadata.namespace", NULL);
        if (!kind || !manifest_kind_known(kind)) {
            json_decref(prepared);
            return api_error(400, "BadRequest", "no matches for kind \"%s\" in version \"%s\"", kind ? kind : "",
                             json_path_str(in, "apiVersion", ""));
        }
        if (manifest_kind_namespaced(kind) && !ns) {
            json_path_set(in, "metadata.namespace", json_string("default"));
            ns = "default";
        }
        if (!manifest_kind_namespaced(kind)) { /* as the API server: cluster-scoped objects have none */
            json_object_del(json_path(in, "metadata"), "namespace");
            ns = NULL;
        }
        if (!*json_path_str(in, "metadata.name", "")) {
            const char *gen = json_path_str(in, "metadata.generateName", NULL);
            if (!gen || !create) {
                json_decref(prepared);
                return api_error(400, "BadRequest", gen ? "cannot use generate name with apply"
                                                        : "resource name may not be empty");
            }
            /* name = generateName + 5 random characters, unused */
            for (int tries = 0; tries < 16; tries++) {
                char uid[37], name[300];
                store_new_uid(uid);
                snprintf(name, sizeof name, "%s%.5s", gen, uid + 24);
                if (!store_get(d->store, kind, ns, name)) {
                    json_path_set(in, "metadata.name", json_string(name));
                    break;
                }
            }
        }
        /* A namespace created earlier in the same request counts. */
        int ns_in_request = 0;
        size_t j;
        json_t *o;
        json_array_foreach(prepared, j, o) {
            if (ns && !strcmp(json_path_str(o, "kind", ""), "Namespace") &&
                !strcmp(json_path_str(o, "metadata.name", ""), ns))
                ns_in_request = 1;
        }
        json_t *e = check_target(d, kind, &ns, !ns_in_request);
        if (e) {
            json_decref(prepared);
            return e;
        }
        const char *name = json_path_str(in, "metadata.name", "");
        json_t *old = store_get(d->store, kind, ns, name);
        if (!old && (e = check_not_terminating(d, kind, ns, name))) {
            json_decref(prepared);
            return e;
        }
        if (old && create) {
            char r[64];
            resource_name(kind, r, sizeof r);
            json_decref(prepared);
            return api_error(409, "AlreadyExists", "%s \"%s\" already exists", r, name);
        }
        json_t *obj = NULL;
        json_t *merged = create ? json_incref(in) : applyset_merge(old, in);
        e = prepare_update(d, old, merged, &obj);
        json_decref(merged);
        if (e) {
            json_decref(prepared);
            return e;
        }
        json_array_append_new(prepared, obj);
    }
    json_t *results = json_array();
    json_t *obj;
    json_array_foreach(prepared, i, obj) {
        const char *kind = json_path_str(obj, "kind", "");
        const char *ns = manifest_kind_namespaced(kind) ? json_path_str(obj, "metadata.namespace", NULL) : NULL;
        const char *name = json_path_str(obj, "metadata.name", "");
        json_t *old = store_get(d->store, kind, ns, name);
        const char *action = !old ? "created" : same_object(old, obj) ? "unchanged" : "configured";
        if (strcmp(action, "unchanged")) store_put(d->store, obj);
        json_array_append_new(results, json_pack("{s:s, s:s?, s:s, s:s, s:O}", "kind", kind, "namespace", ns, "name",
                                                 name, "action", action, "object",
                                                 store_get(d->store, kind, ns, name)));
    }
    json_decref(prepared);
    daemon_kick(d);
    return json_pack("{s:o}", "results", results);
}

/* Mark or remove an object. Pods and Namespaces end gracefully; their
 * dependants go through the garbage collection in the controllers. */
static json_t *delete_object(struct daemon *d, json_t *obj)
{
    /* Names are read from the copy: store_del frees obj. */
    json_t *copy = json_deep_copy(obj);
    const char *kind = json_path_str(copy, "kind", "");
    const char *ns = json_path_str(copy, "metadata.namespace", NULL);
    const char *name = json_path_str(copy, "metadata.name", "");
    if (!strcmp(kind, "Pod") || !strcmp(kind, "Namespace")) {
        if (!json_path(obj, "metadata.deletionTimestamp")) {
            char ts[32];
            time_rfc3339(time(NULL), ts, sizeof ts);
            json_path_set(obj, "metadata.deletionTimestamp", json_string(ts));
            if (!strcmp(kind, "Namespace")) json_path_set(obj, "status.phase", json_string("Terminating"));
            store_put(d->store, obj);
        }
    } else {
        store_del(d->store, kind, ns, name);
        if (!strcmp(kind, "Service")) store_del(d->store, "Endpoints", ns, name);
    }
    daemon_kick(d);
    return copy;
}

static json_t *op_delete(struct daemon *d, json_t *req)
{
    const char *kind = req_str(req, "kind"), *ns = req_str(req, "namespace"), *name = req_str(req, "name");
    json_t *e = check_target(d, kind, &ns, 1);
    if (e) return e;
    if (!name) return api_error(400, "BadRequest", "delete needs a name");
    if (!strcmp(kind, "Namespace") && (!strcmp(name, "default")))
        return api_error(403, "Forbidden", "namespaces \"default\" is forbidden: this namespace may not be deleted");
    json_t *obj = store_get(d->store, kind, ns, name);
    if (!obj) return not_found(kind, name);
    return json_pack("{s:o}", "deleted", delete_object(d, obj));
}

/* Store an updated version of old (a patch, scale or rollout). */
static json_t *store_update(struct daemon *d, json_t *old, json_t *updated)
{
    json_t *obj = NULL;
    json_t *e = prepare_update(d, old, updated, &obj);
    if (e) return e;
    int changed = !same_object(old, obj);
    if (changed) store_put(d->store, obj);
    json_t *reply = json_pack("{s:O, s:b}", "object", changed ? obj : old, "changed", changed);
    json_decref(obj);
    daemon_kick(d);
    return reply;
}

static json_t *op_patch(struct daemon *d, json_t *req)
{
    const char *kind = req_str(req, "kind"), *ns = req_str(req, "namespace"), *name = req_str(req, "name");
    const char *type = req_str(req, "type");
    json_t *e = check_target(d, kind, &ns, 1);
    if (e) return e;
    if (!name) return api_error(400, "BadRequest", "patch needs a name");
    json_t *old = store_get(d->store, kind, ns, name);
    if (!old) return not_found(kind, name);
    json_t *patched = NULL;
    char err[512];
    if (patch_apply(type ? type : "strategic", old, json_object_get(req, "patch"), &patched, err, sizeof err))
        return api_error(400, "BadRequest", "%s", err);
    /* Identity cannot be patched away. */
    json_path_set(patched, "kind", json_string(kind));
    json_path_set(patched, "metadata.name", json_string(name));
    if (ns) json_path_set(patched, "metadata.namespace", json_string(ns));
    e = store_update(d, old, patched);
    json_decref(patched);
    return e;
}

static json_t *get_deployment(struct daemon *d, json_t *req, const char **nsp, json_t **out)
{
    const char *ns = req_str(req, "namespace"), *name = req_str(req, "name");
    json_t *e = check_target(d, "Deployment", &ns, 1);
    if (e) return e;
    if (!name) return api_error(400, "BadRequest", "a deployment name is needed");
    *out = store_get(d->store, "Deployment", ns, name);
    if (!*out) return not_found("Deployment", name);
    *nsp = ns;
    return NULL;
}

static json_t *op_scale(struct daemon *d, json_t *req)
{
    const char *ns;
    json_t *dep;
    json_t *e = get_deployment(d, req, &ns, &dep);
    if (e) return e;
    json_t *r = json_object_get(req, "replicas");
    if (!json_is_integer(r) || json_integer_value(r) < 0 || json_integer_value(r) > 1000)
        return api_error(400, "BadRequest", "replicas must be an integer between 0 and 1000");
    json_t *upd = json_deep_copy(dep);
    json_path_set(upd, "spec.replicas", json_integer(json_integer_value(r)));
    e = store_update(d, dep, upd);
    json_decref(upd);
    return e;
}

static json_t *op_rollout(struct daemon *d, json_t *req)
{
    const char *ns, *action = req_str(req, "action");
    json_t *dep;
    json_t *e = get_deployment(d, req, &ns, &dep);
    if (e) return e;
    char err[512];
    json_t *upd = json_deep_copy(dep);
    int rc;
    if (action && !strcmp(action, "restart")) rc = deployment_restart(d, upd, err, sizeof err);
    else if (action && !strcmp(action, "undo"))
        rc = deployment_undo(d, upd, (long)json_integer_value(json_object_get(req, "toRevision")), err, sizeof err);
    else {
        json_decref(upd);
        return api_error(400, "BadRequest", "unknown rollout action \"%s\"", action ? action : "");
    }
    if (rc) {
        json_decref(upd);
        return api_error(400, "BadRequest", "%s", err);
    }
    e = store_update(d, dep, upd);
    json_decref(upd);
    return e;
}

static json_t *op_status(struct daemon *d)
{
    char node[16];
    lab_node_ip(&d->lab, node, sizeof node);
    json_t *pods = store_list(d->store, "Pod", NULL);
    json_t *reply = json_pack("{s:s, s:i, s:s, s:i, s:s, s:I, s:i, s:i, s:s, s:s}", "lab", d->lab.name, "net",
                              d->lab.net, "dir", d->lab.dir, "pid", (int)getpid(), "limits", d->limits, "pods",
                              (json_int_t)json_array_size(pods), "runningPods", kubelet_running_pods(d), "meshPid",
                              (int)d->infra[INFRA_MESH].pid, "nodeIP", node, "node", DAEMON_NODE_NAME);
    json_decref(pods);
    json_object_set_new(reply, "tracesPid", json_integer(d->infra[INFRA_TRACES].pid));
    return reply;
}

static json_t *dispatch(struct conn *c, json_t *req)
{
    struct daemon *d = c->d;
    const char *op = req_str(req, "op");
    if (!op) return api_error(400, "BadRequest", "the request has no \"op\"");
    if (c->agent && (!strcmp(op, "mesh-rule") || !strcmp(op, "shutdown")))
        return api_error(403, "Forbidden", "%s is not allowed on this connection", op);
    if (!strcmp(op, "get")) return op_get(d, req);
    if (!strcmp(op, "apply")) return op_apply(d, req);
    if (!strcmp(op, "delete")) return op_delete(d, req);
    if (!strcmp(op, "patch")) return op_patch(d, req);
    if (!strcmp(op, "scale")) return op_scale(d, req);
    if (!strcmp(op, "rollout")) return op_rollout(d, req);
    if (!strcmp(op, "status")) return op_status(d);
    if (!strcmp(op, "mesh-rule")) return meshctl_rule_op(d, req);
    if (!strcmp(op, "shutdown")) {
        d->stop_pods_on_exit = json_is_true(json_object_get(req, "stopPods"));
        c->shutdown_after = 1;
        return json_object();
    }
    return api_error(400, "BadRequest", "unknown op \"%s\"", op);
}

/* ---- connections ----
 *
 * A connection lives from accept to the close callback of its last handle
 * (the pipe and its deadline timer); every path ends in conn_close, which
 * closes both. Its life is bounded whatever the client does: the request
 * must arrive within API_REQUEST_MS of the accept (a client that connects
 * and sends nothing, or half a request, is dropped), and the reply must be
 * taken within API_REPLY_MS of being queued (a client that never reads is
 * dropped; closing the pipe cancels the write). Requests are served
 * synchronously on the loop, so nothing else can hold a connection open. */

static void on_close(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (--c->open_handles) return;
    buf_free(&c->in);
    open_conns[c->agent]--;
    free(c);
}

/* Close both handles; the connection is freed when the last is closed. */
static void conn_close(struct conn *c)
{
    if (c->closing) return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->deadline, on_close);
    uv_close((uv_handle_t *)&c->pipe, on_close);
}

static void on_deadline(uv_timer_t *t)
{
    struct conn *c = t->data;
    log_debug("api: dropping a client that did not %s in time", c->done ? "take its reply" : "send its request");
    conn_close(c);
}

/* The reply went out (or failed, or was cancelled by a close): the
 * connection ends, and with a shutdown request the daemon too. */
static void conn_finish(struct conn *c)
{
    if (c->shutdown_after) {
        c->d->stopping = 1;
        uv_stop(c->d->loop);
    }
    conn_close(c);
}

static void on_written(uv_write_t *w, int status)
{
    struct conn *c = w->data;
    free(w);
    if (status < 0 && status != UV_ECANCELED) log_debug("api: reply not delivered: %s", uv_strerror(status));
    conn_finish(c);
}

static void reply_and_close(struct conn *c, json_t *reply)
{
    char *text = json_dumps(reply, JSON_COMPACT);
    json_decref(reply);
    if (!text) /* jansson could not encode it (out of memory) */
        text = xstrdup("{\"error\":{\"code\":500,\"reason\":\"InternalError\",\"message\":\"cannot encode the reply\"}}");
    size_t n = strlen(text);
    uv_write_t *w = xmalloc(sizeof *w + n + 1);
    char *copy = (char *)(w + 1);
    memcpy(copy, text, n);
    copy[n] = '\n';
    free(text);
    w->data = c;
    uv_buf_t b = uv_buf_init(copy, (unsigned)n + 1);
    c->done = 1;
    uv_read_stop((uv_stream_t *)&c->pipe);
    /* The reply's own budget starts now, not when the loop last looked at
     * the clock: the request may have taken a while. */
    uv_update_time(c->d->loop);
    uv_timer_start(&c->deadline, on_deadline, api_reply_ms, 0);
    if (uv_write(w, (uv_stream_t *)&c->pipe, &b, 1, on_written)) {
        free(w);
        conn_finish(c);
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    static char chunk[65536];
    b->base = chunk;
    b->len = sizeof chunk;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = s->data;
    if (c->done) return;
    if (n < 0) { /* the client hung up (or failed) before a whole request */
        conn_close(c);
        return;
    }
    if (buf_append(&c->in, b->base, (size_t)n)) {
        reply_and_close(c, api_error(413, "RequestEntityTooLarge", "request is larger than %u bytes",
                                     CLUSTER_API_MAX));
        return;
    }
    char *nl = c->in.data ? memchr(c->in.data, '\n', c->in.len) : NULL;
    if (!nl) return;
    json_error_t je;
    json_t *req = json_loadb(c->in.data, (size_t)(nl - c->in.data), 0, &je);
    json_t *reply;
    if (!json_is_object(req)) reply = api_error(400, "BadRequest", "malformed request: %s", je.text);
    else reply = dispatch(c, req);
    json_decref(req);
    reply_and_close(c, reply);
}

/* An accept that failed (EMFILE, ENFILE, ENOMEM: libuv has already shed the
 * waiting connection when it could). Said once in a while, not per try. */
static void accept_failed(struct daemon *d, int status)
{
    static uint64_t last_said;
    uint64_t now = uv_now(d->loop);
    if (last_said && now - last_said < 10000) return;
    last_said = now;
    log_warn("api: cannot accept a connection: %s (%d connections open)", uv_strerror(status),
             open_conns[0] + open_conns[1]);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct daemon *d = server->data;
    if (status < 0) {
        accept_failed(d, status);
        return;
    }
    struct conn *c = xcalloc(1, sizeof *c);
    c->d = d;
    c->agent = server == (uv_stream_t *)&d->agent_api;
    buf_init(&c->in, CLUSTER_API_MAX);
    uv_pipe_init(d->loop, &c->pipe, 0);
    uv_timer_init(d->loop, &c->deadline);
    c->pipe.data = c->deadline.data = c;
    c->open_handles = 2;
    open_conns[c->agent]++;
    /* Accept first, always: libuv stops watching the listener until the
     * waiting connection is taken. */
    int rc = uv_accept(server, (uv_stream_t *)&c->pipe);
    if (rc) {
        accept_failed(d, rc);
        conn_close(c);
        return;
    }
    int max = c->agent ? API_MAX_AGENT_CONNS : API_MAX_CONNS;
    if (open_conns[c->agent] > max) { /* said, not silently dropped: the client reports it */
        reply_and_close(c, api_error(503, "ServiceUnavailable",
                                     "the cluster daemon is busy (%d connections open); try again", max));
        return;
    }
    if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read)) {
        conn_close(c);
        return;
    }
    uv_timer_start(&c->deadline, on_deadline, api_request_ms, 0);
}

static int listen_on(struct daemon *d, uv_pipe_t *p, const char *name, int mode, char *err, size_t errlen)
{
    char path[PATH_MAX];
    lab_path(&d->lab, name, path, sizeof path);
    unlink(path);
    uv_pipe_init(d->loop, p, 0);
    p->data = d;
    int rc = uv_pipe_bind(p, path);
    if (!rc) chmod(path, (mode_t)mode);
    if (!rc) rc = uv_listen((uv_stream_t *)p, 64, on_connection);
    if (rc) snprintf(err, errlen, "cannot listen on %s: %s", path, uv_strerror(rc));
    return rc;
}

/* daemon.sock is the owner's (mode 0600). agent.sock is what an agent's
 * sandboxed shell reaches in its place (orchestrator/shell.c): the same
 * API without the ops that would reveal or remove a fault (mesh-rule) or
 * end the lab (shutdown). Kinds the API does not serve (MeshRule) are not
 * served on either. */
int api_start(struct daemon *d, char *err, size_t errlen)
{
    /* Tests shorten the bounds to see them act; a bad value keeps the default. */
    long ms;
    const char *v = getenv("AIOPSLAB_API_REQUEST_MS");
    if (v && !parse_long(v, 100, 3600000, &ms)) api_request_ms = (uint64_t)ms;
    v = getenv("AIOPSLAB_API_REPLY_MS");
    if (v && !parse_long(v, 100, 3600000, &ms)) api_reply_ms = (uint64_t)ms;
    int rc = listen_on(d, &d->api, "daemon.sock", 0600, err, errlen);
    if (!rc) rc = listen_on(d, &d->agent_api, "agent.sock", 0666, err, errlen);
    return rc;
}
