#!/bin/bash
# cluster_daemon: the daemon can die without taking the pods with it.
# kill -9 of the daemon -> the containers keep running; `cluster up` again
# adopts them: the same pods (names, uids, pids), nothing started twice,
# no restart counted, and the pods are managed again (a deleted pod is
# replaced).
source "$(dirname "$0")/lib.sh"

lab_up
out=$(apply_example 2>&1) && ok "apply example" || bail_out "apply example" "$out" "$(k get pods -n example 2>&1)"
wait_for "all_ready example" 30 || not_ok "all example pods Ready" "$(k get pods -n example 2>&1)"

# "name uid pid" for every pod of the example namespace, sorted.
snapshot() {
    local p
    for p in $(k get pods -n example -o json | jq -r '.items[].metadata.name' | sort); do
        echo "$p $(pod_json example "$p" | jq -r .metadata.uid) $(container_pid example "$p")"
    done
}
# What kind of lab process each pid is, counted: "N kind" lines.
census() {
    local p
    for p in $(lab_pids); do
        local cmd
        cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
        local argv0=${cmd%% *}
        case "$cmd" in
        *" __daemon"*) echo daemon ;;
        *" __mesh"*) echo mesh ;;
        *" __traces"*) echo traces ;;
        */prometheus\ --config.file=*) echo prometheus ;;
        *" __conmon"*) echo conmon ;;
        "") ;;
        *)
            case "${argv0##*/}" in
            example-frontend) echo frontend ;;
            example-words) echo words ;;
            example-counter) echo counter ;;
            redis-server) echo redis ;;
            *) echo "other:${cmd:0:60}" ;;
            esac
            ;;
        esac
    done | sort | uniq -c | sed 's/^ *//'
}
# One conmon per container, one process per container, one daemon, one mesh,
# one trace store, one Prometheus.
expected_census=$'5 conmon\n1 counter\n1 daemon\n1 frontend\n1 mesh\n1 prometheus\n1 redis\n1 traces\n2 words'
[ -x /usr/bin/prometheus ] || expected_census=${expected_census/$'1 prometheus\n'/}

before=$(snapshot)
[ "$(wc -l <<<"$before")" = 5 ] && [ -z "$(awk 'NF != 3' <<<"$before")" ] && ok "5 pods with uid and pid" ||
    not_ok "5 pods with uid and pid" "$before"
c=$(census)
[ "$c" = "$expected_census" ] && ok "one process each: daemon, mesh, trace store, 5 conmon, 5 containers" ||
    not_ok "one process each: daemon, mesh, trace store, 5 conmon, 5 containers" "$c"
fe_ip=$(cluster_ip example frontend)
URL="http://$fe_ip:8080/"

# ---- kill -9 the daemon ----------------------------------------------------------------
dpid=$(cat "$LABDIR/daemon.pid" 2>/dev/null)
if [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null; then
    kill -9 "$dpid"
    wait_for '! kill -0 "$dpid"' 5 && ok "daemon killed (pid $dpid)" || not_ok "daemon killed (pid $dpid)"
else
    bail_out "daemon.pid names the daemon" "$(ls -la "$LABDIR")"
fi
sleep 1
alive=0
dead=""
while read -r name uid pid; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then alive=$((alive + 1)); else dead="$dead $name"; fi
done <<<"$before"
[ "$alive" = 5 ] && ok "every container survives the daemon" || not_ok "every container survives the daemon" "dead:$dead"
al cluster status >/dev/null 2>&1
rc=$?
[ "$rc" = 1 ] && ok "cluster status exits 1 while the daemon is down" || not_ok "cluster status exits 1 while the daemon is down (got $rc)"

# ---- cluster up again -------------------------------------------------------------------
# ... with a descriptor open (as flock(1) leaves its lock to the command):
# the new daemon must not keep it.
held="$AIOPSLAB_HOME/held-by-the-caller"
out=$(exec 9>"$held"; timeout 30 "$AIOPSLAB" --lab "$LAB" cluster up 2>&1) && ok "cluster up again" || bail_out "cluster up again" "$out"
dpid=$(cat "$LABDIR/daemon.pid" 2>/dev/null)
[ -n "$dpid" ] && ! ls -l "/proc/$dpid/fd" 2>/dev/null | grep -qF "$held" &&
    ok "the daemon keeps none of its caller's descriptors" || not_ok "the daemon keeps the caller's descriptor" "$(ls -l "/proc/$dpid/fd" 2>&1)"
check "cluster status: up" al cluster status
wait_for "all_ready example" 15 || not_ok "all example pods Ready after adoption" "$(k get pods -n example 2>&1)"
after=$(snapshot)
[ "$after" = "$before" ] && ok "same pods after restart: names, uids, pids" || not_ok "same pods after restart: names, uids, pids" "before:" "$before" "after:" "$after"
sleep 1.5 # a reconcile pass or two: anything started twice would show now
c=$(census)
[ "$c" = "$expected_census" ] && ok "nothing runs twice" || not_ok "nothing runs twice" "$c"
rc=$(k get pods -n example -o json | jq -r '[.items[].status.containerStatuses[0].restartCount] | add')
[ "$rc" = 0 ] && ok "no restart counted" || not_ok "no restart counted (sum $rc)" "$(k get pods -n example 2>&1)"
[ "$(http_code "$URL")" = 200 ] && ok "GET / 200 after adoption" || not_ok "GET / 200 after adoption" "$(http_get "$URL")"

# ---- adopted pods are still managed -------------------------------------------------------
victim=$(pods_of example words | head -n 1)
vpid=$(container_pid example "$victim")
out=$(k delete pod "$victim" -n example 2>&1)
[ "$out" = "pod \"$victim\" deleted" ] && ok "delete pod: kubectl's answer" || not_ok "delete pod: kubectl's answer" "$out"
if wait_for '! pods_of example words | grep -qx "$victim" && [ "$(pods_of example words | grep -c .)" = 2 ] && [ "$(endpoint_addrs example words | grep -c .)" = 2 ]' 20; then
    ok "deleted adopted pod is replaced"
else
    not_ok "deleted adopted pod is replaced" "$(k get pods -n example 2>&1)"
fi
wait_for '! kill -0 "$vpid"' 10 && ok "the deleted pod's process is gone" || not_ok "the deleted pod's process is gone (pid $vpid)"
sleep 0.5
c=$(census)
[ "$c" = "$expected_census" ] && ok "process census unchanged after replacement" || not_ok "process census unchanged after replacement" "$c"

# ---- a second daemon restart, then down ----------------------------------------------------
dpid=$(cat "$LABDIR/daemon.pid" 2>/dev/null)
kill -9 "$dpid" 2>/dev/null
wait_for '! kill -0 "$dpid"' 5
out=$(timeout 30 "$AIOPSLAB" --lab "$LAB" cluster down 2>&1)
rc=$?
left=$(lab_pids)
[ "$rc" = 0 ] && [ -z "$left" ] && ok "cluster down with the daemon dead stops every pod" ||
    not_ok "cluster down with the daemon dead stops every pod (exit $rc)" "$out" "$(census)"
done_testing
