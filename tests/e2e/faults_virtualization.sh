#!/bin/bash
# faults_virtualization: the Virtualization layer's fault types on a live
# SocialNetwork under light load (a loop of logins and timeline reads):
# each is injected and verified, its symptom shows where an SRE looks
# (kubectl get/describe/events/logs, node metrics, the requests' status),
# it is recovered, and the objects it changed are exactly as before
# (Deployment spec, Service selector, ConfigMap, Secret) with the app
# serving again. Our Deployment controller keeps old pods until new ones
# are Ready (maxUnavailable 0): the faults whose new pods never turn
# Ready show a stuck rollout, with the old pods serving.
source "$(dirname "$0")/lib.sh"

NS=test-social-network
lab_up
out=$(timeout 120 "$AIOPSLAB" --lab "$LAB" deploy social-network 2>&1) || bail_out "deploy social-network" "$out"
# HotelReservation comes up meanwhile (its services seed their databases).
timeout 150 "$AIOPSLAB" --lab "$LAB" deploy hotel-reservation >"$AIOPSLAB_HOME/hotel-deploy.log" 2>&1 &
HOTEL_DEPLOY=$!
FE="http://$(cluster_ip $NS nginx-thrift):8080/wrk2-api"
login() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST "$FE/user/login" -d username=username_17 -d password=password_17; }
wait_for '[ "$(login)" = 200 ]' 30 && ok "social-network serves logins" || bail_out "social-network serves logins"

# Light load for the whole script: logins (user-service) and home timelines.
(while :; do
    login >/dev/null
    curl -s -o /dev/null --max-time 5 "$FE/home-timeline/read?user_id=$((RANDOM % 962 + 1))&start=0&stop=10"
    sleep 0.05
done) &

spec_of() { k get deploy "$1" -n $NS -o json | jq -S .spec; }
# Only the current revision's pods, all Ready, as many as wanted.
rolled_out() {
    k get deploy "$1" -n $NS -o json | jq -e '.spec.replicas == .status.replicas and
        .status.updatedReplicas == .spec.replicas and .status.readyReplicas == .spec.replicas' >/dev/null
}
pods_json() { k get pods -n $NS -l "app=$1" -o json; }
newest_pod() { pods_json "$1" | jq -r '.items | sort_by(.metadata.creationTimestamp) | last | .metadata.name'; }
events_of() { k get events -n $NS 2>/dev/null | grep "pod/$1-"; }

inject() { # TYPE TARGET [ARGS...]: sets ID
    local type=$1 tgt=$2 out
    shift 2
    out=$(al fault inject "$type" -n $NS --target "$tgt" "$@" 2>&1)
    ID=$(sed -n 's/^fault \([0-9]*\) injected.*/\1/p' <<<"$out")
    if [ -n "$ID" ] && grep -q 'symptom seen after' <<<"$out"; then
        ok "$type on $tgt: injected and verified (${out#*(}"
    else
        not_ok "$type on $tgt: injected and verified" "$out"
    fi
}
recover() { # TYPE
    local out
    out=$(al fault recover "$ID" 2>&1)
    [ "$out" = "fault $ID recovered" ] && ok "$1: recovered" || not_ok "$1: recovered" "$out"
}
# TYPE DEPLOY SAVED-SPEC: exactly as before, rolled back out, app serving.
restored() {
    [ "$(spec_of "$2")" = "$3" ] && ok "$1: $2's spec exactly as before" ||
        not_ok "$1: $2's spec exactly as before" "$(diff <(echo "$3") <(spec_of "$2"))"
    wait_for "rolled_out $2" 30 && ok "$1: $2 rolled out again, every pod Ready" ||
        not_ok "$1: $2 rolled out again" "$(k get pods -n $NS -l app="$2")"
    wait_for '[ "$(login)" = 200 ]' 20 && ok "$1: logins succeed" || not_ok "$1: logins succeed" "$(login)"
}
# The rollout is stuck and the old pod serves: one Ready pod of the old revision.
stuck_old_serving() { # TYPE DEPLOY
    local j
    j=$(k get deploy "$2" -n $NS -o json)
    if jq -e '.status.readyReplicas == 1 and .status.updatedReplicas == 1 and .status.replicas == 2' >/dev/null <<<"$j" &&
        ! k rollout status "deploy/$2" -n $NS --timeout=1s >/dev/null 2>&1; then
        ok "$1: rollout stuck, the old pod still serves"
    else
        not_ok "$1: rollout stuck, the old pod still serves" "$(jq .status <<<"$j")" "$(k get pods -n $NS -l app="$2")"
    fi
}

