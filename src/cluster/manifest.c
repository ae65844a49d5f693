/* manifest: validation of the Kubernetes objects aiopslab accepts (see
 * manifest.h and docs/manifests.md), and the kind/resource name tables
 * kubectl's messages use.
 *
 * Validation checks only the fields aiopslab acts on, with Kubernetes'
 * rules and, where known, Kubernetes' wording ("FIELD: Invalid value: V:
 * reason", "Required value", "Unsupported value", "Duplicate value",
 * "Not found"); every other field is left alone so it is kept and shown.
 * The first error found is reported, with the offending node, so a caller
 * holding the parsed YAML can add FILE:LINE. */
#include "cluster/manifest.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"

/* ---- kinds and resources ----------------------------------------------- */

struct kind_info {
    const char *kind, *api_version, *plural, *names; /* names: space-separated aliases */
    int namespaced;
};

static const struct kind_info KINDS[] = {
    {"Namespace", "v1", "namespaces", "ns namespace namespaces", 0},
    {"Pod", "v1", "pods", "po pod pods", 1},
    {"Deployment", "apps/v1", "deployments", "deploy deployment deployments", 1},
    {"ReplicaSet", "apps/v1", "replicasets", "rs replicaset replicasets", 1},
    {"Service", "v1", "services", "svc service services", 1},
    {"Endpoints", "v1", "endpoints", "ep endpoint endpoints", 1},
    {"ConfigMap", "v1", "configmaps", "cm configmap configmaps", 1},
    {"Secret", "v1", "secrets", "secret secrets", 1},
    {"Event", "v1", "events", "ev event events", 1},
};
#define NKINDS (sizeof KINDS / sizeof KINDS[0])

static const struct kind_info *kind_info(const char *kind)
{
    if (!kind) return NULL;
    for (size_t i = 0; i < NKINDS; i++)
        if (strcmp(KINDS[i].kind, kind) == 0) return &KINDS[i];
    return NULL;
}

int manifest_kind_known(const char *kind)
{
    return kind_info(kind) != NULL;
}

int manifest_kind_namespaced(const char *kind)
{
    const struct kind_info *k = kind_info(kind);
    return k ? k->namespaced : 0;
}

const char *manifest_resource_of_kind(const char *kind)
{
    const struct kind_info *k = kind_info(kind);
    return k ? k->plural : NULL;
}

static int word_in(const char *list, const char *word, size_t wlen)
{
    const char *p = list;
    while (*p) {
        const char *sp = strchr(p, ' ');
        size_t n = sp ? (size_t)(sp - p) : strlen(p);
        if (n == wlen && strncasecmp(p, word, n) == 0) return 1;
        p += n + (sp ? 1 : 0);
    }
    return 0;
}

const char *manifest_kind_of_resource(const char *resource)
{
    if (!resource || !*resource) return NULL;
    size_t n = strlen(resource);
    /* group-qualified forms: deployments.apps, deploy.v1.apps, events.events.k8s.io */
    const char *group = "";
    const char *dot = strchr(resource, '.');
    if (dot) {
        group = dot + 1;
        n = (size_t)(dot - resource);
        if (strncasecmp(group, "v1.", 3) == 0) group += 3;
    }
    for (size_t i = 0; i < NKINDS; i++) {
        if (!word_in(KINDS[i].names, resource, n) && !(strlen(KINDS[i].kind) == n && !strncasecmp(KINDS[i].kind, resource, n)))
            continue;
        if (!*group) return KINDS[i].kind;
        int apps = strcmp(KINDS[i].api_version, "apps/v1") == 0;
        if (apps && !strcmp(group, "apps")) return KINDS[i].kind;
        if (!apps && (!strcmp(group, "v1") || !strcmp(group, "") ||
                      (!strcmp(KINDS[i].kind, "Event") && !strcmp(group, "events.k8s.io"))))
            return KINDS[i].kind;
        return NULL;
    }
    return NULL;
}

/* ---- quantities -------------------------------------------------------- */

/* A Kubernetes quantity ("500m", "1.5Gi", "129e6", "1") as a number of
 * base units. 0 or -EINVAL. Negative quantities parse (the caller decides). */
static int parse_quantity(const char *s, long double *out)
{
    if (!s) return -EINVAL;
    size_t n = strlen(s);
    if (n == 0 || n > 64) return -EINVAL;
    size_t i = 0;
    int neg = 0;
    if (s[i] == '+' || s[i] == '-') neg = s[i++] == '-';
    size_t start = i, digits = 0;
    while (i < n && isdigit((unsigned char)s[i])) i++, digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && isdigit((unsigned char)s[i])) i++, digits++;
    }
    if (!digits) return -EINVAL;
    char num[72];
    memcpy(num, s + start, i - start);
    num[i - start] = '\0';
    long double v = strtold(num, NULL);
    const char *suf = s + i;
    static const struct { const char *suffix; long double mult; } SUFFIXES[] = {
        {"Ki", 1024.0L}, {"Mi", 1048576.0L}, {"Gi", 1073741824.0L}, {"Ti", 1099511627776.0L},
        {"Pi", 1125899906842624.0L}, {"Ei", 1152921504606846976.0L}, {"n", 1e-9L}, {"u", 1e-6L},
        {"m", 1e-3L}, {"", 1.0L}, {"k", 1e3L}, {"M", 1e6L}, {"G", 1e9L}, {"T", 1e12L}, {"P", 1e15L}, {"E", 1e18L},
    };
    int matched = 0;
    for (size_t k = 0; k < sizeof SUFFIXES / sizeof SUFFIXES[0]; k++) {
        if (strcmp(suf, SUFFIXES[k].suffix) == 0) {
            v *= SUFFIXES[k].mult;
            matched = 1;
            break;
        }
    }
    if (!matched && (*suf == 'e' || *suf == 'E')) {
        const char *e = suf + 1;
        if (*e == '+' || *e == '-') e++;
        if (!*e || strlen(e) > 3) return -EINVAL;
        for (const char *c = e; *c; c++)
            if (!isdigit((unsigned char)*c)) return -EINVAL;
        long exp10 = strtol(suf + 1, NULL, 10);
        v *= powl(10.0L, (long double)exp10);
        matched = 1;
    }
    if (!matched || !isfinite((double)v)) return -EINVAL;
    *out = neg ? -v : v;
    return 0;
}

int manifest_parse_cpu(const char *s, long *millis)
{
    long double v;
    if (parse_quantity(s, &v) || v < 0) return -EINVAL;
    long double m = ceill(v * 1000.0L - 1e-9L); /* Kubernetes rounds up to whole millicores */
    if (m < 0) m = 0;
    if (m > 9.2e18L) return -ERANGE;
    *millis = (long)m;
    return 0;
}

int manifest_parse_memory(const char *s, long long *bytes)
{
    long double v;
    if (parse_quantity(s, &v) || v < 0) return -EINVAL;
    long double b = ceill(v - 1e-6L);
    if (b < 0) b = 0;
    if (b > 9.2e18L) return -ERANGE;
    *bytes = (long long)b;
    return 0;
}

/* ---- the validator ------------------------------------------------------ */

struct vctx {
    char path[512];
    size_t plen;
    char *err;
    size_t errlen;
    const json_t *bad;
    const json_t *holder; /* the object or list being checked */
    int failed;
};

/* Push ".key" (or "key" at the top) / "[i]" / "[key]"; returns the mark to
 * pop back to. Paths longer than the buffer are cut, never overflowed. */
