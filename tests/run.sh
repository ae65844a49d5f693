#!/bin/bash
# The test runner: every unit test binary and every end-to-end script prints
# TAP lines ("ok N - name" / "not ok N - name"); this adds them up and ends
# with one line "N passed, N failed". Usage: tests/run.sh [FILTER]
# The end-to-end scripts run under tests/subreaper.py, which reaps the labs'
# detached processes as soon as they exit (see there).
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
export BUILD
filter=${1:-}
passed=0 failed=0
failures=()
run_one() { # name, timeout, command...
    local name=$1 limit=$2
    shift 2
    local out
    out=$(mktemp)
    echo "# $name"
    local t0=$SECONDS
    timeout -k 5 "$limit" "$@" >"$out" 2>&1
    local rc=$?
    echo "# $name: $((SECONDS - t0)) s"
    local p f
    p=$(grep -c '^ok ' "$out")
    f=$(grep -c '^not ok ' "$out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "not ok - $name exited with status $rc" >>"$out"
    fi
    grep -E '^(ok|not ok|#)' "$out" | sed 's/^/  /'
    if [ "$f" -gt 0 ]; then
        failures+=("$name")
        echo "  --- output of $name (last 40 lines) ---"
        tail -n 40 "$out" | sed 's/^/  | /'
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    rm -f "$out"
}
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    case "$t" in *"$filter"*) ;; *) continue ;; esac
    run_one "unit/$(basename "$t")" 300 "$t"
done
for t in tests/e2e/*.sh; do
    [ -f "$t" ] || continue
    case "$(basename "$t")" in lib.sh) continue ;; esac
    case "$t" in *"$filter"*) ;; *) continue ;; esac
    run_one "e2e/$(basename "$t" .sh)" 600 python3 tests/subreaper.py bash "$t"
done
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
