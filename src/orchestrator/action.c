/* action: from an agent's reply to one call {name, args, kwargs} (see
 * action.h for the grammar). The reply is split into fenced blocks first;
 * the one block holding an action is parsed by a small recursive-descent
 * parser for Python call syntax with literal arguments, or handed to
 * jansson when it is a JSON tool call. Every error names the place in the
 * reply, shows that line with a caret and ends with an example, because the
 * text goes back to the agent as its observation and must let it fix the
 * next answer. Recursion is bounded by ACTION_MAX_DEPTH, the input by
 * ACTION_MAX_INPUT, so any bytes parse or fail in bounded time and stack. */
#include "orchestrator/action.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#define ACTION_EXAMPLE                                                                                            \
    "Answer with one call, e.g.\n```\nget_logs(\"test-social-network\", \"user-service\")\n```"
/* Bytes of the offending line shown in an error. */
#define EXCERPT_WIDTH 72

struct parser {
    const char *text; /* the whole reply: positions are offsets into it */
    size_t len;
    size_t pos, end; /* cursor, and the end of the block being parsed */
    int depth;
    int failed;
    size_t err_pos;
    char msg[384];
};

/* ---- UTF-8 and positions ---------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80) return 1;
    size_t k;
    unsigned cp;
    if ((s[0] & 0xe0) == 0xc0) k = 2, cp = s[0] & 0x1f;
    else if ((s[0] & 0xf0) == 0xe0) k = 3, cp = s[0] & 0x0f;
    else if ((s[0] & 0xf8) == 0xf0) k = 4, cp = s[0] & 0x07;
    else return 0;
    if (k > n) return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return k;
}

/* Cut s back so that it does not end inside a UTF-8 sequence (snprintf
 * truncation may have split one): the error text must stay valid UTF-8,
 * since callers put it into JSON. */
static void utf8_trim_tail(char *s)
{
    size_t n = strlen(s), i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80 && n - i < 3) i--;
    if (i > 0 && (unsigned char)s[i - 1] >= 0x80) {
        if (utf8_seq((const unsigned char *)s + i - 1, n - i + 1) != n - i + 1) s[i - 1] = '\0';
    }
}

/* Make s printable in place: control characters become blanks, bytes that
 * are not UTF-8 become '?'. Messages quote the reply (and jansson's errors
 * quote it too), and the text goes to the agent inside JSON. */
static void printable(char *s)
{
    for (size_t i = 0, n = strlen(s); i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = utf8_seq((const unsigned char *)s + i, n - i);
        if (k == 0) s[i] = '?';
        else if (c < 0x20 || c == 0x7f) s[i] = ' ';
        i += k ? k : 1;
    }
}

static void fail(struct parser *p, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct parser *p, size_t pos, const char *fmt, ...)
{
    if (p->failed) return; /* the first error is the one that explains */
    p->failed = 1;
    p->err_pos = pos < p->len ? pos : p->len;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof p->msg, fmt, ap);
    va_end(ap);
    printable(p->msg);
}

static void line_col(const char *text, size_t pos, int *line, int *col)
{
    int l = 1, c = 1;
    for (size_t i = 0; i < pos; i++) {
        if (text[i] == '\n') l++, c = 1;
        else if (((unsigned char)text[i] & 0xc0) != 0x80) c++;
    }
    *line = l;
    *col = c;
}

/* The line holding pos (a window of it when long), made printable and
 * valid UTF-8, and a caret line under pos. */
