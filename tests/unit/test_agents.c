/* Unit tests of the agents an orchestrator can talk to without a lab:
 * external programs over JSON lines (the messages they get, the replies
 * they may send, and every way they can misbehave: garbage, exit, crash,
 * silence, floods on stdout and stderr, not reading, leaving children),
 * and replay of recorded trajectories. The programs are small sh scripts. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <sys/stat.h>

#include "agents/agent.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "orchestrator/action.h"
#include "orchestrator/problem.h"
#include "orchestrator/prompt.h"
#include "t.h"

static char tmp[256];

/* A private results folder (agents' logs go there) and a scratch folder. */
static void setup(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/aiopslab-test-agents-XXXXXX");
    T_CHECK(mkdtemp(tmp));
    char res[300];
    snprintf(res, sizeof res, "%s/results", tmp);
    setenv("AIOPSLAB_RESULTS", res, 1);
}

static void teardown(void) { rm_rf(tmp); }

static struct agent open_cmd(const char *cmd, unsigned timeout_ms)
{
    struct agent a;
    char err[512] = "";
    int rc = agent_open("baseline", cmd, timeout_ms, NULL, &a, err, sizeof err);
    if (rc) fprintf(stderr, "# open failed: %s\n", err);
    T_EQ_INT(rc, 0);
    return a;
}

/* One act: its return, the reply in reply (caller frees), the error in err. */
static int act(struct agent *a, const char *input, struct buf *reply, char *err, size_t errlen)
{
    buf_init(reply, 1u << 20);
    err[0] = '\0';
    return a->act(a, input, reply, err, errlen);
}

/* act must fail, with err containing want. */
static void expect_failure(struct agent *a, const char *input, const char *want)
{
    struct buf r;
    char err[512];
    int rc = act(a, input, &r, err, sizeof err);
    if (rc == 0 || !strstr(err, want)) fprintf(stderr, "# rc %d, err \"%s\", wanted \"%s\"\n", rc, err, want);
    T_EQ_INT(rc, -1);
    T_CHECK(strstr(err, want));
    T_CHECK(strstr(err, "its stderr: ")); /* the log is named */
    buf_free(&r);
}

static char *read_text(const char *path)
{
    struct buf b;
    buf_init(&b, 64u << 20);
    if (read_file(path, &b)) return NULL;
    buf_append(&b, "", 1);
    return b.data;
}

/* The first prompt of a real problem, as the session sends it. */
static char *real_prompt(enum task t)
{
    struct problem p = {.app = app_find("social-network"), .task = t};
    T_CHECK(p.app);
    snprintf(p.id, sizeof p.id, "x-%s-1", task_name(t));
    return prompt_full(&p);
}

static void test_start_message_and_action(void)
{
    setup();
    char cmd[600];
    snprintf(cmd, sizeof cmd,
             "read -r l; printf '%%s\\n' \"$l\" > %s/start.json; "
             "printf '%%s\\n' '{\"action\": \"```\\nexec_shell(\\\"kubectl get pods\\\")\\n```\"}'; "
             "read -r l; printf '%%s\\n' \"$l\" > %s/obs.json; "
             "echo '{\"action\": \"submit(\\\"Yes\\\")\"}'; read -r l; printf '%%s\\n' \"$l\" > %s/end.json",
             tmp, tmp, tmp);
    struct agent a = open_cmd(cmd, 5000);
    T_CHECK(a.begin && a.end);
    a.begin(&a, "0123-sid", "detection");
    char *prompt = real_prompt(TASK_DETECTION);
    struct buf r;
    char err[512];
    int rc = act(&a, prompt, &r, err, sizeof err);
    if (rc) fprintf(stderr, "# %s\n", err);
    T_EQ_INT(rc, 0);
    T_EQ_STR(r.data, "```\nexec_shell(\"kubectl get pods\")\n```");
    buf_free(&r);
    T_EQ_INT(act(&a, "NAME READY\nx 1/1\xff\n" PROMPT_NEXT, &r, err, sizeof err), 0);
    T_EQ_STR(r.data, "submit(\"Yes\")");
    buf_free(&r);
    a.end(&a, "submitted");
    agent_close(&a);

    char path[400];
    snprintf(path, sizeof path, "%s/start.json", tmp);
    json_t *start = json_load_file(path, 0, NULL);
    T_CHECK(start);
    T_EQ_STR(json_string_value(json_object_get(start, "type")), "start");
    T_EQ_STR(json_string_value(json_object_get(start, "session_id")), "0123-sid");
    T_EQ_STR(json_string_value(json_object_get(start, "task")), "detection");
    T_EQ_STR(json_string_value(json_object_get(start, "prompt")), prompt);
    json_t *acts = json_object_get(start, "actions");
    T_CHECK(json_array_size(acts) >= 8);
    int have_shell = 0, have_submit = 0;
    size_t i;
    json_t *v;
    json_array_foreach(acts, i, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));
        const char *sig = json_string_value(json_object_get(v, "signature"));
        T_CHECK(name && sig && str_has_prefix(sig, name));
        if (!strcmp(name, "exec_shell")) have_shell = 1;
        if (!strcmp(name, "submit")) {
            have_submit = 1;
            json_t *p0 = json_array_get(json_object_get(v, "parameters"), 0);
            T_EQ_STR(json_string_value(json_object_get(p0, "type")), "str");
            T_CHECK(json_is_true(json_object_get(p0, "required")));
        }
    }
    T_CHECK(have_shell && have_submit);
    json_decref(start);
    free(prompt);

    snprintf(path, sizeof path, "%s/obs.json", tmp);
    json_t *obs = json_load_file(path, 0, NULL);
    T_CHECK(obs);
    T_EQ_STR(json_string_value(json_object_get(obs, "type")), "observation");
    /* The byte that is not UTF-8 arrives as U+FFFD; the rest as sent. */
    T_EQ_STR(json_string_value(json_object_get(obs, "content")), "NAME READY\nx 1/1\xef\xbf\xbd\n" PROMPT_NEXT);
    json_decref(obs);

    snprintf(path, sizeof path, "%s/end.json", tmp);
    json_t *end = json_load_file(path, 0, NULL);
    T_CHECK(end);
    T_EQ_STR(json_string_value(json_object_get(end, "type")), "end");
    T_EQ_STR(json_string_value(json_object_get(end, "reason")), "submitted");
    json_decref(end);
    teardown();
}

