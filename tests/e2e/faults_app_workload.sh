#!/bin/bash
# faults_app_workload: the Workload and Application layers' fault types on
# the live apps (social-network and hotel-reservation, deployed once). For
# each type: inject (verified), the symptom shows where an SRE looks (the
# latency and errors a user's requests meet, the front end's request rate
# in Prometheus, ConfigMaps, rollouts, logs), recover, the app is healthy
# again. Workload: traffic-spike, hot-key, flood. Application: the five
# feature-flag faults, buggy-revision, retry-storm.
source "$(dirname "$0")/lib.sh"

SN=test-social-network
HR=test-hotel-reservation
lab_up
out=$(timeout 180 "$AIOPSLAB" --lab "$LAB" deploy social-network 2>&1) || bail_out "deploy social-network" "$out"
out=$(timeout 180 "$AIOPSLAB" --lab "$LAB" deploy hotel-reservation 2>&1) || bail_out "deploy hotel-reservation" "$out"
ok "social-network and hotel-reservation deployed"

# A user's view: 3 s of light load (20 req/s, the app's usual mix);
# prints "P50_MS ERRORS OK_ANSWERS" (the median: p99 of 60 requests on a
# busy machine is noise).
probe() { # APP [MIX]
    al load run --app "$1" --mix "${2:-mixed}" --rate 20 --duration 3s --timeout 5s --json --quiet 2>/dev/null |
        jq -r '"\(.latency_ms.p50 | floor) \(.errors.total) \(.status["2xx"])"'
}
# An instant PromQL query's first value, as an integer (0 when empty).
prom_value() { # QUERY
    al metrics query "$1" --json 2>/dev/null | jq -r '.result[0].value[1] // 0' | cut -d. -f1
}
# The front end's request rate (req/s over 10 s) as the mesh reports it.
front_rate() { # NS SVC
    prom_value "sum(rate(mesh_requests_total{destination_namespace=\"$1\",destination_service=\"$2\"}[10s]))"
}
# Users feel the fault: p50 at least twice what it was plus 2 ms, or errors
# (an idle machine absorbs a spike better than a busy one: 1 -> 5 ms).
# Up to 3 probes: the machine is shared, a single sample can be unlucky.
feel() { # NAME APP BASE_P50
    local p50 err i
    for i in 1 2 3; do
        read -r p50 err _ <<<"$(probe "$2")"
        if [ "${p50:-0}" -ge $(($3 * 2 + 2)) ] || [ "${err:-0}" -gt 0 ]; then
            ok "$1: users see it (p50 ${p50} ms, was $3; $err errors)"
            return
        fi
    done
    not_ok "$1: users see it" "p50 $p50 ms (was $3), errors $err"
}
# The app serves as before: no errors, p50 within 3x (+50 ms); up to 4 probes.
healthy() { # NAME APP BASE_P50
    local p50 err i
    for i in 1 2 3 4; do
        read -r p50 err _ <<<"$(probe "$2")"
        if [ "${err:-1}" = 0 ] && [ "${p50:-999999}" -le $(($3 * 3 + 50)) ]; then
            ok "$1: $2 healthy again (p50 ${p50} ms, no errors)"
            return
        fi
    done
    not_ok "$1: $2 healthy again" "p50 $p50 ms (was $3), errors $err"
}
# The detached processes of this lab's faults.
runners() { pgrep -f -- "--lab $LAB __fault-run" | tr '\n' ' '; }
inject() { # TYPE NS TARGET PARAMS...: sets FID; ok/not_ok
    local type=$1 ns=$2 target=$3 out
    shift 3
    local args=()
    for p in "$@"; do args+=(--param "$p"); done
    out=$(al fault inject "$type" -n "$ns" --target "$target" "${args[@]}" 2>&1)
    FID=$(sed -n 's/^fault \([0-9]*\) injected.*/\1/p' <<<"$out")
    [ -n "$FID" ] && grep -q 'symptom seen after' <<<"$out" && ok "inject $type on $ns/$target: verified ($out)" ||
        not_ok "inject $type on $ns/$target" "$out"
}
recover() { # NAME
    local out t0 ms
    t0=$(date +%s%N)
    out=$(al fault recover "$FID" 2>&1)
    ms=$((($(date +%s%N) - t0) / 1000000))
    [ "$out" = "fault $FID recovered" ] && [ "$ms" -le 1500 ] && ok "recover $1 (${ms} ms)" ||
        not_ok "recover $1" "${ms} ms" "$out"
}