static void excerpt(const char *text, size_t len, size_t pos, char *line, size_t linelen, char *caret,
                    size_t caretlen)
{
    size_t ls = pos, le = pos;
    while (ls > 0 && text[ls - 1] != '\n') ls--;
    while (le < len && text[le] != '\n') le++;
    size_t from = ls, to = le;
    if (to - from > EXCERPT_WIDTH) {
        if (pos > from + EXCERPT_WIDTH / 2) from = pos - EXCERPT_WIDTH / 2;
        while (from < pos && ((unsigned char)text[from] & 0xc0) == 0x80) from++;
        if (to > from + EXCERPT_WIDTH) to = from + EXCERPT_WIDTH;
    }
    size_t o = 0, c = 0;
    if (from > ls) o += (size_t)snprintf(line, linelen, "..."), c += 3;
    for (size_t i = from; i < to && o + 8 < linelen;) {
        size_t k = utf8_seq((const unsigned char *)text + i, to - i);
        int before = i < pos;
        if (k > 1) {
            memcpy(line + o, text + i, k);
            o += k;
            i += k;
        } else {
            unsigned char ch = (unsigned char)text[i];
            line[o++] = k == 0 ? '?' : (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
            i++;
        }
        if (before) c++;
    }
    if (to < le && o + 4 < linelen) memcpy(line + o, "...", 3), o += 3;
    line[o < linelen ? o : linelen - 1] = '\0';
    if (c + 2 > caretlen) c = caretlen - 2;
    memset(caret, ' ', c);
    caret[c] = '^';
    caret[c + 1] = '\0';
}

static void report(const struct parser *p, char *err, size_t errlen)
{
    int line, col;
    char text[EXCERPT_WIDTH * 4 + 16], caret[EXCERPT_WIDTH + 16];
    line_col(p->text, p->err_pos, &line, &col);
    excerpt(p->text, p->len, p->err_pos, text, sizeof text, caret, sizeof caret);
    snprintf(err, errlen, "Could not parse your action at line %d, column %d: %s\n    %s\n    %s\n%s", line, col,
             p->msg, text, caret, ACTION_EXAMPLE);
    utf8_trim_tail(err);
}

/* ---- tokens -------------------------------------------------------------- */

static int is_ident_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident_char(int c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static int is_digit_in(int c, int base)
{
    int v = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'z' ? c - 'a' + 10
            : c >= 'A' && c <= 'Z' ? c - 'A' + 10
                                   : 99;
    return v < base;
}

static int at(const struct parser *p, size_t i)
{
    return i < p->end ? (unsigned char)p->text[i] : -1;
}

/* Blanks, newlines and # comments. */
static void skip_blank(struct parser *p)
{
    while (p->pos < p->end) {
        char c = p->text[p->pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            p->pos++;
        } else if (c == '#') {
            while (p->pos < p->end && p->text[p->pos] != '\n') p->pos++;
        } else {
            break;
        }
    }
}

/* Length of the identifier at i (0 when none). */
static size_t ident_len(const struct parser *p, size_t i)
{
    size_t n = 0;
    if (!is_ident_start(at(p, i))) return 0;
    while (is_ident_char(at(p, i + n))) n++;
    return n;
}

/* Describe the character at i for an error ("'x'", "end of block"). */
static const char *describe(const struct parser *p, size_t i, char *out, size_t outlen)
{
    int c = at(p, i);
    if (c < 0) snprintf(out, outlen, "the end of the block");
    else if (c == '\n') snprintf(out, outlen, "a line break");
    else if (c < 0x20 || c == 0x7f) snprintf(out, outlen, "the control character 0x%02x", (unsigned)c);
    else if (c >= 0x80) {
        size_t k = utf8_seq((const unsigned char *)p->text + i, p->end - i);
        if (k) snprintf(out, outlen, "'%.*s'", (int)k, p->text + i);
        else snprintf(out, outlen, "the byte 0x%02x (not UTF-8)", (unsigned)c);
    } else snprintf(out, outlen, "'%c'", c);
    return out;
}

/* ---- strings ------------------------------------------------------------- */

static int utf8_put(struct buf *b, unsigned long cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) u[0] = (char)cp, n = 1;
    else if (cp < 0x800) u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    else if (cp < 0x10000)
        u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 0x3f)), u[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    else
        u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 0x3f)), u[2] = (char)(0x80 | (cp >> 6 & 0x3f)),
        u[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    return buf_append(b, u, n);
}

/* Whether a string literal starts at i; *prefix gets the length of its
 * prefix letters, *raw whether it is raw; *bad when the prefix is one we
 * refuse (bytes, f-strings). */
static int string_start(const struct parser *p, size_t i, size_t *prefix, int *raw, int *bad)
{
    size_t n = 0;
    int r = 0, other = 0, u = 0;
    while (n < 3 && is_ident_start(at(p, i + n))) {
        int c = at(p, i + n) | 0x20;
        if (c == 'r') r++;
        else if (c == 'u') u++;
        else if (c == 'b' || c == 'f') other++;
        else return 0;
        n++;
    }
    if (at(p, i + n) != '\'' && at(p, i + n) != '"') return 0;
    if (n > 2 || r > 1 || u > 1 || other > 1 || (u && n > 1)) return 0;
    *prefix = n;
    *raw = r;
    *bad = other;
    return 1;
}

static int hex_escape(struct parser *p, size_t esc, size_t digits, unsigned long *cp)
{
    unsigned long v = 0;
    for (size_t k = 0; k < digits; k++) {
        int c = at(p, p->pos + k);
        if (!is_digit_in(c, 16)) {
            fail(p, esc, "truncated \\%c escape: it needs %zu hex digits", p->text[esc + 1], digits);
            return -1;
        }
        v = v * 16 + (unsigned long)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    p->pos += digits;
    *cp = v;
    return 0;
}

/* The escape sequence at p->pos (a backslash) of a non-raw string. */
static int string_escape(struct parser *p, struct buf *out)
{
    size_t esc = p->pos;
    int e = at(p, esc + 1);
    p->pos += 2;
    unsigned long cp;
    switch (e) {
    case '\n': return 0; /* line continuation */
    case '\r':
        if (at(p, p->pos) == '\n') p->pos++;
        return 0;
    case '\\': case '\'': case '"': return buf_append(out, &(char){(char)e}, 1);
    case 'a': return buf_append(out, "\a", 1);
    case 'b': return buf_append(out, "\b", 1);
    case 'f': return buf_append(out, "\f", 1);
    case 'n': return buf_append(out, "\n", 1);
    case 'r': return buf_append(out, "\r", 1);
    case 't': return buf_append(out, "\t", 1);
    case 'v': return buf_append(out, "\v", 1);
    case 'x': if (hex_escape(p, esc, 2, &cp)) return -1; break;
    case 'u': if (hex_escape(p, esc, 4, &cp)) return -1; break;
    case 'U': if (hex_escape(p, esc, 8, &cp)) return -1; break;
    case 'N':
        fail(p, esc, "\\N{...} escapes are not supported; write the character itself or \\uXXXX");
        return -1;
    default:
        if (e >= '0' && e <= '7') {
            cp = 0;
            p->pos = esc + 1;
            for (int k = 0; k < 3 && at(p, p->pos) >= '0' && at(p, p->pos) <= '7'; k++)
                cp = cp * 8 + (unsigned long)(p->text[p->pos++] - '0');
            break;
        }
        /* Python keeps an unknown escape as it is: "a\|b" is a, \, |, b. */
        p->pos = esc + 1;
        return buf_append(out, "\\", 1);
    }
    if (cp == 0) {
        fail(p, esc, "NUL characters are not allowed in strings");
        return -1;
    }
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        fail(p, esc, "escape \\%c gives U+%04lX, which is not a Unicode character", e, cp);
        return -1;
    }
    return utf8_put(out, cp);
}

