#!/bin/bash
# cluster_restart: the kubelet side of pods that fail.
# kill -9 of a container -> restarted (restartCount, lastState 137);
# a container that keeps crashing -> CrashLoopBackOff with growing
# back-off; memory above the limit -> OOMKilled; a failing liveness probe
# -> restarts; a failing readiness probe -> out of the endpoints, no restart,
# and back in once it passes again.
# The back-off base is shortened (AIOPSLAB_BACKOFF_BASE_MS, read by the
# daemon) so that the doubling shows within seconds.
source "$(dirname "$0")/lib.sh"
export AIOPSLAB_BACKOFF_BASE_MS=400 AIOPSLAB_BACKOFF_MAX_MS=20000

lab_up
k create namespace rt >/dev/null 2>&1 || printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: rt\n' | apply_stdin >/dev/null

deployment() { # NAME REPLICAS COMMAND-JSON [EXTRA container yaml, indented 8]
    cat <<EOF
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $1
  namespace: rt
spec:
  replicas: $2
  selector:
    matchLabels:
      app: $1
  template:
    metadata:
      labels:
        app: $1
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: main
        image: local
        command: $3
${4:-}
EOF
}

out=$({
    deployment victim 1 '["example-words"]' "        ports:
        - name: http
          containerPort: 9090
        readinessProbe:
          httpGet: {path: /healthz, port: http}
          periodSeconds: 1"
    deployment crasher 1 '["sh", "-c", "echo crashing; exit 1"]'
    deployment hog 1 '["python3", "-c", "import time; b = b\"x\" * (200 << 20); time.sleep(60)"]' "        resources:
          limits: {memory: 64Mi, cpu: 500m}"
    deployment nolive 1 '["sleep", "3600"]' "        livenessProbe:
          httpGet: {path: /, port: 8080}
          periodSeconds: 1
          failureThreshold: 2"
    deployment flappy 2 '["sh", "-c", "touch ready && exec python3 -m http.server 8000"]' "        ports:
        - name: http
          containerPort: 8000
        readinessProbe:
          httpGet: {path: /ready, port: http}
          periodSeconds: 1
          failureThreshold: 1
          successThreshold: 1"
    cat <<EOF
---
apiVersion: v1
kind: Service
metadata:
  name: flappy
  namespace: rt
spec:
  selector:
    app: flappy
  ports:
  - name: http
    port: 8000
    targetPort: http
EOF
} | apply_stdin 2>&1) && ok "apply the test deployments" || bail_out "apply the test deployments" "$out"

# The daemon keeps only the newest runs' directories, so the back-off is
# measured from outside: when does the crasher's restartCount change?
restarts_seen=$(mktemp)
(
    last=-1
    for i in $(seq 300); do
        p=$(pods_of rt crasher | head -n 1)
        n=$([ -n "$p" ] && restart_count rt "$p")
        if [ -n "$n" ] && [ "$n" != "$last" ] && [ "$n" -ge 0 ] 2>/dev/null; then
            echo "$(date +%s%N) $n" >>"$restarts_seen"
            last=$n
        fi
        sleep 0.05
    done
) &
poller=$!

# ---- kill -9 of a running container ------------------------------------------
wait_for '[ -n "$(pods_of rt victim)" ] && pod_ready rt "$(pods_of rt victim)"' 20 ||
    not_ok "victim Ready" "$(k get pods -n rt 2>&1)"
victim=$(pods_of rt victim)
pid1=$(container_pid rt "$victim")
if [ -n "$pid1" ] && kill -0 "$pid1" 2>/dev/null; then
    ok "state.json names the running container process"
    kill -9 "$pid1"
    if wait_for '[ "$(restart_count rt "$victim")" -ge 1 ] && pod_ready rt "$victim"' 20; then
        ok "kill -9: restartCount 1 and Ready again"
    else
        not_ok "kill -9: restartCount 1 and Ready again" "$(pod_json rt "$victim" | jq -c .status)"
    fi
    pid2=$(container_pid rt "$victim")
    [ -n "$pid2" ] && [ "$pid2" != "$pid1" ] && kill -0 "$pid2" 2>/dev/null && ok "a new process runs" ||
        not_ok "a new process runs" "old $pid1, new $pid2"
    last=$(pod_json rt "$victim" | jq -c '.status.containerStatuses[0].lastState.terminated')
    [ "$(jq -r .exitCode <<<"$last")" = 137 ] && ok "lastState.terminated.exitCode 137" ||
        not_ok "lastState.terminated.exitCode 137" "$last"
    out=$(k logs -n rt "$victim" --previous 2>&1)
    grep -q '"msg":"listening on ' <<<"$out" && ok "kubectl logs --previous shows the killed run" ||
        not_ok "kubectl logs --previous shows the killed run" "$out"
else
    not_ok "state.json names the running container process" "pod $victim, run dir $(run_dir rt "$victim" 2>&1)"
fi

# ---- CrashLoopBackOff with growing back-off -----------------------------------
crasher=$(pods_of rt crasher)
if wait_for '[ "$(restart_count rt "$crasher")" -ge 4 ]' 25; then
    ok "crasher restarts again and again"
else
    not_ok "crasher restarts again and again" "$(pod_json rt "$crasher" | jq -c .status)"