static size_t push_key(struct vctx *c, const char *key)
{
    size_t mark = c->plen;
    int n = snprintf(c->path + c->plen, sizeof c->path - c->plen, "%s%s", c->plen ? "." : "", key);
    if (n > 0) c->plen = c->plen + (size_t)n < sizeof c->path ? c->plen + (size_t)n : sizeof c->path - 1;
    return mark;
}

static size_t push_index(struct vctx *c, size_t i)
{
    size_t mark = c->plen;
    int n = snprintf(c->path + c->plen, sizeof c->path - c->plen, "[%zu]", i);
    if (n > 0) c->plen = c->plen + (size_t)n < sizeof c->path ? c->plen + (size_t)n : sizeof c->path - 1;
    return mark;
}

static size_t push_mapkey(struct vctx *c, const char *key)
{
    size_t mark = c->plen;
    int n = snprintf(c->path + c->plen, sizeof c->path - c->plen, "[%s]", key);
    if (n > 0) c->plen = c->plen + (size_t)n < sizeof c->path ? c->plen + (size_t)n : sizeof c->path - 1;
    return mark;
}

static void pop(struct vctx *c, size_t mark)
{
    c->plen = mark;
    c->path[mark] = '\0';
}

__attribute__((format(printf, 3, 4))) static int fail(struct vctx *c, const json_t *node, const char *fmt, ...)
{
    if (c->failed) return -EINVAL;
    c->failed = 1;
    /* true/false/null are shared singletons without a line of their own:
     * point at what holds them instead */
    c->bad = (json_is_boolean(node) || json_is_null(node)) && c->holder ? c->holder : node;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->plen) snprintf(c->err, c->errlen, "%s: %s", c->path, msg);
    else snprintf(c->err, c->errlen, "%s", msg);
    return -EINVAL;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

static int bad_type(struct vctx *c, const json_t *v, const char *want)
{
    return fail(c, v, "Invalid type: got \"%s\", expected \"%s\"", type_name(v), want);
}

/* The value as kubectl prints it in "Invalid value: V": strings quoted. */
static const char *shown(const json_t *v, char *tmp, size_t n)
{
    if (json_is_string(v)) snprintf(tmp, n, "\"%.200s\"", json_string_value(v));
    else if (json_is_integer(v)) snprintf(tmp, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v)) snprintf(tmp, n, "%g", json_real_value(v));
    else snprintf(tmp, n, "%s", type_name(v));
    return tmp;
}

/* Field helpers: each checks obj[key] when present, with the path pushed.
 * They return 0 when absent (unless required) or valid. */

static int f_required(struct vctx *c, const json_t *obj, const char *key, const json_t **out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        size_t m = push_key(c, key);
        int rc = fail(c, obj, "Required value");
        pop(c, m);
        return rc;
    }
    *out = v;
    return 0;
}

static int f_string(struct vctx *c, const json_t *obj, const char *key, int required)
{
    c->holder = obj;
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return required ? f_required(c, obj, key, &v) : 0;
    size_t m = push_key(c, key);
    int rc = 0;
    if (!json_is_string(v)) rc = bad_type(c, v, "string");
    else if (required && !json_string_length(v)) rc = fail(c, v, "Required value");
    pop(c, m);
    return rc;
}

static int f_bool(struct vctx *c, const json_t *obj, const char *key)
{
    c->holder = obj;
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v) || json_is_boolean(v)) return 0;
    size_t m = push_key(c, key);
    int rc = bad_type(c, v, "boolean");
    pop(c, m);
    return rc;
}

static int check_int_range(struct vctx *c, const json_t *v, long long min, long long max)
{
    if (!json_is_integer(v)) return bad_type(c, v, "integer");
    long long x = json_integer_value(v);
    if (x < min || x > max) {
        if (max == (long long)INT32_MAX && min == 0)
            return fail(c, v, "Invalid value: %lld: must be greater than or equal to 0", x);
        if (max == (long long)INT32_MAX && min == 1)
            return fail(c, v, "Invalid value: %lld: must be greater than or equal to 1", x);
        return fail(c, v, "Invalid value: %lld: must be between %lld and %lld, inclusive", x, min, max);
    }
    return 0;
}

static int f_int(struct vctx *c, const json_t *obj, const char *key, long long min, long long max, int required)
{
    c->holder = obj;
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return required ? f_required(c, obj, key, &v) : 0;
    size_t m = push_key(c, key);
    int rc = check_int_range(c, v, min, max);
    pop(c, m);
    return rc;
}

static int f_enum(struct vctx *c, const json_t *obj, const char *key, const char *const *allowed)
{
    c->holder = obj;
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return 0;
    size_t m = push_key(c, key);
    int rc = 0;
    if (!json_is_string(v)) rc = bad_type(c, v, "string");
    else {
        int ok = 0;
        char list[256] = "";
        size_t used = 0;
        for (size_t i = 0; allowed[i]; i++) {
            if (!strcmp(allowed[i], json_string_value(v))) ok = 1;
            int n = snprintf(list + used, sizeof list - used, "%s\"%s\"", i ? ", " : "", allowed[i]);
            if (n > 0 && used + (size_t)n < sizeof list) used += (size_t)n;
        }
        if (!ok) rc = fail(c, v, "Unsupported value: \"%.100s\": supported values: %s", json_string_value(v), list);
    }
    pop(c, m);
    return rc;
}

static int f_object(struct vctx *c, const json_t *obj, const char *key, const json_t **out)
{
    c->holder = obj;
    const json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_object(v)) {
        size_t m = push_key(c, key);
        int rc = bad_type(c, v, "object");
        pop(c, m);
        return rc;
    }
    *out = v;
    return 0;
}

static int f_array(struct vctx *c, const json_t *obj, const char *key, const json_t **out)
{
    c->holder = obj;
    const json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_array(v)) {
        size_t m = push_key(c, key);
        int rc = bad_type(c, v, "array");
        pop(c, m);
        return rc;
    }
    *out = v;
    return 0;
}

static int f_string_list(struct vctx *c, const json_t *obj, const char *key)
{
    const json_t *list;
    if (f_array(c, obj, key, &list) || !list) return c->failed ? -EINVAL : 0;
    size_t m = push_key(c, key), i;
    json_t *item;
    c->holder = list;
    json_array_foreach(list, i, item) {
        if (!json_is_string(item)) {
            size_t m2 = push_index(c, i);
            bad_type(c, item, "string");
            pop(c, m2);
            break;
        }
    }
    pop(c, m);
    return c->failed ? -EINVAL : 0;
}

/* A string→string map; each entry is checked by check_entry if given. */
static int f_string_map(struct vctx *c, const json_t *obj, const char *key,
                        int (*check_entry)(struct vctx *, const json_t *map, const char *k, const json_t *v))
{
    const json_t *map;
    if (f_object(c, obj, key, &map) || !map) return c->failed ? -EINVAL : 0;
    size_t m = push_key(c, key);
    const char *k;
    json_t *v;
    c->holder = map;
    json_object_foreach((json_t *)map, k, v) {
        if (!json_is_string(v)) {
            size_t m2 = push_mapkey(c, k);
            bad_type(c, v, "string");
            pop(c, m2);
            break;
        }
        if (check_entry && check_entry(c, map, k, v)) break;
    }
    pop(c, m);
    return c->failed ? -EINVAL : 0;
}

/* ---- name syntax -------------------------------------------------------- */

