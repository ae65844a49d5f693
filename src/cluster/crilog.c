/* crilog: the CRI log format, written by conmon and read by kubectl and
 * observe. The writer appends one record per write(2) to RUNDIR/current.log
 * and rotates by size (current.log -> current.log.1 -> ...), keeping a
 * fixed number of files. The reader walks the files oldest first with one
 * bounded buffer, so a huge or foreign file cannot make it grow. */
#include "cluster/crilog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/timeutil.h"

#define READ_BUF (64 * 1024) /* > CRILOG_MAX_LINE + header */
#define MAX_ROTATED 1000

struct crilog_writer {
    char path[PATH_MAX];
    int fd;
    size_t size, max_bytes;
    int max_files;
};

static int log_path(const char *rundir, int idx, char *out, size_t n)
{
    int r = idx ? snprintf(out, n, "%s/current.log.%d", rundir, idx) : snprintf(out, n, "%s/current.log", rundir);
    return r < 0 || (size_t)r >= n ? -ENAMETOOLONG : 0;
}

static int writer_reopen(struct crilog_writer *w, int truncate)
{
    int fd = open(w->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0644);
    if (fd < 0) return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    if (w->fd >= 0) close(w->fd);
    w->fd = fd;
    w->size = (size_t)st.st_size;
    return 0;
}

struct crilog_writer *crilog_open(const char *rundir, size_t max_bytes, int max_files)
{
    struct crilog_writer *w = xcalloc(1, sizeof *w);
    w->fd = -1;
    w->max_bytes = max_bytes;
    w->max_files = max_files < 1 ? 1 : (max_files > MAX_ROTATED ? MAX_ROTATED : max_files);
    int rc = log_path(rundir, 0, w->path, sizeof w->path);
    if (rc == 0) rc = writer_reopen(w, 0);
    if (rc < 0) {
        free(w);
        errno = -rc;
        return NULL;
    }
    return w;
}

/* current.log.(n-2) -> .(n-1), ..., current.log -> .1, then a fresh current.log. */
static int writer_rotate(struct crilog_writer *w)
{
    if (w->max_files > 1) {
        char from[PATH_MAX + 16], to[PATH_MAX + 16];
        for (int i = w->max_files - 1; i >= 1; i--) {
            snprintf(to, sizeof to, "%s.%d", w->path, i);
            if (i == 1)
                snprintf(from, sizeof from, "%s", w->path);
            else
                snprintf(from, sizeof from, "%s.%d", w->path, i - 1);
            if (rename(from, to) < 0 && errno != ENOENT) return -errno;
        }
    }
    return writer_reopen(w, 1);
}

int crilog_write(struct crilog_writer *w, uint64_t ts_ns, int is_stderr, int partial, const char *line, size_t len)
{
    char head[64];
    time_rfc3339_nano(ts_ns, head, sizeof head);
    size_t hl = strlen(head);
    int r = snprintf(head + hl, sizeof head - hl, " %s %c ", is_stderr ? "stderr" : "stdout", partial ? 'P' : 'F');
    if (r < 0) return -EINVAL;
    hl += (size_t)r;
    size_t total = hl + len + 1;
    if (w->max_bytes && w->size > 0 && w->size + total > w->max_bytes) {
        int rc = writer_rotate(w);
        if (rc < 0) return rc;
    }
    struct iovec iov[3] = {
        {head, hl},
        {(void *)line, len},
        {"\n", 1},
    };
    size_t done = 0;
    int i = 0;
    while (i < 3) {
        ssize_t n = writev(w->fd, iov + i, 3 - i);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        done += (size_t)n;
        /* Short write: step over what went out and retry the rest. */
        while (i < 3 && (size_t)n >= iov[i].iov_len) {
            n -= (ssize_t)iov[i].iov_len;
            i++;
        }
        if (i < 3) {
            iov[i].iov_base = (char *)iov[i].iov_base + n;
            iov[i].iov_len -= (size_t)n;
        }
    }
    w->size += done;
    return 0;
}

void crilog_close(struct crilog_writer *w)
{
    if (!w) return;
    if (w->fd >= 0) close(w->fd);
    free(w);
}

