/* jsonpath: the JSONPath template language of kubectl -o jsonpath=...,
 * the subset agents use: text with {expr} actions, field paths
 * (.a.b, ['a.b'], ..a recursive), [n], [-1], [a:b] slices, [*] and .*,
 * [?(@.x=="y")] filters (==, !=, <, >, <=, >=, or bare existence),
 * {range EXPR}...{end}, and {"\n"} literals. As kubectl's printer does,
 * a missing key prints nothing; several results of one action are joined
 * by a space; maps and lists print as compact JSON. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "kubectl/kread.h"

#define MAX_DEPTH 32
#define MAX_RESULTS 1000000

struct vec {
    json_t **v;
    size_t n, cap;
};

static void vec_push(struct vec *s, json_t *j)
{
    if (s->n >= MAX_RESULTS) return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = j;
}

struct jp {
    const json_t *root;
    char *err;
    size_t errlen;
    int failed;
};

static void fail(struct jp *jp, const char *msg, const char *at)
{
    if (jp->failed) return;
    jp->failed = 1;
    snprintf(jp->err, jp->errlen, "%s at \"%.40s\"", msg, at);
}

static void all_children(json_t *v, struct vec *out)
{
    size_t i;
    json_t *c;
    const char *k;
    if (json_is_array(v)) {
        json_array_foreach(v, i, c) vec_push(out, c);
    } else if (json_is_object(v)) {
        json_object_foreach(v, k, c) vec_push(out, c);
    }
}

static void recursive(json_t *v, const char *name, struct vec *out, int depth)
{
    if (depth > 64) return;
    size_t i;
    json_t *c;
    const char *k;
    if (json_is_object(v)) {
        json_t *hit = name ? json_object_get(v, name) : NULL;
        if (hit) vec_push(out, hit);
        json_object_foreach(v, k, c) recursive(c, name, out, depth + 1);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, c) recursive(c, name, out, depth + 1);
    }
}

/* Find the end of a bracket starting at p ('['), respecting quotes and
 * parentheses. */
static const char *bracket_end(const char *p)
{
    int depth = 0;
    char q = 0;
    for (; *p; p++) {
        if (q) {
            if (*p == '\\' && p[1]) p++;
            else if (*p == q) q = 0;
        } else if (*p == '\'' || *p == '"') {
            q = *p;
        } else if (*p == '[' || *p == '(') {
            depth++;
        } else if (*p == ']' || *p == ')') {
            if (--depth == 0 && *p == ']') return p;
        }
    }
    return NULL;
}

static char *unquote(const char *s, size_t n)
{
    struct buf b;
    buf_init(&b, n + 1);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            c = s[++i];
            c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
        }
        buf_append(&b, &c, 1);
    }
    return buf_steal(&b);
}

static char *trim_dup(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s)) s++, n--;
    while (n && isspace((unsigned char)s[n - 1])) n--;
    return xstrndup(s, n);
}

static void eval_path(struct jp *jp, const char *expr, size_t len, json_t *cur, struct vec *out, int depth);

/* A literal or path operand in a filter, compared with op. */
static int filter_operand(struct jp *jp, const char *s, json_t *elem, json_t **val, int depth)
{
    size_t n = strlen(s);
    if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
        char *u = unquote(s + 1, n - 2);
        *val = json_string(u);
        free(u);
        return 0;
    }
    if (s[0] == '@' || s[0] == '$' || s[0] == '.') {
        struct vec r = {0};
        if (s[0] == '$')
            eval_path(jp, s + 1, n - 1, (json_t *)jp->root, &r, depth + 1);
        else
            eval_path(jp, s + (s[0] == '@'), n - (s[0] == '@'), elem, &r, depth + 1);
        *val = r.n ? json_incref(r.v[0]) : NULL;
        free(r.v);
        return 0;
    }
    if (!strcmp(s, "true") || !strcmp(s, "false")) {
        *val = json_boolean(!strcmp(s, "true"));
        return 0;
    }
    char *end;
    double d = strtod(s, &end);
    if (end != s && !*end) {
        *val = json_real(d);
        return 0;
    }
    *val = json_string(s); /* bare word: compare as text */
    return 0;
}

