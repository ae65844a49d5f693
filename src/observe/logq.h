/* logq: queries over a lab's pod logs, for `aiopslab logs` (and the
 * orchestrator later). It reads the CRI log files conmon writes
 * (cluster/crilog.h) from the run folders of a container (cluster/paths.h),
 * joins partial records, filters by time, level and a POSIX extended
 * regex, merges several sources by timestamp and folds repeated lines into
 * templates for a compact form. It never prints: the caller decides.
 *
 * Memory is bounded: a set holds at most max_bytes of text (lines past it
 * are dropped and counted) and a source can be trimmed to its last N lines
 * as it is read.
 *
 * Convention: 0 or a negative errno; error texts go into err buffers. */
#ifndef OBSERVE_LOGQ_H
#define OBSERVE_LOGQ_H
#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "core/lab.h"

/* Levels, ordered: a filter on LOGQ_WARN keeps warn and error. */
enum logq_level { LOGQ_LEVEL_NONE = 0, LOGQ_DEBUG = 1, LOGQ_INFO = 2, LOGQ_WARN = 3, LOGQ_ERROR = 4 };

#define LOGQ_MAX_BYTES (64u << 20)   /* default bound of a set's text */
#define LOGQ_MAX_LINE_BYTES (1u << 20) /* a line joined from P records is cut here */

/* "debug", "info", "warn"/"warning", "error"/"err"/"fatal"/"critical"/"panic"
 * (any case) -> the level; LOGQ_LEVEL_NONE for anything else. */
enum logq_level logq_parse_level(const char *s);

/* The level of one log line (len bytes, NUL-terminated at len).
 * A JSON object line: its "level" (or "severity", "lvl") field.
 * Any other line (or JSON without such a field): the strongest level word
 * it contains as a whole word, any case (ERROR/ERR/FATAL/PANIC/CRITICAL,
 * WARN/WARNING, INFO, DEBUG); LOGQ_LEVEL_NONE when there is none. */
enum logq_level logq_line_level(const char *text, size_t len);

struct logq_filter {
    uint64_t since_ns;          /* 0: no time bound */
    enum logq_level min_level;  /* LOGQ_LEVEL_NONE: every line */
    int has_grep;
    regex_t grep;
};

/* Set up a filter; grep (NULL: none) is a POSIX extended regex. 0, or
 * -EINVAL with err saying why (the regex's error). Free with
 * logq_filter_free even after a failure. A line without a level counts as
 * info: --level warn drops it, --level info keeps it. */
int logq_filter_init(struct logq_filter *f, uint64_t since_ns, enum logq_level min_level, const char *grep, char *err,
                     size_t errlen);
void logq_filter_free(struct logq_filter *f);
/* Whether a line (NUL-terminated at len) with timestamp ts_ns (0: unknown,
 * never filtered by time) passes. */
int logq_match(const struct logq_filter *f, uint64_t ts_ns, const char *text, size_t len);

struct logq_line {
    uint64_t ts_ns;
    uint64_t seq;       /* read order: keeps the merge stable */
    const char *source; /* the source's name (owned by the set) */
    char *text;         /* NUL-terminated, owned by the set */
    size_t len;
};

struct logq_set {
    struct logq_line *lines;
    size_t n, cap;
    size_t bytes, max_bytes;
    size_t dropped; /* lines not kept because of max_bytes */
    size_t trimmed; /* matching lines left out by logq_read_run's keep_last */
    char **sources;
    size_t nsources;
    uint64_t seq;
};

/* max_bytes 0: LOGQ_MAX_BYTES. */
void logq_set_init(struct logq_set *s, size_t max_bytes);
void logq_set_free(struct logq_set *s);
/* Add one line of source (copied). 0 or -E2BIG (dropped and counted). */
int logq_add(struct logq_set *s, const char *source, uint64_t ts_ns, const char *text, size_t len);

/* Read one container run folder (RUNDIR with current.log*) into the set as
 * lines of source, P records joined, filtered by f (NULL: none); keep_last
 * > 0 keeps only the newest keep_last matching lines of this folder.
 * Lines without a timestamp take the one before them. 0, -ENOENT (no log
 * there) or -errno. */
int logq_read_run(struct logq_set *s, const char *rundir, const char *source, const struct logq_filter *f,
                  size_t keep_last);

/* The numeric run folders of a container (LABDIR/pods/UID/containers/NAME/N),
 * newest first, at most max. Returns how many (0 when there is none). */
size_t logq_list_runs(const struct lab *lab, const char *uid, const char *container, int *runs, size_t max);

/* Sort the set by timestamp, read order breaking ties (a stable merge). */
void logq_sort(struct logq_set *s);

/* The template of a line: ids, numbers, hex, UUIDs, IPs and timestamps
 * become "#", so that lines differing only in those are equal. Appended to
 * out (a buf, core/buf.h, of at least len + 1 bytes of room). */
struct buf;
int logq_template(const char *text, size_t len, struct buf *out);

struct logq_group {
    size_t first; /* index of the first line in the set */
    size_t count;
};

/* Fold lines [from, s->n) of a sorted set into templates, in order of
 * first occurrence: *groups (caller frees) and *ngroups. 0 always (memory
 * bounded by the set). */
int logq_fold(const struct logq_set *s, size_t from, struct logq_group **groups, size_t *ngroups);

#endif
