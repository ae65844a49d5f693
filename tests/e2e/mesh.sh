#!/bin/bash
# End-to-end test of the mesh: starts `aiopslab __mesh` alone on a hand-made
# lab (net 131), python http.server backends under the shim, and checks
# routing, round robin, error fidelity (refused / reset), metrics, every
# fault rule kind (delay, reset, loss, bandwidth, partition, black hole,
# HTTP abort, slow close, dns), the cluster DNS, non-blocking connects that
# keep their own timeouts, SIGHUP reload and SIGTERM. Prints TAP lines.
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
head -c 15000 /dev/urandom | base64 -w0 >"$D/b1/mid"
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
  $(for s in lossy:10 thin:11 part:12 hole:13 abrt:14 half:15 slowc:16; do
      echo ",{\"namespace\":\"test\",\"name\":\"${s%:*}\",\"clusterIP\":\"$P.1.${s#*:}\",\"ports\":[{\"port\":18080,
        \"endpoints\":[{\"ip\":\"$P.64.1\",\"port\":18080,\"pod\":\"backend-1\"}]}]}"; done)
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
  $FAULT_RULES
  $2
 ]}
JSON
    mv "$D/mesh/routes.json.tmp" "$D/mesh/routes.json"
}
CLIENT='{"namespace":"test","workload":"client"}'
to() { echo '"destination":{"namespace":"test","service":"'$1'"}'; }
FAULT_RULES=',{"id":"r-loss","action":"loss","lossPercent":100,"direction":"to","source":'$CLIENT','$(to lossy)'}
 ,{"id":"r-bw","action":"bandwidth","bytesPerSecond":10000,"direction":"from",'$(to thin)'}
 ,{"id":"r-part","action":"partition","direction":"both","source":'$CLIENT','$(to part)'}
 ,{"id":"r-hole","action":"blackhole",'$(to hole)'}
 ,{"id":"r-abort","action":"abort","httpStatus":503,'$(to abrt)'}
 ,{"id":"r-half","action":"abort","httpStatus":500,"percent":50,'$(to half)'}
 ,{"id":"r-sc","action":"slow_close","slowCloseMs":800,'$(to slowc)'}
 ,{"id":"r-dns","action":"dns","dnsError":"servfail","source":'$CLIENT','$(to cache)'}
 ,{"id":"r-dns2","action":"dns","dnsError":"nxdomain","name":"api.example.com"}'
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

# ---- the other fault kinds ----
ms_of() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }
# Loss 100 % toward lossy: every SYN is lost, the caller's own connect timeout fires (curl, non-blocking).
r=$(pod curl -sS --connect-timeout 1 "http://$P.1.10:18080/who" 2>&1); rc=$?
check "loss 100%: curl's connect timeout fires (rc $rc: $r)" bash -c "[ $rc = 28 ] && grep -qiE 'timed out|timeout' <<<'$r'"
ms=$(ms_of pod curl -s --connect-timeout 1 "http://$P.1.10:18080/who")
check "loss 100%: the caller waits its own 1 s, not longer (${ms} ms)" test $ms -ge 900 -a $ms -lt 3000
r=$(pod python3 -c 'import socket,sys
s = socket.socket(); s.settimeout(1.0)
try: s.connect((sys.argv[1], 18080)); print("connected")
except socket.timeout: print("timeout")' $P.1.10)
check "loss 100%: python connect with settimeout times out ($r)" test "$r" = timeout
r=$(timeout 5 curl -s "http://$P.1.10:18080/who")
check "loss: only the client workload's connections ($r)" test "$r" = backend-1
# Bandwidth 10 kB/s on responses: 20 kB take ~2 s and arrive intact.
ms=$(ms_of pod curl -s -o "$D/mid.got" "http://$P.1.11:18080/mid")
check "bandwidth 10000 B/s: a 20 kB body takes >= 1.6 s (${ms} ms)" test $ms -ge 1600 -a $ms -lt 6000
check "bandwidth: body intact" cmp -s "$D/mid.got" "$D/b1/mid"
# Partition client <-> part: the client's connects hang until its own timeout; other sources pass.
r=$(pod curl -sS --connect-timeout 1 "http://$P.1.12:18080/who" 2>&1); rc=$?
check "partition: client's connect times out (rc $rc)" test $rc = 28
r=$(timeout 5 curl -s "http://$P.1.12:18080/who")
check "partition: other sources get through ($r)" test "$r" = backend-1
# Black hole: every source; a direct (non-pod) caller sees an accepted connection that never answers.
r=$(pod curl -sS --connect-timeout 1 "http://$P.1.13:18080/who" 2>&1); rc=$?
check "blackhole: pod connect times out (rc $rc)" test $rc = 28
r=$(timeout 5 curl -sS -m 1 "http://$P.1.13:18080/who" 2>&1); rc=$?
check "blackhole: direct caller times out too (rc $rc)" test $rc = 28
# Abort 503 on every request, connection kept: two requests on one connection, both answered by the mesh.
seen0=$(grep -c "GET /who" "$D/b1.log")
r=$(pod curl -sv "http://$P.1.14:18080/who" "http://$P.1.14:18080/who" 2>&1)
seen1=$(grep -c "GET /who" "$D/b1.log")
check "abort: status 503 and Envoy's body, twice" test "$(grep -c 'fault filter abort' <<<"$r")" = 2
check "abort: the connection stays usable (reused)" grep -qiE "re-?using existing connection" <<<"$r"
check "abort: the backend never saw them ($seen0 -> $seen1 requests logged)" test "$seen0" = "$seen1"
r=$(pod python3 -c "$PYCONN" $P.1.14 18080)
check "abort: HTTP/1.0 caller gets its answer and the close ($r)" test "$r" = "recv data"
codes=$(for i in $(seq 30); do pod curl -s -o /dev/null -w '%{http_code}\n' "http://$P.1.15:18080/who"; done | sort | uniq -c | tr -s ' ' | tr '\n' ' ')
check "abort 50%: both 200 and 500 among 30 requests ($codes)" bash -c "grep -q ' 200' <<<'$codes' && grep -q ' 500' <<<'$codes'"
# Slow close: the FIN toward the caller comes 800 ms late.
ms=$(ms_of pod python3 -c "$PYCONN" $P.1.16 18080)
ms0=$(ms_of pod python3 -c "$PYCONN" $P.1.4 18083)
r=$(pod python3 -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], 18080), timeout=5)
s.sendall(b"GET /who HTTP/1.0\r\n\r\n"); t = time.time(); d = b""
while True:
    x = s.recv(4096)
    if not x: break
    d += x
