/* trace_jread: a pull reader over a JSON text in memory, for the OTLP
 * receiver's hot path. The caller walks the document (objects, arrays,
 * scalars) in order and keeps only what it needs, so no tree is built. It
 * accepts exactly what jansson's json_loadb(JSON_REJECT_DUPLICATES) accepts
 * (RFC 8259, UTF-8 checked, no \u0000, no duplicate keys, integers within
 * int64, finite reals, depth <= 2048), and its writers produce jansson's
 * compact output (json_dumps(JSON_COMPACT)) byte for byte, so what the
 * trace store keeps does not depend on which parser read it.
 *
 * Errors are sticky: after the first one every call fails (returns -1) and
 * jr->err says what and where. Not thread-safe; one reader per document. */
#ifndef OBSERVE_TRACE_JREAD_H
#define OBSERVE_TRACE_JREAD_H
#include <stddef.h>
#include <stdint.h>

/* A growable byte string (always NUL-terminated once written). */
struct jstr {
    char *s;
    size_t len, cap;
};

void jstr_reset(struct jstr *b);
void jstr_free(struct jstr *b);
void jstr_put(struct jstr *b, const char *p, size_t n);
/* A string literal as jansson writes it: UTF-8 kept, '"', '\\' and control
 * characters escaped (\b \f \n \r \t, else \u00XX). */
void jstr_put_json(struct jstr *b, const char *p, size_t n);
void jstr_put_int(struct jstr *b, long long v);
/* A real as jansson writes it ("%.17g", always with '.' or 'e', exponent
 * without '+' and leading zeros). */
void jstr_put_real(struct jstr *b, double v);

struct jread {
    const char *start, *p, *end;
    int depth, failed, first; /* first: an array was just entered */
    char err[160];
    struct jstr keys;          /* keys of the open objects, for the duplicate check */
    struct jkey { size_t off, len; } *refs;
    size_t nrefs, caprefs;
    size_t *frames;            /* per open object: its first ref */
    size_t nframes, capframes;
    struct jstr num;           /* scratch for number tokens */
};

enum { JR_ERR = -1, JR_END = 0, JR_OBJECT = '{', JR_ARRAY = '[', JR_STRING = '"', JR_NUMBER = '0', JR_TRUE = 't',
       JR_FALSE = 'f', JR_NULL = 'n' };

void jr_init(struct jread *r, const char *text, size_t len);
void jr_free(struct jread *r);
/* The kind of the next value (JR_OBJECT ... JR_NULL), JR_END at the end of
 * the text, JR_ERR on an error. Consumes only whitespace. */
int jr_peek(struct jread *r);
/* Enter an object ('{' next). Then jr_key until it returns 0. */
int jr_object(struct jread *r);
/* The next key of the open object, decoded into key (which is reset), and
 * its ':'; 1 when there is one, 0 after the closing '}', -1 on error. */
int jr_key(struct jread *r, struct jstr *key);
/* Enter an array ('[' next). Then jr_more until it returns 0. */
int jr_array(struct jread *r);
/* Enter an array, or skip a value of any other kind: 1 when entered. */
int jr_enter_array(struct jread *r);
/* 1 when another element follows (read it next), 0 after the closing ']'. */
int jr_more(struct jread *r);
/* A string value, decoded and appended to out. 0 or -1. */
int jr_string(struct jread *r, struct jstr *out);
/* A number: *is_int with *i, else *d. 0 or -1. */
int jr_number(struct jread *r, int *is_int, long long *i, double *d);
/* true, false or null: 0 or -1. */
int jr_literal(struct jread *r);
/* Any value, checked and skipped; written compact (as json_dumps would) at
 * the end of out when out is not NULL. 0 or -1. */
int jr_value(struct jread *r, struct jstr *out);
/* Check that only whitespace is left. 0 or -1. */
int jr_finish(struct jread *r);
/* Where the reader is, to read a value again later (jr_seek). */
struct jr_mark {
    const char *p;
    int depth;
};
struct jr_mark jr_tell(const struct jread *r);
void jr_seek(struct jread *r, struct jr_mark m);

#endif