static const char DNS1123_LABEL_MSG[] =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
static const char DNS1035_LABEL_MSG[] =
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, "
    "and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
    "'[a-z]([-a-z0-9]*[a-z0-9])?')";
static const char DNS1123_SUBDOMAIN_MSG[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
static const char LABEL_VALUE_MSG[] =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
static const char QUALIFIED_NAME_MSG[] =
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

static int is_lower_alnum(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

static int is_dns_label(const char *s, size_t n)
{
    if (n == 0 || n > 63 || !is_lower_alnum((unsigned char)s[0]) || !is_lower_alnum((unsigned char)s[n - 1])) return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_lower_alnum((unsigned char)s[i]) && s[i] != '-') return 0;
    return 1;
}

static int is_dns_subdomain(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253) return 0;
    const char *p = s;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (!l || !is_lower_alnum((unsigned char)p[0]) || !is_lower_alnum((unsigned char)p[l - 1])) return 0;
        for (size_t i = 0; i < l; i++)
            if (!is_lower_alnum((unsigned char)p[i]) && p[i] != '-') return 0;
        if (!dot) return 1;
        p = dot + 1;
    }
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], at most max chars; empty allowed when allow_empty. */
static int is_label_text(const char *s, size_t max, int allow_empty)
{
    size_t n = strlen(s);
    if (n == 0) return allow_empty;
    if (n > max || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1])) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') return 0;
    return 1;
}

/* A qualified name (label and annotation keys): [prefix/]name. NULL when
 * valid, else the reason. */
static const char *qualified_name_problem(const char *k)
{
    const char *slash = strchr(k, '/');
    const char *name = k;
    if (slash) {
        size_t pl = (size_t)(slash - k);
        char prefix[260];
        if (pl == 0) return "prefix part must be non-empty";
        if (pl > 253) return "prefix part must be no more than 253 characters";
        memcpy(prefix, k, pl);
        prefix[pl] = '\0';
        if (!is_dns_subdomain(prefix)) return "prefix part a lowercase RFC 1123 subdomain must consist of lower case "
                                              "alphanumeric characters, '-' or '.', and must start and end with an "
                                              "alphanumeric character";
        name = slash + 1;
        if (strchr(name, '/')) return QUALIFIED_NAME_MSG;
    }
    if (!*name) return "name part must be non-empty";
    if (strlen(name) > 63) return "name part must be no more than 63 characters";
    if (!is_label_text(name, 63, 0)) return QUALIFIED_NAME_MSG;
    return NULL;
}

static int check_label(struct vctx *c, const json_t *map, const char *k, const json_t *v)
{
    const char *why = qualified_name_problem(k);
    if (why) return fail(c, map, "Invalid value: \"%.100s\": %s", k, why);
    const char *s = json_string_value(v);
    if (strlen(s) > 63) return fail(c, v, "Invalid value: \"%.100s\": must be no more than 63 characters", s);
    if (!is_label_text(s, 63, 1)) return fail(c, v, "Invalid value: \"%.100s\": %s", s, LABEL_VALUE_MSG);
    return 0;
}

static int check_annotation(struct vctx *c, const json_t *map, const char *k, const json_t *v)
{
    const char *why = qualified_name_problem(k);
    if (why) return fail(c, map, "Invalid value: \"%.100s\": %s", k, why);
    return 0;
}

/* IANA_SVC_NAME: port names. NULL when valid. */
static const char *port_name_problem(const char *s)
{
    size_t n = strlen(s);
    if (n > 15) return "must be no more than 15 characters";
    int letter = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_lower_alnum((unsigned char)s[i]) && s[i] != '-')
            return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)";
        if (s[i] >= 'a' && s[i] <= 'z') letter = 1;
        if (s[i] == '-' && i + 1 < n && s[i + 1] == '-') return "must not contain consecutive hyphens";
    }
    if (!letter) return "must contain at least one letter (a-z)";
    if (s[0] == '-' || s[n - 1] == '-') return "hyphens (-) cannot be leading or trailing character of the string";
    return NULL;
}

static int f_dns_label(struct vctx *c, const json_t *obj, const char *key, int required)
{
    if (f_string(c, obj, key, required)) return -EINVAL;
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v)) return 0;
    const char *s = json_string_value(v);
    size_t m = push_key(c, key);
    int rc = 0;
    if (strlen(s) > 63) rc = fail(c, v, "Invalid value: \"%.100s\": must be no more than 63 characters", s);
    else if (!is_dns_label(s, strlen(s))) rc = fail(c, v, "Invalid value: \"%.100s\": %s", s, DNS1123_LABEL_MSG);
    pop(c, m);
    return rc;
}

/* An int port 1-65535 or a port name. */
static int check_int_or_port_name(struct vctx *c, const json_t *v)
{
    if (json_is_integer(v)) return check_int_range(c, v, 1, 65535);
    if (!json_is_string(v)) return bad_type(c, v, "integer or string");
    const char *s = json_string_value(v);
    /* a string of digits is a number, as intstr decodes "8080" */
    char *end;
    long num = strtol(s, &end, 10);
    if (*s && !*end) {
        if (num < 1 || num > 65535) return fail(c, v, "Invalid value: %ld: must be between 1 and 65535, inclusive", num);
        return 0;
    }
    const char *why = port_name_problem(s);
    if (why) return fail(c, v, "Invalid value: \"%.100s\": %s", s, why);
    return 0;
}

/* ---- metadata ----------------------------------------------------------- */

enum name_rule { NAME_SUBDOMAIN, NAME_LABEL, NAME_DNS1035 };

static int v_metadata(struct vctx *c, const json_t *obj, enum name_rule rule, int namespaced)
{
    const json_t *meta = json_object_get(obj, "metadata");
    if (!meta || json_is_null(meta)) {
        size_t m = push_key(c, "metadata.name");
        fail(c, obj, "Required value: name or generateName is required");
        pop(c, m);
        return -EINVAL;
    }
    size_t m = push_key(c, "metadata");
    if (!json_is_object(meta)) {
        bad_type(c, meta, "object");
        goto out;
    }
    const json_t *name = json_object_get(meta, "name");
    if (!name || (json_is_string(name) && !json_string_length(name))) {
        if (!json_is_string(json_object_get(meta, "generateName"))) {
            size_t m2 = push_key(c, "name");
            fail(c, meta, "Required value: name or generateName is required");
            pop(c, m2);
            goto out;
        }
    } else if (!json_is_string(name)) {
        size_t m2 = push_key(c, "name");
        bad_type(c, name, "string");
        pop(c, m2);
        goto out;
    } else {
        const char *s = json_string_value(name);
        size_t n = strlen(s), max = rule == NAME_SUBDOMAIN ? 253 : 63;
        size_t m2 = push_key(c, "name");
        if (n > max) fail(c, name, "Invalid value: \"%.100s...\": must be no more than %zu characters", s, max);
        else if (rule == NAME_SUBDOMAIN && !is_dns_subdomain(s))
            fail(c, name, "Invalid value: \"%.100s\": %s", s, DNS1123_SUBDOMAIN_MSG);
        else if (rule == NAME_LABEL && !is_dns_label(s, n))
            fail(c, name, "Invalid value: \"%.100s\": %s", s, DNS1123_LABEL_MSG);
        else if (rule == NAME_DNS1035 && (!is_dns_label(s, n) || !(s[0] >= 'a' && s[0] <= 'z')))
            fail(c, name, "Invalid value: \"%.100s\": %s", s, DNS1035_LABEL_MSG);
        pop(c, m2);
        if (c->failed) goto out;
    }
    if (f_string(c, meta, "generateName", 0)) goto out;
    if (namespaced && f_dns_label(c, meta, "namespace", 0)) goto out;
    if (!namespaced && f_string(c, meta, "namespace", 0)) goto out;
    if (f_string_map(c, meta, "labels", check_label)) goto out;
    if (f_string_map(c, meta, "annotations", check_annotation)) goto out;
out:
    pop(c, m);
    return c->failed ? -EINVAL : 0;
}

