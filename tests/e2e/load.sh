#!/bin/bash
# End-to-end tests of `aiopslab load`: the command line (help, bad
# arguments), runs against a local nginx (rates, phases, replay, seeds),
# the JSON report, the Prometheus endpoint during a run, a target that is
# down, an interrupted run, and --app without a lab. No lab is started.
. "$(dirname "$0")/lib.sh"
PATH=$PATH:/usr/sbin
[ -x "$AIOPSLAB" ] || bail_out "aiopslab is built" "missing $AIOPSLAB"
command -v nginx >/dev/null || { skip "load generator against nginx" "nginx is missing"; done_testing; exit $?; }
W=$AIOPSLAB_HOME/load
mkdir -p "$W/html" "$W/ngx"
chmod 755 "$AIOPSLAB_HOME" "$W" # nginx workers run as nobody when started by root
printf 'hello\n' >"$W/html/index.html"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
cat >"$W/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $W/ngx/nginx.pid;
error_log $W/ngx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $W/ngx; proxy_temp_path $W/ngx; fastcgi_temp_path $W/ngx;
    uwsgi_temp_path $W/ngx; scgi_temp_path $W/ngx;
    server { listen 127.0.0.1:$PORT; root $W/html; location /missing { return 404; } }
}
CONF
timeout 300 nginx -c "$W/nginx.conf" -p "$W" 2>"$W/ngx/stderr" &
NGX=$!
trap 'kill $NGX 2>/dev/null; rm -rf "$AIOPSLAB_HOME"' EXIT
wait_for "curl -sf http://127.0.0.1:$PORT/" 10 || bail_out "nginx is up" "$(cat "$W/ngx/stderr" "$W/ngx/error.log" 2>/dev/null)"
URL="http://127.0.0.1:$PORT/"
load() { timeout 60 "$AIOPSLAB" load "$@"; }
jqr() { jq -r "$1" "$W/out.json"; }

# ---- command line -------------------------------------------------------

out=$(load --help 2>&1) && grep -q -- '--pattern' <<<"$out" && grep -q 'diurnal' <<<"$out" &&
    ok "load --help" || not_ok "load --help" "$out"

bad_arg() { # NAME EXPECTED-TEXT ARGS...
    local name=$1 want=$2 out rc
    shift 2
    out=$(load run "$@" 2>&1)
    rc=$?
    if [ "$rc" = 2 ] && grep -qi -- "$want" <<<"$out"; then ok "bad arguments: $name"; else
        not_ok "bad arguments: $name" "exit $rc, wanted 2 and \"$want\"" "$out"; fi
}
bad_arg "no target" "give a target" --rate 10
bad_arg "two targets" "give a target" --url "$URL" --app social-network --rate 10
bad_arg "unknown pattern" "unknown pattern" --url "$URL" --pattern wave --rate 10
bad_arg "bad rate" "bad --rate" --url "$URL" --rate fast
bad_arg "bad duration" "bad --duration" --url "$URL" --rate 10 --duration 5x
bad_arg "https" "only http://" --url "https://127.0.0.1/" --rate 10
bad_arg "bad phases" "PATTERN:RATE:DURATION" --url "$URL" --phases "constant:10"
bad_arg "unknown option" "unknown option" --url "$URL" --rate 10 --frobnicate 1
bad_arg "ramp without --to" "--to" --url "$URL" --pattern ramp --rate 10
bad_arg "burst without a spike rate" "burst" --url "$URL" --pattern burst --rate 10
bad_arg "replay without a trace" "trace" --url "$URL" --pattern replay
bad_arg "an option of another pattern" "is for --pattern diurnal" --url "$URL" --rate 10 --amplitude 0.3
bad_arg "bad threads" "bad --threads" --url "$URL" --rate 10 --threads 0
bad_arg "unknown mix" "unknown mix" --app social-network --mix nope --rate 10

# ---- runs against nginx -------------------------------------------------

if load run --url "$URL" --rate 500 --duration 2s --connections 8 --json >"$W/out.json" 2>"$W/err"; then
    c=$(jqr .requests.completed) e=$(jqr .errors.total) r=$(jqr .achieved_rate) p=$(jqr .latency_ms.p50)
    if [ "$c" = 1000 ] && [ "$e" = 0 ] && awk -v r="$r" -v p="$p" 'BEGIN { exit !(r >= 495 && r <= 505 && p > 0) }'; then
        ok "constant 500/s for 2s: 1000 answers, no errors, rate within 1%"
    else not_ok "constant 500/s for 2s" "completed $c errors $e rate $r p50 $p"; fi
else not_ok "constant run" "$(cat "$W/err")"; fi

out=$(load run --url "$URL" --rate 200 --duration 1s 2>&1) && grep -q '^latency' <<<"$out" && grep -q 'p99.99' <<<"$out" &&
    ok "the summary shows the latency percentiles" || not_ok "summary" "$out"

