#!/bin/bash
# observe_app: issue 4's "Done when" on a live app. HotelReservation is
# deployed (17 pods, cheaper than SocialNetwork's 27, with the same kinds of
# telemetry) and `aiopslab load run` drives its mix in the background; then
# Prometheus (through `aiopslab metrics query`) has every pod up and every
# container's cAdvisor series, the trace store has front-end traces across
# the call graph, a crash (kill -9 of geo's process) shows as a restart
# metric, an event, error spans and error log lines that point at each
# other, and the generator's count, rate, 5xx and p50 agree with the front
# end's own counter and latency histogram.
source "$(dirname "$0")/lib.sh"

NS=test-hotel-reservation
RATE=50
# The load: 11 s (a whole 10 s rate() window) before the crash, 5 s after it
# (geo is back within ~2 s; the error spans and log lines are written as the
# requests fail).
LOAD_S=16
[ -x /usr/bin/prometheus ] || { skip "telemetry of a live app" "prometheus not installed"; done_testing; exit 0; }
lab_up
out=$(timeout 100 "$AIOPSLAB" --lab "$LAB" deploy hotel-reservation 2>&1) || bail_out "deploy hotel-reservation" "$out"

# Prometheus: the "result" array of an instant query ([] when it fails).
pq() { al metrics query "$1" --json 2>/dev/null | jq -c '.result // []' 2>/dev/null || echo '[]'; }
# The front end's own request series: what a client asked, not its probes or scrapes.
FE_SEL="namespace=\"$NS\",service=\"frontend\",operation!~\"healthz|readyz|metrics\""
scalar() { pq "$1" | jq -r '.[0].value[1] // "0"'; }
fe_requests() { scalar "sum(http_server_requests_total{$FE_SEL})"; }
fe_5xx() { scalar "sum(http_server_requests_total{$FE_SEL,status=~\"5..\"})"; }
fe_buckets() { pq "sum by (le) (http_server_request_duration_seconds_bucket{$FE_SEL})" | jq -c 'map({(.metric.le): (.value[1] | tonumber)}) | add // {}'; }
since_ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

# ---- every pod scraped and up ------------------------------------------------------------
# The eight services are annotated prometheus.io/scrape; the stores (Debian's
# PostgreSQL and memcached, no exporter) are seen through the node's metrics.
annotated=$(k get pods -n $NS -o json | jq -r '.items[] | select(.metadata.annotations["prometheus.io/scrape"] == "true") | .metadata.name' | sort)
all_pods=$(k get pods -n $NS -o json | jq -r '.items[].metadata.name' | sort)
up_pods() { pq "up{namespace=\"$NS\"} == 1" | jq -r '.[].metric.pod' | sort; }
if [ "$(wc -l <<<"$annotated")" = 8 ] && wait_for '[ "$(up_pods)" = "$annotated" ]' 30; then
    ok "every annotated pod of the app is a Prometheus target with up == 1 (8 services)"
else
    not_ok "every annotated pod of the app is a Prometheus target with up == 1" "annotated: $(echo $annotated)" \
        "up: $(up_pods | tr "\n" " ")" "$(al metrics targets 2>&1)"
fi
running_pods() {
    pq "kube_pod_status_phase{namespace=\"$NS\",phase=\"Running\"} == 1 and on (pod) kube_pod_container_status_ready == 1" |
        jq -r '.[].metric.pod' | sort -u
}
wait_for '[ "$(running_pods)" = "$all_pods" ]' 15 &&
    ok "all 17 pods Running and ready in Prometheus (kube_pod_status_phase, kube_pod_container_status_ready)" ||
    not_ok "all 17 pods Running and ready in Prometheus" "pods: $(echo $all_pods)" "seen: $(running_pods | tr "\n" " ")"

