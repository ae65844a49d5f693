/* yaml: Kubernetes YAML to and from jansson trees (see yaml.h).
 *
 * Parsing walks libyaml's event stream and builds json_t nodes directly,
 * typing plain scalars by the YAML 1.2 core schema (so `yes`/`on` stay
 * strings, as the Kubernetes loader keeps them). Every node built is
 * entered in a pointer-keyed line map so manifest errors can cite
 * FILE:LINE. Inputs are bounded: at most YAML_MAX_NODES nodes (aliases
 * count with the full size of what they expand to, so alias bombs are
 * refused before any copy is made) and YAML_MAX_DEPTH levels of nesting.
 *
 * Emitting is hand-written rather than libyaml's emitter so that the output
 * has kubectl's shape: block style, lists not indented under their key,
 * strings quoted only when a reader would take them for another type, and
 * multi-line strings as literal blocks. */
#include "core/yaml.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/alloc.h"

#define YAML_MAX_NODES 1000000
#define YAML_MAX_DEPTH 256

/* ---- node -> line map ------------------------------------------------ */

struct yaml_lines {
    const json_t **keys;
    int *lines;
    size_t cap, count;
};

static size_t lines_hash(const json_t *p, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)p;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (size_t)h & (cap - 1);
}

static void lines_put(struct yaml_lines *m, const json_t *node, int line);

static void lines_grow(struct yaml_lines *m)
{
    struct yaml_lines old = *m;
    m->cap = old.cap ? old.cap * 2 : 1024;
    m->keys = xcalloc(m->cap, sizeof *m->keys);
    m->lines = xcalloc(m->cap, sizeof *m->lines);
    m->count = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i]) lines_put(m, old.keys[i], old.lines[i]);
    free(old.keys);
    free(old.lines);
}

static void lines_put(struct yaml_lines *m, const json_t *node, int line)
{
    /* true, false and null are shared singletons in jansson: a line for
     * them would be the line of whichever came last, so they get none */
    if (json_is_boolean(node) || json_is_null(node)) return;
    if ((m->count + 1) * 2 > m->cap) lines_grow(m);
    size_t i = lines_hash(node, m->cap);
    while (m->keys[i] && m->keys[i] != node) i = (i + 1) & (m->cap - 1);
    if (!m->keys[i]) m->count++;
    m->keys[i] = node;
    m->lines[i] = line;
}

int yaml_line_of(const struct yaml_stream *s, const json_t *node)
{
    const struct yaml_lines *m = s ? s->lines : NULL;
    if (!m || !m->cap || !node) return 0;
    size_t i = lines_hash(node, m->cap);
    while (m->keys[i]) {
        if (m->keys[i] == node) return m->lines[i];
        i = (i + 1) & (m->cap - 1);
    }
    return 0;
}

/* ---- parser ------------------------------------------------------------ */

struct anchor {
    char *name;
    json_t *node;
    size_t nodes; /* size of the subtree */
    int depth;    /* height of the subtree */
};

struct pctx {
    yaml_parser_t parser;
    const char *file;
    char *err;
    size_t errlen;
    struct yaml_lines *lines;
    struct anchor *anchors;
    size_t nanchors, capanchors;
    size_t nodes;
    int failed;
};

__attribute__((format(printf, 3, 4))) static void perr(struct pctx *c, int line, const char *fmt, ...)
{
    if (c->failed) return;
    c->failed = 1;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s:%d: %s", c->file, line, msg);
}

static int next_event(struct pctx *c, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&c->parser, ev)) {
        const char *problem = c->parser.problem ? c->parser.problem : "invalid YAML";
        int line = (int)c->parser.problem_mark.line + 1;
        if (c->parser.context)
            perr(c, line, "%s %s", problem, c->parser.context);
        else
            perr(c, line, "%s", problem);
        return -1;
    }
    return 0;
}

static int ev_line(const yaml_event_t *ev)
{
    return (int)ev->start_mark.line + 1;
}

static int is_digits(const char *s, size_t n, int (*ok)(int))
{
    if (!n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!ok((unsigned char)s[i])) return 0;
    return 1;
}