/* One string literal at p->pos, its text appended to out. */
static int string_literal(struct parser *p, struct buf *out)
{
    size_t start = p->pos, prefix = 0;
    int raw = 0, bad = 0;
    string_start(p, start, &prefix, &raw, &bad);
    if (bad) {
        fail(p, start, "%.*s'..' strings are not supported; write a plain string \"...\"", (int)prefix, p->text + start);
        return -1;
    }
    p->pos += prefix;
    int q = at(p, p->pos);
    int triple = at(p, p->pos + 1) == q && at(p, p->pos + 2) == q;
    p->pos += triple ? 3 : 1;
    for (;;) {
        int c = at(p, p->pos);
        if (c < 0) {
            fail(p, start, "unterminated %sstring literal: it has no closing %s", triple ? "triple-quoted " : "",
                 q == '"' ? (triple ? "\"\"\"" : "\"") : (triple ? "'''" : "'"));
            return -1;
        }
        if (c == '\n' && !triple) {
            fail(p, start,
                 "unterminated string literal: a quoted string cannot span lines (write \\n, or use a "
                 "triple-quoted string)");
            return -1;
        }
        if (c == q && (!triple || (at(p, p->pos + 1) == q && at(p, p->pos + 2) == q))) {
            p->pos += triple ? 3 : 1;
            return 0;
        }
        if (c == 0) {
            fail(p, p->pos, "NUL characters are not allowed in strings");
            return -1;
        }
        int rc;
        if (c == '\\' && at(p, p->pos + 1) < 0) {
            p->pos++;
            continue; /* reported as unterminated above */
        } else if (c == '\\' && raw && at(p, p->pos + 1) == 0) {
            fail(p, p->pos + 1, "NUL characters are not allowed in strings");
            return -1;
        } else if (c == '\\' && raw) {
            /* raw: the backslash and the character after it stay, and a quote after it does not end the string */
            rc = buf_append(out, p->text + p->pos, 2);
            p->pos += 2;
        } else if (c == '\\') {
            rc = string_escape(p, out);
        } else {
            rc = buf_append(out, p->text + p->pos, 1);
            p->pos++;
        }
        if (rc) {
            fail(p, start, "string too long"); /* unless the escape said what is wrong */
            return -1;
        }
    }
}

/* Adjacent string literals, concatenated as Python does. */
static json_t *strings(struct parser *p)
{
    struct buf b;
    buf_init(&b, ACTION_MAX_INPUT);
    size_t start = p->pos, prefix;
    int raw, bad;
    json_t *v = NULL;
    do {
        if (string_literal(p, &b)) goto out;
        skip_blank(p);
    } while (string_start(p, p->pos, &prefix, &raw, &bad));
    v = json_stringn(b.data ? b.data : "", b.len);
    if (!v) fail(p, start, "the string is not valid UTF-8");
out:
    buf_free(&b);
    return v;
}

/* ---- numbers ------------------------------------------------------------- */

static const char *base_name(int base)
{
    return base == 16 ? "hexadecimal" : base == 8 ? "octal" : base == 2 ? "binary" : "decimal";
}

/* digit (["_"] digit)* in base; the number of digits, or -1 after failing. */
static int digits(struct parser *p, int base, size_t start)
{
    int n = 0;
    while (p->pos < p->end) {
        int c = at(p, p->pos);
        if (is_digit_in(c, base)) {
            p->pos++, n++;
        } else if (c == '_' && n > 0 && is_digit_in(at(p, p->pos + 1), base)) {
            p->pos++;
        } else {
            break;
        }
    }
    if (at(p, p->pos) == '_' || (base != 10 && is_ident_char(at(p, p->pos)))) {
        fail(p, start, "invalid %s literal", base_name(base));
        return -1;
    }
    return n;
}

