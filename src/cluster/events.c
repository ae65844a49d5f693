/* events: Kubernetes Events about pods and controllers, kept as Event
 * objects in the store. A repeat of the same reason and message about the
 * same object bumps count and lastTimestamp, as the event recorder does;
 * each namespace keeps its newest EVENTS_MAX events. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/daemon.h"
#include "core/json.h"
#include "core/timeutil.h"

#define EVENTS_MAX 1000

static void trim_events(struct daemon *d, const char *ns)
{
    json_t *evs = store_list(d->store, "Event", ns);
    size_t n = json_array_size(evs);
    if (n > EVENTS_MAX) {
        /* Names end in a monotonic hex stamp: the oldest sort first by lastTimestamp. */
        for (size_t k = 0; k < n - EVENTS_MAX; k++) {
            json_t *oldest = NULL;
            size_t i;
            json_t *e;
            json_array_foreach(evs, i, e) {
                if (!json_is_object(e)) continue;
                if (!oldest || strcmp(json_path_str(e, "lastTimestamp", ""), json_path_str(oldest, "lastTimestamp", "")) < 0)
                    oldest = e;
            }
            if (!oldest) break;
            char name[300];
            snprintf(name, sizeof name, "%s", json_path_str(oldest, "metadata.name", ""));
            size_t idx;
            json_t *x;
            json_array_foreach(evs, idx, x) if (x == oldest) { json_array_set_new(evs, idx, json_null()); break; }
            store_del(d->store, "Event", ns, name);
        }
    }
    json_decref(evs);
}

void event_record(struct daemon *d, const json_t *obj, const char *type, const char *reason, const char *component,
                  const char *fmt, ...)
{
    char msg[1024], now[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    time_rfc3339(time(NULL), now, sizeof now);
    const char *ns = json_path_str(obj, "metadata.namespace", "default");
    const char *name = json_path_str(obj, "metadata.name", "");
    const char *kind = json_path_str(obj, "kind", "");
    const char *uid = json_path_str(obj, "metadata.uid", "");
    /* Same object, reason and message: count it. */
    json_t *evs = store_list(d->store, "Event", ns);
    size_t i;
    json_t *e;
    json_array_foreach(evs, i, e) {
        if (!strcmp(json_path_str(e, "involvedObject.uid", ""), uid) && !strcmp(json_path_str(e, "reason", ""), reason) &&
            !strcmp(json_path_str(e, "message", ""), msg)) {
            json_object_set_new(e, "count", json_integer(json_path_int(e, "count", 1) + 1));
            json_object_set_new(e, "lastTimestamp", json_string(now));
            store_put(d->store, e);
            json_decref(evs);
            return;
        }
    }
    json_decref(evs);
    char ename[400];
    snprintf(ename, sizeof ename, "%s.%llx", name, (unsigned long long)wall_ns());
    json_t *ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s}, s:s, s:s, s:s, s:i, s:s, s:s, "
                           "s:{s:s, s:s}, s:s, s:s}",
                           "apiVersion", "v1", "kind", "Event", "metadata", "name", ename, "namespace", ns,
                           "involvedObject", "kind", kind, "name", name, "namespace", ns, "uid", uid, "apiVersion",
                           json_path_str(obj, "apiVersion", "v1"), "reason", reason, "message", msg, "type", type,
                           "count", 1, "firstTimestamp", now, "lastTimestamp", now, "source", "component", component,
                           "host", DAEMON_NODE_NAME, "reportingComponent", component, "reportingInstance", DAEMON_NODE_NAME);
    store_put(d->store, ev);
    json_decref(ev);
    trim_events(d, ns);
}
