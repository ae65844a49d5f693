#!/bin/bash
# cluster_basic: a lab comes up, the example app deploys and answers.
# cluster up/status/down, deploy example (all pods Ready), the shapes of
# kubectl get pods/deploy/svc/endpoints, addresses in the lab's ranges,
# Service env vars in pods, a request through the frontend's ClusterIP
# that crosses words (both replicas), counter and cache, logs, undeploy.
source "$(dirname "$0")/lib.sh"

lab_up
case "$E2E_UP_OUTPUT" in
*"$LAB"*"127.$NET.0.0/16"*) ok "cluster up names the lab and its 127.$NET.0.0/16" ;;
*) not_ok "cluster up names the lab and its 127.$NET.0.0/16" "$E2E_UP_OUTPUT" ;;
esac
case "$E2E_UP_OUTPUT" in
*"$LABDIR"*) ok "cluster up prints the data dir" ;;
*) not_ok "cluster up prints the data dir" "$E2E_UP_OUTPUT" ;;
esac
check "cluster status: up" al cluster status
check "cluster up again is idempotent" al cluster up --net "$NET"
other=$(mktemp -d)
out=$(AIOPSLAB_HOME=$other timeout 30 "$AIOPSLAB" --lab other cluster up --net "$NET" 2>&1)
rc=$?
made=$(ls -A "$other")
AIOPSLAB_HOME=$other timeout 30 "$AIOPSLAB" --lab other cluster down --purge >/dev/null 2>&1
rm -rf "$other"
[ $rc = 1 ] && [[ "$out" == *"127.$NET.0.0/16 is in use"* ]] && [ -z "$made" ] &&
    ok "a lab of another home asking for the same --net is refused" ||
    not_ok "a lab of another home asking for the same --net is refused" "exit $rc, left: $made" "$out"
# Two labs that chose the same network at the same moment: the second daemon
# finds the node IP taken and stops before it starts anything.
other=$(mktemp -d)
mkdir -p "$other/labs/other"
echo "{\"name\":\"other\",\"net\":$NET}" >"$other/labs/other/lab.json"
out=$(AIOPSLAB_HOME=$other timeout 30 "$AIOPSLAB" --lab other cluster up 2>&1)
rc=$?
left=$(pgrep -f "$other" | tr '\n' ' ')
[ -n "$left" ] && kill $left 2>/dev/null
rm -rf "$other"
[ $rc = 1 ] && [[ "$out" == *"127.$NET.0.0/16 is in use: another lab's daemon serves 127.$NET.0.1:10250"* ]] && [ -z "$left" ] &&
    ok "a second daemon on a lab's network stops at once, naming the network" ||
    not_ok "a second daemon on a lab's network stops at once, naming the network" "exit $rc, left: $left" "$out"
# A lab that is down while another lab runs on its old network: purged
# without a daemon (one could not start there).
other=$(mktemp -d)
mkdir -p "$other/labs/other/pods"
echo "{\"name\":\"other\",\"net\":$NET}" >"$other/labs/other/lab.json"
out=$(AIOPSLAB_HOME=$other timeout 30 "$AIOPSLAB" --lab other cluster down --purge 2>&1)
rc=$?
left=$(ls -A "$other/labs" 2>&1; pgrep -f "$other" | tr '\n' ' ')
rm -rf "$other"
[ $rc = 0 ] && [ "$out" = 'cluster "other" is down and its data removed' ] && [ -z "$left" ] &&
    ok "cluster down --purge of a stopped lab whose network another lab holds" ||
    not_ok "cluster down --purge of a stopped lab whose network another lab holds" "exit $rc, left: $left" "$out"
[ -f "$LABDIR/daemon.pid" ] && ok "daemon.pid in the lab dir" || not_ok "daemon.pid in the lab dir" "$(ls -la "$LABDIR")"

out=$(deploy_example 2>&1)
rc=$?
[ $rc = 0 ] && ok "deploy example" || not_ok "deploy example (exit $rc)" "$out"
if wait_for "all_ready example" 30; then ok "all example pods Ready"; else not_ok "all example pods Ready" "$(k get pods -n example 2>&1)"; fi

# ---- kubectl get: shapes --------------------------------------------------
out=$(k get pods -n example 2>&1)
hdr=$(head -n 1 <<<"$out" | tr -s ' ')
[ "$hdr" = "NAME READY STATUS RESTARTS AGE" ] && ok "get pods header" || not_ok "get pods header" "$out"
n=$(grep -cE '^(frontend|words|counter|cache)-[a-z0-9]+-[a-z0-9]{5} +1/1 +Running +0 ' <<<"$out")
[ "$n" = 5 ] && ok "get pods: 5 pods named deploy-rs-xxxxx, 1/1 Running, 0 restarts" ||
    not_ok "get pods: 5 pods named deploy-rs-xxxxx, 1/1 Running, 0 restarts (got $n)" "$out"

