#!/bin/bash
# End-to-end: the mesh's network faults in a real lab. The example app is
# deployed; rules are added and deleted with `aiopslab mesh rule` (the
# daemon's mesh-rule op, which the fault library uses too) and observed
# from inside a pod with curl: delay, HTTP abort, partition (one source),
# black hole, 100 % loss, bandwidth, slow close and a dns rule, plus the
# cluster DNS itself and the daemon's validation of rule parameters.
. "$(dirname "$0")/lib.sh"

lab_up
deploy_example >/dev/null 2>&1 || bail_out "example app deployed" "$(k get pods -n example 2>&1)"
FE=$(pods_of example frontend | head -1)
CT=$(pods_of example counter | head -1)
[ -n "$FE" ] && [ -n "$CT" ] || bail_out "frontend and counter pods" "$(k get pods -n example 2>&1)"
WORDS="http://words:9090/word"
# curl from inside a pod (its env: the shim, its pod IP): prints "CODE EXIT MS".
pcurl() { # POD URL [curl args...]
    local pod=$1 url=$2
    shift 2
    k exec -n example "$pod" -- sh -c 't0=$(date +%s%N); c=$(curl -s -o /dev/null -w "%{http_code}" "$@" "$0"); rc=$?; t1=$(date +%s%N); echo "$c $rc $(( (t1 - t0) / 1000000 ))"' "$url" "$@"
}
rule() { al mesh rule add "$@" 2>&1; }
del() { al mesh rule delete "$1" >/dev/null 2>&1; }

# The cluster DNS: a pod reaches a Service by its names.
r=$(pcurl "$FE" "$WORDS")
check "dns: curl http://words:9090/ from a pod ($r)" grep -q "^200 0 " <<<"$r"
r=$(pcurl "$FE" "http://words.example.svc.cluster.local:9090/word")
check "dns: the fully qualified name too ($r)" grep -q "^200 0 " <<<"$r"

FRONT="http://frontend:8080/"
r=$(pcurl "$CT" "$FRONT")
check "dns: the frontend's kit calls go to Services by name and work ($r)" grep -q "^200 0 " <<<"$r"

# Validation: clear errors, nothing stored.
out=$(rule --to example/words --loss 0); rc=$?
check "cli: --loss 0 refused (rc $rc)" test $rc = 2
out=$(rule --to example/words --abort 700); rc=$?
check "cli: --abort 700 refused (rc $rc)" test $rc = 2
out=$(rule --to example/words --partition); rc=$?
check "daemon: a partition without --from is refused ($out)" bash -c "[ $rc = 1 ] && grep -q 'needs a source workload' <<<'$out'"
out=$(rule --to example/words --delay 100ms --jitter 200ms); rc=$?
check "daemon: jitter above the delay is refused ($out)" bash -c "[ $rc = 1 ] && grep -q 'jitterMs must be between 0 and 100' <<<'$out'"
out=$(rule --to example/words --reset --direction to); rc=$?
check "daemon: direction on a reset is refused ($out)" grep -q "direction applies to" <<<"$out"
out=$(rule --to example/words --abort 503 --reset); rc=$?
check "cli: one fault per rule (rc $rc)" test $rc = 2
check "nothing stored by refused rules" test -z "$(al mesh rule list)"

