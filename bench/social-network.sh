#!/bin/bash
# Benchmark of SocialNetwork on this machine, in a lab of its own:
#   1. deploy to Ready from nothing (stores, schema and seed graph included),
#      as `aiopslab deploy` reports it and by the wall clock;
#   2. the whole app's memory: RSS summed over every process of its pods
#      (PostgreSQL backends included), and PSS (shared pages counted once);
#   3. timelines are filled by DSB's compose-post script until user 1's home
#      timeline holds FILL posts (5 s at a time, at most a minute): a read's
#      cost depends on how full the timelines are, the fill rate on the hour;
#   4. read-home-timeline at saturation through the mesh (wrk to the
#      nginx-thrift ClusterIP; every hop behind it goes through the mesh
#      too), reading each user's newest 10 posts (SN_MAX_START=0) and with
#      DSB's random offsets 0..100; then the 60/30/10 mixed workload;
#      each beside the same read sent straight to the nginx-thrift pod IP
#      (the reference without the mesh's first hop).
# wrk is closed-loop (wrk2 is not packaged here): p99 is wrk's, without
# coordinated-omission correction. wrk runs on the same 2 cores as the app.
# For the two read-home-timeline runs through the mesh it also prints the
# cpu each request cost, by program (services, mesh, trace store, stores,
# wrk): where the two cores go; the context switches each request cost, by
# program; and the whole machine's busy time per request with its idle share
# and context switches (interrupts included, which no program is charged
# for: on a quiet machine this is what a read really costs).
# Usage: BUILD=build bench/social-network.sh   (DUR=20s CONNS=32 FILL=100)
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
BIN=$PWD/$BUILD/aiopslab
NET=${SN_BENCH_NET:-171}
DUR=${DUR:-20s}
CONNS=${CONNS:-32}
FILL=${FILL:-100}
NS=test-social-network
LAB=bench-sn-$$
command -v wrk >/dev/null || { echo "bench/social-network.sh: wrk is missing (scripts/install-deps.sh)"; exit 1; }
[ -x "$BIN" ] || { echo "bench/social-network.sh: build first (make BUILD=$BUILD)"; exit 1; }
export AIOPSLAB_HOME=$(mktemp -d /tmp/aiopslab-sn-bench.XXXXXX)
chmod 711 "$AIOPSLAB_HOME" # the PostgreSQL pods run as nobody
cleanup() {
    timeout 30 "$BIN" --lab "$LAB" cluster down --purge >/dev/null 2>&1
    rm -rf "$AIOPSLAB_HOME"
}
trap cleanup EXIT
k() { "$BIN" --lab "$LAB" kubectl "$@"; }

"$BIN" --lab "$LAB" cluster up --net "$NET" >/dev/null || { echo "cluster up failed"; exit 1; }
t0=$(date +%s%N)
out=$("$BIN" --lab "$LAB" deploy social-network 2>&1) || { echo "$out"; exit 1; }
wall=$((($(date +%s%N) - t0) / 1000000))
reported=$(sed -n 's/.*is ready (\([0-9.]*s\)).*/\1/p' <<<"$out")
echo "deploy to Ready from nothing: $reported (aiopslab deploy), ${wall} ms wall clock"

# ---- memory: every process of every pod (container pids and their descendants) ----
LABDIR=$AIOPSLAB_HOME/labs/$LAB
memory() {
    local roots p
    roots=$(for s in "$LABDIR"/pods/*/containers/*/*/state.json; do
        jq -r 'select(.phase == "running") | .pid' "$s" 2>/dev/null
    done)
    ps -e -o pid=,ppid= | awk -v roots="$(echo $roots)" '
        BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
        { parent[$1] = $2 }
        END { changed = 1; while (changed) { changed = 0
                  for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } }
              for (p in keep) print p }' |
        while read -r p; do
            awk '/^Rss:/ { r = $2 } /^Pss:/ { s = $2 } END { print r + 0, s + 0 }' "/proc/$p/smaps_rollup" 2>/dev/null
        done | awk '{ r += $1; s += $2; n++ } END { printf "%d processes, RSS %.1f MB, PSS %.1f MB\n", n, r / 1024, s / 1024 }'
}
echo "memory after deploy: $(memory)"

