#!/bin/bash
# Benchmark of the mesh against a direct connection and haproxy (tcp mode,
# same thread count), all in one run: nginx serves a small static body on
# 127.0.0.1, wrk (-t1 -c16 -d5s --latency) drives each path in turn.
#
# ROUNDS rounds (default 3), each: direct, then the mesh and haproxy in an
# order that alternates between rounds (neither always runs second). Per
# run: req/s, p50, p99, the whole machine's busy cpu per request and idle
# share and, for a proxy, its own cpu time and context switches per
# request. At the end the median of each column per path, the
# p50 each proxy adds to the direct one, and the mesh/haproxy ratio of each
# round (the two ran within seconds of each other, so the ratio is less
# exposed to the machine's other load than the absolute figures).
# PROFILE=1 also counts each proxy's system calls per request (perf stat
# on the syscall tracepoints; it slows the proxies a little).
# Usage: BUILD=build [ROUNDS=3] [DUR=5s] [PROFILE=1] bench/mesh.sh
cd "$(dirname "$0")/.." || exit 1
source bench/lib.sh
BUILD=${BUILD:-build}
BIN=${MESH_BIN:-$BUILD/aiopslab}
NET=${MESH_BENCH_NET:-132}
DUR=${DUR:-5s}
CONNS=${CONNS:-16}
ROUNDS=${ROUNDS:-3}
THREADS=1
case $ROUNDS in '' | *[!0-9]* | 0) echo "bench/mesh.sh: ROUNDS must be a positive integer"; exit 2 ;; esac
for c in nginx haproxy wrk; do
    command -v $c >/dev/null || [ -x /usr/sbin/$c ] || { echo "bench/mesh.sh: $c is missing (scripts/install-deps.sh)"; exit 1; }
