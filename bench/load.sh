#!/bin/bash
# Benchmark of the load generator (aiopslab load) against wrk, in one run:
# nginx (its own config, one worker) serves a small static body on
# 127.0.0.1; both generators drive it in turn.
#  1. maximum rate: ours (--rate max, closed loop) vs wrk, -t1, -c16 and
#     -c64, each pair run twice interleaved; prints the ratio ours/wrk.
#  2. percentiles: ours open loop at a fixed rate (RATE, default 10000/s)
#     next to wrk at saturation (wrk has no fixed rate, and wrk2 is not
#     packaged in Debian) — not the same measure: ours is corrected for
#     coordinated omission, wrk's is per-request service time.
#  3. rate accuracy: ours at a constant 20,000 req/s for 10 s; the achieved
#     rate must be within 1 %.
# Usage: BUILD=build bench/load.sh   (DUR=5s, RATE=10000 to change)
cd "$(dirname "$0")/.." || exit 1
source bench/lib.sh
BUILD=${BUILD:-build}
BIN=$BUILD/aiopslab
DUR=${DUR:-5s}
RATE=${RATE:-10000}
PATH=$PATH:/usr/sbin
for c in nginx wrk jq /usr/bin/time; do
    command -v $c >/dev/null || { echo "bench/load.sh: $c is missing (scripts/install-deps.sh)"; exit 1; }
done
[ -x "$BIN" ] || { echo "bench/load.sh: build $BIN first"; exit 1; }
D=$(mktemp -d /tmp/aiopslab-load-bench.XXXXXX)
NGX_PID=
cleanup() {
    [ -n "$NGX_PID" ] && kill "$NGX_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
PORT=$(free_port)
mkdir -p "$D/html" "$D/ngx"
chmod 755 "$D" # nginx workers run as nobody when started by root
printf 'hello from nginx\n' >"$D/html/index.html"
nginx_conf "$D" "$PORT"
timeout 600 nginx -c "$D/nginx.conf" -p "$D" 2>"$D/ngx/stderr" &
NGX_PID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/" >/dev/null && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT/"

# Each generator's own cpu time per request (user + sys, from
# /usr/bin/time): steadier than req/s on a shared 2-core box, where the
# generators, nginx and other work compete for the same cores.
cpu_us() { # file with "user sys", requests -> us/req
    awk -v n="$2" '{ if (n > 0) printf "%.2f", ($1 + $2) * 1e6 / n; else print "?" }' "$1"
}
wrk_run() { # conns -> "req/s us/req"
    local out reqs
    out=$(timeout 60 /usr/bin/time -f '%U %S' -o "$D/time" wrk -t1 -c"$1" -d"$DUR" "$URL" 2>&1)
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    echo "$(awk '/^Requests\/sec/ {print $2}' <<<"$out") $(cpu_us "$D/time" "$reqs")"
}
ours_run() { # conns -> "req/s us/req"
    local out
    out=$(timeout 60 /usr/bin/time -f '%U %S' -o "$D/time" "$BIN" load run --url "$URL" --rate max --duration "$DUR" \
        --threads 1 --connections "$1" --json --quiet)
    echo "$(jq -r .achieved_rate <<<"$out") $(cpu_us "$D/time" "$(jq -r .requests.completed <<<"$out")")"
}
echo "# $(nproc) CPUs; nginx worker_processes 1; DUR=$DUR; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "## 1. maximum rate, -t1 (wrk vs aiopslab load --rate max), each twice interleaved"
for c in 16 64; do
    for round in 1 2; do
        read -r w wcpu <<<"$(wrk_run "$c")"
        read -r o ocpu <<<"$(ours_run "$c")"
        printf 'c=%-3s round %s   wrk %8.0f req/s (%5s us cpu/req)   ours %8.0f req/s (%5s us cpu/req)   ours/wrk %.3f\n' \
            "$c" "$round" "$w" "$wcpu" "$o" "$ocpu" "$(awk -v a="$o" -v b="$w" 'BEGIN { print (b > 0 ? a / b : 0) }')"
    done
done

echo "## 2. percentiles: ours open loop at $RATE req/s (from intended send time) vs wrk at saturation"
out=$(timeout 60 wrk -t1 -c16 -d"$DUR" --latency "$URL" 2>&1)
printf 'wrk  -t1 -c16 saturation %8s req/s   p50 %8s   p99 %8s\n' "$(awk '/^Requests\/sec/ {print $2}' <<<"$out")" \
    "$(awk '$1=="50%" {print $2}' <<<"$out")" "$(awk '$1=="99%" {print $2}' <<<"$out")"
for round in 1 2; do
    timeout 60 "$BIN" load run --url "$URL" --rate "$RATE" --duration "$DUR" --threads 1 --connections 16 --json --quiet |
        jq -r '"ours -t1 -c16 at \(.offered_rate) req/s: achieved \(.achieved_rate)   p50 \(.latency_ms.p50)ms   p99 \(.latency_ms.p99)ms   p99.9 \(.latency_ms["p99.9"])ms   errors \(.errors.total) \(.status)"'
done

echo "## 3. rate accuracy: constant 20000 req/s for 10 s (-t1 -c64)"
for round in 1 2 3; do
    timeout 60 "$BIN" load run --url "$URL" --rate 20000 --duration 10s --threads 1 --connections 64 --json --quiet |
        jq -r '"round '$round': completed \(.requests.completed) of 200000   sent in the 10 s \(.sent_rate) req/s   achieved \(.achieved_rate) req/s   error \(((.achieved_rate - 20000) / 200 * 1000 | round) / 1000)%   p99 \(.latency_ms.p99)ms   errors \(.errors.total) \(.status)"'
done
