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
# HotelReservation's families run in a second lab at the same time as
# SocialNetwork's (the sessions mostly wait: windows, verification).
. "$(dirname "$0")/lib.sh"

export AIOPSLAB_RESULTS="$AIOPSLAB_HOME/results-test"
MIT=scale_pod_zero_social_net-mitigation-1
LAB2="${LAB:0:28}-hr"
lab_up
trap '"$AIOPSLAB" --lab "$LAB2" cluster down >/dev/null 2>&1; lab_down' EXIT
AIOPSLAB_RESULTS="$AIOPSLAB_HOME/results-hr" "$AIOPSLAB" --lab "$LAB2" validate --sample --task detection \
    --app hotel-reservation --quiet >"$AIOPSLAB_HOME/hr.out" 2>&1 &
HR=$!

out=$(al validate --problem "$MIT" 2>&1)
rc=$?
[ $rc = 0 ] && grep -q "^1 problems validated (6 sessions): 1 passed, 0 failed" <<<"$out" &&
    ok "$MIT: the reference passes, nothing and the four shortcuts fail" ||
    not_ok "$MIT: the reference passes, nothing and the four shortcuts fail" "exit $rc" "$out"

# Each session's record: the verdict and the check that decided it.
checks=$(cat "$AIOPSLAB_RESULTS"/*.json | jq -r --arg p "$MIT" 'select(.problem_id == $p) | "\(.agent) \(.results.success) root_cause_gone=\(.results.checks.root_cause_gone) nothing_broken=\(.results.checks.nothing_broken) slo_met=\(.results.checks.slo_met)"' 2>/dev/null | sort)
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

families() { # APP: the problem families with a detection task
    al problems --task detection --app "$1" 2>/dev/null | awk 'NR > 1 { sub(/-detection-[0-9]+$/, "", $1); print $1 }' |
        sort -u | wc -l
}
sample() { # APP RC OUTPUT
    local fams line
    fams=$(families "$1")
    line=$(grep "problems validated" <<<"$3")
    [ "$2" = 0 ] && [ "$fams" -gt 20 ] && [[ "$line" == "$fams problems validated "*": $fams passed, 0 failed" ]] &&
        ok "$1: detection of every family ($fams): the reference right, the empty answer wrong" ||
        not_ok "$1: detection of every family ($fams)" "exit $2" "$3"
}
out=$(al validate --sample --task detection --app social-network --quiet 2>&1)
sample social-network $? "$out"
wait $HR
sample hotel-reservation $? "$(cat "$AIOPSLAB_HOME/hr.out")"
# One injection judged both answers of a fault variant (controls have one answer).
shared=$(cat "$AIOPSLAB_HOME"/results-*/*.json | jq -s '[.[] | select(.task == "detection" and .shared_injection == 2)] | length')
[ "${shared:-0}" -ge 60 ] && ok "the answers of one variant share one injection ($shared records)" ||
    not_ok "the answers of one variant share one injection" "$shared records"

"$AIOPSLAB" --lab "$LAB2" cluster down >/dev/null 2>&1
lab_down
done_testing