/* ---- pod spec ----------------------------------------------------------- */

static const char *const PROTOCOLS[] = {"TCP", "UDP", "SCTP", NULL};

static int is_env_name(const char *s)
{
    if (!*s || isdigit((unsigned char)s[0])) return 0;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.') return 0;
    return 1;
}

static const char ENV_NAME_MSG[] = "a valid environment variable name must consist of alphabetic characters, digits, "
                                   "'_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or "
                                   "'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is "
                                   "'[-._a-zA-Z][-._a-zA-Z0-9]*')";

static int v_key_ref(struct vctx *c, const json_t *ref)
{
    if (!json_is_object(ref)) return bad_type(c, ref, "object");
    if (f_string(c, ref, "name", 0) || f_string(c, ref, "key", 1) || f_bool(c, ref, "optional")) return -EINVAL;
    return 0;
}

static int field_path_ok(const char *p)
{
    static const char *const plain[] = {"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
                                        "spec.serviceAccountName", "status.hostIP", "status.hostIPs",
                                        "status.podIP", "status.podIPs", NULL};
    for (size_t i = 0; plain[i]; i++)
        if (!strcmp(p, plain[i])) return 1;
    const char *rest = NULL;
    if (!strncmp(p, "metadata.labels", 15)) rest = p + 15;
    else if (!strncmp(p, "metadata.annotations", 20)) rest = p + 20;
    if (!rest) return 0;
    if (!*rest) return 1; /* the whole map, as the downward API volume allows */
    size_t n = strlen(rest);
    return n > 4 && rest[0] == '[' && rest[1] == '\'' && rest[n - 2] == '\'' && rest[n - 1] == ']';
}

static int v_env_var(struct vctx *c, const json_t *e)
{
    if (!json_is_object(e)) return bad_type(c, e, "object");
    if (f_string(c, e, "name", 1)) return -EINVAL;
    const char *name = json_string_value(json_object_get(e, "name"));
    if (!is_env_name(name)) {
        size_t m = push_key(c, "name");
        fail(c, json_object_get(e, "name"), "Invalid value: \"%.100s\": %s", name, ENV_NAME_MSG);
        pop(c, m);
        return -EINVAL;
    }
    if (f_string(c, e, "value", 0)) return -EINVAL;
    const json_t *from;
    if (f_object(c, e, "valueFrom", &from)) return -EINVAL;
    if (!from) return 0;
    size_t m = push_key(c, "valueFrom");
    const json_t *value = json_object_get(e, "value");
    if (json_is_string(value) && json_string_length(value)) {
        fail(c, from, "Invalid value: \"\": may not be specified when `value` is not empty");
        goto out;
    }
    int sources = 0;
    const json_t *ref;
    if ((ref = json_object_get(from, "configMapKeyRef"))) {
        sources++;
        size_t m2 = push_key(c, "configMapKeyRef");
        v_key_ref(c, ref);
        pop(c, m2);
    }
    if (!c->failed && (ref = json_object_get(from, "secretKeyRef"))) {
        sources++;
        size_t m2 = push_key(c, "secretKeyRef");
        v_key_ref(c, ref);
        pop(c, m2);
    }
    if (!c->failed && (ref = json_object_get(from, "fieldRef"))) {
        sources++;
        size_t m2 = push_key(c, "fieldRef");
        if (!json_is_object(ref)) bad_type(c, ref, "object");
        else if (!f_string(c, ref, "fieldPath", 1)) {
            const json_t *fp = json_object_get(ref, "fieldPath");
            if (!field_path_ok(json_string_value(fp))) {
                size_t m3 = push_key(c, "fieldPath");
                fail(c, fp,
                     "Unsupported value: \"%.100s\": supported values: \"metadata.name\", \"metadata.namespace\", "
                     "\"metadata.uid\", \"metadata.labels['<KEY>']\", \"metadata.annotations['<KEY>']\", "
                     "\"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", \"status.hostIPs\", "
                     "\"status.podIP\", \"status.podIPs\"",
                     json_string_value(fp));
                pop(c, m3);
            }
        }
        pop(c, m2);
    }
    if (!c->failed && (ref = json_object_get(from, "resourceFieldRef"))) {
        sources++;
        size_t m2 = push_key(c, "resourceFieldRef");
        if (!json_is_object(ref)) bad_type(c, ref, "object");
        else {
            static const char *const res[] = {"limits.cpu", "limits.memory", "limits.ephemeral-storage", "requests.cpu",
                                              "requests.memory", "requests.ephemeral-storage", NULL};
            if (!f_string(c, ref, "resource", 1)) f_enum(c, ref, "resource", res);
        }
        pop(c, m2);
    }
    if (!c->failed && sources == 0) fail(c, from, "Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`");
    if (!c->failed && sources > 1) fail(c, from, "Invalid value: \"\": may not have more than one field specified at a time");
out:
    pop(c, m);
    return c->failed ? -EINVAL : 0;
}

static int v_env_from(struct vctx *c, const json_t *e)
{
    if (!json_is_object(e)) return bad_type(c, e, "object");
    if (f_string(c, e, "prefix", 0)) return -EINVAL;
    const json_t *cm = json_object_get(e, "configMapRef"), *sec = json_object_get(e, "secretRef");
    if (!cm && !sec) return fail(c, e, "Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`");
    if (cm && sec) return fail(c, e, "Invalid value: \"\": may not have more than one field specified at a time");
    const char *which = cm ? "configMapRef" : "secretRef";
    const json_t *ref = cm ? cm : sec;
    size_t m = push_key(c, which);
    if (!json_is_object(ref)) bad_type(c, ref, "object");
    else if (!f_string(c, ref, "name", 1)) f_bool(c, ref, "optional");
    pop(c, m);
    return c->failed ? -EINVAL : 0;
}

