#!/bin/bash
# configmap_live: ConfigMap and Secret volumes follow their sources while
# the pod runs, as kubelet's AtomicWriter makes them: a changed key is seen
# by the running process within ~1-2 s, the files are symlinks through
# ..data into one timestamped folder (swapped atomically; old folders go),
# keys added or removed appear and vanish, a Secret's new value too; env
# (valueFrom and envFrom) keeps the value of the container's start until the
# pod is replaced.
source "$(dirname "$0")/lib.sh"

lab_up
NS=live
cm() { # A.TXT [EXTRA-KEY-LINE]
    apply_stdin <<EOF >/dev/null
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: $NS}
data:
  a.txt: "$1"
  MODE: "$1"
  ${2:-b.txt: "two"}
EOF
}
secret() { # TOKEN
    apply_stdin <<EOF >/dev/null
apiVersion: v1
kind: Secret
metadata: {name: sec, namespace: $NS}
stringData:
  token: "$1"
EOF
}
k create namespace $NS >/dev/null 2>&1 || apply_stdin <<<"{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$NS\"}}" >/dev/null
cm one
secret s3cret
apply_stdin <<EOF >/dev/null || bail_out "apply the reader Deployment"
apiVersion: apps/v1
kind: Deployment
metadata: {name: reader, namespace: $NS}
spec:
  replicas: 1
  selector: {matchLabels: {app: reader}}
  template:
    metadata: {labels: {app: reader}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: reader
        command: ["sh", "-c", "while :; do echo \"cfg=\$(cat etc/cfg/a.txt) c=\$(cat etc/cfg/c.txt 2>/dev/null) tok=\$(cat etc/sec/token) env=\$FROM_ENV envfrom=\$MODE\"; sleep 0.1; done"]
        env:
        - name: FROM_ENV
          valueFrom: {configMapKeyRef: {name: cfg, key: a.txt}}
        envFrom:
        - configMapRef: {name: cfg}
        volumeMounts:
        - {name: cfg, mountPath: /etc/cfg}
        - {name: sec, mountPath: /etc/sec}
      volumes:
      - name: cfg
        configMap: {name: cfg}
      - name: sec
        secret: {secretName: sec}
EOF
wait_for "all_ready $NS" 30 || bail_out "the reader pod runs" "$(k get pods -n $NS 2>&1)"
POD=$(pods_of $NS reader)
last() { k logs -n $NS "$POD" --tail 1 2>/dev/null; }
wait_for '[ "$(last)" = "cfg=one c= tok=s3cret env=one envfrom=one" ]' 10 &&
    ok "the pod reads its ConfigMap and Secret files and env" || not_ok "the pod reads its files and env" "$(last)"

VOL=$(dirname "$(run_dir $NS "$POD")")/../../volumes/cfg
layout() { # the volume's layout, as kubelet's AtomicWriter leaves it
    [ "$(readlink "$VOL/a.txt")" = ..data/a.txt ] && [ "$(readlink "$VOL/b.txt")" = ..data/b.txt ] &&
        readlink "$VOL/..data" | grep -Eq '^\.\.[0-9]{4}_[0-9]{2}_[0-9]{2}_[0-9]{2}_[0-9]{2}_[0-9]{2}\.[0-9]{9}$' &&
        [ "$(ls -A "$VOL" | grep -c '^\.\.[0-9]')" = 1 ]
}
check "files are symlinks through ..data into one timestamped folder" layout
old_data=$(readlink "$VOL/..data")

# ---- a changed key reaches the running process -----------------------------------
t0=$(date +%s%N)
cm uno
if wait_for '[ "$(last | cut -d" " -f1)" = cfg=uno ]' 5; then
    ms=$((($(date +%s%N) - t0) / 1000000))
    ok "a changed ConfigMap key is seen by the running pod (${ms} ms)"
    diag "ConfigMap change to the pod's read: $ms ms"
else
    not_ok "a changed ConfigMap key is seen by the running pod" "$(last)"
fi
r=$(last)
case "$r" in *"env=one envfrom=one"*) ok "env and envFrom keep the start's value" ;;
*) not_ok "env and envFrom keep the start's value" "$r" ;; esac
[ "$(readlink "$VOL/..data")" != "$old_data" ] && [ ! -e "$VOL/$old_data" ] && layout &&
    ok "the update swapped ..data to a new folder and removed the old one" ||
    not_ok "the update swapped ..data to a new folder and removed the old one" "$(ls -la "$VOL")"
data_before=$(readlink "$VOL/..data")
k annotate configmap cfg -n $NS touched=yes >/dev/null 2>&1
sleep 1.5
[ "$(readlink "$VOL/..data")" = "$data_before" ] && ok "a change without new data rewrites nothing" ||
    not_ok "a change without new data rewrites nothing"

# ---- keys come and go; Secrets follow too -------------------------------------------
cm uno 'c.txt: "three"'
wait_for '[ "$(last | cut -d" " -f2)" = c=three ]' 5 && ok "an added key appears" || not_ok "an added key appears" "$(last)"
[ ! -e "$VOL/b.txt" ] && [ ! -L "$VOL/b.txt" ] && ok "a removed key's file goes" || not_ok "a removed key's file goes" "$(ls -la "$VOL")"
secret rotated
wait_for '[ "$(last | cut -d" " -f3)" = tok=rotated ]' 5 && ok "a changed Secret is seen by the running pod" ||
    not_ok "a changed Secret is seen by the running pod" "$(last)"

# ---- a new pod gets the new env ----------------------------------------------------
k delete pod -n $NS "$POD" >/dev/null
wait_for '[ -n "$(pods_of $NS reader)" ] && [ "$(pods_of $NS reader)" != "$POD" ] && all_ready $NS' 30
POD=$(pods_of $NS reader)
wait_for '[ "$(last)" = "cfg=uno c=three tok=rotated env=uno envfrom=uno" ]' 10 &&
    ok "a replaced pod starts with the new env" || not_ok "a replaced pod starts with the new env" "$(last)"

done_testing