static int is_odigit(int ch)
{
    return ch >= '0' && ch <= '7';
}

static int is_ddigit(int ch)
{
    return ch >= '0' && ch <= '9';
}

/* The core schema float pattern: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int is_float_text(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) i++;
    size_t int_digits = 0, frac_digits = 0;
    while (i < n && isdigit((unsigned char)s[i])) i++, int_digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && isdigit((unsigned char)s[i])) i++, frac_digits++;
    }
    if (!int_digits && !frac_digits) return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+')) i++;
        size_t exp_digits = 0;
        while (i < n && isdigit((unsigned char)s[i])) i++, exp_digits++;
        if (!exp_digits) return 0;
    }
    return i == n;
}

enum scalar_type { SC_STR, SC_NULL, SC_TRUE, SC_FALSE, SC_INT, SC_FLOAT };

/* How a plain scalar resolves under the core schema. For SC_INT and
 * SC_FLOAT the value is stored in *iv / *dv; integers that do not fit in
 * 64 bits become floats, floats JSON cannot hold (inf, nan) stay strings. */
static enum scalar_type resolve_plain(const char *s, size_t n, json_int_t *iv, double *dv)
{
    if (n == 0 || (n == 1 && s[0] == '~')) return SC_NULL;
    if ((n == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)))) return SC_NULL;
    if (n == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4))) return SC_TRUE;
    if (n == 5 && (!memcmp(s, "false", 5) || !memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5))) return SC_FALSE;
    if (n > 64) return SC_STR;
    char tmp[72];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    int base = 0;
    const char *digits = tmp;
    if (n > 2 && tmp[0] == '0' && tmp[1] == 'o' && is_digits(tmp + 2, n - 2, is_odigit)) base = 8, digits = tmp + 2;
    else if (n > 2 && tmp[0] == '0' && tmp[1] == 'x' && is_digits(tmp + 2, n - 2, isxdigit)) base = 16, digits = tmp + 2;
    else {
        size_t sign = (tmp[0] == '-' || tmp[0] == '+') ? 1 : 0;
        if (is_digits(tmp + sign, n - sign, is_ddigit)) base = 10;
    }
    if (base) {
        errno = 0;
        char *end;
        if (base == 10) {
            long long v = strtoll(digits, &end, 10);
            if (!errno && !*end) {
                *iv = (json_int_t)v;
                return SC_INT;
            }
        } else {
            unsigned long long v = strtoull(digits, &end, base);
            if (!errno && !*end && v <= (unsigned long long)INT64_MAX) {
                *iv = (json_int_t)v;
                return SC_INT;
            }
        }
        errno = 0;
        double d = base == 10 ? strtod(tmp, NULL) : (double)strtoull(digits, NULL, base);
        if (isfinite(d)) {
            *dv = d;
            return SC_FLOAT;
        }
        return SC_STR;
    }
    if (is_float_text(tmp, n)) {
        double d = strtod(tmp, NULL);
        if (!isfinite(d)) return SC_STR;
        *dv = d;
        return SC_FLOAT;
    }
    return SC_STR;
}

static json_t *make_scalar(struct pctx *c, const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    int line = ev_line(ev);
    int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    if (tag && strcmp(tag, "!") == 0) plain = 0; /* non-specific tag: a string */
    if (tag && strcmp(tag, YAML_STR_TAG) == 0) plain = 0;
    int forced = tag && strncmp(tag, "tag:yaml.org,2002:", 18) == 0 && strcmp(tag, YAML_STR_TAG) != 0;
    if (memchr(s, '\0', n)) {
        perr(c, line, "strings must not contain NUL characters");
        return NULL;
    }
    if (plain || forced) {
        json_int_t iv = 0;
        double dv = 0;
        enum scalar_type t = resolve_plain(s, n, &iv, &dv);
        if (forced) {
            const char *want = tag + 18;
            int fits = (!strcmp(want, "int") && t == SC_INT) || (!strcmp(want, "float") && (t == SC_FLOAT || t == SC_INT)) ||
                       (!strcmp(want, "bool") && (t == SC_TRUE || t == SC_FALSE)) || (!strcmp(want, "null") && t == SC_NULL);
            if (!fits) {
                perr(c, line, "cannot decode !!%s `%.*s`", want, (int)(n > 40 ? 40 : n), s);
                return NULL;
            }
            if (!strcmp(want, "float") && t == SC_INT) return json_real((double)iv);
        }
        switch (t) {
        case SC_NULL: return json_null();
        case SC_TRUE: return json_true();
        case SC_FALSE: return json_false();
        case SC_INT: return json_integer(iv);
        case SC_FLOAT: return json_real(dv);
        case SC_STR: break;
        }
    }
    json_t *str = json_stringn(s, n);
    if (!str) perr(c, line, "invalid UTF-8 in string");
    return str;
}