static json_t *number(struct parser *p)
{
    size_t start = p->pos;
    int neg = 0;
    if (at(p, p->pos) == '-' || at(p, p->pos) == '+') {
        neg = at(p, p->pos) == '-';
        p->pos++;
        skip_blank(p);
        int c = at(p, p->pos);
        if (!is_digit_in(c, 10) && !(c == '.' && is_digit_in(at(p, p->pos + 1), 10))) {
            char what[48];
            fail(p, p->pos, "expected a number after '%c', found %s", neg ? '-' : '+',
                 describe(p, p->pos, what, sizeof what));
            return NULL;
        }
    }
    size_t tok = p->pos;
    int base = 10, is_float = 0;
    if (at(p, tok) == '0' && strchr("xXoObB", at(p, tok + 1) > 0 ? at(p, tok + 1) : ' ')) {
        int x = at(p, tok + 1) | 0x20;
        base = x == 'x' ? 16 : x == 'o' ? 8 : 2;
        p->pos += 2;
        if (at(p, p->pos) == '_') p->pos++; /* 0x_ff is Python too */
        int n = digits(p, base, tok);
        if (n < 0) return NULL;
        if (n == 0) {
            fail(p, tok, "invalid %s literal", base_name(base));
            return NULL;
        }
    } else {
        int n = is_digit_in(at(p, p->pos), 10) ? digits(p, 10, tok) : 0;
        if (n < 0) return NULL;
        if (at(p, p->pos) == '.') {
            p->pos++;
            is_float = 1;
            if (is_digit_in(at(p, p->pos), 10) && digits(p, 10, tok) < 0) return NULL;
        }
        if ((at(p, p->pos) | 0x20) == 'e') {
            size_t e = p->pos + 1;
            if (at(p, e) == '+' || at(p, e) == '-') e++;
            if (!is_digit_in(at(p, e), 10)) {
                fail(p, tok, "invalid decimal literal");
                return NULL;
            }
            p->pos = e;
            is_float = 1;
            if (digits(p, 10, tok) < 0) return NULL;
        }
    }
    if (is_ident_char(at(p, p->pos)) || at(p, p->pos) == '.') {
        if ((at(p, p->pos) | 0x20) == 'j') fail(p, tok, "complex numbers are not supported");
        else fail(p, tok, "invalid decimal literal");
        return NULL;
    }
    /* The token without underscores and prefix. */
    char num[80];
    size_t n = 0;
    for (size_t i = tok + (base != 10 ? 2 : 0); i < p->pos; i++) {
        if (p->text[i] == '_') continue;
        if (n + 1 >= sizeof num) {
            fail(p, tok, "number too long");
            return NULL;
        }
        num[n++] = p->text[i];
    }
    num[n] = '\0';
    if (is_float) {
        double d = strtod(num, NULL);
        if (isinf(d)) {
            fail(p, start, "float out of range");
            return NULL;
        }
        return json_real(neg ? -d : d);
    }
    if (base == 10 && num[0] == '0' && strspn(num, "0") != n) {
        fail(p, tok, "leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers");
        return NULL;
    }
    _Static_assert(sizeof(json_int_t) == sizeof(long long), "jansson integers are 64-bit");
    unsigned long long v = 0, limit = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
    for (size_t i = 0; i < n; i++) {
        int c = num[i] | 0x20;
        unsigned d = (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
        if (v > (limit - d) / (unsigned)base) {
            fail(p, start, "integer out of range: integers must fit in 64 bits");
            return NULL;
        }
        v = v * (unsigned)base + d;
    }
    json_int_t i = neg ? (v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(json_int_t)v) : (json_int_t)v;
    return json_integer(i);
}

/* ---- values and the call ------------------------------------------------- */

static json_t *value(struct parser *p);

static int is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void fail_unclosed(struct parser *p, size_t open, const char *what)
{
    char found[48];
    if (at(p, p->pos) < 0) fail(p, open, "'%c' was never closed", p->text[open]);
    else fail(p, p->pos, "expected ',' or '%s' after an item, found %s", what, describe(p, p->pos, found, sizeof found));
}

/* Items up to close, appended to arr; the opening bracket is at open. */
static int items(struct parser *p, json_t *arr, int close, size_t open)
{
    for (;;) {
        skip_blank(p);
        if (at(p, p->pos) == close) break;
        if (at(p, p->pos) < 0) {
            fail(p, open, "'%c' was never closed", p->text[open]);
            return -1;
        }
        json_t *v = value(p);
        if (!v) return -1;
        json_array_append_new(arr, v);
        skip_blank(p);
        if (at(p, p->pos) == ',') {
            p->pos++;
            continue;
        }
        if (at(p, p->pos) == close) break;
        fail_unclosed(p, open, close == ']' ? "]" : ")");
        return -1;
    }
    p->pos++;
    return 0;
}

static json_t *list(struct parser *p)
{
    size_t open = p->pos++;
    json_t *arr = json_array();
    if (items(p, arr, ']', open)) json_decref(arr), arr = NULL;
    return arr;
}

/* (x) is x; (x,) and (x, y) are tuples, given as arrays; () is empty. */
static json_t *tuple(struct parser *p)
{
    size_t open = p->pos++;
    skip_blank(p);
    if (at(p, p->pos) == ')') {
        p->pos++;
        return json_array();
    }
    json_t *v = value(p);
    if (!v) return NULL;
    skip_blank(p);
    if (at(p, p->pos) == ')') {
        p->pos++;
        return v;
    }
    if (at(p, p->pos) != ',') {
        json_decref(v);
        fail_unclosed(p, open, ")");
        return NULL;
    }
    p->pos++;
    json_t *arr = json_array();
    json_array_append_new(arr, v);
    if (items(p, arr, ')', open)) json_decref(arr), arr = NULL;
    return arr;
}

static json_t *dict(struct parser *p)
{
    size_t open = p->pos++, prefix;
    int raw, bad;
    char found[48];
    json_t *obj = json_object();
    for (;;) {
        skip_blank(p);
        int c = at(p, p->pos);
        if (c == '}') break;
        if (c < 0) {
            fail(p, open, "'{' was never closed");
            goto bad;
        }
        if (!string_start(p, p->pos, &prefix, &raw, &bad)) {
            fail(p, p->pos, "dict keys must be strings, e.g. {\"system_level\": \"Application\"}");
            goto bad;
        }
        json_t *key = strings(p);
        if (!key) goto bad;
        skip_blank(p);
        c = at(p, p->pos);
        if (c != ':') {
            json_decref(key);
            if (c == ',' || c == '}')
                fail(p, p->pos, "expected ':' after a dict key (sets are not supported: use a list [...])");
            else if (c < 0) fail(p, open, "'{' was never closed");
            else fail(p, p->pos, "expected ':' after a dict key, found %s", describe(p, p->pos, found, sizeof found));
            goto bad;
        }
        p->pos++;
        json_t *v = value(p);
        if (!v) {
            json_decref(key);
            goto bad;
        }
        json_object_set_new(obj, json_string_value(key), v); /* a repeated key keeps the last value, as in Python */
        json_decref(key);
        skip_blank(p);
        if (at(p, p->pos) == ',') {
            p->pos++;
            continue;
        }
        if (at(p, p->pos) == '}') break;
        fail_unclosed(p, open, "}");
        goto bad;
    }
    p->pos++;
    return obj;
bad:
    json_decref(obj);
    return NULL;
}

/* A bare word where a value should be: say what to write instead. */
static void fail_name(struct parser *p, size_t start, size_t n)
{
    const char *w = p->text + start;
    if ((n == 4 && (!memcmp(w, "true", 4) || !memcmp(w, "null", 4) || !memcmp(w, "none", 4))) ||
        (n == 5 && !memcmp(w, "false", 5))) {
        fail(p, start, "name '%.*s' is not defined: the literals are True, False and None", (int)n, w);
        return;
    }
    size_t q = start + n;
    while (is_blank(at(p, q))) q++;
    if (at(p, q) == '(') {
        fail(p, start, "'%.*s(...)' inside the arguments: arguments must be literals, not calls", (int)n, w);
        return;
    }
    /* The unquoted text up to the next separator, offered quoted (printable and valid UTF-8 only). */
    size_t e = start;
    while (e < p->end && e - start < 60) {
        unsigned char c = (unsigned char)p->text[e];
        size_t k = c < 0x80 ? 1 : utf8_seq((const unsigned char *)p->text + e, p->end - e);
        if (k == 0 || c < 0x20 || c == 0x7f || strchr(",)]}\"'\\", c)) break;
        e += k;
    }
    while (e > start + n && is_blank(at(p, e - 1))) e--;
    fail(p, start, "name '%.*s' is not defined: arguments must be literals; quote text as a string, e.g. \"%.*s\"",
         (int)n, w, (int)(e - start), w);
}

static json_t *value(struct parser *p)
{
    skip_blank(p);
    size_t start = p->pos, prefix;
    int c = at(p, start), raw, bad;
    char found[48];
    if (c == '[' || c == '(' || c == '{') {
        if (++p->depth > ACTION_MAX_DEPTH) {
            fail(p, start, "nesting too deep: lists, tuples and dicts nest at most %d levels", ACTION_MAX_DEPTH);
            return NULL;
        }
        json_t *v = c == '[' ? list(p) : c == '(' ? tuple(p) : dict(p);
        p->depth--;
        return v;
    }
    if (string_start(p, start, &prefix, &raw, &bad)) return strings(p);
    if (is_digit_in(c, 10) || c == '-' || c == '+' || (c == '.' && is_digit_in(at(p, start + 1), 10))) return number(p);
    size_t n = ident_len(p, start);
    if (n == 4 && !memcmp(p->text + start, "True", 4)) return p->pos += n, json_true();
    if (n == 5 && !memcmp(p->text + start, "False", 5)) return p->pos += n, json_false();
    if (n == 4 && !memcmp(p->text + start, "None", 4)) return p->pos += n, json_null();
    if (n) fail_name(p, start, n);
    else
        fail(p, start, "expected a value (a string, number, list, dict, True, False or None), found %s",
             describe(p, start, found, sizeof found));
    return NULL;
}

/* NAME "(" args ")" filling the whole block. */
static int call(struct parser *p, struct action_call *out)
{
    skip_blank(p);
    size_t start = p->pos, n = ident_len(p, start);
    char found[48];
    if (n > ACTION_MAX_NAME) {
        fail(p, start, "the action name is longer than %d characters", ACTION_MAX_NAME);
        return -1;
    }
    p->pos += n;
    skip_blank(p);
    size_t open = p->pos++; /* the block's kind says a '(' is here */
    json_t *args = json_array(), *kwargs = json_object();
    int rc = -1;
    for (;;) {
        skip_blank(p);
        if (at(p, p->pos) == ')') break;
        if (at(p, p->pos) < 0) {
            fail(p, open, "'(' was never closed: the call has no closing ')'");
            goto out;
        }
        size_t arg = p->pos, k = ident_len(p, arg), q = arg + k;
        while (is_blank(at(p, q))) q++;
        if (k && at(p, q) == '=' && at(p, q + 1) != '=') {
            char key[ACTION_MAX_NAME + 1];
            if (k > ACTION_MAX_NAME) {
                fail(p, arg, "the argument name is longer than %d characters", ACTION_MAX_NAME);
                goto out;
            }
            memcpy(key, p->text + arg, k);
            key[k] = '\0';
            if (json_object_get(kwargs, key)) {
                fail(p, arg, "keyword argument repeated: '%s'", key);
                goto out;
            }
            p->pos = q + 1;
            json_t *v = value(p);
            if (!v) goto out;
            json_object_set_new(kwargs, key, v);
        } else {
            if (json_object_size(kwargs)) {
                fail(p, arg, "positional argument follows keyword argument: put positional arguments first");
                goto out;
            }
            json_t *v = value(p);
            if (!v) goto out;
            json_array_append_new(args, v);
        }
        skip_blank(p);
        if (at(p, p->pos) == ',') {
            p->pos++;
            continue;
        }
        if (at(p, p->pos) == ')') break;
        if (at(p, p->pos) < 0) fail(p, open, "'(' was never closed: the call has no closing ')'");
        else if (is_ident_start(at(p, p->pos)) || at(p, p->pos) == '"' || at(p, p->pos) == '\'')
            fail(p, p->pos, "expected ',' or ')' after an argument, found %s (is a comma or a quote missing?)",
                 describe(p, p->pos, found, sizeof found));
        else fail(p, p->pos, "expected ',' or ')' after an argument, found %s", describe(p, p->pos, found, sizeof found));
        goto out;
    }
    p->pos++;
    skip_blank(p);
    if (at(p, p->pos) == ';') {
        p->pos++;
        skip_blank(p);
    }
    if (p->pos < p->end) {
        fail(p, p->pos, "unexpected text after the call: write exactly one action per turn");
        goto out;
    }
    out->name = xstrndup(p->text + start, n);
    out->args = args;
    out->kwargs = kwargs;
    args = kwargs = NULL;
    rc = 0;
out:
    json_decref(args);
    json_decref(kwargs);
    return rc;
}

/* ---- JSON tool calls ----------------------------------------------------- */

static int is_identifier(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ACTION_MAX_NAME || !is_ident_start((unsigned char)s[0])) return 0;
    for (size_t i = 1; i < n; i++)
        if (!is_ident_char((unsigned char)s[i])) return 0;
    return 1;
}