static int compare(json_t *a, json_t *b, const char *op)
{
    int cmp;
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        cmp = x < y ? -1 : x > y;
    } else if (json_is_string(a) && json_is_string(b)) {
        cmp = strcmp(json_string_value(a), json_string_value(b));
    } else if (json_is_boolean(a) && json_is_boolean(b)) {
        cmp = json_is_true(a) != json_is_true(b);
    } else {
        return !strcmp(op, "!=") ? 1 : 0;
    }
    if (!strcmp(op, "==")) return cmp == 0;
    if (!strcmp(op, "!=")) return cmp != 0;
    if (!strcmp(op, "<")) return cmp < 0;
    if (!strcmp(op, ">")) return cmp > 0;
    if (!strcmp(op, "<=")) return cmp <= 0;
    if (!strcmp(op, ">=")) return cmp >= 0;
    return 0;
}

static void apply_filter(struct jp *jp, const char *f, size_t n, json_t *cur, struct vec *out, int depth)
{
    /* f is the inside of ?( ... ) */
    char *s = trim_dup(f, n);
    static const char *ops[] = {"==", "!=", "<=", ">=", "<", ">"};
    char *opat = NULL;
    const char *op = NULL;
    char q = 0;
    for (char *p = s; *p && !op; p++) {
        if (q) {
            if (*p == q) q = 0;
            continue;
        }
        if (*p == '"' || *p == '\'') {
            q = *p;
            continue;
        }
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
            if (!strncmp(p, ops[i], strlen(ops[i]))) {
                op = ops[i];
                opat = p;
                break;
            }
    }
    char *left = op ? trim_dup(s, (size_t)(opat - s)) : xstrdup(s);
    char *right = op ? trim_dup(opat + strlen(op), strlen(opat + strlen(op))) : NULL;
    struct vec elems = {0};
    if (json_is_array(cur))
        all_children(cur, &elems);
    else
        vec_push(&elems, cur);
    for (size_t i = 0; i < elems.n; i++) {
        json_t *a = NULL, *b = NULL;
        filter_operand(jp, left, elems.v[i], &a, depth);
        int keep;
        if (!op) {
            keep = a != NULL && !json_is_false(a) && !json_is_null(a);
        } else {
            filter_operand(jp, right, elems.v[i], &b, depth);
            keep = a && b && compare(a, b, op);
        }
        json_decref(a);
        json_decref(b);
        if (keep) vec_push(out, elems.v[i]);
    }
    free(elems.v);
    free(left);
    free(right);
    free(s);
}

static void apply_bracket(struct jp *jp, const char *in, size_t n, json_t *cur, struct vec *out, int depth)
{
    char *s = trim_dup(in, n);
    size_t len = strlen(s);
    if (!strcmp(s, "*")) {
        all_children(cur, out);
    } else if (s[0] == '?') {
        const char *lp = strchr(s, '('), *rp = strrchr(s, ')');
        if (!lp || !rp || rp < lp)
            fail(jp, "bad filter", s);
        else
            apply_filter(jp, lp + 1, (size_t)(rp - lp - 1), cur, out, depth);
    } else if (len >= 2 && (s[0] == '\'' || s[0] == '"')) {
        /* one or more quoted names separated by commas */
        const char *p = s;
        while (*p) {
            char q = *p;
            if (q != '\'' && q != '"') {
                fail(jp, "bad quoted name", p);
                break;
            }
            const char *e = p + 1;
            while (*e && *e != q) e += (*e == '\\' && e[1]) ? 2 : 1;
            char *name = unquote(p + 1, (size_t)(e - p - 1));
            json_t *v = json_is_object(cur) ? json_object_get(cur, name) : NULL;
            if (v) vec_push(out, v);
            free(name);
            p = *e ? e + 1 : e;
            while (*p == ',' || isspace((unsigned char)*p)) p++;
        }
    } else if (strchr(s, ':')) {
        if (json_is_array(cur)) {
            long sz = (long)json_array_size(cur), a = 0, b = sz, step = 1;
            char *p = s, *end;
            if (*p != ':') a = strtol(p, &end, 10), p = end;
            if (*p == ':') p++;
            if (*p && *p != ':') b = strtol(p, &end, 10), p = end;
            if (*p == ':') {
                p++;
                if (*p) step = strtol(p, &end, 10);
            }
            if (a < 0) a += sz;
            if (b < 0) b += sz;
            if (a < 0) a = 0;
            if (b > sz) b = sz;
            if (step <= 0) step = 1;
            for (long i = a; i < b; i += step) vec_push(out, json_array_get(cur, (size_t)i));
        }
    } else {
        /* index or union of indexes */
        const char *p = s;
        while (*p) {
            char *end;
            long idx = strtol(p, &end, 10);
            if (end == p) {
                fail(jp, "bad index", p);
                break;
            }
            if (json_is_array(cur)) {
                long sz = (long)json_array_size(cur);
                if (idx < 0) idx += sz;
                if (idx >= 0 && idx < sz) vec_push(out, json_array_get(cur, (size_t)idx));
            }
            p = end;
            while (*p == ',' || isspace((unsigned char)*p)) p++;
        }
    }
    free(s);
}

