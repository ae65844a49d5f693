/* meshctl: the daemon's side of the mesh — it hands the mesh process (run
 * by infra.c) the routing table (LABDIR/mesh/routes.json, then SIGHUP)
 * whenever Services, endpoints or fault rules change. Fault rules are kept in the
 * state database as MeshRule objects, a kind the API does not serve. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/daemon.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "mesh/rules.h"

static json_t *rules(struct daemon *d)
{
    json_t *objs = store_list(d->store, "MeshRule", NULL), *out = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(objs, i, o) json_array_append(out, json_object_get(o, "rule"));
    json_decref(objs);
    return out;
}

void meshctl_update(struct daemon *d, json_t *routes)
{
    json_object_set_new(routes, "rules", rules(d));
    char *text = json_dumps(routes, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(routes);
    if (d->mesh_routes && !strcmp(d->mesh_routes, text)) {
        free(text);
        return;
    }
    char path[PATH_MAX];
    lab_path(&d->lab, "mesh", path, sizeof path);
    mkdir_p(path, 0755);
    lab_path(&d->lab, "mesh/routes.json", path, sizeof path);
    if (write_file_replace(path, text, strlen(text))) {
        log_error("cannot write %s", path);
        free(text);
        return;
    }
    free(d->mesh_routes);
    d->mesh_routes = text;
    infra_signal(d, INFRA_MESH, SIGHUP);
}

static json_t *rule_error(const char *msg)
{
    return api_error(400, "BadRequest", "%s", msg);
}

/* Validate a rule with the mesh's own parser (docs/mesh.md), so that a
 * stored rule never makes the mesh refuse a routes table. */
static json_t *check_rule(json_t *rule)
{
    struct mesh_rule u;
    char err[256];
    if (mesh_rule_parse(rule, &u, err, sizeof err)) return rule_error(err);
    mesh_rule_clear(&u);
    if (!json_object_get(rule, "percent")) json_object_set_new(rule, "percent", json_integer(100));
    return NULL;
}

json_t *meshctl_rule_op(struct daemon *d, json_t *req)
{
    const char *action = json_path_str(req, "action", "");
    if (!strcmp(action, "list")) return json_pack("{s:o}", "rules", rules(d));
    if (!strcmp(action, "add")) {
        json_t *rule = json_deep_copy(json_object_get(req, "rule"));
        if (!json_is_object(rule)) {
            json_decref(rule);
            return rule_error("mesh-rule add needs \"rule\": an object");
        }
        json_t *e = check_rule(rule);
        if (e) {
            json_decref(rule);
            return e;
        }
        const char *given = json_path_str(rule, "id", NULL);
        if (given) {
            size_t n = strlen(given);
            int ok = n > 0 && n <= 63;
            for (size_t i = 0; i < n && ok; i++)
                ok = (given[i] >= 'a' && given[i] <= 'z') || (given[i] >= '0' && given[i] <= '9') || given[i] == '-';
            if (!ok) {
                json_decref(rule);
                return rule_error("rule.id must be 1-63 lowercase letters, digits or '-'");
            }
        }
        if (!given) {
            char uid[37];
            store_new_uid(uid);
            uid[8] = '\0';
            json_object_set_new(rule, "id", json_sprintf("r-%s", uid));
        }
        const char *id = json_path_str(rule, "id", "");
        json_t *obj = json_pack("{s:s, s:{s:s}, s:O}", "kind", "MeshRule", "metadata", "name", id, "rule", rule);
        store_put(d->store, obj);
        json_decref(obj);
        service_sync(d);
        json_t *reply = json_pack("{s:o}", "rule", rule);
        return reply;
    }
    if (!strcmp(action, "delete")) {
        const char *id = json_path_str(req, "id", "");
        if (store_del(d->store, "MeshRule", NULL, id)) return api_error(404, "NotFound", "mesh rule \"%s\" not found", id);
        service_sync(d);
        return json_object();
    }
    return rule_error("mesh-rule action must be add, delete or list");
}