/* Whether v nests at most ACTION_MAX_DEPTH containers below `outer` ones. */
static int depth_ok(const json_t *v, int outer)
{
    if (!json_is_array(v) && !json_is_object(v)) return 1;
    if (outer + 1 > ACTION_MAX_DEPTH) return 0;
    size_t i;
    json_t *x;
    const char *k;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) if (!depth_ok(x, outer + 1)) return 0;
    } else {
        json_object_foreach((json_t *)v, k, x) if (!depth_ok(x, outer + 1)) return 0;
    }
    return 1;
}

#define JSON_FORM_EXAMPLE                                                                                          \
    "{\"name\": \"get_logs\", \"arguments\": {\"namespace\": \"test-social-network\", \"service\": \"user-service\"}}"

/* The arguments of an OpenAI-style call: an object, its JSON text, or a list. */
static int json_arguments(struct parser *p, size_t start, const json_t *a, json_t **args, json_t **kwargs)
{
    if (!a || json_is_null(a)) return 0;
    if (json_is_object(a)) *kwargs = json_deep_copy(a);
    else if (json_is_array(a)) *args = json_deep_copy(a);
    else if (json_is_string(a)) {
        const char *s = json_string_value(a);
        if (s[strspn(s, " \t\r\n")] == '\0') return 0;
        json_error_t e;
        json_t *v = json_loadb(s, json_string_length(a), JSON_REJECT_DUPLICATES, &e);
        if (!json_is_object(v)) {
            fail(p, start, "\"arguments\" is a string but not a JSON object (%s), e.g. %s",
                 v ? "another JSON value" : e.text, JSON_FORM_EXAMPLE);
            json_decref(v);
            return -1;
        }
        *kwargs = v;
    } else {
        fail(p, start, "\"arguments\" must be an object of named arguments, e.g. %s", JSON_FORM_EXAMPLE);
        return -1;
    }
    return 0;
}

