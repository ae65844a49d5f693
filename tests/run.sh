#!/bin/bash
# The test runner: every unit test binary and every end-to-end script prints
# TAP lines ("ok N - name" / "not ok N - name"); this adds them up and ends
# with one line "N passed, N failed". Usage: tests/run.sh [FILTER]
# The end-to-end scripts run under tests/subreaper.py, which reaps the labs'
# detached processes as soon as they exit (see there).
#
# The e2e scripts run in two phases (E2E_JOBS=1: one at a time instead, in
# name order). Each script has a lab and a network of its own, so two can
# run side by side; what decides the phase is whether a neighbour on this
# 2-core machine could change what a script measures:
#   1. every script not listed in ALONE, two lanes taking the next from one
#      queue (the longest first);
#   2. the ALONE scripts, one at a time: they time things against the
#      machine (latency windows and percentiles, achieved rates, CPU shares),
#      or, like validate, need faults that take only with the machine to
#      themselves (beside a neighbour, retry-storm's fault did not take in
#      time and validate judged it once more, which its check counts as a
#      failure). faults_chaos too: beside validate, its final checks once
#      found neither Redis nor the frontend answering (its seed passes alone).
# A new script goes to phase 1: list it in ALONE when its checks compare
# timings, rates or CPU use with fixed bounds.
# Each script's block is printed whole when it ends (in the order they end).
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
export BUILD
filter=${1:-}
JOBS=${E2E_JOBS:-2}
ALONE="validate faults_app_workload observe_app load mesh conmon faults_chaos"
# Phase 1's queue starts with these (the longest; measured), then the rest by name.
LONG_FIRST="faults_os faults_virtualization agents app_faults faults_network faults_middleware fuzz aci_hidden"

RUNDIR=$(mktemp -d "${TMPDIR:-/tmp}/aiopslab-run.XXXXXX")
trap 'rm -rf "$RUNDIR"' EXIT
RESULTS=$RUNDIR/results # one line per script: PASSED FAILED NAME

# Run one test, print its block (whole, under a lock) and add its counts to RESULTS.
run_one() { # name, timeout, command...
    local name=$1 limit=$2
    shift 2
    local out blk
    out=$(mktemp "$RUNDIR/out.XXXXXX")
    blk=$(mktemp "$RUNDIR/blk.XXXXXX")
    local t0=$SECONDS
    timeout -k 5 "$limit" "$@" >"$out" 2>&1 </dev/null
    local rc=$?
    local p f
    p=$(grep -c '^ok ' "$out")
    f=$(grep -c '^not ok ' "$out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "not ok - $name exited with status $rc" >>"$out"
    fi
    {
        echo "# $name"
        echo "# $name: $((SECONDS - t0)) s"
        grep -E '^(ok|not ok|#)' "$out" | sed 's/^/  /'
        if [ "$f" -gt 0 ]; then
            echo "  --- output of $name (last 40 lines) ---"
            tail -n 40 "$out" | sed 's/^/  | /'
        fi
    } >"$blk"
    (
        flock 9
        cat "$blk"
        echo "$p $f $name" >>"$RESULTS"
    ) 9>"$RUNDIR/print.lock"
    rm -f "$out" "$blk"
}
run_e2e() { run_one "e2e/$1" 600 python3 tests/subreaper.py bash "tests/e2e/$1.sh"; }
# Run the named scripts one after the other.
run_list() { local s; for s in "$@"; do run_e2e "$s"; done; }
# A lane: take the next script of the queue file until it is empty.
lane() { # QUEUE
    local s
    while :; do
        s=$({
            flock 8
            s=$(head -n 1 "$1")
            [ -n "$s" ] && sed -i 1d "$1"
            echo "$s"
        } 8>"$1.lock")
        [ -n "$s" ] || return 0
        run_e2e "$s"
    done
}
in_list() { case " $(echo $2) " in *" $1 "*) return 0 ;; esac; return 1; } # NAME LIST

: >"$RESULTS"
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    case "$t" in *"$filter"*) ;; *) continue ;; esac
    run_one "unit/$(basename "$t")" 300 "$t"
done

all=()
for t in tests/e2e/*.sh; do
    [ -f "$t" ] || continue
    case "$(basename "$t")" in lib.sh) continue ;; esac
    case "$t" in *"$filter"*) ;; *) continue ;; esac
    all+=("$(basename "$t" .sh)")
done
if [ "$JOBS" -le 1 ]; then
    run_list "${all[@]}"
else
    alone=() queue=()
    for s in $ALONE; do in_list "$s" "${all[*]}" && alone+=("$s"); done
    for s in $LONG_FIRST; do in_list "$s" "${all[*]}" && queue+=("$s"); done
    for s in "${all[@]}"; do in_list "$s" "$ALONE $LONG_FIRST" || queue+=("$s"); done
    # 1: two lanes
    printf '%s\n' "${queue[@]}" >"$RUNDIR/queue"
    for _ in $(seq "$JOBS"); do lane "$RUNDIR/queue" & done
    wait
    # 2: one at a time
    run_list "${alone[@]}"
fi

passed=$(awk '{s += $1} END {print s + 0}' "$RESULTS")
failed=$(awk '{s += $2} END {print s + 0}' "$RESULTS")
failures=$(awk '$2 > 0 {printf "%s%s", sep, $3; sep = " "}' "$RESULTS")
[ -n "$failures" ] && echo "failed: $failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