/* Evaluate a path like ".items[*].metadata.name" from cur. */
static void eval_path(struct jp *jp, const char *expr, size_t len, json_t *cur, struct vec *out, int depth)
{
    if (depth > MAX_DEPTH) {
        fail(jp, "expression nested too deeply", expr);
        return;
    }
    struct vec set = {0}, next = {0};
    vec_push(&set, cur);
    const char *p = expr, *end = expr + len;
    while (p < end && isspace((unsigned char)*p)) p++;
    while (end > p && isspace((unsigned char)end[-1])) end--;
    if (p < end && *p == '$') {
        set.v[0] = (json_t *)jp->root;
        p++;
    } else if (p < end && *p == '@') {
        p++;
    }
    while (p < end && !jp->failed) {
        next.n = 0;
        if (*p == '.') {
            int rec = p + 1 < end && p[1] == '.';
            p += rec ? 2 : 1;
            struct buf name;
            buf_init(&name, 4096);
            while (p < end && *p != '.' && *p != '[') {
                if (*p == '\\' && p + 1 < end) p++;
                buf_append(&name, p, 1);
                p++;
            }
            for (size_t i = 0; i < set.n; i++) {
                json_t *v = set.v[i];
                if (rec) {
                    if (!strcmp(name.data, "*") || !name.len) {
                        recursive(v, NULL, &next, 0);
                    } else {
                        recursive(v, name.data, &next, 0);
                    }
                } else if (!name.len) {
                    vec_push(&next, v);
                } else if (!strcmp(name.data, "*")) {
                    all_children(v, &next);
                } else if (json_is_object(v)) {
                    json_t *c = json_object_get(v, name.data);
                    if (c) vec_push(&next, c);
                }
            }
            buf_free(&name);
        } else if (*p == '[') {
            const char *e = bracket_end(p);
            if (!e || e >= end) {
                fail(jp, "unterminated [", p);
                break;
            }
            for (size_t i = 0; i < set.n; i++) apply_bracket(jp, p + 1, (size_t)(e - p - 1), set.v[i], &next, depth);
            p = e + 1;
        } else {
            /* a bare name at the start ("items[0]") */
            const char *s = p;
            while (p < end && *p != '.' && *p != '[') p++;
            char *name = xstrndup(s, (size_t)(p - s));
            for (size_t i = 0; i < set.n; i++) {
                json_t *c = json_is_object(set.v[i]) ? json_object_get(set.v[i], name) : NULL;
                if (c) vec_push(&next, c);
            }
            free(name);
        }
        struct vec tmp = set;
        set = next;
        next = tmp;
    }
    for (size_t i = 0; i < set.n; i++) vec_push(out, set.v[i]);
    free(set.v);
    free(next.v);
}

