#!/bin/bash
# bench/hotel-reservation.sh — HotelReservation on this machine:
#   1. deploy from nothing (a fresh lab, empty stores, seeding included) to
#      every pod Ready;
#   2. the whole app's memory once warm: RSS summed over every process of
#      its 17 pods (counts PostgreSQL's shared buffers once per backend) and
#      PSS (shared pages divided among their users: the honest total);
#   3. DeathStarBench's mixed workload (apps/hotel-reservation/wrk) at
#      saturation with wrk: through the mesh (frontend ClusterIP) and, as the
#      reference, straight to the frontend pod's IP (the app's calls to its
#      services still cross the mesh) — requests/s, p50, p99, non-2xx.
# Usage: BUILD=build bench/hotel-reservation.sh [DURATION_S] [CONNECTIONS]
# Target (issue 3): the app, stores included, <= 400 MB.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
DURATION=${1:-20}
CONNS=${2:-32}
export AIOPSLAB_HOME=$(mktemp -d /tmp/aiopslab-bench.XXXXXX)
chmod 711 "$AIOPSLAB_HOME" # the stores run as nobody
LAB=bench-hr
NS=test-hotel-reservation
A="$BUILD/aiopslab --lab $LAB"
LUA=apps/hotel-reservation/wrk/mixed-workload.lua
cleanup() { $A cluster down --purge >/dev/null 2>&1; rm -rf "$AIOPSLAB_HOME"; }
trap cleanup EXIT
command -v wrk >/dev/null || { echo "hotel-reservation: wrk is not installed" >&2; exit 1; }
$A cluster up --net 241 >/dev/null || exit 1
echo "hotel-reservation: load average before: $(cut -d" " -f1-3 /proc/loadavg), $(nproc) cores (other work on the machine skews every figure)"

start=$(date +%s%N)
$A deploy hotel-reservation >/dev/null || { echo "hotel-reservation: deploy failed" >&2; exit 1; }
deploy_ms=$((($(date +%s%N) - start) / 1000000))
echo "hotel-reservation: deploy from nothing to 17/17 pods Ready: $deploy_ms ms"

fe_ip=$($A kubectl get svc frontend -n $NS -o jsonpath='{.spec.clusterIP}')
fe_pod=$($A kubectl get pods -n $NS -l app=frontend -o jsonpath='{.items[0].status.podIP}')

# Warm the caches (and the services' connection pools).
wrk -t2 -c8 -d5s -s "$LUA" "http://$fe_ip:5000" >/dev/null 2>&1

# Every process of the app's pods: each container's pid (state.json) and its descendants.
app_pids() {
    local uid st pid
    for uid in $($A kubectl get pods -n $NS -o jsonpath='{range .items[*]}{.metadata.uid}{"\n"}{end}'); do
        for st in "$AIOPSLAB_HOME/labs/$LAB/pods/$uid"/containers/*/*/state.json; do
            [ -f "$st" ] || continue
            pid=$(jq -r 'select(.phase == "running" or .phase == null) | .pid // empty' "$st" 2>/dev/null)
            [ -n "$pid" ] && descendants "$pid"
        done
    done | sort -un
}
descendants() {
    echo "$1"
    local c
    for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do descendants "$c"; done
}
memory() {
    local rss=0 pss=0 n=0 p r s
    for p in $(app_pids); do
        r=$(awk '/^Rss:/ {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null)
        s=$(awk '/^Pss:/ {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null)
        [ -n "$r" ] || continue
        rss=$((rss + r)) pss=$((pss + s)) n=$((n + 1))
    done
    echo "$n processes, RSS $((rss / 1024)) MB, PSS $((pss / 1024)) MB"
}

# CPU seconds (user + system) of the given pids so far.
cpu_s() {
    local p t=0 hz
    hz=$(getconf CLK_TCK)
    for p in "$@"; do
        t=$((t + $(awk '{print $14 + $15}' /proc/"$p"/stat 2>/dev/null || echo 0)))
    done
    awk -v t="$t" -v hz="$hz" 'BEGIN {printf "%.2f", t / hz}'
}
MESH_PID=$(cat "$AIOPSLAB_HOME/labs/$LAB/mesh/mesh.pid" 2>/dev/null)

run_wrk() { # LABEL URL
    local out rps p50 p99 non2xx pids app0 app1 mesh0 mesh1 n
    pids=$(app_pids)
    app0=$(cpu_s $pids)
    mesh0=$(cpu_s $MESH_PID)
    out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s "$LUA" "$2" 2>&1)
    app1=$(cpu_s $pids)
    mesh1=$(cpu_s $MESH_PID)
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    echo "hotel-reservation: mixed workload $1: ${rps:-?} req/s, p50 ${p50:-?}, p99 ${p99:-?}, non-2xx ${non2xx:-0} (wrk -t2 -c$CONNS -d${DURATION}s)"
    awk -v a="$app0" -v b="$app1" -v m="$mesh0" -v q="$mesh1" -v n="${n:-0}" 'BEGIN {
        if (n > 0) printf "hotel-reservation:   CPU per request: app (17 pods) %.2f ms, mesh %.2f ms\n", (b - a) * 1000 / n, (q - m) * 1000 / n }'
}
run_wrk "through the mesh (frontend ClusterIP)" "http://$fe_ip:5000"
echo "hotel-reservation: memory after the run: $(memory)"
run_wrk "reference, frontend pod IP directly" "http://$fe_pod:5000"
echo "hotel-reservation: load average after: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