out=$(k get deploy -n example 2>&1)
hdr=$(head -n 1 <<<"$out" | tr -s ' ')
[ "$hdr" = "NAME READY UP-TO-DATE AVAILABLE AGE" ] && ok "get deploy header" || not_ok "get deploy header" "$out"
grep -qE '^words +2/2 +2 +2 ' <<<"$out" && grep -qE '^frontend +1/1 +1 +1 ' <<<"$out" &&
    ok "get deploy: words 2/2, frontend 1/1" || not_ok "get deploy: words 2/2, frontend 1/1" "$out"

out=$(k get svc -n example 2>&1)
hdr=$(head -n 1 <<<"$out" | tr -s ' ')
[ "$hdr" = "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE" ] && ok "get svc header" || not_ok "get svc header" "$out"
grep -qE "^words +ClusterIP +127\.$NET\.([1-9]|[1-5][0-9]|6[0-3])\.[0-9]+ +<none> +9090/TCP " <<<"$out" &&
    ok "get svc: words ClusterIP in 127.$NET.1-63.x, 9090/TCP" ||
    not_ok "get svc: words ClusterIP in 127.$NET.1-63.x, 9090/TCP" "$out"

out=$(k get endpoints -n example 2>&1)
hdr=$(head -n 1 <<<"$out" | tr -s ' ')
[ "$hdr" = "NAME ENDPOINTS AGE" ] && ok "get endpoints header" || not_ok "get endpoints header" "$out"
grep -qE "^words +127\.$NET\.[0-9]+\.[0-9]+:9090,127\.$NET\.[0-9]+\.[0-9]+:9090 " <<<"$out" &&
    ok "get endpoints: words has its 2 pods on :9090" || not_ok "get endpoints: words has its 2 pods on :9090" "$out"
eps=$(endpoint_addrs example words)
pod_ips=$(k get pods -n example -l app=words -o json | jq -r '.items[].status.podIP' | sed 's/$/:9090/' | sort)
[ -n "$eps" ] && [ "$eps" = "$pod_ips" ] && ok "words endpoints are the words pods' IPs" ||
    not_ok "words endpoints are the words pods' IPs" "endpoints: $eps" "pods: $pod_ips"
bad=$(k get pods -n example -o json | jq -r '.items[].status.podIP' | grep -vE "^127\.$NET\.(6[4-9]|[7-9][0-9]|1[0-9][0-9]|2[0-5][0-9])\.[0-9]+$")
[ -z "$bad" ] && ok "pod IPs are in 127.$NET.64.0-127.$NET.255.255" || not_ok "pod IPs in range" "$bad"
out=$(k get pods -n example -o wide 2>&1)
head -n 1 <<<"$out" | tr -s ' ' | grep -q '^NAME READY STATUS RESTARTS AGE IP NODE' &&
    ok "get pods -o wide shows IP and NODE" || not_ok "get pods -o wide shows IP and NODE" "$out"

# ---- Service env vars in a pod --------------------------------------------
fe=$(pods_of example frontend | head -n 1)
words_ip=$(cluster_ip example words)
pid=$(container_pid example "$fe")
if [ -n "$pid" ] && [ -r "/proc/$pid/environ" ]; then
    env=$(tr '\0' '\n' <"/proc/$pid/environ")
    grep -qx "WORDS_SERVICE_HOST=$words_ip" <<<"$env" && grep -qx "WORDS_SERVICE_PORT=9090" <<<"$env" &&
        ok "frontend sees WORDS_SERVICE_HOST/PORT" || not_ok "frontend sees WORDS_SERVICE_HOST/PORT" "$(grep SERVICE <<<"$env")"
    grep -qx "GREETING=Hello from aiopslab" <<<"$env" && ok "configMapKeyRef env in the pod" ||
        not_ok "configMapKeyRef env in the pod" "$(grep GREETING <<<"$env")"
    grep -qx "HOSTNAME=$fe" <<<"$env" && ok "HOSTNAME is the pod name" || not_ok "HOSTNAME is the pod name" "$(grep HOSTNAME <<<"$env")"
else
    not_ok "frontend container pid from state.json" "pod $fe, run dir $(run_dir example "$fe" 2>&1)"
fi