fi
wait_for 'k get pods -n rt "$crasher" | grep -q CrashLoopBackOff' 10 &&
    ok "get pods shows CrashLoopBackOff" || not_ok "get pods shows CrashLoopBackOff" "$(k get pods -n rt "$crasher" 2>&1)"
st=$(pod_json rt "$crasher" | jq -c '.status.containerStatuses[0]')
jq -e '.lastState.terminated.exitCode == 1 and .lastState.terminated.reason == "Error"' <<<"$st" >/dev/null &&
    ok "crasher lastState: exit 1, Error" || not_ok "crasher lastState: exit 1, Error" "$st"
# The back-off: the time between successive restarts must grow.
kill "$poller" 2>/dev/null
wait "$poller" 2>/dev/null
gaps=$(awk 'NR > 1 && $2 == prev_n + 1 { printf "%.2f ", ($1 - prev_t) / 1e9 } { prev_t = $1; prev_n = $2 }' "$restarts_seen")
if python3 -c 'import sys; g = [float(x) for x in sys.argv[1:]]; sys.exit(not (len(g) >= 2 and g[-1] > 1.5 * g[0]))' $gaps 2>/dev/null; then
    ok "back-off grows between restarts ($gaps s)"
else
    not_ok "back-off grows between restarts" "gaps: $gaps" "$(cat "$restarts_seen")"
fi
rm -f "$restarts_seen"

# ---- OOMKilled -----------------------------------------------------------------
hog=$(pods_of rt hog)
if wait_for '[ "$(pod_json rt "$hog" | jq -r ".status.containerStatuses[0].lastState.terminated.reason")" = OOMKilled ]' 20; then
    ok "200 MiB under a 64Mi limit: lastState.terminated.reason OOMKilled"
else
    not_ok "200 MiB under a 64Mi limit: lastState.terminated.reason OOMKilled" "$(pod_json rt "$hog" | jq -c .status)"
fi
code=$(pod_json rt "$hog" | jq -r '.status.containerStatuses[0].lastState.terminated.exitCode')
[ "$code" = 137 ] && ok "OOMKilled exit code 137" || not_ok "OOMKilled exit code 137 (got $code)"

# ---- failing liveness probe ----------------------------------------------------------
nolive=$(pods_of rt nolive)
if wait_for '[ "$(restart_count rt "$nolive")" -ge 1 ]' 20; then
    ok "failing liveness probe restarts the container"
else
    not_ok "failing liveness probe restarts the container" "$(pod_json rt "$nolive" | jq -c .status)"
fi
out=$(k get events -n rt 2>&1)
grep -q 'Liveness probe failed' <<<"$out" && ok "event: Liveness probe failed" || not_ok "event: Liveness probe failed" "$out"

# ---- failing readiness probe -------------------------------------------------------------
if wait_for '[ "$(endpoint_addrs rt flappy | grep -c .)" = 2 ]' 20; then
    ok "flappy: 2 endpoints"
else
    not_ok "flappy: 2 endpoints" "$(k get endpoints -n rt flappy 2>&1)" "$(k get pods -n rt 2>&1)"
fi
a=$(pods_of rt flappy | head -n 1)
b=$(pods_of rt flappy | tail -n 1)
apid=$(container_pid rt "$a")
aroot=$(cd "/proc/$apid/cwd" 2>/dev/null && pwd -P)
aip=$(pod_json rt "$a" | jq -r .status.podIP)
bip=$(pod_json rt "$b" | jq -r .status.podIP)
if [ -n "$aroot" ] && [ -f "$aroot/ready" ]; then
    rm -f "$aroot/ready"
    if wait_for '[ "$(endpoint_addrs rt flappy)" = "$bip:8000" ]' 10; then
        ok "failing readiness: the pod leaves the endpoints"
    else
        not_ok "failing readiness: the pod leaves the endpoints" "$(endpoint_addrs rt flappy)"
    fi
    pod_ready rt "$a" && not_ok "failing readiness: Ready False" || ok "failing readiness: Ready False"
    [ "$(restart_count rt "$a")" = 0 ] && ok "failing readiness does not restart" ||
        not_ok "failing readiness does not restart" "$(restart_count rt "$a")"
    # Traffic through the ClusterIP goes to the ready pod only.
    ip=$(cluster_ip rt flappy)
    codes=$(for i in 1 2 3 4 5 6; do http_code "http://$ip:8000/ready"; echo; done | sort -u | tr '\n' ' ')
    [ "$codes" = "200 " ] && ok "ClusterIP traffic reaches only the ready pod" || not_ok "ClusterIP traffic reaches only the ready pod" "codes $codes"
    touch "$aroot/ready"
    if wait_for '[ "$(endpoint_addrs rt flappy | grep -c .)" = 2 ]' 10; then
        ok "passing again: back in the endpoints"
    else
        not_ok "passing again: back in the endpoints" "$(endpoint_addrs rt flappy)"
    fi
    grep -q "$aip" <<<"$(endpoint_addrs rt flappy)" || not_ok "the pod's own IP is back" "$aip"
else
    not_ok "flappy pod's working directory holds ./ready" "pod $a pid $apid cwd $aroot"
fi
done_testing
