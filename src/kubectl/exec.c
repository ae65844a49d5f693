/* exec: `kubectl exec POD|TYPE/NAME [-c C] [-i] [-t] -- CMD ARGS...`.
 *
 * There is no container runtime to ask: the command runs as a child of
 * kubectl with the environment and working directory of the container's
 * current run, read from its run dir's spec.json (docs/conmon.md), so it
 * sees what the container sees (service variables, the mesh shim, the pod
 * root). Like kubectl, exec returns the command's exit code and says
 * "command terminated with exit code N" on stderr when it is not 0. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/paths.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/util.h"
#include "kubectl/kc.h"
#include "kubectl/kcw.h"

extern char **environ;

int kcw_exec_parse(int argc, char **argv, struct kcw_exec_args *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    int i = 1, dash = -1;
    for (; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--")) {
            dash = i;
            break;
        }
        if (!strcmp(s, "-c") || !strcmp(s, "--container")) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "flag needs an argument: 'c' in -c");
                return -EINVAL;
            }
            a->container = argv[++i];
        } else if (str_has_prefix(s, "--container=")) {
            a->container = s + 12;
        } else if (str_has_prefix(s, "-c") && s[2] && s[2] != '-') {
            a->container = s[2] == '=' ? s + 3 : s + 2;
        } else if (!strcmp(s, "--stdin") || !strcmp(s, "--stdin=true")) {
            a->stdin_open = 1;
        } else if (!strcmp(s, "--tty") || !strcmp(s, "--tty=true")) {
            a->tty = 1;
        } else if (!strcmp(s, "--stdin=false") || !strcmp(s, "--tty=false") || !strcmp(s, "-q") ||
                   !strcmp(s, "--quiet") || str_has_prefix(s, "--pod-running-timeout")) {
        } else if (s[0] == '-' && s[1] && s[1] != '-' && strspn(s + 1, "it") == strlen(s + 1)) {
            /* -i, -t, -it, -ti */
            if (strchr(s, 'i')) a->stdin_open = 1;
            if (strchr(s, 't')) a->tty = 1;
        } else if (s[0] == '-' && s[1]) {
            snprintf(err, errlen, "unknown flag: %s", s);
            return -EINVAL;
        } else if (!a->target) {
            a->target = s;
        } else {
            snprintf(err, errlen, "exec [POD] [COMMAND] is not supported anymore. Use exec [POD] -- [COMMAND] "
                                  "instead");
            return -EINVAL;
        }
    }
    if (!a->target) {
        snprintf(err, errlen, "pod, type/name or --filename must be specified");
        return -EINVAL;
    }
    if (dash < 0 || dash + 1 >= argc) {
        snprintf(err, errlen, "you must specify at least one command for the container");
        return -EINVAL;
    }
    a->cmd = argv + dash + 1;
    a->cmdc = argc - dash - 1;
    return 0;
}

int kcw_exec_container(const json_t *pod, const char *name, const char **cname, int *restart, char *err,
                       size_t errlen)
{
    const char *podname = json_path_str(pod, "metadata.name", "");
    const char *phase = json_path_str(pod, "status.phase", "");
    json_t *containers = json_path(pod, "spec.containers");
    const char *want = name;
    if (!want) want = json_path_str(json_array_get(containers, 0), "name", NULL);
    if (!want) {
        snprintf(err, errlen, "pod %s has no containers", podname);
        return -ENOENT;
    }
    int declared = 0;
    size_t i;
    json_t *c;
    json_array_foreach(containers, i, c)
    {
        if (!strcmp(json_path_str(c, "name", ""), want)) declared = 1;
    }
    if (!declared) {
        snprintf(err, errlen, "container %s is not valid for pod %s", want, podname);
        return -ENOENT;
    }
    if (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")) {
        snprintf(err, errlen, "cannot exec into a container in a completed pod; current phase is %s", phase);
        return -ESRCH;
    }
    json_array_foreach(json_path(pod, "status.containerStatuses"), i, c)
    {
        if (strcmp(json_path_str(c, "name", ""), want)) continue;
        if (!json_path(c, "state.running")) break;
        *cname = json_string_value(json_object_get(c, "name"));
        *restart = (int)json_path_int(c, "restartCount", 0);
        return 0;
    }
    snprintf(err, errlen, "unable to upgrade connection: container not found (\"%s\")", want);
    return -ESRCH;
}

