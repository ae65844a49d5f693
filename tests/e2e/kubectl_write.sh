#!/bin/bash
# kubectl_write: the write verbs of kubectl against a real lab — apply and
# create (-f file, directory, stdin; validation, unknown kinds, namespace
# conflicts), rollout status/restart/history/undo, scale, patch (three
# types), set env (and --list), exec (env, cwd, exit codes), label,
# annotate and delete (by name, -f, --ignore-not-found), with kubectl's
# texts and exit codes.
source "$(dirname "$0")/lib.sh"

lab_up
M="$AIOPSLAB_HOME/manifests"
mkdir -p "$M/app"

cat >"$M/app/00-ns.yaml" <<'EOF'
apiVersion: v1
kind: Namespace
metadata:
  name: kw
EOF
cat >"$M/app/10-app.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: kw
data:
  mode: fast
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: sleeper
  namespace: kw
  labels:
    app: sleeper
spec:
  replicas: 1
  selector:
    matchLabels:
      app: sleeper
  template:
    metadata:
      labels:
        app: sleeper
    spec:
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "exec sleep 3600"]
        env:
        - name: A
          value: "1"
---
apiVersion: v1
kind: Service
metadata:
  name: sleeper
  namespace: kw
spec:
  selector:
    app: sleeper
  ports:
  - port: 9090
    targetPort: 9090
EOF

# expect NAME WANT-RC WANT-OUT-SUBSTRING CMD...: rc and combined output.
expect() {
    local name=$1 want_rc=$2 want=$3
    shift 3
    local out rc
    out=$("$@" 2>&1)
    rc=$?
    if [ "$rc" = "$want_rc" ] && [[ "$out" == *"$want"* ]]; then
        ok "$name"
    else
        not_ok "$name" "command: $*" "exit $rc (want $want_rc)" "want: $want" "got: $out"
    fi
}

# ---- apply / create -------------------------------------------------------
out=$(k apply -f "$M/app" 2>&1)
want=$'namespace/kw created\nconfigmap/cfg created\ndeployment.apps/sleeper created\nservice/sleeper created'
[ "$out" = "$want" ] && ok "apply -f DIR: created, in file order" || not_ok "apply -f DIR" "$out"
out=$(k apply -f "$M/app" 2>&1)
want=$'namespace/kw unchanged\nconfigmap/cfg unchanged\ndeployment.apps/sleeper unchanged\nservice/sleeper unchanged'
[ "$out" = "$want" ] && ok "apply again: unchanged" || not_ok "apply again: unchanged" "$out"
expect "create -f of an existing object: AlreadyExists" 1 \
    'Error from server (AlreadyExists): configmaps "cfg" already exists' k create -f "$M/app/10-app.yaml"

