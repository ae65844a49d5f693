/* external: an agent that is a program of its own, speaking JSON lines on
 * its stdin and stdout (docs/agent-protocol.md). The orchestrator writes
 * one message a line — "start" with the prompt and the actions, then an
 * "observation" after each action, "end" at the end — and the program
 * answers each of the first two with one line: {"action": TEXT} or
 * {"tool_call": {"name", "arguments"}}, optionally with "usage" (tokens).
 *
 * The program is untrusted as a protocol peer: every reply is bounded
 * (a line of at most EXT_LINE_MAX bytes within the timeout), anything else
 * — garbage, an exit, a crash, silence, output nobody asked for — ends the
 * session with the reason. Its stderr is drained by a thread into a
 * bounded log file, so it never blocks on it. It runs in a process group
 * of its own, killed whole at close (and by PR_SET_PDEATHSIG should the
 * orchestrator die first). Writes to it never raise SIGPIPE. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agents/agent.h"
#include "core/json.h"
#include "core/alloc.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "orchestrator/aci.h"
#include "orchestrator/prompt.h"
#include "orchestrator/results.h"

#define EXT_LINE_MAX (64 * 1024)  /* a reply line, without its newline */
#define EXT_LOG_MAX (1024 * 1024) /* the agent's stderr kept in its log */
#define EXT_END_MS 200            /* for the end message to go out */
#define EXT_GRACE_MS 300          /* to exit by itself after the end message */

struct external {
    pid_t pid;   /* the shell; also the process group */
    int in_fd;   /* its stdin: messages go here (non-blocking) */
    int out_fd;  /* its stdout: replies come from here (non-blocking) */
    int err_fd;  /* its stderr: read by the drain thread */
    int stop[2]; /* wakes the drain thread at close */
    int log_fd;
    pthread_t drain;
    int drain_running;
    unsigned timeout_ms;
    int started, failed;
    char reason[256]; /* the first protocol failure: what "end" says when the session does not */
    struct buf line;  /* bytes read past the last reply line */
    size_t line_used; /* of which the current reply (with its newline) */
    char session_id[64], task[16];
};

/* ---- stderr ------------------------------------------------------------------------------------------------ */

static void log_note(int fd, const char *text) { (void)!write(fd, text, strlen(text)); }

/* Copy the agent's stderr into its log up to EXT_LOG_MAX, drop the rest. On
 * stop, take what is already there and leave (a grandchild that escaped the
 * process group may hold the pipe open forever). */
