/* Unit tests for src/core: buffers, time formats, lab addressing. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/lab.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "t.h"

static void test_buf_bounded(void)
{
    struct buf b;
    buf_init(&b, 8);
    T_EQ_INT(buf_puts(&b, "12345"), 0);
    T_EQ_INT(buf_puts(&b, "6789"), -E2BIG);
    T_EQ_STR(b.data, "12345");
    T_EQ_INT(buf_printf(&b, "%d", 678), 0);
    T_EQ_STR(b.data, "12345678");
    buf_consume(&b, 5);
    T_EQ_STR(b.data, "678");
    buf_free(&b);
}

static void test_human_duration(void)
{
    char s[32];
    struct { long long in; const char *out; } cases[] = {
        {0, "0s"}, {59, "59s"}, {119, "119s"}, {120, "2m"}, {185, "3m5s"}, {600, "10m"},
        {3600 * 3 + 60, "3h1m"}, {3600 * 10, "10h"}, {86400 * 3 + 3600, "3d1h"}, {86400 * 30, "30d"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        time_human(cases[i].in, s, sizeof s);
        T_EQ_STR(s, cases[i].out);
    }
}

static void test_durations_and_rfc3339(void)
{
    uint64_t ns;
    T_EQ_INT(time_parse_duration("1h30m", &ns), 0);
    T_EQ_INT(ns / 1000000000ull, 5400);
    T_EQ_INT(time_parse_duration("250ms", &ns), 0);
    T_EQ_INT(ns, 250000000);
    T_EQ_INT(time_parse_duration("5x", &ns), -EINVAL);
    T_EQ_INT(time_parse_duration("", &ns), -EINVAL);
    T_EQ_INT(time_parse_rfc3339("2026-11-27T17:47:05.5Z", &ns), 0);
    char s[40];
    time_rfc3339_nano(ns, s, sizeof s);
    T_EQ_STR(s, "2026-11-27T17:47:05.500000000Z");
    T_EQ_INT(time_parse_rfc3339("yesterday", &ns), -EINVAL);
}

static void test_lab_addresses(void)
{
    char err[256], ip[32];
    setenv("AIOPSLAB_HOME", "/tmp/aiopslab-unit", 1);
    struct lab lab;
    T_EQ_INT(lab_resolve("Bad Name", &lab, err, sizeof err), -EINVAL);
    T_EQ_INT(lab_resolve("unit", &lab, err, sizeof err), 0);
    lab.net = 77;
    lab_pod_ip(&lab, 0, ip, sizeof ip);
    T_EQ_STR(ip, "127.77.64.1");
    T_EQ_INT(lab_pod_index(&lab, "127.77.64.1"), 0);
    lab_service_ip(&lab, 300, ip, sizeof ip);
    T_EQ_STR(ip, "127.77.2.44");
    T_EQ_INT(lab_service_index(&lab, ip), 300);
    T_EQ_INT(lab_pod_index(&lab, ip), -1);
    T_EQ_INT(lab_service_index(&lab, "127.78.2.44"), -1);
}

static void test_json_paths(void)
{
    json_t *o = json_object();
    json_path_set(o, "spec.template.spec.x", json_integer(3));
    T_EQ_INT(json_path_int(o, "spec.template.spec.x", -1), 3);
    T_EQ_STR(json_path_str(o, "spec.missing", "d"), "d");
    json_decref(o);
}

/* The binary's path, also once the file was replaced (a rebuild): a copy
 * of this test runs, deletes itself and reports what self_exe says. */
static void test_self_exe(void)
{
    char exe[4096], copy[] = "/tmp/aiopslab-test-self-exe-XXXXXX", cmd[8300];
    T_EQ_INT(self_exe(exe, sizeof exe), 0);
    T_CHECK(strstr(exe, "/test_core") && !strstr(exe, "(deleted)"));
    T_EQ_INT(self_exe(exe, 4), -ENAMETOOLONG);
    T_EQ_INT(self_exe(exe, sizeof exe), 0);
    int fd = mkstemp(copy);
    T_CHECK(fd >= 0);
    close(fd);
    snprintf(cmd, sizeof cmd, "cp '%s' %s && chmod 700 %s && T_SELF_EXE=1 %s", exe, copy, copy, copy);
    FILE *p = popen(cmd, "r");
    T_CHECK(p);
    char got[4096] = "";
    T_CHECK(fgets(got, sizeof got, p));
    pclose(p);
    unlink(copy);
    T_EQ_STR(got, copy);
}

/* An exited child its parent has not reaped is a zombie: kill(pid, 0)
 * still finds it, proc_alive does not. */
static void test_proc_alive(void)
{
    T_CHECK(proc_alive(getpid()));
    T_CHECK(!proc_alive(0) && !proc_alive(-1));
    pid_t child = fork();
    T_CHECK(child >= 0);
    if (child == 0) _exit(0);
    int alive = 1;
    for (int i = 0; i < 500 && alive; i++) {
        alive = proc_alive(child);
        if (alive) usleep(10000);
    }
    T_CHECK(!alive);
    T_EQ_INT(kill(child, 0), 0); /* not reaped yet */
    T_EQ_INT(waitpid(child, NULL, 0), child);
    T_CHECK(!proc_alive(child));
}

/* A process with an argument under a folder is found; a folder whose name
 * only begins the same is not; a process that ended is not. */
static void test_proc_find_under(void)
{
    char dir[] = "/tmp/aiopslab-find-XXXXXX";
    T_CHECK(mkdtemp(dir));
    char arg[64], sibling[64];
    snprintf(arg, sizeof arg, "%s/pods/x", dir);
    snprintf(sibling, sizeof sibling, "%s0", dir);
    T_EQ_INT(proc_find_under(dir), 0);
    pid_t child = fork();
    T_CHECK(child >= 0);
    if (child == 0) { /* arg is the shell's $0; the ": " keeps sh from exec'ing sleep */
        setpgid(0, 0);
        execlp("sh", "sh", "-c", "sleep 30; :", arg, (char *)NULL);
        _exit(127);
    }
    pid_t found = 0;
    for (int i = 0; i < 500 && !found; i++) { /* until the exec is done */
        found = proc_find_under(dir);
        if (!found) usleep(10000);
    }
    T_EQ_INT(found, child);
    T_EQ_INT(proc_find_under(sibling), 0);
    kill(-child, SIGKILL);
    T_EQ_INT(waitpid(child, NULL, 0), child);
    T_EQ_INT(proc_find_under(dir), 0);
    rmdir(dir);
}

static void test_raise_fd_limit(void)
{
    struct rlimit rl;
    T_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    if (rl.rlim_max < 300) return; /* nothing to raise to */
    rlim_t hard = rl.rlim_max;
    rl.rlim_cur = 256;
    T_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    raise_fd_limit();
    T_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    T_CHECK(rl.rlim_cur == hard && rl.rlim_max == hard);
}

int main(int argc, char **argv)
{
    if (getenv("T_SELF_EXE")) { /* the copy of test_self_exe */
        char exe[4096];
        (void)argc;
        unlink(argv[0]);
        if (self_exe(exe, sizeof exe)) return 1;
        fputs(exe, stdout);
        return 0;
    }
    T_RUN(test_buf_bounded);
    T_RUN(test_human_duration);
    T_RUN(test_durations_and_rfc3339);
    T_RUN(test_lab_addresses);
    T_RUN(test_json_paths);
    T_RUN(test_self_exe);
    T_RUN(test_proc_alive);
    T_RUN(test_proc_find_under);
    T_RUN(test_raise_fd_limit);
    return t_done();
}
