#!/bin/bash
# logs: `aiopslab logs` on a live lab — the example app under requests and
# a pod that keeps crashing. Service selection (every pod, prefixed, merged
# by time), pod selection, --tail, --since, --grep, --level (JSON and plain
# lines), the crash's previous run, --compact folding with counts, the
# --max-lines bound, and clear errors for bad input.
source "$(dirname "$0")/lib.sh"

lab_up
deploy_example >/dev/null 2>&1 || bail_out "deploy example" "$(k get pods -n example 2>&1)"
ok "example app deployed"

k create namespace crash >/dev/null 2>&1
apply_stdin >/dev/null <<'EOF' || bail_out "crasher applied"
apiVersion: apps/v1
kind: Deployment
metadata: {name: crasher, namespace: crash}
spec:
  replicas: 1
  selector: {matchLabels: {app: crasher}}
  template:
    metadata: {labels: {app: crasher}}
    spec:
      containers:
      - name: c
        command: ["sh", "-c", "echo '{\"level\":\"info\",\"msg\":\"starting worker 7\"}'; echo 'plain WARN disk 91% full'; echo 'plain line'; echo '{\"level\":\"error\",\"msg\":\"cannot open db at 10.0.0.7:5432\"}'; exit 1"]
EOF

FE=$(cluster_ip example frontend)
for i in $(seq 30); do http_get "http://$FE:8080/" >/dev/null; done
sleep 1.5 # probes and the last request lines reach the files

# ---- service and pod selection ----------------------------------------------------
out=$(al logs -n example frontend --grep 'GET / 200' 2>&1)
n=$(grep -c 'GET / 200' <<<"$out")
fe_pod=$(pods_of example frontend | head -n 1)
[ "$n" -ge 30 ] && grep -q "^\[$fe_pod\] {" <<<"$out" &&
    ok "service frontend: the 30 request lines, prefixed by the pod ($n)" || not_ok "service frontend: request lines" "$out"

out=$(al logs -n example words --max-lines 1000 2>&1)
pods=$(sed -n 's/^\[\([^]]*\)\] .*/\1/p' <<<"$out" | sort -u | tr '\n' ' ')
want=$(pods_of example words | tr '\n' ' ')
[ "$pods" = "$want" ] && ok "service words: lines of both replicas ($pods)" || not_ok "service words: both replicas" "got: $pods" "want: $want"
# Merged by time: the runtime's timestamps (what kubectl logs --timestamps shows, the time
# conmon read the line) never go backwards. The apps' own "ts" fields may: two processes
# that log 2 ms apart can reach their pipes in either order.
out_ts=$(al logs -n example words --max-lines 1000 --timestamps 2>&1)
if sed -n 's/^\[[^]]*\] \([0-9T:.Z-]*\) .*/\1/p' <<<"$out_ts" | sort -c 2>/dev/null &&
   [ "$(wc -l <<<"$out_ts")" -ge 20 ]; then
    ok "service words: merged by timestamp"
else
    not_ok "service words: merged by timestamp" "$(head -n 20 <<<"$out_ts")"
fi

w1=$(pods_of example words | head -n 1)
out=$(al logs -n example "$w1" 2>&1)
others=$(grep -vc "^\[$w1\] " <<<"$out")
[ -n "$out" ] && [ "$others" = 0 ] && ok "pod selection: only that pod's lines" || not_ok "pod selection" "$out"

out=$(al logs -n example deployment-that-is-not-there 2>&1)
rc=$?
[ "$rc" = 1 ] && grep -q 'no pod, app label or Deployment "deployment-that-is-not-there" in namespace "example"' <<<"$out" &&
    ok "unknown target: exit 1 and says so" || not_ok "unknown target" "rc=$rc" "$out"

# ---- --tail, --since, --grep -----------------------------------------------------
out=$(al logs -n example frontend --tail 3)
[ "$(grep -c . <<<"$out")" = 3 ] && ok "--tail 3: three lines" || not_ok "--tail 3" "$out"
# Request lines only: probes keep adding lines between two calls.
out=$(al logs -n example frontend --grep '"GET / ' --tail 3)
want=$(al logs -n example frontend --grep '"GET / ' | tail -n 3)
[ -n "$out" ] && [ "$out" = "$want" ] && ok "--tail 3: the newest lines" || not_ok "--tail 3: the newest lines" "$out" "$want"

out=$(al logs -n example frontend --grep '"GET /healthz 200 ' --max-lines 100000)
bad=$(grep -vc 'GET /healthz 200' <<<"$out")
[ -n "$out" ] && [ "$bad" = 0 ] && ok "--grep: only matching lines" || not_ok "--grep: only matching lines" "$out"
out=$(al logs -n example frontend --grep 'a(b' 2>&1)
rc=$?
[ "$rc" = 2 ] && grep -q 'bad --grep "a(b"' <<<"$out" && ok "--grep: a bad regex is a usage error" || not_ok "--grep: bad regex" "rc=$rc" "$out"

