#!/bin/bash
# Agents on a live lab: the example external agent (examples/agent_example.py)
# completes a problem over the JSON-lines protocol and its session is
# recorded; agents that send garbage, crash, stay silent or flood their
# stdout each end their session with a recorded reason, the fault is
# recovered and the app stays healthy for the next session; replaying a
# recorded session reproduces its answer; `aiopslab results` adds them up.
#
# One `aiopslab run` poses the same problem five times to one command that
# behaves differently in each session (a counter file picks the behaviour),
# so the app is deployed and warmed up once.
. "$(dirname "$0")/lib.sh"

PROBLEM=k8s_target_port-misconfig-detection-1
NS=test-social-network
export AIOPSLAB_RESULTS="$AIOPSLAB_HOME/results-test"

lab_up

if ! al problems show "$PROBLEM" >/dev/null 2>&1; then
    # The shipped problems do not load (yet): a detection-only family of our own.
    export AIOPSLAB_PROBLEMS="$AIOPSLAB_HOME/problems"
    mkdir -p "$AIOPSLAB_PROBLEMS/social-network"
    cat >"$AIOPSLAB_PROBLEMS/social-network/target-port.yaml" <<'EOF'
family: k8s_target_port-misconfig
app: social-network
description: the Service's targetPort is changed to 9999 while its pods listen on 9090
fault:
  type: target-port-misconfig
  params: {port: 9999}
variants:
  - target: user-service
tasks: [detection]
workload: {rate: 20}
EOF
    diag "using a problem file of our own: $(al problems 2>&1 | head -3)"
fi

# Deployed ahead with room to spare: a loaded machine can take longer than run's own deploy waits.
out=$(timeout 240 "$AIOPSLAB" --lab "$LAB" deploy social-network --timeout 200s 2>&1) ||
    bail_out "social-network deploys" "$(tail -20 <<<"$out")"

AGENT="$AIOPSLAB_HOME/agent.sh"
# The agent runs confined like exec_shell (as nobody when root): its own state lives where it may write.
STATE="$AIOPSLAB_HOME/agent-state"
mkdir -p "$STATE" && chmod 1777 "$STATE"
cat >"$AGENT" <<EOF
#!/bin/sh
# Session N of the run behaves as case N.
n=\$(cat "$STATE/agent.count" 2>/dev/null || echo 0)
n=\$((n + 1))
echo \$n >"$STATE/agent.count"
case \$n in
1) exec python3 "$E2E_ROOT/examples/agent_example.py" ;;
2) read -r l; echo 'this is not json' ;;
3) read -r l; echo "about to crash" >&2; kill -SEGV \$\$ ;;
4) read -r l; exec sleep 120.$$ ;;
5) read -r l; exec yes '{"action": "exec_shell(\\"true\\")"}' ;;
esac
EOF
chmod +x "$AGENT"

t0=$(date +%s)
out=$(timeout 170 "$AIOPSLAB" --lab "$LAB" run --agent-cmd "sh $AGENT" --agent-timeout 3 --max-steps 10 \
    --problem $PROBLEM --problem $PROBLEM --problem $PROBLEM --problem $PROBLEM --problem $PROBLEM 2>&1)
rc=$?
diag "aiopslab run with five agents: exit $rc in $(($(date +%s) - t0)) s"
[ "$rc" = 0 ] && ok "aiopslab run with external agents finishes" || not_ok "aiopslab run with external agents finishes" "$out"

