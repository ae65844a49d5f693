/* req.c: what a handler reads from its request and how it answers.
 *
 * Query parameters come from libmicrohttpd (already decoded); a body of
 * type application/x-www-form-urlencoded is split and decoded here on the
 * first kit_param call (query string first, then the body, as Go's
 * r.FormValue looks). kit_json parses the body once with jansson (bounded
 * by KIT_MAX_BODY, which the server enforced while reading it) and keeps
 * the error text. Replies are queued on the connection at once; a second
 * reply is ignored with a warning, so a handler bug cannot corrupt the
 * connection.
 */
#include "kit_int.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *kit_method(const struct kit_req *r) { return r->method; }
const char *kit_path(const struct kit_req *r) { return r->path; }

const char *kit_header(struct kit_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int kit__url_decode(char *s)
{
    char *w = s;
    for (const char *p = s; *p; p++) {
        if (*p == '+') {
            *w++ = ' ';
        } else if (*p == '%') {
            int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
            if (hi < 0 || lo < 0) return -EINVAL;
            if (!hi && !lo) return -EINVAL; /* %00 would cut the value */
            *w++ = (char)(hi * 16 + lo);
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return 0;
}

void kit__form_free(char **pairs, size_t n)
{
    for (size_t i = 0; i < 2 * n; i++)
        free(pairs[i]);
    free(pairs);
}

int kit__form_parse(const char *text, size_t len, char ***pairs, size_t *n)
{
    char **out = NULL;
    size_t count = 0;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && text[j] != '&')
            j++;
        if (j > i) {
            size_t eq = i;
            while (eq < j && text[eq] != '=')
                eq++;
            char *key = kit__xmalloc(eq - i + 1);
            memcpy(key, text + i, eq - i);
            key[eq - i] = '\0';
            size_t vlen = eq < j ? j - eq - 1 : 0;
            char *val = kit__xmalloc(vlen + 1);
            if (vlen) memcpy(val, text + eq + 1, vlen);
            val[vlen] = '\0';
            if (memchr(key, '\0', eq - i) || memchr(val, '\0', vlen) || kit__url_decode(key) < 0 ||
                kit__url_decode(val) < 0) {
                free(key);
                free(val);
                kit__form_free(out, count);
                return -EINVAL;
            }
            out = kit__xrealloc(out, sizeof *out * 2 * (count + 1));
            out[2 * count] = key;
            out[2 * count + 1] = val;
            count++;
        }
        i = j + 1;
    }
    *pairs = out;
    *n = count;
    return 0;
}

const char *kit_param(struct kit_req *r, const char *name)
{
    const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    if (v) return v;
    if (!r->form_done) {
        r->form_done = 1;
        const char *ct = kit_header(r, "Content-Type");
        if (ct && !strncasecmp(ct, "application/x-www-form-urlencoded", 33) && r->body &&
            kit__form_parse(r->body, r->len, &r->form, &r->nform) < 0) {
            r->form = NULL;
            r->nform = 0;
        }
    }
    for (size_t i = 0; i < r->nform; i++)
        if (!strcmp(r->form[2 * i], name)) return r->form[2 * i + 1];
    return NULL;
}

json_t *kit_json(struct kit_req *r, char *err, size_t errlen)
{
    if (!r->json_done) {
        r->json_done = 1;
        if (!r->len) {
            snprintf(r->json_err, sizeof r->json_err, "request body is empty (want JSON)");
        } else {
            json_error_t je;
            r->json = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &je);
            if (!r->json)
                snprintf(r->json_err, sizeof r->json_err, "malformed JSON at line %d column %d: %s", je.line, je.column,
                         je.text);
        }
    }
    if (!r->json && err && errlen) snprintf(err, errlen, "%s", r->json_err);
    return r->json;
}

void kit__req_free(struct kit_req *r)
{
    if (!r) return;
    free(r->body);
    json_decref(r->json);
    kit__form_free(r->form, r->nform);
    kit__span_free(r->span);
    free(r);
}

void kit__reply(struct kit_req *r, int status, const char *content_type, char *body, size_t len)
{
    if (r->replied) {
        kit_log(r, KIT_WARN, "second reply (%d) to %s %s ignored", status, r->method, r->path);
        free(body);
        return;
    }
    r->replied = 1;
    r->status = status;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return;
    }
    MHD_add_response_header(resp, "Content-Type", content_type);
    if (atomic_load(&r->k->stopping)) MHD_add_response_header(resp, "Connection", "close");
    MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
}

void kit_reply_json(struct kit_req *r, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) text = kit__xstrdup("null");
    size_t n = strlen(text);
    text = kit__xrealloc(text, n + 2);
    text[n++] = '\n';
    text[n] = '\0';
    kit__reply(r, status, "application/json", text, n);
}

void kit_reply_text(struct kit_req *r, int status, const char *content_type, const char *body)
{
    char *copy = kit__xstrdup(body);
    kit__reply(r, status, content_type ? content_type : "text/plain; charset=utf-8", copy, strlen(copy));
}

void kit_reply_raw(struct kit_req *r, int status, const char *content_type, const char *body, size_t len)
{
    char *copy = kit__xmalloc(len + 1);
    if (len) memcpy(copy, body, len);
    copy[len] = '\0';
    kit__reply(r, status, content_type ? content_type : "text/plain; charset=utf-8", copy, len);
}

void kit_reply_error(struct kit_req *r, int status, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (status >= 500) {
        kit_log(r, KIT_ERROR, "%s", msg);
        if (r->span && !r->span->error) {
            r->span->error = 1;
            free(r->span->status_msg);
            r->span->status_msg = kit__xstrdup(msg);
        }
    } else {
        kit_log(r, KIT_WARN, "%s", msg);
    }
    json_t *m = json_string(msg);
    if (!m) m = json_string("error (message not UTF-8)");
    kit_reply_json(r, status, json_pack("{s:o}", "error", m));
}
