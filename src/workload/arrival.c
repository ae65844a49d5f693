/* arrival: the arrival patterns and schedules of the load generator (see
 * arrival.h). The engine asks each thread's generator for the next
 * intended send time; latency is measured from that time, so a slow
 * server can never slow the schedule down (no coordinated omission). */
#include "workload/arrival.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "core/util.h"

/* ---- random numbers ---------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void load_rng_seed(struct load_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t load_rng_next(struct load_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double load_rng_double(struct load_rng *r) { return (double)(load_rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t load_rng_below(struct load_rng *r, uint64_t n)
{
    /* Lemire's multiply-shift; the bias is below 2^-64 * n, irrelevant here. */
    return (uint64_t)(((unsigned __int128)load_rng_next(r) * n) >> 64);
}

static double exp1(struct load_rng *r) { return -log1p(-load_rng_double(r)); }

/* ---- patterns and phases ----------------------------------------------- */

static const char *const pattern_names[] = {"constant", "poisson", "diurnal", "burst", "ramp", "step", "replay"};

const char *load_pattern_name(enum load_pattern p)
{
    return (unsigned)p < sizeof pattern_names / sizeof *pattern_names ? pattern_names[p] : "?";
}

int load_pattern_parse(const char *s, enum load_pattern *out)
{
    for (size_t i = 0; i < sizeof pattern_names / sizeof *pattern_names; i++)
        if (!strcmp(s, pattern_names[i])) {
            *out = (enum load_pattern)i;
            return 0;
        }
    return -EINVAL;
}

void load_phase_defaults(struct load_phase *ph, enum load_pattern p)
{
    memset(ph, 0, sizeof *ph);
    ph->pattern = p;
    ph->amplitude = 0.5;
    ph->period_ns = p == LOAD_DIURNAL ? 60000000000ull : 10000000000ull;
    ph->length_ns = 1000000000ull;
    ph->speed = 1.0;
}

static int parse_rate(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0 || v > LOAD_MAX_RATE) return -EINVAL;
    *out = v;
    return 0;
}

static int parse_dur(const char *s, uint64_t *out)
{
    if (!strcmp(s, "0")) {
        *out = 0;
        return 0;
    }
    return time_parse_duration(s, out);
}

int load_phase_set(struct load_phase *ph, const char *key, const char *val, char *err, size_t errlen)
{
    int rc = 0;
    if (!strcmp(key, "amplitude")) {
        rc = parse_rate(val, &ph->amplitude);
        if (!rc && ph->amplitude > 1) rc = -EINVAL;
    } else if (!strcmp(key, "period") || !strcmp(key, "every"))
        rc = parse_dur(val, &ph->period_ns);
    else if (!strcmp(key, "length"))
        rc = parse_dur(val, &ph->length_ns);
    else if (!strcmp(key, "burst"))
        rc = parse_rate(val, &ph->burst);
    else if (!strcmp(key, "to"))
        rc = parse_rate(val, &ph->to);
    else if (!strcmp(key, "by")) {
        char *end;
        errno = 0;
        ph->by = strtod(val, &end);
        if (errno || end == val || *end || !isfinite(ph->by) || fabs(ph->by) > LOAD_MAX_RATE) rc = -EINVAL;
    } else if (!strcmp(key, "speed")) {
        rc = parse_rate(val, &ph->speed);
        if (!rc && ph->speed <= 0) rc = -EINVAL;
    } else if (!strcmp(key, "file")) {
        free(ph->file);
        ph->file = xstrdup(val);
    } else {
        snprintf(err, errlen, "unknown phase parameter \"%s\" (amplitude, period, every, length, burst, to, by, speed, file)", key);
        return -EINVAL;
    }
    if (rc) snprintf(err, errlen, "bad value \"%s\" for %s", val, key);
    return rc;
}

