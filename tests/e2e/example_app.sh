#!/bin/bash
# example_app: the example app's programs on their own, without a lab, as
# ordinary processes on 127.0.0.1 wired by the Kubernetes-style env vars:
# GET / crosses words, counter and a real redis-server; downstream failures
# give 502/503 with the real error in the body and in a JSON log line;
# bad requests are bounded; SIGTERM ends each program cleanly.
source "$(dirname "$0")/lib.sh"

BIN="$BUILD/apps/bin"
for p in example-frontend example-words example-counter; do
    [ -x "$BIN/$p" ] || bail_out "$p is built" "missing $BIN/$p"
done
command -v redis-server >/dev/null || bail_out "redis-server is installed"
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$AIOPSLAB_HOME"' EXIT
D=$AIOPSLAB_HOME

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
RP=$(free_port) WP=$(free_port) CP=$(free_port) FP=$(free_port)

redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no >"$D/redis.log" 2>&1 &
redis=$!
start_words() { PORT=$WP HOSTNAME=words-a "$BIN/example-words" >>"$D/words.log" 2>&1 & words=$!; }
start_words
PORT=$CP CACHE_SERVICE_HOST=127.0.0.1 CACHE_SERVICE_PORT=$RP "$BIN/example-counter" >"$D/counter.log" 2>&1 &
counter=$!
PORT=$FP HOSTNAME=frontend-a GREETING='Hi "you"' WORDS_SERVICE_HOST=127.0.0.1 WORDS_SERVICE_PORT=$WP \
    COUNTER_SERVICE_HOST=127.0.0.1 COUNTER_SERVICE_PORT=$CP "$BIN/example-frontend" >"$D/frontend.log" 2>&1 &
