#!/bin/bash
# faults_os: the Operating System and Hardware layers' faults on live apps
# under a light request loop. Each fault is injected (verified), its
# symptom shows where an SRE looks (restartCount and lastState, process
# state, /proc limits, the cgroup's accounting, `date` in the pod, the
# store's log, the requests' errors and latency), it is recovered, and the
# app serves again.
#   HotelReservation: process-kill, process-pause, cpu-contention,
#     memory-leak (growth, then OOMKilled under its 128Mi limit),
#     fd-exhaustion, clock-skew, thread-pool-exhaustion on geo; slow-io,
#     io-errors (with the fault's process killed -9 before recover --all)
#     and disk-full on mongodb-reservation (PostgreSQL, written by
#     reservations); its data is intact afterwards (`aiopslab fault digest`).
#   SocialNetwork: io-errors on post-storage-mongodb (written by
#     compose-post), data intact afterwards.
# AIOPSLAB_FAULTS_FULL=1 adds the slowest cases: slow-io and disk-full on
# SocialNetwork's post-storage-mongodb (each waits out a restart back-off).
source "$(dirname "$0")/lib.sh"
# The stores crash-loop under io-errors and disk-full, one fault after the
# other, and geo under the fast memory-leak: a back-off of 2 s doubling up to
# 8 s (the daemon reads it at start; Kubernetes': 10 s up to 300 s) keeps the
# wait for them to serve again short; it is still CrashLoopBackOff.
export AIOPSLAB_BACKOFF_BASE_MS=2000 AIOPSLAB_BACKOFF_MAX_MS=8000

FULL=${AIOPSLAB_FAULTS_FULL:-0}
NS=test-hotel-reservation
SN=test-social-network
lab_up
out=$(timeout 180 "$AIOPSLAB" --lab "$LAB" deploy hotel-reservation 2>&1) || bail_out "deploy hotel-reservation" "$out"
FE="http://$(cluster_ip $NS frontend):5000"
SEARCH="$FE/hotels?inDate=2015-04-09&outDate=2015-04-11&lat=38.0235&lon=-122.095"
wait_for '[ "$(http_code "$SEARCH")" = 200 ]' 30 && ok "hotel-reservation serves" || bail_out "hotel-reservation serves"