static void *drain_main(void *arg)
{
    struct external *x = arg;
    char chunk[8192];
    size_t kept = 0;
    int stopping = 0, cut = 0;
    for (;;) {
        struct pollfd pf[2] = {{.fd = x->err_fd, .events = POLLIN}, {.fd = x->stop[0], .events = POLLIN}};
        int r = poll(pf, 2, stopping ? 0 : -1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (pf[1].revents && !stopping) {
            stopping = 1;
            fd_set_nonblock(x->err_fd, 1);
        }
        if (!pf[0].revents) {
            if (stopping) break;
            continue;
        }
        ssize_t n = read(x->err_fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        size_t keep = kept < EXT_LOG_MAX ? EXT_LOG_MAX - kept : 0;
        if (keep > (size_t)n) keep = (size_t)n;
        if (keep && write_all(x->log_fd, chunk, keep) == 0) kept += keep;
        if (keep < (size_t)n && !cut) {
            cut = 1;
            log_note(x->log_fd, "\n[aiopslab: the agent's stderr was cut here at 1 MiB]\n");
        }
    }
    return NULL;
}

/* DIR/agent-logs/agent-<time>-<pid>.log, private like the results. */
static int open_log(struct agent *a, struct external *x, char *err, size_t errlen)
{
    char dir[4096], rerr[256];
    if (results_dir(dir, sizeof dir, rerr, sizeof rerr)) {
        snprintf(err, errlen, "external agent: %s", rerr);
        return -1;
    }
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", gmtime_r(&now, &tm));
    int w = snprintf(a->log_path, sizeof a->log_path, "%s/agent-logs", dir);
    if (w < 0 || (size_t)w >= sizeof a->log_path || (mkdir_p(a->log_path, 0700) && errno != EEXIST)) {
        snprintf(err, errlen, "external agent: cannot make %s/agent-logs", dir);
        return -1;
    }
    static unsigned seq;
    snprintf(a->log_path, sizeof a->log_path, "%s/agent-logs/agent-%s-%d-%u.log", dir, stamp, (int)getpid(), seq++);
    x->log_fd = open(a->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (x->log_fd < 0) {
        snprintf(err, errlen, "external agent: cannot create %s: %s", a->log_path, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- the process ----------------------------------------------------------------------------------------- */

/* /bin/sh -c cmd with our pipes as its stdio, in a process group of its
 * own. An exec failure comes back through a CLOEXEC pipe. */
static int spawn(struct external *x, const char *cmd, const struct agent_confine *confine, char *err, size_t errlen)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1}, ex[2] = {-1, -1};
    int rc = -1;
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(er, O_CLOEXEC) || pipe2(ex, O_CLOEXEC)) {
        snprintf(err, errlen, "external agent: pipe: %s", strerror(errno));
        goto out;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "external agent: fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls here: the orchestrator has threads. */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(er[1], 2);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigaction(SIGPIPE, &dfl, NULL);
        char why[512];
        if (confine && confine->enter && confine->enter(confine->arg, why, sizeof why)) {
            (void)!write(2, why, strlen(why));
            (void)!write(2, "\n", 1);
            int e = EPERM;
            (void)!write(ex[1], &e, sizeof e);
            _exit(126);
        }
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        int e = errno;
        (void)!write(ex[1], &e, sizeof e);
        _exit(127);
    }
    setpgid(pid, pid);
    close(ex[1]);
    ex[1] = -1;
    int e = 0;
    ssize_t n;
    while ((n = read(ex[0], &e, sizeof e)) < 0 && errno == EINTR) {
    }
    if (n > 0) {
        snprintf(err, errlen, "external agent: cannot run /bin/sh: %s", strerror(e));
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        goto out;
    }
    x->pid = pid;
    x->in_fd = in[1];
    x->out_fd = out[0];
    x->err_fd = er[0];
    in[1] = out[0] = er[0] = -1;
    fd_set_nonblock(x->in_fd, 1);
    fd_set_nonblock(x->out_fd, 1);
    rc = 0;
out:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0) close(in[i]);
        if (out[i] >= 0) close(out[i]);
        if (er[i] >= 0) close(er[i]);
        if (ex[i] >= 0) close(ex[i]);
    }
    return rc;
}

/* How the agent is doing, without reaping it (its pid must stay its group's
 * until the group is killed). */
static void describe_exit(const struct external *x, char *out, size_t n)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)x->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == x->pid) {
        if (si.si_code == CLD_EXITED && si.si_status > 128 && si.si_status < 128 + 65)
            /* The shell's way of saying that the command it waited for died of a signal. */
            snprintf(out, n, "the agent exited with status %d (its command was killed by signal %d, %s)",
                     si.si_status, si.si_status - 128, strsignal(si.si_status - 128));
        else if (si.si_code == CLD_EXITED) snprintf(out, n, "the agent exited with status %d", si.si_status);
        else snprintf(out, n, "the agent was killed by signal %d (%s)", si.si_status, strsignal(si.si_status));
    } else {
        snprintf(out, n, "the agent closed its stdout");
    }
}

/* ---- lines --------------------------------------------------------------------------------------------- */

