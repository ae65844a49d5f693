/* action_bind: from a parsed call to the named, type-checked arguments of
 * one action, following Python's rules for calling a function (positional
 * arguments fill parameters in order, keywords by name, defaults fill the
 * rest) and its error texts, which agents' models know well. Also the way
 * back, from a call to the text an agent would write (action_format), and
 * an action's signature for prompts and errors. See action.h. */
#include "orchestrator/action.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

/* ---- writing values as Python literals ----------------------------------- */

static int put_string(struct buf *out, const char *s, size_t n)
{
    int rc = buf_append(out, "\"", 1);
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') rc = buf_printf(out, "\\%c", c);
        else if (c == '\n') rc = buf_puts(out, "\\n");
        else if (c == '\t') rc = buf_puts(out, "\\t");
        else if (c == '\r') rc = buf_puts(out, "\\r");
        else if (c < 0x20 || c == 0x7f) rc = buf_printf(out, "\\x%02x", c);
        else rc = buf_append(out, &s[i], 1);
    }
    return rc ? rc : buf_append(out, "\"", 1);
}

/* The shortest of %.15g and %.17g that reads back as the same double, with
 * ".0" added when it would read back as an int. */
static int put_real(struct buf *out, double d)
{
    char n[40];
    snprintf(n, sizeof n, "%.15g", d);
    if (strtod(n, NULL) != d) snprintf(n, sizeof n, "%.17g", d);
    return buf_printf(out, "%s%s", n, strpbrk(n, ".eE") ? "" : ".0");
}

static int put_value(struct buf *out, const json_t *v, int depth)
{
    if (depth > ACTION_MAX_DEPTH) return -EINVAL;
    size_t i;
    const char *k;
    json_t *x;
    int rc = 0;
    switch (json_typeof(v)) {
    case JSON_STRING: return put_string(out, json_string_value(v), json_string_length(v));
    case JSON_INTEGER: return buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_REAL: return put_real(out, json_real_value(v));
    case JSON_TRUE: return buf_puts(out, "True");
    case JSON_FALSE: return buf_puts(out, "False");
    case JSON_NULL: return buf_puts(out, "None");
    case JSON_ARRAY:
        rc = buf_puts(out, "[");
        json_array_foreach(v, i, x) {
            if (!rc && i) rc = buf_puts(out, ", ");
            if (!rc) rc = put_value(out, x, depth + 1);
        }
        return rc ? rc : buf_puts(out, "]");
    case JSON_OBJECT:
        rc = buf_puts(out, "{");
        i = 0;
        json_object_foreach((json_t *)v, k, x) {
            if (!rc && i++) rc = buf_puts(out, ", ");
            if (!rc) rc = put_string(out, k, strlen(k));
            if (!rc) rc = buf_puts(out, ": ");
            if (!rc) rc = put_value(out, x, depth + 1);
        }
        return rc ? rc : buf_puts(out, "}");
    }
    return -EINVAL;
}

static int is_identifier(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ACTION_MAX_NAME || (s[0] >= '0' && s[0] <= '9')) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return 0;
    }
    return 1;
}

int action_format(const struct action_call *call, struct buf *out)
{
    const char *k;
    json_t *x;
    size_t i, n = 0;
    if (!is_identifier(call->name)) return -EINVAL;
    json_object_foreach(call->kwargs, k, x) if (!is_identifier(k)) return -EINVAL;
    int rc = buf_printf(out, "%s(", call->name);
    json_array_foreach(call->args, i, x) {
        if (!rc && n++) rc = buf_puts(out, ", ");
        if (!rc) rc = put_value(out, x, 0);
    }
    json_object_foreach(call->kwargs, k, x) {
        if (!rc && n++) rc = buf_puts(out, ", ");
        if (!rc) rc = buf_printf(out, "%s=", k);
        if (!rc) rc = put_value(out, x, 0);
    }
    return rc ? rc : buf_puts(out, ")");
}

/* ---- signatures ---------------------------------------------------------- */