# ---- load: requests in the background, one line each in $LOG -------------------
# "S CODE SECONDS" a search, "R ..." a reservation (a write to
# mongodb-reservation), "C ..." a compose-post (a write to
# post-storage-mongodb). A loop stops between two requests, so that a
# digest taken after load_stop sees every write that was answered.
LOG="$AIOPSLAB_HOME/requests"
: >"$LOG"
LOADS=()
load_start() { # NAME (hotel|social)
    rm -f "$AIOPSLAB_HOME/stop-$1"
    if [ "$1" = hotel ]; then
        (i=0; while [ ! -e "$AIOPSLAB_HOME/stop-hotel" ]; do
            i=$((i + 1))
            echo "S $(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 3 "$SEARCH")" >>"$LOG"
            echo "R $(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 3 -X POST \
                "$FE/reservation?inDate=2015-04-10&outDate=2015-04-11&lat=38.0235&lon=-122.095&hotelId=$((i % 80 + 1))&customerName=Cornell_7&username=Cornell_7&password=7777777777&number=1")" >>"$LOG"
            sleep 0.1
        done) &
    else
        (i=0; while [ ! -e "$AIOPSLAB_HOME/stop-social" ]; do
            i=$((i + 1))
            u=$((i % 50 + 1))
            echo "C $(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 3 -X POST "$SNFE/post/compose" \
                --data-urlencode "username=username_$u" -d "user_id=$u" --data-urlencode "text=post $i" -d post_type=0)" >>"$LOG"
            sleep 0.1
        done) &
    fi
    LOADS[$([ "$1" = hotel ] && echo 0 || echo 1)]=$!
}
load_stop() { # NAME
    touch "$AIOPSLAB_HOME/stop-$1"
    wait "${LOADS[$([ "$1" = hotel ] && echo 0 || echo 1)]}" 2>/dev/null
}
mark() { wc -l <"$LOG"; }
since() { tail -n +$(($1 + 1)) "$LOG" | grep "^$2 " || true; } # MARK KIND: the lines after MARK
n_ok() { since "$1" "$2" | grep -c "^$2 200 " || true; }
n_bad() { since "$1" "$2" | grep -vc "^$2 200 " || true; }
median_s() { since "$1" "$2" | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {print NR ? a[int((NR + 1) / 2)] : 0}'; }

inject() { # NS TYPE TARGET [PARAMS...]: the fault's id, or fails with the CLI's output
    local ns=$1 t=$2 target=$3
    shift 3
    local args=() p
    for p in "$@"; do args+=(--param "$p"); done
    local o
    o=$(al fault inject "$t" -n "$ns" --target "$target" "${args[@]}" 2>&1) || { echo "$o"; return 1; }
    sed -n 's/^fault \([0-9]*\) injected.*/\1/p' <<<"$o"
}
healthy() { wait_for '[ "$(http_code "$SEARCH")" = 200 ] && all_ready '$NS 60; }
recover_ok() { # ID NAME
    local o
    o=$(al fault recover "$1" 2>&1)
    [ "$o" = "fault $1 recovered" ] && ok "$2: recovered" || not_ok "$2: recover" "$o"
    healthy && ok "$2: the app serves again, every pod Ready" || not_ok "$2: healthy again" "$(k get pods -n $NS)"
}
pod_of() { pods_of "${2:-$NS}" "$1" | head -n 1; }
# The store's log, this run's and the previous one's.
store_log() { # NS DEPLOYMENT
    local p
    p=$(pod_of "$2" "$1")
    k logs -n "$1" "$p" --previous 2>/dev/null
    k logs -n "$1" "$p" 2>/dev/null
}
# Log lines written since the fault was injected (by their UTC timestamp).
store_log_since() { # NS DEPLOYMENT SINCE(YYYY-mm-dd HH:MM:SS)
    store_log "$1" "$2" | awk -v t="$3" '$1 " " substr($2, 1, 8) >= t'
}
cgroup_file() { # POD FILE: the pod's container cgroup-v1 file (controller/file)
    local cg
    cg=$(jq -r .cgroupName "$(run_dir $NS "$1")/spec.json")
    echo "/sys/fs/cgroup/${2%%/*}/aiopslab/$cg/${2#*/}"
}
load_start hotel

# ---- process-kill --------------------------------------------------------------
pod=$(pod_of geo)
before=$(restart_count $NS "$pod")
id=$(inject $NS process-kill geo signal=KILL) && ok "process-kill geo: verified" || not_ok "process-kill" "$id"
[ "$(restart_count $NS "$pod")" -gt "$before" ] && ok "process-kill: restartCount went up" ||
    not_ok "process-kill: restartCount" "$(k describe pod -n $NS "$pod")"
pod_json $NS "$pod" | jq -e '.status.containerStatuses[0].lastState.terminated.exitCode == 137' >/dev/null &&
    ok "process-kill: lastState exit code 137" || not_ok "process-kill: exit code" "$(pod_json $NS "$pod" | jq .status)"
recover_ok "$id" process-kill

# ---- process-pause -------------------------------------------------------------
pod=$(pod_of geo)
pid=$(container_pid $NS "$pod")
id=$(inject $NS process-pause geo) && ok "process-pause geo: verified" || not_ok "process-pause" "$id"
m=$(mark)
[ "$(awk '{print $3}' "/proc/$pid/stat")" = T ] && ok "process-pause: ps shows the process stopped (T)" ||
    not_ok "process-pause: state" "$(head -3 /proc/$pid/status)"
wait_for '[ "$(since $m S | grep -vc "^S 200 ")" -gt 0 ]' 8 &&
    ok "process-pause: searches fail ($(n_bad $m S) of $(since $m S | wc -l))" ||
    not_ok "process-pause: searches fail" "$(since $m S | sort | uniq -c)"
recover_ok "$id" process-pause
[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != T ] && ok "process-pause: continued" || not_ok "still stopped"

# ---- cpu-contention ---------------------------------------------------------------
# The burners are in geo's cgroup: its cpu accounting (what kubectl top and
# container_cpu_usage_seconds_total read) shows them: at least 4 times
# what geo used before (the machine may be so busy that geo's cpu share
# gives little more: no absolute figure).
acct=$(cgroup_file "$(pod_of geo)" cpuacct/cpuacct.usage)
cpu_2s() { local a b; a=$(cat "$acct"); sleep 2; b=$(cat "$acct"); echo $(((b - a) / 2000000)); } # ms per s
if [ -r "$acct" ]; then base=$(cpu_2s); else base=; fi
id=$(inject $NS cpu-contention geo cores=1) && ok "cpu-contention geo: verified" || not_ok "cpu-contention" "$id"
if [ -n "$base" ]; then
    used=$(cpu_2s)
    want=$((base * 4 > 20 ? base * 4 : 20))
    [ "$used" -ge "$want" ] && ok "cpu-contention: geo's cgroup uses $used ms cpu/s (was $base)" ||
        not_ok "cpu-contention: geo's cpu" "$used ms/s, was $base, want >= $want"
else
    skip "cpu-contention: geo's cgroup accounting" "no cgroup-v1 cpuacct here"
fi
recover_ok "$id" cpu-contention
sleep 1
pgrep -f -- "--lab $LAB __fault-run $id\$" >/dev/null && not_ok "cpu-contention: burners gone" || ok "cpu-contention: burners gone"

# ---- memory-leak ---------------------------------------------------------------------
pod=$(pod_of geo)
mem=$(cgroup_file "$pod" memory/memory.usage_in_bytes)
m1=$(cat "$mem" 2>/dev/null || echo 0)
id=$(inject $NS memory-leak geo rate=1200Mi) && ok "memory-leak geo: verified (working set grows)" ||
    not_ok "memory-leak" "$id"
if [ -r "$mem" ]; then
    sleep 3
    m2=$(cat "$mem")
    [ $((m2 - m1)) -ge $((30 << 20)) ] && ok "memory-leak: geo's cgroup memory grew by $(((m2 - m1) >> 20)) MiB in 3 s" ||
        not_ok "memory-leak: growth" "$m1 -> $m2"
else
    skip "memory-leak: geo's cgroup memory" "no cgroup-v1 memory here"
fi
recover_ok "$id" memory-leak
# Faster than geo's 128Mi limit allows for long: the kernel OOM-kills geo.
pod=$(pod_of geo)
id=$(inject $NS memory-leak geo rate=4000Mi) && ok "memory-leak (fast) geo: verified" || not_ok "memory-leak fast" "$id"
wait_for 'pod_json $NS "$pod" | jq -e ".status.containerStatuses[0].lastState.terminated.reason == \"OOMKilled\"" >/dev/null' 20 &&
    ok "memory-leak: geo OOMKilled (lastState terminated, reason OOMKilled, exit $(pod_json $NS "$pod" | jq .status.containerStatuses[0].lastState.terminated.exitCode))" ||
    not_ok "memory-leak: OOMKilled" "$(pod_json $NS "$pod" | jq -c .status.containerStatuses)"
k get events -n $NS 2>&1 | grep -q "OOMKilled.*geo\|geo.*OOMKilled" && ok "memory-leak: an OOMKilled event" ||
    not_ok "memory-leak: OOMKilled event" "$(k get events -n $NS 2>&1 | tail -5)"
recover_ok "$id" "memory-leak (fast)"

# ---- fd-exhaustion ------------------------------------------------------------------
pod=$(pod_of geo)
pid=$(container_pid $NS "$pod")
soft=$(awk '/Max open files/ {print $4}' "/proc/$pid/limits")
id=$(inject $NS fd-exhaustion geo spare=2) && ok "fd-exhaustion geo: verified (fd table full)" || not_ok "fd-exhaustion" "$id"
now=$(awk '/Max open files/ {print $4}' "/proc/$pid/limits")
[ "$now" -lt "$soft" ] && ok "fd-exhaustion: /proc/PID/limits shows $now open files (was $soft)" || not_ok "fd limit" "$now"
recover_ok "$id" fd-exhaustion
[ "$(awk '/Max open files/ {print $4}' "/proc/$pid/limits")" = "$soft" ] && ok "fd-exhaustion: limit back to $soft" ||
    not_ok "fd-exhaustion: limit restored" "$(cat "/proc/$pid/limits")"

# ---- clock-skew -----------------------------------------------------------------------
id=$(inject $NS clock-skew geo seconds=3600) && ok "clock-skew geo: verified" || not_ok "clock-skew" "$id"
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
id=$(inject $NS thread-pool-exhaustion geo) && ok "thread-pool-exhaustion geo: verified (new requests unanswered)" ||
    not_ok "thread-pool-exhaustion" "$id"
recover_ok "$id" thread-pool-exhaustion

# ---- the stores (PostgreSQL): slow-io, io-errors, disk-full ----------------------------
# PIDs of the processes ptrace'd by one of the tracers listed in FILE.
traced_by() { # TRACERS-FILE
    local t
    for t in $(jq -r '.[].pid' "$1" 2>/dev/null); do
        grep -lE "^TracerPid:[[:space:]]+$t\$" /proc/[0-9]*/status 2>/dev/null | cut -d/ -f3
    done
}
# How long a CHECKPOINT takes in the store, from psql in its pod (ms).
checkpoint_ms() { # NS DEPLOYMENT
    k exec -n "$1" "$(pod_of "$2" "$1")" -- sh -c 'PGPASSWORD=$POSTGRES_PASSWORD psql -h "$AIOPSLAB_POD_IP" \
        -U "${POSTGRES_USER:-postgres}" -d postgres -Atc "\timing on" -c checkpoint' 2>&1 |
        sed -n 's/^Time: \([0-9]*\).*/\1/p'
}
# The three faults on one store; KIND is the load's line kind writing to it.
store_faults() { # NS STORE KIND APP-NAME TYPES...
    local ns=$1 store=$2 kind=$3 app=$4 t id m base t0 tracers
    shift 4
    for t in "$@"; do
        m=$(mark)
        case $t in
        slow-io)
            # The lab's PostgreSQL commits with synchronous_commit=off (as
            # MongoDB's default write concern): commits do not wait for the
            # disk, so a DBA sees the slow disk in what does wait for it, a
            # CHECKPOINT (WAL and data file writes and fsyncs).
            base=$(checkpoint_ms "$ns" "$store")
            id=$(inject "$ns" slow-io "$store" delay=100ms) && ok "slow-io $store: verified (delayed calls)" ||
                not_ok "slow-io $store" "$id"
            local slow
            slow=$(checkpoint_ms "$ns" "$store")
            [ "${slow:-0}" -ge 500 ] && [ "${base:-999999}" -lt 500 ] &&
                ok "slow-io: a CHECKPOINT in $store takes $slow ms (was $base ms)" ||
                not_ok "slow-io: CHECKPOINT time" "$slow ms, was $base ms"
            diag "slow-io: $app write latency (median) $(median_s $m "$kind") s before, $(median_s "$(mark)" "$kind") s during"
            ;;
        io-errors | disk-full)
            t0=$(date -u '+%Y-%m-%d %H:%M:%S')
            id=$(inject "$ns" "$t" "$store") && ok "$t $store: verified" || not_ok "$t $store" "$id"
            local want="Input/output error"
            [ "$t" = disk-full ] && want="File too large"
            wait_for 'store_log_since "$ns" "$store" "$t0" | grep -q "$want"' 20 &&
                ok "$t: $store logs: $(store_log_since "$ns" "$store" "$t0" | grep -m1 "$want" | cut -d' ' -f4- | cut -c1-110)" ||
                not_ok "$t: the store's log says $want" "$(store_log "$ns" "$store" | tail -n 8)"
            wait_for '[ "$(n_bad $m "$kind")" -gt 0 ]' 15 &&
                ok "$t: $app writes fail ($(since $m "$kind" | awk '{print $2}' | sort | uniq -c | xargs))" ||
                not_ok "$t: $app writes fail" "$(since $m "$kind" | awk '{print $2}' | sort | uniq -c)"
            # The disk stays bad across restarts of the store.
            wait_for 'k get pods -n "$ns" 2>/dev/null | grep "^$store-" | grep -q CrashLoopBackOff' 30 &&
                ok "$t: $store crash-loops while the fault lasts (CrashLoopBackOff)" ||
                not_ok "$t: crash loop" "$(k get pods -n "$ns" | grep "^$store-")" "$(store_log "$ns" "$store" | tail -n 5)"
            ;;
        esac
        if [ "$t" = io-errors ] && [ "$ns" = $NS ]; then
            # The fault's process dies uncleanly: its strace gets SIGTERM
            # (PDEATHSIG) and detaches; recover --all still ends every
            # tracer and leaves no process of the store traced.
            # (between two runs of the crash loop nothing is traced, and a run
            # is short: wait through several restarts of the back-off)
            tracers="$AIOPSLAB_HOME/tracers"
            wait_for '[ -n "$(traced_by "$LABDIR/faults/io-tracers-$id")" ]' 90 &&
                ok "io-errors: the store's processes are traced (TracerPid)" ||
                not_ok "io-errors: traced" "$(cat "$LABDIR/faults/io-tracers-$id" 2>&1)"
            cp "$LABDIR/faults/io-tracers-$id" "$tracers" 2>/dev/null
            kill -9 "$(pgrep -f -- "--lab $LAB __fault-run $id\$")"
            o=$(al fault recover --all 2>&1)
            [ "$o" = "1 fault recovered" ] && ok "io-errors: recover --all after kill -9 of the fault's process" ||
                not_ok "io-errors: recover --all" "$o"
            [ -z "$(traced_by "$tracers")" ] && ok "io-errors: no process traced any more" ||
                not_ok "io-errors: still traced" "$(traced_by "$tracers")"
        else
            o=$(al fault recover "$id" 2>&1)
            [ "$o" = "fault $id recovered" ] && ok "$t: recovered" || not_ok "$t: recover" "$o"
        fi
        m=$(mark)
        wait_for 'all_ready '$ns' && [ "$(since $m $kind | tail -n 3 | grep -c "^$kind 200 ")" = 3 ]' 60 &&
            ok "$t: $app writes succeed again, every pod Ready" ||
            not_ok "$t: $app healthy again" "$(k get pods -n "$ns" | grep -v ' 1/1 ')" "$(since $m "$kind" | tail -n 3)"
    done
}
# Rows of one table in a digest.
rows() { jq -r --arg s "$2" --arg d "$3" --arg t "$4" '.stores[$s][$d][$t].rows' <<<"$1"; } # DIGEST STORE DB TABLE
md5() { jq -r --arg s "$2" --arg d "$3" --arg t "$4" '.stores[$s][$d][$t].md5' <<<"$1"; }