# The series exist before the run (one request of each main kind), so that
# rate() over the run counts from the run's first request.
FE="http://$(cluster_ip $NS frontend):5000"
http_get "$FE/hotels?inDate=2015-04-09&outDate=2015-04-11&lat=38.0235&lon=-122.095" >/dev/null
http_get "$FE/recommendations?require=rate&lat=38.0235&lon=-122.095" >/dev/null
wait_for '[ "$(fe_requests)" -ge 2 ]' 10
req0=$(fe_requests) err0=$(fe_5xx) b0=$(fe_buckets)
diag "before the run: the front end counted $req0 requests, $err0 5xx"

# ---- the generator in the background -------------------------------------------------------
LOADJ=$AIOPSLAB_HOME/load.json
load_t0=$(date +%s%N)
al load run --app hotel-reservation --pattern constant --rate $RATE --duration ${LOAD_S}s --json >"$LOADJ" 2>"$AIOPSLAB_HOME/load.err" &
LOADPID=$!

# ---- cAdvisor-named series for every container ----------------------------------------------
containers=$(k get pods -n $NS -o json | jq -r '.items[] | .metadata.name as $p | .spec.containers[] | "\($p) \(.name)"' | sort)
missing() { # METRIC: the containers of the app without a series (positive where it must be)
    local f=$1
    pq "$f{namespace=\"$NS\"}" | jq -r --arg f "$f" '.[] | select(($f | test("memory|threads") | not) or (.value[1] | tonumber) > 0) |
        "\(.metric.pod) \(.metric.container)"' | sort -u | comm -23 <(echo "$containers") -
}
for f in container_cpu_usage_seconds_total container_memory_working_set_bytes container_threads \
    container_file_descriptors kube_pod_container_status_restarts_total; do
    if wait_for '[ -z "$(missing '$f')" ]' 10; then
        ok "node metrics: $f for all $(wc -l <<<"$containers") containers"
    else
        not_ok "node metrics: $f for every container of the app" "missing: $(missing $f)"
    fi
done
cpu_q="sum(rate(container_cpu_usage_seconds_total{namespace=\"$NS\",container=\"hotel-reserv-frontend\"}[6s]))"
wait_for "awk -v v=\"\$(scalar '$cpu_q')\" 'BEGIN { exit !(v > 0.001) }'" 15 &&
    ok "cAdvisor: the front end's CPU counter rises under load ($(scalar "$cpu_q") cores)" ||
    not_ok "cAdvisor: the front end's CPU counter rises under load" "$(scalar "$cpu_q")"

# ---- traces across the call graph --------------------------------------------------------
ops=$(al traces operations frontend 2>&1)
grep -q '^SearchHandler  *server$' <<<"$ops" && grep -q '^RecommendHandler  *server$' <<<"$ops" &&
    ok "traces operations frontend: SearchHandler and RecommendHandler (server)" ||
    not_ok "traces operations frontend lists the front end's operations" "$ops"
# The services of the newest whole trace of OPERATION, and whether every
# span but the root has its parent in the trace.
trace_shape() { # OPERATION
    al traces find --service frontend --operation "$1" --lookback 1m --limit 5 --json 2>/dev/null | jq -c '
        [.data[] | ([.spans[].spanID]) as $ids
         | {svcs: ([.processes[].serviceName] | unique),
            orphans: [.spans[] | select((.references | length) > 0 and (.references[0].spanID as $p | $ids | index($p) | not))] | length,
            roots: [.spans[] | select((.references | length) == 0)] | length}
        ] | max_by(.svcs | length) // {}'
}
want_search='{"svcs":["frontend","geo","profile","rate","reservation","search"],"orphans":0,"roots":1}'
want_rec='{"svcs":["frontend","profile","recommendation"],"orphans":0,"roots":1}'
wait_for '[ "$(trace_shape SearchHandler)" = "$want_search" ]' 10 &&
    ok "a SearchHandler trace spans frontend, search, geo, rate, reservation, profile (one root, no orphans)" ||
    not_ok "a SearchHandler trace spans the call graph" "got $(trace_shape SearchHandler)" "want $want_search"
wait_for '[ "$(trace_shape RecommendHandler)" = "$want_rec" ]' 10 &&
    ok "a RecommendHandler trace spans frontend, recommendation, profile" ||
    not_ok "a RecommendHandler trace spans the call graph" "got $(trace_shape RecommendHandler)" "want $want_rec"

