/* report: what a load run tells its user — the final JSON report and the
 * one-line live progress on a terminal. Both read the run through
 * load_stats, so they work on a finished run and on one still going. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "workload/engine.h"

static const struct {
    const char *name;
    double q;
} quantiles[] = {{"p50", 0.50}, {"p75", 0.75}, {"p90", 0.90}, {"p99", 0.99}, {"p99.9", 0.999}, {"p99.99", 0.9999}};

static double ms(uint64_t ns) { return round((double)ns / 1e3) / 1e3; }

static json_t *phase_json(const struct load_phase *ph)
{
    json_t *j = json_pack("{s:s, s:f, s:f}", "pattern", load_pattern_name(ph->pattern), "rate", ph->rate, "duration_s",
                          (double)ph->duration_ns / 1e9);
    switch (ph->pattern) {
    case LOAD_DIURNAL:
        json_object_set_new(j, "amplitude", json_real(ph->amplitude));
        json_object_set_new(j, "period_s", json_real((double)ph->period_ns / 1e9));
        break;
    case LOAD_BURST:
        json_object_set_new(j, "burst_rate", json_real(ph->burst));
        json_object_set_new(j, "every_s", json_real((double)ph->period_ns / 1e9));
        json_object_set_new(j, "length_s", json_real((double)ph->length_ns / 1e9));
        break;
    case LOAD_RAMP: json_object_set_new(j, "to", json_real(ph->to)); break;
    case LOAD_STEP:
        json_object_set_new(j, "by", json_real(ph->by));
        json_object_set_new(j, "every_s", json_real((double)ph->period_ns / 1e9));
        break;
    case LOAD_REPLAY:
        json_object_set_new(j, "file", json_string(ph->file ? ph->file : ""));
        json_object_set_new(j, "speed", json_real(ph->speed));
        json_object_set_new(j, "timestamps", json_integer((json_int_t)ph->nstamps));
        break;
    default: break;
    }
    return j;
}

json_t *load_report(struct load_run *run)
{
    struct load_stats st;
    struct load_hdr *h = xmalloc(sizeof *h);
    load_stats(run, &st, h);
    const struct load_options *o = &run->o;
    double active = st.elapsed_s < st.duration_s ? st.elapsed_s : st.duration_s;
    if (active <= 0) active = 1e-9;
    json_t *r = json_object();
    json_object_set_new(r, "target", json_string(o->target));
    json_object_set_new(r, "mode", json_string(o->max_rate ? "closed-loop (max rate)" : "open-loop"));
    json_object_set_new(r, "latency_from", json_string(o->max_rate ? "actual send time" : "intended send time"));
    json_object_set_new(r, "seed", json_integer((json_int_t)o->seed));
    json_object_set_new(r, "threads", json_integer(o->threads));
    json_object_set_new(r, "connections", json_integer(o->connections));
    json_object_set_new(r, "started_unix", json_integer((json_int_t)(run->start_wall_ns / 1000000000ull)));
    json_t *phases = json_array();
    for (size_t i = 0; i < o->schedule.n; i++) json_array_append_new(phases, phase_json(&o->schedule.phases[i]));
    json_object_set_new(r, "schedule", phases);
    json_object_set_new(r, "duration_s", json_real(st.duration_s));
    json_object_set_new(r, "elapsed_s", json_real(st.elapsed_s));
    json_object_set_new(r, "requests", json_pack("{s:I, s:I, s:I, s:I, s:I}", "offered", (json_int_t)st.offered,
                                                 "sent", (json_int_t)st.sent, "completed", (json_int_t)st.completed,
                                                 "unfinished", (json_int_t)st.unfinished, "reconnects",
                                                 (json_int_t)st.reconnects));
    json_object_set_new(r, "offered_rate", json_real(round((double)st.offered / active * 100) / 100));
    json_object_set_new(r, "achieved_rate", json_real(round((double)st.completed / active * 100) / 100));
    /* What went out inside the schedule's window: a generator that falls
     * behind shows here even when it catches up in the drain. */
    json_object_set_new(r, "sent_rate", json_real(round((double)st.sent_in_schedule / active * 100) / 100));
    json_t *errors = json_object();
    for (int k = 0; k < LOAD_ERR_KINDS; k++)
        json_object_set_new(errors, load_error_name((enum load_error)k), json_integer((json_int_t)st.errors[k]));
    json_object_set_new(errors, "total", json_integer((json_int_t)st.errors_total));
    json_object_set_new(r, "errors", errors);
    json_object_set_new(r, "status", json_pack("{s:I, s:I, s:I, s:I, s:I}", "2xx", (json_int_t)st.status[2], "3xx",
                                               (json_int_t)st.status[3], "4xx", (json_int_t)st.status[4], "5xx",
                                               (json_int_t)st.status[5], "other", (json_int_t)st.status[0]));
    json_t *lat = json_object();
    json_object_set_new(lat, "count", json_integer((json_int_t)h->count));
    json_object_set_new(lat, "min", json_real(h->count ? ms(h->min) : 0));
    json_object_set_new(lat, "mean", json_real(round(load_hdr_mean(h) / 1e3) / 1e3));
    for (size_t i = 0; i < sizeof quantiles / sizeof *quantiles; i++)
        json_object_set_new(lat, quantiles[i].name, json_real(ms(load_hdr_quantile(h, quantiles[i].q))));
    json_object_set_new(lat, "max", json_real(ms(h->max)));
    json_object_set_new(r, "latency_ms", lat);
    json_t *ops = json_object();
    for (size_t k = 0; k < st.nops; k++)
        json_object_set_new(ops, o->mix.op_names[k], json_pack("{s:I, s:I}", "completed", (json_int_t)st.ops[k].completed,
                                                                "errors", (json_int_t)st.ops[k].errors));
    json_object_set_new(r, "operations", ops);
    free(h);
    return r;
}

static void fmt_ms(uint64_t ns, char *out, size_t n)
{
    double v = (double)ns / 1e6;
    if (v < 10) snprintf(out, n, "%.2fms", v);
    else if (v < 1000) snprintf(out, n, "%.1fms", v);
    else snprintf(out, n, "%.2fs", v / 1e3);
}

void load_progress_line(const struct load_stats *st, const struct load_stats *prev, const struct load_hdr *hdr,
                        char *out, size_t n)
{
    double dt = prev ? st->elapsed_s - prev->elapsed_s : st->elapsed_s;
    if (dt <= 0) dt = 1e-9;
    double sent = (double)(st->sent - (prev ? prev->sent : 0)) / dt;
    double done = (double)(st->completed - (prev ? prev->completed : 0)) / dt;
    char p50[16], p99[16];
    fmt_ms(hdr ? load_hdr_quantile(hdr, 0.5) : 0, p50, sizeof p50);
    fmt_ms(hdr ? load_hdr_quantile(hdr, 0.99) : 0, p99, sizeof p99);
    snprintf(out, n, "[%5.0fs/%.0fs] offered %.0f/s  sent %.0f/s  done %.0f/s  p50 %s  p99 %s  errors %llu",
             st->elapsed_s, st->duration_s, st->offered_rate, sent, done, p50, p99,
             (unsigned long long)st->errors_total);
}
