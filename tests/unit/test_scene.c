/* scene: what a verification window counts as requests and errors. */
#include "orchestrator/scene.h"
#include "workload/load.h"

#include "t.h"

/* Readings of a run: every answer (4xx and 5xx included), 4xx, 5xx,
 * requests never answered (timeouts). */
struct reading {
    uint64_t completed, http4, http5, timeouts;
};

static void set(struct load_stats *s, struct reading r)
{
    memset(s, 0, sizeof *s);
    s->completed = r.completed;
    s->errors[LOAD_ERR_HTTP4] = r.http4;
    s->errors[LOAD_ERR_HTTP5] = r.http5;
    s->errors[LOAD_ERR_TIMEOUT] = r.timeouts;
    s->errors_total = r.http4 + r.http5 + r.timeouts;
}

static void test_window_counts(void)
{
    static const struct {
        struct reading a, b;
        uint64_t requests, errors;
    } cases[] = {
        /* 100 answers of which 10 are 5xx and 5 are 4xx, and 10 requests
         * never answered: 110 requests, 20 errors (a 5xx counted once) */
        {{1000, 50, 20, 3}, {1100, 55, 30, 13}, 110, 20},
        /* every answer a 5xx: the error rate is 100%, not 50% */
        {{0, 0, 0, 0}, {19, 0, 19, 0}, 19, 19},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct load_stats a, b;
        struct slo_window w;
        set(&a, cases[i].a);
        set(&b, cases[i].b);
        scene_window_counts(&a, &b, &w);
        T_EQ_INT(w.requests, cases[i].requests);
        T_EQ_INT(w.errors, cases[i].errors);
        T_CHECK(w.error_rate == (double)cases[i].errors / (double)cases[i].requests); /* 20/110; 19/19 = 1.0 */
    }
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
    T_RUN(test_slo);
    return t_done();
}