static void print_value(json_t *v, struct buf *out)
{
    if (json_is_string(v)) {
        buf_puts(out, json_string_value(v));
    } else if (json_is_integer(v)) {
        buf_printf(out, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        buf_printf(out, "%.15g", json_real_value(v));
    } else if (json_is_true(v)) {
        buf_puts(out, "true");
    } else if (json_is_false(v)) {
        buf_puts(out, "false");
    } else if (json_is_null(v)) {
        buf_puts(out, "<nil>");
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        if (s) buf_puts(out, s);
        free(s);
    }
}

/* Find the matching "}" of an action starting after "{", respecting quotes. */
static const char *action_end(const char *p)
{
    char q = 0;
    for (; *p; p++) {
        if (q) {
            if (*p == '\\' && p[1]) p++;
            else if (*p == q) q = 0;
        } else if (*p == '"' || *p == '\'') {
            q = *p;
        } else if (*p == '}') {
            return p;
        }
    }
    return NULL;
}

/* Run the template from *pp in context cur until the end or a matching
 * {end}; *pp is left after it. */
static void run(struct jp *jp, const char **pp, json_t *cur, int in_range, struct buf *out, json_t *collect,
                int depth)
{
    const char *p = *pp;
    if (depth > MAX_DEPTH) {
        fail(jp, "range nested too deeply", p);
        return;
    }
    while (*p && !jp->failed) {
        if (*p != '{') {
            const char *b = strchr(p, '{');
            size_t n = b ? (size_t)(b - p) : strlen(p);
            if (!collect) buf_append(out, p, n);
            p += n;
            continue;
        }
        const char *e = action_end(p + 1);
        if (!e) {
            fail(jp, "unclosed action", p);
            break;
        }
        char *act = trim_dup(p + 1, (size_t)(e - p - 1));
        p = e + 1;
        if (!strcmp(act, "end")) {
            free(act);
            if (!in_range) fail(jp, "not in range, nothing to end", p);
            *pp = p;
            return;
        }
        if (!strncmp(act, "range", 5) && (isspace((unsigned char)act[5]) || !act[5])) {
            struct vec r = {0};
            eval_path(jp, act + 5, strlen(act + 5), cur, &r, depth);
            struct vec items = {0};
            for (size_t i = 0; i < r.n; i++) {
                if (json_is_array(r.v[i]) && r.n == 1)
                    all_children(r.v[i], &items);
                else
                    vec_push(&items, r.v[i]);
            }
            /* Find the body once even when there are no items. */
            const char *body = p, *after = p;
            struct buf sink;
            buf_init(&sink, 1);
            json_t *nothing = json_array();
            after = body;
            run(jp, &after, cur, 1, &sink, nothing, depth + 1);
            json_decref(nothing);
            buf_free(&sink);
            for (size_t i = 0; i < items.n && !jp->failed; i++) {
                const char *q = body;
                run(jp, &q, items.v[i], 1, out, collect, depth + 1);
            }
            p = after;
            free(r.v);
            free(items.v);
        } else if (act[0] == '"' || act[0] == '\'') {
            size_t n = strlen(act);
            if (n < 2 || act[n - 1] != act[0]) {
                fail(jp, "unterminated quoted string", act);
            } else if (!collect) {
                char *u = unquote(act + 1, n - 2);
                buf_puts(out, u);
                free(u);
            }
        } else {
            struct vec r = {0};
            eval_path(jp, act, strlen(act), cur, &r, depth);
            for (size_t i = 0; i < r.n; i++) {
                if (collect) {
                    json_array_append(collect, r.v[i]);
                } else {
                    if (i) buf_puts(out, " ");
                    print_value(r.v[i], out);
                }
            }
            free(r.v);
        }
        free(act);
    }
    if (in_range && !jp->failed) fail(jp, "range without end", *pp);
    *pp = p;
}

int kc_jsonpath(const char *tmpl, const json_t *root, int as_json, struct buf *out, char *err, size_t errlen)
{
    struct jp jp = {.root = root, .err = err, .errlen = errlen};
    const char *p = tmpl;
    size_t n = strlen(tmpl);
    char *stripped = NULL;
    /* kubectl accepts the template in quotes: -o jsonpath='{...}' arrives
     * unquoted from a shell, but "jsonpath=\"...\"" from some callers. */
    if (n >= 2 && (tmpl[0] == '\'' || tmpl[0] == '"') && tmpl[n - 1] == tmpl[0]) {
        stripped = xstrndup(tmpl + 1, n - 2);
        p = stripped;
    }
    json_t *collect = as_json ? json_array() : NULL;
    struct buf tmp;
    buf_init(&tmp, out->max);
    run(&jp, &p, (json_t *)root, 0, &tmp, collect, 0);
    int rc = 0;
    if (jp.failed) {
        rc = -EINVAL;
    } else if (collect) {
        char *s = json_dumps(collect, JSON_INDENT(4) | JSON_ENCODE_ANY);
        buf_printf(out, "%s\n", s ? s : "[]");
        free(s);
    } else if (buf_append(out, tmp.data, tmp.len)) {
        snprintf(err, errlen, "output too large");
        rc = -E2BIG;
    }
    json_decref(collect);
    buf_free(&tmp);
    free(stripped);
    return rc;
}