static int v_quantity_map(struct vctx *c, const json_t *res, const char *key, long *cpu, long long *mem)
{
    const json_t *map;
    *cpu = -1;
    *mem = -1;
    if (f_object(c, res, key, &map) || !map) return c->failed ? -EINVAL : 0;
    size_t m = push_key(c, key);
    const char *k;
    json_t *v;
    c->holder = map;
    json_object_foreach((json_t *)map, k, v) {
        size_t m2 = push_mapkey(c, k);
        char text[72];
        if (json_is_string(v)) snprintf(text, sizeof text, "%.64s", json_string_value(v));
        else if (json_is_integer(v)) snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else if (json_is_real(v)) snprintf(text, sizeof text, "%.17g", json_real_value(v));
        else {
            bad_type(c, v, "string");
            pop(c, m2);
            break;
        }
        long double q;
        char tmp[256];
        if ((json_is_string(v) && json_string_length(v) > 64) || parse_quantity(text, &q))
            fail(c, v, "Invalid value: %s: quantities must match the regular expression "
                       "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                 shown(v, tmp, sizeof tmp));
        else if (q < 0)
            fail(c, v, "Invalid value: %s: must be greater than or equal to 0", shown(v, tmp, sizeof tmp));
        else if (!strcmp(k, "cpu")) manifest_parse_cpu(text, cpu);
        else if (!strcmp(k, "memory")) manifest_parse_memory(text, mem);
        pop(c, m2);
        if (c->failed) break;
    }
    pop(c, m);
    return c->failed ? -EINVAL : 0;
}

static int v_resources(struct vctx *c, const json_t *res)
{
    if (!json_is_object(res)) return bad_type(c, res, "object");
    long lcpu, rcpu;
    long long lmem, rmem;
    if (v_quantity_map(c, res, "limits", &lcpu, &lmem) || v_quantity_map(c, res, "requests", &rcpu, &rmem)) return -EINVAL;
    const json_t *req = json_object_get(res, "requests");
    size_t m = push_key(c, "requests");
    if (lcpu >= 0 && rcpu > lcpu) {
        size_t m2 = push_mapkey(c, "cpu");
        fail(c, json_object_get(req, "cpu"), "Invalid value: \"%ldm\": must be less than or equal to cpu limit of %ldm", rcpu, lcpu);
        pop(c, m2);
    } else if (lmem >= 0 && rmem > lmem) {
        size_t m2 = push_mapkey(c, "memory");
        fail(c, json_object_get(req, "memory"), "Invalid value: \"%lld\": must be less than or equal to memory limit of %lld", rmem, lmem);
        pop(c, m2);
    }
    pop(c, m);
    return c->failed ? -EINVAL : 0;
}

static int v_probe(struct vctx *c, const json_t *p, int success_must_be_one)
{
    if (!json_is_object(p)) return bad_type(c, p, "object");
    int handlers = 0;
    const json_t *h;
    if ((h = json_object_get(p, "httpGet"))) {
        handlers++;
        size_t m = push_key(c, "httpGet");
        static const char *const schemes[] = {"HTTP", "HTTPS", NULL};
        if (!json_is_object(h)) bad_type(c, h, "object");
        else {
            const json_t *port, *headers;
            if (!f_string(c, h, "path", 0) && !f_string(c, h, "host", 0) && !f_enum(c, h, "scheme", schemes) &&
                !f_required(c, h, "port", &port)) {
                size_t m2 = push_key(c, "port");
                check_int_or_port_name(c, port);
                pop(c, m2);
            }
            if (!c->failed && !f_array(c, h, "httpHeaders", &headers) && headers) {
                size_t m2 = push_key(c, "httpHeaders"), i;
                json_t *hd;
                json_array_foreach(headers, i, hd) {
                    size_t m3 = push_index(c, i);
                    if (!json_is_object(hd)) bad_type(c, hd, "object");
                    else if (!f_string(c, hd, "name", 1)) f_string(c, hd, "value", 0);
                    pop(c, m3);
                    if (c->failed) break;
                }
                pop(c, m2);
            }
        }
        pop(c, m);
    }
    if (!c->failed && (h = json_object_get(p, "tcpSocket"))) {
        handlers++;
        size_t m = push_key(c, "tcpSocket");
        const json_t *port;
        if (!json_is_object(h)) bad_type(c, h, "object");
        else if (!f_string(c, h, "host", 0) && !f_required(c, h, "port", &port)) {
            size_t m2 = push_key(c, "port");
            check_int_or_port_name(c, port);
            pop(c, m2);
        }
        pop(c, m);
    }
    if (!c->failed && (h = json_object_get(p, "exec"))) {
        handlers++;
        size_t m = push_key(c, "exec");
        const json_t *cmd;
        if (!json_is_object(h)) bad_type(c, h, "object");
        else if (!f_required(c, h, "command", &cmd)) f_string_list(c, h, "command");
        pop(c, m);
    }
    if (!c->failed && (h = json_object_get(p, "grpc"))) {
        handlers++;
        size_t m = push_key(c, "grpc");
        if (!json_is_object(h)) bad_type(c, h, "object");
        else f_int(c, h, "port", 1, 65535, 1);
        pop(c, m);
    }
    if (c->failed) return -EINVAL;
    if (handlers == 0) return fail(c, p, "Required value: must specify a handler type");
    if (handlers > 1) return fail(c, p, "Forbidden: may not specify more than 1 handler type");
    if (f_int(c, p, "initialDelaySeconds", 0, INT32_MAX, 0) || f_int(c, p, "periodSeconds", 0, INT32_MAX, 0) ||
        f_int(c, p, "timeoutSeconds", 0, INT32_MAX, 0) || f_int(c, p, "failureThreshold", 0, INT32_MAX, 0) ||
        f_int(c, p, "successThreshold", 0, INT32_MAX, 0) || f_int(c, p, "terminationGracePeriodSeconds", 1, INT32_MAX, 0))
        return -EINVAL;
    const json_t *st = json_object_get(p, "successThreshold");
    if (success_must_be_one && json_is_integer(st) && json_integer_value(st) > 1) {
        size_t m = push_key(c, "successThreshold");
        fail(c, st, "Invalid value: %" JSON_INTEGER_FORMAT ": must be 1", json_integer_value(st));
        pop(c, m);
    }
    return c->failed ? -EINVAL : 0;
}

/* Validate one container; volume names of the pod are in vols (array of
 * name strings, may be NULL). */
static int v_container(struct vctx *c, const json_t *ct, const json_t *volumes)
{
    if (!json_is_object(ct)) return bad_type(c, ct, "object");
    if (f_dns_label(c, ct, "name", 1) || f_string(c, ct, "image", 0) || f_string_list(c, ct, "command") ||
        f_string_list(c, ct, "args") || f_string(c, ct, "workingDir", 0))
        return -EINVAL;
    static const char *const pull[] = {"Always", "IfNotPresent", "Never", NULL};
    if (f_enum(c, ct, "imagePullPolicy", pull)) return -EINVAL;
    const json_t *list, *item;
    size_t i;
    /* ports */
    if (f_array(c, ct, "ports", &list)) return -EINVAL;
    if (list) {
        size_t m = push_key(c, "ports");
        json_array_foreach(list, i, item) {
            size_t m2 = push_index(c, i);
            if (!json_is_object(item)) bad_type(c, item, "object");
            else if (!f_int(c, item, "containerPort", 1, 65535, 1) && !f_int(c, item, "hostPort", 0, 65535, 0) &&
                     !f_enum(c, item, "protocol", PROTOCOLS) && !f_string(c, item, "name", 0)) {
                const json_t *name = json_object_get(item, "name");
                const char *why = json_is_string(name) && json_string_length(name) ? port_name_problem(json_string_value(name)) : NULL;
                size_t m3 = push_key(c, "name");
                if (why) fail(c, name, "Invalid value: \"%.100s\": %s", json_string_value(name), why);
                for (size_t j = 0; !c->failed && why == NULL && json_is_string(name) && json_string_length(name) && j < i; j++) {
                    const json_t *other = json_object_get(json_array_get(list, j), "name");
                    if (json_is_string(other) && !strcmp(json_string_value(other), json_string_value(name)))
                        fail(c, name, "Duplicate value: \"%.100s\"", json_string_value(name));
                }
                pop(c, m3);
            }
            pop(c, m2);
            if (c->failed) break;
        }
        pop(c, m);
        if (c->failed) return -EINVAL;
    }
    /* env */
    if (f_array(c, ct, "env", &list)) return -EINVAL;
    if (list) {
        size_t m = push_key(c, "env");
        json_array_foreach(list, i, item) {
            size_t m2 = push_index(c, i);
            v_env_var(c, item);
            pop(c, m2);
            if (c->failed) break;
        }
        pop(c, m);
        if (c->failed) return -EINVAL;
    }
    if (f_array(c, ct, "envFrom", &list)) return -EINVAL;
    if (list) {
        size_t m = push_key(c, "envFrom");
        json_array_foreach(list, i, item) {
            size_t m2 = push_index(c, i);
            v_env_from(c, item);
            pop(c, m2);
            if (c->failed) break;
        }
        pop(c, m);
        if (c->failed) return -EINVAL;
    }
    /* resources */
    const json_t *res = json_object_get(ct, "resources");
    if (res && !json_is_null(res)) {
        size_t m = push_key(c, "resources");
        v_resources(c, res);
        pop(c, m);
        if (c->failed) return -EINVAL;
    }
    /* probes */
    static const char *const probes[] = {"livenessProbe", "readinessProbe", "startupProbe"};
    for (size_t p = 0; p < 3; p++) {
        const json_t *probe = json_object_get(ct, probes[p]);
        if (!probe || json_is_null(probe)) continue;
        size_t m = push_key(c, probes[p]);
        v_probe(c, probe, p != 1);
        pop(c, m);
        if (c->failed) return -EINVAL;
    }
    /* volumeMounts */
    if (f_array(c, ct, "volumeMounts", &list)) return -EINVAL;
    if (list) {
        size_t m = push_key(c, "volumeMounts");
        json_array_foreach(list, i, item) {
            size_t m2 = push_index(c, i);
            if (!json_is_object(item)) bad_type(c, item, "object");
            else if (!f_string(c, item, "name", 1) && !f_string(c, item, "mountPath", 1) && !f_bool(c, item, "readOnly") &&
                     !f_string(c, item, "subPath", 0)) {
                const json_t *name = json_object_get(item, "name");
                int found = 0;
                size_t j;
                json_t *vol;
                json_array_foreach(volumes, j, vol) {
                    const json_t *vn = json_object_get(vol, "name");
                    if (json_is_string(vn) && !strcmp(json_string_value(vn), json_string_value(name))) found = 1;
                }
                if (!found) {
                    size_t m3 = push_key(c, "name");
                    fail(c, name, "Not found: \"%.100s\"", json_string_value(name));
                    pop(c, m3);
                }
                const json_t *mp = json_object_get(item, "mountPath");
                for (size_t k = 0; !c->failed && k < i; k++) {
                    const json_t *other = json_object_get(json_array_get(list, k), "mountPath");
                    if (json_is_string(other) && !strcmp(json_string_value(other), json_string_value(mp))) {
                        size_t m3 = push_key(c, "mountPath");
                        fail(c, mp, "Invalid value: \"%.100s\": must be unique", json_string_value(mp));
                        pop(c, m3);
                    }
                }
            }
            pop(c, m2);
            if (c->failed) break;
        }
        pop(c, m);
    }
    return c->failed ? -EINVAL : 0;
}

static int v_key_items(struct vctx *c, const json_t *src)
{
    const json_t *items;
    if (f_array(c, src, "items", &items) || !items) return c->failed ? -EINVAL : 0;
    size_t m = push_key(c, "items"), i;
    json_t *it;
    json_array_foreach(items, i, it) {
        size_t m2 = push_index(c, i);
        if (!json_is_object(it)) bad_type(c, it, "object");
        else if (!f_string(c, it, "key", 1) && !f_string(c, it, "path", 1)) f_int(c, it, "mode", 0, 0777, 0);
        pop(c, m2);
        if (c->failed) break;
    }
    pop(c, m);
    return c->failed ? -EINVAL : 0;
}

static int v_volume(struct vctx *c, const json_t *vol)
{
    if (!json_is_object(vol)) return bad_type(c, vol, "object");
    if (f_dns_label(c, vol, "name", 1)) return -EINVAL;
    static const char *const other_sources[] = {"hostPath", "persistentVolumeClaim", "projected", "downwardAPI", "csi", "ephemeral", "nfs"};
    int sources = 0;
    const json_t *src;
    if ((src = json_object_get(vol, "emptyDir"))) {
        sources++;
        size_t m = push_key(c, "emptyDir");
        if (!json_is_object(src) && !json_is_null(src)) bad_type(c, src, "object");
        else if (json_is_object(src) && json_object_get(src, "sizeLimit")) {
            const json_t *sl = json_object_get(src, "sizeLimit");
            long long bytes;
            char tmp[256];
            if (!json_is_string(sl) || manifest_parse_memory(json_string_value(sl), &bytes)) {
                size_t m2 = push_key(c, "sizeLimit");
                fail(c, sl, "Invalid value: %s: quantities must match the regular expression "
                            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'", shown(sl, tmp, sizeof tmp));
                pop(c, m2);
            }
        }
        pop(c, m);
    }
    if (!c->failed && (src = json_object_get(vol, "configMap"))) {
        sources++;
        size_t m = push_key(c, "configMap");
        if (!json_is_object(src)) bad_type(c, src, "object");
        else if (!f_string(c, src, "name", 1) && !f_int(c, src, "defaultMode", 0, 0777, 0) && !f_bool(c, src, "optional"))
            v_key_items(c, src);
        pop(c, m);
    }
    if (!c->failed && (src = json_object_get(vol, "secret"))) {
        sources++;
        size_t m = push_key(c, "secret");
        if (!json_is_object(src)) bad_type(c, src, "object");
        else if (!f_string(c, src, "secretName", 1) && !f_int(c, src, "defaultMode", 0, 0777, 0) && !f_bool(c, src, "optional"))
            v_key_items(c, src);
        pop(c, m);
    }
    for (size_t i = 0; i < sizeof other_sources / sizeof other_sources[0]; i++)
        if (json_object_get(vol, other_sources[i])) sources++;
    if (c->failed) return -EINVAL;
    if (sources == 0) return fail(c, vol, "Required value: must specify a volume type");
    if (sources > 1) return fail(c, vol, "Forbidden: may not specify more than 1 volume type");
    return 0;
}

static int v_pod_spec(struct vctx *c, const json_t *spec, int in_template)
{
    if (!json_is_object(spec)) return bad_type(c, spec, "object");
    const json_t *volumes, *containers, *item;
    size_t i;
    if (f_array(c, spec, "volumes", &volumes)) return -EINVAL;
    if (volumes) {
        size_t m = push_key(c, "volumes");
        json_array_foreach(volumes, i, item) {
            size_t m2 = push_index(c, i);
            if (!v_volume(c, item)) {
                const char *name = json_string_value(json_object_get(item, "name"));
                for (size_t j = 0; j < i && !c->failed; j++)
                    if (!strcmp(json_string_value(json_object_get(json_array_get(volumes, j), "name")), name)) {
                        size_t m3 = push_key(c, "name");
                        fail(c, json_object_get(item, "name"), "Duplicate value: \"%.100s\"", name);
                        pop(c, m3);
                    }
            }
            pop(c, m2);
            if (c->failed) break;
        }
        pop(c, m);
        if (c->failed) return -EINVAL;
    }
    static const char *const lists[] = {"containers", "initContainers"};
    for (size_t l = 0; l < 2; l++) {
        if (f_array(c, spec, lists[l], &containers)) return -EINVAL;
        if (l == 0 && (!containers || json_array_size(containers) == 0)) {
            size_t m = push_key(c, "containers");
            fail(c, containers ? containers : spec, "Required value");
            pop(c, m);
            return -EINVAL;
        }
        if (!containers) continue;
        size_t m = push_key(c, lists[l]);
        json_array_foreach(containers, i, item) {
            size_t m2 = push_index(c, i);
            if (!v_container(c, item, volumes)) {
                const json_t *name = json_object_get(item, "name");
                /* names are unique across containers and initContainers */
                for (size_t ll = 0; ll <= l && !c->failed; ll++) {
                    const json_t *prev = json_object_get(spec, lists[ll]);
                    size_t upto = ll == l ? i : json_array_size(prev);
                    for (size_t j = 0; j < upto && !c->failed; j++)
                        if (json_equal(json_object_get(json_array_get(prev, j), "name"), name)) {
                            size_t m3 = push_key(c, "name");
                            fail(c, name, "Duplicate value: \"%.100s\"", json_string_value(name));
                            pop(c, m3);
                        }
                }
            }
            pop(c, m2);
            if (c->failed) break;
        }
        pop(c, m);
        if (c->failed) return -EINVAL;
    }
    static const char *const restart_any[] = {"Always", "OnFailure", "Never", NULL};
    static const char *const restart_always[] = {"Always", NULL};
    if (f_enum(c, spec, "restartPolicy", in_template ? restart_always : restart_any)) return -EINVAL;
    if (f_string_map(c, spec, "nodeSelector", NULL)) return -EINVAL;
    if (f_int(c, spec, "terminationGracePeriodSeconds", 0, INT64_MAX, 0)) return -EINVAL;
    if (f_int(c, spec, "activeDeadlineSeconds", 1, INT64_MAX, 0)) return -EINVAL;
    if (f_string(c, spec, "nodeName", 0) || f_string(c, spec, "serviceAccountName", 0) || f_string(c, spec, "hostname", 0))
        return -EINVAL;
    return 0;
}

/* ---- kinds -------------------------------------------------------------- */

/* map[string]string{"a":"b"} as Go prints it in selector messages. */
static void go_map(const json_t *map, char *out, size_t n)
{
    size_t used = 0;
    int w = snprintf(out, n, "map[string]string{");
    if (w > 0) used = (size_t)w < n ? (size_t)w : n - 1;
    const char *k;
    json_t *v;
    int first = 1;
    json_object_foreach((json_t *)map, k, v) {
        w = snprintf(out + used, n - used, "%s\"%.60s\":\"%.60s\"", first ? "" : ", ", k, json_is_string(v) ? json_string_value(v) : "");
        if (w > 0) used = used + (size_t)w < n ? used + (size_t)w : n - 1;
        first = 0;
    }
    snprintf(out + used, n - used, "}");
}

static int v_workload(struct vctx *c, const json_t *obj, const char *kind)
{
    const json_t *spec;
    if (f_required(c, obj, "spec", &spec)) return -EINVAL;
    size_t m = push_key(c, "spec");
    const json_t *sel, *tmpl, *tmeta = NULL, *tlabels = NULL, *match = NULL, *tspec;
    if (!json_is_object(spec)) {
        bad_type(c, spec, "object");
        goto out;
    }
    if (f_int(c, spec, "replicas", 0, INT32_MAX, 0) || f_int(c, spec, "revisionHistoryLimit", 0, INT32_MAX, 0) ||
        f_int(c, spec, "minReadySeconds", 0, INT32_MAX, 0) || f_int(c, spec, "progressDeadlineSeconds", 0, INT32_MAX, 0))
        goto out;
    if (!strcmp(kind, "Deployment")) {
        const json_t *strategy;
        static const char *const types[] = {"Recreate", "RollingUpdate", NULL};
        if (f_object(c, spec, "strategy", &strategy)) goto out;
        if (strategy) {
            size_t m2 = push_key(c, "strategy");
            f_enum(c, strategy, "type", types);
            pop(c, m2);
            if (c->failed) goto out;
        }
    }
    if (f_required(c, spec, "selector", &sel)) goto out;
    size_t m2 = push_key(c, "selector");
    if (!json_is_object(sel)) bad_type(c, sel, "object");
    else if (!f_string_map(c, sel, "matchLabels", check_label) && !f_array(c, sel, "matchExpressions", &tmpl)) {
        match = json_object_get(sel, "matchLabels");
        if ((!match || !json_object_size(match)) && !json_array_size(json_object_get(sel, "matchExpressions")))
            fail(c, sel, "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment");
    }
    pop(c, m2);
    if (c->failed) goto out;
    if (f_required(c, spec, "template", &tmpl)) goto out;
    m2 = push_key(c, "template");
    if (!json_is_object(tmpl)) {
        bad_type(c, tmpl, "object");
        goto out2;
    }
    if (f_object(c, tmpl, "metadata", &tmeta)) goto out2;
    if (tmeta) {
        size_t m3 = push_key(c, "metadata");
        f_string_map(c, tmeta, "labels", check_label);
        if (!c->failed) f_string_map(c, tmeta, "annotations", check_annotation);
        pop(c, m3);
        if (c->failed) goto out2;
        tlabels = json_object_get(tmeta, "labels");
    }
    if (match) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)match, k, v) {
            const json_t *tv = json_object_get(tlabels, k);
            if (!json_is_string(tv) || strcmp(json_string_value(tv), json_string_value(v))) {
                char shown_map[512];
                go_map(tlabels, shown_map, sizeof shown_map);
                size_t m3 = push_key(c, "metadata.labels");
                fail(c, tlabels ? tlabels : tmpl, "Invalid value: %s: `selector` does not match template `labels`", shown_map);
                pop(c, m3);
                goto out2;
            }
        }
    }
    if (f_required(c, tmpl, "spec", &tspec)) goto out2;
    size_t m3 = push_key(c, "spec");
    v_pod_spec(c, tspec, 1);
    pop(c, m3);
