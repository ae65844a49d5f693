/* load_cmd: `aiopslab load run ...` — the open-loop load generator on the
 * command line (src/workload/load.h does the work). It turns flags into a
 * target, a mix and a schedule, runs, shows progress on a terminal, and
 * prints a summary or the JSON report. An app's target is its front end
 * Service's ClusterIP, asked of the lab's daemon. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cluster/client.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/lab.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "workload/load.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage:\n"
            "  aiopslab load run (--url URL | --app APP [--mix NAME]) --pattern PATTERN --rate R --duration D\n"
            "                    [pattern options] [--seed N] [--threads T] [--connections C] [--json]\n"
            "  aiopslab load run ... --phases \"constant:100:30s,ramp:100-500:1m,...\" | --schedule FILE.json\n"
            "  aiopslab load run --url URL --rate max --duration D     (closed loop: as fast as answers come)\n"
            "\n"
            "An open-loop HTTP/1.1 load generator: every request has an intended send time\n"
            "from the schedule and its latency counts from that time (coordinated omission\n"
            "corrected), in an HDR histogram (p50 ... p99.99).\n"
            "\n"
            "Target:\n"
            "  --url URL             a plain target, http://HOST[:PORT]/PATH[?QUERY]\n"
            "      --method M        (GET)   --body TEXT   --content-type T\n"
            "  --app APP             an app of the lab: social-network (nginx-thrift:8080 in\n"
            "                        test-social-network), hotel-reservation (frontend:5000 in\n"
            "                        test-hotel-reservation)\n"
            "  --mix NAME            social-network: mixed (60%% home-timeline, 30%% user-timeline,\n"
            "                        10%% compose), home-timeline, user-timeline, compose;\n"
            "                        hotel-reservation: mixed (60%% search, 39%% recommend,\n"
            "                        0.5%% login, 0.5%% reserve), search, recommend, login, reserve\n"
            "  --zipf S              the users' Zipf exponent (default 1; 0 = uniform)\n"
            "\n"
            "Schedule (one pattern, or phases):\n"
            "  --pattern P           constant (default), poisson, diurnal, burst, ramp, step, replay\n"
            "  --rate R              requests per second for the whole run; \"max\": closed loop\n"
            "  --duration D          30s, 5m, 2h (default 10s; replay: until the trace ends)\n"
            "  diurnal:  --amplitude A (0..1, default 0.5)  --period P (default 60s)\n"
            "  burst:    --burst-rate R  --burst-every P (default 10s)  --burst-length L (default 1s)\n"
            "  ramp:     --to R2 (from --rate to R2 over the duration)\n"
            "  step:     --step-by S  --step-every P (default 10s)\n"
            "  replay:   --trace FILE (a timestamp in seconds per line)  --speed X (default 1)\n"
            "  --phases SPEC         PATTERN:RATE[-RATE2]:DURATION[:key=value...], comma-separated;\n"
            "                        keys amplitude, period, burst, every, length, to, by, file, speed\n"
            "  --schedule FILE       {\"phases\": [{\"pattern\": \"ramp\", \"rate\": 100, \"to\": 500,\n"
            "                        \"duration\": \"1m\"}, ...]}\n"
            "\n"
            "Engine and output:\n"
            "  --threads T (1)  --connections C (16)  --timeout D (10s)  --seed N (1)\n"
            "  --max-backlog N       due requests queued per thread when all connections are busy\n"
            "  --json                print the JSON report (default: a summary)\n"
            "  --report FILE         also write the JSON report to FILE\n"
            "  --progress | --quiet  force or silence the live progress line (default: on a terminal)\n"
            "  --metrics-port P      serve Prometheus metrics on http://ADDR:P/metrics during the run\n"
            "  --metrics-addr ADDR   (127.0.0.1)\n");
}

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { (void)sig; interrupted = 1; }

/* http://HOST[:PORT][/PATH] into host, port and path. */
static int parse_url(const char *url, struct load_options *o, char *path, size_t pathlen, char *hosthdr,
                     size_t hostlen, char *err, size_t errlen)
{
    if (!str_has_prefix(url, "http://")) {
        snprintf(err, errlen, "--url: only http:// URLs are supported (got \"%.80s\")", url);
        return -EINVAL;
    }
    const char *p = url + 7, *slash = strchr(p, '/');
    size_t authlen = slash ? (size_t)(slash - p) : strlen(p);
    if (!authlen || authlen >= 256) {
        snprintf(err, errlen, "--url: bad host in \"%.80s\"", url);
        return -EINVAL;
    }
    char auth[256];
    memcpy(auth, p, authlen);
    auth[authlen] = '\0';
    snprintf(hosthdr, hostlen, "%s", auth);
    const char *port = "80";
    char *colon;
    if (auth[0] == '[') {
        char *close = strchr(auth, ']');
        if (!close) {
            snprintf(err, errlen, "--url: bad IPv6 address");
            return -EINVAL;
        }
        *close = '\0';
        if (close[1] == ':') port = close + 2;
        else if (close[1]) {
            snprintf(err, errlen, "--url: bad host in \"%.80s\"", url);
            return -EINVAL;
        }
        snprintf(o->host, sizeof o->host, "%s", auth + 1);
    } else {
        if ((colon = strchr(auth, ':'))) {
            *colon = '\0';
            port = colon + 1;
        }
        snprintf(o->host, sizeof o->host, "%s", auth);
    }
    long portnum;
    if (!o->host[0] || parse_long(port, 1, 65535, &portnum)) {
        snprintf(err, errlen, "--url: bad host or port in \"%.80s\"", url);
        return -EINVAL;
    }
    snprintf(o->port, sizeof o->port, "%ld", portnum);
    if (strlcpy_checked(path, slash ? slash : "/", pathlen)) {
        snprintf(err, errlen, "--url: path too long");
        return -EINVAL;
    }
    for (const char *c = path; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f) {
            snprintf(err, errlen, "--url: the path has spaces or control characters (percent-encode them)");
            return -EINVAL;
        }
    return 0;
}

