/* timer: a binary min-heap of deadlines for the mesh loop (delayed chunks,
 * delayed connects). Timers are embedded in their owners; stopping one is
 * O(log n) through its stored heap position, so a connection can stop its
 * timers when it closes. */
#ifndef MESH_TIMER_H
#define MESH_TIMER_H
#include <stddef.h>
#include <stdint.h>

struct mesh_timer {
    uint64_t when;  /* CLOCK_MONOTONIC ns */
    size_t pos;     /* heap position + 1; 0 when not armed */
    void (*fn)(struct mesh_timer *t, void *arg);
    void *arg;
};

struct mesh_timers {
    struct mesh_timer **heap;
    size_t n, cap;
};

void mesh_timers_free(struct mesh_timers *ts);
/* Arm (or re-arm) t for when. */
void mesh_timer_start(struct mesh_timers *ts, struct mesh_timer *t, uint64_t when);
void mesh_timer_stop(struct mesh_timers *ts, struct mesh_timer *t);
/* The earliest deadline, or UINT64_MAX. */
uint64_t mesh_timers_next(const struct mesh_timers *ts);
/* Fire every timer due at now (each is disarmed before its fn runs). */
void mesh_timers_run(struct mesh_timers *ts, uint64_t now);

#endif