# The data: with synchronous_commit=off, a PostgreSQL crash (the PANIC on
# an I/O error) may lose what was committed in the last 3 x wal_writer_delay
# (600 ms; the load writes at most 5 times in that), never more, and the
# store stays consistent. So: rows appear only for requests made, and the
# acknowledged writes missing are at most 5 per restart of the store.
data_intact() { # NS STORE DB TABLE KIND D0 D1 MARK RESTARTS-BEFORE
    local r0 r1 good bad crashes lost
    r0=$(rows "$6" "$2" "$3" "$4")
    r1=$(rows "$7" "$2" "$3" "$4")
    good=$(n_ok "$8" "$5")
    bad=$(n_bad "$8" "$5")
    # PostgreSQL restarts itself after a backend's PANIC (restart_after_crash)
    # and the container only when the postmaster fails: count both.
    crashes=$(($(restart_count "$1" "$(pod_of "$2" "$1")") - $9 + $(store_log "$1" "$2" | grep -c ' PANIC: ')))
    lost=$((r0 + good - r1))
    [ "$r1" -le $((r0 + good + bad)) ] && [ "$lost" -le $((5 * crashes)) ] &&
        ok "$2: data intact ($4: $r0 -> $r1 rows; $good writes answered 200, $bad not; $lost acknowledged lost in $crashes crashes)" ||
        not_ok "$2: data intact" "$4: $r0 -> $r1 rows, answered 200: $good, not: $bad, store restarts: $crashes"
}