load run --url "$URL" --phases "constant:200:1s,ramp:200-600:1s" --json >"$W/out.json" 2>"$W/err"
c=$(jqr .requests.completed 2>/dev/null)
[ "${c:-0}" -ge 598 ] && [ "$c" -le 602 ] && [ "$(jqr '.schedule | length')" = 2 ] &&
    ok "phases: constant then ramp (600 requests)" || not_ok "phases" "completed $c" "$(cat "$W/err")"

printf '{"phases":[{"pattern":"step","rate":100,"by":100,"every":"500ms","duration":"1s"}]}' >"$W/sched.json"
load run --url "$URL" --schedule "$W/sched.json" --json >"$W/out.json" 2>"$W/err"
c=$(jqr .requests.completed 2>/dev/null)
[ "${c:-0}" -ge 148 ] && [ "$c" -le 152 ] && ok "JSON schedule file (step: 150 requests)" ||
    not_ok "JSON schedule" "completed $c" "$(cat "$W/err")"

printf '# t\n5.0\n5.1\n5.1\n5.4\n5.9\n' >"$W/trace.txt"
load run --url "$URL" --pattern replay --trace "$W/trace.txt" --json >"$W/out.json" 2>"$W/err"
[ "$(jqr .requests.completed 2>/dev/null)" = 5 ] && awk -v e="$(jqr .elapsed_s)" 'BEGIN { exit !(e >= 0.85 && e < 3) }' &&
    ok "replay of a trace file (5 requests over 0.9s)" || not_ok "replay" "$(cat "$W/out.json" "$W/err")"

offered() { load run --url "$URL" --pattern poisson --rate 300 --duration 1s --seed "$1" --json 2>/dev/null | jq -r .requests.offered; }
a=$(offered 7) b=$(offered 7) c=$(offered 8)
[ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" != "$c" ] && ok "seeded: same seed, same Poisson arrivals ($a, $b; seed 8: $c)" ||
    not_ok "seeded" "seed 7: $a and $b, seed 8: $c"

load run --url "http://127.0.0.1:$PORT/missing" --rate 100 --duration 500ms --json >"$W/out.json" 2>"$W/err"
rc=$?
[ "$rc" = 1 ] && [ "$(jqr .errors.http_4xx)" = 50 ] && grep -q "no request succeeded" "$W/err" &&
    ok "404s are counted as http_4xx errors (exit 1)" || not_ok "4xx" "exit $rc" "$(cat "$W/out.json" "$W/err")"

DOWN=$(free_port)
load run --url "http://127.0.0.1:$DOWN/" --rate 100 --duration 500ms --json >"$W/out.json" 2>"$W/err"
rc=$?
[ "$rc" = 1 ] && [ "$(jqr .errors.connect)" -ge 40 ] && [ "$(jqr .requests.completed)" = 0 ] &&
    ok "a target that is down: connect errors, exit 1" || not_ok "target down" "exit $rc" "$(cat "$W/out.json" "$W/err")"

# ---- metrics during a run, and an interrupted run -----------------------

MP=$(free_port)
timeout 60 "$AIOPSLAB" load run --url "$URL" --rate 300 --duration 30s --metrics-port "$MP" --json >"$W/bg.json" 2>"$W/bg.err" &
BG=$!
if wait_for "curl -sf http://127.0.0.1:$MP/metrics | grep -q '^load_requests_completed_total [1-9]'" 10; then
    curl -sf "http://127.0.0.1:$MP/metrics" >"$W/metrics.txt"
    grep -q '^load_offered_rate 300' "$W/metrics.txt" && grep -q 'load_errors_total{kind="connect"} 0' "$W/metrics.txt" &&
        grep -q 'load_request_duration_seconds_bucket{le="+Inf"}' "$W/metrics.txt" &&
        ok "--metrics-port serves offered rate, errors by kind and the latency histogram" ||
        not_ok "metrics content" "$(head -40 "$W/metrics.txt")"
    if command -v promtool >/dev/null; then
        check "promtool check metrics accepts the exposition" sh -c "promtool check metrics <'$W/metrics.txt'"
    else skip "promtool check metrics" "promtool is missing"; fi
else not_ok "--metrics-port serves /metrics" "$(cat "$W/bg.err")"; fi
t0=$(date +%s%N)
kill -INT $BG
wait $BG
rc=$?
t=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" = 0 ] && [ "$t" -lt 3000 ] && [ "$(jq -r .interrupted "$W/bg.json")" = true ] &&
    [ "$(jq -r .requests.completed "$W/bg.json")" -gt 0 ] &&
    ok "SIGINT ends the run within ${t}ms and still prints the report" || not_ok "SIGINT" "exit $rc after ${t}ms" "$(cat "$W/bg.json" "$W/bg.err")"
curl -s --max-time 1 "http://127.0.0.1:$MP/metrics" >/dev/null && not_ok "the metrics port closes with the run" || ok "the metrics port closes with the run"

# ---- apps ----------------------------------------------------------------

out=$(load run --app social-network --rate 10 --duration 1s 2>&1)
rc=$?
[ "$rc" = 1 ] && grep -q "cannot reach the lab" <<<"$out" && ok "--app without a lab: a clear error" ||
    not_ok "--app without a lab" "exit $rc" "$out"

done_testing
