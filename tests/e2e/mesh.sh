#!/bin/bash
# End-to-end test of the mesh: starts `aiopslab __mesh` alone on a hand-made
# lab (net 131), python http.server backends under the shim, and checks
# routing, round robin, error fidelity (refused / reset), metrics, the delay
# and reset rules, SIGHUP reload and SIGTERM. Prints TAP lines.
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
BIN=${MESH_BIN:-$BUILD/aiopslab}
SHIM=$(realpath "$BUILD/libaiopslab-shim.so")
NET=${MESH_TEST_NET:-131}
P=127.$NET
D=$(mktemp -d /tmp/aiopslab-mesh-e2e.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { # name, command...
    local name=$1; shift
    if "$@"; then ok "$name"; else fail "$name"; fi
}

mkdir -p "$D/mesh" "$D/b1" "$D/b2"
echo "{\"name\":\"meshtest\",\"net\":$NET}" >"$D/lab.json"
echo backend-1 >"$D/b1/who"
echo backend-2 >"$D/b2/who"
head -c 100000 /dev/urandom | base64 >"$D/b1/big"
cp "$D/b1/big" "$D/b2/big"

routes() { # extra services, rules
    cat >"$D/mesh/routes.json.tmp" <<JSON
{"generation": 1,
 "services": [
  {"namespace":"test","name":"web","clusterIP":"$P.1.1","ports":[{"name":"http","port":18080,
    "endpoints":[{"ip":"$P.64.1","port":18080,"pod":"backend-1"},{"ip":"$P.64.2","port":18080,"pod":"backend-2"}]}]},
  {"namespace":"test","name":"dead","clusterIP":"$P.1.2","ports":[{"port":18081,
    "endpoints":[{"ip":"$P.64.1","port":18099,"pod":"backend-1"}]}]},
  {"namespace":"test","name":"empty","clusterIP":"$P.1.3","ports":[{"port":18082,"endpoints":[]}]},
  {"namespace":"test","name":"cache","clusterIP":"$P.1.7","ports":[{"port":16379,
    "endpoints":[{"ip":"$P.64.3","port":16379,"pod":"cache-0"}]}]},
  {"namespace":"test","name":"slow","clusterIP":"$P.1.4","ports":[{"port":18083,
    "endpoints":[{"ip":"$P.64.1","port":18080,"pod":"backend-1"}]}]}
  $1
 ],
 "pods": [
  {"ip":"$P.64.1","namespace":"test","name":"backend-1","workload":"backend"},
  {"ip":"$P.64.2","namespace":"test","name":"backend-2","workload":"backend"},
  {"ip":"$P.64.10","namespace":"test","name":"client-7f-abc","workload":"client"}
 ],
 "rules": [
  {"id":"r-delay","action":"delay","source":{"namespace":"test","workload":"client"},
   "destination":{"namespace":"test","service":"slow"},"delayMs":300,"jitterMs":20,"percent":100}
  $2
 ]}
JSON
    mv "$D/mesh/routes.json.tmp" "$D/mesh/routes.json"
}
routes ',{"namespace":"test","name":"boom","clusterIP":"'$P'.1.5","ports":[{"port":18084,
    "endpoints":[{"ip":"'$P'.64.1","port":18080,"pod":"backend-1"}]}]}' \
       ',{"id":"r-reset","action":"reset","source":null,"destination":{"namespace":"test","service":"boom"},"percent":100}'

# Backends: unmodified python servers; the shim moves their wildcard bind to the pod IP.
for i in 1 2; do
    LD_PRELOAD=$SHIM AIOPSLAB_POD_IP=$P.64.$i AIOPSLAB_LAB_NET=$NET \
        timeout 120 python3 -m http.server 18080 --directory "$D/b$i" >"$D/b$i.log" 2>&1 &
    PIDS+=($!)
done
# redis binds 0.0.0.0 and :: (v6-only) by default: both must land on the pod IP.
if command -v redis-server >/dev/null; then
    (cd "$D" && LD_PRELOAD=$SHIM AIOPSLAB_POD_IP=$P.64.3 AIOPSLAB_LAB_NET=$NET \
        exec timeout 120 redis-server --port 16379 --save '' --appendonly no >"$D/redis.log" 2>&1) &
    PIDS+=($!)
fi
timeout 120 "$BIN" __mesh --lab-dir "$D" >"$D/mesh.out" 2>&1 &
MESH=$!
PIDS+=($MESH)

up=0
for _ in $(seq 100); do
    if curl -s -m 1 "http://$P.0.1:15090/healthz" 2>/dev/null | grep -q ok &&
       curl -s -m 1 "http://$P.64.1:18080/who" >/dev/null 2>&1 &&
       curl -s -m 1 "http://$P.64.2:18080/who" >/dev/null 2>&1; then up=1; break; fi
    sleep 0.1
