/* timer: binary min-heap with position back-pointers (see timer.h). */
#include "mesh/timer.h"

#include <stdlib.h>

#include "core/alloc.h"

static void put(struct mesh_timers *ts, size_t i, struct mesh_timer *t)
{
    ts->heap[i] = t;
    t->pos = i + 1;
}

static void sift_up(struct mesh_timers *ts, size_t i)
{
    struct mesh_timer *t = ts->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (ts->heap[parent]->when <= t->when) break;
        put(ts, i, ts->heap[parent]);
        i = parent;
    }
    put(ts, i, t);
}

static void sift_down(struct mesh_timers *ts, size_t i)
{
    struct mesh_timer *t = ts->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        uint64_t best = t->when;
        if (l < ts->n && ts->heap[l]->when < best) m = l, best = ts->heap[l]->when;
        if (l + 1 < ts->n && ts->heap[l + 1]->when < best) m = l + 1;
        if (m == i) break;
        put(ts, i, ts->heap[m]);
        i = m;
    }
    put(ts, i, t);
}

void mesh_timers_free(struct mesh_timers *ts)
{
    for (size_t i = 0; i < ts->n; i++) ts->heap[i]->pos = 0;
    free(ts->heap);
    ts->heap = NULL;
    ts->n = ts->cap = 0;
}

void mesh_timer_stop(struct mesh_timers *ts, struct mesh_timer *t)
{
    if (!t->pos) return;
    size_t i = t->pos - 1;
    t->pos = 0;
    ts->n--;
    if (i == ts->n) return;
    ts->heap[i] = ts->heap[ts->n];
    ts->heap[i]->pos = i + 1;
    sift_down(ts, i);
    sift_up(ts, i);
}

void mesh_timer_start(struct mesh_timers *ts, struct mesh_timer *t, uint64_t when)
{
    mesh_timer_stop(ts, t);
    if (ts->n == ts->cap) {
        ts->cap = ts->cap ? ts->cap * 2 : 64;
        ts->heap = xrealloc(ts->heap, ts->cap * sizeof *ts->heap);
    }
    t->when = when;
    ts->heap[ts->n] = t;
    sift_up(ts, ts->n++);
}

uint64_t mesh_timers_next(const struct mesh_timers *ts)
{
    return ts->n ? ts->heap[0]->when : UINT64_MAX;
}

void mesh_timers_run(struct mesh_timers *ts, uint64_t now)
{
    while (ts->n && ts->heap[0]->when <= now) {
        struct mesh_timer *t = ts->heap[0];
        mesh_timer_stop(ts, t);
        t->fn(t, t->arg);
    }
}
