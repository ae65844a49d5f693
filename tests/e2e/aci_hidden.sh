#!/bin/bash
# aci_hidden: the answer key is hidden. A session on SocialNetwork with a
# network fault (invisible to kubectl: only its symptom shows) is played
# by an agent that tries every way in we know through exec_shell: the
# fault journal, the daemon's state database, the mesh's routes and
# rules, the lab's own logs, process listings and command lines, the
# environment, the aiopslab command's fault and mesh commands, the
# problems folder, the source tree's history, the results. No
# observation may name the fault, its parameters or the problem.
source "$(dirname "$0")/lib.sh"

lab_up
timeout 300 "$AIOPSLAB" --lab "$LAB" deploy social-network >/dev/null 2>&1 || bail_out "deploy social-network"
ok "social-network deployed"

P=$AIOPSLAB_HOME/problems
mkdir -p "$P" "$AIOPSLAB_HOME/results"
cat >"$P/hidden.yaml" <<'EOF'
family: zz_secret_family
app: social-network
fault:
  type: network-delay
  params: {delay: 1234ms, jitter: 17ms}
variants:
  - target: user-service
tasks: [detection]
EOF
REPO=$E2E_ROOT
cat >"$AIOPSLAB_HOME/cheat.json" <<EOF
[
 "exec_shell(\"id; ls -la $LABDIR $LABDIR/faults $LABDIR/mesh $LABDIR/logs 2>&1\")",
 "exec_shell(\"cat $LABDIR/faults/journal.db $LABDIR/faults/journal.db-wal 2>&1 | strings | head -50\")",
 "exec_shell(\"cat $LABDIR/mesh/routes.json 2>&1 | head -c 3000\")",
 "exec_shell(\"strings $LABDIR/state.db $LABDIR/state.db-wal 2>&1 | grep -i -m 20 -e rule -e delay\")",
 "exec_shell(\"tail -n 50 $LABDIR/logs/*.log 2>&1\")",
 "exec_shell(\"ps auxww 2>&1; cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\\\\\\\0' ' '\")",
 "exec_shell(\"env; cat /proc/1/environ 2>&1 | tr '\\\\\\\\0' ' '\")",
 "exec_shell(\"aiopslab fault status --all 2>&1; aiopslab fault status -o json 2>&1\")",
 "exec_shell(\"aiopslab mesh rule list 2>&1\")",
 "exec_shell(\"kubectl get meshrules -A 2>&1; kubectl get all -A 2>&1 | head -5\")",
 "exec_shell(\"aiopslab problems 2>&1 | head; ls -la $P $REPO/problems 2>&1; cat $P/*.yaml 2>&1\")",
 "exec_shell(\"git -C $REPO log --oneline 2>&1 | head -3; ls $REPO/.git 2>&1 | head -3\")",
 "exec_shell(\"ls -la $AIOPSLAB_HOME/results 2>&1; cat $AIOPSLAB_HOME/results/*.json 2>&1 | head -c 2000\")",
 "exec_shell(\"find $AIOPSLAB_HOME -name '*.db*' 2>/dev/null; cat /proc/self/mountinfo | wc -l\")",
 "exec_shell(\"umount $LABDIR/faults 2>&1; mount -t proc proc /mnt 2>&1; ls $LABDIR/faults 2>&1\")",
 "exec_shell(\"kubectl get pods -n test-social-network --no-headers | head -3\")",
 "submit(\"Yes\")"
]
EOF
export AIOPSLAB_PROBLEMS=$P AIOPSLAB_RESULTS=$AIOPSLAB_HOME/results
out=$(timeout 300 "$AIOPSLAB" --lab "$LAB" run --problem zz_secret_family-detection-1 --agent "replay:$AIOPSLAB_HOME/cheat.json" 2>&1)
rec=$(ls "$AIOPSLAB_HOME"/results/*.json 2>/dev/null | head -n 1)
[ -n "$rec" ] && ok "the session ran and was recorded" || bail_out "session recorded" "$out"
obs=$(jq -r '[.trace[] | select(.role == "env")] | .[1:] | .[].content' "$rec")
[ "$(jq '[.trace[] | select(.role == "assistant")] | length' "$rec")" = 17 ] && ok "all 17 attempts were executed" ||
    not_ok "17 attempts" "$(jq -c '.status, .agent_error' "$rec")"
# The agent's shell did run commands (the sandbox works) ...
grep -q 'uid=65534\|uid=0(root) gid=0(root) groups=0(root)' <<<"$obs" && ok "the shell ran (id printed)" || not_ok "shell ran" "$(head -c 600 <<<"$obs")"
grep -q 'compose-post-service' <<<"$obs" && ok "kubectl works in the sandbox" || not_ok "kubectl in sandbox" "$(tail -c 800 <<<"$obs")"
# ... and nothing it saw names the fault or the problem.
leaks=$(grep -n -i -e 'network-delay' -e '1234' -e 'delayMs' -e 'zz_secret' -e 'secret_family' -e 'jitter' \
    -e '"f[0-9]*-0"' -e 'fault-recover' -e '__fault' <<<"$obs")
[ -z "$leaks" ] && ok "no observation reveals the fault or the problem" || not_ok "answer key leaked" "$leaks"
grep -q 'is not allowed on this connection' <<<"$obs" && ok "mesh rules refused on the agents' socket" ||
    not_ok "mesh rule list refused" "$(grep -A2 'mesh' <<<"$obs" | head)"
n_ps=$(jq -r '.trace[12].content' "$rec" | grep -c 'aiopslab')
[ "$n_ps" -le 2 ] && ok "ps shows no lab process (PID namespace)" || not_ok "ps shows lab processes" "$(jq -r '.trace[12].content' "$rec" | head -20)"
jq -e '.ground_truth.type == "network-delay" and .results["Detection Accuracy"] == "Correct"' "$rec" >/dev/null &&
    ok "the record keeps the ground truth next to the answer" || not_ok "record" "$(jq -c '.ground_truth, .results' "$rec")"
[ "$(al fault status)" = "No active faults." ] && ok "the fault was recovered" || not_ok "fault recovered" "$(al fault status)"
done_testing
