/* trace_jread: a JSON pull reader and jansson-compatible writers (see
 * trace_jread.h). The rules follow jansson 2.14's load.c and dump.c, so that
 * a body is refused, and a value written, exactly as there. Strings are
 * copied in runs of plain ASCII; the per-byte work is only at escapes and
 * multi-byte characters. */
#include "observe/trace_jread.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#define DEPTH_MAX 2048 /* jansson's JSON_PARSER_MAX_DEPTH */

/* ---- jstr ------------------------------------------------------------- */

static void reserve(struct jstr *b, size_t n);

/* After a reset s is never NULL, so an empty string is "" for the callers. */
void jstr_reset(struct jstr *b)
{
    b->len = 0;
    reserve(b, 0);
    b->s[0] = '\0';
}

void jstr_free(struct jstr *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

static void reserve(struct jstr *b, size_t n)
{
    if (b->len + n + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    b->s = xrealloc(b->s, cap);
    b->cap = cap;
}

void jstr_put(struct jstr *b, const char *p, size_t n)
{
    reserve(b, n);
    if (n) memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void put_char(struct jstr *b, char c)
{
    reserve(b, 1);
    b->s[b->len++] = c;
    b->s[b->len] = '\0';
}

void jstr_put_json(struct jstr *b, const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    reserve(b, n + 2);
    b->s[b->len++] = '"';
    const char *end = n ? p + n : p;
    while (p < end) {
        const char *run = p;
        while (p < end && (unsigned char)*p >= 0x20 && *p != '"' && *p != '\\') p++;
        if (p > run) jstr_put(b, run, (size_t)(p - run));
        if (p == end) break;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t el = 2;
        switch (*p) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u', esc[2] = '0', esc[3] = '0';
            esc[4] = hex[(unsigned char)*p >> 4], esc[5] = hex[*p & 15];
            el = 6;
        }
        jstr_put(b, esc, el);
        p++;
    }
    put_char(b, '"');
}

void jstr_put_int(struct jstr *b, long long v)
{
    char num[32];
    int n = snprintf(num, sizeof num, "%lld", v);
    jstr_put(b, num, (size_t)n);
}

void jstr_put_real(struct jstr *b, double v)
{
    char num[64];
    int n = snprintf(num, sizeof num, "%.17g", v);
    if (n <= 0 || (size_t)n >= sizeof num - 3) return;
    size_t len = (size_t)n;
    if (!strchr(num, '.') && !strchr(num, 'e')) {
        memcpy(num + len, ".0", 3);
        len += 2;
    }
    char *start = strchr(num, 'e');
    if (start) { /* "1e+20" -> "1e20", "1e-07" -> "1e-7" */
        start++;
        char *end = start + 1;
        if (*start == '-') start++;
        while (*end == '0') end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - num) + 1);
            len -= (size_t)(end - start);
        }
    }
    jstr_put(b, num, len);
}

/* ---- reader ----------------------------------------------------------- */

void jr_init(struct jread *r, const char *text, size_t len)
{
    memset(r, 0, sizeof *r);
    r->start = r->p = text;
    r->end = text + len;
}

void jr_free(struct jread *r)
{
    jstr_free(&r->keys);
    jstr_free(&r->num);
    free(r->refs);
    free(r->frames);
    r->refs = NULL;
    r->frames = NULL;
}

