/* param: a fault's KEY=VALUE parameters, validated against its table. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "faults/fault.h"

int fault_parse_ms(const char *s, long long *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!errno && *end == '\0' && v >= 0) {
        *out = v;
        return 0;
    }
    uint64_t ns;
    if (time_parse_duration(s, &ns) || ns > (uint64_t)INT64_MAX) return -1;
    *out = (long long)(ns / 1000000ull);
    return 0;
}

int fault_parse_bytes(const char *s, long long *out)
{
    if (!s || !isdigit((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) return -1;
    static const struct {
        const char *suffix;
        unsigned long long mult;
    } units[] = {{"", 1},        {"b", 1},          {"k", 1000},       {"kb", 1000},     {"ki", 1024},
                 {"kib", 1024},  {"m", 1000000},    {"mb", 1000000},   {"mi", 1 << 20},  {"mib", 1 << 20},
                 {"g", 1000000000ull}, {"gb", 1000000000ull}, {"gi", 1ull << 30}, {"gib", 1ull << 30}};
    char suf[8];
    size_t n = strlen(end);
    if (n >= sizeof suf) return -1;
    for (size_t i = 0; i <= n; i++) suf[i] = (char)tolower((unsigned char)end[i]);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (!strcmp(suf, units[i].suffix)) {
            if (v > (unsigned long long)INT64_MAX / units[i].mult) return -1;
            *out = (long long)(v * units[i].mult);
            return 0;
        }
    }
    return -1;
}

static int enum_has(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n)) return 1;
        if (!bar) break;
        p = bar + 1;
    }
    return 0;
}

static int string_ok(const char *v, long long max)
{
    size_t n = strlen(v);
    if (n == 0 || n > 200 || (max > 0 && (long long)n > max)) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)v[i]) && !strchr("._:/-", v[i])) return 0;
    return 1;
}

static const char *kind_text(enum fault_ptype t)
{
    switch (t) {
    case FP_INT: return "an integer";
    case FP_MS: return "a duration (250ms, 2s, 1m)";
    case FP_PERCENT: return "a percentage";
    case FP_BYTES: return "a size (64k, 10MB, 1GiB)";
    case FP_ENUM: return "one of";
    case FP_WORKLOAD: return "a Deployment or Service name";
    case FP_STRING: return "a word of letters, digits and ._:/-";
    }
    return "";
}

/* One value: its typed JSON, or NULL with err. */
static json_t *convert(const struct fault_type *t, const struct fault_param *p, const char *v, char *err,
                       size_t errlen)
{
    long long n = 0;
    int bad = 0;
    switch (p->type) {
    case FP_INT: {
        char *end;
        errno = 0;
        n = strtoll(v, &end, 10);
        bad = errno || *end || end == v;
        break;
    }
    case FP_MS: bad = fault_parse_ms(v, &n); break;
    case FP_PERCENT: {
        char *end;
        errno = 0;
        n = strtoll(v, &end, 10);
        bad = errno || end == v || (*end && strcmp(end, "%"));
        break;
    }
    case FP_BYTES: bad = fault_parse_bytes(v, &n); break;
    case FP_ENUM:
        if (!enum_has(p->choices, v)) {
            snprintf(err, errlen, "%s: parameter %s must be one of %s, not \"%.64s\"", t->id, p->key, p->choices, v);
            return NULL;
        }
        return json_string(v);
    case FP_WORKLOAD:
    case FP_STRING:
        if (!string_ok(v, p->max)) {
            snprintf(err, errlen, "%s: parameter %s must be %s, not \"%.64s\"", t->id, p->key, kind_text(p->type), v);
            return NULL;
        }
        return json_string(v);
    }
    if (bad) {
        snprintf(err, errlen, "%s: parameter %s must be %s, not \"%.64s\"", t->id, p->key, kind_text(p->type), v);
        return NULL;
    }
    if (n < p->min || n > p->max) {
        snprintf(err, errlen, "%s: parameter %s=%.64s is out of range [%lld, %lld]%s", t->id, p->key, v, p->min, p->max,
                 p->type == FP_MS ? " ms" : p->type == FP_BYTES ? " bytes" : "");
        return NULL;
    }
    return json_integer(n);
}

json_t *fault_params_validate(const struct fault_type *t, const json_t *given, char *err, size_t errlen)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)given, key, val)
    {
        const struct fault_param *p = t->params;
        while (p && p->key && strcmp(p->key, key)) p++;
        if (!p || !p->key) {
            char known[256] = "";
            for (p = t->params; p && p->key; p++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", known[0] ? ", " : "", p->key);
            snprintf(err, errlen, "%s: unknown parameter \"%.64s\" (it takes: %s)", t->id, key,
                     known[0] ? known : "no parameters");
            return NULL;
        }
        if (!json_is_string(val)) {
            snprintf(err, errlen, "%s: parameter %s must be given as text", t->id, key);
            return NULL;
        }
    }
    json_t *out = json_object();
    for (const struct fault_param *p = t->params; p && p->key; p++) {
        const char *v = json_string_value(json_object_get(given, p->key));
        if (!v) v = p->dflt;
        if (!v) {
            snprintf(err, errlen, "%s: parameter %s is required (%s)", t->id, p->key, p->help);
            json_decref(out);
            return NULL;
        }
        json_t *typed = convert(t, p, v, err, errlen);
        if (!typed) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, p->key, typed);
    }
    return out;
}

long long fault_param_int(const struct fault_ctx *c, const char *key)
{
    return (long long)json_integer_value(json_object_get(c->params, key));
}

const char *fault_param_str(const struct fault_ctx *c, const char *key)
{
    const char *s = json_string_value(json_object_get(c->params, key));
    return s ? s : "";
}
