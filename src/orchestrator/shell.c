/* shell: exec_shell's sandbox (see shell.h). */
#include "orchestrator/shell.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "orchestrator/runcmd.h"

#define NOBODY 65534

/* ---- refused commands -------------------------------------------------------------- */

/* Does the command hold word w (delimited by blanks, quotes, ;|&) after kubectl? */
static int has_word(const char *s, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = strstr(s, w); p; p = strstr(p + 1, w)) {
        int left = p == s || strchr(" \t\n;|&'\"(", p[-1]);
        int right = !p[n] || strchr(" \t\n;|&'\")=", p[n]);
        if (left && right) return 1;
    }
    return 0;
}

const char *shell_refused(const char *cmd)
{
    if (!has_word(cmd, "kubectl")) return NULL;
    if (has_word(cmd, "edit")) return "kubectl edit is interactive and not supported; use kubectl patch or kubectl set";
    if (has_word(cmd, "port-forward")) return "kubectl port-forward does not return and is not supported";
    if (has_word(cmd, "attach")) return "kubectl attach is interactive and not supported";
    if (has_word(cmd, "logs") && (has_word(cmd, "-f") || has_word(cmd, "--follow")))
        return "kubectl logs -f does not return; leave out -f/--follow";
    if (has_word(cmd, "-w") || has_word(cmd, "--watch"))
        return "watching (-w/--watch) does not return and is not supported";
    return NULL;
}

/* ---- the sandbox, built in the child before exec ------------------------------------ */

static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Make path empty: an empty read-only tmpfs over a folder, /dev/null over a file. */
static int hide(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st)) return 0; /* nothing there to hide */
    int rc = S_ISDIR(st.st_mode)
                 ? mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, "size=4k,mode=0755")
                 : mount("/dev/null", path, NULL, MS_BIND, NULL);
    if (rc) snprintf(err, errlen, "sandbox: cannot hide %s: %s", path, strerror(errno));
    return rc;
}

static int drop_caps(char *err, size_t errlen)
{
    for (int cap = 0; cap <= CAP_LAST_CAP; cap++) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    if (syscall(SYS_capset, &h, d)) {
        snprintf(err, errlen, "sandbox: cannot drop capabilities: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int shell_confine_enter(void *arg, char *err, size_t errlen)
{
    struct shell_confine *s = arg;
    int root = geteuid() == 0;
    if (root) {
        if (unshare(CLONE_NEWNS | CLONE_NEWPID)) {
            snprintf(err, errlen, "sandbox: cannot make namespaces: %s", strerror(errno));
            return -1;
        }
    } else {
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID)) {
            snprintf(err, errlen,
                     "sandbox: cannot make a user namespace (%s): exec_shell needs unprivileged user "
                     "namespaces (sysctl kernel.unprivileged_userns_clone=1) or root",
                     strerror(errno));
            return -1;
        }
        write_text("/proc/self/setgroups", "deny");
        if (write_text("/proc/self/uid_map", s->uid_map)) {
            snprintf(err, errlen, "sandbox: cannot map the user: %s", strerror(errno));
            return -1;
        }
        write_text("/proc/self/gid_map", s->gid_map);
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
        snprintf(err, errlen, "sandbox: cannot make mounts private: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < s->nhidden; i++)
        if (hide(s->hidden[i], err, errlen)) return -1;
    if (mount(s->agent_sock, s->sock, NULL, MS_BIND, NULL)) {
        snprintf(err, errlen, "sandbox: cannot reach the lab (%s): %s", s->agent_sock, strerror(errno));
        return -1;
    }
    /* The first child in the new PID namespace is its init: it mounts a
     * /proc of its own and runs the command; this process waits and
     * passes its status on. */
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "sandbox: fork: %s", strerror(errno));
        return -1;
    }
    if (pid > 0) {
        /* This process only waits: it must not hold the caller's pipes
         * (an exec-status pipe would never see its CLOEXEC close). */
        syscall(SYS_close_range, 3, ~0U, 0);
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) {
        snprintf(err, errlen, "sandbox: cannot mount /proc: %s", strerror(errno));
        return -1;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
        snprintf(err, errlen, "sandbox: no_new_privs: %s", strerror(errno));
        return -1;
    }
    if (root) {
        if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY)) {
            snprintf(err, errlen, "sandbox: cannot become nobody: %s", strerror(errno));
            return -1;
        }
    } else if (drop_caps(err, errlen)) {
        return -1;
    }
    return 0;
}

