/* log: timestamped log lines, one write per line (see log.h). */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/timeutil.h"

static int log_fd = 2;
static enum log_level log_min = LOG_INFO;
static char log_program[32] = "aiopslab";

int log_open(const char *program, const char *path)
{
    snprintf(log_program, sizeof log_program, "%s", program);
    if (!path) return 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    if (log_fd > 2) close(log_fd);
    log_fd = fd;
    return 0;
}

void log_set_level(enum log_level level)
{
    log_min = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (level < log_min) return;
    char line[2048], ts[40];
    time_rfc3339_nano(wall_ns(), ts, sizeof ts);
    int n = snprintf(line, sizeof line, "%s %s[%d] %s: ", ts, log_program, (int)getpid(), names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2) len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(log_fd, line, len);
    (void)w;
}
