#!/bin/bash
# faults_core: the fault library's engine on the example app — inject,
# verify, status, recover; the journal; conflicts; bad input refused with
# nothing injected; a kill -9 in the middle of inject, then recover --all;
# every daemon start undoes what is left.
source "$(dirname "$0")/lib.sh"

lab_up
deploy_example >/dev/null 2>&1 || bail_out "deploy example" "$(k get pods -n example 2>&1)"
FE=$(cluster_ip example frontend)
wait_for '[ "$(http_code "http://$FE:8080/")" = 200 ]' 20 && ok "example app serves" || bail_out "example app serves"

# ---- list and describe ------------------------------------------------------------
out=$(al fault list)
grep -q '^target-port-misconfig  *Virtualization  *Misconfiguration' <<<"$out" &&
    ok "fault list: type, layer, fault type" || not_ok "fault list" "$out"
n=$(al fault list -o json | jq length)
[ "$n" -ge 3 ] && ok "fault list -o json ($n types)" || not_ok "fault list -o json" "$n"
out=$(al fault describe target-port-misconfig)
grep -q 'port  *integer \[1, 65535\], default 9999' <<<"$out" && grep -q '^Symptoms:' <<<"$out" &&
    ok "fault describe: parameters with bounds, symptoms" || not_ok "fault describe" "$out"

# ---- bad input: refused, nothing injected -----------------------------------------------
bad() { # NAME EXPECTED-TEXT ARGS...
    local name=$1 want=$2
    shift 2
    local out rc
    out=$(al fault inject "$@" 2>&1)
    rc=$?
    [ "$rc" != 0 ] && grep -q -- "$want" <<<"$out" && ok "refused: $name" || not_ok "refused: $name" "rc=$rc" "$out"
}
bad "unknown type" 'unknown fault type "no-such-fault"' no-such-fault -n example --target words
bad "unknown target" 'no Service "nope" in namespace "example"' target-port-misconfig -n example --target nope
bad "unknown parameter" 'unknown parameter "prot" (it takes: port)' target-port-misconfig -n example --target words --param prot=1
bad "value out of range" 'port=70000 is out of range \[1, 65535\]' target-port-misconfig -n example --target words --param port=70000
bad "not a number" 'port must be an integer' target-port-misconfig -n example --target words --param port=abc
bad "no namespace" '-n NAMESPACE and --target NAME are required' target-port-misconfig --target words
[ "$(al fault status)" = "No active faults." ] && ok "nothing was injected" || not_ok "nothing injected" "$(al fault status)"

# ---- target-port-misconfig: the symptom, then recovery -----------------------------------
out=$(al fault inject target-port-misconfig -n example --target words --param port=9999 2>&1)
id=$(sed -n 's/^fault \([0-9]*\) injected.*/\1/p' <<<"$out")
[ -n "$id" ] && grep -q 'symptom seen after' <<<"$out" && ok "inject target-port-misconfig: verified ($out)" ||
    not_ok "inject target-port-misconfig" "$out"
[ "$(k get endpoints -n example words -o jsonpath='{.subsets[0].ports[0].port}')" = 9999 ] &&
    ok "the Service's endpoints carry port 9999" || not_ok "endpoints port"
code=$(http_code "http://$FE:8080/")
[ "$code" -ge 500 ] && ok "the frontend fails ($code)" || not_ok "the frontend fails" "$code"
out=$(al fault status)
grep -q "^$id  *target-port-misconfig  *example  *words  *active" <<<"$out" && ok "fault status lists it" ||
    not_ok "fault status" "$out"
al fault status -o json | jq -e '.[0].layer == "Virtualization" and .[0].faultType == "Misconfiguration"' >/dev/null &&
    ok "fault status -o json: ground truth fields" || not_ok "status json" "$(al fault status -o json)"

