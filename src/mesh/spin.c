/* spin: the mesh loop's wait, spinning briefly while the machine idles (spin.h). */
#include "mesh/spin.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

#include "core/timeutil.h"

#define WINDOW_NS (100 * 1000000ull)   /* measured without spinning... */
#define PERIOD_NS (2000 * 1000000ull)  /* ...once per period */
#define IDLE_MIN_PCT 10                /* spin while the window saw at least this much idle cpu */

/* The machine's busy and idle ticks (irq and softirq count as busy, iowait as idle). */
static int machine_ticks(int fd, uint64_t *busy, uint64_t *idle)
{
    char buf[256];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return -1;
    buf[n] = '\0';
    unsigned long long v[8] = {0};
    if (sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
               &v[7]) < 7)
        return -1;
    *busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    *idle = v[3] + v[4];
    return 0;
}

void mesh_spin_init(struct mesh_spin *s, long spin_us, const char *stat_path, uint64_t now)
{
    s->spin_ns = spin_us > 0 ? (uint64_t)spin_us * 1000 : 0;
    s->stat_fd = s->spin_ns ? open(stat_path, O_RDONLY | O_CLOEXEC) : -1;
    if (s->stat_fd < 0) s->spin_ns = 0;
    s->on = 0;
    s->probing = 0;
    s->next = now;
}

void mesh_spin_close(struct mesh_spin *s)
{
    if (s->stat_fd >= 0) close(s->stat_fd);
    s->stat_fd = -1;
}

/* A window the mesh slept through just lasts longer: it still saw no spinning. */
void mesh_spin_gate(struct mesh_spin *s, uint64_t now)
{
    if (!s->spin_ns || now < s->next) return;
    uint64_t busy, idle;
    if (machine_ticks(s->stat_fd, &busy, &idle)) {
        s->on = 0;
        s->next = now + PERIOD_NS;
        return;
    }
    if (!s->probing) {
        s->busy0 = busy;
        s->idle0 = idle;
        s->probing = 1;
        s->next = now + WINDOW_NS;
        return;
    }
    uint64_t db = busy - s->busy0, di = idle - s->idle0;
    s->on = db + di > 0 && di * 100 >= IDLE_MIN_PCT * (db + di);
    s->probing = 0;
    s->next = now + PERIOD_NS - WINDOW_NS;
}

int mesh_spin_wait(struct mesh_spin *s, int epfd, struct epoll_event *ev, int max, int timeout, int busy)
{
    if (s->spin_ns && timeout != 0) {
        uint64_t now = mono_ns();
        mesh_spin_gate(s, now);
        if (busy && s->on && !s->probing) {
            uint64_t end = now + s->spin_ns;
            do {
                int n = epoll_wait(epfd, ev, max, 0);
                if (n != 0) return n;
                sched_yield();
            } while (mono_ns() < end);
        }
    }
    return epoll_wait(epfd, ev, max, timeout);
}
