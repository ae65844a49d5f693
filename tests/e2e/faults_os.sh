#!/bin/bash
# faults_os: the Operating System and Hardware layers' faults on a live
# HotelReservation under a light request loop: each is injected (verified),
# its symptom shows where an SRE looks (restartCount, process state, /proc,
# `date` in the pod, the store's log, the requests' errors), it is
# recovered, and the app serves again.
source "$(dirname "$0")/lib.sh"

NS=test-hotel-reservation
lab_up
out=$(timeout 120 "$AIOPSLAB" --lab "$LAB" deploy hotel-reservation 2>&1) || bail_out "deploy hotel-reservation" "$out"
FE="http://$(cluster_ip $NS frontend):5000"
SEARCH="$FE/hotels?inDate=2015-04-09&outDate=2015-04-11&lat=38.0235&lon=-122.095"
wait_for '[ "$(http_code "$SEARCH")" = 200 ]' 30 && ok "hotel-reservation serves" || bail_out "hotel-reservation serves"

# A light load: one search every 100 ms; codes go to $CODES.
CODES="$AIOPSLAB_HOME/codes"
(while :; do curl -s -o /dev/null -w '%{http_code}\n' --max-time 2 "$SEARCH" >>"$CODES"; sleep 0.1; done) &
inject() { # TYPE TARGET [PARAMS...]: the fault's id, or fails with the CLI's output
    local t=$1 target=$2
    shift 2
    local args=() p
    for p in "$@"; do args+=(--param "$p"); done
    local o
    o=$(al fault inject "$t" -n $NS --target "$target" "${args[@]}" 2>&1) || { echo "$o"; return 1; }
    sed -n 's/^fault \([0-9]*\) injected.*/\1/p' <<<"$o"
}
healthy() { wait_for '[ "$(http_code "$SEARCH")" = 200 ] && all_ready '$NS 60; }
recover_ok() { # ID NAME
    local o
    o=$(al fault recover "$1" 2>&1)
    [ "$o" = "fault $1 recovered" ] && ok "$2: recovered" || not_ok "$2: recover" "$o"
    healthy && ok "$2: the app serves again, every pod Ready" || not_ok "$2: healthy again" "$(k get pods -n $NS)"
}
pod_of() { pods_of $NS "$1" | head -n 1; }

# ---- process-kill --------------------------------------------------------------
pod=$(pod_of geo)
before=$(restart_count $NS "$pod")
id=$(inject process-kill geo signal=KILL) && ok "process-kill geo: verified" || not_ok "process-kill" "$id"
[ "$(restart_count $NS "$pod")" -gt "$before" ] && ok "process-kill: restartCount went up" ||
    not_ok "process-kill: restartCount" "$(k describe pod -n $NS "$pod")"
k get pod -n $NS "$pod" -o json | jq -e '.status.containerStatuses[0].lastState.terminated.exitCode == 137' >/dev/null &&
    ok "process-kill: lastState exit code 137" || not_ok "process-kill: exit code" "$(pod_json $NS "$pod" | jq .status)"
recover_ok "$id" process-kill

# ---- process-pause -------------------------------------------------------------
pod=$(pod_of geo)
pid=$(container_pid $NS "$pod")
: >"$CODES"
id=$(inject process-pause geo) && ok "process-pause geo: verified" || not_ok "process-pause" "$id"
[ "$(awk '{print $3}' "/proc/$pid/stat")" = T ] && ok "process-pause: ps shows the process stopped (T)" ||
    not_ok "process-pause: state" "$(cat /proc/$pid/status | head -3)"
sleep 3
grep -qv '^200$' "$CODES" && ok "process-pause: searches fail ($(grep -vc '^200$' "$CODES") of $(wc -l <"$CODES"))" ||
    not_ok "process-pause: searches fail" "$(sort "$CODES" | uniq -c)"
recover_ok "$id" process-pause
[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != T ] && ok "process-pause: continued" || not_ok "still stopped"

# ---- cpu-contention ---------------------------------------------------------------
id=$(inject cpu-contention geo cores=1) && ok "cpu-contention geo: verified" || not_ok "cpu-contention" "$id"
# The burners are in geo's cgroup: its cpu accounting (what kubectl top and
# container_cpu_usage_seconds_total read) shows them.
cg=$(jq -r .cgroupName "$(run_dir $NS "$(pod_of geo)")/spec.json")
acct=/sys/fs/cgroup/cpuacct/aiopslab/$cg/cpuacct.usage
if [ -r "$acct" ]; then
    u1=$(cat "$acct"); sleep 1; u2=$(cat "$acct")
    [ $((u2 - u1)) -ge 500000000 ] && ok "cpu-contention: geo's cgroup used $(((u2 - u1) / 1000000)) ms cpu in 1 s" ||
        not_ok "cpu-contention: geo's cpu" "$((u2 - u1)) ns"
else
    skip "cpu-contention: geo's cgroup accounting" "no cgroup-v1 cpuacct here"