# ---- refused: a store's pods keep their data in emptyDir -----------------------------
out=$(al fault inject memory-limit-oom -n $NS --target user-mongodb 2>&1)
[ $? != 0 ] && grep -q 'keeps data in emptyDir volume "data"' <<<"$out" && [ "$(al fault status)" = "No active faults." ] &&
    ok "a store Deployment is refused (its data would go with the pod)" || not_ok "store refused" "$out"
out=$(al fault inject bad-env -n $NS --target user-service --param key=USER_DB_DB 2>&1)
[ $? != 0 ] && grep -q 'parameter value is required' <<<"$out" && ok "bad-env without value is refused" ||
    not_ok "bad-env without value" "$out"

# ---- selector-mismatch ------------------------------------------------------------------
sel=$(k get svc user-service -n $NS -o json | jq -cS .spec.selector)
inject selector-mismatch user-service
[ "$(k get endpoints user-service -n $NS -o jsonpath='{.subsets[*].addresses[*].ip}')" = "" ] &&
    k get endpoints user-service -n $NS | grep -q '<none>' && ok "selector-mismatch: user-service has no endpoints" ||
    not_ok "selector-mismatch: no endpoints" "$(k get endpoints user-service -n $NS)"
code=$(login)
[ "$code" -ge 500 ] && ok "selector-mismatch: logins fail ($code)" || not_ok "selector-mismatch: logins fail" "$code"
recover selector-mismatch
[ "$(k get svc user-service -n $NS -o json | jq -cS .spec.selector)" = "$sel" ] &&
    ok "selector-mismatch: selector exactly as before" || not_ok "selector restored" "$(k get svc user-service -n $NS -o yaml)"
wait_for '[ "$(login)" = 200 ]' 20 && ok "selector-mismatch: logins succeed" || not_ok "selector-mismatch: logins succeed"

# ---- node-selector-missing ------------------------------------------------------------------
spec=$(spec_of text-service)
inject node-selector-missing text-service
pods_json text-service | jq -e '[.items[] | select(.status.phase == "Pending" and
    (.status.conditions[] | select(.type == "PodScheduled") | .reason) == "Unschedulable")] | length == 1' >/dev/null &&
    ok "node-selector-missing: the new pod is Pending, Unschedulable" || not_ok "Pending pod" "$(k get pods -n $NS -l app=text-service)"
events_of text-service | grep -q "FailedScheduling.*didn't match Pod's node affinity/selector" &&
    ok "node-selector-missing: a FailedScheduling event says why" || not_ok "FailedScheduling event" "$(events_of text-service)"
stuck_old_serving node-selector-missing text-service
recover node-selector-missing
restored node-selector-missing text-service "$spec"

# ---- wrong-command ------------------------------------------------------------------------------
spec=$(spec_of url-shorten-service)
inject wrong-command url-shorten-service
wait_for 'k get pods -n $NS -l app=url-shorten-service | grep -Eq "RunContainerError|CrashLoopBackOff"' 10 &&
    ok "wrong-command: kubectl get pods shows RunContainerError/CrashLoopBackOff" ||
    not_ok "wrong-command: pod status" "$(k get pods -n $NS -l app=url-shorten-service)"
k describe pod -n $NS "$(newest_pod url-shorten-service)" | grep -q '/usr/local/bin/server' &&
    ok "wrong-command: kubectl describe shows the command" || not_ok "describe shows command"