static int json_call(struct parser *p, size_t start, size_t end, struct action_call *out)
{
    json_error_t e;
    json_t *root = json_loadb(p->text + start, end - start, JSON_REJECT_DUPLICATES, &e);
    json_t *args = NULL, *kwargs = NULL, *x;
    const char *k;
    size_t i;
    int rc = -1;
    if (!root) {
        size_t off = e.position > 0 ? (size_t)e.position - 1 : 0;
        fail(p, start + (off < end - start ? off : end - start), "invalid JSON: %s", e.text);
        return -1;
    }
    const json_t *obj = root, *fn = json_object_get(root, "function"), *name;
    if (json_is_object(fn) && !json_object_get(root, "name")) obj = fn; /* {"type": "function", "function": {...}} */
    if (json_is_string(name = json_object_get(obj, "name"))) {
        const json_t *a = json_object_get(obj, "arguments");
        if (json_arguments(p, start, a ? a : json_object_get(obj, "parameters"), &args, &kwargs)) goto out;
    } else if (json_is_string(name = json_object_get(obj, "action"))) {
        const json_t *a = json_object_get(obj, "args"), *kw = json_object_get(obj, "kwargs");
        if (a && !json_is_null(a) && !json_is_array(a)) {
            fail(p, start, "\"args\" must be a list of positional arguments");
            goto out;
        }
        if (kw && !json_is_null(kw) && !json_is_object(kw)) {
            fail(p, start, "\"kwargs\" must be an object of named arguments");
            goto out;
        }
        if (json_is_array(a)) args = json_deep_copy(a);
        if (json_is_object(kw)) kwargs = json_deep_copy(kw);
    } else {
        fail(p, start, "a JSON action needs \"name\" and \"arguments\", e.g. %s", JSON_FORM_EXAMPLE);
        goto out;
    }
    if (!args) args = json_array();
    if (!kwargs) kwargs = json_object();
    if (!is_identifier(json_string_value(name))) {
        fail(p, start, "the action name must be a name like get_logs (letters, digits, '_', at most %d)", ACTION_MAX_NAME);
        goto out;
    }
    json_object_foreach(kwargs, k, x) {
        if (!is_identifier(k)) {
            fail(p, start, "argument names must be names like namespace (letters, digits, '_', at most %d)",
                 ACTION_MAX_NAME);
            goto out;
        }
        if (!depth_ok(x, 0)) goto deep;
    }
    json_array_foreach(args, i, x) if (!depth_ok(x, 0)) goto deep;
    out->name = xstrdup(json_string_value(name));
    out->args = args;
    out->kwargs = kwargs;
    args = kwargs = NULL;
    rc = 0;
    goto out;
deep:
    fail(p, start, "nesting too deep: lists and objects nest at most %d levels", ACTION_MAX_DEPTH);
out:
    json_decref(args);
    json_decref(kwargs);
    json_decref(root);
    return rc;
}