fi
recover_ok "$id" cpu-contention
sleep 1
pgrep -f "__fault-run $id\$" >/dev/null && not_ok "cpu-contention: burners gone" || ok "cpu-contention: burners gone"

# ---- memory-leak ---------------------------------------------------------------------
pod=$(pod_of geo)
cg=$(jq -r .cgroupName "$(run_dir $NS "$pod")/spec.json")
mem=/sys/fs/cgroup/memory/aiopslab/$cg/memory.usage_in_bytes
m1=$(cat "$mem" 2>/dev/null || echo 0)
id=$(inject memory-leak geo rate=1200Mi) && ok "memory-leak geo: verified (working set grows)" || not_ok "memory-leak" "$id"
if [ -r "$mem" ]; then
    sleep 4
    m2=$(cat "$mem")
    [ $((m2 - m1)) -ge $((40 << 20)) ] && ok "memory-leak: geo's cgroup memory grew by $(((m2 - m1) >> 20)) MiB" ||
        not_ok "memory-leak: growth" "$m1 -> $m2"
else
    skip "memory-leak: geo's cgroup memory" "no cgroup-v1 memory here"
fi
recover_ok "$id" memory-leak

# ---- fd-exhaustion ------------------------------------------------------------------
pod=$(pod_of geo)
pid=$(container_pid $NS "$pod")
soft=$(awk '/Max open files/ {print $4}' "/proc/$pid/limits")
id=$(inject fd-exhaustion geo spare=2) && ok "fd-exhaustion geo: verified (fd table full)" || not_ok "fd-exhaustion" "$id"
now=$(awk '/Max open files/ {print $4}' "/proc/$pid/limits")
[ "$now" -lt "$soft" ] && ok "fd-exhaustion: /proc/PID/limits shows $now open files (was $soft)" || not_ok "fd limit" "$now"
recover_ok "$id" fd-exhaustion
[ "$(awk '/Max open files/ {print $4}' "/proc/$pid/limits")" = "$soft" ] && ok "fd-exhaustion: limit back to $soft" ||
    not_ok "fd-exhaustion: limit restored" "$(cat "/proc/$pid/limits")"

# ---- clock-skew -----------------------------------------------------------------------
id=$(inject clock-skew geo seconds=3600) && ok "clock-skew geo: verified" || not_ok "clock-skew" "$id"
seen=$(k exec -n $NS "$(pod_of geo)" -- date +%s 2>&1)
diff=$((seen - $(date +%s)))
[ "$diff" -ge 3598 ] && [ "$diff" -le 3602 ] && ok "clock-skew: date in the pod is ${diff}s ahead" ||
    not_ok "clock-skew: kubectl exec date" "$seen"
recover_ok "$id" clock-skew
sleep 1.2
seen=$(k exec -n $NS "$(pod_of geo)" -- date +%s 2>&1)
diff=$((seen - $(date +%s)))
[ "${diff#-}" -le 2 ] && ok "clock-skew: the pod's clock is right again" || not_ok "clock after recover" "$diff"

# ---- thread-pool-exhaustion ---------------------------------------------------------------
id=$(inject thread-pool-exhaustion geo) && ok "thread-pool-exhaustion geo: verified (new requests unanswered)" ||
    not_ok "thread-pool-exhaustion" "$id"
recover_ok "$id" thread-pool-exhaustion

# ---- the store: slow-io, io-errors, disk-full on mongodb-geo (PostgreSQL) ------------------
# HotelReservation starts its PostgreSQL through `sh -c`, which the engine's
# store check does not recognise (it looks at the command's program only).
out=$(al fault inject slow-io -n $NS --target mongodb-geo 2>&1)
if grep -q 'is not a postgres store (it runs sh)' <<<"$out"; then
    skip "store faults on mongodb-geo" "the engine does not recognise a PostgreSQL started by sh -c"
else
    id=$(sed -n 's/^fault \([0-9]*\) injected.*/\1/p' <<<"$out")
    [ -n "$id" ] && ok "slow-io mongodb-geo: verified (delayed calls)" || not_ok "slow-io" "$out"
    recover_ok "$id" slow-io
    id=$(inject io-errors mongodb-geo) && ok "io-errors mongodb-geo: verified (EIO injected)" || not_ok "io-errors" "$id"
    wait_for 'k logs -n $NS "$(pod_of mongodb-geo)" --previous 2>/dev/null | grep -q "Input/output error" ||
        k logs -n $NS "$(pod_of mongodb-geo)" | grep -q "Input/output error"' 20 &&
        ok "io-errors: the store logs Input/output error" || not_ok "io-errors: log" "$(k logs -n $NS "$(pod_of mongodb-geo)" | tail)"
    recover_ok "$id" io-errors
    id=$(inject disk-full mongodb-geo) && ok "disk-full mongodb-geo: verified (File too large)" || not_ok "disk-full" "$id"
    recover_ok "$id" disk-full
fi

[ "$(al fault status)" = "No active faults." ] && ok "no fault left active" || not_ok "faults left" "$(al fault status)"
done_testing
