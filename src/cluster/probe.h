/* probe: liveness, readiness and startup probes of one container, run on
 * the daemon's loop the way kubelet runs them — httpGet (status 200-399
 * passes), tcpSocket (a connect passes) and exec (exit 0 passes) — with
 * initialDelaySeconds, periodSeconds, timeoutSeconds and the success and
 * failure thresholds. Probes connect straight to the pod IP, as kubelet
 * does, not through the mesh. */
#ifndef CLUSTER_PROBE_H
#define CLUSTER_PROBE_H
#include <jansson.h>
#include <uv.h>

enum probe_kind { PROBE_LIVENESS, PROBE_READINESS, PROBE_STARTUP };
enum probe_result { PROBE_UNKNOWN, PROBE_SUCCESS, PROBE_FAILURE };

/* Called after every check: ok and a message for a failure (kubelet's
 * text, e.g. "HTTP probe failed with statuscode: 500"), and the result
 * once a threshold is reached (PROBE_UNKNOWN before). */
typedef void (*probe_cb)(void *arg, enum probe_kind kind, int ok, const char *msg, enum probe_result result);

struct probe;

/* spec is the probe object of the container spec (borrowed, copied);
 * port is the resolved port for httpGet/tcpSocket; env (NULL-terminated,
 * copied) and cwd for exec. */
struct probe *probe_new(uv_loop_t *loop, enum probe_kind kind, const json_t *spec, const char *ip, int port,
                        const json_t *env, const char *cwd, probe_cb cb, void *arg);
/* Stop and free; a check in flight is abandoned safely. */
void probe_free(struct probe *p);
const char *probe_kind_name(enum probe_kind k); /* "Liveness", "Readiness", "Startup" */

#endif
