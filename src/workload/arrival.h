/* arrival: when requests are due — the seeded random source, the arrival
 * patterns and multi-phase schedules of the load generator.
 *
 * A schedule is a list of phases run one after another; each phase has a
 * pattern, a base rate (requests per second, for the whole run) and a
 * duration. The patterns and their parameters:
 *   constant  rate                          evenly spaced arrivals
 *   poisson   rate                          exponential gaps (a Poisson process)
 *   diurnal   rate (mean), amplitude (0..1, default 0.5), period (default 60s):
 *             rate * (1 + amplitude * sin(2 pi t / period))
 *   burst     rate (base), burst (rate during a spike), every (default 10s),
 *             length (default 1s): spikes at the start of every period
 *   ramp      rate -> to, linearly over the phase
 *   step      rate, by (added at every step), every (default 10s)
 *   replay    the timestamps of a trace file (one a line, seconds, the first
 *             line is t = 0; '#' comments), optionally sped up by speed
 * Arrivals of a rate-shaped pattern follow the integrated rate: the k-th
 * arrival is where the integral of the rate reaches k (or, for poisson, a
 * sum of k exponential variates), so rates that change are followed exactly.
 *
 * Text form of a schedule (--phases), phases separated by commas:
 *   PATTERN:RATE[-RATE2]:DURATION[:key=value...]
 *   e.g. "constant:100:30s,ramp:100-500:1m,burst:200:1m:burst=2000:every=20s:length=2s"
 * (RATE2 is ramp's `to`). replay: "replay:0:DURATION:file=PATH[:speed=2]";
 * a replay duration of 0 means "until the trace ends".
 *
 * Every generator is split over the engine's threads: thread i of n takes
 * 1/n of the rate (a phase offset i/n keeps constant arrivals evenly
 * interleaved) and every n-th timestamp of a replay. Same seed, same
 * schedule, same arrivals. Functions return 0 or a negative errno, with a
 * message in err. */
#ifndef WORKLOAD_ARRIVAL_H
#define WORKLOAD_ARRIVAL_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* xoshiro256**, seeded through splitmix64. */
struct load_rng {
    uint64_t s[4];
};
void load_rng_seed(struct load_rng *r, uint64_t seed);
uint64_t load_rng_next(struct load_rng *r);
/* Uniform in [0, 1). */
double load_rng_double(struct load_rng *r);
/* Uniform in [0, n), n > 0. */
uint64_t load_rng_below(struct load_rng *r, uint64_t n);

enum load_pattern {
    LOAD_CONSTANT,
    LOAD_POISSON,
    LOAD_DIURNAL,
    LOAD_BURST,
    LOAD_RAMP,
    LOAD_STEP,
    LOAD_REPLAY,
};

#define LOAD_MAX_PHASES 64
#define LOAD_MAX_RATE 10000000.0
#define LOAD_REPLAY_MAX (16u << 20) /* timestamps in a trace file */

struct load_phase {
    enum load_pattern pattern;
    double rate;        /* req/s, whole run */
    double to;          /* ramp: final rate */
    double amplitude;   /* diurnal */
    uint64_t period_ns; /* diurnal period; burst and step: every */
    double burst;       /* burst: rate during a spike */
    uint64_t length_ns; /* burst: spike length */
    double by;          /* step: increment */
    uint64_t duration_ns;
    /* replay */
    char *file;
    double speed;
    uint64_t *stamps; /* ns from t = 0, sorted; loaded by load_schedule_load */
    size_t nstamps;
};

struct load_schedule {
    struct load_phase phases[LOAD_MAX_PHASES];
    size_t n;
};

const char *load_pattern_name(enum load_pattern p);
int load_pattern_parse(const char *s, enum load_pattern *out);
/* A phase with the pattern's defaults. */
void load_phase_defaults(struct load_phase *ph, enum load_pattern p);
/* Set one parameter of a phase by its --phases name (amplitude, period,
 * every, length, burst, to, by, speed, file). */
int load_phase_set(struct load_phase *ph, const char *key, const char *val, char *err, size_t errlen);
/* A schedule file: {"phases": [{"pattern": "ramp", "rate": 100, "to": 500,
 * "duration": "1m"}, ...]} (keys as in --phases; a duration is a string
 * like "30s" or a number of seconds). Appends to s. */
int load_schedule_from_json(const json_t *root, struct load_schedule *s, char *err, size_t errlen);
/* Parse a --phases string into s (appending). */
int load_schedule_parse(const char *text, struct load_schedule *s, char *err, size_t errlen);
/* Check every phase and read replay trace files. */
int load_schedule_load(struct load_schedule *s, char *err, size_t errlen);
void load_schedule_free(struct load_schedule *s);
/* Total length (ns) of the schedule. */
uint64_t load_schedule_duration(const struct load_schedule *s);
/* The offered rate (req/s, whole run) at t ns from the start; for replay
 * phases the trace's average over the phase. */
double load_schedule_rate(const struct load_schedule *s, uint64_t t);
/* Requests the schedule offers in total (rounded), for reports. */
double load_schedule_expected(const struct load_schedule *s);

/* One thread's share of a schedule: yields intended send times. */
struct load_arrivals {
    const struct load_schedule *s;
    struct load_rng rng;
    unsigned idx, nthreads;
    size_t phase;
    uint64_t phase_start; /* ns from run start */
    double acc;           /* integral of the rate reached so far (in requests) */
    double target;        /* the integral at which the next arrival falls */
    double carry;         /* fraction of a ns not yet added to t */
    uint64_t t;           /* ns from run start of the integration point */
    size_t stamp;         /* replay: next index */
};
void load_arrivals_init(struct load_arrivals *a, const struct load_schedule *s, uint64_t seed,
                        unsigned idx, unsigned nthreads);
/* The next intended send time (ns from run start); UINT64_MAX when the
 * schedule is over. Times never decrease. */
uint64_t load_arrivals_next(struct load_arrivals *a);

#endif
