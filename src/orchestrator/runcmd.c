/* runcmd: see runcmd.h. */
#include "orchestrator/runcmd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/timeutil.h"

extern char **environ;

int runcmd(char *const argv[], char *const envp[], const char *cwd, unsigned timeout_ms, size_t max_out,
           int (*hook)(void *arg, char *err, size_t errlen), void *hook_arg, struct buf *out,
           struct runcmd_result *res)
{
    memset(res, 0, sizeof *res);
    res->status = -1;
    int p[2];
    if (pipe2(p, O_CLOEXEC)) return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return -e;
    }
    if (pid == 0) {
        setpgid(0, 0);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        dup2(p[1], 1);
        dup2(p[1], 2);
        signal(SIGPIPE, SIG_DFL);
        char err[512] = "";
        if (hook && hook(hook_arg, err, sizeof err)) {
            dprintf(1, "%s\n", err);
            _exit(126);
        }
        if (cwd && chdir(cwd)) {
            dprintf(1, "cannot enter %s: %s\n", cwd, strerror(errno));
            _exit(126);
        }
        if (envp) environ = (char **)envp;
        execvp(argv[0], argv);
        dprintf(1, "%s: %s\n", argv[0], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    setpgid(pid, pid);
    close(p[1]);
    uint64_t deadline = mono_ns() + (uint64_t)timeout_ms * 1000000u;
    char chunk[8192];
    for (;;) {
        uint64_t now = mono_ns();
        if (now >= deadline) {
            kill(-pid, SIGKILL);
            res->timed_out = 1;
            break;
        }
        struct pollfd pf = {.fd = p[0], .events = POLLIN};
        int left = (int)((deadline - now) / 1000000u) + 1;
        int r = poll(&pf, 1, left);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue;
        ssize_t n = read(p[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        size_t keep = out->len < max_out ? max_out - out->len : 0;
        if (keep > (size_t)n) keep = (size_t)n;
        if (keep) buf_append(out, chunk, keep);
        res->dropped += (size_t)n - keep;
    }
    close(p[0]);
    int st = 0;
    kill(-pid, SIGKILL); /* what the command left running in its group goes with it */
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    res->status = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
    return 0;
}
