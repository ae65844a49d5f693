#!/bin/bash
# faults_network: the Network layer's fault types on live apps under load.
# The example app serves a steady loop of requests (frontend -> words,
# frontend -> counter -> cache); each type is injected (and verified by
# the engine), its symptom is checked where an SRE would look — the
# callers' latency and errors by kind, the frontend's logs, the mesh's
# per-edge metrics — then it is recovered and the app is healthy again.
# dns-failure is also run on HotelReservation, whose services reach their
# stores by name: a restarted profile pod cannot resolve its database.
source "$(dirname "$0")/lib.sh"

lab_up
deploy_example >/dev/null 2>&1 || bail_out "deploy example" "$(k get pods -n example 2>&1)"
FE=$(cluster_ip example frontend)
wait_for '[ "$(http_code "http://$FE:8080/")" = 200 ]' 20 && ok "example app serves" || bail_out "example app serves"
MESH="http://127.$NET.0.1:15090/metrics"

# ---- the workload: one request after another, "CODE SECONDS CURL-EXIT" a line ----------
LOAD="$AIOPSLAB_HOME/load.txt"
: >"$LOAD"
(while :; do
    curl -s -o /dev/null -m 4 -w '%{http_code} %{time_total} ' "http://$FE:8080/"
    echo $?
    sleep 0.05
done >>"$LOAD" 2>/dev/null) &
mark() { wc -l <"$LOAD"; }
# Requests since MARK: "N OK SLOW ERRORS" (SLOW: took >= SECONDS).
since() { # MARK SECONDS
    tail -n +$(($1 + 1)) "$LOAD" | awk -v s="$2" '{n++; if ($1 == 200) ok++; else err++; if ($2 >= s) slow++}
        END {printf "%d %d %d %d\n", n, ok, slow, err}'
}
# Let the load run SECONDS from now; print the window's figures.
window() { # SECONDS THRESHOLD
    local m
    m=$(mark)
    sleep "$1"
    since "$m" "$2"
}
# Sum of a mesh series over the edge SRC -> DST (label regex EXTRA optional).
mval() { # METRIC SRC DST [EXTRA]
    curl -s -m 5 "$MESH" | grep "^$1{" | grep "source_workload=\"$2\"" | grep "destination_service=\"$3\"" |
        grep -- "${4:-}" | awk '{s += $NF} END {printf "%.6f\n", s + 0}'
}
inject() { # TYPE TARGET [PARAMS...]: sets ID
    local type=$1 target=$2 p=() out
    shift 2
    for a in "$@"; do p+=(--param "$a"); done
    out=$(al fault inject "$type" -n example --target "$target" "${p[@]}" 2>&1)
    ID=$(sed -n 's/^fault \([0-9]*\) injected.*symptom seen after.*/\1/p' <<<"$out")
    [ -n "$ID" ] && ok "inject $type on $target: verified ($out)" || not_ok "inject $type on $target" "$out"
}
recover() { # NAME: recover $ID; the load is all 200 and fast again
    local out w
    out=$(al fault recover "$ID" 2>&1)
    [ "$out" = "fault $ID recovered" ] || not_ok "$1: recover" "$out"
    # The request in flight may have started under the fault: wait for the next one to begin.
    w=$(mark)
    wait_for "[ \$(mark) -gt $w ]" 6
    w=$(window 1.5 1)
    read -r n good slow err <<<"$w"
    [ "$n" -ge 3 ] && [ "$good" = "$n" ] && [ "$slow" = 0 ] && ok "$1: recovered, requests all 200 and fast ($w)" ||
        not_ok "$1: recovered, healthy" "n ok slow err: $w" "$(al mesh rule list)"
}

w=$(window 2 1)
read -r n good slow err <<<"$w"
[ "$n" -ge 5 ] && [ "$good" = "$n" ] && [ "$slow" = 0 ] && ok "baseline: requests all 200 and fast ($w)" ||
    not_ok "baseline" "$w"