/* The front end of an app: its Service's ClusterIP and port, from the lab. */
static int app_target(const char *app, struct load_options *o, char *err, size_t errlen)
{
    const char *ns, *svc;
    int port;
    if (!strcmp(app, "social-network")) {
        ns = "test-social-network";
        svc = "nginx-thrift";
        port = 8080;
    } else if (!strcmp(app, "hotel-reservation")) {
        ns = "test-hotel-reservation";
        svc = "frontend";
        port = 5000;
    } else {
        snprintf(err, errlen, "unknown app \"%.60s\" (social-network, hotel-reservation)", app);
        return -EINVAL;
    }
    struct lab lab;
    int rc = lab_resolve(NULL, &lab, err, errlen);
    if (rc) return rc;
    json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "op", "get", "kind", "Service", "namespace", ns, "name", svc);
    json_t *reply = NULL;
    char cerr[256] = "";
    rc = cluster_call(&lab, req, &reply, cerr, sizeof cerr);
    json_decref(req);
    if (rc) {
        snprintf(err, errlen, "cannot reach the lab \"%s\" (is it up? aiopslab cluster up): %s", lab.name, cerr);
        return rc;
    }
    json_t *items = json_object_get(reply, "items");
    json_t *svcobj = json_array_get(items, 0);
    const char *ip = json_path_str(svcobj, "spec.clusterIP", NULL);
    if (!ip) {
        const char *msg = json_path_str(reply, "error.message", NULL);
        snprintf(err, errlen, "%s is not deployed: service %s/%s not found%s%s (aiopslab deploy %s)", app, ns, svc,
                 msg ? ": " : "", msg ? msg : "", app);
        json_decref(reply);
        return -ENOENT;
    }
    json_t *ports = json_path(svcobj, "spec.ports");
    json_t *p0 = json_array_get(ports, 0);
    if (json_is_integer(json_object_get(p0, "port"))) port = (int)json_integer_value(json_object_get(p0, "port"));
    snprintf(o->host, sizeof o->host, "%s", ip);
    snprintf(o->port, sizeof o->port, "%d", port);
    json_decref(reply);
    return 0;
}

