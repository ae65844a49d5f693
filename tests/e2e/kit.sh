#!/bin/bash
# kit: the service kit (apps/kit) as app services use it, in a lab.
# tests/kit/kit_echo runs as pods (echo-a with every store client, echo-b,
# echo-dead whose collector never answers) next to PostgreSQL (through
# aiopslab-postgres, as nobody, with an init script and a Secret password),
# Redis, memcached and tests/e2e/otlp_sink.py as the OTLP collector.
# Checks: probes, parameters and JSON bodies, bad input (malformed JSON,
# oversized body and headers), /metrics (valid text, counters moving), JSON
# log lines with trace ids, one trace across two services (traceparent,
# logs and exported spans), a dead collector that slows nothing, the error
# texts of a refused downstream and of stopped stores (and recovery), and
# a graceful SIGTERM that lets the request in flight finish.
source "$(dirname "$0")/lib.sh"

ECHO="$BUILD/tests/kit_echo"
SINK="$E2E_ROOT/tests/e2e/otlp_sink.py"
PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
[ -x "$ECHO" ] || bail_out "kit_echo is built" "missing $ECHO (make BUILD=...)"
[ -n "$PY" ] || bail_out "python3 is installed"
lab_up
NS=kit
SPANS="$AIOPSLAB_HOME/spans.jsonl"

# ---- Services first (pods see the service variables of existing Services) ----
apply_stdin <<EOF >/dev/null || bail_out "apply services"
apiVersion: v1
kind: Namespace
metadata: {name: $NS}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: pg-init, namespace: $NS}
data:
  01-schema.sql: |
    CREATE TABLE kv (k text PRIMARY KEY, v text NOT NULL);
    CREATE ROLE reader LOGIN PASSWORD 'reader';