/* Without begin, the task still comes from the prompt; the session id is null. */
static void test_start_without_begin(void)
{
    setup();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "read -r l; printf '%%s\\n' \"$l\" > %s/start.json; echo '{\"action\": \"x\"}'", tmp);
    struct agent a = open_cmd(cmd, 5000);
    char *prompt = real_prompt(TASK_LOCALIZATION);
    struct buf r;
    char err[512];
    T_EQ_INT(act(&a, prompt, &r, err, sizeof err), 0);
    buf_free(&r);
    agent_close(&a);
    char path[400];
    snprintf(path, sizeof path, "%s/start.json", tmp);
    json_t *start = json_load_file(path, 0, NULL);
    T_CHECK(start);
    T_CHECK(json_is_null(json_object_get(start, "session_id")));
    T_EQ_STR(json_string_value(json_object_get(start, "task")), "localization");
    json_decref(start);
    free(prompt);
    teardown();
}

/* tool_call becomes the JSON call action_parse takes; usage adds up. */
static void test_tool_call_and_usage(void)
{
    setup();
    struct agent a = open_cmd(
        "while read -r l; do echo '{\"tool_call\": {\"name\": \"get_logs\", \"arguments\": {\"namespace\": "
        "\"test-social-network\", \"service\": \"user-service\"}}, \"usage\": {\"input_tokens\": 100, "
        "\"output_tokens\": 7}}'; done",
        5000);
    struct buf r;
    char err[512];
    for (int i = 0; i < 2; i++) {
        T_EQ_INT(act(&a, i ? "obs" : "prompt", &r, err, sizeof err), 0);
        struct action_call c = {0};
        T_EQ_INT(action_parse(r.data, r.len, &c, err, sizeof err), 0);
        T_EQ_STR(c.name, "get_logs");
        T_EQ_STR(json_string_value(json_object_get(c.kwargs, "service")), "user-service");
        action_call_free(&c);
        buf_free(&r);
    }
    T_EQ_INT(a.tokens_in, 200);
    T_EQ_INT(a.tokens_out, 14);
    agent_close(&a);
    teardown();
}

static void misbehaves(const char *cmd, unsigned timeout_ms, const char *input, const char *want)
{
    setup();
    struct agent a = open_cmd(cmd, timeout_ms);
    uint64_t t0 = mono_ns();
    expect_failure(&a, input, want);
    /* Once failed, it stays failed with the same reason. */
    expect_failure(&a, "again", want);
    agent_close(&a);
    T_CHECK(mono_ns() - t0 < 3000000000ull);
    teardown();
}