struct args {
    const char *url, *app, *mix, *method, *body, *content_type, *phases, *schedule_file, *report_file;
    const char *pattern, *rate, *duration, *trace;
    const char *params[16][3]; /* phase parameters from flags: key, value, flag */
    size_t nparams;
    double zipf;
    int json, progress; /* progress: -1 quiet, 0 auto, 1 forced */
};

static int bad(const char *fmt, const char *a)
{
    fprintf(stderr, "aiopslab load: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, "\n(see aiopslab load --help)\n");
    return 2;
}

/* Build the schedule from the flags. */
static int make_schedule(struct args *a, struct load_options *o, char *err, size_t errlen)
{
    int single = a->pattern || a->rate || a->duration || a->nparams;
    if ((a->phases || a->schedule_file) && single && !(a->rate && !strcmp(a->rate, "max") && !a->pattern)) {
        snprintf(err, errlen, "--phases/--schedule replace --pattern, --rate, --duration and the pattern options");
        return -EINVAL;
    }
    if (a->phases && a->schedule_file) {
        snprintf(err, errlen, "give --phases or --schedule, not both");
        return -EINVAL;
    }
    if (a->phases) return load_schedule_parse(a->phases, &o->schedule, err, errlen);
    if (a->schedule_file) {
        json_error_t je;
        json_t *root = json_load_file(a->schedule_file, 0, &je);
        if (!root) {
            snprintf(err, errlen, "--schedule %s: %s (line %d)", a->schedule_file, je.text, je.line);
            return -EINVAL;
        }
        int rc = load_schedule_from_json(root, &o->schedule, err, errlen);
        json_decref(root);
        return rc;
    }
    enum load_pattern p = LOAD_CONSTANT;
    if (a->pattern && load_pattern_parse(a->pattern, &p)) {
        snprintf(err, errlen, "unknown pattern \"%.40s\" (constant, poisson, diurnal, burst, ramp, step, replay)", a->pattern);
        return -EINVAL;
    }
    struct load_phase *ph = &o->schedule.phases[0];
    load_phase_defaults(ph, p);
    o->schedule.n = 1;
    if (a->rate && !strcmp(a->rate, "max")) {
        if (a->pattern && p != LOAD_CONSTANT) {
            snprintf(err, errlen, "--rate max is closed loop: it takes no pattern");
            return -EINVAL;
        }
        o->max_rate = 1;
        ph->rate = 0;
    } else if (a->rate) {
        char *end;
        errno = 0;
        ph->rate = strtod(a->rate, &end);
        if (errno || end == a->rate || *end || !(ph->rate >= 0 && ph->rate <= LOAD_MAX_RATE)) {
            snprintf(err, errlen, "bad --rate \"%.40s\" (requests per second, 0..%.0f, or max)", a->rate, LOAD_MAX_RATE);
            return -EINVAL;
        }
    } else if (p != LOAD_REPLAY) {
        snprintf(err, errlen, "--rate is required (requests per second, or max)");
        return -EINVAL;
    }
    const char *dur = a->duration ? a->duration : p == LOAD_REPLAY ? "0" : "10s";
    if (!strcmp(dur, "0")) ph->duration_ns = 0;
    else if (time_parse_duration(dur, &ph->duration_ns)) {
        snprintf(err, errlen, "bad --duration \"%.40s\" (e.g. 30s, 5m, 2h)", dur);
        return -EINVAL;
    }
    int has_to = 0;
    for (size_t i = 0; i < a->nparams; i++) {
        /* Each pattern option belongs to one pattern (every: burst and step). */
        const char *key = a->params[i][0], *flag = a->params[i][2];
        enum load_pattern want = !strcmp(key, "amplitude") || !strcmp(key, "period") ? LOAD_DIURNAL
                                 : !strcmp(key, "burst") || !strcmp(key, "length")  ? LOAD_BURST
                                 : !strcmp(key, "to")                               ? LOAD_RAMP
                                 : !strcmp(key, "by")                               ? LOAD_STEP
                                 : !strcmp(key, "speed")                            ? LOAD_REPLAY
                                 : !strcmp(flag, "--burst-every")                   ? LOAD_BURST
                                                                                    : LOAD_STEP;
        if (want != p) {
            snprintf(err, errlen, "%s is for --pattern %s", flag, load_pattern_name(want));
            return -EINVAL;
        }
        has_to |= !strcmp(key, "to");
        int rc = load_phase_set(ph, key, a->params[i][1], err, errlen);
        if (rc) return rc;
    }
    if (a->trace) {
        int rc = load_phase_set(ph, "file", a->trace, err, errlen);
        if (rc) return rc;
    }
    if (p == LOAD_RAMP && !has_to) {
        snprintf(err, errlen, "ramp needs --to R2 (the final rate)");
        return -EINVAL;
    }
    return 0;
}

static void print_summary(json_t *rep, FILE *f)
{
    json_t *lat = json_object_get(rep, "latency_ms");
    fprintf(f, "target      %s (%s)\n", json_string_value(json_object_get(rep, "target")),
            json_string_value(json_object_get(rep, "mode")));
    fprintf(f, "duration    %.1fs   threads %lld   connections %lld   seed %lld\n",
            json_real_value(json_object_get(rep, "duration_s")), json_integer_value(json_object_get(rep, "threads")),
            json_integer_value(json_object_get(rep, "connections")), json_integer_value(json_object_get(rep, "seed")));
    json_t *rq = json_object_get(rep, "requests");
    fprintf(f, "requests    offered %lld   sent %lld   completed %lld   unfinished %lld\n",
            json_integer_value(json_object_get(rq, "offered")), json_integer_value(json_object_get(rq, "sent")),
            json_integer_value(json_object_get(rq, "completed")), json_integer_value(json_object_get(rq, "unfinished")));
    fprintf(f, "rate        offered %.2f/s   achieved %.2f/s\n", json_real_value(json_object_get(rep, "offered_rate")),
            json_real_value(json_object_get(rep, "achieved_rate")));
    fprintf(f, "latency     %s (ms)\n", json_string_value(json_object_get(rep, "latency_from")));
    static const char *const keys[] = {"min", "mean", "p50", "p75", "p90", "p99", "p99.9", "p99.99", "max"};
    fprintf(f, "           ");
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) fprintf(f, " %8s", keys[i]);
    fprintf(f, "\n           ");
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        fprintf(f, " %8.3f", json_real_value(json_object_get(lat, keys[i])));
    fprintf(f, "\nerrors     ");
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(rep, "errors"), k, v) fprintf(f, " %s %lld", k, json_integer_value(v));
    fprintf(f, "\nstatus     ");
    json_object_foreach(json_object_get(rep, "status"), k, v) fprintf(f, " %s %lld", k, json_integer_value(v));
    fprintf(f, "\n");
    json_t *ops = json_object_get(rep, "operations");
    if (json_object_size(ops) > 1) {
        fprintf(f, "operations ");
        json_object_foreach(ops, k, v)
            fprintf(f, " %s %lld (errors %lld)", k, json_integer_value(json_object_get(v, "completed")),
                    json_integer_value(json_object_get(v, "errors")));
        fprintf(f, "\n");
    }
}

