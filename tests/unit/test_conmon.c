/* Unit tests for conmon and limits: the limit mechanisms on their own
 * (names, /proc usage, the poll memory killer, cgroup v1 when this machine
 * has it) and conmon_main run in-process on a spec (state.json, logs). */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cluster/conmon.h"
#include "cluster/crilog.h"
#include "cluster/limits.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "t.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_kind_names(void)
{
    const char *names[] = {"auto", "none", "poll", "cgroup-v1", "cgroup-v2"};
    for (int i = 0; i < 5; i++) {
        enum limits_kind k;
        T_EQ_INT(limits_kind_parse(names[i], &k), 0);
        T_EQ_STR(limits_kind_name(k), names[i]);
    }
    enum limits_kind k;
    T_EQ_INT(limits_kind_parse("cgroup", &k), -EINVAL);
    enum limits_kind d = limits_detect();
    T_CHECK(d == LIMITS_POLL || d == LIMITS_CGROUP_V1 || d == LIMITS_CGROUP_V2);
}

/* A child in its own session that touches mb MiB and spins or sleeps. */
static pid_t spawn_hog(int mb, int spin, int go_fd)
{
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        if (go_fd >= 0) {
            char c;
            if (read(go_fd, &c, 1) != 1) _exit(1);
        }
        if (mb) {
            volatile char *p = malloc((size_t)mb << 20);
            for (size_t i = 0; p && i < ((size_t)mb << 20); i += 4096) p[i] = 1;
        }
        time_t end = time(NULL) + 20;
        while (time(NULL) < end) {
            if (!spin) sleep_ms(10);
        }
        _exit(0);
    }
    return pid;
}

static void test_proc_usage(void)
{
    pid_t pid = spawn_hog(32, 1, -1);
    sleep_ms(400);
    struct limits_usage u;
    T_EQ_INT(limits_proc_usage(pid, 0, &u), 0);
    T_CHECK(u.working_set >= 30u << 20);
    T_CHECK(u.cpu_ns >= 100000000ull);
    /* Counting from the test as root: the hog is a descendant. */
    struct limits_usage u2;
    T_EQ_INT(limits_proc_usage(0, getpid(), &u2), 0);
    T_CHECK(u2.working_set >= 30u << 20);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    T_EQ_INT(limits_proc_usage(pid, 0, &u), 0);
    T_EQ_INT(u.working_set, 0);
}