static void test_garbage(void) { misbehaves("read -r l; echo hello", 5000, "p", "not a JSON object"); }
static void test_wrong_shape(void)
{
    misbehaves("read -r l; echo '{\"say\": 1}'", 5000, "p", "needs \"action\" (a string) or \"tool_call\"");
}
static void test_bad_usage(void)
{
    misbehaves("read -r l; echo '{\"action\": \"x\", \"usage\": {\"input_tokens\": -5}}'", 5000, "p",
               "\"usage\" must be");
}
static void test_exit(void) { misbehaves("read -r l; exit 3", 5000, "p", "the agent exited with status 3"); }
static void test_crash(void) { misbehaves("read -r l; kill -SEGV $$", 5000, "p", "killed by signal 11"); }
/* sh reports a command that died of a signal as 128+N: said as such. */
static void test_crash_under_shell(void)
{
    misbehaves("read -r l; sh -c 'kill -SEGV $$'; exit $?", 5000, "p", "status 139 (its command was killed by signal 11");
}
static void test_missing_program(void)
{
    misbehaves("/nonexistent/agent-program", 5000, "p", "the agent exited with status 127");
}
static void test_silent(void) { misbehaves("sleep 30", 300, "p", "no reply within 0.3 s"); }
static void test_long_line(void)
{
    misbehaves("read -r l; head -c 200000 /dev/zero | tr '\\0' a", 5000, "p", "longer than 64 KiB");
}

/* A big message to a program that never reads: the write times out, it does not hang. */
static void test_not_reading(void)
{
    size_t n = 1u << 20;
    char *big = malloc(n + 1);
    memset(big, 'o', n);
    big[n] = '\0';
    misbehaves("sleep 30", 300, big, "did not read its input within 0.3 s");
    free(big);
}

/* A program that closed its stdin: EPIPE, never SIGPIPE (the test process would die). */
static void test_closed_stdin(void)
{
    size_t n = 256u << 10;
    char *big = malloc(n + 1);
    memset(big, 'o', n);
    big[n] = '\0';
    misbehaves("exec 0<&-; sleep 30", 5000, big, "Broken pipe");
    free(big);
}

/* Lines nobody asked for end the session at the next turn. */
static void test_flood(void)
{
    setup();
    struct agent a = open_cmd("read -r l; while :; do echo '{\"action\": \"x\"}'; done", 5000);
    struct buf r;
    char err[512];
    T_EQ_INT(act(&a, "p", &r, err, sizeof err), 0);
    buf_free(&r);
    usleep(100000); /* the action runs meanwhile */
    expect_failure(&a, "obs", "output nobody asked for");
    agent_close(&a);
    teardown();
}

/* 5 MiB of stderr before the reply: the agent is not blocked, the log keeps 1 MiB. */
static void test_stderr_flood(void)
{
    setup();
    struct agent a =
        open_cmd("read -r l; head -c 5000000 /dev/zero | tr '\\0' e >&2; echo '{\"action\": \"ok\"}'; sleep 30", 5000);
    struct buf r;
    char err[512];
    T_EQ_INT(act(&a, "p", &r, err, sizeof err), 0);
    T_EQ_STR(r.data, "ok");
    buf_free(&r);
    char log[512];
    snprintf(log, sizeof log, "%s", a.log_path);
    agent_close(&a);
    struct stat st;
    T_EQ_INT(stat(log, &st), 0);
    T_CHECK(st.st_size >= 1024 * 1024 && st.st_size < 1024 * 1024 + 200);
    T_EQ_INT(st.st_mode & 077, 0);
    char *text = read_text(log);
    T_CHECK(text && strstr(text, "cut here at 1 MiB"));
    free(text);
    teardown();
}

/* What the agent started goes with it at close, even in the background. */
static void test_close_kills_group(void)
{
    setup();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "sleep 300 & echo $! > %s/child.pid; read -r l; echo '{\"action\": \"x\"}'; wait", tmp);
    struct agent a = open_cmd(cmd, 5000);
    struct buf r;
    char err[512];
    T_EQ_INT(act(&a, "p", &r, err, sizeof err), 0);
    buf_free(&r);
    char path[400];
    snprintf(path, sizeof path, "%s/child.pid", tmp);
    char *text = read_text(path);
    T_CHECK(text);
    long pid;
    text[strcspn(text, "\n")] = '\0';
    T_EQ_INT(parse_long(text, 2, 1L << 22, &pid), 0);
    free(text);
    T_EQ_INT(kill((pid_t)pid, 0), 0);
    uint64_t t0 = mono_ns();
    agent_close(&a);
    T_CHECK(mono_ns() - t0 < 2000000000ull);
    /* Gone, or a zombie waiting for its new parent to reap it. */
    for (int i = 0; i < 100; i++) {
        char stat_path[64], stat[512] = "";
        snprintf(stat_path, sizeof stat_path, "/proc/%ld/stat", pid);
        FILE *f = fopen(stat_path, "r");
        if (!f) break;
        size_t got = fread(stat, 1, sizeof stat - 1, f);
        fclose(f);
        stat[got] = '\0';
        const char *close_paren = strrchr(stat, ')');
        if (close_paren && close_paren[2] == 'Z') break;
        T_CHECK(i < 99);
        usleep(10000);
    }
    teardown();
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    T_CHECK(f);
    fputs(text, f);
    fclose(f);
}