static int run_cmd(int argc, char **argv)
{
    struct args a = {.zipf = 1.0};
    struct load_options o;
    load_options_init(&o);
    char err[512] = "";
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i], *val = NULL;
        char name[64];
        const char *eq = strchr(arg, '=');
        if (str_has_prefix(arg, "--") && eq && (size_t)(eq - arg) < sizeof name) {
            memcpy(name, arg, (size_t)(eq - arg));
            name[eq - arg] = '\0';
            val = eq + 1;
            arg = name;
        }
        if (!strcmp(arg, "--json")) { a.json = 1; continue; }
        if (!strcmp(arg, "--progress")) { a.progress = 1; continue; }
        if (!strcmp(arg, "--quiet") || !strcmp(arg, "-q")) { a.progress = -1; continue; }
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) { usage(stdout); return 0; }
        if (!str_has_prefix(arg, "--")) return bad("unexpected argument \"%s\"", arg);
        if (!val) {
            if (i + 1 >= argc) return bad("%s needs a value", arg);
            val = argv[++i];
        }
        long n;
        if (!strcmp(arg, "--url")) a.url = val;
        else if (!strcmp(arg, "--app")) a.app = val;
        else if (!strcmp(arg, "--mix")) a.mix = val;
        else if (!strcmp(arg, "--method")) a.method = val;
        else if (!strcmp(arg, "--body")) a.body = val;
        else if (!strcmp(arg, "--content-type")) a.content_type = val;
        else if (!strcmp(arg, "--pattern")) a.pattern = val;
        else if (!strcmp(arg, "--rate")) a.rate = val;
        else if (!strcmp(arg, "--duration")) a.duration = val;
        else if (!strcmp(arg, "--phases")) a.phases = val;
        else if (!strcmp(arg, "--schedule")) a.schedule_file = val;
        else if (!strcmp(arg, "--report")) a.report_file = val;
        else if (!strcmp(arg, "--trace")) a.trace = val;
        else if (!strcmp(arg, "--zipf")) {
            char *end;
            a.zipf = strtod(val, &end);
            if (end == val || *end || !(a.zipf >= 0 && a.zipf <= 10)) return bad("bad --zipf \"%s\" (0..10)", val);
        } else if (!strcmp(arg, "--seed")) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(val, &end, 10);
            if (errno || end == val || *end || val[0] == '-') return bad("bad --seed \"%s\" (a non-negative integer)", val);
            o.seed = s;
        } else if (!strcmp(arg, "--threads")) {
            if (parse_long(val, 1, LOAD_MAX_THREADS, &n)) return bad("bad --threads \"%s\" (1..64)", val);
            o.threads = (unsigned)n;
        } else if (!strcmp(arg, "--connections")) {
            if (parse_long(val, 1, LOAD_MAX_CONNECTIONS, &n)) return bad("bad --connections \"%s\" (1..65536)", val);
            o.connections = (unsigned)n;
        } else if (!strcmp(arg, "--max-backlog")) {
            if (parse_long(val, 1, 1L << 26, &n)) return bad("bad --max-backlog \"%s\"", val);
            o.max_backlog = (size_t)n;
        } else if (!strcmp(arg, "--timeout")) {
            if (time_parse_duration(val, &o.timeout_ns) || !o.timeout_ns) return bad("bad --timeout \"%s\" (e.g. 2s)", val);
        } else if (!strcmp(arg, "--metrics-port")) {
            if (parse_long(val, 1, 65535, &n)) return bad("bad --metrics-port \"%s\" (1..65535)", val);
            o.metrics_port = (int)n;
        } else if (!strcmp(arg, "--metrics-addr")) {
            if (strlcpy_checked(o.metrics_addr, val, sizeof o.metrics_addr)) return bad("bad --metrics-addr \"%s\"", val);
        } else {
            static const char *const map[][2] = {
                {"--amplitude", "amplitude"},     {"--period", "period"},       {"--burst-rate", "burst"},
                {"--burst-every", "every"},       {"--burst-length", "length"}, {"--to", "to"},
                {"--step-by", "by"},              {"--step-every", "every"},    {"--speed", "speed"},
            };
            size_t k;
            for (k = 0; k < sizeof map / sizeof *map; k++)
                if (!strcmp(arg, map[k][0])) break;
            if (k == sizeof map / sizeof *map) return bad("unknown option \"%s\"", arg);
            if (a.nparams == 16) return bad("too many pattern options (%s)", arg);
            a.params[a.nparams][0] = map[k][1];
            a.params[a.nparams][1] = val;
            a.params[a.nparams][2] = map[k][0];
            a.nparams++;
        }
    }
    if (!!a.url == !!a.app) return bad("%s", "give a target: --url URL or --app APP");
    if (a.mix && !a.app) return bad("%s", "--mix is for --app targets");
    if ((a.method || a.body || a.content_type) && !a.url) return bad("%s", "--method, --body and --content-type are for --url targets");
    int rc;
    if (make_schedule(&a, &o, err, sizeof err) || load_schedule_load(&o.schedule, err, sizeof err)) {
        load_schedule_free(&o.schedule);
        return bad("%s", err);
    }
    if (a.url) {
        char path[2100], hosthdr[300];
        if (parse_url(a.url, &o, path, sizeof path, hosthdr, sizeof hosthdr, err, sizeof err) ||
            load_mix_url(&o.mix, hosthdr, a.method, path, a.body, a.content_type, err, sizeof err)) {
            load_schedule_free(&o.schedule);
            return bad("%s", err);
        }
        snprintf(o.target, sizeof o.target, "%s", a.url);
    } else {
        if (!load_mix_names(a.app)) {
            load_schedule_free(&o.schedule);
            return bad("unknown app \"%s\" (social-network, hotel-reservation)", a.app);
        }
        /* The mix first: a bad mix name is a usage error, lab or no lab. */
        if (load_mix_app(&o.mix, a.app, a.mix, "localhost", a.zipf, err, sizeof err)) {
            load_schedule_free(&o.schedule);
            return bad("%s", err);
        }
        if (app_target(a.app, &o, err, sizeof err)) {
            load_mix_free(&o.mix);
            load_schedule_free(&o.schedule);
            fprintf(stderr, "aiopslab load: %s\n", err);
            return 1;
        }
        char hosthdr[300];
        snprintf(hosthdr, sizeof hosthdr, "%s:%s", o.host, o.port);
        snprintf(o.mix.host, sizeof o.mix.host, "%s", hosthdr);
        snprintf(o.target, sizeof o.target, "%s mix %s at http://%s", a.app, a.mix ? a.mix : "mixed", hosthdr);
    }
    if (o.connections < o.threads) o.connections = o.threads;
    struct load_run *run;
    rc = load_start(&o, &run, err, sizeof err);
    if (rc) {
        load_mix_free(&o.mix);
        load_schedule_free(&o.schedule);
        fprintf(stderr, "aiopslab load: %s\n", err);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int tty = isatty(2);
    int progress = a.progress == 1 || (a.progress == 0 && tty);
    struct load_stats st, prev;
    /* Progress shows the last second's percentiles: a window between
     * two snapshots of the run's histogram. */
    struct load_hdr *hdr = xmalloc(sizeof *hdr), *hprev = xmalloc(sizeof *hprev), *win = xmalloc(sizeof *win);
    load_hdr_init(hprev);
    memset(&prev, 0, sizeof prev);
    uint64_t last = mono_ns();
    int stopped = 0;
    for (;;) {
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
        if (interrupted && !stopped) {
            load_stop(run);
            stopped = 1;
        }
        load_stats(run, &st, NULL);
        if (st.done) break;
        if (progress && mono_ns() - last >= 1000000000ull) {
            last = mono_ns();
            char line[256];
            load_stats(run, &st, hdr);
            load_hdr_window(win, hdr, hprev);
            load_progress_line(&st, &prev, win, line, sizeof line);
            fprintf(stderr, tty ? "\r%s\033[K" : "%s\n", line);
            prev = st;
            struct load_hdr *t = hprev;
            hprev = hdr;
            hdr = t;
        }
    }
    load_wait(run);
    if (progress && tty) fprintf(stderr, "\n");
    free(hdr);
    free(hprev);
    free(win);
    json_t *rep = load_report(run);
    if (interrupted) json_object_set_new(rep, "interrupted", json_true());
    if (a.report_file) {
        char *s = json_dumps(rep, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        size_t len = strlen(s);
        if (write_file_atomic(a.report_file, s, len)) fprintf(stderr, "aiopslab load: cannot write %s\n", a.report_file);
        free(s);
    }
    if (a.json) {
        json_dumpf(rep, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        fputc('\n', stdout);
    } else {
        print_summary(rep, stdout);
    }
    json_t *rq = json_object_get(rep, "requests");
    int all_failed = json_integer_value(json_object_get(rq, "offered")) > 0 &&
                     json_integer_value(json_object_get(json_object_get(rep, "status"), "2xx")) == 0 &&
                     json_integer_value(json_object_get(json_object_get(rep, "status"), "3xx")) == 0;
    if (all_failed) fprintf(stderr, "aiopslab load: no request succeeded\n");
    json_decref(rep);
    load_free(run);
    return all_failed ? 1 : 0;
}

int cli_load(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "run")) return run_cmd(argc, argv);
    fprintf(stderr, "aiopslab load: unknown subcommand \"%s\" (run; see aiopslab load --help)\n", argv[1]);
    return 2;
}