/* ---- fenced blocks ------------------------------------------------------- */

struct block {
    size_t fence;      /* the opening ``` */
    size_t start, end; /* the content */
};

enum block_kind { BLOCK_EMPTY, BLOCK_OTHER, BLOCK_CALL, BLOCK_JSON };

/* Whether the line [f, le) ends with an opening fence after some text,
 * as in "Action: ```" or "Action: ```python"; where its ``` starts. */
static int trailing_fence(const char *text, size_t f, size_t le, size_t *fence)
{
    size_t e = le;
    while (e > f && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '\r')) e--;
    while (e > f && is_ident_char((unsigned char)text[e - 1])) e--; /* the language tag */
    size_t t = e;
    while (t > f && text[t - 1] == '`') t--;
    if (e - t < 3) return 0;
    *fence = t;
    return 1;
}

/* The next block from *i on: 1 found, 0 none, -1 a fence left open
 * (b->fence says where). A block opens at a line starting with ``` (the
 * rest is a language tag), or ending with ```tag after some text, as
 * AIOpsLab accepts any line holding ```; it closes at a later line that
 * starts or ends with ```. ```call(...)``` at the start of a line is a
 * block too. */
static int next_block(const char *text, size_t len, size_t *i, struct block *b)
{
    int open = 0;
    for (size_t ls = *i; ls < len;) {
        size_t le = ls, f = ls, fence;
        while (le < len && text[le] != '\n') le++;
        size_t next = le < len ? le + 1 : len;
        while (f < le && (text[f] == ' ' || text[f] == '\t')) f++;
        const char *tick = memmem(text + ls, le - ls, "```", 3);
        size_t e = le;
        while (e > f && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '\r')) e--;
        if (open && tick && (tick - text == (ptrdiff_t)f || (e - f >= 3 && !memcmp(text + e - 3, "```", 3)))) {
            while (e > f && text[e - 1] == '`') e--;
            b->end = tick - text == (ptrdiff_t)f ? ls : e;
            *i = next;
            return 1;
        }
        if (!open && le - f >= 3 && !memcmp(text + f, "```", 3)) {
            size_t t = f;
            while (t < le && text[t] == '`') t++;
            const char *close = memmem(text + t, le - t, "```", 3);
            b->fence = f;
            if (close) { /* ```call(...)``` on one line */
                b->start = t;
                b->end = (size_t)(close - text);
                *i = next;
                return 1;
            }
            b->start = next;
            open = 1;
        } else if (!open && tick && trailing_fence(text, f, le, &fence)) {
            b->fence = fence;
            b->start = next;
            open = 1;
        }
        ls = next;
    }
    *i = len;
    return open ? -1 : 0;
}

