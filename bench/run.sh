#!/bin/bash
# bench/run.sh — every benchmark, each against its reference in the same run.
# Results are recorded by hand in bench/RESULTS.md with the command used.
cd "$(dirname "$0")/.." || exit 1
export BUILD=${BUILD:-build}
status=0
for b in bench/pods.sh bench/mesh.sh bench/calls.sh bench/load.sh bench/traces.sh bench/social-network.sh bench/hotel-reservation.sh bench/telemetry.sh bench/faults.sh bench/orchestrator.sh; do
    [ -x "$b" ] || continue
    echo "== $b"
    "$b" || status=1
done
exit $status