# ---- cpu: user+system time of every process of the lab (daemon, mesh, trace
# store, Prometheus, conmons, pods), by program, from /proc/PID/stat ----
cpu_snap() {
    local root
    root=$(cat "$LABDIR/daemon.pid" 2>/dev/null) || return
    ps -e -o pid=,ppid= | awk -v root="$root" '
        { parent[$1] = $2 } END { keep[root] = 1; changed = 1
            while (changed) { changed = 0
                for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } }
            for (p in keep) print p }' |
        while read -r p; do
            a=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
            case "$a" in
            social-network\ *) n=${a#social-network }; n=${n%% *} ;;
            *postgres*) n=postgres ;; *__mesh*) n=mesh ;; *__traces*) n=trace-store ;;
            *__daemon*) n=daemon ;; *__conmon*) n=conmon ;; *prometheus*) n=prometheus ;;
            *redis-server*) n=redis ;; *memcached*) n=memcached ;; *) n=other ;;
            esac
            t=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null) || continue
            cs=$(cat /proc/$p/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches/ { s += $2 } END { print s + 0 }')
            echo "$p $n $t $cs"
        done
}
# The whole machine's "busy idle" clock ticks (irq and softirq count as busy:
# the loopback's TCP receive work runs there and no process is charged for it),
# then its context switches.
machine_ticks() { awk '$1 == "cpu" { b = $2 + $3 + $4 + $7 + $8 + $9; i = $5 + $6 } $1 == "ctxt" { c = $2 } END { print b, i, c }' /proc/stat; }
# µs of cpu per request by program between two snapshots (wrk's own from its rusage).
cpu_per_request() { # BEFORE AFTER REQUESTS WRK_TICKS
    awk -v req="$3" -v wrk="$4" -v hz="$(getconf CLK_TCK)" '
        NR == FNR { t0[$1] = $3; next }
        { d = $3 - (($1 in t0) ? t0[$1] : 0); by[$2] += d }
        END { by["wrk"] = wrk
              for (n in by) { tot += by[n]; us = by[n] * 1e6 / hz / req; if (us >= 1) printf("%s %.0f\n", n, us) }
              us = tot * 1e6 / hz / req; printf("TOTAL %.0f\n", us) }' "$1" "$2" | sort -k2 -n -r |
        awk '{ printf("%s%s %s", (NR > 1 ? ", " : ""), $1, $2) } END { print " (us/request)" }'
}
# Context switches (voluntary and not, every thread) per request by program: each one is a sleep or a
# preemption, and on a VM a wake-up costs more than the copy it waits for.
cs_per_request() { # BEFORE AFTER REQUESTS
    awk -v req="$3" 'NR == FNR { c0[$1] = $4; next }
        { by[$2] += $4 - (($1 in c0) ? c0[$1] : 0) }
        END { for (n in by) if (by[n] / req >= 0.05) printf("%s %.2f\n", n, by[n] / req) }' "$1" "$2" | sort -k2 -n -r |
        awk '{ printf("%s%s %s", (NR > 1 ? ", " : ""), $1, $2) } END { print " (context switches/request)" }'
}

FE_IP=$(k get svc -n $NS nginx-thrift -o jsonpath='{.spec.clusterIP}')
FE_POD=$(k get pods -n $NS -l app=nginx-thrift -o jsonpath='{.items[0].status.podIP}')
W=apps/social-network/wrk
run() { # NAME URL SCRIPT [ENV...]; CPU=1: also the cpu per request by program
    local name=$1 url=$2 script=$3
    shift 3
    local o c0=$AIOPSLAB_HOME/cpu0 c1=$AIOPSLAB_HOME/cpu1
    [ "${CPU:-}" = 1 ] && cpu_snap >"$c0"
    local m0 m1
    m0=$(machine_ticks)
    o=$(env "$@" /usr/bin/time -f 'wrk-cpu %U %S' wrk -t2 -c"$CONNS" -d"$DUR" --latency -s "$W/$script" "$url" 2>&1)
    m1=$(machine_ticks)
    [ "${CPU:-}" = 1 ] && cpu_snap >"$c1"
    local rps p50 p99 errs
    rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$o")
    p50=$(awk '$1 == "50%" { print $2 }' <<<"$o")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$o")
    errs=$(awk '/Non-2xx/ { print $NF } /Socket errors/ { print }' <<<"$o" | tr '\n' ' ')
    printf '%-44s %9s req/s  p50 %-9s p99 %-9s %s\n' "$name" "$rps" "$p50" "$p99" "${errs:+errors: $errs}"
    if [ "${CPU:-}" = 1 ]; then
        local nreq wticks
        nreq=$(awk '/requests in/ { print $1 }' <<<"$o")
        wticks=$(awk -v hz="$(getconf CLK_TCK)" '$1 == "wrk-cpu" { print ($2 + $3) * hz }' <<<"$o")
        [ -n "$nreq" ] && [ "$nreq" -gt 0 ] && echo "    cpu: $(cpu_per_request "$c0" "$c1" "$nreq" "${wticks:-0}")" &&
            echo "    cs: $(cs_per_request "$c0" "$c1" "$nreq")" &&
            awk -v m0="$m0" -v m1="$m1" -v hz="$(getconf CLK_TCK)" -v n="$nreq" \
                'BEGIN { split(m0, a, " "); split(m1, z, " "); b = z[1] - a[1]; i = z[2] - a[2]
                         printf "    machine: %.0f us/request busy (interrupts included), %.1f%% idle, %.1f context switches/request\n",
                                b / hz * 1e6 / n, 100 * i / (b + i), (z[3] - a[3]) / n }'
    fi
}
filled=0 posts=0
while [ "$posts" -lt "$FILL" ] && [ $filled -lt 60 ]; do
    SN_SEED=$((filled + 1)) wrk -t2 -c16 -d5s -s "$W/compose-post.lua" "http://$FE_IP:8080" >/dev/null 2>&1
    filled=$((filled + 5))
    posts=$(curl -s "http://$FE_IP:8080/wrk2-api/home-timeline/read?user_id=1&start=0&stop=$FILL" | jq length)
done
echo "filled for ${filled}s with compose-post (user 1's home timeline: $posts posts)"
echo "wrk -t2 -c$CONNS -d$DUR:"
CPU=1 run "read-home-timeline, newest 10, mesh" "http://$FE_IP:8080" read-home-timeline.lua SN_MAX_START=0
run "read-home-timeline, newest 10, pod IP (ref)" "http://$FE_POD:8080" read-home-timeline.lua SN_MAX_START=0
CPU=1 run "read-home-timeline, DSB offsets 0-100, mesh" "http://$FE_IP:8080" read-home-timeline.lua
run "read-user-timeline, DSB offsets 0-100, mesh" "http://$FE_IP:8080" read-user-timeline.lua
run "mixed 60/30/10, mesh" "http://$FE_IP:8080" mixed-workload.lua
echo "memory after load: $(memory)"