static enum block_kind block_kind(struct parser *p, const struct block *b)
{
    p->pos = b->start;
    p->end = b->end;
    skip_blank(p);
    int c = at(p, p->pos);
    if (c < 0) return BLOCK_EMPTY;
    if (c == '{') return BLOCK_JSON;
    size_t n = ident_len(p, p->pos), q = p->pos + n;
    while (n && (at(p, q) == ' ' || at(p, q) == '\t')) q++;
    return n && at(p, q) == '(' ? BLOCK_CALL : BLOCK_OTHER;
}

static int parse_block(struct parser *p, const struct block *b, struct action_call *out)
{
    if (block_kind(p, b) == BLOCK_JSON) {
        skip_blank(p);
        return json_call(p, p->pos, b->end, out);
    }
    return call(p, out);
}

/* A block that holds something else than an action: a shell command is the
 * usual mistake, so offer it wrapped in exec_shell. */
static void fail_other(struct parser *p, const struct block *b)
{
    block_kind(p, b);
    size_t s = p->pos, e = s;
    while (e < p->end && p->text[e] != '\n') e++;
    while (e > s && is_blank(at(p, e - 1))) e--;
    int printable = e - s <= 80;
    for (size_t i = s; i < e && printable; i++) {
        unsigned char c = (unsigned char)p->text[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') printable = 0;
    }
    if (printable)
        fail(p, s, "this block holds no action call; an action looks like name(arguments), e.g. "
                   "exec_shell(\"%.*s\") to run that as a shell command", (int)(e - s), p->text + s);
    else
        fail(p, s, "this block holds no action call; an action looks like name(arguments), e.g. "
                   "exec_shell(\"kubectl get pods -n test-social-network\")");
}

/* ---- the entry points ---------------------------------------------------- */

int action_parse(const char *text, size_t len, struct action_call *call_out, char *err, size_t errlen)
{
    if (len > ACTION_MAX_INPUT) {
        snprintf(err, errlen, "Your answer is %zu bytes long; the limit is %d bytes. %s", len, ACTION_MAX_INPUT,
                 ACTION_EXAMPLE);
        return -E2BIG;
    }
    struct parser p = {.text = text, .len = len};
    struct block b, found = {0}, other = {0};
    int ncalls = 0, nblocks = 0, have_other = 0, r, line, col;
    char lines[64] = "";
    size_t i = 0, o = 0;
    while ((r = next_block(text, len, &i, &b)) == 1) {
        nblocks++;
        enum block_kind k = block_kind(&p, &b);
        if (k == BLOCK_CALL || k == BLOCK_JSON) {
            if (ncalls == 0) found = b;
            if (ncalls < 6 && o < sizeof lines) { /* the first few only: line_col is linear */
                line_col(text, b.fence, &line, &col);
                o += (size_t)snprintf(lines + o, sizeof lines - o, "%s%d", ncalls ? ", " : "", line);
            }
            ncalls++;
        } else if (k == BLOCK_OTHER && !have_other) {
            other = b;
            have_other = 1;
        }
    }
    if (r < 0) {
        line_col(text, b.fence, &line, &col);
        snprintf(err, errlen, "The fenced block opened at line %d is not closed: end it with a line ```. %s", line,
                 ACTION_EXAMPLE);
        return -EINVAL;
    }
    if (ncalls > 1) {
        snprintf(err, errlen,
                 "Found %d actions (fenced blocks at lines %s%s): take exactly one action per turn, in one fenced "
                 "block. %s",
                 ncalls, lines, ncalls > 6 ? ", ..." : "", ACTION_EXAMPLE);
        return -EINVAL;
    }
    struct action_call c = {0};
    if (ncalls == 1) {
        if (parse_block(&p, &found, &c)) {
            fail(&p, found.start, "could not parse the action"); /* only when nothing more precise was said */
            goto fail;
        }
    } else if (have_other) {
        fail_other(&p, &other);
        goto fail;
    } else if (nblocks) {
        snprintf(err, errlen, "The fenced block is empty. %s", ACTION_EXAMPLE);
        return -EINVAL;
    } else {
        size_t s = 0;
        while (s < len && is_blank((unsigned char)text[s])) s++;
        if (s < len && text[s] == '{') { /* a bare JSON tool call */
            p.end = len;
            if (json_call(&p, s, len, &c)) goto fail;
        } else {
            /* Say where a call outside fences is, if there is one. */
            struct block whole = {.start = 0, .end = len};
            for (size_t ls = 0; ls < len;) {
                size_t le = ls;
                while (le < len && text[le] != '\n') le++;
                whole.start = ls;
                whole.end = le;
                if (block_kind(&p, &whole) == BLOCK_CALL) {
                    line_col(text, p.pos, &line, &col);
                    snprintf(err, errlen,
                             "No API call found in a fenced block: the call on line %d must be inside ``` fences. %s",
                             line, ACTION_EXAMPLE);
                    return -EINVAL;
                }
                ls = le < len ? le + 1 : len;
            }
            snprintf(err, errlen, "No API call found in a fenced block. %s", ACTION_EXAMPLE);
            return -EINVAL;
        }
    }
    *call_out = c;
    return 0;
fail:
    report(&p, err, errlen);
    return -EINVAL;
}

void action_call_free(struct action_call *call)
{
    if (!call) return;
    xfree(call->name);
    json_decref(call->args);
    json_decref(call->kwargs);
    call->args = call->kwargs = NULL;
}
