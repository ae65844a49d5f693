/* selector: label selector matching (see selector.h). */
#include "cluster/selector.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *label(const json_t *labels, const char *key)
{
    json_t *v = labels ? json_object_get(labels, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    size_t i = 0;
    while (isspace((unsigned char)s[i])) i++;
    memmove(s, s + i, n - i + 1);
}

/* One requirement, e.g. "a=b", "a!=b", "a in (x,y)", "!a", "a". */
static int match_one(char *req, const json_t *labels, char *err, size_t errlen)
{
    trim(req);
    if (!*req) {
        snprintf(err, errlen, "found '', expected: identifier");
        return -EINVAL;
    }
    if (req[0] == '!') {
        char *k = req + 1;
        trim(k);
        return label(labels, k) == NULL;
    }
    char *op = strpbrk(req, "=!");
    char *sp = strstr(req, " in ");
    char *nsp = strstr(req, " notin ");
    if ((sp || nsp) && (!op || (sp ? sp : nsp) < op)) {
        int notin = nsp && (!sp || nsp < sp);
        char *at = notin ? nsp : sp;
        *at = '\0';
        char *set = at + (notin ? 7 : 4);
        trim(req);
        trim(set);
        size_t n = strlen(set);
        if (n < 2 || set[0] != '(' || set[n - 1] != ')') {
            snprintf(err, errlen, "found '%s', expected: '('", set);
            return -EINVAL;
        }
        set[n - 1] = '\0';
        const char *v = label(labels, req);
        int found = 0;
        for (char *save = NULL, *tok = strtok_r(set + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            trim(tok);
            if (v && !strcmp(tok, v)) found = 1;
        }
        return notin ? !found : found;
    }
    if (!op) return label(labels, req) != NULL;
    int neq = op[0] == '!';
    if (neq && op[1] != '=') {
        snprintf(err, errlen, "invalid selector requirement \"%s\"", req);
        return -EINVAL;
    }
    char *val = op + (neq ? 2 : (op[1] == '=' ? 2 : 1));
    *op = '\0';
    trim(req);
    trim(val);
    if (!*req) {
        snprintf(err, errlen, "invalid selector requirement: missing key");
        return -EINVAL;
    }
    const char *v = label(labels, req);
    return neq ? (!v || strcmp(v, val)) : (v && !strcmp(v, val));
}

int selector_match_string(const char *sel, const json_t *labels, char *err, size_t errlen)
{
    char buf[4096];
    if (strlen(sel) >= sizeof buf) {
        snprintf(err, errlen, "selector is too long");
        return -EINVAL;
    }
    snprintf(buf, sizeof buf, "%s", sel);
    int result = 1;
    /* Split on commas outside parentheses. */
    char *start = buf;
    int depth = 0;
    for (char *p = buf;; p++) {
        if (*p == '(') depth++;
        if (*p == ')') depth--;
        if ((*p == ',' && depth == 0) || *p == '\0') {
            int last = *p == '\0';
            *p = '\0';
            int m = match_one(start, labels, err, errlen);
            if (m < 0) return m;
            if (!m) result = 0;
            if (last) break;
            start = p + 1;
        }
    }
    return result;
}

int selector_match_map(const json_t *sel, const json_t *labels)
{
    if (!json_is_object(sel) || json_object_size(sel) == 0) return 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)sel, k, v) {
        const char *have = label(labels, k);
        if (!have || !json_is_string(v) || strcmp(have, json_string_value(v))) return 0;
    }
    return 1;
}
