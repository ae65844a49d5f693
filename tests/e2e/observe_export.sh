#!/bin/bash
# observe_export: `aiopslab observe export --since 1m DIR` on a lab running
# the example app writes AIOpsLab's metric CSVs (one per namespace, the
# example pods' cAdvisor series), a trace CSV holding a span posted to the
# OTLP receiver, each pod's log file and the events CSV; bad arguments are
# usage errors (2); with the lab down each part fails clearly (1).
source "$(dirname "$0")/lib.sh"
lab_up
node="127.$NET.0.1"
deploy_example >/dev/null || bail_out "deploy example failed"
OUT=$AIOPSLAB_HOME/export

# One span, so that the trace CSV has a row whatever the app sends.
NOW=$(date +%s%N)
TID=5b8efff798038103d269b633813fc60c
SID=eee19b7ec3c1b174
span="{\"traceId\":\"$TID\",\"spanId\":\"$SID\",\"name\":\"GET /probe, with comma\",\"kind\":2,\"startTimeUnixNano\":\"$NOW\",\"endTimeUnixNano\":\"$((NOW + 3000000))\",\"status\":{\"code\":2},\"attributes\":[{\"key\":\"http.status_code\",\"value\":{\"intValue\":\"503\"}}]}"
body="{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"export-probe\"}}]},\"scopeSpans\":[{\"spans\":[$span]}]}]}"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data-binary "$body" "http://$node:4318/v1/traces")
[ "$code" = 200 ] && ok "OTLP span posted" || not_ok "OTLP span posted" "$code"
# Some traffic through the mesh (frontend calls words), for its series.
fip=$(cluster_ip example frontend)
for _ in $(seq 20); do curl -s -m 5 -o /dev/null "http://$fip:8080/"; sleep 0.2; done
# Prometheus scrapes every 2 s: wait for the example pods' series and the
# mesh's (a counter's first sample shows no increase), then more traffic
# across several scrapes, so that rates and the p99 have something to show.
wait_for "al metrics query 'mesh_requests_total{destination_service=\"words\"}' 2>/dev/null | grep -q '^mesh_requests'" 30 ||
    diag "prometheus has no mesh series yet"
for _ in $(seq 30); do curl -s -m 5 -o /dev/null "http://$fip:8080/"; sleep 0.25; done
sleep 5

out=$(al observe export --since 1m "$OUT" 2>&1)
rc=$?
[ "$rc" = 0 ] && ok "export exits 0" || not_ok "export exits 0" "rc=$rc" "$out"
diag "$out"
grep -q "^exported [1-9][0-9]* files" <<<"$out" && ok "export prints a summary" || not_ok "export prints a summary" "$out"

m=$OUT/metrics/example.csv
check "metrics: example.csv has AIOpsLab's header" test "$(head -1 "$m" 2>/dev/null)" = "timestamp,cmdb_id,kpi_name,value"
words=$(k get pods -n example -l app=words -o jsonpath='{.items[0].metadata.name}')
for kpi in container_cpu_usage_seconds_total container_memory_working_set_bytes; do
    n=$(grep -c "^[0-9]\{10\},$words,$kpi,[0-9.e+-]*$" "$m" 2>/dev/null)
    [ "${n:-0}" -ge 2 ] && ok "metrics: $kpi rows for pod $words ($n)" ||
        not_ok "metrics: $kpi rows for pod $words" "$(head -5 "$m" 2>&1)" "$out"
done
grep -q "^[0-9]*,words,mesh_requests_total:200,[0-9.e+-]*$" "$m" && ok "metrics: mesh request rate of Service words" ||
    not_ok "metrics: mesh request rate of Service words" "$(grep mesh_ "$m" | head -5)"
grep -q "^[0-9]*,words,mesh_request_duration_seconds_p99,[0-9.e+-]*$" "$m" && ok "metrics: mesh p99 latency of Service words" ||
    not_ok "metrics: mesh p99 latency of Service words" "$(grep mesh_ "$m" | head -5)"
grep -q "^[0-9]*,[^,]*,container_memory_working_set_bytes," "$m" && ! grep -q ",observe," "$m" &&
    ok "metrics: rows are per namespace file" || not_ok "metrics: rows are per namespace file"
# every timestamp is within the window (1 minute, plus the rate's edge)
now=$(date +%s)
bad=$(awk -F, -v now="$now" 'NR > 1 && ($1 < now - 90 || $1 > now + 5)' "$m" | head -3)
[ -z "$bad" ] && ok "metrics: timestamps within --since" || not_ok "metrics: timestamps within --since" "$bad"