/* Copy a subtree, giving each copy the line of its original. */
static json_t *copy_with_lines(struct pctx *c, json_t *src)
{
    json_t *dst;
    if (json_is_object(src)) {
        dst = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(src, k, v) json_object_set_new(dst, k, copy_with_lines(c, v));
    } else if (json_is_array(src)) {
        dst = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(src, i, v) json_array_append_new(dst, copy_with_lines(c, v));
    } else {
        dst = json_copy(src);
    }
    int line = yaml_line_of(&(struct yaml_stream){.lines = c->lines}, src);
    if (line) lines_put(c->lines, dst, line);
    return dst;
}

static void add_anchor(struct pctx *c, const char *name, json_t *node, size_t nodes, int depth)
{
    if (c->nanchors == c->capanchors) {
        c->capanchors = c->capanchors ? c->capanchors * 2 : 16;
        c->anchors = xrealloc(c->anchors, c->capanchors * sizeof *c->anchors);
    }
    /* A later anchor of the same name shadows the earlier one; keep both
     * and search from the end. */
    struct anchor *a = &c->anchors[c->nanchors++];
    a->name = xstrdup(name);
    a->node = json_incref(node);
    a->nodes = nodes;
    a->depth = depth;
}

static const struct anchor *find_anchor(struct pctx *c, const char *name)
{
    for (size_t i = c->nanchors; i-- > 0;)
        if (strcmp(c->anchors[i].name, name) == 0) return &c->anchors[i];
    return NULL;
}

/* Build the node that starts with *ev (consumed by the caller). depth is
 * the node's nesting level; *nodes and *height report the subtree's size
 * and height for anchors. NULL on error (c->err set). */