/* The pod exec targets: POD, pod/NAME, or the first running pod of a
 * deployment (deploy/NAME). NULL after printing an error. */
static json_t *find_pod(struct kc *kc, const char *target)
{
    const char *slash = strchr(target, '/');
    const char *kind = "Pod", *name = target;
    char type[64];
    if (slash) {
        size_t n = (size_t)(slash - target);
        if (n >= sizeof type) n = sizeof type - 1;
        memcpy(type, target, n);
        type[n] = '\0';
        name = slash + 1;
        if (!strcmp(type, "pod") || !strcmp(type, "pods") || !strcmp(type, "po")) kind = "Pod";
        else if (!strcmp(type, "deploy") || !strcmp(type, "deployment") || !strcmp(type, "deployments") ||
                 !strcmp(type, "deployment.apps") || !strcmp(type, "deployments.apps"))
            kind = "Deployment";
        else {
            kc_error(kc, "cannot attach to %s: selector for %s not implemented", type, type);
            return NULL;
        }
    }
    json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "op", "get", "kind", kind, "namespace", kc->ns, "name", name);
    json_t *reply = NULL, *obj = NULL;
    int rc = kc_call(kc, req, &reply);
    json_decref(req);
    if (rc) return NULL;
    obj = json_array_get(json_object_get(reply, "items"), 0);
    if (!obj) {
        fprintf(kc->err, "Error from server (NotFound): %s \"%s\" not found\n",
                strcmp(kind, "Pod") ? "deployments.apps" : "pods", name);
        json_decref(reply);
        return NULL;
    }
    json_incref(obj);
    json_decref(reply);
    if (!strcmp(kind, "Pod")) return obj;
    char sel[1024];
    kcw_selector_of(obj, sel, sizeof sel);
    json_decref(obj);
    req = json_pack("{s:s, s:s, s:s, s:s}", "op", "get", "kind", "Pod", "namespace", kc->ns, "selector", sel);
    reply = NULL;
    rc = kc_call(kc, req, &reply);
    json_decref(req);
    if (rc) return NULL;
    json_t *pick = NULL, *p;
    size_t i;
    json_array_foreach(json_object_get(reply, "items"), i, p)
    {
        if (json_path(p, "metadata.deletionTimestamp")) continue;
        if (!pick) pick = p;
        if (!strcmp(json_path_str(p, "status.phase", ""), "Running")) {
            pick = p;
            break;
        }
    }
    if (!pick) {
        kc_error(kc, "timed out waiting for the condition");
        json_decref(reply);
        return NULL;
    }
    json_incref(pick);
    json_decref(reply);
    return pick;
}