out2:
    pop(c, m2);
out:
    pop(c, m);
    return c->failed ? -EINVAL : 0;
}

static int is_ipv4(const char *s)
{
    int parts = 0;
    const char *p = s;
    while (*p) {
        if (!isdigit((unsigned char)*p)) return 0;
        long v = 0;
        int digits = 0;
        while (isdigit((unsigned char)*p)) {
            v = v * 10 + (*p++ - '0');
            if (++digits > 3) return 0;
        }
        if (v > 255) return 0;
        parts++;
        if (*p == '.') p++;
        else if (*p) return 0;
        if (parts == 4) return *p == '\0' && p[-1] != '.';
    }
    return 0;
}

static int v_service(struct vctx *c, const json_t *obj)
{
    const json_t *spec;
    if (f_required(c, obj, "spec", &spec)) return -EINVAL;
    size_t m = push_key(c, "spec");
    static const char *const types[] = {"ClusterIP", "NodePort", "LoadBalancer", NULL};
    const json_t *ports, *item;
    size_t i;
    if (!json_is_object(spec)) {
        bad_type(c, spec, "object");
        goto out;
    }
    if (f_enum(c, spec, "type", types) || f_string_map(c, spec, "selector", check_label) || f_string(c, spec, "clusterIP", 0))
        goto out;
    const json_t *cip = json_object_get(spec, "clusterIP");
    const char *ip = json_string_value(cip);
    int headless = ip && !strcmp(ip, "None");
    if (ip && *ip && !headless && !is_ipv4(ip)) {
        size_t m2 = push_key(c, "clusterIP");
        fail(c, cip, "Invalid value: \"%.100s\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)", ip);
        pop(c, m2);
        goto out;
    }
    if (f_array(c, spec, "ports", &ports)) goto out;
    if (!ports || !json_array_size(ports)) {
        if (!headless) {
            size_t m2 = push_key(c, "ports");
            fail(c, ports ? ports : spec, "Required value");
            pop(c, m2);
        }
        goto out;
    }
    size_t m2 = push_key(c, "ports");
    json_array_foreach(ports, i, item) {
        size_t m3 = push_index(c, i);
        if (!json_is_object(item)) bad_type(c, item, "object");
        else if (!f_int(c, item, "port", 1, 65535, 1) && !f_enum(c, item, "protocol", PROTOCOLS) &&
                 !f_int(c, item, "nodePort", 0, 65535, 0) && !f_string(c, item, "name", json_array_size(ports) > 1)) {
            const json_t *tp = json_object_get(item, "targetPort");
            const json_t *name = json_object_get(item, "name");
            if (tp && !json_is_null(tp)) {
                size_t m4 = push_key(c, "targetPort");
                check_int_or_port_name(c, tp);
                pop(c, m4);
            }
            if (!c->failed && json_is_string(name) && json_string_length(name)) {
                size_t m4 = push_key(c, "name");
                const char *s = json_string_value(name);
                if (!is_dns_label(s, strlen(s))) fail(c, name, "Invalid value: \"%.100s\": %s", s, DNS1123_LABEL_MSG);
                for (size_t j = 0; j < i && !c->failed; j++)
                    if (json_equal(json_object_get(json_array_get(ports, j), "name"), name))
                        fail(c, name, "Duplicate value: \"%.100s\"", s);
                pop(c, m4);
            }
            for (size_t j = 0; j < i && !c->failed; j++) {
                const json_t *other = json_array_get(ports, j);
                const char *p1 = json_string_value(json_object_get(other, "protocol")), *p2 = json_string_value(json_object_get(item, "protocol"));
                if (json_equal(json_object_get(other, "port"), json_object_get(item, "port")) &&
                    !strcmp(p1 ? p1 : "TCP", p2 ? p2 : "TCP")) {
                    char tmp[600];
                    snprintf(tmp, sizeof tmp, "core.ServicePort{Name:\"%.60s\", Protocol:\"%s\", Port:%" JSON_INTEGER_FORMAT "}",
                             json_is_string(name) ? json_string_value(name) : "", p2 ? p2 : "TCP",
                             json_integer_value(json_object_get(item, "port")));
                    fail(c, item, "Duplicate value: %s", tmp);
                }
            }
        }
        pop(c, m3);
        if (c->failed) break;
    }
    pop(c, m2);
out:
    pop(c, m);
    return c->failed ? -EINVAL : 0;
}