static json_t *parse_node(struct pctx *c, yaml_event_t *ev, int depth, size_t *nodes, int *height)
{
    int line = ev_line(ev);
    if (depth > YAML_MAX_DEPTH) {
        perr(c, line, "nesting deeper than %d levels", YAML_MAX_DEPTH);
        return NULL;
    }
    json_t *node = NULL;
    size_t count = 1;
    int h = 1;
    const char *anchor = NULL;
    switch (ev->type) {
    case YAML_ALIAS_EVENT: {
        const struct anchor *a = find_anchor(c, (const char *)ev->data.alias.anchor);
        if (!a) {
            perr(c, line, "unknown anchor '%s' referenced", (const char *)ev->data.alias.anchor);
            return NULL;
        }
        if (a->nodes > YAML_MAX_NODES - c->nodes) {
            perr(c, line, "document too large: more than %d nodes (alias expansion)", YAML_MAX_NODES);
            return NULL;
        }
        if (depth - 1 + a->depth > YAML_MAX_DEPTH) {
            perr(c, line, "nesting deeper than %d levels (alias expansion)", YAML_MAX_DEPTH);
            return NULL;
        }
        c->nodes += a->nodes;
        *nodes = a->nodes;
        *height = a->depth;
        return copy_with_lines(c, a->node);
    }
    case YAML_SCALAR_EVENT:
        anchor = (const char *)ev->data.scalar.anchor;
        node = make_scalar(c, ev);
        if (!node) return NULL;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = (const char *)ev->data.sequence_start.anchor;
        node = json_array();
        for (;;) {
            yaml_event_t child;
            if (next_event(c, &child)) goto fail;
            if (child.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&child);
                break;
            }
            size_t cn = 0;
            int ch = 0;
            json_t *v = parse_node(c, &child, depth + 1, &cn, &ch);
            yaml_event_delete(&child);
            if (!v) goto fail;
            json_array_append_new(node, v);
            count += cn;
            if (ch + 1 > h) h = ch + 1;
        }
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = (const char *)ev->data.mapping_start.anchor;
        node = json_object();
        for (;;) {
            yaml_event_t kev;
            if (next_event(c, &kev)) goto fail;
            if (kev.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&kev);
                break;
            }
            int kline = ev_line(&kev);
            if (kev.type != YAML_SCALAR_EVENT) {
                perr(c, kline, "mapping keys must be scalars");
                yaml_event_delete(&kev);
                goto fail;
            }
            if (kev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && kev.data.scalar.length == 2 &&
                !memcmp(kev.data.scalar.value, "<<", 2)) {
                perr(c, kline, "merge keys (<<) are not supported");
                yaml_event_delete(&kev);
                goto fail;
            }
            char *key = xstrndup((const char *)kev.data.scalar.value, kev.data.scalar.length);
            int bad_key = strlen(key) != kev.data.scalar.length;
            yaml_event_delete(&kev);
            if (bad_key) {
                perr(c, kline, "mapping keys must not contain NUL characters");
                free(key);
                goto fail;
            }
            if (++c->nodes > YAML_MAX_NODES) {
                perr(c, kline, "document too large: more than %d nodes", YAML_MAX_NODES);
                free(key);
                goto fail;
            }
            if (json_object_get(node, key)) {
                perr(c, kline, "mapping key \"%.100s\" already defined", key);
                free(key);
                goto fail;
            }
            yaml_event_t vev;
            if (next_event(c, &vev)) {
                free(key);
                goto fail;
            }
            size_t cn = 0;
            int ch = 0;
            json_t *v = parse_node(c, &vev, depth + 1, &cn, &ch);
            yaml_event_delete(&vev);
            if (!v) {
                free(key);
                goto fail;
            }
            if (json_object_set_new(node, key, v)) {
                perr(c, kline, "invalid mapping key");
                free(key);
                goto fail;
            }
            free(key);
            count += cn + 1;
            if (ch + 1 > h) h = ch + 1;
        }
        break;
    default:
        perr(c, line, "unexpected YAML event");
        return NULL;
    }
    if (++c->nodes > YAML_MAX_NODES) {
        perr(c, line, "document too large: more than %d nodes", YAML_MAX_NODES);
        goto fail;
    }
    lines_put(c->lines, node, line);
    if (anchor) add_anchor(c, anchor, node, count, h);
    *nodes = count;
    *height = h;
    return node;
fail:
    json_decref(node);
    return NULL;
}