frontend=$!
URL="http://127.0.0.1:$FP"
wait_for '[ "$(http_code "$URL/healthz")" = 200 ] && [ "$(http_code "http://127.0.0.1:$WP/healthz")" = 200 ] &&
          [ "$(http_code "http://127.0.0.1:$CP/healthz")" = 200 ] && redis-cli -p $RP ping' 10 &&
    ok "all three programs and redis answer /healthz" || bail_out "all three programs answer /healthz" "$(cat "$D"/*.log)"

body=$(http_get "$URL/")
jq -e '.greeting == "Hi \"you\"" and .word != "" and .count == 1 and .pod == "frontend-a" and .words_pod == "words-a"' \
    <<<"$body" >/dev/null 2>&1 && ok "GET /: greeting, word, count 1, pod names" || not_ok "GET /: greeting, word, count 1, pod names" "$body"
c=$(http_get "$URL/" | jq -r .count)
[ "$c" = 2 ] && ok "count 2 on the second request" || not_ok "count 2 on the second request (got $c)"
[ "$(redis-cli -p "$RP" get example:count)" = 2 ] && ok "the count lives in redis" || not_ok "the count lives in redis"
[ "$(http_get "http://127.0.0.1:$CP/count")" = '{"count":2}' ] && ok "counter GET /count" || not_ok "counter GET /count"
n=$(for i in $(seq 30); do http_get "http://127.0.0.1:$WP/word" | jq -r .word; done | sort -u | grep -c .)
[ "$n" -ge 5 ] && ok "words: random words ($n distinct in 30)" || not_ok "words: random words ($n distinct in 30)"
line=$(grep '"msg":"GET / 200 ' "$D/frontend.log" | head -n 1)
jq -e '(.ts | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$")) and .level == "info" and .service == "frontend"
       and (.msg | test("^GET / 200 [0-9.]+ms$"))' <<<"$line" >/dev/null 2>&1 &&
    ok "one JSON log line per request" || not_ok "one JSON log line per request" "$line"

# ---- downstream failures ------------------------------------------------------------
kill "$words"
wait "$words" 2>/dev/null
rc=$?
[ "$rc" = 0 ] && ok "words exits 0 on SIGTERM" || not_ok "words exits 0 on SIGTERM (got $rc)"
grep -q '"msg":"received SIGTERM, shutting down"' "$D/words.log" && ok "words logs its shutdown" || not_ok "words logs its shutdown"
code=$(http_code "$URL/")
body=$(http_get "$URL/")
[ "$code" = 502 ] && [ "$body" = "{\"error\":\"connect to words:$WP failed: Connection refused\"}" ] &&
    ok "words down: 502 connect to words:PORT failed: Connection refused" || not_ok "words down: 502 with the error" "$code $body"
grep -q "\"level\":\"error\",\"service\":\"frontend\",\"msg\":\"connect to words:$WP failed: Connection refused\"" "$D/frontend.log" &&
    ok "words down: error log line" || not_ok "words down: error log line" "$(tail -n 3 "$D/frontend.log")"
start_words
wait_for '[ "$(http_code "$URL/")" = 200 ]' 5 && ok "words back: 200" || not_ok "words back: 200"

kill -STOP "$redis"
t0=$(date +%s%N)
code=$(curl -s -o "$D/body" -w '%{http_code}' --max-time 10 "$URL/")
ms=$((($(date +%s%N) - t0) / 1000000))
kill -CONT "$redis"
[ "$code" = 502 ] && grep -q 'counter:[0-9]* answered 503: read from cache:[0-9]* failed: timed out' "$D/body" &&
    ok "cache hung: 502 naming counter's 503 and the cache timeout" || not_ok "cache hung: 502 with the cause" "$code $(cat "$D/body")"
[ "$ms" -lt 3000 ] && ok "cache hung: answered within the timeouts (${ms} ms)" || not_ok "cache hung: answered within the timeouts (${ms} ms)"
kill "$redis"
wait "$redis" 2>/dev/null
code=$(http_code "http://127.0.0.1:$CP/incr")
[ "$code" = 503 ] && grep -q "connect to cache:$RP failed: Connection refused" <<<"$(http_get "http://127.0.0.1:$CP/incr")" &&
    ok "cache down: counter 503 Connection refused" || not_ok "cache down: counter 503 Connection refused" "$code"

# No Service variables at all: 503 and a message that says which.
LP=$(free_port)
PORT=$LP "$BIN/example-frontend" >"$D/lonely.log" 2>&1 &
lonely=$!
LURL="http://127.0.0.1:$LP"
wait_for '[ "$(http_code "$LURL/healthz")" = 200 ]' 5
code=$(http_code "$LURL/")
[ "$code" = 503 ] && grep -q 'WORDS_SERVICE_HOST' <<<"$(http_get "$LURL/")" && ok "no WORDS_SERVICE_HOST: 503 saying so" ||
    not_ok "no WORDS_SERVICE_HOST: 503 saying so" "$code $(http_get "$LURL/")"
kill "$lonely"

# ---- bounded, well-behaved HTTP ---------------------------------------------------------
[ "$(http_code "$URL/nope")" = 404 ] && ok "404 for an unknown path" || not_ok "404 for an unknown path"
[ "$(http_code -X POST "$URL/")" = 405 ] && ok "405 for POST /" || not_ok "405 for POST /"
big=$(head -c 20000 /dev/zero | tr '\0' a)
[ "$(http_code -H "X-Big: $big" "$URL/healthz")" = 431 ] && ok "431 for a 20 KB header" || not_ok "431 for a 20 KB header"
out=$(printf 'garbage\r\n\r\n' | timeout 5 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
s.sendall(sys.stdin.buffer.read()); print(s.recv(100).split(b"\r\n")[0].decode())' "$FP" 2>&1)
[ "$out" = "HTTP/1.1 400 Bad Request" ] && ok "400 for a malformed request line" || not_ok "400 for a malformed request line" "$out"
# A client that connects and sends nothing is dropped after the I/O timeout, not kept forever;
# meanwhile others are served.
python3 -c 'import socket, sys, time; s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); time.sleep(8)' "$FP" &
silent=$!
[ "$(http_code "$URL/healthz")" = 200 ] && ok "a silent client does not block others" || not_ok "a silent client does not block others"
for pid in $frontend $counter $words; do kill "$pid"; done
rcs=""
for pid in $frontend $counter $words; do wait "$pid" 2>/dev/null; rcs="$rcs$? "; done
kill "$silent" 2>/dev/null
wait "$silent" 2>/dev/null
[ "$rcs" = "0 0 0 " ] && ok "all exit 0 on SIGTERM" || not_ok "all exit 0 on SIGTERM ($rcs)"
done_testing