# The baseline: the better of two probes (the first warms the apps up).
base() { # APP: prints "P50 ERRORS" of the better probe
    local a b ea eb
    read -r a ea _ <<<"$(probe "$1")"
    read -r b eb _ <<<"$(probe "$1")"
    [ "${a:-999999}" -le "${b:-999999}" ] && echo "$a $eb" || echo "$b $eb"
}
read -r p50_sn err_sn <<<"$(base social-network)"
read -r p50_hr err_hr <<<"$(base hotel-reservation)"
[ "$err_sn" = 0 ] && [ "$err_hr" = 0 ] && ok "before any fault: no errors (p50 social-network ${p50_sn} ms, hotel-reservation ${p50_hr} ms)" ||
    not_ok "healthy before the faults" "social-network: $p50_sn ms, $err_sn errors" "hotel-reservation: $p50_hr ms, $err_hr errors"

# ---- traffic-spike on social-network -------------------------------------------------
inject traffic-spike $SN nginx-thrift rate=1500 connections=128
[ -n "$(runners)" ] && ok "the spike's load generator runs" || not_ok "the spike's load generator runs"
feel traffic-spike social-network "$p50_sn"
wait_for '[ "$(front_rate $SN nginx-thrift)" -ge 60 ]' 20 &&
    ok "Prometheus: nginx-thrift takes $(front_rate $SN nginx-thrift) req/s" ||
    not_ok "Prometheus shows the spike" "$(front_rate $SN nginx-thrift) req/s"
al fault status -o json | jq -e '.[] | select(.type == "traffic-spike") | .layer == "Workload" and .faultType == "Overload"' \
    >/dev/null && ok "ground truth: Workload / Overload" || not_ok "ground truth" "$(al fault status -o json)"
recover traffic-spike
wait_for '[ -z "$(runners)" ]' 5 && ok "the extra load has stopped" || not_ok "the extra load has stopped" "$(runners)"
healthy traffic-spike social-network "$p50_sn"

# ---- hot-key: one user's home timeline -------------------------------------------------
out=$(al fault inject hot-key -n $HR --target frontend --param key=600 2>&1)
[ $? != 0 ] && grep -q 'key=600 is not a user of hotel-reservation' <<<"$out" &&
    ok "hot-key refuses a key the app does not have" || not_ok "hot-key: bad key" "$out"
inject hot-key $SN nginx-thrift key=7 rate=600
# Where an SRE sees a hot key: one operation of the front end dominates.
HOTQ="sum(rate(http_server_requests_total{namespace=\"$SN\",service=\"nginx-thrift\",operation=\"read_home_timeline\"}[10s]))"
wait_for '[ "$(prom_value "$HOTQ")" -ge 50 ]' 20 && ok "Prometheus: nginx-thrift's read_home_timeline takes $(prom_value "$HOTQ") req/s" ||
    not_ok "hot key in metrics" "$(al metrics query 'sum by (operation) (rate(http_server_requests_total{service="nginx-thrift"}[10s]))' 2>&1)"
recover hot-key
inject hot-key $HR frontend key=3 rate=300
HOTQ="sum(rate(http_server_requests_total{namespace=\"$HR\",service=\"frontend\",operation=\"UserHandler\"}[10s]))"
wait_for '[ "$(prom_value "$HOTQ")" -ge 50 ]' 20 && ok "Prometheus: the hotel frontend's UserHandler takes $(prom_value "$HOTQ") req/s" ||
    not_ok "hot key in metrics (hotel)" "$(al metrics query 'sum by (operation) (rate(http_server_requests_total{service="frontend"}[10s]))' 2>&1)"
recover "hot-key (hotel-reservation)"
wait_for '[ -z "$(runners)" ]' 5 && ok "the hot key's traffic has stopped" || not_ok "hot key traffic stopped" "$(runners)"

# ---- flood on hotel-reservation's front end ---------------------------------------------------
inject flood $HR frontend connections=1024
wait_for '[ "$(front_rate $HR frontend)" -ge 100 ]' 20 && ok "Prometheus: the hotel frontend takes $(front_rate $HR frontend) req/s" ||
    not_ok "Prometheus shows the flood" "$(front_rate $HR frontend) req/s"