# ---- network-delay: latency, in the load and in the mesh's request duration -------------
inject network-delay words delay=300ms
# Taken after the engine saw the symptom: every request counted from here started under the rule.
s0=$(mval mesh_request_duration_seconds_sum frontend words)
c0=$(mval mesh_request_duration_seconds_count frontend words)
w=$(window 3 0.3)
read -r n good slow err <<<"$w"
[ "$n" -ge 2 ] && [ "$good" = "$n" ] && [ "$slow" = "$n" ] && ok "delay: every request 200 but >= 300 ms ($w)" ||
    not_ok "delay: requests slow" "n ok slow err: $w"
s1=$(mval mesh_request_duration_seconds_sum frontend words)
c1=$(mval mesh_request_duration_seconds_count frontend words)
mean=$(awk -v a="$s0" -v b="$s1" -v c="$c0" -v d="$c1" 'BEGIN {print (d > c) ? (b - a) / (d - c) : 0}')
awk -v m="$mean" 'BEGIN {exit !(m >= 0.2)}' && ok "delay: the mesh's mean request duration frontend -> words is ${mean}s" ||
    not_ok "delay: mesh request duration" "mean $mean"
recover "delay"

# ---- network-loss: a tail of retransmission timeouts --------------------------------------
inject network-loss words percent=10
w=$(window 5 0.19)
read -r n good slow err <<<"$w"
[ "$slow" -ge 1 ] && [ "$slow" -lt "$n" ] && ok "loss 10%: a tail of requests takes >= 200 ms, others do not ($w)" ||
    not_ok "loss: tail latency" "n ok slow err: $w"
recover "loss"

# ---- network-reset: errors of kind "reset", requests never reach words ------------------
inject network-reset words
sleep 0.3 # a request already past the mesh when the rule came may still be answered
o0=$(mval mesh_tcp_connections_opened_total frontend words)
r0=$(mval mesh_requests_total frontend words)
w=$(window 2 5)
read -r n good slow err <<<"$w"
[ "$n" -ge 3 ] && [ "$err" = "$n" ] && ok "reset: every request fails ($w)" || not_ok "reset: errors" "n ok slow err: $w"
out=$(al logs -n example frontend --since 5s --grep 'words' --tail 3 2>&1)
grep -qi 'reset by peer' <<<"$out" && ok "reset: the frontend logs 'Connection reset by peer' for words" ||
    not_ok "reset: frontend logs" "$out"
o1=$(mval mesh_tcp_connections_opened_total frontend words)
r1=$(mval mesh_requests_total frontend words)
awk -v a="$o0" -v b="$o1" -v c="$r0" -v d="$r1" 'BEGIN {exit !(b > a && d == c)}' &&
    ok "reset: the mesh counts connections to words ($o0 -> $o1) but no requests ($r0 -> $r1)" ||
    not_ok "reset: mesh metrics" "opened $o0 -> $o1, requests $r0 -> $r1"
recover "reset"

# ---- network-bandwidth: every request waits for its bytes --------------------------------
inject network-bandwidth words rate=300
w=$(window 3 0.25)
read -r n good slow err <<<"$w"
[ "$n" -ge 2 ] && [ "$slow" -ge $((n * 8 / 10)) ] && ok "bandwidth 300 B/s: requests take >= 250 ms ($w)" ||
    not_ok "bandwidth: slow requests" "n ok slow err: $w"
recover "bandwidth"

# ---- network-partition: frontend cut off from words (both ways); counter still reaches it -
inject network-partition words peer=frontend
w=$(window 4 2.5)
read -r n good slow err <<<"$w"
[ "$n" -ge 1 ] && [ "$err" = "$n" ] && ok "partition: the frontend's requests fail after its 3 s deadline ($w)" ||
    not_ok "partition: errors" "n ok slow err: $w"
out=$(al logs -n example frontend --since 6s --grep 'words' --tail 3 2>&1)
grep -qi 'timed out\|timeout' <<<"$out" && ok "partition: the frontend logs a timeout for words" ||
    not_ok "partition: frontend logs" "$out"
