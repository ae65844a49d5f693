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
               "  aiopslab mesh rule add --to NS/SERVICE [--from NS/WORKLOAD] FAULT [--percent PCT] [--id ID]\n"
               "  aiopslab mesh rule delete ID\n"
               "  aiopslab mesh rule list\n"
               "\n"
               "FAULT is one of (docs/mesh.md, \"Rules\"):\n"
               "  --delay 200ms [--jitter 20ms] [--direction to|from|both]   hold every chunk of data\n"
               "  --loss PCT [--direction to|from|both]      lose PCT %% of packets (TCP retransmission delays)\n"
               "  --bandwidth BYTES/s [--direction ...]      cap each connection's rate\n"
               "  --reset                                    reset connections (RST) on their first data\n"
               "  --partition [--direction to|from|both]     cut --from off from --to: connects hang (needs --from)\n"
               "  --drop                                     black hole: every connect to --to hangs\n"
               "  --abort CODE                               answer HTTP requests with CODE (100-599)\n"
               "  --slow-close 500ms                         hold the close (FIN) toward the caller\n"
               "  --dns nxdomain|servfail [--name NAME]      fail name lookups of --to's names (or of NAME)\n"
               "Options:\n"
               "  --to NS/SERVICE[:PORT]  the destination Service (optional for --dns with --name)\n"
               "  --from NS/WORKLOAD      only connections (lookups) from this workload's pods\n"
               "  --percent PCT           0-100: share of connections affected (of requests for --abort,\n"
               "                          of lookups for --dns); default 100\n");
    return f == stdout ? 0 : 2;
}

/* "ns/name" (and for a destination "ns/name:port"). */
static json_t *endpoint(const char *s, const char *key)
{
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1]) return NULL;
    const char *colon = strchr(slash + 1, ':');
    if (!colon) return json_pack("{s:s%, s:s}", "namespace", s, (size_t)(slash - s), key, slash + 1);
    long port;
    if (strcmp(key, "service") || colon == slash + 1 || parse_long(colon + 1, 1, 65535, &port)) return NULL;
    return json_pack("{s:s%, s:s%, s:i}", "namespace", s, (size_t)(slash - s), key, slash + 1,
                     (size_t)(colon - slash - 1), "port", (int)port);
}

/* Set the rule's action; a rule is one fault. */
static int set_action(json_t *rule, const char *action)
{
    const char *have = json_string_value(json_object_get(rule, "action"));
    if (have && strcmp(have, action)) {
        fprintf(stderr, "aiopslab: mesh rule add: one fault per rule (%s and %s given)\n", have, action);
        return -1;
    }
    json_object_set_new(rule, "action", json_string(action));
    return 0;
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
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return usage(stdout);
    if (argc < 3 || strcmp(argv[1], "rule")) return usage(stderr);
    const char *action = argv[2];
    json_t *req = json_pack("{s:s, s:s}", "op", "mesh-rule", "action", action);
    if (!strcmp(action, "add")) {
        json_t *rule = json_object();
        json_object_set_new(req, "rule", rule);
        for (int i = 3; i < argc; i++) {
            const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
            json_int_t ms;
            long num;
            const char *flag_only = !strcmp(a, "--reset") ? "reset" : !strcmp(a, "--partition") ? "partition"
                                    : !strcmp(a, "--drop") || !strcmp(a, "--blackhole") ? "blackhole" : NULL;
            if (flag_only) {
                if (set_action(rule, flag_only)) goto bad;
                continue;
            }
            if (!v) goto bad;
            i++;
            if (!strcmp(a, "--to")) {
                json_t *e = endpoint(v, "service");
                if (!e) goto bad_value;
                json_object_set_new(rule, "destination", e);
            } else if (!strcmp(a, "--from")) {
                json_t *e = endpoint(v, "workload");
                if (!e) goto bad_value;
                json_object_set_new(rule, "source", e);
            } else if (!strcmp(a, "--delay") && !ms_arg(v, &ms)) {
                if (set_action(rule, "delay")) goto bad;
                json_object_set_new(rule, "delayMs", json_integer(ms));
            } else if (!strcmp(a, "--jitter") && !ms_arg(v, &ms)) {
                json_object_set_new(rule, "jitterMs", json_integer(ms));
            } else if (!strcmp(a, "--loss") && !parse_long(v, 1, 100, &num)) {
                if (set_action(rule, "loss")) goto bad;
                json_object_set_new(rule, "lossPercent", json_integer(num));
            } else if (!strcmp(a, "--bandwidth") && !parse_long(v, 1, 10000000000l, &num)) {
                if (set_action(rule, "bandwidth")) goto bad;
                json_object_set_new(rule, "bytesPerSecond", json_integer(num));
            } else if (!strcmp(a, "--abort") && !parse_long(v, 100, 599, &num)) {
                if (set_action(rule, "abort")) goto bad;
                json_object_set_new(rule, "httpStatus", json_integer(num));
            } else if (!strcmp(a, "--slow-close") && !ms_arg(v, &ms)) {
                if (set_action(rule, "slow_close")) goto bad;
                json_object_set_new(rule, "slowCloseMs", json_integer(ms));
            } else if (!strcmp(a, "--dns") && (!strcmp(v, "nxdomain") || !strcmp(v, "servfail"))) {
                if (set_action(rule, "dns")) goto bad;
                json_object_set_new(rule, "dnsError", json_string(v));
            } else if (!strcmp(a, "--name")) {
                json_object_set_new(rule, "name", json_string(v));
            } else if (!strcmp(a, "--direction") && (!strcmp(v, "to") || !strcmp(v, "from") || !strcmp(v, "both"))) {
                json_object_set_new(rule, "direction", json_string(v));
            } else if (!strcmp(a, "--percent") && !parse_long(v, 0, 100, &num)) {
                json_object_set_new(rule, "percent", json_integer(num));
            } else if (!strcmp(a, "--id")) {
                json_object_set_new(rule, "id", json_string(v));
            } else {
                goto bad_value;
            }
            continue;
        bad_value:
            fprintf(stderr, "aiopslab: mesh rule add: bad argument %s %s\n", a, v);
            json_decref(req);
            return usage(stderr);
        }
        if (!json_object_get(rule, "action")) {
            fprintf(stderr, "aiopslab: mesh rule add: which fault? (--delay, --loss, --bandwidth, --reset, "
                            "--partition, --drop, --abort, --slow-close or --dns)\n");
            json_decref(req);
            return 2;
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
