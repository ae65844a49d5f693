/* logs_cmd: `aiopslab logs -n NS SERVICE|POD [--since 5m] [--tail N]
 * [--grep RE] [--level L] [--compact] [--max-lines N] [--timestamps]` —
 * the logs of one pod, or of every pod of a service (app label or
 * Deployment), every container, the current and the previous run (so a
 * crash's last lines show), merged by timestamp and prefixed by the pod.
 * --compact folds lines that differ only in ids and numbers into
 * "[xN] first line" (observe/logq.h). Output is always bounded by
 * --max-lines (default 200) and each line by LINE_SHOW bytes. Never
 * follows: an agent's shell must not hang. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cluster/client.h"
#include "cluster/paths.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/lab.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "kubectl/kread.h"
#include "observe/logq.h"

#define LINE_SHOW 4096       /* bytes of one line printed; the rest is counted */
#define DEFAULT_MAX_LINES 200
#define RUNS_READ 2          /* the current run and the one before it */

static int usage(FILE *f)
{
    fprintf(f, "Usage: aiopslab logs -n NS SERVICE|POD [--since 5m] [--tail N] [--grep RE] [--level L]\n"
               "                     [--compact] [--max-lines N] [--timestamps]\n"
               "  SERVICE       an app label (app=SERVICE) or a Deployment: all its pods, every container,\n"
               "                merged by time, each line prefixed by its pod; POD: one pod\n"
               "  --since D     only lines of the last D (5m, 1h, 30s)\n"
               "  --tail N      only the last N lines (after the filters)\n"
               "  --grep RE     only lines matching the POSIX extended regex RE\n"
               "  --level L     debug|info|warn|error: JSON lines by their \"level\" field, other lines by\n"
               "                the ERROR/WARN/INFO/DEBUG words they contain (none: counted as info)\n"
               "  --compact     fold lines differing only in ids, numbers, hex, UUIDs, IPs, times: \"[xN] line\"\n"
               "  --max-lines N at most N lines printed (default %d); the newest are kept, compact keeps\n"
               "                the first templates; a note says how many were left out\n"
               "  --timestamps  prefix each line with its RFC 3339 time\n"
               "The current and the previous run of each container are read.\n",
            DEFAULT_MAX_LINES);
    return f == stdout ? 0 : 2;
}

/* Ask the daemon; the reply's "items" (new reference) or NULL after printing why. */
static json_t *get_items(const struct lab *lab, const char *kind, const char *ns, const char *name, const char *selector)
{
    char err[512];
    json_t *req = json_pack("{s:s, s:s, s:s}", "op", "get", "kind", kind, "namespace", ns);
    if (name) json_object_set_new(req, "name", json_string(name));
    if (selector) json_object_set_new(req, "selector", json_string(selector));
    json_t *reply = NULL;
    int rc = cluster_call(lab, req, &reply, err, sizeof err);
    json_decref(req);
    if (rc) {
        if (rc == -ECONNREFUSED || rc == -ENOENT)
            fprintf(stderr, "aiopslab: lab \"%s\" is not running (`aiopslab cluster up`): %s\n", lab->name, err);
        else
            fprintf(stderr, "aiopslab: %s\n", err);
        return NULL;
    }
    json_t *e = json_object_get(reply, "error");
    if (e) {
        int code = (int)json_integer_value(json_object_get(e, "code"));
        if (code == 404) { /* not found by name: an empty answer */
            json_decref(reply);
            return json_array();
        }
        const char *message = json_string_value(json_object_get(e, "message"));
        fprintf(stderr, "aiopslab: %s\n", message ? message : "the daemon refused");
        json_decref(reply);
        return NULL;
    }
    json_t *items = json_incref(json_object_get(reply, "items"));
    json_decref(reply);
    return json_is_array(items) ? items : (json_decref(items), json_array());
}

/* The pods of TARGET in ns: the pod of that name, else app=TARGET, else
 * the Deployment's selector. NULL after printing why; an empty array when
 * nothing matches. */
static json_t *select_pods(const struct lab *lab, const char *ns, const char *target)
{
    json_t *pods = get_items(lab, "Pod", ns, target, NULL);
    if (!pods || json_array_size(pods)) return pods;
    json_decref(pods);
    char sel[512];
    if (snprintf(sel, sizeof sel, "app=%s", target) >= (int)sizeof sel) {
        fprintf(stderr, "aiopslab: name too long: %s\n", target);
        return NULL;
    }
    pods = get_items(lab, "Pod", ns, NULL, sel);
    if (!pods || json_array_size(pods)) return pods;
    json_decref(pods);
    json_t *deps = get_items(lab, "Deployment", ns, target, NULL);
    if (!deps) return NULL;
    const json_t *ml = json_path(json_array_get(deps, 0), "spec.selector.matchLabels");
    if (json_object_size(ml) == 0) {
        json_decref(deps);
        return json_array();
    }
    char *dsel = kc_labels_string(ml);
    json_decref(deps);
    pods = get_items(lab, "Pod", ns, NULL, dsel);
    free(dsel);
    return pods;
}