CT=$(pods_of example counter | head -1)
r=$(k exec -n example "$CT" -- curl -s -o /dev/null -m 3 -w '%{http_code}' http://words:9090/word 2>&1)
[ "$r" = 200 ] && ok "partition: counter -> words still answers 200" || not_ok "partition: counter -> words" "$r"
recover "partition"

# ---- network-blackhole on counter: everyone's calls hang -----------------------------------
inject network-blackhole counter
sleep 0.3
q0=$(mval mesh_requests_total frontend counter)
w=$(window 4 2.5)
read -r n good slow err <<<"$w"
[ "$n" -ge 1 ] && [ "$err" = "$n" ] && [ "$slow" = "$n" ] && ok "blackhole: requests hang to the frontend's deadline, then fail ($w)" ||
    not_ok "blackhole: errors" "n ok slow err: $w"
q1=$(mval mesh_requests_total frontend counter)
[ "$q0" = "$q1" ] && ok "blackhole: the mesh sees no request reach counter" || not_ok "blackhole: requests" "$q0 -> $q1"
recover "blackhole"

# ---- http-abort: half of words' requests answered 503 by the proxy -------------------------
a0=$(mval mesh_requests_total frontend words 'response_code="503"')
inject http-abort words status=503 percent=50
w=$(window 3 5)
read -r n good slow err <<<"$w"
[ "$err" -ge 1 ] && [ "$good" -ge 1 ] && ok "abort 50%: some requests fail, some pass ($w)" || not_ok "abort: errors" "n ok slow err: $w"
a1=$(mval mesh_requests_total frontend words 'response_code="503"')
awk -v a="$a0" -v b="$a1" 'BEGIN {exit !(b > a)}' && ok "abort: the mesh counts 503s frontend -> words ($a0 -> $a1)" ||
    not_ok "abort: mesh 503s" "$a0 -> $a1"
out=$(al logs -n example frontend --since 4s --grep 'answered 503' --tail 1 2>&1)
grep -q 'words:9090 answered 503' <<<"$out" && ok "abort: the frontend logs words' 503" || not_ok "abort: frontend logs" "$out"
recover "abort"

# ---- slow-close: the close of words' answers comes 1 s late ---------------------------------
inject slow-close words delay=1s
r=$(k exec -n example "$CT" -- python3 -c '
import socket, time
s = socket.create_connection(("words", 9090), timeout=5)
s.sendall(b"GET /word HTTP/1.0\r\n\r\n"); t = time.time(); d = b""
while True:
    x = s.recv(4096)
    if not x: break
    d += x
print(int((time.time() - t) * 1000), d.split(b"\r\n")[0].decode())' 2>&1)
read -r ms v code rest <<<"$r"
[ "${code:-}" = 200 ] && [ "${ms:-0}" -ge 950 ] && ok "slow-close: a caller reading to the close waits >= 1 s ($r)" ||
    not_ok "slow-close: caller" "$r"
recover "slow-close"

# ---- dns-failure: the frontend's pods cannot resolve words; ClusterIP callers unaffected ---
inject dns-failure words from=frontend
FP=$(pods_of example frontend | head -1)
r=$(k exec -n example "$FP" -- curl -s -o /dev/null -m 3 -w '%{http_code}' http://words:9090/word; echo " $?")
[ "$r" = "000 6" ] && ok "dns: curl words from a frontend pod: could not resolve host (exit 6)" || not_ok "dns: frontend pod" "$r"
r=$(k exec -n example "$CT" -- curl -s -o /dev/null -m 3 -w '%{http_code}' http://words:9090/word)
[ "$r" = 200 ] && ok "dns: counter resolves words" || not_ok "dns: counter" "$r"
w=$(window 1.5 5)
read -r n good slow err <<<"$w"
[ "$good" = "$n" ] && ok "dns: the frontend's calls by ClusterIP variable keep working ($w)" || not_ok "dns: load" "$w"
recover "dns"
r=$(k exec -n example "$FP" -- curl -s -o /dev/null -m 3 -w '%{http_code}' http://words:9090/word)
[ "$r" = 200 ] && ok "dns: the frontend pod resolves words again" || not_ok "dns: after recover" "$r"

# ---- refused, and nothing left behind ------------------------------------------------------
out=$(al fault inject http-abort -n example --target cache 2>&1)
[ $? != 0 ] && grep -q 'does not speak HTTP' <<<"$out" && ok "http-abort on redis is refused" || not_ok "abort on redis" "$out"
out=$(al fault inject network-delay -n example --target words --param delay=100ms --param jitter=200ms 2>&1)
[ $? != 0 ] && grep -q 'jitter (200 ms) must not exceed delay' <<<"$out" && ok "jitter above delay refused" ||
    not_ok "jitter above delay" "$out"
out=$(al fault inject network-partition -n example --target words --param peer=words 2>&1)
[ $? != 0 ] && ok "a partition of words from itself is refused" || not_ok "partition from itself" "$out"
[ -z "$(al mesh rule list)" ] && [ "$(al fault status)" = "No active faults." ] &&
    ok "no mesh rule and no fault left" || not_ok "left behind" "$(al mesh rule list)" "$(al fault status)"
M=$(curl -s -m 5 "$MESH")
! grep -qiE 'fault|rule|partition|blackhole|abort' <<<"$M" && ok "the mesh's metrics never name a fault" ||
    not_ok "metrics name a fault"
# verify probed as the services' own callers: no edge from outside the app to an inner service.
! grep -qE 'source_workload="unknown",destination_namespace="example",destination_service="(words|counter)"' <<<"$M" &&
    ok "the verify probes left no unknown-source edge to words or counter" ||
    not_ok "unknown-source edges" "$(grep 'source_workload="unknown"' <<<"$M" | head -5)"

# ---- HotelReservation: dns-failure on profile's database ------------------------------------
NS=test-hotel-reservation
kill %1 2>/dev/null
out=$(timeout 150 "$AIOPSLAB" --lab "$LAB" deploy hotel-reservation 2>&1) || bail_out "deploy hotel-reservation" "$out"
HFE="http://$(cluster_ip $NS frontend):5000"
HURL="$HFE/hotels?inDate=2015-04-09&outDate=2015-04-11&lat=38.0235&lon=-122.095"
wait_for '[ "$(http_code "$HURL")" = 200 ]' 20 && ok "hotel-reservation serves a search" || bail_out "hotel search"
out=$(al fault inject dns-failure -n $NS --target mongodb-profile --param from=profile 2>&1)
ID=$(sed -n 's/^fault \([0-9]*\) injected.*symptom seen after.*/\1/p' <<<"$out")
[ -n "$ID" ] && ok "hotel: dns-failure on mongodb-profile from profile: verified" || not_ok "hotel: inject dns" "$out"
k delete pod -n $NS "$(pods_of $NS profile | head -1)" >/dev/null 2>&1
wait_for '[ "$(http_code "$HURL")" != 200 ]' 20 && ok "hotel: after profile restarts, searches fail ($(http_code "$HURL"))" ||
    not_ok "hotel: searches fail"
wait_for 'al logs -n $NS profile --since 30s --grep "mongodb-profile" | grep -qi "translate host name\|resolve"' 15 &&
    ok "hotel: profile logs that it cannot resolve mongodb-profile" ||
    not_ok "hotel: profile logs" "$(al logs -n $NS profile --since 30s --tail 5 2>&1)"
out=$(al fault recover "$ID")
[ "$out" = "fault $ID recovered" ] && ok "hotel: recovered" || not_ok "hotel: recover" "$out"
wait_for '[ "$(http_code "$HURL")" = 200 ]' 30 && ok "hotel: searches answer 200 again" ||
    not_ok "hotel: healthy after recover" "$(k get pods -n $NS 2>&1 | grep -v Running)"
done_testing