# A second fault on the same Service conflicts and says with which.
out=$(al fault inject service-deleted -n example --target words 2>&1)
[ $? != 0 ] && grep -q "conflicts with active fault $id (target-port-misconfig on example/words)" <<<"$out" &&
    ok "a conflicting fault is refused and names the active one" || not_ok "conflict" "$out"

out=$(al fault recover "$id")
[ "$out" = "fault $id recovered" ] && ok "recover ID" || not_ok "recover ID" "$out"
wait_for '[ "$(http_code "http://$FE:8080/")" = 200 ]' 10 && ok "the frontend serves again" || not_ok "frontend after recover"
[ "$(k get svc -n example words -o jsonpath='{.spec.ports[0].targetPort}')" = http ] &&
    ok "the Service is exactly as before (targetPort: http)" || not_ok "service restored" "$(k get svc -n example words -o yaml)"
out=$(al fault recover "$id")
[ "$out" = "fault $id was already recovered" ] && ok "recover is idempotent" || not_ok "recover twice" "$out"
out=$(al fault recover 999 2>&1)
[ $? = 1 ] && grep -q 'no fault 999 in the journal' <<<"$out" && ok "recover of an unknown id fails clearly" ||
    not_ok "recover unknown" "$out"

# ---- scale-to-zero and service-deleted -----------------------------------------------------
out=$(al fault inject scale-to-zero -n example --target words 2>&1) && ok "scale-to-zero verified" || not_ok "scale-to-zero" "$out"
[ "$(k get deploy -n example words -o jsonpath='{.spec.replicas}')" = 0 ] && ok "words has 0 replicas" || not_ok "replicas 0"
out=$(al fault inject service-deleted -n example --target counter 2>&1) && ok "service-deleted verified (two faults at once)" ||
    not_ok "service-deleted" "$out"
ip_before=$(cluster_ip example frontend)
out=$(al fault recover --all)
[ "$out" = "2 faults recovered" ] && ok "recover --all undoes both" || not_ok "recover --all" "$out"
[ "$(k get deploy -n example words -o jsonpath='{.spec.replicas}')" = 2 ] && k get svc -n example counter >/dev/null 2>&1 &&
    ok "words back to 2 replicas, counter Service back" || not_ok "restored" "$(k get deploy,svc -n example)"
wait_for '[ "$(http_code "http://$FE:8080/")" = 200 ]' 20 && ok "the frontend serves again" || not_ok "frontend after recover --all"

# ---- crashes: kill -9 of the CLI mid-inject, of the daemon; recovery at daemon start --------
al fault inject target-port-misconfig -n example --target words --no-verify >/dev/null 2>&1 &
pid=$!
sleep 0.05
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
al fault inject scale-to-zero -n example --target counter >/dev/null 2>&1
kill -9 "$(cat "$LABDIR/daemon.pid")" 2>/dev/null
sleep 0.3
out=$(timeout 30 "$AIOPSLAB" --lab "$LAB" cluster up 2>&1) || not_ok "cluster up after kill -9" "$out"
wait_for '[ "$(al fault status)" = "No active faults." ]' 20 &&
    ok "the daemon's start recovered every fault left behind" || not_ok "recovered at daemon start" "$(al fault status --all)"
[ "$(k get svc -n example words -o jsonpath='{.spec.ports[0].targetPort}')" = http ] &&
    [ "$(k get deploy -n example counter -o jsonpath='{.spec.replicas}')" = 1 ] &&
    ok "words' Service and counter's replicas as before" || not_ok "state after crash recovery" "$(k get svc,deploy -n example -o wide)"
wait_for '[ "$(http_code "http://$FE:8080/")" = 200 ]' 20 && ok "the frontend serves after crash recovery" ||
    not_ok "frontend after crash recovery"
[ "$(stat -c %a "$LABDIR/faults/journal.db")" = 600 ] && [ "$(stat -c %a "$LABDIR/faults")" = 700 ] &&
    ok "the journal is private to the lab's owner" || not_ok "journal mode" "$(ls -la "$LABDIR/faults")"
done_testing
