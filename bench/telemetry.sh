#!/bin/bash
# bench/telemetry.sh — what the kit's telemetry costs an app: HotelReservation
# under the same open-loop load (aiopslab load, constant rate, its 60/39/0.5/0.5
# mix) with span export to the lab's trace store on, then off (every
# Deployment's OTEL_EXPORTER_OTLP_ENDPOINT set empty, which turns export
# off in the kit; metrics and logs stay), alternating, ROUNDS times each.
# Prints p50 and p99 per round and the median p50 of each side.
# Usage: BUILD=build bench/telemetry.sh [RATE] [DURATION] [ROUNDS]
# Target (issue 4): telemetry adds <= 5% to the app's p50.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
RATE=${1:-150}
DUR=${2:-20s}
ROUNDS=${3:-3}
NS=test-hotel-reservation
export AIOPSLAB_HOME=$(mktemp -d /tmp/aiopslab-bench.XXXXXX)
chmod 711 "$AIOPSLAB_HOME"
LAB=bench-telemetry
A="$BUILD/aiopslab --lab $LAB"
cleanup() { $A cluster down --purge >/dev/null 2>&1; rm -rf "$AIOPSLAB_HOME"; }
trap cleanup EXIT
$A cluster up --net ${TELEMETRY_BENCH_NET:-238} >/dev/null || exit 1
$A deploy hotel-reservation >/dev/null || { echo "deploy failed"; exit 1; }
deps=$($A kubectl get deploy -n $NS -o name | grep -v -E 'mongodb|memcached')
export_to() { # "" turns export off; "-" puts the daemon's default back
    for d in $deps; do
        if [ "$1" = - ]; then $A kubectl set env -n $NS "$d" OTEL_EXPORTER_OTLP_ENDPOINT- >/dev/null
        else $A kubectl set env -n $NS "$d" "OTEL_EXPORTER_OTLP_ENDPOINT=$1" >/dev/null; fi
    done
    for d in $deps; do $A kubectl rollout status -n $NS "$d" --timeout=120s >/dev/null; done
    sleep 2
}
run() { # label
    local out p50 p99
    out=$($A load run --app hotel-reservation --pattern constant --rate "$RATE" --duration "$DUR" --seed 7 --json 2>/dev/null)
    p50=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["latency_ms"]["p50"])' <<<"$out")
    p99=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["latency_ms"]["p99"])' <<<"$out")
    printf '%-14s p50 %8.3f ms   p99 %8.3f ms\n' "$1" "$p50" "$p99"
    echo "$1 $p50" >>"$AIOPSLAB_HOME/p50s"
}
echo "# HotelReservation, aiopslab load --app hotel-reservation constant $RATE req/s for $DUR, $(nproc) CPUs"
run warmup >/dev/null
for r in $(seq 1 "$ROUNDS"); do
    run "export on"
    export_to ""
    run "export off"
    export_to -
done
python3 - "$AIOPSLAB_HOME/p50s" <<'PY'
import sys, statistics
on, off = [], []
for line in open(sys.argv[1]):
    label, v = line.rsplit(" ", 1)
    (on if label == "export on" else off if label == "export off" else []).append(float(v))
m_on, m_off = statistics.median(on), statistics.median(off)
print(f"median p50: export on {m_on:.3f} ms, off {m_off:.3f} ms: telemetry adds {100 * (m_on - m_off) / m_off:+.1f}%")
PY