static int fail(struct agent *a, char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(struct agent *a, char *err, size_t errlen, const char *fmt, ...)
{
    struct external *x = a->impl;
    char why[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (!x->failed) snprintf(x->reason, sizeof x->reason, "%s", why);
    x->failed = 1;
    snprintf(err, errlen, "%s (its stderr: %s)", why, a->log_path);
    return -1;
}

static unsigned left_ms(uint64_t deadline)
{
    uint64_t now = mono_ns();
    return now >= deadline ? 0 : (unsigned)((deadline - now) / 1000000u) + 1;
}

/* Write text and a newline within timeout_ms. SIGPIPE is blocked around the
 * write and a signal it raised is taken back, so a dead agent is an EPIPE
 * here and never kills the orchestrator. 0, -EPIPE, -ETIMEDOUT or -errno. */
static int send_line(struct external *x, const char *text, size_t len, unsigned timeout_ms)
{
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    uint64_t deadline = mono_ns() + (uint64_t)timeout_ms * 1000000u;
    int rc = 0;
    size_t off = 0, total = len + 1;
    while (off < total) {
        const char *p = off < len ? text + off : "\n";
        size_t n = off < len ? len - off : 1;
        ssize_t w = write(x->in_fd, p, n);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno != EAGAIN) {
            rc = -errno;
            break;
        }
        unsigned ms = left_ms(deadline);
        struct pollfd pf = {.fd = x->in_fd, .events = POLLOUT};
        if (!ms || (poll(&pf, 1, (int)ms) == 0 && !left_ms(deadline))) {
            rc = -ETIMEDOUT;
            break;
        }
    }
    if (rc == -EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* The next line from the agent into *line (NUL-terminated, without its
 * newline; valid until the next call). 0, or -1 with why. */
static int read_line(struct external *x, char **line, size_t *len, char *why, size_t n)
{
    uint64_t deadline = mono_ns() + (uint64_t)x->timeout_ms * 1000000u;
    for (;;) {
        char *nl = x->line.len ? memchr(x->line.data, '\n', x->line.len) : NULL;
        if (nl) {
            *nl = '\0';
            *line = x->line.data;
            *len = (size_t)(nl - x->line.data);
            x->line_used = *len + 1;
            if (*len && (*line)[*len - 1] == '\r') (*line)[--*len] = '\0';
            return 0;
        }
        if (x->line.len > EXT_LINE_MAX) {
            snprintf(why, n, "the agent's reply line is longer than %d KiB", EXT_LINE_MAX / 1024);
            return -1;
        }
        unsigned ms = left_ms(deadline);
        struct pollfd pf = {.fd = x->out_fd, .events = POLLIN};
        int r = ms ? poll(&pf, 1, (int)ms) : 0;
        if (r < 0 && errno == EINTR) continue;
        if (r == 0 && !left_ms(deadline)) {
            snprintf(why, n, "the agent wrote no reply within %.1f s (the agent timeout)", x->timeout_ms / 1000.0);
            return -1;
        }
        char chunk[8192];
        ssize_t got = read(x->out_fd, chunk, sizeof chunk);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got <= 0) {
            /* Give an exiting process a moment so its status can be told. */
            for (int i = 0; i < 20; i++) {
                siginfo_t si = {0};
                if (waitid(P_PID, (id_t)x->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid) break;
                usleep(5000);
            }
            describe_exit(x, why, n);
            return -1;
        }
        if (buf_append(&x->line, chunk, (size_t)got)) {
            snprintf(why, n, "the agent's reply line is longer than %d KiB", EXT_LINE_MAX / 1024);
            return -1;
        }
    }
}

/* Bytes waiting on the agent's stdout before we asked anything. */
static int unsolicited(struct external *x)
{
    if (x->line.len) return 1;
    struct pollfd pf = {.fd = x->out_fd, .events = POLLIN};
    return poll(&pf, 1, 0) > 0 && (pf.revents & POLLIN);
}

/* ---- messages -------------------------------------------------------------------------------------------- */

/* text as a JSON string: observations carry whatever the commands printed,
 * so bytes that are not UTF-8 become U+FFFD rather than failing the message. */
static const char *type_name(enum action_type t)
{
    static const char *const names[] = {"any", "str", "int", "float", "bool", "list", "dict"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "any";
}

static json_t *actions_json(enum task t)
{
    size_t n;
    const struct action_spec *tab = aci_actions(t, &n);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        struct buf sig;
        buf_init(&sig, 4096);
        action_signature(&tab[i], &sig);
        json_t *params = json_array();
        for (size_t k = 0; k < ACTION_MAX_PARAMS && tab[i].params[k].name; k++) {
            const struct action_param *pa = &tab[i].params[k];
            json_t *p = json_pack("{s:s, s:s, s:b}", "name", pa->name, "type", type_name(pa->type), "required",
                                  pa->dflt == ACTION_REQUIRED);
            if (pa->dflt) json_object_set_new(p, "default", json_loads(pa->dflt, JSON_DECODE_ANY, NULL));
            json_array_append_new(params, p);
        }
        json_array_append_new(list, json_pack("{s:s, s:s, s:o}", "name", tab[i].name, "signature",
                                               sig.data ? sig.data : "", "parameters", params));
        buf_free(&sig);
    }
    return list;
}

/* The task of a prompt when the session did not name it: the prompt ends
 * with the instructions of exactly one task. */
static int task_of_prompt(const char *prompt, enum task *out)
{
    for (int t = 0; t < TASKS; t++) {
        char *ins = prompt_instructions((enum task)t);
        int found = strstr(prompt, ins) != NULL;
        free(ins);
        if (found) {
            *out = (enum task)t;
            return 0;
        }
    }
    return -1;
}

static json_t *start_message(struct external *x, const char *prompt)
{
    enum task t;
    int known = x->task[0] ? task_parse(x->task, &t) == 0 : task_of_prompt(prompt, &t) == 0;
    return json_pack("{s:s, s:o, s:o, s:o, s:o}", "type", "start", "session_id",
                     x->session_id[0] ? json_string(x->session_id) : json_null(), "task",
                     known ? json_string(task_name(t)) : json_null(), "prompt", json_string_lossy(prompt, strlen(prompt)), "actions",
                     known ? actions_json(t) : json_array());
}

/* A reply line into the text action_parse takes. 0 or -1 with why. */
static int convert_reply(struct agent *a, const char *line, size_t len, struct buf *reply, char *why, size_t n)
{
    json_error_t je;
    json_t *msg = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    int rc = -1;
    if (!msg || !json_is_object(msg)) {
        snprintf(why, n, "the agent's reply is not a JSON object (%s): \"%.80s\"", msg ? "another JSON value" : je.text,
                 line);
        goto out;
    }
    json_t *action = json_object_get(msg, "action"), *tool = json_object_get(msg, "tool_call");
    json_t *usage = json_object_get(msg, "usage");
    if (action && tool) {
        snprintf(why, n, "the agent's reply has both \"action\" and \"tool_call\"; send one");
        goto out;
    }
    if (usage) {
        json_t *in = json_object_get(usage, "input_tokens"), *outt = json_object_get(usage, "output_tokens");
        if (!json_is_object(usage) || (in && !json_is_integer(in)) || (outt && !json_is_integer(outt)) ||
            json_integer_value(in) < 0 || json_integer_value(outt) < 0 || json_integer_value(in) > (1LL << 40) ||
            json_integer_value(outt) > (1LL << 40)) {
            snprintf(why, n, "the agent's \"usage\" must be {\"input_tokens\": N, \"output_tokens\": M} with "
                             "non-negative integers");
            goto out;
        }
        a->tokens_in += (long)json_integer_value(in);
        a->tokens_out += (long)json_integer_value(outt);
    }
    if (json_is_string(action)) {
        if (buf_append(reply, json_string_value(action), json_string_length(action))) goto big;
        rc = 0;
        goto out;
    }
    if (json_is_object(tool) && json_is_string(json_object_get(tool, "name"))) {
        /* The JSON tool-call form action_parse takes as a whole reply. */
        json_t *args = json_object_get(tool, "arguments"), *call = json_object();
        json_object_set(call, "name", json_object_get(tool, "name"));
        json_object_set_new(call, "arguments", args ? json_incref(args) : json_object());
        char *text = json_dumps(call, JSON_COMPACT);
        json_decref(call);
        int r = text ? buf_append(reply, text, strlen(text)) : -1;
        free(text);
        if (r) goto big;
        rc = 0;
        goto out;
    }
    snprintf(why, n, "the agent's reply needs \"action\" (a string) or \"tool_call\" ({\"name\": ..., "
                     "\"arguments\": {...}}): \"%.80s\"",
             line);
    goto out;
big:
    snprintf(why, n, "the agent's action is too long");
out:
    json_decref(msg);
    return rc;
}

/* ---- the agent --------------------------------------------------------------------------------------------- */

static int ext_act(struct agent *a, const char *input, struct buf *reply, char *err, size_t errlen)
{
    struct external *x = a->impl;
    if (x->failed) return fail(a, err, errlen, "%s", x->reason);
    if (unsolicited(x))
        return fail(a, err, errlen, "the agent wrote output nobody asked for (one line per message, after it)");
    json_t *msg = x->started ? json_pack("{s:s, s:o}", "type", "observation", "content", json_string_lossy(input, strlen(input)))
                             : start_message(x, input);
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (!text) return fail(a, err, errlen, "cannot encode the message for the agent");
    int w = send_line(x, text, strlen(text), x->timeout_ms);
    free(text);
    char why[384];
    if (w == -ETIMEDOUT)
        return fail(a, err, errlen, "the agent did not read its input within %.1f s (the agent timeout)",
                    x->timeout_ms / 1000.0);
    if (w) {
        describe_exit(x, why, sizeof why);
        return fail(a, err, errlen, "%s (writing to it: %s)", why, strerror(-w));
    }
    x->started = 1;
    char *line;
    size_t len;
    if (read_line(x, &line, &len, why, sizeof why)) return fail(a, err, errlen, "%s", why);
    int rc = convert_reply(a, line, len, reply, why, sizeof why);
    buf_consume(&x->line, x->line_used);
    if (rc) return fail(a, err, errlen, "%s", why);
    return 0;
}

static void ext_begin(struct agent *a, const char *session_id, const char *task)
{
    struct external *x = a->impl;
    snprintf(x->session_id, sizeof x->session_id, "%s", session_id ? session_id : "");
    snprintf(x->task, sizeof x->task, "%s", task ? task : "");
}

static void ext_end(struct agent *a, const char *status)
{
    struct external *x = a->impl;
    if (!x->failed) snprintf(x->reason, sizeof x->reason, "%s", status ? status : "");
}

static void ext_close(struct agent *a)
{
    struct external *x = a->impl;
    if (!x) return;
    if (x->pid > 0) {
        if (x->started) {
            json_t *msg = json_pack("{s:s, s:s}", "type", "end", "reason", x->reason[0] ? x->reason : "closed");
            char *text = json_dumps(msg, JSON_COMPACT);
            json_decref(msg);
            if (text) send_line(x, text, strlen(text), EXT_END_MS);
            free(text);
        }
        close(x->in_fd);
        x->in_fd = -1;
        /* A polite agent exits on the end message or on EOF; then the group goes anyway. */
        uint64_t deadline = mono_ns() + (uint64_t)EXT_GRACE_MS * 1000000u;
        siginfo_t si;
        do {
            memset(&si, 0, sizeof si);
            if (waitid(P_PID, (id_t)x->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid) break;
            usleep(5000);
        } while (left_ms(deadline));
        kill(-x->pid, SIGKILL);
        kill(x->pid, SIGKILL);
        while (waitpid(x->pid, NULL, 0) < 0 && errno == EINTR) {
        }
    }
    if (x->drain_running) {
        (void)!write(x->stop[1], "x", 1);
        pthread_join(x->drain, NULL);
    }
    int fds[] = {x->in_fd, x->out_fd, x->err_fd, x->stop[0], x->stop[1], x->log_fd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0) close(fds[i]);
    buf_free(&x->line);
    free(x);
    a->impl = NULL;
}

int agent_external_open(struct agent *a, const char *cmd, unsigned timeout_ms, const struct agent_confine *confine,
                        char *err, size_t errlen)
{
    if (!cmd || !*cmd) {
        snprintf(err, errlen, "external agent: an empty command");
        return -1;
    }
    struct external *x = xcalloc(1, sizeof *x);
    x->pid = -1;
    x->in_fd = x->out_fd = x->err_fd = x->log_fd = x->stop[0] = x->stop[1] = -1;
    x->timeout_ms = timeout_ms ? timeout_ms : 120000;
    buf_init(&x->line, EXT_LINE_MAX + 8192);
    a->impl = x;
    a->close = ext_close;
    snprintf(a->name, sizeof a->name, "%s", cmd);
    if (strlen(cmd) >= sizeof a->name) memcpy(a->name + sizeof a->name - 4, "...", 4);
    int bad = open_log(a, x, err, errlen);
    if (!bad && pipe2(x->stop, O_CLOEXEC)) {
        snprintf(err, errlen, "external agent: pipe: %s", strerror(errno));
        bad = -1;
    }
    if (bad || spawn(x, cmd, confine, err, errlen)) {
        ext_close(a);
        a->close = NULL;
        return -1;
    }
    if (pthread_create(&x->drain, NULL, drain_main, x)) {
        snprintf(err, errlen, "external agent: cannot start its log thread");
        ext_close(a);
        a->close = NULL;
        return -1;
    }
    x->drain_running = 1;
    a->act = ext_act;
    a->begin = ext_begin;
    a->end = ext_end;
    return 0;
}