t=$OUT/traces/traces.csv
check "traces: header" test "$(head -1 "$t" 2>/dev/null)" = \
    "trace_id,span_id,parent_span,service_name,operation_name,start_time,duration,has_error,response"
row=$(grep "^$TID," "$t" 2>/dev/null)
[ "$row" = "$TID,$SID,,export-probe,\"GET /probe, with comma\",$((NOW / 1000)),3000,True,503" ] &&
    ok "traces: the posted span, CSV-quoted, error and response" || not_ok "traces: the posted span" "$row" "$(head -3 "$t" 2>&1)"

f=$OUT/logs/example/$words.log
[ -s "$f" ] && ok "logs: $words.log has lines ($(wc -l <"$f"))" || not_ok "logs: $words.log has lines" "$(ls -R "$OUT/logs" 2>&1 | head)"
n=$(ls "$OUT/logs/example" 2>/dev/null | wc -l)
want=$(k get pods -n example -o name | wc -l)
[ "$n" = "$want" ] && ok "logs: one file per example pod ($n)" || not_ok "logs: one file per example pod" "$n files, $want pods"
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$f" && ok "logs: lines carry their timestamps" || not_ok "logs: lines carry their timestamps" "$(head -3 "$f")"

e=$OUT/events.csv
check "events: header" test "$(head -1 "$e" 2>/dev/null)" = "last_seen,type,reason,object,message"
grep -q "^[0-9T:-]*Z,Normal,Started,pod/$words," "$e" && ok "events: Started of pod $words" ||
    not_ok "events: Started of pod $words" "$(head -5 "$e" 2>&1)"

# Bad arguments: usage, exit 2, nothing written.
for args in "" "--since" "--since nope $OUT/x" "--since 0s $OUT/x" "--bogus $OUT/x" "$OUT/a $OUT/b"; do
    out=$(al observe export $args 2>&1)
    rc=$?
    [ "$rc" = 2 ] && grep -q "^Usage: " <<<"$out" && ok "usage error for \"observe export $args\"" ||
        not_ok "usage error for \"observe export $args\"" "rc=$rc" "$out"
done
[ ! -e "$OUT/x" ] && ok "nothing written on a usage error" || not_ok "nothing written on a usage error"
out=$(al observe endpoints 2>&1)
grep -q "^prometheus " <<<"$out" && ok "observe endpoints still answers" || not_ok "observe endpoints still answers" "$out"

# Prometheus dead (the daemon restarts it after a second): the metrics part
# says so, the rest is still exported, exit 1.
ppid=$(cat "$LABDIR/prometheus/prometheus.pid" 2>/dev/null)
if [ -n "$ppid" ] && kill -9 "$ppid" 2>/dev/null; then
    wait_for "! curl -s -m 1 -o /dev/null http://$node:9090/-/ready" 5
    out=$(al observe export --since 1m "$OUT/noprom" 2>&1)
    rc=$?
    [ "$rc" = 1 ] && grep -q "metrics: Prometheus of lab \"$LAB\".*not running" <<<"$out" &&
        grep -q "^$TID," "$OUT/noprom/traces/traces.csv" && [ -s "$OUT/noprom/logs/example/$words.log" ] &&
        grep -q ",Started,pod/$words," "$OUT/noprom/events.csv" &&
        ok "Prometheus dead: a clear error, traces, logs and events still exported, exit 1" ||
        not_ok "Prometheus dead: a clear error, traces, logs and events still exported, exit 1" "rc=$rc" "$out"
else
    not_ok "Prometheus dead: its pid file" "$LABDIR/prometheus/prometheus.pid: '$ppid'"
fi

# Lab down: every part says why, exit 1.
timeout 20 "$AIOPSLAB" --lab "$LAB" cluster down >/dev/null 2>&1
out=$(al observe export --since 1m "$OUT/down" 2>&1)
rc=$?
[ "$rc" = 1 ] && grep -q "metrics: Prometheus of lab \"$LAB\".*not running" <<<"$out" &&
    grep -q "traces: the trace store of lab \"$LAB\" is not running" <<<"$out" &&
    grep -q "is not running (\`aiopslab cluster up\`)" <<<"$out" &&
    ok "lab down: clear errors per part, exit 1" || not_ok "lab down: clear errors per part, exit 1" "rc=$rc" "$out"
done_testing
