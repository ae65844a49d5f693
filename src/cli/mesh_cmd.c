/* mesh_cmd: `aiopslab mesh rule add|delete|list` — the mesh's fault rules
 * (docs/mesh.md) by hand. The fault generator uses the same daemon op. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cluster/client.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "core/util.h"

static int usage(FILE *f)
{
    fprintf(f, "Usage:\n"
               "  aiopslab mesh rule add --to NS/SERVICE [--from NS/WORKLOAD] (--delay 200ms [--jitter 20ms] | --reset)\n"
               "                         [--percent 100] [--id ID]\n"
               "  aiopslab mesh rule delete ID\n"
               "  aiopslab mesh rule list\n");
    return f == stdout ? 0 : 2;
}

static json_t *endpoint(const char *s, const char *key)
{
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1]) return NULL;
    return json_pack("{s:s%, s:s}", "namespace", s, (size_t)(slash - s), key, slash + 1);
}

static int ms_arg(const char *s, json_int_t *out)
{
    uint64_t ns;
    if (time_parse_duration(s, &ns)) return -1;
    *out = (json_int_t)(ns / 1000000ull);
    return 0;
}

int cli_mesh(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[1], "rule")) return usage(argc > 1 && !strcmp(argv[1], "--help") ? stdout : stderr);
    const char *action = argv[2];
    json_t *req = json_pack("{s:s, s:s}", "op", "mesh-rule", "action", action);
    if (!strcmp(action, "add")) {
        json_t *rule = json_object();
        json_object_set_new(req, "rule", rule);
        for (int i = 3; i < argc; i++) {
            const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
            json_int_t ms;
            long pct;
            if (!strcmp(a, "--reset")) {
                json_object_set_new(rule, "action", json_string("reset"));
                continue;
            }
            if (!v) goto bad;
            i++;
            if (!strcmp(a, "--to")) {
                json_t *e = endpoint(v, "service");
                if (!e) goto bad;
                json_object_set_new(rule, "destination", e);
            } else if (!strcmp(a, "--from")) {
                json_t *e = endpoint(v, "workload");
                if (!e) goto bad;
                json_object_set_new(rule, "source", e);
            } else if (!strcmp(a, "--delay") && !ms_arg(v, &ms)) {
                json_object_set_new(rule, "action", json_string("delay"));
                json_object_set_new(rule, "delayMs", json_integer(ms));
            } else if (!strcmp(a, "--jitter") && !ms_arg(v, &ms)) {
                json_object_set_new(rule, "jitterMs", json_integer(ms));
            } else if (!strcmp(a, "--percent") && !parse_long(v, 1, 100, &pct)) {
                json_object_set_new(rule, "percent", json_integer(pct));
            } else if (!strcmp(a, "--id")) {
                json_object_set_new(rule, "id", json_string(v));
            } else {
                fprintf(stderr, "aiopslab: mesh rule add: bad argument %s %s\n", a, v);
                json_decref(req);
                return usage(stderr);
            }
        }
    } else if (!strcmp(action, "delete")) {
        if (argc != 4) goto bad;
        json_object_set_new(req, "id", json_string(argv[3]));
    } else if (strcmp(action, "list")) {
        goto bad;
    }
    struct lab lab;
    char err[512];
    json_t *reply = NULL;
    if (lab_resolve(NULL, &lab, err, sizeof err) || cluster_call(&lab, req, &reply, err, sizeof err)) {
        fprintf(stderr, "aiopslab: %s\n", err);
        json_decref(req);
        return 1;
    }
    json_decref(req);
    if (json_object_get(reply, "error")) {
        fprintf(stderr, "aiopslab: %s\n", json_path_str(reply, "error.message", ""));
        json_decref(reply);
        return 1;
    }
    if (!strcmp(action, "add")) printf("rule %s added\n", json_path_str(reply, "rule.id", ""));
    else if (!strcmp(action, "delete")) printf("rule %s deleted\n", argv[3]);
    else {
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(reply, "rules"), i, r) {
            char *s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
            printf("%s\n", s);
            free(s);
        }
    }
    json_decref(reply);
    return 0;
bad:
    json_decref(req);
    return usage(stderr);
}