# ---- traffic through the frontend's ClusterIP --------------------------------
fe_ip=$(cluster_ip example frontend)
body=$(http_get "http://$fe_ip:8080/")
if jq -e '(.word | type == "string" and length > 0) and (.count | type == "number")
          and .greeting == "Hello from aiopslab"' <<<"$body" >/dev/null 2>&1; then
    ok "GET / through the frontend ClusterIP: JSON with word, count, greeting"
else
    not_ok "GET / through the frontend ClusterIP: JSON with word, count, greeting" "ClusterIP $fe_ip" "$body"
fi
c1=$(jq -r '.count' <<<"$body" 2>/dev/null)
c2=$(http_get "http://$fe_ip:8080/" | jq -r '.count' 2>/dev/null)
[[ "$c1" =~ ^[0-9]+$ ]] && [ "$c2" = $((c1 + 1)) ] && ok "the count grows by one per request (Redis INCR)" ||
    not_ok "the count grows by one per request" "first $c1, then $c2"
seen=$(for i in $(seq 20); do http_get "http://$fe_ip:8080/" | jq -r '.words_pod' 2>/dev/null; done | sort -u | grep -c .)
[ "$seen" = 2 ] && ok "both words replicas answer through the mesh" || not_ok "both words replicas answer (saw $seen)"
[ "$(http_code "http://$fe_ip:8080/healthz")" = 200 ] && ok "GET /healthz 200" || not_ok "GET /healthz 200"
[ "$(http_code "http://$fe_ip:8080/nope")" = 404 ] && ok "unknown path 404" || not_ok "unknown path 404"

# ---- logs ------------------------------------------------------------------------
out=$(k logs -n example "$fe" 2>&1)
grep -q '"service":"frontend","msg":"GET / 200 ' <<<"$out" && ok "kubectl logs: the frontend's JSON request lines" ||
    not_ok "kubectl logs: the frontend's JSON request lines" "$out"
out=$(k logs -n example deploy/counter 2>&1)
grep -q '"msg":"POST /incr 200 ' <<<"$out" && ok "kubectl logs deploy/counter" || not_ok "kubectl logs deploy/counter" "$out"

# ---- deploy again wires pods that started before a Service existed ----------------
# The frontend restarts while words has no Service: its new pod has no
# WORDS_SERVICE_HOST. Deploying again creates the Service and restarts it
# (and every other pod: all started before the new Service).
k delete svc words -n example >/dev/null
k rollout restart deployment frontend -n example >/dev/null
wait_for "all_ready example && [ \$(pods_of example frontend | wc -l) = 1 ]" 30
sleep 1.2 # the Service is created in a later second than the pod started
out=$(deploy_example 2>&1)
grep -q '^deployment.apps/frontend restarted' <<<"$out" &&
    ok "deploy again restarts the frontend (started without the words Service)" ||
    not_ok "deploy again restarts the frontend" "$out"
fe=$(pods_of example frontend | head -n 1)
pid=$(container_pid example "$fe")
grep -qx "WORDS_SERVICE_HOST=$(cluster_ip example words)" <(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null) &&
    [ "$(http_code "http://$fe_ip:8080/")" = 200 ] && ok "the new frontend pod has WORDS_SERVICE_HOST and answers" ||
    not_ok "the frontend is wired again" "pod $fe pid $pid"

# ---- undeploy and down -------------------------------------------------------------
check "undeploy example" timeout 60 "$AIOPSLAB" --lab "$LAB" undeploy example
if wait_for '[ -z "$(k get pods -n example -o json 2>/dev/null | jq -r ".items[]?.metadata.name")" ]' 30; then
    ok "undeploy: pods gone"
else
    not_ok "undeploy: pods gone" "$(k get pods -n example 2>&1)"
fi
sleep 0.5
stray=$(for p in $(lab_pids); do
    argv0=$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | head -n 1)
    case "${argv0##*/}" in example-* | redis-server) tr '\0' ' ' <"/proc/$p/cmdline" ;; esac
done)
[ -z "$stray" ] && ok "undeploy: no app process left" || not_ok "undeploy: no app process left" "$stray"

check "cluster down" timeout 30 "$AIOPSLAB" --lab "$LAB" cluster down
al cluster status >/dev/null 2>&1
rc=$?
[ $rc = 1 ] && ok "cluster status exits 1 when down" || not_ok "cluster status exits 1 when down (got $rc)"
left=$(lab_pids)
[ -z "$left" ] && ok "cluster down leaves no process of the lab" ||
    not_ok "cluster down leaves no process of the lab" "$(for p in $left; do tr '\0' ' ' </proc/$p/cmdline; echo; done)"
done_testing
