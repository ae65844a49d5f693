/* crilog: container logs in the CRI format kubelet writes
 *     2026-11-27T17:47:05.123456789Z stdout F the line
 * (F: full line, P: part of a longer line). conmon writes them with
 * rotation (current.log, current.log.1, ...); kubectl and the observe
 * part read them back.
 *
 * Convention: 0 or a negative errno. */
#ifndef CLUSTER_CRILOG_H
#define CLUSTER_CRILOG_H
#include <stddef.h>
#include <stdint.h>

/* Lines longer than this are split into P records (as the CRI runtimes do). */
#define CRILOG_MAX_LINE 16384

struct crilog_writer; /* opaque */

/* Open RUNDIR/current.log for appending; rotate past max_bytes keeping
 * max_files files in all (current.log, current.log.1 .. .(max_files-1),
 * .1 being the newest rotated one). max_bytes 0: never rotate.
 * NULL with errno set on failure. */
struct crilog_writer *crilog_open(const char *rundir, size_t max_bytes, int max_files);
/* Write one line (without its newline); partial=1 for a P record. A line
 * is written with one write(2), so concurrent readers never see half a
 * record. Callers split lines longer than CRILOG_MAX_LINE themselves.
 * 0 or -errno. */
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
 * the raw text. Returns 0, -ENOENT when there is no log, or -errno.
 * l->text is valid only during the call. A rotation happening while the
 * files are read can make lines be skipped or seen twice. */
int crilog_read(const char *rundir, int (*fn)(const struct crilog_line *l, void *arg), void *arg);

/* Parse one record (without its newline) into out; text points into s.
 * 0, or -EINVAL for a malformed record (out is then left unchanged). */
int crilog_parse(const char *s, size_t len, struct crilog_line *out);

#endif
