/* aci: the actions (see aci.h). Telemetry actions run the lab's own
 * commands (`aiopslab logs`, `observe export`, `metrics query`, `traces`)
 * as the orchestrator, with bounded output; exec_shell runs in the
 * sandbox of shell.c. */
#include "orchestrator/aci.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "core/util.h"
#include "orchestrator/runcmd.h"
#include "orchestrator/shell.h"

#define R ACTION_REQUIRED

/* Common actions, then one submit per task. */
static const struct action_spec COMMON[] = {
    {"get_logs", {{"namespace", ACTION_STR, R}, {"service", ACTION_STR, R}}},
    {"get_metrics", {{"namespace", ACTION_STR, R}, {"duration", ACTION_INT, "5"}}},
    {"read_metrics", {{"file_path", ACTION_STR, R}}},
    {"get_traces", {{"namespace", ACTION_STR, R}, {"duration", ACTION_INT, "5"}}},
    {"read_traces", {{"file_path", ACTION_STR, R}}},
    {"query_metrics", {{"promql", ACTION_STR, R}}},
    {"get_services", {{0}}},
    {"get_operations", {{"service", ACTION_STR, R}}},
    {"exec_shell", {{"command", ACTION_STR, R}, {"timeout", ACTION_INT, "30"}}},
};
#define NCOMMON (sizeof COMMON / sizeof COMMON[0])

static const struct action_spec SUBMIT[TASKS] = {
    {"submit", {{"has_anomaly", ACTION_STR, R}}},
    {"submit", {{"faulty_components", ACTION_LIST, R}}},
    {"submit", {{"analysis", ACTION_DICT, R}}},
    {"submit", {{0}}},
};

static const char *const DOCS[NCOMMON] = {
    "Collects the logs of a service's pods (every replica, merged by time, the newest 300 lines).\n"
    "    Args:\n        namespace (str): The namespace in which the service is running.\n"
    "        service (str): The name of the service.\n    Returns:\n        str | dict | list[dicts]: Log data.",
    "Collects metrics data (Prometheus) of the namespace's pods and services into CSV files.\n"
    "    Args:\n        namespace (str): The namespace in which the service is running.\n"
    "        duration (int): The number of minutes from now to start collecting metrics until now.\n"
    "    Returns:\n        str: Path to the directory where the metrics are saved.",
    "Reads a metrics CSV file (columns timestamp, cmdb_id, kpi_name, value).\n"
    "    Args:\n        file_path (str): Path to the metrics file.\n    Returns:\n        str: The metrics, as a table.",
    "Collects trace data of the services into a CSV file.\n"
    "    Args:\n        namespace (str): The namespace in which the service is running.\n"
    "        duration (int): The number of minutes from now to start collecting traces until now.\n"
    "    Returns:\n        str: Path to the directory where the traces are saved.",
    "Reads a traces CSV file (columns trace_id, span_id, parent_span, service_name, operation_name, start_time,\n"
    "    duration, has_error, response).\n"
    "    Args:\n        file_path (str): Path to the traces file.\n    Returns:\n        str: The traces, as a table.",
    "Evaluates a PromQL query on the lab's Prometheus at the current time.\n"
    "    Args:\n        promql (str): The query, e.g. 'sum by (destination_service) (rate(mesh_requests_total[1m]))'.\n"
    "    Returns:\n        str: The result as a table.",
    "Lists the services that have sent traces.\n    Returns:\n        str: One service per line.",
    "Lists the operations of a service seen in its traces.\n"
    "    Args:\n        service (str): The service's name.\n    Returns:\n        str: One operation per line.",
    "Execute any shell command in a predefined debugging environment (kubectl is on the PATH).\n"
    "    Note: this is NOT A STATEFUL OR INTERACTIVE shell session. So you cannot execute commands like "
    "\"kubectl edit\".\n"
    "    Args:\n        command (str): The command to execute.\n"
    "        timeout (int): Timeout in seconds for the command execution. Default is 30 (at most 120).\n"
    "    Returns:\n        str: The output of the command.",
};