# Delay.
out=$(rule --to example/words --delay 300ms --id d1)
r=$(pcurl "$FE" "$WORDS")
check "delay 300ms: request through the mesh takes >= 600 ms ($out; $r)" bash -c "read c e m <<<'$r'; [ \$c = 200 ] && [ \$m -ge 600 ]"
del d1
# Abort.
rule --to example/words --abort 503 --id a1 >/dev/null
r=$(k exec -n example "$FE" -- curl -s -w ' %{http_code}' "$WORDS" 2>&1)
check "abort 503: the mesh answers 'fault filter abort' ($r)" test "$r" = "fault filter abort 503"
del a1
# Partition frontend -> words: frontend's connects hang; counter still gets through.
rule --to example/words --from example/frontend --partition --id p1 >/dev/null
r=$(pcurl "$FE" "$WORDS" --connect-timeout 1)
check "partition: frontend's connect times out on its own 1 s ($r)" bash -c "read c e m <<<'$r'; [ \$e = 28 ] && [ \$m -lt 3000 ]"
r=$(pcurl "$CT" "$WORDS")
check "partition: counter -> words unaffected ($r)" grep -q "^200 0 " <<<"$r"
del p1
r=$(pcurl "$FE" "$WORDS")
check "partition deleted: frontend -> words works again ($r)" grep -q "^200 0 " <<<"$r"
# Black hole and 100 % loss: every source, connect timeouts.
rule --to example/words --drop --id b1 >/dev/null
r=$(pcurl "$CT" "$WORDS" --connect-timeout 1)
check "blackhole: connect timeout ($r)" grep -q "^000 28 " <<<"$r"
del b1
rule --to example/words --loss 100 --id l1 >/dev/null
r=$(pcurl "$CT" "$WORDS" --connect-timeout 1)
check "loss 100%: connect timeout ($r)" grep -q "^000 28 " <<<"$r"
del l1
# Bandwidth on responses: the frontend page through a 200 B/s link.
rule --to example/words --bandwidth 200 --direction from --id w1 >/dev/null
r=$(pcurl "$CT" "$WORDS")
size=$(k exec -n example "$CT" -- curl -s "$WORDS" | wc -c)
check "bandwidth 200 B/s: a ${size}-byte body (plus its head) takes >= size / 200 s ($r)" \
    bash -c "read c e m <<<'$r'; [ \$c = 200 ] && [ \$m -ge \$(( $size * 1000 / 200 * 8 / 10 )) ]"
del w1
# Slow close: a caller that reads until the close waits 1 s more.
rule --to example/words --slow-close 1s --id s1 >/dev/null
r=$(k exec -n example "$CT" -- python3 -c '
import socket, time
s = socket.create_connection(("words", 9090), timeout=5)
s.sendall(b"GET /word HTTP/1.0\r\n\r\n"); t = time.time(); d = b""
while True:
    x = s.recv(4096)
    if not x: break
    d += x
print(int((time.time() - t) * 1000), d.split(b"\r\n")[0].decode())' 2>&1)
check "slow close 1s: the close comes >= 1 s after the answer ($r)" bash -c "read m v c rest <<<'$r'; [ \$m -ge 950 ] && [ \$c = 200 ]"
del s1
# DNS rule: the frontend cannot resolve words; the counter can.
rule --to example/words --from example/frontend --dns nxdomain --id n1 >/dev/null
r=$(pcurl "$FE" "$WORDS")
check "dns nxdomain: curl cannot resolve (exit 6) ($r)" grep -q "^000 6 " <<<"$r"
r=$(pcurl "$CT" "$WORDS")
check "dns rule from frontend only: counter resolves ($r)" grep -q "^200 0 " <<<"$r"
rule --to example/words --dns servfail --id n2 >/dev/null
r=$(k exec -n example "$CT" -- python3 -c 'import socket
try: socket.getaddrinfo("words", 9090); print("resolved")
except socket.gaierror as e: print(e.errno)' 2>&1)
check "dns servfail: getaddrinfo says EAI_AGAIN ($r)" test "$r" = "-3"
check "rule list shows the rules" test "$(al mesh rule list | grep -c '"action":"dns"')" = 2
del n1
del n2
check "rules deleted" test -z "$(al mesh rule list)"
M=$(curl -s -m 5 "http://127.$NET.0.1:15090/metrics")
check "mesh metrics never name a rule" bash -c '! grep -qiE "fault|rule|partition|blackhole|abort" <<<"$1"' _ "$M"

done_testing
