/* text.c: text-service. ComposeText finds the @mentions and http(s) urls
 * of a post's text (DeathStarBench's patterns), has url-shorten-service
 * shorten the urls and user-mention-service resolve the mentions, and
 * answers the text with every url replaced by its short form.
 */
#include "sn.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int mention_char(int c)
{
    return isalnum(c) || c == '_' || c == '-';
}

/* DSB's url class, plus the path and query characters real urls carry. */
static int url_char(int c)
{
    return isalnum(c) || (c && strchr("_!~*'().&=+$%-/?#:;,", c));
}

/* Length of the url starting at p (0 if none). */
static size_t url_at(const char *p)
{
    size_t skip = !strncmp(p, "http://", 7) ? 7 : !strncmp(p, "https://", 8) ? 8 : 0;
    if (!skip) return 0;
    size_t n = skip;
    while (url_char((unsigned char)p[n])) n++;
    return n > skip ? n : 0;
}

static void compose_text(struct kit_req *r, void *arg SN_UNUSED)
{
    json_t *b = sn_body(r);
    if (!b) return;
    const char *text = sn_get_str(b, "text");
    if (!text) {
        kit_reply_error(r, 400, "missing text");
        return;
    }
    if (strlen(text) > SN_MAX_TEXT) {
        kit_reply_error(r, 400, "text longer than %d bytes", SN_MAX_TEXT);
        return;
    }
    json_t *usernames = json_array(), *urls = json_array();
    for (const char *p = text; *p;) {
        size_t n;
        if (*p == '@' && mention_char((unsigned char)p[1])) {
            for (n = 1; mention_char((unsigned char)p[n]); n++) {}
            if (json_array_size(usernames) < SN_MAX_LIST) json_array_append_new(usernames, json_stringn(p + 1, n - 1));
            p += n;
        } else if ((n = url_at(p)) > 0) {
            if (json_array_size(urls) < SN_MAX_LIST) json_array_append_new(urls, json_stringn(p, n));
            p += n;
        } else {
            p++;
        }
    }
    char err[512];
    json_t *short_rep = NULL, *mention_rep = NULL;
    int st = 200;
    if (json_array_size(urls) > 0) {
        st = sn_call(r, "url-shorten-service", "/ComposeUrls", json_pack("{s:O}", "urls", urls), &short_rep, err,
                     sizeof err);
        if (st / 100 != 2) {
            sn_reply_downstream(r, st, "ComposeUrls failed", err);
            goto out;
        }
    }
    if (json_array_size(usernames) > 0) {
        st = sn_call(r, "user-mention-service", "/ComposeUserMentions", json_pack("{s:O}", "usernames", usernames),
                     &mention_rep, err, sizeof err);
        if (st / 100 != 2) {
            sn_reply_downstream(r, st, "ComposeUserMentions failed", err);
            goto out;
        }
    }
    json_t *short_urls = json_object_get(short_rep, "urls");
    if (!json_is_array(short_urls)) short_urls = NULL;
    /* The text again, every url in its short form (in order of appearance). */
    size_t cap = strlen(text) + 64 * (json_array_size(urls) + 1), len = 0, ui = 0;
    char *out = malloc(cap);
    if (!out) {
        kit_reply_error(r, 500, "out of memory");
        goto out;
    }
    for (const char *p = text; *p;) {
        size_t n = 0;
        if (*p == '@' && mention_char((unsigned char)p[1])) {
            for (n = 1; mention_char((unsigned char)p[n]); n++) {}
        } else if ((n = url_at(p)) > 0) {
            const char *s = sn_get_str(json_array_get(short_urls, ui++), "shortened_url");
            if (s && len + strlen(s) < cap) {
                memcpy(out + len, s, strlen(s));
                len += strlen(s);
                p += n;
                continue;
            }
        } else {
            n = 1;
        }
        if (len + n >= cap) break;
        memcpy(out + len, p, n);
        len += n;
        p += n;
    }
    out[len] = '\0';
    json_t *mentions = json_object_get(mention_rep, "user_mentions");
    mentions = json_is_array(mentions) ? json_incref(mentions) : json_array();
    short_urls = short_urls ? json_incref(short_urls) : json_array();
    kit_reply_json(r, 200, json_pack("{s:s, s:o, s:o}", "text", out, "user_mentions", mentions, "urls", short_urls));
    free(out);
out:
    json_decref(short_rep);
    json_decref(mention_rep);
    json_decref(usernames);
    json_decref(urls);
}

int sn_text_setup(struct kit *k)
{
    kit_handle(k, "POST", "/ComposeText", "compose_text", compose_text, NULL);
    return 0;
}