static const char *const SUBMIT_DOCS[TASKS] = {
    "Submit if anomalies are detected to the orchestrator for evaluation.\n"
    "    Args:\n        has_anomaly (str): \"Yes\" if anomalies are detected, \"No\" otherwise.\n"
    "    Returns:\n        SubmissionStatus: The status of the submission.",
    "Submit the faulty components to the orchestrator for evaluation.\n"
    "    Args:\n        faulty_components (list[str]): List of faulty components (i.e., service names).\n"
    "    Returns:\n        SubmissionStatus: The status of the submission.",
    "Submit the root cause analysis to the orchestrator for evaluation.\n"
    "    Args:\n        analysis (dict): {\"system_level\": ..., \"fault_type\": ...}.\n"
    "    Returns:\n        SubmissionStatus: The status of the submission.",
    "Submit once the mitigation is complete; the live service is then checked.\n"
    "    Returns:\n        SubmissionStatus: The status of the submission.",
};

static struct action_spec TABLES[TASKS][NCOMMON + 2];

const struct action_spec *aci_actions(enum task t, size_t *n)
{
    struct action_spec *tab = TABLES[t];
    if (!tab[0].name) {
        memcpy(tab, COMMON, sizeof COMMON);
        tab[NCOMMON] = SUBMIT[t];
    }
    *n = NCOMMON + 1;
    return tab;
}

char *aci_describe(enum task t)
{
    size_t n;
    const struct action_spec *tab = aci_actions(t, &n);
    struct buf b;
    buf_init(&b, 1u << 20);
    for (size_t i = 0; i < n; i++) {
        action_signature(&tab[i], &b);
        buf_append(&b, "\n    ", 5);
        const char *doc = i < NCOMMON ? DOCS[i] : SUBMIT_DOCS[t];
        buf_append(&b, doc, strlen(doc));
        buf_append(&b, "\n\n", 2);
    }
    buf_append(&b, "", 1);
    return b.data;
}

/* ---- execution ------------------------------------------------------------------------------------------ */

static const char *aiopslab_exe(void)
{
    static char exe[PATH_MAX];
    if (!exe[0] && self_exe(exe, sizeof exe)) exe[0] = '\0';
    return exe;
}

/* Run `aiopslab --lab L ARGS...`; its output becomes the observation. */
static int lab_cmd(struct aci *a, struct buf *out, const char *const *args)
{
    char *argv[24];
    size_t n = 0;
    argv[n++] = (char *)aiopslab_exe();
    argv[n++] = "--lab";
    argv[n++] = (char *)a->lab->name;
    for (; *args && n < 23; args++) argv[n++] = (char *)*args;
    argv[n] = NULL;
    struct runcmd_result r;
    if (runcmd(argv, NULL, NULL, 60000, ACI_OUTPUT_MAX, NULL, NULL, out, &r)) {
        buf_printf(out, "Error: cannot run the action");
        return -1;
    }
    if (r.dropped) buf_printf(out, "\n[output cut: %zu more bytes]", r.dropped);
    if (r.timed_out) buf_printf(out, "\n[timed out]");
    return r.status;
}

static int namespace_ok(struct aci *a, const char *ns, struct buf *out)
{
    if (!strcmp(ns, a->problem->app->namespace)) return 1;
    buf_printf(out, "Error: namespace \"%s\" is not the service's namespace; the service runs in \"%s\".", ns,
        a->problem->app->namespace);
    return 0;
}

/* A path the agent gave must lie in the session's folder (where get_metrics/get_traces write). */
static int session_file(struct aci *a, const char *given, char *real, struct buf *out)
{
    if (!realpath(given, real)) {
        buf_printf(out, "Error: cannot read %s: %s. Use a path returned by get_metrics or get_traces.", given,
            strerror(errno));
        return 0;
    }
    size_t n = strlen(a->workdir);
    if (strncmp(real, a->workdir, n) || (real[n] && real[n] != '/')) {
        buf_printf(out, "Error: %s is not a file written by get_metrics or get_traces (they write under %s).", given,
            a->workdir);
        return 0;
    }
    return 1;
}

static void read_csv(struct aci *a, const char *given, struct buf *out)
{
    char real[PATH_MAX];
    if (!session_file(a, given, real, out)) return;
    FILE *f = fopen(real, "r");
    if (!f) {
        buf_printf(out, "Error: cannot read %s: %s", given, strerror(errno));
        return;
    }
    char line[4096];
    size_t rows = 0, shown = 0;
    while (fgets(line, sizeof line, f)) {
        rows++;
        if (out->len + strlen(line) < ACI_OUTPUT_MAX - 200) {
            buf_append(out, line, strlen(line));
            shown++;
        }
    }
    fclose(f);
    if (shown < rows) buf_printf(out, "[%zu of %zu rows shown; filter with exec_shell, e.g. grep or awk on %s]\n", shown, rows, real);
}

