#!/bin/bash
# validate: the suite's share of `make validate` (issue 6: "CI runs a sample
# that covers every fault family within its budget").
#   - A mitigation problem is proven shortcut-proof on the live lab: its
#     reference fix passes; doing nothing, scaling the target to zero,
#     deleting its Deployment, deleting every pod and restarting every
#     Deployment each fail, and each record says which check failed.
#   - Every problem family of both apps: the reference answer of its first
#     detection variant is right and the empty answer wrong (the fault takes
#     and shows), the controls' "No" right.
# The full proof of every problem and task is `make validate` (by hand).
# The families run with --jobs 2, as `make validate` does: SocialNetwork in
# the test's lab, HotelReservation in a second lab (LAB-v2) at the same time
# (the sessions mostly wait: windows, verification); the second lab is gone
# afterwards. A problem validate judges once more (a void session: its
# fault did not take in time on a busy machine) passes when its second try
# does, as in `make validate`.
. "$(dirname "$0")/lib.sh"

export AIOPSLAB_RESULTS="$AIOPSLAB_HOME/results-test"
MIT=scale_pod_zero_social_net-mitigation-1
LAB2="${LAB:0:29}-v2"
lab_up
trap '"$AIOPSLAB" --lab "$LAB2" cluster down --purge >/dev/null 2>&1; lab_down' EXIT

families() { # APP: the problem families with a detection task
    al problems --task detection --app "$1" 2>/dev/null | awk 'NR > 1 { sub(/-detection-[0-9]+$/, "", $1); print $1 }' |
        sort -u | wc -l
}
out=$(al validate --sample --task detection --jobs 2 --quiet 2>&1)
rc=$?
sn=$(families social-network) hr=$(families hotel-reservation)
all=$((sn + hr))
[ $rc = 0 ] && [ "$sn" -gt 20 ] && [ "$hr" -gt 20 ] &&
    [[ "$(grep "problems validated" <<<"$out")" =~ ^$all\ problems\ validated\ .*:\ $all\ passed,\ 0\ failed(\ \([0-9]+\ judged\ once\ more:\ AGAIN\ lines\))?$ ]] &&
    ok "detection of every family of both apps ($sn + $hr), two labs at once: the reference right, the empty answer wrong" ||
    not_ok "detection of every family ($sn + $hr)" "exit $rc" "$out"
[ ! -e "$AIOPSLAB_HOME/labs/$LAB2" ] && ok "the second lab was purged after the run" ||
    not_ok "the second lab was purged" "$(ls "$AIOPSLAB_HOME/labs")"
# One injection judged both answers of a fault variant (controls have one answer).
shared=$(cat "$AIOPSLAB_RESULTS"/*.json | jq -s '[.[] | select(.task == "detection" and .shared_injection == 2)] | length')
[ "${shared:-0}" -ge 60 ] && ok "the answers of one variant share one injection ($shared records)" ||
    not_ok "the answers of one variant share one injection" "$shared records"

out=$(al validate --problem "$MIT" 2>&1)
rc=$?
# A reference that fixed the cause and broke nothing but missed the service
# level in its windows (a busy machine) is judged once more, as validate
# does: then twelve sessions, the second six deciding.
[ $rc = 0 ] && grep -Eq "^1 problems validated \((6 sessions\): 1 passed, 0 failed$|12 sessions\): 1 passed, 0 failed \(1 judged once more)" <<<"$out" &&
    ok "$MIT: the reference passes, nothing and the four shortcuts fail" ||
    not_ok "$MIT: the reference passes, nothing and the four shortcuts fail" "exit $rc" "$out"

# Each session's record (the last of each agent): the verdict and the check that decided it.
checks=$(cat "$AIOPSLAB_RESULTS"/*.json | jq -rs --arg p "$MIT" '[.[] | select(.problem_id == $p)] | group_by(.agent) | .[] | max_by(.start_time) | "\(.agent) \(.results.success) root_cause_gone=\(.results.checks.root_cause_gone) nothing_broken=\(.results.checks.nothing_broken) slo_met=\(.results.checks.slo_met)"' 2>/dev/null | sort)
want="validate:delete-pods false
validate:delete-target false root_cause_gone=false nothing_broken=false
validate:nothing false root_cause_gone=false
validate:reference true root_cause_gone=true nothing_broken=true slo_met=true
validate:restart-all false
validate:scale-to-zero false root_cause_gone=false nothing_broken=false"
miss=""
while read -r line; do
    grep -qF -- "$line" <<<"$checks" || miss="$miss; $line"
done <<<"$want"
[ -z "$miss" ] && [ "$(grep -c . <<<"$checks")" = 6 ] &&
    ok "the six records say why: the reference fixed it, the shortcuts left the cause or broke the app" ||
    not_ok "the records say why" "missing$miss" "$checks"

lab_down
done_testing
