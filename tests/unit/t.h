/* t.h: the unit test harness. Each test runs in its own process with a
 * timeout (like libuv's runner) and prints one TAP line; tests/run.sh adds
 * them up. Usage:
 *     static void test_x(void) { T_CHECK(1 + 1 == 2); }
 *     int main(void) { T_RUN(test_x); return t_done(); }
 */
#ifndef TESTS_T_H
#define TESTS_T_H
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int t_count, t_failed;

#define T_CHECK(cond)                                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "# %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                           \
        }                                                                      \
    } while (0)
#define T_EQ_INT(a, b)                                                         \
    do {                                                                       \
        long long t_a = (long long)(a), t_b = (long long)(b);                  \
        if (t_a != t_b) {                                                      \
            fprintf(stderr, "# %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, t_a, #b, t_b); \
            exit(1);                                                           \
        }                                                                      \
    } while (0)
#define T_EQ_STR(a, b)                                                         \
    do {                                                                       \
        const char *t_a = (a), *t_b = (b);                                     \
        if (!t_a || !t_b || strcmp(t_a, t_b)) {                                \
            fprintf(stderr, "# %s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, t_a ? t_a : "(null)", t_b ? t_b : "(null)"); \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

static inline void t_run(const char *name, void (*fn)(void), unsigned timeout_s)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(timeout_s);
        fn();
        exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    t_count++;
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok) t_failed++;
    if (WIFSIGNALED(status))
        printf("not ok %d - %s (signal %d%s)\n", t_count, name, WTERMSIG(status),
               WTERMSIG(status) == SIGALRM ? ": timed out" : "");
    else
        printf("%sok %d - %s\n", ok ? "" : "not ", t_count, name);
}

#define T_RUN(fn) t_run(#fn, fn, 60)

static inline int t_done(void)
{
    return t_failed ? 1 : 0;
}
#endif
