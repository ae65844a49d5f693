#!/bin/bash
# cluster_api: what the API server does with objects, beyond the happy path
# — the cases a careful agent or user runs into: cluster-scoped objects that
# name a namespace, generateName, content for a namespace being deleted,
# Secret stringData, a pod relabelled out of its ReplicaSet, restartCount
# during back-off, and a client that never finishes its request.
source "$(dirname "$0")/lib.sh"
export AIOPSLAB_BACKOFF_BASE_MS=3000
lab_up

# A Namespace that carries metadata.namespace is still cluster-scoped.
printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: api1\n  namespace: bogus\n' | apply_stdin >/dev/null
check "cluster-scoped object with metadata.namespace: found by name" k get ns api1
out=$(printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c1\n  namespace: api1\ndata: {a: b}\n' | apply_stdin 2>&1)
[ "$out" = "configmap/c1 created" ] && ok "objects go into it" || not_ok "objects go into it" "$out"

# generateName: create names the object; apply refuses.
gen='apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: job-\n  namespace: api1\ndata: {a: b}\n'
out=$(printf "$gen" | k create -f - 2>&1)
[[ "$out" =~ ^configmap/job-[a-z0-9]{5}\ created$ ]] && ok "create with generateName: named generateName + 5 characters" ||
    not_ok "create with generateName: named generateName + 5 characters" "$out"
out=$(printf "$gen" | k apply -f - 2>&1)
[[ "$out" == *"cannot use generate name with apply"* ]] && ok "apply with generateName: refused" ||
    not_ok "apply with generateName: refused" "$out"

# Secret stringData is stored as base64 data with type Opaque.
printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: s1\n  namespace: api1\nstringData:\n  password: hunter2\n' | apply_stdin >/dev/null
out=$(k get secret s1 -n api1 -o jsonpath='{.type} {.data.password}' 2>&1)
[ "$out" = "Opaque aHVudGVyMg==" ] && ok "Secret stringData folded into data (base64), type Opaque" ||
    not_ok "Secret stringData folded into data (base64), type Opaque" "$out"

# A pod relabelled out of its ReplicaSet's selector is released and replaced.
cat <<'YAML' | apply_stdin >/dev/null
apiVersion: apps/v1
kind: Deployment
metadata: {name: sl, namespace: api1}
spec:
  replicas: 1
  selector: {matchLabels: {app: sl}}
  template:
    metadata: {labels: {app: sl}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - {name: c, command: ["sleep", "600"]}
YAML
wait_for "[ \"\$(k get pods -n api1 -l app=sl --no-headers 2>/dev/null | grep -c Running)\" = 1 ]" 20
p1=$(k get pods -n api1 -l app=sl -o name | head -1)
k label "$p1" -n api1 app=quarantine --overwrite >/dev/null
wait_for "[ \"\$(k get pods -n api1 -l app=sl --no-headers 2>/dev/null | grep -c Running)\" = 1 ]" 20 &&
    ok "a relabelled pod is replaced" || not_ok "a relabelled pod is replaced" "$(k get pods -n api1 --show-labels)"
out=$(k get "$p1" -n api1 -o jsonpath='{.status.phase} {.metadata.ownerReferences}' 2>&1)
[ "$out" = "Running " ] && ok "the relabelled pod runs on, ownerless" || not_ok "the relabelled pod runs on, ownerless" "$out"

# restartCount counts restarts that happened, also during back-off.
cat <<'YAML' | apply_stdin >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: crash, namespace: api1}
spec:
  containers:
  - {name: c, command: ["sh", "-c", "exit 1"]}
YAML
wait_for "k get pod crash -n api1 -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}' | grep -q CrashLoopBackOff" 20
runs=$(ls "$(dirname "$(run_dir api1 crash c 0)")" | wc -l)
rc=$(k get pod crash -n api1 -o jsonpath='{.status.containerStatuses[0].restartCount}')
[ "$rc" = $((runs - 1)) ] && ok "restartCount in back-off = runs - 1 ($rc after $runs runs)" ||
    not_ok "restartCount in back-off = runs - 1" "restartCount $rc, runs $runs"

# A startup probe holds liveness back: a slow starter is not killed.
cat <<'YAML' | apply_stdin >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: slow, namespace: api1}
spec:
  containers:
  - name: c
    command: ["sh", "-c", "sleep 3; exec python3 -m http.server 8000"]
    startupProbe: {tcpSocket: {port: 8000}, periodSeconds: 1, failureThreshold: 10}
    livenessProbe: {tcpSocket: {port: 8000}, periodSeconds: 1, failureThreshold: 1}
YAML
wait_for "k get pod slow -n api1 -o jsonpath='{.status.containerStatuses[0].started}' | grep -q true" 20
rc=$(k get pod slow -n api1 -o jsonpath='{.status.containerStatuses[0].restartCount}')
[ "$rc" = 0 ] && ok "startup probe holds the liveness probe back (no restart)" ||
    not_ok "startup probe holds the liveness probe back (no restart)" "restartCount $rc"

# A namespace being deleted takes no new content.
k delete pod crash -n api1 --wait=false >/dev/null 2>&1
k delete ns api1 --wait=false >/dev/null 2>&1
out=$(printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: late\n  namespace: api1\n' | apply_stdin 2>&1)
if [[ "$out" == *"forbidden: unable to create new content in namespace api1 because it is being terminated"* ]] ||
    [[ "$out" == *'namespaces "api1" not found'* ]]; then
    ok "apply into a terminating namespace: refused"
else
    not_ok "apply into a terminating namespace: refused" "$out"
fi

# The daemon drops a client that never finishes its request, and serves others.
sock="$AIOPSLAB_HOME/labs/$LAB/daemon.sock"
python3 - "$sock" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b'{"op":'); time.sleep(40)
PY
slow=$!
check "a half-sent request does not block others" k get ns default
kill $slow 2>/dev/null
done_testing