/* Read every container of a pod (init containers too), RUNS_READ runs each. */
static void read_pod(const struct lab *lab, const json_t *pod, struct logq_set *set, const struct logq_filter *f,
                     size_t keep_last)
{
    const char *pname = json_path_str(pod, "metadata.name", "");
    const char *uid = json_path_str(pod, "metadata.uid", "");
    if (!*uid) return;
    json_t *containers = json_array(), *list;
    if ((list = json_path(pod, "spec.initContainers"))) json_array_extend(containers, list);
    if ((list = json_path(pod, "spec.containers"))) json_array_extend(containers, list);
    int multi = json_array_size(containers) > 1;
    size_t i;
    json_t *c;
    json_array_foreach(containers, i, c)
    {
        const char *cname = json_path_str(c, "name", "");
        char source[600];
        if (multi) snprintf(source, sizeof source, "%s/%s", pname, cname);
        else snprintf(source, sizeof source, "%s", pname);
        int runs[RUNS_READ];
        size_t n = logq_list_runs(lab, uid, cname, runs, RUNS_READ);
        for (size_t r = n; r > 0; r--) { /* oldest first */
            char dir[PATH_MAX];
            if (cluster_run_dir(lab, uid, cname, runs[r - 1], dir, sizeof dir)) continue;
            int rc = logq_read_run(set, dir, source, f, keep_last);
            if (rc && rc != -ENOENT) fprintf(stderr, "aiopslab: reading %s: %s\n", dir, strerror(-rc));
        }
    }
    json_decref(containers);
}

static void print_line(const struct logq_line *l, int timestamps, const char *fold)
{
    if (fold) fputs(fold, stdout);
    fprintf(stdout, "[%s] ", l->source);
    if (timestamps && l->ts_ns) {
        char t[40];
        time_rfc3339_nano(l->ts_ns, t, sizeof t);
        fprintf(stdout, "%s ", t);
    }
    size_t n = l->len < LINE_SHOW ? l->len : LINE_SHOW;
    fwrite(l->text, 1, n, stdout);
    if (n < l->len) fprintf(stdout, " ...[%zu more bytes]", l->len - n);
    fputc('\n', stdout);
}

static int flag(int argc, char **argv, int *i, const char *name, const char **val)
{
    size_t n = strlen(name);
    if (!strcmp(argv[*i], name)) {
        if (*i + 1 >= argc) return -1;
        *val = argv[++*i];
        return 1;
    }
    if (!strncmp(argv[*i], name, n) && argv[*i][n] == '=') {
        *val = argv[*i] + n + 1;
        return 1;
    }
    return 0;
}