sleep 2.5
n0=$(al logs -n example frontend --since 2s --grep 'GET / ' | grep -c 'GET / ')
http_get "http://$FE:8080/" >/dev/null
sleep 0.5
n1=$(al logs -n example frontend --since 2s --grep 'GET / ' | grep -c 'GET / ')
[ "$n0" = 0 ] && [ "$n1" = 1 ] && ok "--since 2s: only the request of the last 2 s" || not_ok "--since 2s" "before: $n0, after one request: $n1"
out=$(al logs -n example frontend --since yesterday 2>&1)
[ $? = 2 ] && grep -q 'bad --since' <<<"$out" && ok "--since: a bad duration is a usage error" || not_ok "--since: bad duration" "$out"

# ---- a crashing pod: --level and the previous run ---------------------------------------
cr=$(pods_of crash crasher | head -n 1)
if wait_for '[ "$(restart_count crash "$cr")" -ge 1 ] && [ "$(ls "$(dirname "$(run_dir crash "$cr" c 0)")" | wc -l)" -ge 2 ]' 30; then
    ok "crasher restarted"
else
    not_ok "crasher restarted" "$(pod_json crash "$cr" | jq -c .status)"
fi
out=$(al logs -n crash crasher --level error)
n=$(grep -c 'cannot open db' <<<"$out")
other=$(grep -vc 'cannot open db' <<<"$out")
[ "$n" -ge 2 ] && [ "$other" = 0 ] && ok "--level error: the error lines of the crash and of the run before ($n)" ||
    not_ok "--level error" "$out"
out=$(al logs -n crash crasher --level warn)
grep -q 'plain WARN disk' <<<"$out" && grep -q 'cannot open db' <<<"$out" && ! grep -q 'plain line\|starting worker' <<<"$out" &&
    ok "--level warn: JSON warn/error and plain WARN lines, nothing else" || not_ok "--level warn" "$out"
out=$(al logs -n crash crasher --level info)
grep -q 'plain line' <<<"$out" && grep -q 'starting worker' <<<"$out" &&
    ok "--level info: plain lines without a level count as info" || not_ok "--level info" "$out"
out=$(al logs -n crash crasher --level loud 2>&1)
[ $? = 2 ] && grep -q 'bad --level' <<<"$out" && ok "--level: a bad level is a usage error" || not_ok "--level: bad level" "$out"

# ---- --compact and bounds ------------------------------------------------------------------
for i in $(seq 20); do http_get "http://$FE:8080/" >/dev/null; done
sleep 1
out=$(al logs -n example frontend --compact)
lines=$(grep -c . <<<"$out")
get=$(grep -E '^\[x[0-9]+\] \[[^]]*\] .*GET / 200' <<<"$out")
cnt=$(sed -n 's/^\[x\([0-9]*\)\].*/\1/p' <<<"$get" | head -n 1)
[ "$(grep -c . <<<"$get")" = 1 ] && [ "${cnt:-0}" -ge 50 ] && ok "--compact: the request lines are one template [x$cnt]" ||
    not_ok "--compact: the request lines are one template" "$out"
# Request and crash lines are done growing: the folded counts add up to the plain lines.
plain=$(al logs -n example frontend --grep '"GET / ' --max-lines 100000 | grep -c .)
out=$(al logs -n example frontend --grep '"GET / ' --compact)
total=$(sed -n 's/^\[x\([0-9]*\)\].*/\1/p' <<<"$out" | paste -sd+ | bc)
[ "$(grep -c . <<<"$out")" = 1 ] && [ "$total" = "$plain" ] && [ "$lines" -le 5 ] &&
    ok "--compact: $plain request lines in one, counts add up; all frontend logs in $lines" ||
    not_ok "--compact: counts add up" "plain $plain, total $total" "$out"
out=$(al logs -n crash crasher --compact)
c=$(grep -E '^\[x[0-9]+\] .*cannot open db' <<<"$out" | sed -n 's/^\[x\([0-9]*\)\].*/\1/p')
[ "${c:-0}" -ge 2 ] && ok "--compact: the crash's repeated error folded [x$c]" || not_ok "--compact: crash error folded" "$out"
out=$(al logs -n example frontend --compact --max-lines 1)
[ "$(grep -c . <<<"$out")" = 2 ] && tail -n 1 <<<"$out" | grep -qE '^\.\.\. [0-9]+ more lines' &&
    ok "--compact --max-lines 1: one template and a final note" || not_ok "--compact --max-lines 1" "$out"

out=$(al logs -n example frontend --max-lines 5)
[ "$(grep -c . <<<"$out")" = 6 ] && tail -n 1 <<<"$out" | grep -qE '^\.\.\. [0-9]+ more lines' &&
    ok "--max-lines 5: five lines and a final note" || not_ok "--max-lines 5" "$out"
out=$(al logs -n example words)
[ "$(grep -c . <<<"$out")" -le 201 ] && ok "output bounded by default (200 lines)" || not_ok "default bound" "$(grep -c . <<<"$out") lines"

out=$(al logs example 2>&1)
[ $? = 2 ] && grep -q 'NAMESPACE is required' <<<"$out" && ok "no -n: usage error" || not_ok "no -n" "$out"

done_testing