/* One phase "PATTERN:RATE[-RATE2]:DURATION[:key=value...]" (in place). */
static int parse_phase(char *text, struct load_phase *ph, char *err, size_t errlen)
{
    char *fields[16];
    size_t n = 0;
    for (char *p = text;;) {
        if (n == 16) {
            snprintf(err, errlen, "phase \"%.80s\": too many fields", text);
            return -EINVAL;
        }
        fields[n++] = p;
        char *colon = strchr(p, ':');
        if (!colon) break;
        *colon = '\0';
        p = colon + 1;
    }
    if (n < 3) {
        snprintf(err, errlen, "phase \"%.80s\": expected PATTERN:RATE:DURATION[:key=value...]", fields[0]);
        return -EINVAL;
    }
    enum load_pattern p;
    if (load_pattern_parse(fields[0], &p)) {
        snprintf(err, errlen, "unknown pattern \"%.40s\" (constant, poisson, diurnal, burst, ramp, step, replay)", fields[0]);
        return -EINVAL;
    }
    load_phase_defaults(ph, p);
    char *dash = strchr(fields[1], '-');
    if (dash) {
        *dash = '\0';
        if (parse_rate(dash + 1, &ph->to)) {
            snprintf(err, errlen, "bad rate \"%.40s\"", dash + 1);
            return -EINVAL;
        }
        if (p != LOAD_RAMP) {
            snprintf(err, errlen, "a rate range (A-B) is for ramp phases only");
            return -EINVAL;
        }
    }
    if (parse_rate(fields[1], &ph->rate)) {
        snprintf(err, errlen, "bad rate \"%.40s\" (requests per second, 0..%.0f)", fields[1], LOAD_MAX_RATE);
        return -EINVAL;
    }
    if (parse_dur(fields[2], &ph->duration_ns)) {
        snprintf(err, errlen, "bad duration \"%.40s\" (e.g. 30s, 5m, 1h)", fields[2]);
        return -EINVAL;
    }
    for (size_t i = 3; i < n; i++) {
        char *eq = strchr(fields[i], '=');
        if (!eq) {
            snprintf(err, errlen, "bad phase parameter \"%.40s\" (key=value)", fields[i]);
            return -EINVAL;
        }
        *eq = '\0';
        int rc = load_phase_set(ph, fields[i], eq + 1, err, errlen);
        if (rc) return rc;
    }
    return 0;
}

int load_schedule_parse(const char *text, struct load_schedule *s, char *err, size_t errlen)
{
    if (strlen(text) > 65536) {
        snprintf(err, errlen, "schedule too long");
        return -EINVAL;
    }
    char *copy = xstrdup(text), *p = copy;
    int rc = 0;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        if (s->n == LOAD_MAX_PHASES) {
            snprintf(err, errlen, "too many phases (at most %d)", LOAD_MAX_PHASES);
            rc = -EINVAL;
            goto out;
        }
        struct load_phase *ph = &s->phases[s->n];
        rc = parse_phase(p, ph, err, errlen);
        if (rc) {
            free(ph->file);
            ph->file = NULL;
            goto out;
        }
        s->n++;
        if (!comma) break;
        p = comma + 1;
    }
out:
    free(copy);
    return rc;
}

int load_schedule_from_json(const json_t *root, struct load_schedule *s, char *err, size_t errlen)
{
    const json_t *phases = json_is_array(root) ? root : json_object_get(root, "phases");
    if (!json_is_array(phases) || !json_array_size(phases)) {
        snprintf(err, errlen, "schedule: expected {\"phases\": [{\"pattern\": ..., \"rate\": ..., \"duration\": ...}, ...]}");
        return -EINVAL;
    }
    size_t i;
    const json_t *jp;
    json_array_foreach(phases, i, jp) {
        if (s->n == LOAD_MAX_PHASES) {
            snprintf(err, errlen, "too many phases (at most %d)", LOAD_MAX_PHASES);
            return -EINVAL;
        }
        const char *pat = json_string_value(json_object_get(jp, "pattern"));
        enum load_pattern p;
        if (!json_is_object(jp) || !pat || load_pattern_parse(pat, &p)) {
            snprintf(err, errlen, "schedule phase %zu: needs a \"pattern\" (constant, poisson, diurnal, burst, ramp, step, replay)", i + 1);
            return -EINVAL;
        }
        struct load_phase *ph = &s->phases[s->n];
        load_phase_defaults(ph, p);
        const char *key;
        const json_t *v;
        int rc = 0;
        json_object_foreach((json_t *)jp, key, v) {
            char val[1024];
            if (!strcmp(key, "pattern")) continue;
            if (json_is_string(v)) snprintf(val, sizeof val, "%s", json_string_value(v));
            else if (json_is_number(v)) snprintf(val, sizeof val, "%.17g", json_number_value(v));
            else {
                snprintf(err, errlen, "schedule phase %zu: %s must be a number or a string", i + 1, key);
                rc = -EINVAL;
                break;
            }
            if (!strcmp(key, "rate")) {
                if (parse_rate(val, &ph->rate)) {
                    snprintf(err, errlen, "schedule phase %zu: bad rate \"%.40s\"", i + 1, val);
                    rc = -EINVAL;
                }
            } else if (!strcmp(key, "duration")) {
                if (json_is_number(v)) { /* seconds */
                    double d = json_number_value(v);
                    if (d < 0 || d > 1e9) rc = -EINVAL;
                    else ph->duration_ns = (uint64_t)(d * 1e9);
                } else if (parse_dur(val, &ph->duration_ns))
                    rc = -EINVAL;
                if (rc) snprintf(err, errlen, "schedule phase %zu: bad duration \"%.40s\"", i + 1, val);
            } else {
                rc = load_phase_set(ph, key, val, err, errlen);
            }
            if (rc) break;
        }
        if (rc) {
            xfree(ph->file);
            return rc;
        }
        s->n++;
    }
    return 0;
}

