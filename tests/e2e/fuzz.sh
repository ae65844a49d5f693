#!/bin/bash
# Short libFuzzer runs of the YAML/manifest and patch parsers, the
# mesh's HTTP framer, the trace store's OTLP parser and the ACI's action
# parser (about 5 s each), so that the fuzz targets build and find nothing in the time the
# suite can spare. Longer runs: `make fuzz FUZZ_TIME=600`. Skips when clang
# with libFuzzer is not available.
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
SECS=${FUZZ_SECS:-5}
if ! command -v clang >/dev/null 2>&1; then
    echo "ok 1 - fuzz # SKIP no clang"
    exit 0
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! make --no-print-directory BUILD="$BUILD" fuzz-build >"$log" 2>&1 || [ ! -x "$BUILD/fuzz/fuzz_yaml" ]; then
    if grep -q -- "-fsanitize=fuzzer" "$log" && grep -qi "unsupported\|cannot find\|not found" "$log"; then
        echo "ok 1 - fuzz # SKIP clang has no libFuzzer"
        exit 0
    fi
    cat "$log"
    echo "not ok 1 - fuzz targets build"
    exit 1
fi
echo "ok 1 - fuzz targets build"
n=1
for t in yaml patch http otlp action; do
    n=$((n + 1))
    work=$(mktemp -d)
    cp tests/fuzz/seeds-$t/* "$work"/
    if "$BUILD/fuzz/fuzz_$t" -max_total_time="$SECS" -max_len=4096 -rss_limit_mb=2048 \
        -artifact_prefix="$work/" "$work" >"$log" 2>&1; then
        echo "ok $n - fuzz_$t ran ${SECS}s: $(grep -o 'Done [0-9]* runs' "$log" | tail -1)"
    else
        tail -n 30 "$log"
        ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* 2>/dev/null
        echo "not ok $n - fuzz_$t found a failure (input kept in $work)"
        continue
    fi
    rm -rf "$work"
done
