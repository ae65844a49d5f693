/* timeutil: clocks and the time formats Kubernetes users see. */
#ifndef CORE_TIMEUTIL_H
#define CORE_TIMEUTIL_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Nanoseconds on CLOCK_MONOTONIC / CLOCK_REALTIME. */
uint64_t mono_ns(void);
uint64_t wall_ns(void);
/* "2026-11-27T17:47:05Z" (seconds) into out (>= 21 bytes). */
void time_rfc3339(time_t t, char *out, size_t n);
/* "2026-11-27T17:47:05.123456789Z" (nanoseconds) into out (>= 31 bytes). */
void time_rfc3339_nano(uint64_t ns, char *out, size_t n);
/* Parse RFC 3339 (with optional fraction, 'Z' or +hh:mm); 0 or -EINVAL. */
int time_parse_rfc3339(const char *s, uint64_t *ns_out);
/* kubectl's human duration: "45s", "3m2s", "5h", "12d"... */
void time_human(int64_t seconds, char *out, size_t n);
/* Parse a Go-style duration ("1h30m", "5m", "10s", "250ms"); 0 or -EINVAL. */
int time_parse_duration(const char *s, uint64_t *ns_out);

#endif