# The records, in the order the sessions ran.
records() { jq -s 'sort_by(.start_time)' "$AIOPSLAB_RESULTS"/*.json 2>/dev/null; }
REC=$(records)
nrec=$(jq length <<<"$REC")
[ "$nrec" = 5 ] && ok "five sessions recorded" || not_ok "five sessions recorded" "got $nrec" "$out"
rec() { jq -r ".[$1] | $2" <<<"$REC"; } # INDEX FILTER

# 1: the example agent completes the problem.
if [ "$(rec 0 .status)" = submitted ] && [ "$(rec 0 '.submission | tostring')" != null ] &&
    [ "$(rec 0 '[.trace[] | select(.role == "assistant")] | length')" -ge 3 ]; then
    ok "the example agent completes the problem (submitted $(rec 0 '.submission | tostring'))"
else
    not_ok "the example agent completes the problem" "$(rec 0 '{status, agent_error, submission}')" "$out"
fi
check "the example agent ran kubectl through exec_shell" \
    jq -e '[.[0].trace[] | select(.role == "env") | .content | test("NAME +READY")] | any' <<<"$REC"
[ "$(rec 0 .results.steps)" -ge 3 ] && ok "its steps are counted" || not_ok "its steps are counted" "$(rec 0 .results)"

# 2-5: each misbehaving agent ends its session with the reason.
expect_error() { # INDEX NAME PATTERN
    local status reason
    status=$(rec "$1" .status)
    reason=$(rec "$1" '.agent_error // ""')
    if [ "$status" = agent_error ] && grep -qE "$3" <<<"$reason"; then
        ok "$2: session ends with \"$reason\""
    else
        not_ok "$2: session ends with a recorded reason" "status $status, reason: $reason"
    fi
}
expect_error 1 "a garbage agent" "not a JSON object"
expect_error 2 "a crashing agent" "killed by signal 11"
expect_error 3 "a silent agent" "no reply within 3.0 s"
expect_error 4 "a flooding agent" "nobody asked for"

# The crashing agent's stderr went to the log its error names.
log=$(rec 2 '.agent_error' | sed -n 's/.*its stderr: \([^)]*\)).*/\1/p')
if [ -n "$log" ] && grep -q "about to crash" "$log" 2>/dev/null; then
    ok "the agent's stderr is kept in its log"
else
    not_ok "the agent's stderr is kept in its log" "log: $log"
fi

# Every session's fault was recovered; the lab is healthy; no agent left behind.
bad=$(jq -r '[.[] | select(.recover_errors or .settle_warning)] | length' <<<"$REC")
[ "$bad" = 0 ] && ok "every fault recovered and the app settled after each session" ||
    not_ok "every fault recovered and the app settled" "$(jq -c '.[] | {recover_errors, settle_warning}' <<<"$REC")"
fs=$(al fault status -o json 2>&1)
if jq -e 'length == 0' <<<"$fs" >/dev/null; then
    ok "aiopslab fault status shows no fault active"
else
    not_ok "aiopslab fault status shows no fault active" "$fs"
fi
check "the app is healthy after the misbehaving agents" all_ready "$NS"
# (pgrep -f takes an extended regex: the brace is escaped, or pgrep fails and finds nothing;
# the sleep's fraction is this script's pid, so another program's sleep 120 does not count)
left=$(pgrep -f "$AGENT|sleep 120\\.$$|yes \\{\"action\"" || true)
[ -z "$left" ] && ok "no agent process outlives its session" || not_ok "no agent process outlives its session" "$(ps -o pid,args -p $left)"

# Replay of the example agent's session reproduces its answer.
first=$(rec 0 .session_id)
out=$(timeout 120 "$AIOPSLAB" --lab "$LAB" run --agent "replay:$AIOPSLAB_RESULTS/$first.json" --problem $PROBLEM 2>&1)
rc=$?
REC=$(records)
if [ "$rc" = 0 ] && [ "$(rec 5 .agent)" = replay ] && [ "$(rec 5 .status)" = submitted ] &&
    [ "$(rec 5 '.submission | tostring')" = "$(rec 0 '.submission | tostring')" ] &&
    [ "$(rec 5 '[.trace[] | select(.role == "assistant") | .content]')" = \
        "$(rec 0 '[.trace[] | select(.role == "assistant") | .content]')" ]; then
    ok "replay reproduces the recorded session's actions and answer"
else
    not_ok "replay reproduces the recorded session's answer" "$(rec 5 '{agent, status, submission, agent_error}')" "$out"
fi

# The tables.
t=$(al results 2>&1)
if grep -q "^detection *6 " <<<"$t"; then ok "aiopslab results: a row per task"; else not_ok "aiopslab results: a row per task" "$t"; fi
t=$(al results --by agent -o json 2>&1)
if jq -e --arg a "sh $AGENT" '[.[] | select(.agent == $a and .sessions == 5 and .agent_errors == 4)] | length == 1' \
    <<<"$t" >/dev/null; then
    ok "aiopslab results --by agent counts the agent errors"
else
    not_ok "aiopslab results --by agent counts the agent errors" "$t"
fi
t=$(al results --by agent --agent replay 2>&1)
grep -q "^replay *1 " <<<"$t" && ok "aiopslab results --agent filters" || not_ok "aiopslab results --agent filters" "$t"
t=$(al results --last 1 -o json 2>&1)
[ "$(jq '.[0].sessions' <<<"$t")" = 1 ] && ok "aiopslab results --last N" || not_ok "aiopslab results --last N" "$t"
t=$(al results show "${first:0:8}" 2>&1)
if [ -n "$first" ] && jq -e --arg id "$first" '.session_id == $id' <<<"$t" >/dev/null 2>&1; then
    ok "aiopslab results show prints the session's JSON (by a prefix of its id)"
else
    not_ok "aiopslab results show prints the session's JSON" "id: $first" "$t"
fi
t=$(AIOPSLAB_RESULTS="$AIOPSLAB_HOME/empty" al results 2>&1)
[ $? = 1 ] && grep -q "no results" <<<"$t" && ok "no results: a clear error" || not_ok "no results: a clear error" "$t"

done_testing
