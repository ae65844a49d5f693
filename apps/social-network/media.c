/* media.c: media-service. ComposeMedia pairs the media ids and types of a
 * post (DeathStarBench's media-service keeps no data of its own; uploads
 * went to its media-frontend, which is not part of this port).
 */
#include "sn.h"

#include <stdio.h>
#include <string.h>

static void compose_media(struct kit_req *r, void *arg SN_UNUSED)
{
    json_t *b = sn_body(r);
    if (!b) return;
    json_t *ids = json_object_get(b, "media_ids"), *types = json_object_get(b, "media_types");
    if (!ids) ids = json_array();
    else json_incref(ids);
    if (!types) types = json_array();
    else json_incref(types);
    json_t *media = NULL;
    if (!json_is_array(ids) || !json_is_array(types)) {
        kit_reply_error(r, 400, "media_ids and media_types must be lists");
        goto out;
    }
    if (json_array_size(ids) != json_array_size(types)) {
        kit_reply_error(r, 400, "The lengths of media_id list and media_type list are not equal");
        goto out;
    }
    if (json_array_size(ids) > SN_MAX_LIST) {
        kit_reply_error(r, 400, "too many media (at most %d)", SN_MAX_LIST);
        goto out;
    }
    media = json_array();
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) {
        const char *type = json_string_value(json_array_get(types, i));
        char idbuf[32];
        const char *ids_s = json_string_value(id);
        if (!ids_s && json_is_integer(id)) {
            snprintf(idbuf, sizeof idbuf, "%lld", (long long)json_integer_value(id));
            ids_s = idbuf;
        }
        if (!ids_s || !*ids_s || strlen(ids_s) > 64 || !type || !*type || strlen(type) > 16) {
            kit_reply_error(r, 400, "invalid media at index %zu", i);
            goto out;
        }
        json_array_append_new(media, json_pack("{s:s, s:s}", "media_id", ids_s, "media_type", type));
    }
    kit_reply_json(r, 200, json_pack("{s:o}", "media", media));
    media = NULL;
out:
    json_decref(media);
    json_decref(ids);
    json_decref(types);
}

int sn_media_setup(struct kit *k)
{
    kit_handle(k, "POST", "/ComposeMedia", "compose_media", compose_media, NULL);
    return 0;
}
