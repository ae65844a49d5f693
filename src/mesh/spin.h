/* spin: how the mesh loop waits for its next events. After a batch with
 * events it polls epoll without sleeping (yielding the cpu between polls)
 * for up to a few tens of µs before it blocks, but only while the machine
 * has idle cpu: waking a sleeping process is slow on a VM, and a proxy that
 * sleeps between every two packets of a busy connection pays that each
 * time; a spin that takes cpu a busy machine needs costs the apps more
 * than it saves (bench/RESULTS.md, the mesh section). Whether the machine
 * is idle enough is measured from /proc/stat over a window in which the
 * mesh does not spin (100 ms of every 2 s), so its own polling never
 * counts as work. */
#ifndef MESH_SPIN_H
#define MESH_SPIN_H
#include <stdint.h>
#include <sys/epoll.h>

struct mesh_spin {
    uint64_t spin_ns;      /* 0: never spin */
    int stat_fd;           /* /proc/stat (or a file like it), kept open */
    int on;                /* the last window found idle cpu */
    int probing;           /* in a window: no spinning */
    uint64_t next;         /* when the next window starts, or the current one ends */
    uint64_t busy0, idle0; /* the machine's ticks when the window started */
};

/* spin_us 0 disables spinning; stat_path is /proc/stat but in tests; the
 * first window starts at once. */
void mesh_spin_init(struct mesh_spin *s, long spin_us, const char *stat_path, uint64_t now);
void mesh_spin_close(struct mesh_spin *s);
/* Start or end the measuring window when its time has come (mono ns). */
void mesh_spin_gate(struct mesh_spin *s, uint64_t now);
/* epoll_wait(epfd, ev, max, timeout), spinning first when the previous
 * batch had events (busy) and the machine had idle cpu. */
int mesh_spin_wait(struct mesh_spin *s, int epfd, struct epoll_event *ev, int max, int timeout, int busy);
#endif