static int load_trace(struct load_phase *ph, char *err, size_t errlen)
{
    FILE *f = fopen(ph->file, "r");
    if (!f) {
        snprintf(err, errlen, "replay: cannot open %s: %s", ph->file, strerror(errno));
        return -errno;
    }
    size_t cap = 1024, n = 0, lineno = 0;
    uint64_t *v = xmalloc(cap * sizeof *v);
    char line[256];
    double first = 0, prev = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            snprintf(err, errlen, "replay: %s:%zu: line too long", ph->file, lineno);
            rc = -EINVAL;
            goto out;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ')) line[--len] = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p || *p == '#') continue;
        char *end;
        errno = 0;
        double t = strtod(p, &end);
        if (errno || end == p || (*end && *end != ',' && *end != ' ' && *end != '\t') || !isfinite(t) || t < 0) {
            snprintf(err, errlen, "replay: %s:%zu: not a timestamp in seconds: \"%.40s\"", ph->file, lineno, p);
            rc = -EINVAL;
            goto out;
        }
        if (n == 0) first = prev = t;
        if (t < prev) {
            snprintf(err, errlen, "replay: %s:%zu: timestamps must not decrease", ph->file, lineno);
            rc = -EINVAL;
            goto out;
        }
        prev = t;
        if (n == LOAD_REPLAY_MAX) {
            snprintf(err, errlen, "replay: %s: more than %u timestamps", ph->file, LOAD_REPLAY_MAX);
            rc = -E2BIG;
            goto out;
        }
        if (n == cap) v = xrealloc(v, (cap *= 2) * sizeof *v);
        double off = (t - first) / ph->speed * 1e9;
        if (off > 1e18) {
            snprintf(err, errlen, "replay: %s:%zu: trace too long", ph->file, lineno);
            rc = -EINVAL;
            goto out;
        }
        v[n++] = (uint64_t)off;
    }
    if (!n) {
        snprintf(err, errlen, "replay: %s has no timestamps", ph->file);
        rc = -EINVAL;
        goto out;
    }
    free(ph->stamps);
    ph->stamps = v;
    ph->nstamps = n;
    v = NULL;
    if (!ph->duration_ns) ph->duration_ns = ph->stamps[n - 1] + 1;
out:
    free(v);
    fclose(f);
    return rc;
}

int load_schedule_load(struct load_schedule *s, char *err, size_t errlen)
{
    if (!s->n) {
        snprintf(err, errlen, "empty schedule");
        return -EINVAL;
    }
    for (size_t i = 0; i < s->n; i++) {
        struct load_phase *ph = &s->phases[i];
        const char *name = load_pattern_name(ph->pattern);
        if (ph->pattern == LOAD_REPLAY) {
            if (!ph->file) {
                snprintf(err, errlen, "phase %zu (replay): needs a trace file (--trace FILE or file=PATH)", i + 1);
                return -EINVAL;
            }
            int rc = load_trace(ph, err, errlen);
            if (rc) return rc;
            continue;
        }
        if (!ph->duration_ns) {
            snprintf(err, errlen, "phase %zu (%s): needs a duration above 0", i + 1, name);
            return -EINVAL;
        }
        if ((ph->pattern == LOAD_DIURNAL || ph->pattern == LOAD_BURST || ph->pattern == LOAD_STEP) &&
            ph->period_ns < 1000000) {
            snprintf(err, errlen, "phase %zu (%s): period must be at least 1ms", i + 1, name);
            return -EINVAL;
        }
        if (ph->pattern == LOAD_BURST && ph->burst <= 0) {
            snprintf(err, errlen, "phase %zu (burst): needs a spike rate (--burst-rate R or burst=R)", i + 1);
            return -EINVAL;
        }
    }
    if (load_schedule_duration(s) > 366ull * 86400 * 1000000000ull) {
        snprintf(err, errlen, "schedule longer than a year");
        return -EINVAL;
    }
    return 0;
}

void load_schedule_free(struct load_schedule *s)
{
    for (size_t i = 0; i < s->n; i++) {
        xfree(s->phases[i].file);
        xfree(s->phases[i].stamps);
    }
    s->n = 0;
}

uint64_t load_schedule_duration(const struct load_schedule *s)
{
    uint64_t d = 0;
    for (size_t i = 0; i < s->n; i++) d += s->phases[i].duration_ns;
    return d;
}

