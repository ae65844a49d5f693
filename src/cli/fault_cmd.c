/* fault_cmd: `aiopslab fault list|describe|inject|status|recover` — the
 * fault library from the command line (docs/faults.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "faults/digest.h"
#include "faults/fault.h"

static int usage(FILE *f)
{
    fprintf(f, "Usage:\n"
               "  aiopslab fault list [--layer LAYER] [-o json]\n"
               "  aiopslab fault describe TYPE\n"
               "  aiopslab fault inject TYPE -n NAMESPACE --target NAME [--param KEY=VALUE ...] [--no-verify] [-o json]\n"
               "  aiopslab fault status [--all] [-o json]\n"
               "  aiopslab fault recover ID|--all\n"
               "  aiopslab fault digest -n NAMESPACE   (row counts and md5s of its PostgreSQL data, JSON)\n"
               "\n"
               "Faults act on the live lab and are journalled before they act: `fault recover --all`\n"
               "(and every start of the cluster daemon) undoes whatever is left, also after a crash.\n"
               "Layers: hardware, os, network, virtualization, middleware, application, workload.\n");
    return f == stdout ? 0 : 2;
}

static int lab_of(struct lab *lab)
{
    char err[256];
    if (lab_resolve(NULL, lab, err, sizeof err)) {
        fprintf(stderr, "aiopslab: %s\n", err);
        return -1;
    }
    return 0;
}

static void params_text(const struct fault_type *t, char *out, size_t n)
{
    out[0] = '\0';
    for (const struct fault_param *p = t->params; p->key; p++)
        snprintf(out + strlen(out), n - strlen(out), "%s%s%s%s", out[0] ? " " : "", p->key, p->dflt ? "=" : "",
                 p->dflt ? p->dflt : "");
    if (!out[0]) snprintf(out, n, "-");
}

static int cmd_list(int argc, char **argv)
{
    int json = 0, have_layer = 0;
    enum fault_layer layer = FAULT_HARDWARE;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc && !strcmp(argv[i + 1], "json")) {
            json = 1;
            i++;
        } else if (!strcmp(argv[i], "--layer") && i + 1 < argc) {
            if (fault_layer_parse(argv[++i], &layer)) {
                fprintf(stderr, "aiopslab: fault list: unknown layer \"%s\"\n", argv[i]);
                return 2;
            }
            have_layer = 1;
        } else {
            return usage(stderr);
        }
    }
    size_t n;
    const struct fault_type *const *types = fault_types(&n);
    json_t *arr = json_array();
    if (!json) printf("%-28s %-16s %-22s %-10s %s\n", "TYPE", "LAYER", "FAULT TYPE", "TARGET", "PARAMETERS");
    for (size_t i = 0; i < n; i++) {
        const struct fault_type *t = types[i];
        if (have_layer && t->layer != layer) continue;
        char params[512];
        params_text(t, params, sizeof params);
        if (json)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", t->id, "layer",
                                                 fault_layer_name(t->layer), "faultType", fault_class_name(t->cls),
                                                 "target", fault_target_name(t->target), "summary", t->summary));
        else
            printf("%-28s %-16s %-22s %-10s %s\n", t->id, fault_layer_name(t->layer), fault_class_name(t->cls),
                   fault_target_name(t->target), params);
    }
    if (json) {
        char *s = json_dumps(arr, JSON_INDENT(2));
        puts(s);
        free(s);
    }
    json_decref(arr);
    return 0;
}

static const char *ptype_text(enum fault_ptype t)
{
    static const char *const names[] = {"integer", "duration", "percent", "size", "one of", "workload", "word"};
    return names[t];
}

static int cmd_describe(int argc, char **argv)
{
    if (argc != 2) return usage(stderr);
    const struct fault_type *t = fault_type_find(argv[1]);
    if (!t) {
        fprintf(stderr, "aiopslab: unknown fault type \"%s\" (aiopslab fault list shows them)\n", argv[1]);
        return 1;
    }
    printf("Type:        %s\nLayer:       %s\nFault type:  %s\nTarget:      %s\nSummary:     %s\nSymptoms:    %s\n",
           t->id, fault_layer_name(t->layer), fault_class_name(t->cls), fault_target_name(t->target), t->summary,
           t->symptoms);
    printf("Shows within: %u ms%s\nParameters:\n", t->verify_ms ? t->verify_ms : 10000,
           t->gradual ? " (gradual: it builds up)" : "");
    if (!t->params->key) printf("  (none)\n");
    for (const struct fault_param *p = t->params; p->key; p++) {
        char range[96] = "";
        if (p->type == FP_ENUM) snprintf(range, sizeof range, " %s", p->choices);
        else if (p->type == FP_INT || p->type == FP_MS || p->type == FP_PERCENT || p->type == FP_BYTES)
            snprintf(range, sizeof range, " [%lld, %lld]%s", p->min, p->max,
                     p->type == FP_MS ? " ms" : p->type == FP_BYTES ? " bytes" : "");
        printf("  %-12s %s%s, %s%s: %s\n", p->key, ptype_text(p->type), range, p->dflt ? "default " : "required",
               p->dflt ? p->dflt : "", p->help);
    }
    return 0;
}

static int cmd_inject(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') return usage(stderr);
    const char *type = argv[1], *ns = NULL, *target = NULL;
    int verify = 1, json = 0;
    json_t *params = json_object();
    int rc = 2;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if ((!strcmp(a, "-n") || !strcmp(a, "--namespace")) && v) ns = argv[++i];
        else if (!strcmp(a, "--target") && v) target = argv[++i];
        else if (!strcmp(a, "--no-verify")) verify = 0;
        else if (!strcmp(a, "-o") && v && !strcmp(v, "json")) json = 1, i++;
        else if (!strcmp(a, "--param") && v) {
            const char *eq = strchr(v, '=');
            if (!eq || eq == v || strlen(v) > 512) {
                fprintf(stderr, "aiopslab: fault inject: --param needs KEY=VALUE, not \"%.64s\"\n", v);
                goto out;
            }
            char key[256];
            snprintf(key, sizeof key, "%.*s", (int)(eq - v), v);
            json_object_set_new(params, key, json_string(eq + 1));
            i++;
        } else {
            fprintf(stderr, "aiopslab: fault inject: unexpected argument \"%s\"\n", a);
            goto out;
        }
    }
    if (!ns || !target) {
        fprintf(stderr, "aiopslab: fault inject: -n NAMESPACE and --target NAME are required\n");
        goto out;
    }
    struct lab lab;
    rc = 1;
    if (lab_of(&lab)) goto out;
    struct fault_injected r;
    char err[1024];
    if (fault_inject(&lab, type, ns, target, params, verify, &r, err, sizeof err)) {
        fprintf(stderr, "aiopslab: fault inject: %s\n", err);
        goto out;
    }
    if (json) {
        json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:I}", "id", (json_int_t)r.id, "type", type,
                              "namespace", ns, "target", target, "injectedAt", (json_int_t)r.injected_ns, "tookAt",
                              (json_int_t)r.took_ns, "injectMs", (json_int_t)r.inject_ms);
        char *s = json_dumps(o, JSON_COMPACT);
        puts(s);
        free(s);
        json_decref(o);
    } else if (r.took_ns) {
        printf("fault %lld injected: %s on %s/%s (inject %llu ms, symptom seen after %llu ms)\n", (long long)r.id, type,
               ns, target, (unsigned long long)r.inject_ms,
               (unsigned long long)((r.took_ns - r.injected_ns) / 1000000u));
    } else {
        printf("fault %lld injected: %s on %s/%s (inject %llu ms, not verified)\n", (long long)r.id, type, ns, target,
               (unsigned long long)r.inject_ms);
    }
    rc = 0;
out:
    json_decref(params);
    return rc;
}

static int cmd_status(int argc, char **argv)
{
    int all = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--all")) all = 1;
        else if (!strcmp(argv[i], "-o") && i + 1 < argc && !strcmp(argv[i + 1], "json")) json = 1, i++;
        else return usage(stderr);
    }
    struct lab lab;
    if (lab_of(&lab)) return 1;
    char err[512];
    json_t *rows = fault_list_journal(&lab, all, err, sizeof err);
    if (!rows) {
        fprintf(stderr, "aiopslab: fault status: %s\n", err);
        return 1;
    }
    if (json) {
        char *s = json_dumps(rows, JSON_INDENT(2));
        puts(s);
        free(s);
    } else if (!json_array_size(rows)) {
        printf(all ? "No faults in the journal.\n" : "No active faults.\n");
    } else {
        printf("%-5s %-26s %-22s %-28s %-11s %s\n", "ID", "TYPE", "NAMESPACE", "TARGET", "STATUS", "AGE");
        size_t i;
        json_t *r;
        uint64_t now = wall_ns();
        json_array_foreach(rows, i, r)
        {
            char age[32];
            uint64_t at = (uint64_t)json_integer_value(json_object_get(r, "injectedAt"));
            time_human((int64_t)((now - at) / 1000000000u), age, sizeof age);
            printf("%-5lld %-26s %-22s %-28s %-11s %s\n", (long long)json_integer_value(json_object_get(r, "id")),
                   json_path_str(r, "type", ""), json_path_str(r, "namespace", ""), json_path_str(r, "target", ""),
                   json_path_str(r, "status", ""), age);
        }
    }
    json_decref(rows);
    return 0;
}

static int cmd_recover(int argc, char **argv)
{
    if (argc != 2) return usage(stderr);
    long id = 0;
    if (strcmp(argv[1], "--all") && parse_long(argv[1], 1, 1L << 40, &id)) {
        fprintf(stderr, "aiopslab: fault recover: \"%s\" is neither a fault id nor --all\n", argv[1]);
        return 2;
    }
    struct lab lab;
    if (lab_of(&lab)) return 1;
    char err[1024];
    int n = 0;
    int rc = fault_recover(&lab, id, &n, err, sizeof err);
    if (rc) fprintf(stderr, "aiopslab: fault recover: %s\n", err);
    if (id && !rc) printf(n ? "fault %ld recovered\n" : "fault %ld was already recovered\n", id);
    else if (!id) printf("%d fault%s recovered\n", n, n == 1 ? "" : "s");
    return rc ? 1 : 0;
}

static int cmd_digest(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "-n") && strcmp(argv[1], "--namespace"))) return usage(stderr);
    struct lab lab;
    if (lab_of(&lab)) return 1;
    char err[1024];
    json_t *d = fault_digest(&lab, argv[2], err, sizeof err);
    if (!d) {
        fprintf(stderr, "aiopslab: fault digest: %s\n", err);
        return 1;
    }
    char *s = json_dumps(d, JSON_INDENT(2) | JSON_SORT_KEYS);
    puts(s);
    free(s);
    json_decref(d);
    return 0;
}

int cli_fault(int argc, char **argv)
{
    if (argc < 2) return usage(stderr);
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) return usage(stdout);
    if (!strcmp(sub, "list")) return cmd_list(argc - 1, argv + 1);
    if (!strcmp(sub, "describe")) return cmd_describe(argc - 1, argv + 1);
    if (!strcmp(sub, "inject")) return cmd_inject(argc - 1, argv + 1);
    if (!strcmp(sub, "status")) return cmd_status(argc - 1, argv + 1);
    if (!strcmp(sub, "recover")) return cmd_recover(argc - 1, argv + 1);
    if (!strcmp(sub, "digest")) return cmd_digest(argc - 1, argv + 1);
    fprintf(stderr, "aiopslab: fault: unknown subcommand \"%s\"\n", sub);
    return usage(stderr);
}

int cli_fault_run(int argc, char **argv)
{
    long id;
    if (argc != 2 || parse_long(argv[1], 1, 1L << 40, &id)) return 2;
    struct lab lab;
    if (lab_of(&lab)) return 1;
    return fault_runner_main(&lab, id);
}