int yaml_parse(const char *text, size_t len, const char *file, struct yaml_stream *out, char *err, size_t errlen)
{
    struct pctx c;
    memset(&c, 0, sizeof c);
    c.file = file ? file : "<input>";
    c.err = err;
    c.errlen = errlen;
    if (errlen) err[0] = '\0';
    c.lines = xcalloc(1, sizeof *c.lines);
    struct yaml_doc *docs = NULL;
    size_t ndocs = 0, capdocs = 0;
    int rc = -EINVAL;
    if (!yaml_parser_initialize(&c.parser)) {
        snprintf(err, errlen, "%s: cannot initialize the YAML parser", c.file);
        free(c.lines);
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&c.parser, (const unsigned char *)text, len);
    for (;;) {
        yaml_event_t ev;
        if (next_event(&c, &ev)) goto out;
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (ev.type != YAML_DOCUMENT_START_EVENT) { /* stream start */
            yaml_event_delete(&ev);
            continue;
        }
        int doc_line = ev_line(&ev);
        int implicit = ev.data.document_start.implicit;
        yaml_event_delete(&ev);
        if (next_event(&c, &ev)) goto out;
        if (implicit) doc_line = ev_line(&ev);
        size_t cn = 0;
        int ch = 0;
        json_t *root = parse_node(&c, &ev, 1, &cn, &ch);
        yaml_event_delete(&ev);
        if (!root) goto out;
        /* Anchors do not reach across documents. */
        for (size_t i = 0; i < c.nanchors; i++) {
            free(c.anchors[i].name);
            json_decref(c.anchors[i].node);
        }
        c.nanchors = 0;
        if (next_event(&c, &ev)) { /* document end */
            json_decref(root);
            goto out;
        }
        yaml_event_delete(&ev);
        if (json_is_null(root)) continue; /* empty document */
        if (ndocs == capdocs) {
            capdocs = capdocs ? capdocs * 2 : 4;
            docs = xrealloc(docs, capdocs * sizeof *docs);
        }
        docs[ndocs].root = root;
        docs[ndocs].line = doc_line;
        ndocs++;
    }
    out->docs = docs;
    out->count = ndocs;
    out->lines = c.lines;
    docs = NULL;
    c.lines = NULL;
    rc = 0;
out:
    for (size_t i = 0; i < c.nanchors; i++) {
        free(c.anchors[i].name);
        json_decref(c.anchors[i].node);
    }
    free(c.anchors);
    for (size_t i = 0; i < ndocs && docs; i++) json_decref(docs[i].root);
    free(docs);
    if (c.lines) {
        free(c.lines->keys);
        free(c.lines->lines);
        free(c.lines);
    }
    yaml_parser_delete(&c.parser);
    return rc;
}

void yaml_stream_free(struct yaml_stream *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->count; i++) json_decref(s->docs[i].root);
    xfree(s->docs);
    s->count = 0;
    if (s->lines) {
        free(s->lines->keys);
        free(s->lines->lines);
        xfree(s->lines);
    }
}

/* ---- emitter ----------------------------------------------------------- */

static int is_yaml11_bool(const char *s)
{
    static const char *const words[] = {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
                                        "on", "On", "ON", "off", "Off", "OFF"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(s, words[i]) == 0) return 1;
    return 0;
}

/* Decode the UTF-8 sequence at s[i] (valid UTF-8: jansson strings are). */
static uint32_t utf8_at(const char *s, size_t n, size_t i, size_t *len)
{
    const unsigned char *u = (const unsigned char *)s + i;
    size_t left = n - i;
    if (u[0] < 0x80 || left < 2) return *len = 1, u[0];
    if ((u[0] & 0xE0) == 0xC0) return *len = 2, ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F);
    if ((u[0] & 0xF0) == 0xE0 && left >= 3) return *len = 3, ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
    if (left >= 4)
        return *len = 4, ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) | ((uint32_t)(u[2] & 0x3F) << 6) | (u[3] & 0x3F);
    return *len = 1, u[0];
}

/* Characters a YAML reader would not take back as they are: outside YAML's
 * printable set, or line breaks YAML 1.1 knows (NEL, LS, PS), or a BOM. */
static int unsafe_cp(uint32_t cp)
{
    if (cp == 0x85 || cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF) return 1;
    if (cp == 0x09 || cp == 0x0A) return 0;
    if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) return 1;
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF) return 1;
    return 0;
}

static int has_unsafe(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t len;
        uint32_t cp = utf8_at(s, n, i, &len);
        if (cp != '\t' && cp != '\n' && unsafe_cp(cp)) return 1;
        i += len;
    }
    return 0;
}