static const char *const type_names[] = {
    [ACTION_ANY] = "any", [ACTION_STR] = "str",   [ACTION_INT] = "int",  [ACTION_FLOAT] = "float",
    [ACTION_BOOL] = "bool", [ACTION_LIST] = "list", [ACTION_DICT] = "dict",
};

static size_t param_count(const struct action_spec *spec)
{
    size_t n = 0;
    while (n < ACTION_MAX_PARAMS && spec->params[n].name) n++;
    return n;
}

/* A parameter's default as a new value, or NULL when the table's JSON is bad. */
static json_t *default_value(const struct action_param *pa)
{
    return json_loads(pa->dflt, JSON_DECODE_ANY, NULL);
}

int action_signature(const struct action_spec *spec, struct buf *out)
{
    int rc = buf_printf(out, "%s(", spec->name);
    for (size_t i = 0, n = param_count(spec); i < n && !rc; i++) {
        const struct action_param *pa = &spec->params[i];
        rc = buf_printf(out, "%s%s", i ? ", " : "", pa->name);
        if (!rc && pa->type != ACTION_ANY) rc = buf_printf(out, ": %s", type_names[pa->type]);
        if (!rc && pa->dflt) {
            json_t *d = default_value(pa);
            rc = buf_puts(out, pa->type != ACTION_ANY ? " = " : "=");
            if (!rc) rc = d ? put_value(out, d, 0) : -EINVAL;
            json_decref(d);
        }
    }
    return rc ? rc : buf_puts(out, ")");
}

/* ---- binding ------------------------------------------------------------- */

const struct action_spec *action_find(const struct action_spec *table, const char *name)
{
    for (; table && table->name; table++)
        if (!strcmp(table->name, name)) return table;
    return NULL;
}

/* Edit distance, ignoring case, of the first ACTION_MAX_NAME bytes. */
static size_t distance(const char *a, const char *b)
{
    size_t n = strnlen(a, ACTION_MAX_NAME), m = strnlen(b, ACTION_MAX_NAME);
    size_t row[ACTION_MAX_NAME + 1];
    for (size_t j = 0; j <= m; j++) row[j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t up = row[j];
            size_t sub = diag + ((a[i - 1] | 0x20) != (b[j - 1] | 0x20));
            size_t best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            diag = up;
        }
    }
    return row[m];
}

static void unknown_action(const struct action_spec *table, const char *name, char *err, size_t errlen)
{
    struct buf b;
    buf_init(&b, errlen);
    const char *near = NULL;
    size_t best = (strnlen(name, ACTION_MAX_NAME) + 2) / 3;
    for (const struct action_spec *s = table; s && s->name; s++) {
        size_t d = distance(name, s->name);
        if (d <= best && (!near || d < best)) near = s->name, best = d;
    }
    buf_printf(&b, "Unknown action '%.*s'.", ACTION_MAX_NAME, name);
    if (near) buf_printf(&b, " Did you mean '%s'?", near);
    buf_puts(&b, " Available actions:");
    for (const struct action_spec *s = table; s && s->name; s++) buf_printf(&b, "%s %s", s == table ? "" : ",", s->name);
    buf_puts(&b, ".");
    snprintf(err, errlen, "%s", b.data ? b.data : "Unknown action.");
    buf_free(&b);
}

/* Python's names for the types of values. */
static const char *value_type(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: return "str";
    case JSON_INTEGER: return "int";
    case JSON_REAL: return "float";
    case JSON_TRUE: case JSON_FALSE: return "bool";
    case JSON_NULL: return "NoneType";
    case JSON_ARRAY: return "list";
    case JSON_OBJECT: return "dict";
    }
    return "?";
}

static int type_ok(const struct action_param *pa, const json_t *v)
{
    if (json_is_null(v) && pa->dflt && !strcmp(pa->dflt, "null")) return 1;
    switch (pa->type) {
    case ACTION_ANY: return 1;
    case ACTION_STR: return json_is_string(v);
    case ACTION_INT: return json_is_integer(v);
    case ACTION_FLOAT: return json_is_number(v);
    case ACTION_BOOL: return json_is_boolean(v);
    case ACTION_LIST: return json_is_array(v);
    case ACTION_DICT: return json_is_object(v);
    }
    return 0;
}

