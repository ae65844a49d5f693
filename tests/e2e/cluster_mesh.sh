#!/bin/bash
# cluster_mesh: the mesh honours Services as Kubernetes does.
# A wrong targetPort -> the frontend's connect is refused (502, and its log
# says so); patched back -> works. A selector that matches nothing -> no
# endpoints. Scale to 0 and back. Rollout restart replaces every pod
# without failed requests; rollout undo goes back to the old template.
source "$(dirname "$0")/lib.sh"

# The mesh's one setting reaches it through the daemon; a bad value is logged, the default kept.
AIOPSLAB_MESH_SPIN_US=lots lab_up
wait_for 'grep -q "AIOPSLAB_MESH_SPIN_US=lots: want 0 to 1000" "$LABDIR/logs/mesh.log"' 10 &&
    ok "AIOPSLAB_MESH_SPIN_US=lots at cluster up: the mesh logs it and keeps its default" ||
    not_ok "AIOPSLAB_MESH_SPIN_US=lots at cluster up: the mesh logs it and keeps its default" "$(tail -n 5 "$LABDIR/logs/mesh.log" 2>&1)"
out=$(apply_example 2>&1) && ok "apply example" || bail_out "apply example" "$out" "$(k get pods -n example 2>&1)"
wait_for "all_ready example" 30 || not_ok "all example pods Ready" "$(k get pods -n example 2>&1)"
fe_ip=$(cluster_ip example frontend)
URL="http://$fe_ip:8080/"
[ "$(http_code "$URL")" = 200 ] && ok "GET / 200 before any change" || not_ok "GET / 200 before any change" "$(http_get "$URL")"

fe_logs() { k logs -n example "$(pods_of example frontend | head -n 1)" 2>&1; }

# ---- targetPort --------------------------------------------------------------------
out=$(k patch svc words -n example --type=json -p '[{"op":"replace","path":"/spec/ports/0/targetPort","value":9999}]' 2>&1)
[ "$out" = "service/words patched" ] && ok "patch targetPort: kubectl's answer" || not_ok "patch targetPort: kubectl's answer" "$out"
tp=$(k get svc words -n example -o json | jq -r '.spec.ports[0].targetPort')
[ "$tp" = 9999 ] && ok "targetPort is 9999" || not_ok "targetPort is 9999 (got $tp)"
out=$(k get endpoints words -n example 2>&1)
grep -qE "^words +127\.$NET\.[0-9.]+:9999,127\.$NET\.[0-9.]+:9999 " <<<"$out" && ok "endpoints follow the targetPort (:9999)" ||
    not_ok "endpoints follow the targetPort (:9999)" "$out"
if wait_for '[ "$(http_code "$URL")" = 502 ]' 10; then ok "wrong targetPort: frontend answers 502"; else not_ok "wrong targetPort: frontend answers 502" "$(http_get "$URL")"; fi
body=$(http_get "$URL")
grep -q 'connect to words:9090 failed: Connection refused' <<<"$body" && ok "502 body: connect to words:9090 failed: Connection refused" ||
    not_ok "502 body: connect to words:9090 failed: Connection refused" "$body"
grep -q '"level":"error","service":"frontend","msg":"connect to words:9090 failed: Connection refused"' <<<"$(fe_logs)" &&
    ok "frontend log: connect to words:9090 failed: Connection refused" ||
    not_ok "frontend log: connect to words:9090 failed: Connection refused" "$(fe_logs | tail -n 5)"
k patch svc words -n example --type=json -p '[{"op":"replace","path":"/spec/ports/0/targetPort","value":"http"}]' >/dev/null 2>&1
if wait_for '[ "$(http_code "$URL")" = 200 ]' 10; then ok "targetPort patched back: 200"; else not_ok "targetPort patched back: 200" "$(http_get "$URL")"; fi

# ---- selector ------------------------------------------------------------------------
out=$(k patch svc words -n example -p '{"spec":{"selector":{"app":"wordz"}}}' 2>&1)
[ "$out" = "service/words patched" ] || not_ok "patch selector" "$out"
if wait_for 'k get endpoints words -n example | grep -qE "^words +<none> "' 10; then
    ok "selector mismatch: endpoints <none>"
else
    not_ok "selector mismatch: endpoints <none>" "$(k get endpoints words -n example 2>&1)"
fi
code=$(http_code "$URL")
[ "$code" = 502 ] && ok "no endpoints: frontend answers 502" || not_ok "no endpoints: frontend answers 502 (got $code)"
grep -q 'connect to words:9090 failed: Connection refused' <<<"$(http_get "$URL")" && ok "no endpoints: connection refused" ||
    not_ok "no endpoints: connection refused" "$(http_get "$URL")"
k patch svc words -n example -p '{"spec":{"selector":{"app":"words"}}}' >/dev/null 2>&1
if wait_for '[ "$(endpoint_addrs example words | grep -c .)" = 2 ] && [ "$(http_code "$URL")" = 200 ]' 10; then
    ok "selector patched back: 2 endpoints, 200"