static int is_config_key(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 253 || !strcmp(s, ".") || !strcmp(s, "..") || !strncmp(s, "..", 2)) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') return 0;
    return 1;
}

static int check_config_key(struct vctx *c, const json_t *map, const char *k, const json_t *v)
{
    if (is_config_key(k)) return 0;
    return fail(c, map, "Invalid value: \"%.100s\": a valid config key must consist of alphanumeric characters, '-', "
                        "'_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
                        "'[-._a-zA-Z0-9]+')", k);
}

/* Standard base64 with padding, as Go's encoding/json decodes []byte.
 * -1 when valid, else the offset of the first bad byte. */
static long base64_bad_at(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (isalnum((unsigned char)ch) || ch == '+' || ch == '/') continue;
        if (ch == '=' && (i + 1 == n || (i + 2 == n && s[i + 1] == '=')) && n % 4 == 0 && i >= n - 2) continue;
        return (long)i;
    }
    if (n % 4) return (long)(n - n % 4);
    return -1;
}

static int check_base64(struct vctx *c, const json_t *map, const char *k, const json_t *v)
{
    if (check_config_key(c, map, k, v)) return -EINVAL;
    long at = base64_bad_at(json_string_value(v));
    if (at < 0) return 0;
    size_t m = push_mapkey(c, k);
    fail(c, v, "Invalid value: \"%.60s\": illegal base64 data at input byte %ld", json_string_value(v), at);
    pop(c, m);
    return -EINVAL;
}