/* The error text in b, then the signature, into err. */
static int bind_error(struct buf *b, const struct action_spec *spec, char *err, size_t errlen)
{
    buf_puts(b, "\nUsage: ");
    action_signature(spec, b);
    snprintf(err, errlen, "%s", b->data ? b->data : "");
    buf_free(b);
    return -EINVAL;
}

int action_bind(const struct action_spec *table, const struct action_call *call, json_t **args_out, char *err,
                size_t errlen)
{
    const struct action_spec *spec = action_find(table, call->name);
    if (!spec) {
        unknown_action(table, call->name, err, errlen);
        return -EINVAL;
    }
    const char *name = spec->name, *k;
    size_t n = param_count(spec), required = 0, given = json_array_size(call->args), i;
    const json_t *bound[ACTION_MAX_PARAMS] = {0};
    json_t *x;
    struct buf b;
    buf_init(&b, errlen + 256);
    for (i = 0; i < n; i++)
        if (!spec->params[i].dflt) required++;
    for (i = 0; i < given && i < n; i++) bound[i] = json_array_get(call->args, i);
    /* Python reports keyword mistakes first, then the count of positionals, then what is missing. */
    json_object_foreach(call->kwargs, k, x) {
        for (i = 0; i < n && strcmp(spec->params[i].name, k); i++) {}
        if (i == n) {
            buf_printf(&b, "%s() got an unexpected keyword argument '%.*s'", name, ACTION_MAX_NAME, k);
            return bind_error(&b, spec, err, errlen);
        }
        if (bound[i]) {
            buf_printf(&b, "%s() got multiple values for argument '%s'", name, k);
            return bind_error(&b, spec, err, errlen);
        }
        bound[i] = x;
    }
    if (given > n) {
        if (required < n)
            buf_printf(&b, "%s() takes from %zu to %zu positional arguments but %zu %s given", name, required, n,
                       given, given == 1 ? "was" : "were");
        else
            buf_printf(&b, "%s() takes %zu positional argument%s but %zu %s given", name, n, n == 1 ? "" : "s", given,
                       given == 1 ? "was" : "were");
        return bind_error(&b, spec, err, errlen);
    }
    size_t missing = 0, listed = 0;
    for (i = 0; i < n; i++)
        if (!bound[i] && !spec->params[i].dflt) missing++;
    if (missing) {
        /* 'a'; 'a' and 'b'; 'a', 'b', and 'c' */
        buf_printf(&b, "%s() missing %zu required positional argument%s: ", name, missing, missing == 1 ? "" : "s");
        for (i = 0; i < n; i++) {
            if (bound[i] || spec->params[i].dflt) continue;
            const char *sep = !listed ? "" : missing == 2 ? " and " : listed + 1 == missing ? ", and " : ", ";
            buf_printf(&b, "%s'%s'", sep, spec->params[i].name);
            listed++;
        }
        return bind_error(&b, spec, err, errlen);
    }
    json_t *out = json_object();
    for (i = 0; i < n; i++) {
        const struct action_param *pa = &spec->params[i];
        json_t *v;
        if (bound[i]) {
            if (!type_ok(pa, bound[i])) {
                json_decref(out);
                buf_printf(&b, "%s() argument '%s' must be %s, not %s", name, pa->name, type_names[pa->type],
                           value_type(bound[i]));
                return bind_error(&b, spec, err, errlen);
            }
            v = json_incref((json_t *)bound[i]);
        } else if (!(v = default_value(pa))) {
            json_decref(out);
            snprintf(err, errlen, "%s(): the default of '%s' in the action table is not JSON", name, pa->name);
            buf_free(&b);
            return -EINVAL;
        }
        /* Python would pass 5 on as an int; the executor is spared a second type. */
        if (pa->type == ACTION_FLOAT && json_is_integer(v)) {
            json_t *real = json_real((double)json_integer_value(v));
            json_decref(v);
            v = real;
        }
        json_object_set_new(out, pa->name, v);
    }
    buf_free(&b);
    *args_out = out;
    return 0;
}
