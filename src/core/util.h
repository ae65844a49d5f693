/* util: small file, descriptor and process helpers used by every part.
 * Convention: 0 (or a count) on success, a negative errno on failure. */
#ifndef CORE_UTIL_H
#define CORE_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"

int fd_set_cloexec(int fd);
int fd_set_nonblock(int fd, int on);
/* Write all of p, retrying on EINTR and short writes (blocking fds). */
int write_all(int fd, const void *p, size_t n);
/* Read a whole file into out (appending), failing with -E2BIG past out->max. */
int read_file(const char *path, struct buf *out);
/* Write a file atomically: temp file, fsync, rename, fsync of the folder. */
int write_file_atomic(const char *path, const void *data, size_t n);
/* Replace a file atomically (temp file, rename) without waiting for the
 * disk: for files rewritten whenever they are needed, where an fsync
 * would only stall the caller behind other processes' writes. */
int write_file_replace(const char *path, const void *data, size_t n);
int mkdir_p(const char *path, mode_t mode);
/* Remove a tree. Missing is not an error. */
int rm_rf(const char *path);
/* chown a tree (not following symlinks). 0 or -errno of the first failure. */
int chown_tree(const char *path, uid_t uid, gid_t gid);
/* The start time of a process in clock ticks since boot (field 22 of
 * /proc/PID/stat), or 0 when the process does not exist or has exited (a
 * zombie). Together with the pid it names a process unambiguously across
 * pid reuse. */
uint64_t proc_starttime(pid_t pid);
/* Whether process pid is still running. Unlike kill(pid, 0), an exited
 * process its parent has not reaped yet counts as gone: a lab's detached
 * processes are reaped by init, which on some machines takes seconds. */
int proc_alive(pid_t pid);
/* Whether the command line of process pid contains every one of the
 * NULL-terminated needles (arguments joined by spaces). */
int proc_cmdline_has(pid_t pid, const char *const needles[]);
/* A running process other than this one with an argument that is dir or
 * a path under it (a lab's daemon, monitors and infra name their folders
 * so), or 0 when there is none. */
pid_t proc_find_under(const char *dir);
/* Raise this process's soft limit on open files to its hard limit (the
 * mesh and the load generators hold two descriptors per connection; a
 * login's soft limit is often 1024). */
void raise_fd_limit(void);
/* Parse a whole decimal integer in [min, max]; 0 or -EINVAL. */
int parse_long(const char *s, long min, long max, long *out);
/* Copy at most dstlen-1 bytes and terminate; returns -E2BIG when cut. */
int strlcpy_checked(char *dst, const char *src, size_t dstlen);
int str_has_prefix(const char *s, const char *prefix);
/* The path of this program's binary (/proc/self/exe), without the
 * " (deleted)" Linux appends once the file was replaced (by a rebuild):
 * the binary now at that path. 0 or -errno. */
int self_exe(char *out, size_t n);

#endif