stuck_old_serving wrong-command url-shorten-service
recover wrong-command
restored wrong-command url-shorten-service "$spec"

# ---- bad-env ------------------------------------------------------------------------------------
spec=$(spec_of user-service)
inject bad-env user-service --param key=USER_DB_DB --param value=users_v2
k logs -n $NS "$(newest_pod user-service)" 2>&1 | grep -q 'database \\"users_v2\\" does not exist' &&
    ok "bad-env: the new pod logs that database users_v2 does not exist" ||
    not_ok "bad-env: log" "$(k logs -n $NS "$(newest_pod user-service)" 2>&1 | tail -3)"
stuck_old_serving bad-env user-service
recover bad-env
restored bad-env user-service "$spec"

# ---- bad-configmap-value --------------------------------------------------------------------------
spec=$(spec_of social-graph-service)
cm=$(k get configmap social-network-config -n $NS -o json | jq -S .data)
inject bad-configmap-value social-graph-service --param key=SOCIAL_GRAPH_MONGODB_DB --param value=graph_v2
[ "$(k get configmap social-network-config -n $NS -o jsonpath='{.data.SOCIAL_GRAPH_MONGODB_DB}')" = graph_v2 ] &&
    k rollout history deploy/social-graph-service -n $NS | grep -q '^2 ' &&
    ok "bad-configmap-value: the ConfigMap holds the value, a restart made revision 2" ||
    not_ok "configmap changed and restarted" "$(k rollout history deploy/social-graph-service -n $NS)"
wait_for 'k logs -n $NS "$(newest_pod social-graph-service)" 2>&1 | grep -q "graph_v2"' 10 &&
    ok "bad-configmap-value: the new pod logs the missing database graph_v2" ||
    not_ok "configmap: log" "$(k logs -n $NS "$(newest_pod social-graph-service)" 2>&1 | tail -3)"
stuck_old_serving bad-configmap-value social-graph-service
out=$(al fault inject bad-configmap-value -n $NS --target user-service --param key=LOG_LEVEL --param value=debug 2>&1)
[ $? != 0 ] && grep -q "conflicts with active fault $ID (bad-configmap-value on $NS/social-graph-service): both change ConfigMap \"social-network-config\"" <<<"$out" &&
    ok "bad-configmap-value: a second fault on the same ConfigMap (another target) is refused" || not_ok "configmap conflict" "$out"
recover bad-configmap-value
[ "$(k get configmap social-network-config -n $NS -o json | jq -S .data)" = "$cm" ] &&
    ok "bad-configmap-value: ConfigMap exactly as before" || not_ok "configmap restored"
restored bad-configmap-value social-graph-service "$spec"

# ---- HotelReservation: wrong-secret with a rollout restart (one Secret per database) ----------------
# Here in the middle, not at the end: its failing profile pod is Terminating
# for its whole grace period after the recover (30 s), while the
# SocialNetwork faults below go on.
HNS=test-hotel-reservation
wait $HOTEL_DEPLOY && ok "deploy hotel-reservation" || bail_out "deploy hotel-reservation" "$(cat "$AIOPSLAB_HOME/hotel-deploy.log")"
HFE="http://$(cluster_ip $HNS frontend):5000"
search() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$HFE/hotels?inDate=2015-04-09&outDate=2015-04-11&lat=38.0235&lon=-122.095"; }
wait_for '[ "$(search)" = 200 ]' 30 && ok "hotel-reservation serves searches" || not_ok "hotel search" "$(search)"
hsec=$(k get secret mongodb-profile-credentials -n $HNS -o json | jq -S .data)
hspec=$(k get deploy profile -n $HNS -o json | jq -S .spec)
out=$(al fault inject wrong-secret -n $HNS --target profile 2>&1)
ID=$(sed -n 's/^fault \([0-9]*\) injected.*/\1/p' <<<"$out")
[ -n "$ID" ] && ok "wrong-secret on hotel profile (rollout): verified (${out#*(}" || not_ok "wrong-secret on profile" "$out"
hpod=$(k get pods -n $HNS -l app=profile -o json | jq -r '.items | sort_by(.metadata.creationTimestamp) | last | .metadata.name')
k logs -n $HNS "$hpod" 2>&1 | grep -q 'password authentication failed' &&
    ok "wrong-secret: the restarted profile pod logs password authentication failed" ||
    not_ok "profile log" "$(k logs -n $HNS "$hpod" 2>&1 | tail -3)"