done
PATH=$PATH:/usr/sbin
D=$(mktemp -d /tmp/aiopslab-mesh-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
NGX=$(free_port)
HAP=$(free_port)
mkdir -p "$D/html" "$D/mesh" "$D/ngx"
printf 'hello from nginx\n' >"$D/html/index.html"
nginx_conf "$D" "$NGX"
cat >"$D/haproxy.cfg" <<CONF
global
    nbthread $THREADS
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
listen bench
    bind 127.0.0.1:$HAP
    server ngx 127.0.0.1:$NGX
CONF
echo "{\"name\":\"meshbench\",\"net\":$NET}" >"$D/lab.json"
cat >"$D/mesh/routes.json" <<JSON
{"generation":1,"services":[{"namespace":"bench","name":"nginx","clusterIP":"127.$NET.1.1",
 "ports":[{"port":$NGX,"endpoints":[{"ip":"127.0.0.1","port":$NGX,"pod":"nginx-0"}]}]}],"pods":[],"rules":[]}
JSON
timeout 300 nginx -c "$D/nginx.conf" -p "$D" 2>"$D/ngx/stderr" &
PIDS+=($!)
timeout 300 haproxy -f "$D/haproxy.cfg" -db >"$D/haproxy.log" 2>&1 &
PIDS+=($!)
timeout 300 "$BIN" __mesh --lab-dir "$D" --threads $THREADS >"$D/mesh.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$NGX/" >/dev/null && curl -sf "http://127.0.0.1:$HAP/" >/dev/null &&
        curl -sf "http://127.$NET.1.1:$NGX/" >/dev/null && break
    sleep 0.1
done
cpu_ticks() { # pid: utime+stime in clock ticks
    [ -n "$1" ] && awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}
machine_ticks() { # "busy idle" clock ticks of the whole machine (irq and softirq count as busy)
    awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat
}
ctx_switches() { # pid: voluntary + involuntary context switches
    [ -n "$1" ] && awk '/ctxt_switches/ {n += $2} END {print n + 0}' "/proc/$1/status" 2>/dev/null || echo 0
}
# The proxies run under timeout(1): their pids are its children.
HAP_PID=$(pgrep -P "${PIDS[1]}" | head -1)
MESH_PID=$(pgrep -P "${PIDS[2]}" | head -1)
TICKS=$(getconf CLK_TCK)
PERF_EV=raw_syscalls:sys_enter,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto
if [ "${PROFILE:-0}" = 1 ] && ! perf stat -e "$PERF_EV" true >/dev/null 2>&1; then
    echo "# PROFILE=1: perf cannot count syscall tracepoints here (linux-perf, perf_event_paranoid); not counted"
    PROFILE=0
fi
RES=$D/results # name rps p50_us p99_us cpu_us cs  (one line per run)
to_us() { # wrk's 412.00us / 1.41ms / 2.00s
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /ms$/) n *= 1000; else if (v ~ /[0-9]s$/) n *= 1e6; print n }'
}
run() { # name url [proxy-pid]
    local out t0 t1 c0 c1 m0 m1
    t0=$(cpu_ticks "$3") c0=$(ctx_switches "$3") m0=$(machine_ticks)
    if [ -n "$3" ] && [ "${PROFILE:-0}" = 1 ]; then
        perf stat -x, -e "$PERF_EV" -p "$3" -o "$D/perf.out" &
        local perf_pid=$!
    fi
    out=$(timeout 60 wrk -t1 -c"$CONNS" -d"$DUR" --latency "$2" 2>&1)
    [ -n "${perf_pid:-}" ] && { kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null; }
    t1=$(cpu_ticks "$3") c1=$(ctx_switches "$3") m1=$(machine_ticks)
    local rps p50 p99 reqs extra=""
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    if [ -z "$rps" ] || [ -z "$reqs" ] || [ "$reqs" = 0 ]; then
        echo "$1: wrk failed: $out"
        return 1
    fi
    # The whole machine's busy cpu per request (every process, interrupts
    # included: where a proxy saves cpu, or makes wrk and nginx spend more)
    # and its idle share (above a few percent the run is not cpu-bound).
    local mcpu idle
    read -r mcpu idle < <(awk -v b0="${m0% *}" -v i0="${m0#* }" -v b1="${m1% *}" -v i1="${m1#* }" -v hz="$TICKS" -v n="$reqs" \
        'BEGIN { b = b1 - b0; i = i1 - i0; printf "%.2f %.1f\n", b / hz * 1e6 / n, (b + i) ? 100 * i / (b + i) : 0 }')
    local cpu=- cs=-
    if [ -n "$3" ]; then
        # The proxy's own cpu per request: fair on a box where wrk, nginx
        # and the proxy share two cores; its context switches per request
        # (each one a sleep in epoll_wait or a preemption).
        cpu=$(awk -v t=$((t1 - t0)) -v hz="$TICKS" -v n="$reqs" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
        cs=$(awk -v c=$((c1 - c0)) -v n="$reqs" 'BEGIN { printf "%.3f", c / n }')
        extra=$(printf '   proxy cpu %5s us/req  cs %5s/req' "$cpu" "$cs")
        [ "${PROFILE:-0}" != 1 ] || extra+=$(awk -F, -v n="$reqs" '
            $1 ~ /^[0-9]+$/ { k = $3; sub(/^.*sys_enter_?/, "", k); v[k == "" ? "all" : k] = $1 / n }
            END { printf "   syscalls %.2f/req (recv %.2f send %.2f epoll_wait %.2f)", v["all"], v["recvfrom"], v["sendto"], v["epoll_wait"] }' "$D/perf.out")
        unset perf_pid
    fi
    printf '%-8s %12s req/s   p50 %9s   p99 %9s   machine cpu %5s us/req idle %4s%%%s\n' "$1" "$rps" "$p50" "$p99" "$mcpu" "$idle" "$extra"
    echo "$1 $rps $(to_us "$p50") $(to_us "$p99") $cpu $cs $mcpu $idle" >>"$RES"
}
echo "# wrk -t1 -c$CONNS -d$DUR --latency; nginx worker_processes 1; haproxy nbthread $THREADS; mesh 1 thread; $(nproc) CPUs; $ROUNDS rounds"
for r in $(seq "$ROUNDS"); do
    echo "# round $r"
    run direct "http://127.0.0.1:$NGX/"
    if [ $((r % 2)) = 1 ]; then
        run mesh "http://127.$NET.1.1:$NGX/" "$MESH_PID"
        run haproxy "http://127.0.0.1:$HAP/" "$HAP_PID"
    else
        run haproxy "http://127.0.0.1:$HAP/" "$HAP_PID"
        run mesh "http://127.$NET.1.1:$NGX/" "$MESH_PID"
    fi
done
[ -s "$RES" ] || exit 1
# Medians over the rounds; added p50 = the path's median p50 - direct's.
echo "# medians of $ROUNDS rounds"
awk '
function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ for (k = 2; k <= 8; k++) col[$1, k] = col[$1, k] " " $k; seen[$1] = 1 }
END {
    d50 = median(col["direct", 3])
    for (i = 1; i <= 3; i++) {
        p = i == 1 ? "direct" : i == 2 ? "mesh" : "haproxy"
        if (!seen[p]) continue
        printf "%-8s %12.2f req/s   p50 %7.0fus   p99 %7.0fus   machine cpu %5.2f us/req idle %4.1f%%", p, median(col[p, 2]), median(col[p, 3]), median(col[p, 4]), median(col[p, 7]), median(col[p, 8])
        if (p != "direct") printf "   added p50 %5.0fus   proxy cpu %5.2f us/req  cs %.3f/req", median(col[p, 3]) - d50, median(col[p, 5]), median(col[p, 6])
        printf "\n"
    }
}' "$RES"
# Per round: mesh req/s / haproxy req/s and the p50s (lines come in pairs).
awk '
$1 == "mesh" { m[++nm] = $2; m50[nm] = $3 } $1 == "haproxy" { h[++nh] = $2; h50[nh] = $3 }
END {
    n = nm < nh ? nm : nh
    for (i = 1; i <= n; i++) {
        r = m[i] / h[i]; list = list sprintf(" %.3f", r); ratios[i] = r
        if (m[i] >= h[i] && m50[i] <= h50[i]) won++
    }
    for (i = 2; i <= n; i++) for (j = i; j > 1 && ratios[j - 1] > ratios[j]; j--) { t = ratios[j]; ratios[j] = ratios[j - 1]; ratios[j - 1] = t }
    med = n % 2 ? ratios[(n + 1) / 2] : (ratios[n / 2] + ratios[n / 2 + 1]) / 2
    printf "mesh/haproxy req/s per round:%s   median %.3f\n", list, med
    printf "rounds where the mesh had both more req/s and a p50 no higher than haproxy: %d of %d\n", won, n
}' "$RES"
