#!/bin/bash
# observe_metrics: the node's cAdvisor metrics (NODE_IP:10250/metrics/cadvisor)
# for running containers, valid Prometheus text; the lab's Prometheus
# scraping the node, the mesh and itself; `aiopslab metrics query` answering
# PromQL as a table; OOM kills and restarts counted.
source "$(dirname "$0")/lib.sh"
lab_up
node="127.$NET.0.1"
deploy_example >/dev/null || bail_out "deploy example failed"
cat <<'YAML' | apply_stdin >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: hog, namespace: example}
spec:
  containers:
  - name: hog
    command: ["python3", "-c", "import time; x = bytearray(200 * 1024 * 1024); time.sleep(30)"]
    resources: {limits: {memory: 64Mi}}
YAML
m=$(curl -s --max-time 5 "http://$node:10250/metrics/cadvisor")
words=$(k get pods -n example -l app=words -o jsonpath='{.items[0].metadata.name}')
grep -q "^container_memory_working_set_bytes{container=\"words\",namespace=\"example\",pod=\"$words\"} [1-9]" <<<"$m" &&
    ok "cadvisor: working set of a running container" || not_ok "cadvisor: working set of a running container" "$(grep "$words" <<<"$m" | head)"
for f in container_cpu_usage_seconds_total container_threads container_file_descriptors kube_pod_container_status_restarts_total kube_pod_status_phase; do
    grep -q "^$f{" <<<"$m" && ok "cadvisor: $f" || not_ok "cadvisor: $f"
done
if command -v promtool >/dev/null; then
    out=$(promtool check metrics <<<"$m" 2>&1) && ok "cadvisor: promtool check metrics passes" ||
        not_ok "cadvisor: promtool check metrics passes" "$out"
else
    skip "cadvisor: promtool check metrics passes" "promtool not installed"
fi
wait_for "k get pod hog -n example -o jsonpath='{.status.containerStatuses[0].lastState.terminated.reason}' | grep -q OOMKilled" 20
out=$(curl -s --max-time 5 "http://$node:10250/metrics/cadvisor" | grep '^container_oom_events_total{container="hog"')
[[ "$out" =~ \ [1-9][0-9]*$ ]] && ok "cadvisor: container_oom_events_total counts the OOM kill" ||
    not_ok "cadvisor: container_oom_events_total counts the OOM kill" "$out"
code=$(http_code "http://$node:10250/nope")
[ "$code" = 404 ] && ok "node metrics: unknown path 404" || not_ok "node metrics: unknown path 404" "$code"

out=$(al observe endpoints)
grep -q "^prometheus  *http://$node:9090" <<<"$out" && grep -q "^trace query  *http://$node:16686" <<<"$out" &&
    ok "observe endpoints: prometheus and trace query on the node IP" || not_ok "observe endpoints" "$out"

if [ ! -x /usr/bin/prometheus ]; then
    skip "prometheus scrapes the node, the mesh and itself" "prometheus not installed"
    done_testing
    exit 0
fi
wait_for "al metrics targets 2>/dev/null | grep -c ' up ' | grep -q 3" 30 &&
    ok "prometheus scrapes the node, the mesh and itself" || not_ok "prometheus scrapes the node, the mesh and itself" "$(al metrics targets 2>&1)"
q='sum by (pod) (container_memory_working_set_bytes{namespace="example"})'
wait_for "al metrics query '$q' 2>/dev/null | grep -q '^words-'" 30 &&
    ok "metrics query: a table with a row per pod" || not_ok "metrics query: a table with a row per pod" "$(al metrics query "$q" 2>&1)"
out=$(al metrics query "$q" | head -1)
[[ "$out" =~ ^POD\ +VALUE$ ]] && ok "metrics query: header POD VALUE" || not_ok "metrics query: header POD VALUE" "$out"
# A pod annotated prometheus.io/scrape becomes a target of job "pods".
cat <<'YAML' | apply_stdin >/dev/null
apiVersion: v1
kind: Pod
metadata:
  name: scraped
  namespace: example
  annotations: {prometheus.io/scrape: "true", prometheus.io/port: "8000"}
spec:
  containers:
  - {name: c, command: ["python3", "-m", "http.server", "8000"]}
YAML
ip=""
wait_for "[ -n \"\$(k get pod scraped -n example -o jsonpath='{.status.podIP}')\" ]" 20
ip=$(k get pod scraped -n example -o jsonpath='{.status.podIP}')
wait_for "al metrics targets | grep -q '^pods .*$ip:8000/metrics'" 30 &&
    ok "an annotated pod is scraped (job pods, $ip:8000)" || not_ok "an annotated pod is scraped" "$(al metrics targets 2>&1)"
out=$(al metrics query 'rate(foo[' 2>&1); rc=$?
[ $rc -ne 0 ] && [[ "$out" == *"parse error"* ]] && ok "metrics query: a PromQL error is reported, exit 1" ||
    not_ok "metrics query: a PromQL error is reported, exit 1" "rc=$rc $out"
done_testing