[ "$(k get deploy -n $HNS -o json | jq '[.items[] | select(.status.replicas > 1)] | map(.metadata.name)' -c)" = '["profile"]' ] &&
    ok "wrong-secret: only profile restarted (its database keeps running)" || not_ok "consumers" "$(k get pods -n $HNS)"
[ "$(search)" = 200 ] && ok "wrong-secret: the old profile pod still serves searches" || not_ok "search during" "$(search)"
out=$(al fault recover "$ID")
[ "$out" = "fault $ID recovered" ] && [ "$(k get secret mongodb-profile-credentials -n $HNS -o json | jq -S .data)" = "$hsec" ] &&
    [ "$(k get deploy profile -n $HNS -o json | jq -S .spec)" = "$hspec" ] &&
    ok "wrong-secret: Secret and profile's spec exactly as before" || not_ok "hotel restored" "$out"
# (The failing pod is Terminating for its grace period: it waits for its database, deaf to SIGTERM.)
wait_for '[ "$(k get pods -n $HNS -l app=profile -o json | jq "[.items[] | select(.metadata.deletionTimestamp == null)] | length")" = 1 ] &&
    [ "$(search)" = 200 ]' 30 && ok "wrong-secret: one profile pod, searches succeed" || not_ok "hotel after recover" "$(k get pods -n $HNS -l app=profile)"

# ---- wrong-secret (consumers' pods deleted: an outage) ------------------------------------------------
sec=$(k get secret social-network-db -n $NS -o json | jq -S .data)
spec=$(spec_of user-service)
inject wrong-secret user-service --param restart=delete-pods
wait_for 'k logs -n $NS "$(newest_pod user-service)" 2>&1 | grep -q "password authentication failed"' 10 &&
    ok "wrong-secret: user-service logs password authentication failed" ||
    not_ok "wrong-secret: log" "$(k logs -n $NS "$(newest_pod user-service)" 2>&1 | tail -3)"
k get pods -n $NS -l app=post-storage-service | grep -q '0/1' && ok "wrong-secret: the other consumers restarted too, not Ready" ||
    not_ok "wrong-secret: other consumers" "$(k get pods -n $NS)"
code=$(login)
[ "$code" -ge 500 ] && ok "wrong-secret: logins fail ($code)" || not_ok "wrong-secret: logins fail" "$code"
out=$(al fault inject wrong-secret -n $NS --target post-storage-service 2>&1)
[ $? != 0 ] && grep -q 'both change Secret "social-network-db"' <<<"$out" &&
    ok "wrong-secret: a second fault on the same Secret is refused" || not_ok "secret conflict" "$out"
recover wrong-secret
[ "$(k get secret social-network-db -n $NS -o json | jq -S .data)" = "$sec" ] &&
    ok "wrong-secret: Secret exactly as before" || not_ok "secret restored"
restored wrong-secret user-service "$spec"
wait_for 'rolled_out post-storage-service && rolled_out user-timeline-service' 30 &&
    ok "wrong-secret: every consumer Ready again" || not_ok "consumers ready" "$(k get pods -n $NS)"

# ---- liveness-probe-misconfig --------------------------------------------------------------------------
spec=$(spec_of media-service)
inject liveness-probe-misconfig media-service
events_of media-service | grep -q 'Liveness probe failed: .*:9999/healthz.*connection refused' &&
    ok "liveness-probe-misconfig: Unhealthy events name the wrong port" || not_ok "liveness events" "$(events_of media-service)"
[ "$(pods_json media-service | jq '[.items[].status.containerStatuses[0].restartCount] | max')" -ge 1 ] &&
    ok "liveness-probe-misconfig: the container restarts" || not_ok "restarts" "$(k get pods -n $NS -l app=media-service)"
