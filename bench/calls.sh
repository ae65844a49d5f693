#!/bin/bash
# What one hop costs, outside the apps (issue 3: where a SocialNetwork read's
# cpu could come from):
#   1. an HTTP/1.1 call on a kept-alive connection to nginx (a small static
#      body): as the kit makes it with libcurl (curl_easy_reset and its
#      options every call), with libcurl's options set once, and as a bare
#      send/recv — cpu per call, user and system;
#   2. a message round trip between two processes, 200 B and 13.7 KB (a
#      home-timeline reply), over loopback TCP and over a Unix socket.
# Each measure runs ROUNDS times (default 3), interleaved; compare within a
# run. Usage: bench/calls.sh   (N=20000 calls, ROUNDS=3)
cd "$(dirname "$0")/.." || exit 1
source bench/lib.sh
N=${N:-20000}
ROUNDS=${ROUNDS:-3}
PORT=${CALLS_BENCH_PORT:-18099}
PATH=$PATH:/usr/sbin
for c in nginx cc curl-config; do
    command -v $c >/dev/null || { echo "bench/calls.sh: $c is missing (scripts/install-deps.sh)"; exit 1; }
done
D=$(mktemp -d /tmp/aiopslab-calls-bench.XXXXXX)
chmod 755 "$D" # nginx's worker runs as nobody
NGX_PID=
cleanup() {
    [ -n "$NGX_PID" ] && kill "$NGX_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
cc -O2 -Wall -Wextra -Werror -o "$D/curl_call" bench/calls/curl_call.c $(curl-config --libs) || exit 1
cc -O2 -Wall -Wextra -Werror -o "$D/pingpong" bench/calls/pingpong.c || exit 1
mkdir -p "$D/html" "$D/ngx"
head -c 2000 /dev/zero | tr '\0' x >"$D/html/index.html"
nginx_conf "$D" "$PORT"
nginx -c "$D/nginx.conf" -p "$D" 2>"$D/ngx/stderr" &
NGX_PID=$!
for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$PORT/index.html" >/dev/null && break
    sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/index.html" >/dev/null || { echo "bench/calls.sh: nginx did not start: $(cat "$D/ngx/stderr")"; exit 1; }
echo "# $N calls per run, $ROUNDS rounds; nginx worker_processes 1 on 127.0.0.1:$PORT; $(nproc) CPUs"
for r in $(seq "$ROUNDS"); do
    echo "# round $r"
    for m in kit once bare; do "$D/curl_call" $m "$N" "$PORT" || exit 1; done
    for s in 200 13700; do
        for t in tcp unix; do "$D/pingpong" $t $s "$N" || exit 1; done
    done
done
