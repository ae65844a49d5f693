#!/bin/bash
# Benchmark of the mesh against a direct connection and haproxy (tcp mode,
# same thread count), all in one run: nginx serves a small static body on
# 127.0.0.1, wrk (-t1 -c16 -d5s --latency) drives each path in turn.
# Prints req/s, p50 and p99 per path. Usage: BUILD=build bench/mesh.sh
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
BIN=${MESH_BIN:-$BUILD/aiopslab}
NET=${MESH_BENCH_NET:-132}
DUR=${DUR:-5s}
CONNS=${CONNS:-16}
THREADS=1
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
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NGX=$(free_port)
HAP=$(free_port)
mkdir -p "$D/html" "$D/mesh" "$D/ngx"
printf 'hello from nginx\n' >"$D/html/index.html"
cat >"$D/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $D/ngx/nginx.pid;
error_log $D/ngx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $D/ngx; proxy_temp_path $D/ngx; fastcgi_temp_path $D/ngx;
    uwsgi_temp_path $D/ngx; scgi_temp_path $D/ngx;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$NGX; root $D/html; }
}
CONF
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
# The proxies run under timeout(1): their pids are its children.
HAP_PID=$(pgrep -P "${PIDS[1]}" | head -1)
MESH_PID=$(pgrep -P "${PIDS[2]}" | head -1)
TICKS=$(getconf CLK_TCK)
run() { # name url [proxy-pid]
    local out before after
    before=$(cpu_ticks "$3")
    out=$(timeout 60 wrk -t1 -c"$CONNS" -d"$DUR" --latency "$2" 2>&1)
    after=$(cpu_ticks "$3")
    local rps p50 p99 reqs cpu=""
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    # The proxy's own cpu per request: fair on a box where wrk, nginx and
    # the proxy share two cores.
    [ -n "$3" ] && [ -n "$reqs" ] && cpu=$(awk -v t=$((after - before)) -v hz="$TICKS" -v n="$reqs" \
        'BEGIN { printf "   proxy cpu %5.2f us/req", t / hz * 1e6 / n }')
    printf '%-8s %12s req/s   p50 %9s   p99 %9s%s\n' "$1" "$rps" "$p50" "$p99" "$cpu"
}
echo "# wrk -t1 -c$CONNS -d$DUR --latency; nginx worker_processes 1; haproxy nbthread $THREADS; mesh 1 thread; $(nproc) CPUs"
run direct "http://127.0.0.1:$NGX/"
run mesh "http://127.$NET.1.1:$NGX/" "$MESH_PID"
run haproxy "http://127.0.0.1:$HAP/" "$HAP_PID"
run mesh "http://127.$NET.1.1:$NGX/" "$MESH_PID"
run haproxy "http://127.0.0.1:$HAP/" "$HAP_PID"