recover liveness-probe-misconfig
restored liveness-probe-misconfig media-service "$spec"

# ---- readiness-probe-failing -------------------------------------------------------------------------------
spec=$(spec_of unique-id-service)
inject readiness-probe-failing unique-id-service
events_of unique-id-service | grep -q 'Readiness probe failed: HTTP probe failed with statuscode: 404' &&
    ok "readiness-probe-failing: Unhealthy events, 404" || not_ok "readiness events" "$(events_of unique-id-service)"
stuck_old_serving readiness-probe-failing unique-id-service
recover readiness-probe-failing
restored readiness-probe-failing unique-id-service "$spec"

# ---- memory-limit-oom --------------------------------------------------------------------------------------
spec=$(spec_of home-timeline-service)
inject memory-limit-oom home-timeline-service
pods_json home-timeline-service | jq -e 'any(.items[].status.containerStatuses[0]; .lastState.terminated.reason == "OOMKilled")' >/dev/null &&
    events_of home-timeline-service | grep -q 'OOMKilled.*memory limit 1Mi' &&
    ok "memory-limit-oom: Last State OOMKilled, an OOMKilled event" || not_ok "oom" "$(events_of home-timeline-service)"
recover memory-limit-oom
restored memory-limit-oom home-timeline-service "$spec"

# ---- cpu-limit-throttle: the serving pod is throttled under load ------------------------------------------
spec=$(spec_of nginx-thrift)
inject cpu-limit-throttle nginx-thrift --param cpu=20
throttled() {
    curl -s --max-time 5 "http://127.$NET.0.1:10250/metrics/cadvisor" |
        awk '/^container_cpu_cfs_throttled_periods_total/ && /pod="nginx-thrift-/ && /container="nginx-thrift"/ {s += $NF} END {print s + 0}'
}
wait_for '[ "$(throttled)" -gt 0 ]' 20 && ok "cpu-limit-throttle: container_cpu_cfs_throttled_periods_total rises ($(throttled))" ||
    not_ok "throttled periods" "$(curl -s "http://127.$NET.0.1:10250/metrics/cadvisor" | grep throttled | grep nginx)"
k describe pod -n $NS "$(newest_pod nginx-thrift)" | grep -q 'cpu: *20m' && ok "cpu-limit-throttle: describe shows cpu 20m" ||
    not_ok "describe limit"
recover cpu-limit-throttle
restored cpu-limit-throttle nginx-thrift "$spec"

# ---- bad-rollout: the agent's fix is rollout undo ----------------------------------------------------------------
spec=$(spec_of post-storage-service)
inject bad-rollout post-storage-service
wait_for 'k get pods -n $NS -l app=post-storage-service | grep -Eq "CrashLoopBackOff|Error"' 10 &&
    k logs -n $NS "$(newest_pod post-storage-service)" 2>&1 | grep -qi usage &&
    ok "bad-rollout: the new pod crashes, its log prints the usage" ||
    not_ok "bad-rollout: crash" "$(k get pods -n $NS -l app=post-storage-service)"
stuck_old_serving bad-rollout post-storage-service
k rollout undo deploy/post-storage-service -n $NS >/dev/null 2>&1
wait_for 'rolled_out post-storage-service' 20 && ok "bad-rollout: kubectl rollout undo fixes it" || not_ok "rollout undo"
recover bad-rollout
restored bad-rollout post-storage-service "$spec"

# Pods replaced by recover end within their grace period (30 s; a service
# still waiting for its database takes all of it), before the lab goes down.
wait_for '[ "$(k get pods -A -o json | jq "[.items[] | select(.metadata.deletionTimestamp)] | length")" = 0 ]' 45 &&
    ok "every pod replaced by a recover is gone" || not_ok "terminating pods" "$(k get pods -A | grep Terminating)"
[ "$(al fault status)" = "No active faults." ] && ok "no fault left behind" || not_ok "faults left" "$(al fault status)"
done_testing