static void test_replay_record(void)
{
    setup();
    char path[400], name[420];
    snprintf(path, sizeof path, "%s/session.json", tmp);
    write_text(path, "{\"agent\": \"x\", \"trace\": [{\"role\": \"env\", \"content\": \"prompt\"},"
                     "{\"role\": \"assistant\", \"content\": \"exec_shell(\\\"ls\\\")\"},"
                     "{\"role\": \"env\", \"content\": \"obs\"},"
                     "{\"role\": \"assistant\", \"content\": \"submit(\\\"No\\\")\"}]}");
    snprintf(name, sizeof name, "replay:%s", path);
    struct agent a;
    char err[512];
    T_EQ_INT(agent_open(name, NULL, 0, NULL, &a, err, sizeof err), 0);
    T_EQ_STR(a.name, "replay");
    struct buf r;
    T_EQ_INT(act(&a, "p", &r, err, sizeof err), 0);
    T_EQ_STR(r.data, "```\nexec_shell(\"ls\")\n```"); /* a bare call is put in a fenced block */
    buf_free(&r);
    T_EQ_INT(act(&a, "o", &r, err, sizeof err), 0);
    T_EQ_STR(r.data, "```\nsubmit(\"No\")\n```");
    buf_free(&r);
    T_EQ_INT(act(&a, "o", &r, err, sizeof err), -1);
    T_CHECK(strstr(err, "replay: trajectory ended"));
    buf_free(&r);
    agent_close(&a);
    teardown();
}

static void test_replay_array_and_errors(void)
{
    setup();
    char path[400], name[420], err[512];
    struct agent a;
    struct buf r;
    snprintf(path, sizeof path, "%s/t.json", tmp);
    snprintf(name, sizeof name, "replay:%s", path);
    write_text(path, "[\"submit([])\"]");
    T_EQ_INT(agent_open(name, NULL, 0, NULL, &a, err, sizeof err), 0);
    T_EQ_INT(act(&a, "p", &r, err, sizeof err), 0);
    T_EQ_STR(r.data, "```\nsubmit([])\n```");
    buf_free(&r);
    agent_close(&a);

    write_text(path, "[\"a\", 3]");
    T_EQ_INT(agent_open(name, NULL, 0, NULL, &a, err, sizeof err), -1);
    T_CHECK(strstr(err, "element 1 is not a string"));
    write_text(path, "{\"trace\": [{\"role\": \"env\", \"content\": \"p\"}]}");
    T_EQ_INT(agent_open(name, NULL, 0, NULL, &a, err, sizeof err), -1);
    T_CHECK(strstr(err, "no assistant turns"));
    write_text(path, "{\"trace\": [");
    T_EQ_INT(agent_open(name, NULL, 0, NULL, &a, err, sizeof err), -1);
    T_CHECK(strstr(err, path) && strstr(err, ":1:"));
    write_text(path, "{\"results\": {}}");
    T_EQ_INT(agent_open(name, NULL, 0, NULL, &a, err, sizeof err), -1);
    T_CHECK(strstr(err, "neither a session record"));
    T_EQ_INT(agent_open("replay:/nonexistent/x.json", NULL, 0, NULL, &a, err, sizeof err), -1);
    T_CHECK(strstr(err, "cannot read /nonexistent/x.json"));
    T_EQ_INT(agent_open("gpt", NULL, 0, NULL, &a, err, sizeof err), -1);
    T_CHECK(strstr(err, "unknown agent \"gpt\""));
    teardown();
}

int main(void)
{
    T_RUN(test_start_message_and_action);
    T_RUN(test_start_without_begin);
    T_RUN(test_tool_call_and_usage);
    T_RUN(test_garbage);
    T_RUN(test_wrong_shape);
    T_RUN(test_bad_usage);
    T_RUN(test_exit);
    T_RUN(test_crash);
    T_RUN(test_crash_under_shell);
    T_RUN(test_missing_program);
    T_RUN(test_silent);
    T_RUN(test_long_line);
    T_RUN(test_not_reading);
    T_RUN(test_closed_stdin);
    T_RUN(test_flood);
    T_RUN(test_stderr_flood);
    T_RUN(test_close_kills_group);
    T_RUN(test_replay_record);
    T_RUN(test_replay_array_and_errors);
    return t_done();
}