static void test_poll_memory_kill(void)
{
    struct limits l;
    char err[256] = "";
    T_EQ_INT(limits_setup(&l, LIMITS_POLL, "x", 16u << 20, 0, err, sizeof err), 0);
    T_EQ_INT(l.kind, LIMITS_POLL);
    T_CHECK(limits_needs_tick(&l));
    pid_t pid = spawn_hog(64, 0, -1);
    T_EQ_INT(limits_attach(&l, pid, err, sizeof err), 0);
    int killed = 0;
    for (int i = 0; i < 50 && !killed; i++) {
        sleep_ms(100);
        killed = limits_tick(&l, mono_ns());
    }
    T_EQ_INT(killed, 1);
    T_CHECK(limits_oom_killed(&l));
    int st;
    T_EQ_INT(waitpid(pid, &st, 0), pid);
    T_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

static void test_poll_under_limit_not_killed(void)
{
    struct limits l;
    char err[256] = "";
    T_EQ_INT(limits_setup(&l, LIMITS_POLL, "x", 256u << 20, 0, err, sizeof err), 0);
    pid_t pid = spawn_hog(8, 0, -1);
    T_EQ_INT(limits_attach(&l, pid, err, sizeof err), 0);
    for (int i = 0; i < 5; i++) {
        sleep_ms(100);
        T_EQ_INT(limits_tick(&l, mono_ns()), 0);
    }
    T_CHECK(!limits_oom_killed(&l));
    T_EQ_INT(waitpid(pid, NULL, WNOHANG), 0);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static void test_cgroup_v1(void)
{
    if (limits_detect() != LIMITS_CGROUP_V1) {
        printf("# skipped: no cgroup v1 here\n");
        return;
    }
    char name[64];
    snprintf(name, sizeof name, "unit-%d", (int)getpid());
    struct limits l;
    char err[256] = "";
    T_EQ_INT(limits_setup(&l, LIMITS_AUTO, name, 48u << 20, 250, err, sizeof err), 0);
    T_EQ_INT(l.kind, LIMITS_CGROUP_V1);
    char path[PATH_MAX + 64];
    struct buf b;
    buf_init(&b, 4096);
    snprintf(path, sizeof path, "%s/memory.limit_in_bytes", l.mem_dir);
    T_EQ_INT(read_file(path, &b), 0);
    T_EQ_INT(strtoull(b.data, NULL, 10), 48u << 20);
    buf_reset(&b);
    snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", l.cpu_dir);
    T_EQ_INT(read_file(path, &b), 0);
    T_EQ_INT(strtol(b.data, NULL, 10), 25000);
    buf_free(&b);
    int go[2];
    T_EQ_INT(pipe(go), 0);
    pid_t pid = spawn_hog(16, 0, go[0]);
    T_EQ_INT(limits_attach(&l, pid, err, sizeof err), 0);
    T_EQ_INT(write(go[1], "g", 1), 1);
    sleep_ms(300);
    struct limits_usage u;
    T_EQ_INT(limits_cgroup_usage(LIMITS_CGROUP_V1, name, &u), 0);
    T_CHECK(u.working_set >= 15u << 20);
    T_CHECK(u.cpu_ns > 0);
    T_EQ_INT(u.oom_kills, 0);
    T_CHECK(!limits_oom_killed(&l));
    limits_kill_all(&l);
    waitpid(pid, NULL, 0);
    T_EQ_INT(limits_remove(&l), 0);
    struct stat st;
    T_CHECK(stat(l.mem_dir, &st) < 0 && errno == ENOENT);
    T_CHECK(stat(l.cpu_dir, &st) < 0 && errno == ENOENT);
    T_EQ_INT(limits_cgroup_usage(LIMITS_CGROUP_V1, name, &u), -ENOENT);
    T_CHECK(limits_setup(&l, LIMITS_CGROUP_V1, "../escape", 0, 0, err, sizeof err) < 0);
}

/* conmon_main in-process on a spec; returns the parsed state.json. conmon
 * exits 0 when the container ran or could not be executed, 1 when the spec
 * itself is unusable. */
static json_t *run_conmon(const char *dir, const char *spec, int want_rc)
{
    char p[256];
    snprintf(p, sizeof p, "%s/spec.json", dir);
    T_EQ_INT(write_file_atomic(p, spec, strlen(spec)), 0);
    char *argv[] = {"__conmon", "--dir", (char *)dir, NULL};
    T_EQ_INT(conmon_main(3, argv), want_rc);
    snprintf(p, sizeof p, "%s/state.json", dir);
    json_error_t je;
    json_t *st = json_load_file(p, 0, &je);
    T_CHECK(st != NULL);
    return st;
}

static int collect_text(const struct crilog_line *l, void *arg)
{
    struct buf *b = arg;
    buf_printf(b, "%s %c %.*s|", l->is_stderr ? "err" : "out", l->partial ? 'P' : 'F', (int)l->len, l->text);
    return 0;
}

static void test_conmon_runs_and_logs(void)
{
    char dir[] = "/tmp/test_conmon.XXXXXX";
    T_CHECK(mkdtemp(dir) != NULL);
    json_t *st = run_conmon(dir, "{\"argv\":[\"sh\",\"-c\",\"echo one; echo two >&2; exit 7\"],"
                                 "\"env\":[\"PATH=/bin:/usr/bin\"],\"limits\":\"none\"}", 0);
    T_EQ_STR(json_string_value(json_object_get(st, "phase")), "exited");
    T_EQ_STR(json_string_value(json_object_get(st, "reason")), "Error");
    T_EQ_INT(json_integer_value(json_object_get(st, "exitCode")), 7);
    T_EQ_STR(json_string_value(json_object_get(st, "limits")), "none");
    json_decref(st);
    struct buf b;
    buf_init(&b, 4096);
    T_EQ_INT(crilog_read(dir, collect_text, &b), 0);
    T_CHECK(!strcmp(b.data, "out F one|err F two|") || !strcmp(b.data, "err F two|out F one|"));
    buf_free(&b);
    rm_rf(dir);
}

static void test_conmon_exec_failures(void)
{
    char dir[] = "/tmp/test_conmon.XXXXXX";
    T_CHECK(mkdtemp(dir) != NULL);
    json_t *st = run_conmon(dir, "{\"argv\":[\"definitely-not-here\"],\"env\":[\"PATH=/bin\"]}", 0);
    T_EQ_STR(json_string_value(json_object_get(st, "phase")), "failed");
    T_EQ_STR(json_string_value(json_object_get(st, "reason")), "ContainerCannotRun");
    T_EQ_INT(json_integer_value(json_object_get(st, "exitCode")), 127);
    T_EQ_STR(json_string_value(json_object_get(st, "message")),
             "exec: \"definitely-not-here\": executable file not found in $PATH");
    json_decref(st);
    st = run_conmon(dir, "{\"argv\":[]}", 1);
    T_EQ_STR(json_string_value(json_object_get(st, "phase")), "failed");
    T_CHECK(strstr(json_string_value(json_object_get(st, "message")), "argv") != NULL);
    json_decref(st);
    st = run_conmon(dir, "{\"argv\":[\"true\"],\"limits\":\"bogus\"}", 1);
    T_EQ_STR(json_string_value(json_object_get(st, "phase")), "failed");
    json_decref(st);
    char *bad[] = {"__conmon", "--bogus", NULL};
    T_EQ_INT(conmon_main(2, bad), 2);
    rm_rf(dir);
}

static void test_conmon_poll_oom(void)
{
    char dir[] = "/tmp/test_conmon.XXXXXX";
    T_CHECK(mkdtemp(dir) != NULL);
    json_t *st = run_conmon(dir, "{\"argv\":[\"sh\",\"-c\",\"x=$(head -c 100000000 /dev/zero | tr '\\\\0' a); sleep 5\"],"
                                 "\"env\":[\"PATH=/bin:/usr/bin\"],\"limits\":\"poll\",\"memoryLimitBytes\":33554432}", 0);
    T_EQ_STR(json_string_value(json_object_get(st, "reason")), "OOMKilled");
    T_EQ_INT(json_integer_value(json_object_get(st, "exitCode")), 137);
    T_CHECK(json_is_true(json_object_get(st, "oomKilled")));
    json_decref(st);
    rm_rf(dir);
}

int main(void)
{
    T_RUN(test_kind_names);
    T_RUN(test_proc_usage);
    T_RUN(test_poll_memory_kill);
    T_RUN(test_poll_under_limit_not_killed);
    T_RUN(test_cgroup_v1);
    T_RUN(test_conmon_runs_and_logs);
    T_RUN(test_conmon_exec_failures);
    T_RUN(test_conmon_poll_oom);
    return t_done();
}