else
    not_ok "selector patched back: 2 endpoints, 200" "$(k get endpoints words -n example 2>&1)"
fi

# ---- scale -------------------------------------------------------------------------------
out=$(k scale deployment words -n example --replicas=0 2>&1)
[ "$out" = "deployment.apps/words scaled" ] && ok "scale to 0: kubectl's answer" || not_ok "scale to 0: kubectl's answer" "$out"
if wait_for '[ -z "$(pods_of example words)" ]' 15; then ok "scale to 0: no words pod"; else not_ok "scale to 0: no words pod" "$(k get pods -n example 2>&1)"; fi
[ -z "$(endpoint_addrs example words)" ] && ok "scale to 0: no endpoints" || not_ok "scale to 0: no endpoints" "$(endpoint_addrs example words)"
code=$(http_code "$URL")
[ "$code" = 502 ] && ok "scale to 0: frontend answers 502" || not_ok "scale to 0: frontend answers 502 (got $code)"
out=$(k get deploy words -n example 2>&1)
grep -qE '^words +0/0 +0 +0 ' <<<"$out" && ok "get deploy: words 0/0" || not_ok "get deploy: words 0/0" "$out"
k scale deployment words -n example --replicas=2 >/dev/null 2>&1
if wait_for '[ "$(endpoint_addrs example words | grep -c .)" = 2 ] && [ "$(http_code "$URL")" = 200 ]' 20; then
    ok "scale back to 2: 2 endpoints, 200"
else
    not_ok "scale back to 2: 2 endpoints, 200" "$(k get pods -n example 2>&1)"
fi

# ---- rollout restart and undo -------------------------------------------------------------
template_hash() { k get pods -n example -l app=words -o json | jq -r '[.items[] | select(.metadata.deletionTimestamp == null) | .metadata.labels["pod-template-hash"]] | unique | join(",")'; }
old_pods=$(pods_of example words)
old_hash=$(template_hash)
[ -n "$old_hash" ] && [ "${old_hash#*,}" = "$old_hash" ] && ok "words pods carry one pod-template-hash ($old_hash)" ||
    not_ok "words pods carry one pod-template-hash" "$old_hash"
# Requests keep flowing during the rollout (maxSurge 1, maxUnavailable 0 with 2 replicas).
codes=$(mktemp)
(for i in $(seq 150); do http_code "$URL" >>"$codes"; echo >>"$codes"; sleep 0.05; done) &
loader=$!
out=$(k rollout restart deployment/words -n example 2>&1)
[ "$out" = "deployment.apps/words restarted" ] && ok "rollout restart: kubectl's answer" || not_ok "rollout restart: kubectl's answer" "$out"
out=$(timeout 40 "$AIOPSLAB" --lab "$LAB" kubectl rollout status deployment/words -n example --timeout=35s 2>&1)
grep -q 'successfully rolled out' <<<"$out" && ok "rollout status: successfully rolled out" || not_ok "rollout status" "$out"
wait_for '[ "$(pods_of example words | grep -c .)" = 2 ] && [ "$(endpoint_addrs example words | grep -c .)" = 2 ]' 15
new_pods=$(pods_of example words)
common=$(comm -12 <(echo "$old_pods") <(echo "$new_pods"))
[ -n "$new_pods" ] && [ -z "$common" ] && ok "rollout restart replaced every words pod" || not_ok "rollout restart replaced every words pod" "old: $old_pods" "new: $new_pods"
new_hash=$(template_hash)
[ -n "$new_hash" ] && [ "$new_hash" != "$old_hash" ] && ok "new pod-template-hash ($new_hash)" || not_ok "new pod-template-hash" "$old_hash -> $new_hash"
wait "$loader"
bad=$(grep -v '^200$' "$codes" | grep -c .)
total=$(grep -c . "$codes")
[ "$bad" = 0 ] && ok "no failed request during the rollout ($total requests)" ||
    not_ok "no failed request during the rollout" "$bad of $total failed: $(sort "$codes" | uniq -c | tr '\n' ' ')"
rm -f "$codes"
out=$(k rollout undo deployment/words -n example 2>&1)
[ "$out" = "deployment.apps/words rolled back" ] && ok "rollout undo: kubectl's answer" || not_ok "rollout undo: kubectl's answer" "$out"
if wait_for '[ "$(template_hash)" = "$old_hash" ] && [ "$(endpoint_addrs example words | grep -c .)" = 2 ]' 30; then
    ok "rollout undo: back to the old template ($old_hash)"
else
    not_ok "rollout undo: back to the old template" "hash now $(template_hash)" "$(k get pods -n example 2>&1)"
fi
[ "$(http_code "$URL")" = 200 ] && ok "GET / 200 after undo" || not_ok "GET / 200 after undo"
done_testing