---
apiVersion: v1
kind: Secret
metadata: {name: pg-auth, namespace: $NS}
stringData: {password: "s3cret pass"}
$(for s in echo-a:8080 echo-b:8080 echo-dead:8080 nobody:8080 otel:4318 hang:4318 pg:5432 redis:6379 mc:11211; do
    cat <<SVC
---
apiVersion: v1
kind: Service
metadata: {name: ${s%:*}, namespace: $NS}
spec:
  selector: {app: ${s%:*}}
  ports: [{port: ${s#*:}, targetPort: ${s#*:}}]
SVC
done)
EOF
for s in otel hang pg redis mc echo-a echo-b echo-dead nobody; do
    printf -v "IP_${s//-/_}" '%s' "$(cluster_ip $NS $s)"
done
[ -n "$IP_pg" ] && [ -n "$IP_otel" ] && ok "services have ClusterIPs" || bail_out "services have ClusterIPs" "$(k get svc -n $NS 2>&1)"

# A Deployment: NAME, container command as a JSON list, env as YAML lines, extra container YAML.
deploy() {
    cat <<EOF
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1, namespace: $NS}
spec:
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      terminationGracePeriodSeconds: 15
      containers:
      - name: main
        command: $2
        env:
        - {name: LOG_LEVEL, value: info}
$3
${4:-}
EOF
}
echo_env() { # OTLP-ENDPOINT
    printf '        - {name: PORT, value: "8080"}\n        - {name: OTEL_EXPORTER_OTLP_ENDPOINT, value: "%s"}\n' "$1"
}
probe_http='        readinessProbe: {httpGet: {path: /readyz, port: 8080}, periodSeconds: 1}'
probe_tcp() { echo "        readinessProbe: {tcpSocket: {port: $1}, periodSeconds: 1}"; }

{
    deploy otel "[\"$PY\", \"$SINK\", \"4318\", \"$SPANS\", \"0.0.0.0\"]" "" "$(probe_tcp 4318)"
    # A collector that accepts connections and never answers.
    deploy hang "[\"$PY\", \"-c\", \"import socket,time; s=socket.socket(); s.bind(('0.0.0.0',4318)); s.listen(512); time.sleep(100000)\"]" "" "$(probe_tcp 4318)"
    deploy pg '["aiopslab-postgres", "--init-dir", "init"]' "        - {name: POSTGRES_USER, value: app}
        - {name: POSTGRES_DB, value: appdb}
        - name: POSTGRES_PASSWORD
          valueFrom: {secretKeyRef: {name: pg-auth, key: password}}" "$(probe_tcp 5432)
        securityContext: {runAsUser: 65534}
        volumeMounts: [{name: init, mountPath: /init}]
      volumes: [{name: init, configMap: {name: pg-init}}]"
    deploy redis '["redis-server", "--port", "6379", "--save", "", "--protected-mode", "no"]' "" "$(probe_tcp 6379)"
    deploy mc '["memcached", "-p", "11211", "-u", "nobody"]' "" "$(probe_tcp 11211)"
    deploy echo-a "[\"$ECHO\", \"echo-a\"]" "$(echo_env "http://$IP_otel:4318")
        - {name: PG_HOST, value: \"$IP_pg\"}
        - {name: PG_DB, value: appdb}
        - {name: PG_USER, value: app}
        - name: PG_PASSWORD
          valueFrom: {secretKeyRef: {name: pg-auth, key: password}}
        - {name: READER_HOST, value: \"$IP_pg\"}
        - {name: READER_DB, value: appdb}
        - {name: READER_USER, value: reader}
        - {name: READER_PASSWORD, value: reader}
        - {name: REDIS_HOST, value: \"$IP_redis\"}
        - {name: MC_HOST, value: \"$IP_mc\"}
        - {name: KIT_MAX_BODY, value: \"65536\"}" "$probe_http"
    deploy echo-b "[\"$ECHO\", \"echo-b\"]" "$(echo_env "http://$IP_otel:4318")" "$probe_http"
    deploy echo-dead "[\"$ECHO\", \"echo-dead\"]" "$(echo_env "http://$IP_hang:4318")" "$probe_http"
} >"$AIOPSLAB_HOME/deploy.yaml"
out=$(k apply -f "$AIOPSLAB_HOME/deploy.yaml" 2>&1) || bail_out "apply deployments" "$out"
t0=$(date +%s%N)
if wait_for "all_ready $NS" 60; then
    ok "all pods ready, echo-a once its store pools connected ($((($(date +%s%N) - t0) / 1000000)) ms)"
else
    bail_out "all pods ready" "$(k get pods -n $NS 2>&1)" "$(k logs -n $NS deploy/pg 2>&1 | tail -20)" \
        "$(k logs -n $NS deploy/echo-a 2>&1 | tail -5)"
fi

A="http://$IP_echo_a:8080"
B="http://$IP_echo_b:8080"
D="http://$IP_echo_dead:8080"

# BODY STATUS of a request, the body's newline dropped.
req() {
    local o
    o=$(curl -s --max-time 5 -w ' %{http_code}' "$@")
    printf '%s' "${o//$'\n'/}"
}

# ---- probes, parameters, bodies ---------------------------------------------------
[ "$(http_get "$A/healthz")" = ok ] && ok "GET /healthz answers ok" || not_ok "GET /healthz answers ok"
[ "$(http_code "$A/readyz")" = 200 ] && ok "GET /readyz is 200 with its stores connected" || not_ok "GET /readyz is 200"
out=$(http_get "$A/echo?name=a%20b+c%26d")
[ "$(jq -r .name <<<"$out")" = "a b c&d" ] && ok "query parameters are decoded" || not_ok "query parameters are decoded" "$out"
out=$(http_get -X POST --data 'a=x%3Dy+z&b=1' "$A/form")
[ "$(jq -r .a <<<"$out")" = "x=y z" ] && ok "form body parameters are decoded" || not_ok "form body parameters" "$out"
out=$(http_get -X POST -H 'Content-Type: application/json' --data '{"msg":"héllo"}' "$A/json")
[ "$(jq -r .len <<<"$out")" = 6 ] && ok "a JSON body is parsed" || not_ok "a JSON body is parsed" "$out"
code=$(curl -s -o "$AIOPSLAB_HOME/r" -w '%{http_code}' --max-time 5 -X POST --data '{"msg": "x",' "$A/json")
[ "$code" = 400 ] && jq -e '.error | test("malformed JSON")' "$AIOPSLAB_HOME/r" >/dev/null &&
    ok "malformed JSON: 400 with a JSON error" || not_ok "malformed JSON: 400 with a JSON error" "$code $(cat "$AIOPSLAB_HOME/r")"
head -c 100000 /dev/zero | tr '\0' x >"$AIOPSLAB_HOME/big"
code=$(curl -s -o "$AIOPSLAB_HOME/r" -w '%{http_code}' --max-time 5 -X POST --data-binary @"$AIOPSLAB_HOME/big" "$A/json")
[ "$code" = 413 ] && jq -e .error "$AIOPSLAB_HOME/r" >/dev/null && ok "body over KIT_MAX_BODY: 413" || not_ok "body over KIT_MAX_BODY: 413" "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Transfer-Encoding: chunked' -X POST \
    --data-binary @"$AIOPSLAB_HOME/big" "$A/json")
[ "$code" = 413 ] && ok "chunked body over KIT_MAX_BODY: 413" || not_ok "chunked body over KIT_MAX_BODY: 413" "$code"
# Straight to the pod (the mesh has limits of its own).
ipa=$(k get pods -n $NS -l app=echo-a -o json | jq -r '.items[0].status.podIP')
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "X-Big: $(head -c 40000 "$AIOPSLAB_HOME/big")" "http://$ipa:8080/healthz")
[ "$code" = 431 ] && ok "oversized headers: 431" || not_ok "oversized headers: 431" "$code"
[ "$(http_code "$A/nothing")" = 404 ] && [ "$(http_code -X DELETE "$A/echo")" = 405 ] &&
    ok "unknown path 404, wrong method 405" || not_ok "unknown path 404, wrong method 405"
out=$(req "$A/noreply")
[ "$out" = '{"error":"handler of noreply returned no reply"} 500' ] && ok "a handler without a reply answers 500" ||
    not_ok "a handler without a reply answers 500" "$out"
[ "$(http_code "$A/echo")" = 400 ] && ok "missing parameter: 400" || not_ok "missing parameter: 400"

# ---- metrics ----------------------------------------------------------------------
valid_metrics() { # FILE: Prometheus text 0.0.4 (promtool when present)
    if command -v promtool >/dev/null; then promtool check metrics <"$1" 2>&1 | grep -v 'no help text' | grep . && return 1; fi
    "$PY" - "$1" <<'PYEOF'
import re, sys
name = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
lab = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
sample = re.compile(r'^(%s)(\{(?:%s)(?:,%s)*\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN)$' % (name, lab, lab))
types, seen, errs = {}, set(), []
for i, line in enumerate(open(sys.argv[1]), 1):
    line = line.rstrip('\n')
    if line.startswith('# HELP '):
        continue
    if line.startswith('# TYPE '):
        _, _, n, t = line.split(' ', 3)
        if n in types: errs.append('%d: second TYPE for %s' % (i, n))
        if t not in ('counter', 'gauge', 'histogram', 'summary', 'untyped'): errs.append('%d: bad type' % i)
        types[n] = t
        continue
    m = sample.match(line)
    if not m:
        errs.append('%d: bad line: %s' % (i, line)); continue
    n = m.group(1)
    base = re.sub(r'_(bucket|sum|count)$', '', n)
    if n not in types and base not in types: errs.append('%d: sample before its TYPE: %s' % (i, n))
    if types.get(base) == 'histogram' and n.endswith('_bucket') and 'le="' not in line: errs.append('%d: bucket without le' % i)
    if types.get(n) == 'counter' and not n.endswith('_total'): errs.append('%d: counter %s without _total' % (i, n))
for e in errs[:20]: print(e)
sys.exit(1 if errs else 0)
PYEOF
}
metric() { # FILE NAME LABEL-FILTER: the value of the first matching sample (0 when none)
    grep -E "^$2\{[^}]*$3" "$1" | head -n 1 | awk '{print $2}' | grep . || echo 0
}
http_get "$A/metrics" >"$AIOPSLAB_HOME/m1"
if out=$(valid_metrics "$AIOPSLAB_HOME/m1"); then ok "/metrics is valid Prometheus text"; else not_ok "/metrics is valid Prometheus text" "$out"; fi
missing=""
for f in http_server_requests_total http_server_request_duration_seconds_bucket http_server_requests_in_flight \
    db_client_operations_total trace_spans_dropped_total process_cpu_seconds_total process_resident_memory_bytes \
    process_virtual_memory_bytes process_open_fds process_max_fds process_start_time_seconds process_threads; do
    grep -q "^# TYPE ${f%_bucket} " "$AIOPSLAB_HOME/m1" || missing="$missing $f"
done
[ -z "$missing" ] && ok "/metrics has the kit's families and the process metrics" || not_ok "/metrics families" "missing:$missing"
before=$(metric "$AIOPSLAB_HOME/m1" http_server_requests_total 'operation="echo",method="GET",status="200"')
for i in 1 2 3 4 5; do http_get "$A/echo?name=$i" >/dev/null; done
http_get "$A/metrics" >"$AIOPSLAB_HOME/m2"
after=$(metric "$AIOPSLAB_HOME/m2" http_server_requests_total 'operation="echo",method="GET",status="200"')
[ "$((after - before))" = 5 ] && ok "http_server_requests_total{operation=echo,status=200} moved by 5" ||
    not_ok "request counter moved by 5" "before $before after $after"
c=$(metric "$AIOPSLAB_HOME/m2" http_server_request_duration_seconds_count 'operation="echo"')
[ "${c%.*}" -ge 6 ] 2>/dev/null && ok "latency histogram counts the requests ($c)" || not_ok "latency histogram counts" "$c"
c=$(metric "$AIOPSLAB_HOME/m2" http_server_requests_total 'operation="json",method="POST",status="400"')
[ "$c" -ge 1 ] 2>/dev/null && ok "4xx are counted by status" || not_ok "4xx are counted by status" "$c"

# ---- one trace through two services ------------------------------------------------
TRACE=4bf92f3577b34da6a3ce929d0e0e4736
out=$(http_get -H "traceparent: 00-$TRACE-00f067aa0ba902b7-01" "$A/chain?to=echo-b")
jq -e --arg t "$TRACE" '.downstream.service == "echo-b" and (.downstream.traceparent | test("^00-" + $t + "-[0-9a-f]{16}-01$"))' \
    <<<"$out" >/dev/null && ok "kit_call continues the traceparent into echo-b" || not_ok "kit_call continues the traceparent" "$out"
child_parent=$(jq -r '.downstream.traceparent' <<<"$out" | cut -d- -f3)
sleep 0.3
k logs -n $NS deploy/echo-a >"$AIOPSLAB_HOME/a.log" 2>&1
k logs -n $NS deploy/echo-b >"$AIOPSLAB_HOME/b.log" 2>&1
bad=$(grep -v '^$' "$AIOPSLAB_HOME/a.log" | jq -c 'select((.ts|type) != "string" or (.level|type) != "string" or .service != "echo-a" or (.msg|type) != "string")' 2>&1)
[ -z "$bad" ] && [ -s "$AIOPSLAB_HOME/a.log" ] && ok "every log line of echo-a is JSON with ts, level, service, msg" ||
    not_ok "log lines are JSON" "$bad" "$(head -5 "$AIOPSLAB_HOME/a.log")"
grep -F "\"trace_id\":\"$TRACE\"" "$AIOPSLAB_HOME/a.log" | grep -q '"msg":"chain to echo-b done"' &&
    grep -F "\"trace_id\":\"$TRACE\"" "$AIOPSLAB_HOME/b.log" | grep -q '"msg":"whoami asked"' &&
    ok "both services log the request under the caller's trace id" ||
    not_ok "both services log under one trace id" "$(tail -3 "$AIOPSLAB_HOME/a.log")" "$(tail -3 "$AIOPSLAB_HOME/b.log")"
got_spans() {
    [ -s "$SPANS" ] && jq -es --arg t "$TRACE" '[.[] | .resourceSpans[] | .scopeSpans[].spans[] | select(.traceId == $t)] | length >= 3' \
        "$SPANS" >/dev/null
}
if wait_for got_spans 6; then
    ok "spans of the trace reach the OTLP sink"
    jq -s --arg t "$TRACE" '[.[] | .resourceSpans[] | (.resource.attributes[] | select(.key == "service.name") | .value.stringValue) as $s
        | .scopeSpans[].spans[] | select(.traceId == $t) | {s: $s, name, kind, id: .spanId, parent: .parentSpanId}]' \
        "$SPANS" >"$AIOPSLAB_HOME/trace.json"
    jq -e --arg p "$child_parent" '
        (map(select(.s == "echo-a" and .kind == 2 and .parent == "00f067aa0ba902b7")) | length) == 1 and
        (map(select(.s == "echo-a" and .kind == 3 and .id == $p)) | length) == 1 and
        (map(select(.s == "echo-b" and .kind == 2 and .parent == $p)) | length) == 1' "$AIOPSLAB_HOME/trace.json" >/dev/null &&
        ok "one trace: echo-a server span <- client span <- echo-b server span" ||
        not_ok "span parentage across services" "$(cat "$AIOPSLAB_HOME/trace.json")"
else
    not_ok "spans of the trace reach the OTLP sink" "$(tail -c 600 "$SPANS" 2>&1)"
fi

# ---- a collector that never answers slows nothing -------------------------------------
# 200 requests on one connection each (an exporter in the request path would
# cost each of them the collector's 1 s timeout).
hundred() { # URL: milliseconds for 200 requests
    local t0 urls=()
    for i in $(seq 1 200); do urls+=("$1"); done
    t0=$(date +%s%N)
    curl -s --max-time 30 "${urls[@]}" >/dev/null || echo "curl failed" >&2
    echo $((($(date +%s%N) - t0) / 1000000))
}
ms=$(hundred "$D/span")
ms_ref=$(hundred "$B/span")
[ "$ms" -lt $((ms_ref * 3 + 1000)) ] && ok "hung collector: 200 requests in $ms ms (healthy collector: $ms_ref ms)" ||
    not_ok "hung collector slows requests" "$ms ms vs $ms_ref ms"
dropped() { http_get "$D/metrics" | metric /dev/stdin trace_spans_dropped_total 'service="echo-dead"'; }
if wait_for '[ "$(dropped)" -gt 0 ]' 6; then ok "spans the collector did not take are counted as dropped ($(dropped))"
else not_ok "dropped spans are counted" "$(dropped)"; fi

# ---- errors as real services word them --------------------------------------------------
out=$(req "$A/chain?to=nobody")
[ "$out" = "{\"error\":\"connect to nobody:8080 failed: Connection refused\"} 502" ] &&
    ok "refused downstream: connect to nobody:8080 failed: Connection refused" || not_ok "refused downstream text" "$out"
out=$(req "$A/chain?to=ghost")
[ "$out" = "{\"error\":\"no address for service ghost (GHOST_SERVICE_HOST is not set)\"} 502" ] &&
    ok "unknown service: no address (GHOST_SERVICE_HOST is not set)" || not_ok "unknown service text" "$out"
http_get "$A/metrics" >"$AIOPSLAB_HOME/m3"
[ "$(metric "$AIOPSLAB_HOME/m3" downstream_errors_total 'downstream="nobody",reason="refused"')" -ge 1 ] 2>/dev/null &&
    ok "downstream_errors_total{downstream=nobody,reason=refused}" || not_ok "downstream_errors_total refused" "$(grep downstream_errors "$AIOPSLAB_HOME/m3")"
k logs -n $NS deploy/echo-a 2>&1 | grep '"level":"error"' | grep -q '"msg":"connect to nobody:8080 failed: Connection refused"' &&
    ok "the refused call is logged at error" || not_ok "the refused call is logged at error"

# ---- stores -------------------------------------------------------------------------------
st() { req "$A/$1"; }
[ "$(st 'pg/put?k=x&v=1')" = '{"ok":true} 200' ] && [ "$(st 'pg/get?k=x')" = '{"v":"1"} 200' ] &&
    ok "postgresql: write and read through the pool" || not_ok "postgresql: write and read" "$(st 'pg/get?k=x')"
out=$(st pg/denied)
[ "$out" = '{"error":"pq: permission denied for table kv"} 500' ] && ok "pq: permission denied for table kv" || not_ok "pq permission denied text" "$out"
[ "$(st 'redis/set?k=x&v=2')" = '{"ok":true} 200' ] && [ "$(st 'redis/get?k=x')" = '{"v":"2"} 200' ] &&
    ok "redis: set and get" || not_ok "redis: set and get" "$(st 'redis/get?k=x')"
[ "$(st 'mc/set?k=x&v=3')" = '{"ok":true} 200' ] && [ "$(st 'mc/get?k=x')" = '{"v":"3"} 200' ] &&
    [ "$(st 'mc/get?k=absent')" = '{"error":"no such key: absent"} 404' ] &&
    ok "memcached: set, get, miss" || not_ok "memcached: set, get, miss" "$(st 'mc/get?k=x')"
http_get "$A/metrics" >"$AIOPSLAB_HOME/m4"
[ "$(metric "$AIOPSLAB_HOME/m4" db_client_operations_total 'system="memcached",operation="get",status="ok"')" -ge 2 ] 2>/dev/null &&
    [ "$(metric "$AIOPSLAB_HOME/m4" db_client_operations_total 'system="postgresql",operation="select",status="error"')" -ge 1 ] 2>/dev/null &&
    ok "db_client_operations_total by system, operation, status" || not_ok "db metrics" "$(grep db_client_operations_total "$AIOPSLAB_HOME/m4")"

k scale deploy -n $NS pg redis mc --replicas=0 >/dev/null 2>&1 ||
    for s in pg redis mc; do k scale deploy -n $NS $s --replicas=0 >/dev/null; done
wait_for "st 'pg/get?k=x' | grep -q ' 500\$' && st 'redis/get?k=x' | grep -q ' 500\$' && st 'mc/get?k=x' | grep -q ' 500\$'" 20
out=$(st 'pg/get?k=x')
[ "$out" = "{\"error\":\"dial tcp $IP_pg:5432: connect: connection refused\"} 500" ] &&
    ok "stopped postgresql: dial tcp $IP_pg:5432: connect: connection refused" || not_ok "stopped postgresql text" "$out"
out=$(st 'redis/get?k=x')
[ "$out" = "{\"error\":\"dial tcp $IP_redis:6379: connect: connection refused\"} 500" ] &&
    ok "stopped redis: dial tcp ...: connection refused" || not_ok "stopped redis text" "$out"
out=$(st 'mc/get?k=x')
[ "$out" = "{\"error\":\"dial tcp $IP_mc:11211: connect: connection refused\"} 500" ] &&
    ok "stopped memcached: dial tcp ...: connection refused" || not_ok "stopped memcached text" "$out"
k logs -n $NS deploy/echo-a 2>&1 | grep '"level":"error"' | grep -q "dial tcp $IP_pg:5432: connect: connection refused" &&
    ok "the store error is logged" || not_ok "the store error is logged"
for s in pg redis mc; do k scale deploy -n $NS $s --replicas=1 >/dev/null; done
if wait_for "[ \"\$(st 'pg/put?k=y&v=1')\" = '{\"ok\":true} 200' ] && [ \"\$(st 'redis/set?k=y&v=1')\" = '{\"ok\":true} 200' ] && [ \"\$(st 'mc/set?k=y&v=1')\" = '{\"ok\":true} 200' ]" 30; then
    ok "the stores come back and the pools recover by themselves"
else
    not_ok "the pools recover" "$(st 'pg/put?k=y&v=1')" "$(st 'redis/set?k=y&v=1')" "$(st 'mc/set?k=y&v=1')"
fi

# ---- graceful SIGTERM -----------------------------------------------------------------------
podb=$(pods_of $NS echo-b | head -n 1)
pid=$(container_pid $NS "$podb")
curl -s --max-time 10 "$B/slow?ms=1500" >"$AIOPSLAB_HOME/slow" 2>&1 &
cpid=$!
sleep 0.5
if [ -n "$pid" ] && kill -TERM "$pid"; then
    wait $cpid
    [ "$(cat "$AIOPSLAB_HOME/slow")" = '{"slept":1500}' ] && ok "SIGTERM: the request in flight completes" ||
        not_ok "SIGTERM: the request in flight completes" "$(cat "$AIOPSLAB_HOME/slow")"
    wait_for "! kill -0 $pid" 5 && ok "SIGTERM: the service exits" || not_ok "SIGTERM: the service exits"
    d=$(run_dir $NS "$podb" main 0)
    wait_for "jq -e '.phase == \"exited\"' '$d/state.json'" 5
    [ "$(jq -r .exitCode "$d/state.json" 2>/dev/null)" = 0 ] && ok "SIGTERM: exit code 0" ||
        not_ok "SIGTERM: exit code 0" "$(cat "$d/state.json" 2>&1)"
    log=$(k logs -n $NS "$podb" --previous 2>/dev/null || cat "$d"/*.log 2>/dev/null)
    grep -q '"msg":"received SIGTERM, shutting down"' <<<"$log" && grep -q '"msg":"stopped"' <<<"$log" &&
        ok "SIGTERM: shutdown is logged" || not_ok "SIGTERM: shutdown is logged" "$(tail -3 <<<"$log")"
else
    not_ok "echo-b container pid" "$podb $pid"
fi

# ---- SIGTERM before serving (waiting for a store) --------------------------------------------
ECHO_START_WAIT_MS=30000 PORT=$((20000 + $$ % 10000)) "$ECHO" early >"$AIOPSLAB_HOME/early.log" 2>&1 &
epid=$!
sleep 0.5
t0=$(date +%s%N)
kill -TERM $epid
wait $epid
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ $rc = 0 ] && [ $ms -lt 1000 ] && grep -q '"msg":"received SIGTERM before serving, exiting"' "$AIOPSLAB_HOME/early.log" &&
    ok "SIGTERM while waiting to serve: exits at once (${ms} ms), code 0, logged" ||
    not_ok "SIGTERM while waiting to serve: exits at once" "exit $rc after $ms ms" "$(cat "$AIOPSLAB_HOME/early.log")"

done_testing