static void export_part(struct aci *a, const char *part, long minutes, struct buf *out)
{
    static unsigned seq;
    char dir[PATH_MAX], since[32];
    snprintf(dir, sizeof dir, "%s/%s-%u", a->workdir, part, ++seq);
    snprintf(since, sizeof since, "%ldm", minutes);
    struct buf tmp;
    buf_init(&tmp, 64 * 1024);
    const char *args[] = {"observe", "export", "--only", part, "--since", since, dir, NULL};
    int rc = lab_cmd(a, &tmp, args);
    if (rc) {
        buf_printf(out, "Error: collecting %s failed: %.*s", part, (int)(tmp.len < 1000 ? tmp.len : 1000), tmp.data ? tmp.data : "");
    } else if (!strcmp(part, "metrics")) {
        buf_printf(out, "Metrics data exported to directory: %s/metrics\nFiles: %s/metrics/%s.csv", dir, dir,
            a->problem->app->namespace);
    } else {
        buf_printf(out, "Traces data exported to: %s/traces/traces.csv", dir);
    }
    buf_free(&tmp);
}

static void run_action(struct aci *a, const char *name, json_t *args, struct buf *out)
{
    const char *ns = json_string_value(json_object_get(args, "namespace"));
    if (ns && !namespace_ok(a, ns, out)) return;
    long minutes = (long)json_integer_value(json_object_get(args, "duration"));
    if (json_object_get(args, "duration") && (minutes < 1 || minutes > 60)) {
        buf_printf(out, "Error: duration is in minutes, from 1 to 60 (e.g. duration=5).");
        return;
    }
    if (!strcmp(name, "get_logs")) {
        const char *svc = json_string_value(json_object_get(args, "service"));
        const char *argv[] = {"logs", "-n", ns, svc, "--tail", "300", NULL};
        lab_cmd(a, out, argv);
    } else if (!strcmp(name, "get_metrics")) {
        export_part(a, "metrics", minutes, out);
    } else if (!strcmp(name, "get_traces")) {
        export_part(a, "traces", minutes, out);
    } else if (!strcmp(name, "read_metrics") || !strcmp(name, "read_traces")) {
        read_csv(a, json_string_value(json_object_get(args, "file_path")), out);
    } else if (!strcmp(name, "query_metrics")) {
        const char *argv[] = {"metrics", "query", json_string_value(json_object_get(args, "promql")), NULL};
        lab_cmd(a, out, argv);
    } else if (!strcmp(name, "get_services")) {
        const char *argv[] = {"traces", "services", NULL};
        lab_cmd(a, out, argv);
    } else if (!strcmp(name, "get_operations")) {
        const char *argv[] = {"traces", "operations", json_string_value(json_object_get(args, "service")), NULL};
        lab_cmd(a, out, argv);
    } else if (!strcmp(name, "exec_shell")) {
        long t = (long)json_integer_value(json_object_get(args, "timeout"));
        if (t < 1 || t > (long)a->shell_timeout_max) {
            buf_printf(out, "Error: timeout is in seconds, from 1 to %u.", a->shell_timeout_max);
            return;
        }
        int status;
        shell_run(&a->shell, json_string_value(json_object_get(args, "command")), (unsigned)t * 1000u, ACI_OUTPUT_MAX,
                  out, &status);
    }
}

enum aci_result aci_step(struct aci *a, const char *reply, size_t len, struct buf *out, json_t **submission,
                         json_t **action_out)
{
    *submission = NULL;
    *action_out = NULL;
    struct action_call call = {0};
    char err[2048];
    if (action_parse(reply, len, &call, err, sizeof err)) {
        buf_printf(out, "Error: %s", err);
        return ACI_INVALID;
    }
    size_t n;
    const struct action_spec *tab = aci_actions(a->problem->task, &n);
    json_t *args = NULL;
    if (action_bind(tab, &call, &args, err, sizeof err)) {
        buf_printf(out, "Error: %s", err);
        action_call_free(&call);
        return ACI_INVALID;
    }
    *action_out = json_pack("{s:s, s:O}", "name", call.name, "args", args);
    enum aci_result res = ACI_OBSERVATION;
    if (!strcmp(call.name, "submit")) {
        *submission = json_incref(args);
        res = ACI_SUBMITTED;
    } else {
        run_action(a, call.name, args, out);
        if (!out->len) buf_printf(out, "(no output)");
    }
    json_decref(args);
    action_call_free(&call);
    return res;
}