__attribute__((format(printf, 2, 3))) static int fail(struct jread *r, const char *fmt, ...)
{
    if (r->failed) return -1;
    r->failed = 1;
    int line = 1, col = 1;
    for (const char *q = r->start; q < r->p && q < r->end; q++) {
        if (*q == '\n') line++, col = 1;
        else col++;
    }
    int n = snprintf(r->err, sizeof r->err, "line %d column %d: ", line, col);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof r->err) vsnprintf(r->err + n, sizeof r->err - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static void skip_ws(struct jread *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\t' || *r->p == '\r')) r->p++;
}

int jr_peek(struct jread *r)
{
    if (r->failed) return JR_ERR;
    skip_ws(r);
    if (r->p == r->end) return JR_END;
    switch (*r->p) {
    case '{': return JR_OBJECT;
    case '[': return JR_ARRAY;
    case '"': return JR_STRING;
    case 't': return JR_TRUE;
    case 'f': return JR_FALSE;
    case 'n': return JR_NULL;
    default:
        if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9')) return JR_NUMBER;
        return fail(r, "invalid token");
    }
}

static int expect(struct jread *r, char c)
{
    if (r->failed) return -1;
    skip_ws(r);
    if (r->p == r->end) return fail(r, "premature end of input");
    if (*r->p != c) return fail(r, "'%c' expected", c);
    r->p++;
    return 0;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return -1;
    }
    return v;
}