# ---- a crash: kill -9 geo's process -----------------------------------------------------------
# Mid-run, before the crash's new 5xx series: the front end's counter rate.
while [ "$(since_ms $load_t0)" -lt 11000 ]; do sleep 0.2; done
fe_rate=$(scalar "sum(rate(http_server_requests_total{$FE_SEL}[10s]))")
geo=$(pods_of $NS geo | head -n 1)
restarts() { scalar "max(kube_pod_container_status_restarts_total{namespace=\"$NS\",pod=\"$geo\"})"; }
r0=$(restarts)
pid=$(container_pid $NS "$geo")
[ -n "$pid" ] && [ "$r0" = 0 ] || not_ok "geo runs, never restarted, before the crash" "pid '$pid' restarts '$r0'"
kill_s=$(date +%s)
kill_us=$(($(date +%s%N) / 1000))
kill -9 "$pid"

wait_for '[ "$(restarts)" -ge 1 ]' 15 &&
    ok "crash: kube_pod_container_status_restarts_total of $geo rose 0 -> $(restarts)" ||
    not_ok "crash: the restart metric rises" "restarts: $(restarts)" "$(k get pod -n $NS "$geo" 2>&1)"

restart_event() { # a Started event of geo repeated after the kill (the container started again)
    k get events -n $NS -o json | jq -e --arg p "$geo" --arg t "$(date -u -d "@$kill_s" +%FT%TZ)" '
        [.items[] | select(.involvedObject.name == $p and .reason == "Started" and .count >= 2 and .lastTimestamp >= $t)] | length == 1'
}
if wait_for restart_event 10; then
    ok "crash: kubectl get events shows geo's container started again"
    diag "$(k get events -n $NS --field-selector "involvedObject.name=$geo" 2>&1 | grep -E 'Started|Unhealthy|BackOff')"
else
    not_ok "crash: an event shows the restart" "$(k get events -n $NS --field-selector "involvedObject.name=$geo" 2>&1)"
fi

# Error traces that began after the kill, with geo's failure in their spans.
error_traces() {
    al traces find --service frontend --errors --lookback 1m --limit 50 --json 2>/dev/null | jq -r --argjson t "$kill_us" '
        .data[] | select(.spans | min_by(.startTime) | .startTime >= $t - 1000000) | . as $tr
        | select([.spans[] | select(any(.tags[]; .key == "error" and .value == true))
                  | select(any(.tags[]; .key == "otel.status_description" and (.value | test("geo")))) | $tr.processes[.processID].serviceName]
                 | index("search") != null)
        | .traceID'
}
if wait_for '[ -n "$(error_traces)" ]' 10; then
    ok "crash: error spans in search naming geo ($(error_traces | wc -l) traces after the kill)"
else
    not_ok "crash: error spans in traces" "$(al traces find --service frontend --errors --lookback 1m 2>&1 | head -5)"
fi

# Error log lines of search about geo, each carrying its trace id.
error_log() { al logs -n $NS search --level error --since 1m 2>/dev/null | grep 'geo' | tail -n 1; }
if wait_for '[ -n "$(error_log)" ]' 10; then
    ok "crash: aiopslab logs --level error shows search's failed calls to geo"
    diag "$(error_log | cut -c1-220)"
    tid=$(error_log | sed -n 's/.*"trace_id":"\([0-9a-f]\{32\}\)".*/\1/p')
    # The line is written as the request fails; its spans reach the store within a second or two.
    [ -n "$tid" ] && wait_for 'al traces show "$tid" | grep -q "search: .*ERROR: .*geo"' 10 &&
        ok "crash: the error log line's trace_id is an error trace in the store" ||
        not_ok "crash: the error log line's trace_id is an error trace in the store" "trace id '$tid'" "$(al traces show "$tid" 2>&1)"
else
    not_ok "crash: error log lines" "$(al logs -n $NS search --since 1m --tail 5 2>&1)"
fi
wait_for "pod_ready $NS $geo" 20 || diag "geo not ready again: $(k get pod -n $NS "$geo" 2>&1)"