static int run_command(struct kc *kc, const struct kcw_exec_args *a, char **env, const char *cwd)
{
    fflush(kc->out);
    fflush(kc->err);
    /* argv as handed to a verb need not end in NULL: copy it. */
    char **cmd = xcalloc((size_t)a->cmdc + 1, sizeof *cmd);
    for (int i = 0; i < a->cmdc; i++) cmd[i] = a->cmd[i];
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        free(cmd);
        return kc_error(kc, "pipe: %s", strerror(errno));
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        free(cmd);
        return kc_error(kc, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        int outfd = fileno(kc->out), errfd = fileno(kc->err);
        if (outfd >= 0 && outfd != 1) dup2(outfd, 1);
        if (errfd >= 0 && errfd != 2) dup2(errfd, 2);
        if (!a->stdin_open) {
            int nul = open("/dev/null", O_RDONLY);
            if (nul >= 0) {
                dup2(nul, 0);
                if (nul != 0) close(nul);
            }
        }
        signal(SIGPIPE, SIG_DFL);
        /* Killed with kubectl (an agent's shell timeout must not leave it). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int code = 0;
        if (cwd && *cwd && chdir(cwd) < 0) code = errno;
        if (!code) {
            environ = env;
            execvp(cmd[0], cmd);
            code = errno;
        }
        ssize_t w = write(pfd[1], &code, sizeof code);
        (void)w;
        _exit(127);
    }
    close(pfd[1]);
    free(cmd);
    int code = 0;
    ssize_t r;
    do r = read(pfd[0], &code, sizeof code);
    while (r < 0 && errno == EINTR);
    close(pfd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (r == (ssize_t)sizeof code) {
        if (code == ENOENT)
            fprintf(kc->err, "OCI runtime exec failed: exec failed: unable to start container process: exec: "
                             "\"%s\": executable file not found in $PATH: unknown\n", a->cmd[0]);
        else
            fprintf(kc->err, "OCI runtime exec failed: exec failed: unable to start container process: exec: "
                             "\"%s\": %s: unknown\n", a->cmd[0], strerror(code));
        fprintf(kc->err, "command terminated with exit code 126\n");
        return 126;
    }
    int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
    if (exit_code) fprintf(kc->err, "command terminated with exit code %d\n", exit_code);
    return exit_code;
}

int kc_exec(struct kc *kc, int argc, char **argv)
{
    struct kcw_exec_args a;
    char err[1024];
    if (kcw_exec_parse(argc, argv, &a, err, sizeof err)) {
        if (str_has_prefix(err, "unknown flag") || str_has_prefix(err, "flag needs"))
            return kc_usage_error(kc, "exec", "%s", err);
        return kc_error(kc, "%s", err);
    }
    json_t *pod = find_pod(kc, a.target);
    if (!pod) return 1;
    int status = 1;
    char **env = NULL;
    size_t nenv = 0;
    struct buf sb;
    buf_init(&sb, 4u << 20);
    json_t *spec = NULL;
    const char *cname = NULL;
    int restart = 0;
    if (kcw_exec_container(pod, a.container, &cname, &restart, err, sizeof err)) {
        kc_error(kc, "%s", err);
        goto out;
    }
    if (!a.container && json_array_size(json_path(pod, "spec.containers")) > 1) {
        struct buf names;
        buf_init(&names, 4096);
        size_t i;
        json_t *c;
        json_array_foreach(json_path(pod, "spec.containers"), i, c)
        {
            buf_printf(&names, "%s%s", i ? ", " : "", json_path_str(c, "name", ""));
        }
        fprintf(kc->err, "Defaulted container \"%s\" out of: %s\n", cname, names.data ? names.data : "");
        buf_free(&names);
    }
    const char *uid = json_path_str(pod, "metadata.uid", "");
    char dir[PATH_MAX + 64], path[PATH_MAX + 128];
    if (cluster_run_dir(&kc->lab, uid, cname, restart, dir, sizeof dir)) {
        kc_error(kc, "run directory path too long");
        goto out;
    }
    snprintf(path, sizeof path, "%s/spec.json", dir);
    int rc = read_file(path, &sb);
    json_error_t je;
    if (rc || !(spec = json_loadb(sb.data, sb.len, 0, &je))) {
        kc_error(kc, "unable to upgrade connection: container not found (\"%s\")", cname);
        goto out;
    }
    json_t *jenv = json_object_get(spec, "env");
    env = xcalloc(json_array_size(jenv) + 1, sizeof *env);
    size_t i;
    json_t *e;
    json_array_foreach(jenv, i, e)
    {
        if (json_is_string(e)) env[nenv++] = xstrdup(json_string_value(e));
    }
    status = run_command(kc, &a, env, json_path_str(spec, "cwd", NULL));
out:
    for (size_t k = 0; k < nenv; k++) free(env[k]);
    free(env);
    json_decref(spec);
    buf_free(&sb);
    json_decref(pod);
    return status;
}