/* Rate of a phase at t ns into it (whole run, req/s). */
static double phase_rate(const struct load_phase *ph, uint64_t t)
{
    double ts = (double)t / 1e9;
    switch (ph->pattern) {
    case LOAD_CONSTANT:
    case LOAD_POISSON: return ph->rate;
    case LOAD_DIURNAL: {
        double r = ph->rate * (1 + ph->amplitude * sin(2 * M_PI * ts / ((double)ph->period_ns / 1e9)));
        return r > 0 ? r : 0;
    }
    case LOAD_BURST: return t % ph->period_ns < ph->length_ns ? ph->burst : ph->rate;
    case LOAD_RAMP: {
        double f = ph->duration_ns ? (double)t / (double)ph->duration_ns : 1;
        return ph->rate + (ph->to - ph->rate) * (f > 1 ? 1 : f);
    }
    case LOAD_STEP: {
        double r = ph->rate + ph->by * (double)(t / ph->period_ns);
        if (r < 0) r = 0;
        return r > LOAD_MAX_RATE ? LOAD_MAX_RATE : r;
    }
    case LOAD_REPLAY:
        return ph->duration_ns ? (double)ph->nstamps / ((double)ph->duration_ns / 1e9) : 0;
    }
    return 0;
}

double load_schedule_rate(const struct load_schedule *s, uint64_t t)
{
    for (size_t i = 0; i < s->n; i++) {
        if (t < s->phases[i].duration_ns) return phase_rate(&s->phases[i], t);
        t -= s->phases[i].duration_ns;
    }
    return 0;
}

double load_schedule_expected(const struct load_schedule *s)
{
    double total = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct load_phase *ph = &s->phases[i];
        if (ph->pattern == LOAD_REPLAY) {
            total += (double)ph->nstamps;
            continue;
        }
        /* Integrate at 1 ms. */
        uint64_t step = 1000000;
        for (uint64_t t = 0; t < ph->duration_ns; t += step) {
            uint64_t dt = ph->duration_ns - t < step ? ph->duration_ns - t : step;
            total += phase_rate(ph, t) * (double)dt / 1e9;
        }
    }
    return total;
}

/* ---- one thread's arrivals --------------------------------------------- */

static void enter_phase(struct load_arrivals *a)
{
    const struct load_phase *ph = a->phase < a->s->n ? &a->s->phases[a->phase] : NULL;
    a->stamp = a->idx;
    a->acc = 0;
    a->carry = 0;
    if (ph && ph->pattern == LOAD_POISSON)
        a->target = exp1(&a->rng);
    else /* evenly interleaved threads: thread i starts at i/n of a gap */
        a->target = (double)a->idx / a->nthreads;
}

void load_arrivals_init(struct load_arrivals *a, const struct load_schedule *s, uint64_t seed,
                        unsigned idx, unsigned nthreads)
{
    memset(a, 0, sizeof *a);
    a->s = s;
    a->idx = idx;
    a->nthreads = nthreads ? nthreads : 1;
    load_rng_seed(&a->rng, seed * 0x100000001b3ull + idx + 1);
    enter_phase(a);
}

uint64_t load_arrivals_next(struct load_arrivals *a)
{
    while (a->phase < a->s->n) {
        const struct load_phase *ph = &a->s->phases[a->phase];
        uint64_t end = a->phase_start + ph->duration_ns;
        if (ph->pattern == LOAD_REPLAY) {
            if (a->stamp < ph->nstamps) {
                uint64_t t = a->phase_start + ph->stamps[a->stamp];
                a->stamp += a->nthreads;
                if (t < end) return t < a->t ? a->t : t;
            }
        } else {
            /* Integrate this thread's rate until it reaches the target. A
             * step is at most 1 ms so changing rates are followed. */
            while (a->t < end) {
                double r = phase_rate(ph, a->t - a->phase_start) / a->nthreads; /* req/s */
                uint64_t room = end - a->t;
                if (r <= 0) {
                    a->t += room < 1000000 ? room : 1000000;
                    continue;
                }
                double need_ns = (a->target - a->acc) / r * 1e9;
                if (need_ns < 0) need_ns = 0;
                if (need_ns <= 1e6 && need_ns <= (double)room) {
                    /* Whole nanoseconds, carrying the fraction so that
                     * rounding never drifts the rate. */
                    double exact = need_ns + a->carry;
                    uint64_t dt = (uint64_t)(exact + 0.5);
                    a->carry = exact - (double)dt;
                    if (dt >= room) break; /* lands on the phase end: the next phase's */
                    a->t += dt;
                    a->acc = a->target; /* exact: no drift from rounding */
                    a->target += ph->pattern == LOAD_POISSON ? exp1(&a->rng) : 1.0;
                    return a->t;
                }
                uint64_t dt = room < 1000000 ? room : 1000000;
                a->acc += r * (double)dt / 1e9;
                a->t += dt;
            }
        }
        /* Next phase. */
        a->t = end;
        a->phase_start = end;
        a->phase++;
        enter_phase(a);
    }
    return UINT64_MAX;
}