int cli_logs(int argc, char **argv)
{
    const char *ns = NULL, *target = NULL, *grep = NULL, *val;
    long tail = -1, max_lines = DEFAULT_MAX_LINES;
    uint64_t since_ns = 0;
    enum logq_level level = LOGQ_LEVEL_NONE;
    int compact = 0, timestamps = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout);
        if (!strcmp(a, "--compact")) {
            compact = 1;
        } else if (!strcmp(a, "--timestamps")) {
            timestamps = 1;
        } else if ((r = flag(argc, argv, &i, "-n", &val)) || (r = flag(argc, argv, &i, "--namespace", &val))) {
            if (r < 0) goto missing;
            ns = val;
        } else if ((r = flag(argc, argv, &i, "--since", &val))) {
            uint64_t d;
            if (r < 0) goto missing;
            if (time_parse_duration(val, &d) || d == 0) {
                fprintf(stderr, "aiopslab logs: bad --since \"%s\" (a duration: 30s, 5m, 1h)\n", val);
                return 2;
            }
            uint64_t now = wall_ns();
            since_ns = d < now ? now - d : 1;
        } else if ((r = flag(argc, argv, &i, "--tail", &val))) {
            if (r < 0) goto missing;
            if (parse_long(val, 0, 1L << 30, &tail)) {
                fprintf(stderr, "aiopslab logs: bad --tail \"%s\" (a count >= 0)\n", val);
                return 2;
            }
        } else if ((r = flag(argc, argv, &i, "--max-lines", &val))) {
            if (r < 0) goto missing;
            if (parse_long(val, 1, 1000000, &max_lines)) {
                fprintf(stderr, "aiopslab logs: bad --max-lines \"%s\" (1 to 1000000)\n", val);
                return 2;
            }
        } else if ((r = flag(argc, argv, &i, "--grep", &val))) {
            if (r < 0) goto missing;
            grep = val;
        } else if ((r = flag(argc, argv, &i, "--level", &val))) {
            if (r < 0) goto missing;
            level = logq_parse_level(val);
            if (level == LOGQ_LEVEL_NONE) {
                fprintf(stderr, "aiopslab logs: bad --level \"%s\" (debug, info, warn or error)\n", val);
                return 2;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "aiopslab logs: unknown flag \"%s\"\n", a);
            return usage(stderr);
        } else if (!target) {
            target = a;
        } else {
            fprintf(stderr, "aiopslab logs: one SERVICE or POD only (got \"%s\" and \"%s\")\n", target, a);
            return 2;
        }
        continue;
    missing:
        fprintf(stderr, "aiopslab logs: %s needs a value\n", a);
        return 2;
    }
    if (!ns || !target) {
        fprintf(stderr, "aiopslab logs: %s\n", !ns ? "-n NAMESPACE is required" : "SERVICE or POD is required");
        return usage(stderr);
    }

    struct lab lab;
    char err[512];
    if (lab_resolve(NULL, &lab, err, sizeof err)) {
        fprintf(stderr, "aiopslab: %s\n", err);
        return 1;
    }
    struct logq_filter f;
    if (logq_filter_init(&f, since_ns, level, grep, err, sizeof err)) {
        logq_filter_free(&f);
        fprintf(stderr, "aiopslab logs: %s\n", err);
        return 2;
    }
    json_t *pods = select_pods(&lab, ns, target);
    if (!pods) {
        logq_filter_free(&f);
        return 1;
    }
    if (!json_array_size(pods)) {
        fprintf(stderr, "aiopslab logs: no pod, app label or Deployment \"%s\" in namespace \"%s\"\n", target, ns);
        json_decref(pods);
        logq_filter_free(&f);
        return 1;
    }
    /* Plain output shows only the newest max_lines, so a source never needs
     * more than that; --tail bounds it too. Compact needs every line. */
    size_t keep_last = 0;
    if (tail >= 0) keep_last = (size_t)tail;
    if (!compact && (keep_last == 0 || keep_last > (size_t)max_lines)) keep_last = (size_t)max_lines;
    if (tail == 0) keep_last = 0;

    struct logq_set set;
    logq_set_init(&set, 0);
    size_t i;
    json_t *p;
    if (tail != 0) json_array_foreach(pods, i, p) read_pod(&lab, p, &set, &f, keep_last);
    logq_sort(&set);
    size_t from = 0;
    if (tail >= 0 && (size_t)tail < set.n) from = set.n - (size_t)tail;
    if (tail == 0) from = set.n;

    if (compact) {
        struct logq_group *g = NULL;
        size_t ng = 0;
        logq_fold(&set, from, &g, &ng);
        size_t shown = ng < (size_t)max_lines ? ng : (size_t)max_lines, hidden_lines = 0;
        for (size_t k = 0; k < ng; k++) {
            if (k < shown) {
                char count[32];
                snprintf(count, sizeof count, "[x%zu] ", g[k].count);
                print_line(&set.lines[g[k].first], timestamps, count);
            } else {
                hidden_lines += g[k].count;
            }
        }
        if (ng > shown) printf("... %zu more lines (%zu log lines; raise --max-lines or narrow with --grep/--level/--since)\n", ng - shown, hidden_lines);
        free(g);
    } else {
        size_t first = from;
        if (set.n - first > (size_t)max_lines) first = set.n - (size_t)max_lines;
        for (size_t k = first; k < set.n; k++) print_line(&set.lines[k], timestamps, NULL);
        /* Lines trimmed while reading count too: matched, wanted by --tail, not shown. */
        size_t matched = set.n + set.trimmed, wanted = matched, shown = set.n - first;
        if (tail >= 0 && (size_t)tail < wanted) wanted = (size_t)tail;
        if (wanted > shown)
            printf("... %zu more lines before these (raise --max-lines or narrow with --since/--grep/--level/--compact)\n",
                   wanted - shown);
    }
    if (set.dropped)
        fprintf(stderr, "aiopslab logs: %zu lines left out past the %u MiB bound (narrow with --since or --tail)\n",
                set.dropped, LOGQ_MAX_BYTES >> 20);
    fflush(stdout);
    logq_set_free(&set);
    json_decref(pods);
    logq_filter_free(&f);
    return 0;
}