static void add_hidden(struct shell_confine *s, const char *path)
{
    if (s->nhidden < sizeof s->hidden / sizeof s->hidden[0])
        snprintf(s->hidden[s->nhidden++], sizeof s->hidden[0], "%s", path);
}

void shell_confine_init(struct shell_confine *s, const struct shell_env *e)
{
    memset(s, 0, sizeof *s);
    static const char *const lab_private[] = {"faults", "logs", "mesh", "state.db", "state.db-wal", "state.db-shm"};
    char path[PATH_MAX];
    for (size_t i = 0; i < sizeof lab_private / sizeof lab_private[0]; i++) {
        lab_path(e->lab, lab_private[i], path, sizeof path);
        add_hidden(s, path);
    }
    for (size_t i = 0; i < e->nhide; i++)
        if (e->hide[i]) add_hidden(s, e->hide[i]);
    lab_path(e->lab, "daemon.sock", s->sock, sizeof s->sock);
    lab_path(e->lab, "agent.sock", s->agent_sock, sizeof s->agent_sock);
    snprintf(s->uid_map, sizeof s->uid_map, "0 %u 1", (unsigned)getuid());
    snprintf(s->gid_map, sizeof s->gid_map, "0 %u 1", (unsigned)getgid());
}

int shell_run(const struct shell_env *e, const char *command, unsigned timeout_ms, size_t max_out, struct buf *out,
              int *status)
{
    *status = -1;
    const char *why = shell_refused(command);
    if (why) {
        buf_append(out, "Error: ", 7);
        buf_append(out, why, strlen(why));
        return 0;
    }
    struct shell_confine s;
    shell_confine_init(&s, e);

    char env_path[PATH_MAX + 64], env_home[PATH_MAX + 8], env_lab[64], env_labhome[PATH_MAX + 16];
    snprintf(env_path, sizeof env_path, "PATH=%s:/usr/local/bin:/usr/bin:/bin", e->bindir);
    snprintf(env_home, sizeof env_home, "HOME=%s", e->workdir);
    snprintf(env_lab, sizeof env_lab, "AIOPSLAB_LAB=%s", e->lab->name);
    /* kubectl finds the lab from AIOPSLAB_HOME and the lab's name. */
    char home[PATH_MAX];
    snprintf(home, sizeof home, "%s", e->lab->dir);
    char *cut = strstr(home, "/labs/");
    if (cut) *cut = '\0';
    snprintf(env_labhome, sizeof env_labhome, "AIOPSLAB_HOME=%s", home);
    char *envp[] = {env_path, env_home, env_lab, env_labhome, "LANG=C.UTF-8", "TERM=dumb", NULL};
    char *argv[] = {"/bin/sh", "-c", (char *)command, NULL};
    struct runcmd_result r;
    int rc = runcmd(argv, envp, e->workdir, timeout_ms, max_out, shell_confine_enter, &s, out, &r);
    if (rc) {
        char msg[160];
        int n = snprintf(msg, sizeof msg, "Error: cannot run the shell: %s", strerror(-rc));
        buf_append(out, msg, (size_t)n);
        return -1;
    }
    *status = r.status;
    char tail[160];
    int n = 0;
    if (r.timed_out)
        n = snprintf(tail, sizeof tail, "\n[command timed out after %u s and was killed]", timeout_ms / 1000);
    else if (r.dropped)
        n = snprintf(tail, sizeof tail, "\n[output cut: %zu more bytes; narrow the command, e.g. with grep or tail]",
                     r.dropped);
    if (n > 0) buf_append(out, tail, (size_t)n);
    return r.status == 126 && out->data && memmem(out->data, out->len, "sandbox: ", 9) ? -1 : 0;
}