static int v_configmap(struct vctx *c, const json_t *obj)
{
    if (f_string_map(c, obj, "data", check_config_key) || f_string_map(c, obj, "binaryData", check_base64) ||
        f_bool(c, obj, "immutable"))
        return -EINVAL;
    const json_t *data = json_object_get(obj, "data"), *bin = json_object_get(obj, "binaryData");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)data, k, v) {
        if (json_object_get(bin, k)) {
            size_t m = push_key(c, "data");
            size_t m2 = push_mapkey(c, k);
            fail(c, v, "Invalid value: \"%.100s\": duplicate of key present in binaryData", k);
            pop(c, m2);
            pop(c, m);
            return -EINVAL;
        }
    }
    return 0;
}

static int v_secret(struct vctx *c, const json_t *obj)
{
    if (f_string_map(c, obj, "data", check_base64) || f_string_map(c, obj, "stringData", check_config_key) ||
        f_string(c, obj, "type", 0) || f_bool(c, obj, "immutable"))
        return -EINVAL;
    return 0;
}

int manifest_validate(const json_t *obj, char *err, size_t errlen, const json_t **bad)
{
    struct vctx c;
    memset(&c, 0, sizeof c);
    c.err = err;
    c.errlen = errlen;
    if (errlen) err[0] = '\0';
    if (!json_is_object(obj)) {
        fail(&c, obj, "Object 'Kind' is missing in '%s'", obj ? type_name(obj) : "null");
        goto out;
    }
    const json_t *kindv = json_object_get(obj, "kind"), *apiv = json_object_get(obj, "apiVersion");
    if (!json_is_string(kindv) || !json_string_length(kindv)) {
        fail(&c, kindv ? kindv : obj, "Object 'Kind' is missing in object");
        goto out;
    }
    if (!json_is_string(apiv) || !json_string_length(apiv)) {
        fail(&c, apiv ? apiv : obj, "Object 'apiVersion' is missing in object of kind \"%.100s\"", json_string_value(kindv));
        goto out;
    }
    const char *kind = json_string_value(kindv), *api = json_string_value(apiv);
    const struct kind_info *ki = kind_info(kind);
    if (!ki || strcmp(ki->api_version, api)) {
        fail(&c, ki ? apiv : kindv, "no matches for kind \"%.100s\" in version \"%.100s\"", kind, api);
        goto out;
    }
    enum name_rule rule = NAME_SUBDOMAIN;
    if (!strcmp(kind, "Namespace")) rule = NAME_LABEL;
    else if (!strcmp(kind, "Service")) rule = NAME_DNS1035;
    if (v_metadata(&c, obj, rule, ki->namespaced)) goto out;
    if (!strcmp(kind, "Deployment") || !strcmp(kind, "ReplicaSet")) v_workload(&c, obj, kind);
    else if (!strcmp(kind, "Pod")) {
        const json_t *spec;
        if (!f_required(&c, obj, "spec", &spec)) {
            size_t m = push_key(&c, "spec");
            v_pod_spec(&c, spec, 0);
            pop(&c, m);
        }
    } else if (!strcmp(kind, "Service")) v_service(&c, obj);
    else if (!strcmp(kind, "ConfigMap")) v_configmap(&c, obj);
    else if (!strcmp(kind, "Secret")) v_secret(&c, obj);
out:
    if (c.failed && bad) *bad = c.bad ? c.bad : obj;
    return c.failed ? -EINVAL : 0;
}
