#!/bin/bash
# bench/pods.sh — time from `kubectl apply` of a 25-replica Deployment to all
# 25 pods Ready, and the daemon's resident memory with them running.
# Usage: BUILD=build bench/pods.sh [REPLICAS] [ROUNDS]
# Target (issue 2): 25 pods Ready <= 1 s after apply; daemon <= 30 MB RSS.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
REPLICAS=${1:-25}
ROUNDS=${2:-5}
export AIOPSLAB_HOME=$(mktemp -d /tmp/aiopslab-bench.XXXXXX)
LAB=bench-pods
A="$BUILD/aiopslab --lab $LAB"
cleanup() { $A cluster down --purge >/dev/null 2>&1; rm -rf "$AIOPSLAB_HOME"; }
trap cleanup EXIT
$A cluster up --net 240 >/dev/null || exit 1
manifest() {
cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: bench, namespace: default}
spec:
  replicas: $REPLICAS
  selector: {matchLabels: {app: bench}}
  template:
    metadata: {labels: {app: bench, round: "$1"}}
    spec:
      containers:
      - name: sleeper
        command: ["sleep", "3600"]
YAML
}
ready_count() { $A kubectl get deploy bench -o 'jsonpath={.status.readyReplicas}/{.status.updatedReplicas}/{.status.replicas}' 2>/dev/null; }
times=()
for round in $(seq 1 "$ROUNDS"); do
    $A kubectl delete deployment bench >/dev/null 2>&1
    while [ "$($A kubectl get pods --no-headers 2>/dev/null | wc -l)" != 0 ]; do sleep 0.05; done
    start=$(date +%s%N)
    manifest "$round" | $A kubectl apply -f - >/dev/null || exit 1
    while [ "$(ready_count)" != "$REPLICAS/$REPLICAS/$REPLICAS" ]; do sleep 0.005; done
    end=$(date +%s%N)
    times+=($(( (end - start) / 1000000 )))
done
pid=$(cat "$AIOPSLAB_HOME/labs/$LAB/daemon.pid")
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
sorted=$(printf '%s\n' "${times[@]}" | sort -n | tr '\n' ' ')
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "pods: $REPLICAS pods apply->all Ready: median ${median} ms over $ROUNDS rounds (all: ${sorted}ms)"
echo "pods: daemon RSS with $REPLICAS pods: $((rss_kb / 1024)).$(( (rss_kb % 1024) * 10 / 1024 )) MB"