feel flood hotel-reservation "$p50_hr"
recover flood
wait_for '[ -z "$(runners)" ]' 5 && ok "the flood has stopped" || not_ok "the flood has stopped" "$(runners)"
healthy flood hotel-reservation "$p50_hr"

# ==== Application ==========================================================================
FE="http://$(cluster_ip $SN nginx-thrift):8080/wrk2-api"
HFE="http://$(cluster_ip $HR frontend):5000"
# user 1 gets posts, and a steady reader: user-timeline reads of 10 posts go
# nginx-thrift -> user-timeline-service -> post-storage-service.
for i in $(seq 12); do
    curl -s -o /dev/null --max-time 5 -d username=username_1 -d user_id=1 -d post_type=0 -d "text=post $i" "$FE/post/compose"
done
TL="$FE/user-timeline/read?user_id=1&start=0&stop=10"
"$AIOPSLAB" --lab "$LAB" load run --url "$TL" --rate 20 --duration 240s --quiet >/dev/null 2>&1 &
READER=$!
codes() { # URL N: the status codes of N GETs, sorted and counted ("18 200 2 500")
    local i
    for i in $(seq "$2"); do curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 "$1"; done | sort | uniq -c | tr -s ' \n' ' '
}
flags() { k get cm -n $SN social-network-feature-flags -o json | jq -r '.data["flags.json"]'; }
FLAGS0=$(flags)
sleep 2

# ---- feature-flag-failure: user-timeline-service fails half its requests -------------------------
inject feature-flag-failure $SN user-timeline-service percent=50
flags | jq -e '.flags.userTimelineServiceFailure | .defaultVariant == "on" and .variants.on == 50' >/dev/null &&
    ok "the ConfigMap shows userTimelineServiceFailure on (50%)" || not_ok "flag in the ConfigMap" "$(flags)"
c=$(codes "$TL" 20)
grep -q ' 500' <<<" $c" && ok "users get 500s from the timeline ($c)" || not_ok "users get 500s" "$c"
recover feature-flag-failure
[ "$(flags)" = "$FLAGS0" ] && ok "flags.json is exactly as it was" || not_ok "flags.json restored" "$(diff <(echo "$FLAGS0") <(flags))"
wait_for '[ "$(codes "$TL" 10)" = " 10 200 " ]' 10 && ok "the timeline answers 200 again" || not_ok "timeline 200 again" "$(codes "$TL" 10)"

# ---- feature-flag-high-cpu / slow-path / cache-failure / memory-leak on post-storage-service ----------
ms() { curl -s -o /dev/null -w '%{time_total}\n' --max-time 10 "$1" | awk '{printf "%d", $1 * 1000}'; }
inject feature-flag-high-cpu $SN post-storage-service cpu=150
t=$(ms "$TL")
[ "$t" -ge 150 ] && ok "a timeline read takes ${t} ms (150 ms of CPU in post-storage)" || not_ok "slow timeline under high-cpu" "$t ms"
recover feature-flag-high-cpu
wait_for '[ "$(ms "$TL")" -lt 150 ]' 10 && ok "timeline reads are fast again" || not_ok "fast again" "$(ms "$TL") ms"
for t in feature-flag-slow-path feature-flag-cache-failure; do
    inject $t $SN post-storage-service
    recover $t
done
inject feature-flag-memory-leak $SN post-storage-service bytes=512k
rss=$(prom_value 'max(process_resident_memory_bytes{namespace="'$SN'",service="post-storage-service"})')
diag "post-storage-service resident memory during the leak: $((rss / 1048576)) MiB"
recover feature-flag-memory-leak
[ "$(flags)" = "$FLAGS0" ] && ok "flags.json is exactly as it was after five flag faults" ||
    not_ok "flags.json restored after all" "$(diff <(echo "$FLAGS0") <(flags))"

