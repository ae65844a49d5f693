/* crilog: container logs in the CRI format kubelet writes
 *     2026-11-27T17:47:05.123456789Z stdout F the line
 * (F: full line, P: part of a longer line). conmon writes them with
 * rotation (current.log, current.log.1, ...); kubectl and the observe
 * part read them back. */
#ifndef CLUSTER_CRILOG_H
#define CLUSTER_CRILOG_H
#include <stddef.h>
#include <stdint.h>

struct crilog_writer; /* opaque */

/* Open RUNDIR/current.log for appending; rotate past max_bytes keeping
 * max_files files in all. NULL with errno set on failure. */
struct crilog_writer *crilog_open(const char *rundir, size_t max_bytes, int max_files);
/* Write one line (without its newline); partial=1 for a P record. */
int crilog_write(struct crilog_writer *w, uint64_t ts_ns, int is_stderr, int partial, const char *line, size_t len);
void crilog_close(struct crilog_writer *w);

struct crilog_line {
    uint64_t ts_ns;
    int is_stderr;
    int partial;
    const char *text; /* not NUL-terminated inside the file buffer; len bytes */
    size_t len;
};

/* Call fn for every line of the run dir's logs, oldest rotated file first,
 * until fn returns nonzero. Malformed lines are passed with ts_ns 0 and
 * the raw text. Returns 0, -ENOENT when there is no log, or -errno. */
int crilog_read(const char *rundir, int (*fn)(const struct crilog_line *l, void *arg), void *arg);

#endif