static void put_utf8(struct jstr *out, long cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) u[0] = (char)cp, n = 1;
    else if (cp < 0x800) u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    else if (cp < 0x10000)
        u[0] = (char)(0xE0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[2] = (char)(0x80 | (cp & 0x3F)),
        n = 3;
    else
        u[0] = (char)(0xF0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    jstr_put(out, u, n);
}

/* One UTF-8 sequence at p (lead byte >= 0x80): its length, or 0 if invalid
 * (overlong, surrogate, past U+10FFFF, truncated). */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned long cp;
    if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07;
    else return 0;
    if ((size_t)(end - p) < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* A string at r->p, decoded into out (NULL: checked only). */
static int read_string(struct jread *r, struct jstr *out)
{
    if (r->failed) return -1;
    skip_ws(r);
    if (r->p == r->end || *r->p != '"') return fail(r, "string expected");
    const char *p = r->p + 1, *end = r->end;
    for (;;) {
        const char *run = p;
        while (p < end && (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x80 && *p != '"' && *p != '\\') p++;
        if (out && p > run) jstr_put(out, run, (size_t)(p - run));
        r->p = p;
        if (p == end) return fail(r, "premature end of input");
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            r->p = p + 1;
            return 0;
        }
        if (c < 0x20) return fail(r, "control character 0x%x", c);
        if (c >= 0x80) {
            size_t n = utf8_len((const unsigned char *)p, (const unsigned char *)end);
            if (!n) return fail(r, "invalid UTF-8");
            if (out) jstr_put(out, p, n);
            p += n;
            continue;
        }
        /* an escape */
        if (end - p < 2) return fail(r, "premature end of input");
        char e = p[1], lit = 0;
        switch (e) {
        case '"': lit = '"'; break;
        case '\\': lit = '\\'; break;
        case '/': lit = '/'; break;
        case 'b': lit = '\b'; break;
        case 'f': lit = '\f'; break;
        case 'n': lit = '\n'; break;
        case 'r': lit = '\r'; break;
        case 't': lit = '\t'; break;
        case 'u': break;
        default: return fail(r, "invalid escape");
        }
        if (lit) {
            if (out) put_char(out, lit);
            p += 2;
            continue;
        }
        int u = end - p >= 6 ? hex4(p + 2) : -1;
        if (u < 0) return fail(r, "invalid escape");
        p += 6;
        long cp = u;
        if (u == 0) return fail(r, "\\u0000 is not allowed");
        if (u >= 0xDC00 && u <= 0xDFFF) return fail(r, "invalid Unicode '\\u%04X'", (unsigned)u);
        if (u >= 0xD800 && u <= 0xDBFF) {
            int lo = end - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4(p + 2) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF) return fail(r, "invalid Unicode '\\u%04X'", (unsigned)u);
            cp = 0x10000 + (((long)u - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
        }
        if (out) put_utf8(out, cp);
    }
}

int jr_string(struct jread *r, struct jstr *out)
{
    return read_string(r, out);
}

int jr_number(struct jread *r, int *is_int, long long *i, double *d)
{
    if (r->failed) return -1;
    skip_ws(r);
    const char *p = r->p, *end = r->end, *s = p;
    int integer = 1;
    if (p < end && *p == '-') p++;
    if (p < end && *p == '0') p++;
    else if (p < end && *p >= '1' && *p <= '9')
        while (p < end && *p >= '0' && *p <= '9') p++;
    else return fail(r, "invalid token");
    if (p < end && *p == '.') {
        integer = 0;
        p++;
        if (p == end || *p < '0' || *p > '9') return fail(r, "invalid token");
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        integer = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p == end || *p < '0' || *p > '9') return fail(r, "invalid token");
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    jstr_reset(&r->num);
    jstr_put(&r->num, s, (size_t)(p - s));
    errno = 0;
    if (integer) {
        long long v = strtoll(r->num.s, NULL, 10);
        if (errno == ERANGE) return fail(r, v < 0 ? "too big negative integer" : "too big integer");
        *i = v;
    } else {
        double v = strtod(r->num.s, NULL);
        if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL)) return fail(r, "real number overflow");
        *d = v;
    }
    *is_int = integer;
    r->p = p;
    return 0;
}

int jr_literal(struct jread *r)
{
    if (r->failed) return -1;
    skip_ws(r);
    static const char *const lits[] = {"true", "false", "null"};
    for (int k = 0; k < 3; k++) {
        size_t n = strlen(lits[k]);
        if ((size_t)(r->end - r->p) >= n && !memcmp(r->p, lits[k], n)) {
            r->p += n;
            return 0;
        }
    }
    return fail(r, "invalid token");
}

static int enter(struct jread *r, char c)
{
    if (expect(r, c)) return -1;
    if (++r->depth > DEPTH_MAX) return fail(r, "maximum parsing depth reached");
    return 0;
}

int jr_object(struct jread *r)
{
    if (enter(r, '{')) return -1;
    if (r->nframes == r->capframes) {
        r->capframes = r->capframes ? r->capframes * 2 : 16;
        r->frames = xrealloc(r->frames, r->capframes * sizeof *r->frames);
    }
    r->frames[r->nframes++] = r->nrefs;
    if (!r->refs) { /* so that an empty object has a base to point into */
        r->caprefs = 64;
        r->refs = xmalloc(r->caprefs * sizeof *r->refs);
    }
    skip_ws(r);
    return 0;
}

static int key_cmp(const void *a, const void *b, const char *base)
{
    const struct jkey *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(base + x->off, base + y->off, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static _Thread_local const char *sort_keys;
static int key_cmp_sort(const void *a, const void *b)
{
    return key_cmp(a, b, sort_keys);
}

/* Close the innermost object: refuse it if two of its keys are equal
 * (pairwise for small objects, sorted for large ones), then drop its keys. */
static int close_object(struct jread *r)
{
    size_t first = r->frames[--r->nframes], n = r->nrefs - first;
    struct jkey *k = r->refs + first;
    size_t arena = n ? k[0].off : r->keys.len; /* before sorting: the first key is the lowest */
    int dup = 0;
    if (n <= 16) {
        for (size_t a = 1; a < n && !dup; a++)
            for (size_t b = 0; b < a && !dup; b++) dup = !key_cmp(&k[a], &k[b], r->keys.s);
    } else {
        sort_keys = r->keys.s;
        qsort(k, n, sizeof *k, key_cmp_sort);
        for (size_t a = 1; a < n && !dup; a++) dup = !key_cmp(&k[a], &k[a - 1], r->keys.s);
    }
    if (dup) return fail(r, "duplicate object key");
    r->keys.len = arena;
    r->nrefs = first;
    r->depth--;
    return 0;
}

int jr_key(struct jread *r, struct jstr *key)
{
    if (r->failed) return -1;
    skip_ws(r);
    if (r->p == r->end) return fail(r, "premature end of input");
    size_t first = r->frames[r->nframes - 1];
    if (*r->p == '}' && r->nrefs == first) { /* {} */
        r->p++;
        return close_object(r) ? -1 : 0;
    }
    if (r->nrefs > first) {
        if (*r->p == '}') {
            r->p++;
            return close_object(r) ? -1 : 0;
        }
        if (*r->p != ',') return fail(r, "'}' expected");
        r->p++;
    }
    if (!r->keys.s) jstr_reset(&r->keys); /* an empty first key still has a base to point into */
    size_t off = r->keys.len;
    if (read_string(r, &r->keys)) return -1;
    if (r->nrefs == r->caprefs) {
        r->caprefs *= 2;
        r->refs = xrealloc(r->refs, r->caprefs * sizeof *r->refs);
    }
    r->refs[r->nrefs++] = (struct jkey){off, r->keys.len - off};
    if (key) {
        jstr_reset(key);
        jstr_put(key, r->keys.s + off, r->keys.len - off);
    }
    return expect(r, ':') ? -1 : 1;
}

int jr_array(struct jread *r)
{
    if (enter(r, '[')) return -1;
    r->first = 1;
    return 0;
}

int jr_enter_array(struct jread *r)
{
    if (jr_peek(r) != JR_ARRAY) {
        jr_value(r, NULL);
        return 0;
    }
    return jr_array(r) == 0;
}

int jr_more(struct jread *r)
{
    if (r->failed) return -1;
    skip_ws(r);
    if (r->p == r->end) return fail(r, "premature end of input");
    int first = r->first;
    r->first = 0;
    if (*r->p == ']') {
        r->p++;
        r->depth--;
        return 0;
    }
    if (first) return 1;
    if (*r->p != ',') return fail(r, "']' expected");
    r->p++;
    return 1;
}

int jr_value(struct jread *r, struct jstr *out)
{
    int kind = jr_peek(r), rc, is_int;
    long long i;
    double d;
    switch (kind) {
    case JR_OBJECT: {
        if (jr_object(r)) return -1;
        if (out) put_char(out, '{');
        size_t n = 0;
        while ((rc = jr_key(r, NULL)) == 1) {
            if (out) {
                struct jkey k = r->refs[r->nrefs - 1];
                if (n) put_char(out, ',');
                jstr_put_json(out, r->keys.s + k.off, k.len);
                put_char(out, ':');
            }
            n++;
            if (jr_value(r, out)) return -1;
        }
        if (rc < 0) return -1;
        if (out) put_char(out, '}');
        return 0;
    }
    case JR_ARRAY: {
        if (jr_array(r)) return -1;
        if (out) put_char(out, '[');
        size_t n = 0;
        while ((rc = jr_more(r)) == 1) {
            if (out && n) put_char(out, ',');
            n++;
            if (jr_value(r, out)) return -1;
        }
        if (rc < 0) return -1;
        if (out) put_char(out, ']');
        return 0;
    }
    case JR_STRING: {
        if (!out) return read_string(r, NULL);
        struct jstr s = {0};
        rc = read_string(r, &s);
        if (!rc) jstr_put_json(out, s.s ? s.s : "", s.len);
        jstr_free(&s);
        return rc;
    }
    case JR_NUMBER:
        if (jr_number(r, &is_int, &i, &d)) return -1;
        if (out && is_int) jstr_put_int(out, i);
        else if (out) jstr_put_real(out, d);
        return 0;
    case JR_TRUE:
    case JR_FALSE:
    case JR_NULL: {
        const char *at = r->p;
        if (jr_literal(r)) return -1;
        if (out) jstr_put(out, at, (size_t)(r->p - at));
        return 0;
    }
    case JR_END: return fail(r, "premature end of input");
    default: return -1;
    }
}

int jr_finish(struct jread *r)
{
    if (r->failed) return -1;
    skip_ws(r);
    return r->p == r->end ? 0 : fail(r, "end of file expected");
}

struct jr_mark jr_tell(const struct jread *r)
{
    return (struct jr_mark){r->p, r->depth};
}

void jr_seek(struct jread *r, struct jr_mark m)
{
    r->p = m.p;
    r->depth = m.depth;
}