int crilog_parse(const char *s, size_t len, struct crilog_line *out)
{
    /* TIMESTAMP SP STREAM SP TAGS SP TEXT ; TAGS is "F" or "P" (CRI allows
     * more tags after a ':', which are ignored). */
    const char *end = s + len;
    const char *sp1 = memchr(s, ' ', len);
    if (!sp1 || sp1 == s || sp1 - s > 40) return -EINVAL;
    char ts[48];
    memcpy(ts, s, (size_t)(sp1 - s));
    ts[sp1 - s] = '\0';
    uint64_t ns;
    if (time_parse_rfc3339(ts, &ns) < 0) return -EINVAL;
    const char *p = sp1 + 1;
    int is_stderr;
    if (end - p >= 7 && !memcmp(p, "stdout ", 7))
        is_stderr = 0;
    else if (end - p >= 7 && !memcmp(p, "stderr ", 7))
        is_stderr = 1;
    else
        return -EINVAL;
    p += 7;
    if (p >= end || (*p != 'F' && *p != 'P')) return -EINVAL;
    int partial = *p == 'P';
    p++;
    while (p < end && *p == ':') { /* extra tags */
        while (p < end && *p != ' ') p++;
    }
    if (p < end && *p != ' ') return -EINVAL;
    if (p < end) p++; /* the separator; an empty line may end right after the tag */
    out->ts_ns = ns;
    out->is_stderr = is_stderr;
    out->partial = partial;
    out->text = p;
    out->len = (size_t)(end - p);
    return 0;
}

static int emit(const char *s, size_t len, int (*fn)(const struct crilog_line *, void *), void *arg)
{
    struct crilog_line l;
    if (crilog_parse(s, len, &l) < 0) {
        memset(&l, 0, sizeof l);
        l.text = s;
        l.len = len;
    }
    return fn(&l, arg);
}

/* 1 when fn asked to stop, 0 at the end of the file, -errno. */
static int read_one(const char *path, char *buf, int (*fn)(const struct crilog_line *, void *), void *arg)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    size_t have = 0;
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, READ_BUF - have);
        if (n < 0) {
            if (errno == EINTR) continue;
            rc = -errno;
            break;
        }
        if (n == 0) {
            if (have && fn && emit(buf, have, fn, arg)) rc = 1;
            break;
        }
        have += (size_t)n;
        size_t start = 0;
        for (;;) {
            char *nl = memchr(buf + start, '\n', have - start);
            if (!nl) break;
            if (emit(buf + start, (size_t)(nl - (buf + start)), fn, arg)) {
                rc = 1;
                goto out;
            }
            start = (size_t)(nl - buf) + 1;
        }
        if (start == 0 && have == READ_BUF) { /* a line longer than the buffer: pass it on in pieces */
            if (emit(buf, have, fn, arg)) {
                rc = 1;
                goto out;
            }
            start = have;
        }
        memmove(buf, buf + start, have - start);
        have -= start;
    }
out:
    close(fd);
    return rc;
}

int crilog_read(const char *rundir, int (*fn)(const struct crilog_line *l, void *arg), void *arg)
{
    char path[PATH_MAX];
    int oldest = 0;
    struct stat st;
    for (int i = 1; i <= MAX_ROTATED; i++) {
        if (log_path(rundir, i, path, sizeof path) < 0) return -ENAMETOOLONG;
        if (stat(path, &st) < 0) break;
        oldest = i;
    }
    char *buf = xmalloc(READ_BUF);
    int found = 0, rc = 0;
    for (int i = oldest; i >= 0; i--) {
        if (log_path(rundir, i, path, sizeof path) < 0) {
            rc = -ENAMETOOLONG;
            break;
        }
        rc = read_one(path, buf, fn, arg);
        if (rc == -ENOENT) { /* rotated away under us */
            rc = 0;
            continue;
        }
        if (rc < 0) break;
        found = 1;
        if (rc == 1) {
            rc = 0;
            break;
        }
    }
    free(buf);
    if (rc == 0 && !found) return -ENOENT;
    return rc;
}
