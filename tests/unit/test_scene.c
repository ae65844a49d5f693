/* scene: what a verification window counts as requests and errors. */
#include "orchestrator/scene.h"
#include "workload/load.h"

#include "t.h"

static void set(struct load_stats *s, uint64_t completed, uint64_t http4, uint64_t http5, uint64_t timeouts)
{
    memset(s, 0, sizeof *s);
    s->completed = completed; /* every answer, 4xx and 5xx included */
    s->errors[LOAD_ERR_HTTP4] = http4;
    s->errors[LOAD_ERR_HTTP5] = http5;
    s->errors[LOAD_ERR_TIMEOUT] = timeouts;
    s->errors_total = http4 + http5 + timeouts;
}

/* 100 answers of which 10 are 5xx and 5 are 4xx, and 10 requests never
 * answered: 110 requests, 20 errors (a 5xx answer is counted once). */
static void test_window_counts(void)
{
    struct load_stats a, b;
    struct slo_window w;
    set(&a, 1000, 50, 20, 3);
    set(&b, 1100, 55, 30, 13);
    scene_window_counts(&a, &b, &w);
    T_EQ_INT(w.requests, 110);
    T_EQ_INT(w.errors, 20);
    T_CHECK(w.error_rate > 0.1818 && w.error_rate < 0.1819);
}

/* Every answer a 5xx: the error rate is 100%, not 50%. */
static void test_all_failed(void)
{
    struct load_stats a, b;
    struct slo_window w;
    set(&a, 0, 0, 0, 0);
    set(&b, 19, 0, 19, 0);
    scene_window_counts(&a, &b, &w);
    T_EQ_INT(w.requests, 19);
    T_EQ_INT(w.errors, 19);
    T_CHECK(w.error_rate == 1.0);
}

static void test_slo(void)
{
    struct slo_window before = {.requests = 1000, .errors = 2, .error_rate = 0.002, .p99_ms = 20};
    struct slo_window after = before;
    char why[512];
    T_CHECK(scene_slo_met(&before, &after, why, sizeof why));
    after.error_rate = 0.013; /* over 0.2% + 1 point */
    T_CHECK(!scene_slo_met(&before, &after, why, sizeof why));
    T_CHECK(strstr(why, "error rate 1.3% over the allowed 1.2%"));
    after.error_rate = 0.002;
    after.p99_ms = 121; /* over 20 ms + 100 ms */
    T_CHECK(!scene_slo_met(&before, &after, why, sizeof why));
    T_CHECK(strstr(why, "p99 121 ms over the allowed 120 ms"));
    after.requests = 0;
    T_CHECK(!scene_slo_met(&before, &after, why, sizeof why));
}

int main(void)
{
    T_RUN(test_window_counts);
    T_RUN(test_all_failed);
    T_RUN(test_slo);
    return t_done();
}