done
if [ $up = 1 ]; then ok "mesh and backends up (healthz, shim binds replicas to pod IPs)"; else
    fail "mesh and backends up" "$(cat "$D/mesh.out" "$D/logs/mesh.log" "$D/b1.log" 2>/dev/null | tail -20)"; exit 1; fi
MPID=$(cat "$D/mesh/mesh.pid" 2>/dev/null)
check "pid file names the running mesh" grep -q __mesh "/proc/${MPID:-0}/cmdline"

# As a pod (shim) and as a plain client.
pod() { LD_PRELOAD=$SHIM AIOPSLAB_POD_IP=$P.64.10 AIOPSLAB_LAB_NET=$NET timeout 10 "$@"; }
# connect_err HOST PORT: prints OK or the errno name of connect, then of a send+recv.
PYCONN='
import socket, sys, errno
s = socket.socket()
s.settimeout(5)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
except OSError as e:
    print("connect", errno.errorcode.get(e.errno, e.errno)); sys.exit(0)
try:
    s.sendall(b"GET /who HTTP/1.0\r\n\r\n")
    d = s.recv(100)
    print("recv", "data" if d else "eof")
except OSError as e:
    print("recv", errno.errorcode.get(e.errno, e.errno))
'

a=$(timeout 5 curl -s "http://$P.1.1:18080/who"); b=$(timeout 5 curl -s "http://$P.1.1:18080/who")
if [ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ]; then ok "direct client through ClusterIP round-robins ($a, $b)";
else fail "direct client through ClusterIP round-robins" "got '$a' '$b'"; fi
a=$(pod curl -s "http://$P.1.1:18080/who"); b=$(pod curl -s "http://$P.1.1:18080/who")
if [ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ]; then ok "pod client through the shim round-robins ($a, $b)";
else fail "pod client through the shim round-robins" "got '$a' '$b'"; fi
check "large body intact through the mesh" cmp -s <(pod curl -s "http://$P.1.1:18080/big") "$D/b1/big"
out=$(pod curl -sS "http://$P.1.1:18080/who" "http://$P.1.1:18080/who" "http://$P.1.1:18080/who")
check "keep-alive: three requests on one connection" test "$(echo "$out" | wc -l)" = 3