# ---- buggy-revision: wrong results (hotel frontend), errors (post-storage) -------------------------------
lon() { curl -s --max-time 5 "$HFE/hotels?inDate=2015-04-09&outDate=2015-04-11&lat=38.0235&lon=-122.095" | jq -r '.features[0].geometry.coordinates[0] | floor'; }
[ "$(lon)" = -123 ] && ok "search answers [lon, lat] coordinates" || not_ok "coordinates before" "$(lon)"
inject buggy-revision $HR frontend kind=wrong-results
[ "$(lon)" = 37 ] || [ "$(lon)" = 38 ] && ok "the new release answers [lat, lon]: hotels land far away" || not_ok "wrong results" "$(lon)"
[ "$(k rollout history deploy/frontend -n $HR | grep -c '^[0-9]')" -ge 2 ] && ok "kubectl rollout history shows the new revision" ||
    not_ok "rollout history" "$(k rollout history deploy/frontend -n $HR)"
recover buggy-revision
wait_for '[ "$(lon)" = -123 ]' 30 && ok "rolled back: coordinates right again" || not_ok "rolled back" "$(lon)"
[ "$(k get deploy frontend -n $HR -o json | jq -r '.spec.template.spec.containers[0].env[] | select(.name == "APP_VERSION") | .value')" = 1.0.0 ] &&
    ok "the frontend runs 1.0.0 again" || not_ok "APP_VERSION restored" "$(k get deploy frontend -n $HR -o yaml)"
# rc1 of post-storage breaks on posts with more than 4 urls: someone posts them.
(for i in $(seq 60); do
    curl -s -o /dev/null --max-time 5 -d username=username_2 -d user_id=2 -d post_type=0 \
        --data-urlencode "text=links http://a.example/1 http://b.example/2 http://c.example/3 http://d.example/4 http://e.example/5" \
        "$FE/post/compose"
    sleep 0.5
done) &
POSTER=$!
inject buggy-revision $SN post-storage-service kind=errors
pslogs() { local p; for p in $(pods_of $SN post-storage-service); do k logs -n $SN "$p" --tail 50 2>&1; done; }
wait_for 'pslogs | grep -q "panic recovered in store_post: runtime error: index out of range"' 10 &&
    ok "post-storage logs the new release's panic" || not_ok "panic in the logs" "$(pslogs | tail -5)"
recover "buggy-revision (errors)"
kill $POSTER 2>/dev/null
wait $POSTER 2>/dev/null
out=$(al fault inject buggy-revision -n $SN --target text-service --param kind=slow 2>&1)
[ $? != 0 ] && grep -q 'no release of text-service shipped a regression of kind slow' <<<"$out" &&
    ok "buggy-revision refuses a service without such a release" || not_ok "buggy-revision refusal" "$out"

# ---- retry-storm: aggressive retries, then a blip on post-storage-service ---------------------------------
# It restarts the target's callers and needs the amplification to show:
# on a machine already at capacity it may not take within its bound, so
# the normal suite leaves it to `make test-faults` (AIOPSLAB_FAULTS_FULL=1).
if [ "${AIOPSLAB_FAULTS_FULL:-0}" = 1 ]; then
cfg() { k get cm -n $SN social-network-config -o json | jq -c '.data | [.KIT_CALL_RETRIES, .KIT_RETRY_ON, .KIT_RETRY_BACKOFF_MS]'; }
CFG0=$(cfg)
inject retry-storm $SN post-storage-service retries=5 blip=4s
[ "$(cfg)" = '["5","connect,timeout,5xx,reset","0"]' ] && ok "the ConfigMap retries every failure 5 times, no back-off" ||
    not_ok "retry policy in the ConfigMap" "$(cfg)"
recover retry-storm
[ "$(cfg)" = "$CFG0" ] && ok "the retry policy is as it was ($CFG0)" || not_ok "retry policy restored" "$(cfg)"
[ -z "$(al mesh rule list 2>/dev/null | grep -v '^ID\|^No ')" ] && ok "no mesh rule left" || not_ok "mesh rules left" "$(al mesh rule list)"
wait_for 'all_ready $SN' 60 && ok "social-network Ready after the restarts" || not_ok "social-network ready" "$(k get pods -n $SN)"
wait_for '[ "$(codes "$TL" 10)" = " 10 200 " ]' 20 && ok "the timeline answers 200" || not_ok "timeline after retry-storm" "$(codes "$TL" 10)"
else
    skip "retry-storm" "make test-faults runs it (AIOPSLAB_FAULTS_FULL=1)"
fi
kill $READER 2>/dev/null
wait $READER 2>/dev/null

[ "$(al fault status)" = "No active faults." ] && ok "no fault left active" || not_ok "no fault left" "$(al fault status)"
done_testing
