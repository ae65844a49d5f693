/* timeutil: clocks and time formats (see timeutil.h). */
#include "core/timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void time_rfc3339(time_t t, char *out, size_t n)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void time_rfc3339_nano(uint64_t ns, char *out, size_t n)
{
    time_t t = (time_t)(ns / 1000000000ull);
    struct tm tm;
    gmtime_r(&t, &tm);
    char s[32];
    strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%09lluZ", s, (unsigned long long)(ns % 1000000000ull));
}

int time_parse_rfc3339(const char *s, uint64_t *ns_out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p) return -EINVAL;
    uint64_t frac = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 9) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                digits++;
            }
            p++;
        }
        while (digits++ < 9) frac *= 10;
    }
    long off = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh, mm;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2) return -EINVAL;
        off = (hh * 3600 + mm * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -EINVAL;
    }
    if (*p) return -EINVAL;
    time_t t = timegm(&tm) - off;
    if (t < 0) return -EINVAL;
    *ns_out = (uint64_t)t * 1000000000ull + frac;
    return 0;
}

void time_human(int64_t s, char *out, size_t n)
{
    if (s < -1) {
        snprintf(out, n, "<invalid>");
        return;
    }
    if (s < 0) s = 0;
    int64_t m = s / 60, h = s / 3600;
    if (s < 120)
        snprintf(out, n, "%llds", (long long)s);
    else if (m < 10)
        s % 60 ? snprintf(out, n, "%lldm%llds", (long long)m, (long long)(s % 60))
               : snprintf(out, n, "%lldm", (long long)m);
    else if (m < 180)
        snprintf(out, n, "%lldm", (long long)m);
    else if (h < 8)
        m % 60 ? snprintf(out, n, "%lldh%lldm", (long long)h, (long long)(m % 60))
               : snprintf(out, n, "%lldh", (long long)h);
    else if (h < 48)
        snprintf(out, n, "%lldh", (long long)h);
    else if (h < 24 * 8)
        h % 24 ? snprintf(out, n, "%lldd%lldh", (long long)(h / 24), (long long)(h % 24))
               : snprintf(out, n, "%lldd", (long long)(h / 24));
    else if (h < 24 * 365 * 2)
        snprintf(out, n, "%lldd", (long long)(h / 24));
    else if (h < 24 * 365 * 8)
        (h / 24) % 365 ? snprintf(out, n, "%lldy%lldd", (long long)(h / 24 / 365), (long long)((h / 24) % 365))
                       : snprintf(out, n, "%lldy", (long long)(h / 24 / 365));
    else
        snprintf(out, n, "%lldy", (long long)(h / 24 / 365));
}

int time_parse_duration(const char *s, uint64_t *ns_out)
{
    if (!s || !*s) return -EINVAL;
    uint64_t total = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || v < 0) return -EINVAL;
        p = end;
        double unit;
        if (!strncmp(p, "ns", 2)) unit = 1, p += 2;
        else if (!strncmp(p, "us", 2)) unit = 1e3, p += 2;
        else if (!strncmp(p, "ms", 2)) unit = 1e6, p += 2;
        else if (*p == 's') unit = 1e9, p++;
        else if (*p == 'm') unit = 60e9, p++;
        else if (*p == 'h') unit = 3600e9, p++;
        else return -EINVAL;
        double add = v * unit;
        if (add > 1e19 || (double)total + add > 1.8e19) return -EINVAL;
        total += (uint64_t)add;
    }
    *ns_out = total;
    return 0;
}