load_stop hotel
d0=$(al fault digest -n $NS 2>&1) || not_ok "digest of $NS" "$d0"
m0=$(mark)
rc0=$(restart_count $NS "$(pod_of mongodb-reservation)")
load_start hotel
store_faults $NS mongodb-reservation R reservation slow-io io-errors disk-full
load_stop hotel
d1=$(al fault digest -n $NS 2>&1) || not_ok "digest of $NS after" "$d1"
data_intact $NS mongodb-reservation reservation-db public.reservations R "$d0" "$d1" "$m0" "$rc0"
[ "$(md5 "$d0" mongodb-reservation reservation-db public.hotel_capacity)" = \
    "$(md5 "$d1" mongodb-reservation reservation-db public.hotel_capacity)" ] &&
    [ "$(jq -c '.stores | del(.["mongodb-reservation"])' <<<"$d0")" = "$(jq -c '.stores | del(.["mongodb-reservation"])' <<<"$d1")" ] &&
    ok "the other tables and stores are unchanged (digest)" || not_ok "unchanged tables" "$(diff <(jq -S . <<<"$d0") <(jq -S . <<<"$d1"))"

# ---- SocialNetwork's post-storage-mongodb ------------------------------------------------------
out=$(timeout 240 "$AIOPSLAB" --lab "$LAB" deploy social-network 2>&1) || bail_out "deploy social-network" "$out"
SNFE="http://$(cluster_ip $SN nginx-thrift):8080/wrk2-api"
d0=$(al fault digest -n $SN 2>&1) || not_ok "digest of $SN" "$d0"
m0=$(mark)
rc0=$(restart_count $SN "$(pod_of post-storage-mongodb $SN)")
load_start social
types=(io-errors)
[ "$FULL" = 1 ] && types=(slow-io io-errors disk-full) || skip "slow-io, disk-full on post-storage-mongodb" "AIOPSLAB_FAULTS_FULL=1 runs them"
store_faults $SN post-storage-mongodb C compose-post "${types[@]}"
load_stop social
d1=$(al fault digest -n $SN 2>&1) || not_ok "digest of $SN after" "$d1"
data_intact $SN post-storage-mongodb post public.posts C "$d0" "$d1" "$m0" "$rc0"

[ "$(al fault status)" = "No active faults." ] && ok "no fault left active" || not_ok "faults left" "$(al fault status)"
done_testing