# ---- the generator's report against the front end's own metrics ------------------------------------
wait "$LOADPID"
load_rc=$?
completed=$(jq -r '.requests.completed // 0' "$LOADJ" 2>/dev/null)
if [ "$load_rc" -ne 0 ] || [ "${completed:-0}" -lt $((RATE * LOAD_S * 9 / 10)) ]; then
    not_ok "the generator ran its ${LOAD_S}s at $RATE/s" "exit $load_rc, completed $completed" "$(cat "$LOADJ" "$AIOPSLAB_HOME/load.err" 2>/dev/null | tail -20)"
fi
achieved=$(jq -r .achieved_rate "$LOADJ") g5xx=$(jq -r .errors.http_5xx "$LOADJ") gp50=$(jq -r .latency_ms.p50 "$LOADJ")
diag "generator: $completed completed, $achieved/s, $g5xx 5xx, p50 ${gp50} ms, p99 $(jq -r '.latency_ms.p99' "$LOADJ") ms"
# The last scrape after the run: the counter stops where the generator stopped.
wait_for '[ $(($(fe_requests) - req0)) -ge "$completed" ]' 10
dreq=$(($(fe_requests) - req0)) d5xx=$(($(fe_5xx) - err0))
diag "front end: $dreq requests in the run, $d5xx 5xx; its rate mid-run $fe_rate/s"
# The front end answered exactly what the generator sent (±1% for a scrape's timing).
awk -v a="$dreq" -v b="$completed" 'BEGIN { exit !(b > 0 && (a - b) <= b * 0.01 && (b - a) <= b * 0.01) }' &&
    ok "front end's request counter: $dreq = the generator's $completed completed (±1%)" ||
    not_ok "front end's request counter matches the generator's count" "front end $dreq, generator $completed"
awk -v a="$fe_rate" -v b="$achieved" 'BEGIN { exit !(b > 0 && a >= b * 0.85 && a <= b * 1.15) }' &&
    ok "front end's rate() mid-run $fe_rate/s within 15% of the generator's $achieved/s" ||
    not_ok "front end's rate() within 15% of the generator's" "rate() $fe_rate, generator $achieved"
[ "$g5xx" -ge 1 ] && [ "$((d5xx - g5xx))" -ge -1 ] && [ "$((d5xx - g5xx))" -le 1 ] &&
    ok "the crash's 5xx: generator $g5xx, front end $d5xx" ||
    not_ok "the generator's 5xx match the front end's (and the crash made some)" "generator $g5xx, front end $d5xx"
# p50: the front end's histogram puts its median in a bucket (lo, hi]. The
# generator times the same requests plus the mesh hop and its own queue:
# never faster than lo, and not far past hi (units, a wrong series or an
# empty histogram fail this).
b1=$(fe_buckets)
read -r lo hi n <<<"$(jq -rn --argjson a "$b1" --argjson b "$b0" '
    [$a | to_entries[] | {le: (if .key == "+Inf" then 1e9 else (.key | tonumber) end), n: (.value - ($b[.key] // 0))}]
    | sort_by(.le) | . as $s | ($s[-1].n) as $tot
    | ([range(0; $s | length) | select($s[.].n >= $tot / 2)][0]) as $i
    | "\(if $i > 0 then $s[$i - 1].le * 1000 else 0 end) \($s[$i].le * 1000) \($tot)"' 2>/dev/null)"
diag "front end's median in ($lo, $hi] ms over $n requests; generator p50 $gp50 ms"
awk -v g="$gp50" -v lo="${lo:-x}" -v hi="${hi:-x}" -v n="${n:-0}" -v c="$completed" \
    'BEGIN { exit !(n >= c * 0.99 && hi < 1e6 && g >= lo * 0.9 && g <= hi * 3 + 5) }' &&
    ok "generator p50 $gp50 ms against the front end's median bucket ($lo, $hi] ms" ||
    not_ok "generator p50 consistent with the front end's histogram" "generator $gp50 ms; front end ($lo, $hi] ms over $n requests (run: $completed)"
done_testing