/* Whether s must be quoted to be read back as this same string. */
static int needs_quotes(const char *s, size_t n)
{
    if (n == 0) return 1;
    json_int_t iv;
    double dv;
    if (resolve_plain(s, n, &iv, &dv) != SC_STR) return 1;
    if (is_yaml11_bool(s)) return 1;
    /* YAML 1.1 readers (kubectl's among them) also take 1_000, 0b101 and
     * 1:20 for numbers */
    size_t lead = (s[0] == '-' || s[0] == '+') ? 1 : 0;
    if (lead < n && isdigit((unsigned char)s[lead]) && strspn(s + lead, "0123456789_:.bxoabcdefABCDEF") == n - lead)
        return 1;
    /* Other numeric-looking forms some readers take for numbers. */
    if (!strcmp(s, ".inf") || !strcmp(s, "-.inf") || !strcmp(s, "+.inf") || !strcmp(s, ".nan") ||
        !strcmp(s, ".Inf") || !strcmp(s, "-.Inf") || !strcmp(s, ".NaN") || !strcmp(s, ".INF") || !strcmp(s, ".NAN"))
        return 1;
    unsigned char first = (unsigned char)s[0];
    if (strchr("!&*{}[]|>'\"%@`#,", first)) return 1;
    if ((first == '-' || first == '?' || first == ':') && (n == 1 || s[1] == ' ' || s[1] == '\t')) return 1;
    if (n >= 3 && (!strncmp(s, "---", 3) || !strncmp(s, "...", 3))) return 1;
    if (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t') return 1;
    if (s[n - 1] == ':') return 1;
    if (has_unsafe(s, n)) return 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f) return 1;
        if (ch == ':' && (s[i + 1] == ' ' || s[i + 1] == '\t')) return 1;
        if (ch == '#' && i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t')) return 1;
    }
    return 0;
}

static int emit_quoted(struct buf *out, const char *s, size_t n)
{
    int rc = buf_puts(out, "\"");
    for (size_t i = 0; i < n && !rc;) {
        size_t len;
        uint32_t cp = utf8_at(s, n, i, &len);
        switch (cp) {
        case '"': rc = buf_puts(out, "\\\""); break;
        case '\\': rc = buf_puts(out, "\\\\"); break;
        case '\n': rc = buf_puts(out, "\\n"); break;
        case '\t': rc = buf_puts(out, "\\t"); break;
        case '\r': rc = buf_puts(out, "\\r"); break;
        default:
            if (unsafe_cp(cp)) rc = cp <= 0xFF ? buf_printf(out, "\\x%02x", (unsigned)cp) : buf_printf(out, "\\u%04x", (unsigned)cp);
            else rc = buf_append(out, &s[i], len);
        }
        i += len;
    }
    return rc ? rc : buf_puts(out, "\"");
}

/* A multi-line string goes out as a literal block when that reads back
 * exactly: no control characters but newlines and tabs, and no leading
 * space on the first line (which would need an indentation indicator). */
static int block_ok(const char *s, size_t n)
{
    if (!memchr(s, '\n', n)) return 0;
    if (s[0] == ' ' || s[0] == '\t' || s[0] == '\n') return 0;
    if (has_unsafe(s, n)) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f) return 0;
        /* a trailing space before a newline is kept by a literal block,
         * but kubectl prints those quoted; do the same */
        if (ch == '\n' && i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t')) return 0;
    }
    return 1;
}

static int emit_block(struct buf *out, const char *s, size_t n, int indent)
{
    size_t trailing = 0;
    while (trailing < n && s[n - 1 - trailing] == '\n') trailing++;
    const char *chomp = trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+";
    int rc = buf_puts(out, chomp);
    if (rc) return rc;
    rc = buf_puts(out, "\n");
    size_t i = 0;
    size_t body = trailing <= 1 ? n - trailing : n;
    while (i < body && !rc) {
        const char *nl = memchr(s + i, '\n', body - i);
        size_t end = nl ? (size_t)(nl - s) : body;
        if (end > i) rc = buf_printf(out, "%*s", indent, "");
        if (!rc) rc = buf_append(out, s + i, end - i);
        if (!rc) rc = buf_puts(out, "\n");
        i = end + 1;
        /* with |+ the final newlines are all content: "a\n\n" -> "a", "" */
        if (nl && i == body && trailing > 1) break;
    }
    return rc;
}

static int emit_string(struct buf *out, const char *s, size_t n, int indent, int allow_block)
{
    if (allow_block && block_ok(s, n)) return emit_block(out, s, n, indent);
    if (needs_quotes(s, n) || memchr(s, '\n', n)) {
        int rc = emit_quoted(out, s, n);
        return rc ? rc : buf_puts(out, "\n");
    }
    int rc = buf_append(out, s, n);
    return rc ? rc : buf_puts(out, "\n");
}