print(int((time.time() - t) * 1000), d.endswith(b"backend-1\n"))' $P.1.16)
check "slow close: EOF after >= 800 ms, data first ($r)" bash -c "read a b <<<'$r'; [ \$a -ge 750 ] && [ \$b = True ]"
# Cluster DNS through the shim.
DNSPY='import socket, sys
for n in sys.argv[1:]:
    try: print(n, socket.getaddrinfo(n, 80, socket.AF_INET, socket.SOCK_STREAM)[0][4][0])
    except socket.gaierror as e: print(n, e.errno)'
r=$(pod python3 -c "$DNSPY" web WEB.test web.test.svc web.test.svc.cluster.local. nope.test.svc.cluster.local cache api.example.com localhost | tr '\n' ' ')
check "dns: Service names resolve to the ClusterIP ($r)" grep -q "^web $P.1.1 WEB.test $P.1.1 web.test.svc $P.1.1 web.test.svc.cluster.local. $P.1.1 " <<<"$r"
check "dns: unknown cluster name is NXDOMAIN (EAI_NONAME)" grep -q "nope.test.svc.cluster.local -2 " <<<"$r"
check "dns: servfail rule for client -> cache gives EAI_AGAIN" grep -q "cache -3 " <<<"$r"
check "dns: a rule by name fails that name" grep -q "api.example.com -2 " <<<"$r"
check "dns: other names fall through to libc" grep -q "localhost 127.0.0.1" <<<"$r"
r=$(LD_PRELOAD=$SHIM AIOPSLAB_POD_IP=$P.64.2 AIOPSLAB_LAB_NET=$NET timeout 10 python3 -c "$DNSPY" cache | tr '\n' ' ')
check "dns: the servfail rule is for the client only ($r)" grep -q "cache $P.1.7" <<<"$r"
r=$(pod curl -s "http://web:18080/who")
check "dns: curl by Service name ($r)" grep -q backend <<<"$r"
# Reload: a healed partition lets a hung connect through; a new partition stalls an open connection.
pod python3 -c '
import socket, sys, time
s = socket.socket(); s.settimeout(8); t = time.time()
s.connect((sys.argv[1], 18080)); s.sendall(b"GET /who HTTP/1.0\r\n\r\n")
print(int((time.time() - t) * 1000), s.recv(100).split(b"\r\n")[0].decode())' $P.1.12 >"$D/heal.out" 2>&1 &
HEAL=$!
sleep 1
SAVED=$FAULT_RULES
FAULT_RULES=${FAULT_RULES/\"action\":\"partition\"/\"action\":\"delay\",\"delayMs\":1}
FAULT_RULES=${FAULT_RULES/\"direction\":\"both\",\"source\":$CLIENT,$(to part)/\"source\":$CLIENT,$(to part)}
routes '' ''
kill -HUP "$(cat "$D/mesh/mesh.pid")"
wait $HEAL
r=$(cat "$D/heal.out")
check "reload: partition healed, the hung connect completes ($r)" bash -c "read a b <<<'$r'; [ \$a -ge 500 ] && [ \$a -lt 7000 ] && [ \"\$b\" = 'HTTP/1.0 200 OK' ]"
# An open connection (direct caller, service lossy) stalls under a new black hole and resumes after it.
coproc STALL { timeout 20 python3 -u -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 18080), timeout=5)
print("open"); sys.stdin.readline()
s.sendall(b"GET /who HTTP/1.0\r\n\r\n"); s.settimeout(1)
try: print("early", s.recv(15).decode())
except socket.timeout: print("stalled")
sys.stdin.readline(); s.settimeout(5)
print(s.recv(15).decode())' $P.1.10 2>&1; }
read -r -t 5 -u "${STALL[0]}" r1
FAULT_RULES="$SAVED"',{"id":"r-cut","action":"blackhole",'$(to lossy)'}'
routes '' ''
kill -HUP "$(cat "$D/mesh/mesh.pid")"
sleep 0.5
echo go >&"${STALL[1]}"
read -r -t 5 -u "${STALL[0]}" r2
FAULT_RULES=$SAVED
routes '' ''
kill -HUP "$(cat "$D/mesh/mesh.pid")"
echo go >&"${STALL[1]}"
read -r -t 5 -u "${STALL[0]}" r3
check "reload: an open connection stalls under a new black hole, resumes when it goes ($r1 | $r2 | $r3)" \
    bash -c "[ '$r1' = open ] && [ '$r2' = stalled ] && [ '$r3' = 'HTTP/1.0 200 OK' ]"

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
check "metrics: aborted requests counted with their status, as Envoy does" \
    grep -qE '^mesh_requests_total\{source_namespace="test",source_workload="client",destination_namespace="test",destination_service="abrt",response_code="503"\} [3-9]$' <<<"$M"
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