r=$(pod python3 -c "$PYCONN" $P.1.2 18081)
check "shim: upstream without listener gives ECONNREFUSED ($r)" test "$r" = "connect ECONNREFUSED"
r=$(pod curl -sS "http://$P.1.2:18081/" 2>&1)
check "shim: curl says Connection refused / couldn't connect" grep -qiE "refused|couldn't connect" <<<"$r"
r=$(timeout 10 python3 -c "$PYCONN" $P.1.2 18081)
check "direct: upstream without listener resets the caller ($r)" grep -qE "^(recv|connect) ECONNRESET$" <<<"$r"
r=$(pod python3 -c "$PYCONN" $P.1.3 18082)
check "shim: no endpoints gives ECONNREFUSED ($r)" test "$r" = "connect ECONNREFUSED"
r=$(timeout 10 python3 -c "$PYCONN" $P.1.3 18082)
check "direct: no endpoints resets ($r)" grep -qE "^(recv|connect) ECONNRESET$" <<<"$r"
r=$(pod python3 -c "$PYCONN" $P.1.9 18080)
check "shim: ClusterIP without a Service is refused ($r)" test "$r" = "connect ECONNREFUSED"
# A non-blocking connect through the shim: EINPROGRESS, then writable with SO_ERROR 0.
r=$(pod python3 -c '
import socket, sys, select, errno
s = socket.socket(); s.setblocking(False)
rc = s.connect_ex((sys.argv[1], 18080))
select.select([], [s], [], 5)
print(errno.errorcode.get(rc, rc), s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
s.setblocking(True); s.sendall(b"GET /who HTTP/1.0\r\n\r\n"); print(s.recv(12).decode())' $P.1.1 | tr '\n' ' ')
check "shim: non-blocking connect gives EINPROGRESS then works ($r)" grep -q "EINPROGRESS 0 HTTP/1.0 200" <<<"$r"

if command -v redis-server >/dev/null; then
    for _ in $(seq 30); do r=$(pod redis-cli -h $P.1.7 -p 16379 ping 2>&1); [ "$r" = PONG ] && break; sleep 0.1; done
    check "redis under the shim (dual bind) reached through its Service ($r)" test "$r" = PONG
fi

# Delay rule: matches the client workload only.
t0=$(date +%s%N); pod curl -s "http://$P.1.4:18083/who" >/dev/null; t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
check "delay rule: client → slow takes >= 3 x 280 ms (connect, request, response) (${ms} ms)" test $ms -ge 840
t0=$(date +%s%N); timeout 5 curl -s "http://$P.1.4:18083/who" >/dev/null; t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
check "delay rule: other sources are not delayed (${ms} ms)" test $ms -lt 250
r=$(pod curl -sS "http://$P.1.4:18083/who" 2>&1)
check "delay rule: data still intact" test "$r" = backend-1

# Reset rule.
r=$(pod python3 -c "$PYCONN" $P.1.5 18084)
check "reset rule: accepted, then reset on first data ($r)" test "$r" = "recv ECONNRESET"
r=$(timeout 5 curl -sS "http://$P.1.5:18084/" 2>&1)
check "reset rule: curl sees Connection reset by peer" grep -q "reset by peer" <<<"$r"

# Metrics.
M=$(curl -s -m 5 "http://$P.0.1:15090/metrics")
edge='source_namespace="test",source_workload="client",destination_namespace="test",destination_service="web"'
check "metrics: requests by response code for the client → web edge" \
    grep -qE "^mesh_requests_total\{$edge,response_code=\"200\"\} ([6-9]|[1-9][0-9]+)$" <<<"$M"
check "metrics: unknown source for plain clients" \
    grep -q 'mesh_tcp_connections_opened_total{source_namespace="unknown",source_workload="unknown",destination_namespace="test",destination_service="web"} 2' <<<"$M"
check "metrics: refused and no_endpoints failures" bash -c 'grep -q "source_workload=\"client\",destination_namespace=\"test\",destination_service=\"dead\",reason=\"refused\"} 2" <<<"$1" && grep -q "source_workload=\"unknown\",destination_namespace=\"test\",destination_service=\"empty\",reason=\"no_endpoints\"} 1" <<<"$1"' _ "$M"
check "metrics: duration histogram with +Inf equal to count" bash -c '
    inf=$(grep "^mesh_request_duration_seconds_bucket{$2,le=\"+Inf\"}" <<<"$1" | awk "{print \$2}")
    cnt=$(grep "^mesh_request_duration_seconds_count{$2}" <<<"$1" | awk "{print \$2}")
    [ -n "$inf" ] && [ "$inf" = "$cnt" ]' _ "$M" "$edge"
check "metrics: bytes counted both ways" bash -c 'grep -qE "^mesh_tcp_received_bytes_total\{$2\} [0-9]{6,}" <<<"$1" && grep -qE "^mesh_tcp_sent_bytes_total\{$2\} [1-9]" <<<"$1"' _ "$M" "$edge"
check "metrics: no trace of fault rules" bash -c '! grep -qiE "r-delay|r-reset|delay|fault|rule" <<<"$1"' _ "$M"
if command -v promtool >/dev/null; then check "metrics: promtool check metrics" bash -c 'promtool check metrics <<<"$1"' _ "$M"; fi
check "metrics: every sample line is name{labels} value" bash -c '! grep -vE "^(# (HELP|TYPE) .*|[a-z_]+\{([a-z_]+=\"[^\"]*\",?)+\} [0-9.e+-]+)$" <<<"$1"' _ "$M"

# SIGHUP: boom goes away (and its rule), web2 appears; open connections keep going.
exec 7<>/dev/tcp/$P.1.1/18080
routes ',{"namespace":"test","name":"web2","clusterIP":"'$P'.1.6","ports":[{"port":18085,
    "endpoints":[{"ip":"'$P'.64.2","port":18080,"pod":"backend-2"}]}]}' ''
kill -HUP $MPID
ok2=0
for _ in $(seq 50); do
    if [ "$(timeout 2 curl -s "http://$P.1.6:18085/who")" = backend-2 ]; then ok2=1; break; fi
    sleep 0.1
done
check "SIGHUP: new Service served" test $ok2 = 1
r=$(timeout 5 curl -sS "http://$P.1.5:18084/" 2>&1)
check "SIGHUP: removed Service's listener closed" grep -qiE "refused|couldn't connect" <<<"$r"
printf 'GET /who HTTP/1.0\r\n\r\n' >&7
r=$(timeout 5 cat <&7 | tail -1)
exec 7>&-
check "SIGHUP: connection opened before the reload still works ($r)" grep -q backend <<<"$r"

kill -TERM $MPID
st=0
for _ in $(seq 50); do kill -0 $MESH 2>/dev/null || { st=1; break; }; sleep 0.1; done
wait $MESH; rc=$?
check "SIGTERM: mesh exits 0 and removes its pid file (rc $rc)" bash -c "[ $st = 1 ] && [ $rc = 0 ] && [ ! -e '$D/mesh/mesh.pid' ]"
check "mesh log written" grep -q "routes generation" "$D/logs/mesh.log"
