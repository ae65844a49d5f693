/* util: file, descriptor and process helpers (see util.h). */
#include "core/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

int fd_set_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);
    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0) return -errno;
    return 0;
}

int fd_set_nonblock(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -errno;
    fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    if (fcntl(fd, F_SETFL, fl) < 0) return -errno;
    return 0;
}

int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int read_file(const char *path, struct buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = 0;
    char chunk[65536];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0) {
            if (errno == EINTR) continue;
            rc = -errno;
            break;
        }
        if (r == 0) break;
        if ((rc = buf_append(out, chunk, (size_t)r)) < 0) break;
    }
    close(fd);
    if (rc == 0 && !out->data) rc = buf_append(out, "", 0);
    return rc;
}

static int write_file(const char *path, const void *data, size_t n, int sync)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    int rc = write_all(fd, data, n);
    if (rc == 0 && sync && fsync(fd) < 0) rc = -errno;
    close(fd);
    if (rc == 0 && rename(tmp, path) < 0) rc = -errno;
    if (rc) {
        unlink(tmp);
        return rc;
    }
    if (!sync) return 0;
    char dir[PATH_MAX];
    strlcpy_checked(dir, path, sizeof dir);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        int dfd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    return 0;
}

int write_file_atomic(const char *path, const void *data, size_t n)
{
    return write_file(path, data, n, 1);
}

int write_file_replace(const char *path, const void *data, size_t n)
{
    return write_file(path, data, n, 0);
}

int mkdir_p(const char *path, mode_t mode)
{
    char p[PATH_MAX];
    if (strlcpy_checked(p, path, sizeof p)) return -ENAMETOOLONG;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST) return -errno;
        *s = '/';
    }
    if (mkdir(p, mode) < 0 && errno != EEXIST) return -errno;
    return 0;
}

int rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : -errno;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return -errno;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[PATH_MAX];
            if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >= (int)sizeof sub) continue;
            rm_rf(sub);
        }
        closedir(d);
        if (rmdir(path) < 0) return -errno;
        return 0;
    }
    if (unlink(path) < 0) return -errno;
    return 0;
}

int chown_tree(const char *path, uid_t uid, gid_t gid)
{
    struct stat st;
    if (lstat(path, &st) < 0) return -errno;
    if (lchown(path, uid, gid) < 0) return -errno;
    if (!S_ISDIR(st.st_mode)) return 0;
    DIR *d = opendir(path);
    if (!d) return -errno;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char sub[PATH_MAX];
        if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >= (int)sizeof sub) continue;
        int r = chown_tree(sub, uid, gid);
        if (r && !rc) rc = r;
    }
    closedir(d);
    return rc;
}

uint64_t proc_starttime(pid_t pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    /* The command name may hold spaces and parentheses: skip past the last ')'. */
    char *p = strrchr(line, ')');
    if (!p) return 0;
    p += 2; /* now at field 3 (state) */
    if (*p == 'Z' || *p == 'X') return 0;
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p, ' ');
        if (p) p++;
    }
    if (!p) return 0;
    return strtoull(p, NULL, 10);
}

int proc_alive(pid_t pid) { return pid > 0 && proc_starttime(pid) != 0; }

/* The arguments of process pid, each NUL-terminated, into buf (at most
 * size - 1 bytes, then a NUL); their length, 0 when it has none or is gone. */
static size_t read_cmdline(pid_t pid, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);
    if (fd >= 0) close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return n > 0 ? (size_t)n : 0;
}

int proc_cmdline_has(pid_t pid, const char *const needles[])
{
    char cmd[4096];
    size_t n = read_cmdline(pid, cmd, sizeof cmd);
    for (size_t i = 0; i < n; i++)
        if (!cmd[i]) cmd[i] = ' ';
    for (; *needles; needles++)
        if (!strstr(cmd, *needles)) return 0;
    return n > 0;
}

static int arg_under(const char *arg, const char *dir, size_t dlen)
{
    return !strncmp(arg, dir, dlen) && (arg[dlen] == '\0' || arg[dlen] == '/');
}

pid_t proc_find_under(const char *dir)
{
    size_t dlen = strlen(dir);
    while (dlen > 1 && dir[dlen - 1] == '/') dlen--;
    DIR *d = opendir("/proc");
    if (!d) return 0;
    pid_t found = 0, self = getpid();
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        long pid;
        if (parse_long(e->d_name, 1, INT_MAX, &pid) || (pid_t)pid == self) continue;
        char cmd[8192];
        size_t n = read_cmdline((pid_t)pid, cmd, sizeof cmd);
        for (char *a = cmd; a < cmd + n; a += strlen(a) + 1)
            if (arg_under(a, dir, dlen) && proc_alive((pid_t)pid)) {
                found = (pid_t)pid;
                break;
            }
    }
    closedir(d);
    return found;
}

void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int parse_long(const char *s, long min, long max, long *out)
{
    if (!s || !*s) return -EINVAL;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max) return -EINVAL;
    *out = v;
    return 0;
}

int strlcpy_checked(char *dst, const char *src, size_t dstlen)
{
    size_t n = strlen(src);
    if (n >= dstlen) {
        memcpy(dst, src, dstlen - 1);
        dst[dstlen - 1] = '\0';
        return -E2BIG;
    }
    memcpy(dst, src, n + 1);
    return 0;
}

int str_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int self_exe(char *out, size_t n)
{
    if (n < 2) return -ENAMETOOLONG;
    ssize_t len = readlink("/proc/self/exe", out, n - 1);
    if (len <= 0) return len < 0 ? -errno : -ENOENT;
    if ((size_t)len == n - 1) return -ENAMETOOLONG;
    out[len] = '\0';
    static const char deleted[] = " (deleted)";
    size_t d = sizeof deleted - 1;
    if ((size_t)len > d && !strcmp(out + len - d, deleted)) out[len - d] = '\0';
    return 0;
}
