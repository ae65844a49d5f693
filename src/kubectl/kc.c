/* kc: the pieces every kubectl verb shares — talking to the daemon and
 * printing errors the way kubectl does (see kc.h). A reply holding
 * {"error": {...}} becomes "Error from server (Reason): message"; a daemon
 * that does not run becomes kubectl's "connection refused" message, so an
 * agent sees the texts it knows. */
#include "kubectl/kc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cluster/client.h"

int kc_call(struct kc *kc, json_t *req, json_t **reply)
{
    char err[512];
    json_t *r = NULL;
    int rc = cluster_call(&kc->lab, req, &r, err, sizeof err);
    if (rc == -ECONNREFUSED || rc == -ENOENT) {
        fprintf(kc->err,
                "The connection to the server unix://%s/daemon.sock was refused - did you specify the right host "
                "or port?\n(%s)\n",
                kc->lab.dir, err);
        return -1;
    }
    if (rc) {
        fprintf(kc->err, "error: %s\n", err);
        return -1;
    }
    json_t *e = json_object_get(r, "error");
    if (e) {
        const char *reason = json_string_value(json_object_get(e, "reason"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        if (!msg && json_is_string(e)) msg = json_string_value(e);
        fprintf(kc->err, "Error from server (%s): %s\n", reason ? reason : "InternalError", msg ? msg : "unknown error");
        json_decref(r);
        return -1;
    }
    *reply = r;
    return 0;
}

int kc_usage_error(struct kc *kc, const char *verb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("error: ", kc->err);
    vfprintf(kc->err, fmt, ap);
    va_end(ap);
    fprintf(kc->err, "\nSee 'kubectl %s --help' for usage.\n", verb);
    return 1;
}

int kc_error(struct kc *kc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("error: ", kc->err);
    vfprintf(kc->err, fmt, ap);
    va_end(ap);
    fputc('\n', kc->err);
    return 1;
}
