/* test_validate: how `aiopslab validate --jobs N` shares problems among labs. */
#include "t.h"

#include "orchestrator/problem.h"
#include "orchestrator/validate.h"

#define N 8
static struct problem items[N];
static const struct problem *list[N];

/* Four families: two of social-network (one with mitigation), two of hotel-reservation. */
static void setup(void)
{
    static const struct {
        const char *app, *family;
        enum task task;
    } def[N] = {
        {"social-network", "a_sn", TASK_DETECTION},     {"social-network", "a_sn", TASK_MITIGATION},
        {"social-network", "b_sn", TASK_DETECTION},     {"social-network", "b_sn", TASK_LOCALIZATION},
        {"hotel-reservation", "c_hr", TASK_DETECTION},  {"hotel-reservation", "c_hr", TASK_MITIGATION},
        {"hotel-reservation", "d_hr", TASK_DETECTION},  {"hotel-reservation", "d_hr", TASK_ANALYSIS},
    };
    for (int i = 0; i < N; i++) {
        items[i] = (struct problem){.app = app_find(def[i].app), .task = def[i].task};
        snprintf(items[i].family, sizeof items[i].family, "%s", def[i].family);
        list[i] = &items[i];
    }
}

static void test_one_app_per_lab(void)
{
    setup();
    int to[N];
    validate_split(list, N, 1, 2, to);
    for (int i = 0; i < N; i++) T_EQ_INT(to[i], to[i < 4 ? 0 : 4]);
    T_CHECK(to[0] != to[4]);
}

static void test_families_when_labs_outnumber_apps(void)
{
    setup();
    int to[N], used[4] = {0};
    validate_split(list, N, 1, 4, to);
    for (int i = 0; i < N; i += 2) T_EQ_INT(to[i], to[i + 1]); /* a family stays together */
    for (int i = 0; i < N; i++) used[to[i]] = 1;
    T_CHECK(used[0] && used[1] && used[2] && used[3]);
}

static void test_balance_by_weight(void)
{
    setup();
    int to[N];
    /* One app, two labs: the two families with a mitigation problem (heavy)
     * go to different labs. */
    for (int i = 0; i < N; i++) items[i].app = app_find("social-network");
    validate_split(list, N, 1, 2, to);
    T_CHECK(to[0] != to[4]);
    validate_split(list, N, 1, 1, to);
    for (int i = 0; i < N; i++) T_EQ_INT(to[i], 0);
}

/* Judged once more: a void session, or a reference that missed only the
 * SLO; never a shortcut that passed or a reference that broke something. */
static void test_worth_again(void)
{
    json_t *f = json_pack("{s:s, s:s, s:{s:b, s:b, s:b}}", "mode", "reference", "status", "submitted", "checks",
                          "root_cause_gone", 1, "nothing_broken", 1, "slo_met", 0);
    T_CHECK(validate_worth_again(f));
    json_object_set_new(json_object_get(f, "checks"), "nothing_broken", json_false());
    T_CHECK(!validate_worth_again(f));
    json_object_set_new(json_object_get(f, "checks"), "nothing_broken", json_true());
    json_object_set_new(json_object_get(f, "checks"), "root_cause_gone", json_false());
    T_CHECK(!validate_worth_again(f));
    json_object_set_new(json_object_get(f, "checks"), "root_cause_gone", json_true());
    json_object_set_new(f, "mode", json_string("restart-all")); /* a shortcut that met the SLO: never again */
    T_CHECK(!validate_worth_again(f));
    json_object_set_new(f, "status", json_string("void"));
    T_CHECK(validate_worth_again(f));
    json_decref(f);
    f = json_pack("{s:s, s:s, s:n}", "mode", "reference", "status", "submitted", "checks"); /* a wrong answer */
    T_CHECK(!validate_worth_again(f));
    json_decref(f);
}

int main(void)
{
    T_RUN(test_one_app_per_lab);
    T_RUN(test_families_when_labs_outnumber_apps);
    T_RUN(test_balance_by_weight);
    T_RUN(test_worth_again);
    return t_done();
}