out=$(printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fromstdin\ndata:\n  a: "1"\n' | k apply -n kw -f - 2>&1)
[ "$out" = "configmap/fromstdin created" ] && ok "apply -f - (stdin) with -n" || not_ok "apply -f -" "$out"
out=$(k get cm fromstdin -n kw -o json 2>&1 | jq -r .data.a)
[ "$out" = 1 ] && ok "stdin object got -n's namespace" || not_ok "stdin object got -n's namespace" "$out"

cat >"$M/bad-kind.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: should-not-exist
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
EOF
expect "unknown kind: resource mapping not found" 1 \
    "error: resource mapping not found for name: \"w\" namespace: \"\" from \"$M/bad-kind.yaml\": no matches for kind \"Widget\" in version \"example.com/v1\"" \
    k apply -f "$M/bad-kind.yaml"
expect "a bad file sends nothing (its good ConfigMap was not created)" 1 \
    'configmaps "should-not-exist" not found' k get cm should-not-exist

cat >"$M/bad-port.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
  - name: c
    command: ["sleep", "1"]
    ports:
    - containerPort: 99999
EOF
expect "invalid manifest: error validating FILE: FILE:LINE: FIELD" 1 \
    "error: error validating \"$M/bad-port.yaml\": $M/bad-port.yaml:10: spec.containers[0].ports[0].containerPort" \
    k apply -f "$M/bad-port.yaml"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n' >"$M/syntax.yaml"
expect "YAML syntax error names FILE:LINE" 1 "$M/syntax.yaml:" k apply -f "$M/syntax.yaml"
expect "namespace in file vs -n: kubectl's mismatch error" 1 \
    'error: the namespace from the provided object "kw" does not match the namespace "other". You must pass the same namespace or not pass a namespace' \
    k apply -n other -f "$M/app/10-app.yaml"
expect "apply without -f" 1 "error: must specify one of -f and -k" k apply

# ---- rollout status / scale -------------------------------------------------
expect "rollout status waits for the rollout" 0 'deployment "sleeper" successfully rolled out' \
    k rollout status deploy/sleeper -n kw --timeout=30s
expect "scale deploy/x --replicas=2" 0 "deployment.apps/sleeper scaled" k scale deploy/sleeper -n kw --replicas=2
expect "spec.replicas is 2" 0 "2" k get deploy sleeper -n kw -o jsonpath='{.spec.replicas}'
expect "scale --current-replicas mismatch" 1 "error: Expected replicas to be 5, was 2" \
    k scale deployment sleeper -n kw --current-replicas=5 --replicas=1
expect "scale without --replicas" 1 'required flag(s) "replicas" not set' k scale deploy/sleeper -n kw
expect "scale a missing deployment: NotFound" 1 'Error from server (NotFound): deployments.apps "nope" not found' \
    k scale deploy/nope -n kw --replicas=1
expect "rollout status after scale" 0 'deployment "sleeper" successfully rolled out' \
    k rollout status deploy/sleeper -n kw --timeout=30s
if wait_for '[ "$(pods_of kw sleeper | wc -l)" = 2 ]' 20; then ok "two sleeper pods"; else not_ok "two sleeper pods" "$(k get pods -n kw 2>&1)"; fi

# ---- patch ----------------------------------------------------------------
expect "patch (strategic)" 0 "deployment.apps/sleeper patched" \
    k patch deployment sleeper -n kw -p '{"metadata":{"labels":{"team":"sre"}}}'
expect "patch again: patched (no change)" 0 "deployment.apps/sleeper patched (no change)" \
    k patch deployment sleeper -n kw -p '{"metadata":{"labels":{"team":"sre"}}}'
expect "patch --type merge with YAML on a configmap" 0 "configmap/cfg patched" \
    k patch cm cfg -n kw --type merge -p 'data: {mode: slow}'
expect "merge patch took" 0 "slow" k get cm cfg -n kw -o jsonpath='{.data.mode}'
expect "patch --type json on a service" 0 "service/sleeper patched" \
    k patch svc/sleeper -n kw --type=json -p '[{"op":"replace","path":"/spec/ports/0/targetPort","value":9999}]'
expect "json patch took" 0 "9999" k get svc sleeper -n kw -o jsonpath='{.spec.ports[0].targetPort}'
printf '{"data":{"extra":"yes"}}' >"$M/patch.json"
expect "patch --patch-file" 0 "configmap/cfg patched" k patch cm cfg -n kw --patch-file "$M/patch.json"
expect "patch a missing object: NotFound" 1 'Error from server (NotFound): deployments.apps "nope" not found' \
    k patch deploy nope -n kw -p '{"spec":{}}'
expect "patch with a bad --type" 1 'error: --type must be one of [json merge strategic], not "xml"' \
    k patch deploy sleeper -n kw --type xml -p '{}'
expect "patch -o name" 0 "deployment.apps/sleeper" \
    k patch deploy sleeper -n kw -p '{"metadata":{"labels":{"team":"ops"}}}' -o name

# ---- set env / exec -----------------------------------------------------------
expect "set env KEY=VAL KEY-" 0 "deployment.apps/sleeper env updated" k set env deploy/sleeper -n kw B=2 A-
out=$(k set env deploy/sleeper -n kw --list 2>&1)
if [[ "$out" == *"# deployments sleeper, container main"*"B=2"* ]] && [[ "$out" != *"A=1"* ]]; then
    ok "set env --list"
else
    not_ok "set env --list" "$out"
fi
expect "rollout status after set env" 0 'deployment "sleeper" successfully rolled out' \
    k rollout status deploy/sleeper -n kw --timeout=30s
wait_for '[ "$(pods_of kw sleeper | wc -l)" = 2 ]' 20
expect "exec deploy/x sees the container's env" 0 "B=2" k exec -n kw deploy/sleeper -- sh -c 'echo B=$B A=$A'
pod=$(pods_of kw sleeper | head -n 1)
uid=$(pod_json kw "$pod" | jq -r .metadata.uid)
out=$(k exec -n kw "$pod" -c main -- pwd 2>&1)
[ "$out" = "$LABDIR/pods/$uid/root" ] && ok "exec runs in the pod's root" || not_ok "exec cwd" "$out" "$LABDIR/pods/$uid/root"
out=$(k exec -n kw "$pod" -- sh -c 'exit 4' 2>&1)
rc=$?
[ $rc = 4 ] && [[ "$out" == *"command terminated with exit code 4"* ]] && ok "exec: exit code passed through" ||
    not_ok "exec: exit code" "exit $rc" "$out"
expect "exec without --" 1 "exec [POD] [COMMAND] is not supported anymore" k exec -n kw "$pod" ls
expect "exec into a missing pod" 1 "Error from server (NotFound): pods \"nope\" not found" k exec -n kw nope -- ls
expect "exec into a missing container" 1 "container nope is not valid for pod $pod" k exec -n kw "$pod" -c nope -- ls

# ---- rollout restart / history / undo --------------------------------------------
expect "rollout restart" 0 "deployment.apps/sleeper restarted" k rollout restart deployment/sleeper -n kw
out=$(k get deploy sleeper -n kw -o json | jq -r '.spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"] // empty')
[[ "$out" == 20*T* ]] && ok "restart stamps kubectl.kubernetes.io/restartedAt" || not_ok "restartedAt" "$out"
expect "rollout status after restart" 0 'deployment "sleeper" successfully rolled out' \
    k rollout status deploy/sleeper -n kw --timeout=30s
out=$(k rollout history deploy/sleeper -n kw 2>&1)
if [[ "$out" == "deployment.apps/sleeper"*"REVISION  CHANGE-CAUSE"* ]] && grep -qE '^3 +<none>' <<<"$out"; then
    ok "rollout history: REVISION  CHANGE-CAUSE, 3 revisions"
else
    not_ok "rollout history" "$out"
fi
expect "rollout history --revision=1 shows that template" 0 "A:" k rollout history deploy/sleeper -n kw --revision=1
expect "rollout undo --to-revision=1" 0 "deployment.apps/sleeper rolled back" \
    k rollout undo deploy/sleeper -n kw --to-revision=1
expect "rollout undo to a missing revision" 1 "error: unable to find specified revision 99 in history" \
    k rollout undo deploy/sleeper -n kw --to-revision=99
expect "undo brought A back" 0 "A" \
    k get deploy sleeper -n kw -o jsonpath='{.spec.template.spec.containers[0].env[0].name}'
expect "rollout status --watch=false prints once" 0 'deployment "sleeper"' \
    k rollout status deploy/sleeper -n kw --watch=false

# ---- label / annotate ---------------------------------------------------------------
k rollout status deploy/sleeper -n kw --timeout=30s >/dev/null 2>&1
wait_for '[ "$(pods_of kw sleeper | wc -l)" = 2 ]' 20
pod=$(pods_of kw sleeper | head -n 1)
expect "label pod" 0 "pod/$pod labeled" k label pod "$pod" -n kw tier=backend
expect "label without --overwrite" 1 "'tier' already has a value (backend), and --overwrite is false" \
    k label pod "$pod" -n kw tier=front
expect "label --overwrite" 0 "pod/$pod labeled" k label pod "$pod" -n kw tier=front --overwrite
expect "patch a pod's labels" 0 "pod/$pod patched" k patch pod "$pod" -n kw -p '{"metadata":{"labels":{"p":"q"}}}'
expect "patch a pod's spec: Forbidden" 1 "pod updates may not change fields other than" \
    k patch pod "$pod" -n kw -p '{"spec":{"containers":[{"name":"main","image":"other"}]}}'
expect "annotate deployment" 0 "deployment.apps/sleeper annotated" k annotate deploy/sleeper -n kw note=hello
expect "annotation set" 0 "hello" k get deploy sleeper -n kw -o jsonpath='{.metadata.annotations.note}'

# ---- delete ------------------------------------------------------------------------
expect "delete svc NAME" 0 'service "sleeper" deleted' k delete svc sleeper -n kw
expect "delete again: NotFound" 1 'Error from server (NotFound): services "sleeper" not found' k delete svc sleeper -n kw
expect "delete --ignore-not-found" 0 "" k delete svc sleeper -n kw --ignore-not-found
expect "delete TYPE/NAME --wait=false --now" 0 'configmap "fromstdin" deleted' \
    k delete cm/fromstdin -n kw --wait=false --now
expect "delete deploy" 0 'deployment.apps "sleeper" deleted' k delete deployment sleeper -n kw
expect "delete -f FILE --ignore-not-found" 0 'configmap "cfg" deleted' \
    k delete -f "$M/app/10-app.yaml" --ignore-not-found
expect "delete -f removed the configmap" 1 'configmaps "cfg" not found' k get cm cfg -n kw
if wait_for '[ -z "$(pods_of kw sleeper)" ]' 30; then ok "the deployment's pods go"; else not_ok "pods go" "$(k get pods -n kw 2>&1)"; fi
expect "delete without a name" 1 "error: resource(s) were provided, but no name was specified" k delete pods -n kw
expect "delete an unknown type" 1 "error: the server doesn't have a resource type \"widgets\"" k delete widgets x

done_testing