static int emit_real(struct buf *out, double d)
{
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d) break;
    }
    if (!strpbrk(tmp, ".eEn")) {
        size_t l = strlen(tmp);
        if (l + 2 < sizeof tmp) memcpy(tmp + l, ".0", 3);
    }
    return buf_puts(out, tmp);
}

/* A scalar value followed by a newline. */
static int emit_scalar(const json_t *v, struct buf *out, int indent)
{
    int rc;
    switch (json_typeof(v)) {
    case JSON_STRING: return emit_string(out, json_string_value(v), json_string_length(v), indent, indent > 0);
    case JSON_INTEGER: rc = buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL: rc = emit_real(out, json_real_value(v)); break;
    case JSON_TRUE: rc = buf_puts(out, "true"); break;
    case JSON_FALSE: rc = buf_puts(out, "false"); break;
    case JSON_NULL: rc = buf_puts(out, "null"); break;
    case JSON_OBJECT: rc = buf_puts(out, "{}"); break;
    case JSON_ARRAY: rc = buf_puts(out, "[]"); break;
    default: rc = -EINVAL;
    }
    return rc ? rc : buf_puts(out, "\n");
}

static int is_collection(const json_t *v)
{
    return (json_is_object(v) && json_object_size(v)) || (json_is_array(v) && json_array_size(v));
}

static int emit_node(const json_t *v, struct buf *out, int indent, int first_inline);

/* Mapping entries at indent; when first_inline the first key continues the
 * current line (after "- "). */
static int emit_map(const json_t *v, struct buf *out, int indent, int first_inline)
{
    const char *k;
    json_t *child;
    int first = 1, rc = 0;
    json_object_foreach((json_t *)v, k, child) {
        if (!(first && first_inline)) rc = buf_printf(out, "%*s", indent, "");
        first = 0;
        size_t kl = strlen(k);
        /* readers take implicit keys of at most 1024 characters; longer
         * ones go out in the explicit "? key" form */
        int explicit_key = kl > 500;
        if (!rc && explicit_key) rc = buf_puts(out, "? ");
        if (!rc) {
            if (needs_quotes(k, kl) || memchr(k, '\n', kl)) rc = emit_quoted(out, k, kl);
            else rc = buf_append(out, k, kl);
        }
        if (!rc && explicit_key) rc = buf_printf(out, "\n%*s", indent, "");
        if (!rc) rc = buf_puts(out, ":");
        if (rc) return rc;
        if (json_is_object(child) && json_object_size(child)) {
            rc = buf_puts(out, "\n");
            if (!rc) rc = emit_map(child, out, indent + 2, 0);
        } else if (json_is_array(child) && json_array_size(child)) {
            rc = buf_puts(out, "\n");
            if (!rc) rc = emit_node(child, out, indent, 0); /* kubectl: lists sit at the key's indent */
        } else {
            rc = buf_puts(out, " ");
            if (!rc) rc = emit_scalar(child, out, indent + 2);
        }
        if (rc) return rc;
    }
    return rc;
}

static int emit_node(const json_t *v, struct buf *out, int indent, int first_inline)
{
    if (json_is_object(v) && json_object_size(v)) return emit_map(v, out, indent, first_inline);
    if (json_is_array(v) && json_array_size(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) {
            int rc = 0;
            if (!(i == 0 && first_inline)) rc = buf_printf(out, "%*s", indent, "");
            if (!rc) rc = buf_puts(out, "- ");
            if (!rc) rc = is_collection(item) ? emit_node(item, out, indent + 2, 1) : emit_scalar(item, out, indent + 2);
            if (rc) return rc;
        }
        return 0;
    }
    return emit_scalar(v, out, indent);
}

int yaml_emit(const json_t *v, struct buf *out)
{
    if (!v) return -EINVAL;
    size_t mark = out->len;
    int rc = emit_node(v, out, 0, 0);
    if (rc) {
        out->len = mark;
        if (out->data) out->data[mark] = '\0';
        return rc == -E2BIG ? -E2BIG : rc;
    }
    return 0;
}
