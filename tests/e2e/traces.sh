#!/bin/bash
# End-to-end test of the trace store: starts `aiopslab __traces` alone on a
# hand-made lab ($AIOPSLAB_HOME/labs/tracestest, net 141), posts OTLP JSON
# spans with curl, reads them back through every query endpoint and the
# `aiopslab traces` commands, and checks malformed input is refused, the
# span bound is enforced, and SIGTERM stops it cleanly. Prints TAP lines.
source "$(dirname "$0")/lib.sh"
NET=${TRACES_TEST_NET:-141}
P=127.$NET.0.1
OTLP=http://$P:4318
Q=http://$P:16686
D=$AIOPSLAB_HOME/labs/tracestest
TPID=
cleanup() {
    [ -n "$TPID" ] && kill "$TPID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$AIOPSLAB_HOME"
}
trap cleanup EXIT
al() { AIOPSLAB_LAB=tracestest "$AIOPSLAB" "$@"; }
mkdir -p "$D"
echo "{\"name\":\"tracestest\",\"net\":$NET}" >"$D/lab.json"

"$AIOPSLAB" __traces --lab-dir "$D" --max-spans 200 --max-body 65536 >"$AIOPSLAB_HOME/traces.out" 2>&1 &
TPID=$!
for _ in $(seq 50); do
    [ -s "$D/traces/traces.pid" ] && curl -s -m 2 -o /dev/null "$Q/api/services" && break
    sleep 0.1
done
if [ "$(cat "$D/traces/traces.pid" 2>/dev/null)" = "$TPID" ]; then ok "starts and writes traces.pid"; else
    bail_out "starts and writes traces.pid" "$(cat "$AIOPSLAB_HOME/traces.out")"
    exit 1
fi

post() { # BODY [CONTENT-TYPE] -> "STATUS BODY"
    curl -s -m 10 -o "$AIOPSLAB_HOME/resp" -w '%{http_code}' -X POST -H "Content-Type: ${2:-application/json}" \
        --data-binary "$1" "$OTLP/v1/traces"
    echo " $(cat "$AIOPSLAB_HOME/resp")"
}
get() { curl -s -m 10 "$Q$1"; }
status() { curl -s -m 10 -o /dev/null -w '%{http_code}' "$Q$1"; }

NOW=$(date +%s%N)
T1=0af7651916cd43dd8448eb211c80319c
T2=0af7651916cd43dd8448eb211c8031ff
span() { # TRACE SPAN PARENT NAME KIND START_OFFSET_MS DURATION_MS [STATUS_CODE] [ATTRS]
    local s=$((NOW + $6 * 1000000)) e=$((NOW + ($6 + $7) * 1000000))
    printf '{"traceId":"%s","spanId":"%s","parentSpanId":"%s","name":"%s","kind":%s,"startTimeUnixNano":"%s","endTimeUnixNano":"%s","status":{"code":%s,"message":"m"},"attributes":[%s]}' \
        "$1" "$2" "$3" "$4" "$5" "$s" "$e" "${8:-0}" "${9:-}"
}
resource() { # SERVICE SPANS...
    local svc=$1
    shift
    local IFS=,
    printf '{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"%s"}},{"key":"pod","value":{"stringValue":"%s-0"}}]},"scopeSpans":[{"scope":{"name":"kit"},"spans":[%s]}]}' \
        "$svc" "$svc" "$*"
}
BODY="{\"resourceSpans\":[$(resource frontend \
    "$(span $T1 1000000000000001 "" "GET /hotels" 2 0 120)" \
    "$(span $T2 2000000000000001 "" "GET /login" 2 10 5 2 '{"key":"http.status_code","value":{"intValue":"500"}}')"),$(resource search \
    "$(span $T1 1000000000000002 1000000000000001 "Nearby" 2 5 100)" \
    "$(span $T2 2000000000000002 2000000000000001 "Login" 2 11 3 2)")]}"
r=$(post "$BODY")
if [ "$r" = '200 {"partialSuccess":{}}' ]; then ok "OTLP POST answers 200 partialSuccess"; else not_ok "OTLP POST answers 200 partialSuccess" "$r"; fi
sleep 1.2 # the writer commits at least every second

r=$(get /api/services)
check "/api/services lists both services" test "$(jq -c .data <<<"$r")" = '["frontend","search"]'
r=$(get /api/services/frontend/operations)
check "/api/services/{s}/operations" test "$(jq -c .data <<<"$r")" = '["GET /hotels","GET /login"]'
r=$(get "/api/operations?service=search")
check "/api/operations?service= gives kinds" test "$(jq -c '.data[0]' <<<"$r")" = '{"name":"Login","spanKind":"server"}'
r=$(get "/api/traces?service=frontend&lookback=5m&limit=20")
check "/api/traces by service finds both traces, whole" \
    test "$(jq -c '[.data[] | [.traceID, (.spans | length), ([.processes[].serviceName] | sort)]] | sort' <<<"$r")" \
    = "[[\"$T1\",2,[\"frontend\",\"search\"]],[\"$T2\",2,[\"frontend\",\"search\"]]]"
check "Jaeger shape: references, µs times, envelope" test "$(jq -c "[.total, .errors, (.data[] | select(.traceID==\"$T1\") | .spans[] | select(.spanID==\"1000000000000002\") | .references[0].refType, .duration)]" <<<"$r")" = '[2,null,"CHILD_OF",100000]'
r=$(get "/api/traces?service=frontend&operation=GET%20%2Fhotels")
check "/api/traces by operation" test "$(jq -c '[.data[].traceID]' <<<"$r")" = "[\"$T1\"]"
r=$(get "/api/traces?service=search&tags=%7B%22error%22%3A%22true%22%7D")
check "/api/traces by tags error=true" test "$(jq -c '[.data[].traceID]' <<<"$r")" = "[\"$T2\"]"
r=$(get "/api/traces?service=frontend&tags=%7B%22http.status_code%22%3A%22500%22%7D")
check "/api/traces by an attribute tag" test "$(jq -c '[.data[].traceID]' <<<"$r")" = "[\"$T2\"]"
r=$(get "/api/traces?service=search&minDuration=50ms")
check "/api/traces by minDuration" test "$(jq -c '[.data[].traceID]' <<<"$r")" = "[\"$T1\"]"
r=$(get "/api/traces?service=search&maxDuration=50ms")
check "/api/traces by maxDuration" test "$(jq -c '[.data[].traceID]' <<<"$r")" = "[\"$T2\"]"
r=$(get "/api/traces?service=frontend&limit=1")
check "/api/traces limit" test "$(jq '.data | length' <<<"$r")" = 1
r=$(get "/api/traces/$T1")
check "/api/traces/{id}" test "$(jq -c '[.data[0].traceID, (.data[0].spans | length)]' <<<"$r")" = "[\"$T1\",2]"
check "/api/traces/{unknown id} is 404" test "$(status /api/traces/0000000000000000000000000000abcd)" = 404
check "/api/traces/{bad id} is 400" test "$(status /api/traces/nothex)" = 400
r=$(get "/api/traces?lookback=5m")
check "/api/traces without service: 400 with a Jaeger error" test "$(jq -r '.errors[0].msg' <<<"$r")" = "parameter 'service' is required"
check "bad lookback/limit/tags are 400" test "$(status "/api/traces?service=x&lookback=5x")$(status "/api/traces?service=x&limit=abc")$(status "/api/traces?service=x&tags=%5B")" = 400400400

# malformed input
r=$(post '{"resourceSpans":[')
check "malformed JSON is 400 with a message" test "${r%% *}" = 400 -a -n "$(jq -r .message <<<"${r#* }")"
r=$(post '[1,2]')
check "a non-OTLP body is 400" test "${r%% *}" = 400
r=$(post '{}' application/x-protobuf)
check "protobuf is 415" test "${r%% *}" = 415
check "GET /v1/traces is 405" test "$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$OTLP/v1/traces")" = 405
big=$(head -c 100000 /dev/zero | tr '\0' ' ')
r=$(post "{\"resourceSpans\":[]}$big")
check "a body over --max-body is 413" test "${r%% *}" = 413
r=$(post "{\"resourceSpans\":[$(resource frontend "$(span zz 1 "" bad 2 0 1)")]}")
check "spans with bad ids are rejected and counted" test "$(jq -c .partialSuccess.rejectedSpans <<<"${r#* }")" = 1

# the CLI
out=$(al traces services 2>&1)
check "traces services" test "$out" = $'frontend\nsearch'
out=$(al traces find --service frontend --lookback 5m 2>&1)
check "traces find" grep -q "$T1 .*frontend: GET /hotels" <<<"$out"
out=$(al traces find --service frontend --errors 2>&1)
check "traces find --errors" test "$(grep -c 0af7 <<<"$out")" = 1 -a -n "$(grep "$T2" <<<"$out")"
out=$(al traces find --service search --min-duration 50ms --operation Nearby 2>&1)
check "traces find --min-duration --operation" grep -q "$T1" <<<"$out"
out=$(al traces show "$T2" 2>&1)
check "traces show prints the tree with errors" grep -q "^ *1.00ms .*  search: Login  ERROR: m" <<<"$out"
out=$(al traces summary --lookback 15m 2>&1)
check "traces summary: slowest, erroring, error rates" \
    grep -q "frontend  *2  *2  *1  *50.00%" <<<"$out"
check "traces summary lists the erroring trace" grep -A2 "^Erroring" <<<"$out" | grep -q "$T2"
out=$(al traces find --service frontend --lookback soon 2>&1)
check "traces find with a bad window fails clearly" test $? -ne 0 -a -n "$(grep -i duration <<<"$out")"
out=$(al traces show xyz 2>&1)
check "traces show with a bad id fails clearly" grep -q "hex digits" <<<"$out"

# the bound: --max-spans 200; 300 more spans push the first traces out
codes=
for chunk in 0 1 2; do # three posts of 100 (each under --max-body)
    spans=()
    for i in $(seq $((chunk * 100 + 1)) $((chunk * 100 + 100))); do
        spans+=("$(span "$(printf '%032x' $((i + 4096)))" "$(printf '%016x' "$i")" "" bulk 1 20 1)")
    done
    r=$(post "{\"resourceSpans\":[$(resource bulk "${spans[@]}")]}")
    codes="$codes${r%% *}"
done
check "bulk posts accepted" test "$codes" = 200200200
sleep 2.2
check "max-spans bound: the oldest trace is gone" test "$(status "/api/traces/$T1")" = 404
n=$(get "/api/traces?service=bulk&limit=1500" | jq '.data | length')
check "max-spans bound: at most 200 spans kept" test "$n" -le 200 -a "$n" -ge 150
check "/metrics counts pruned spans" grep -q '^traces_spans_pruned_total [1-9]' <<<"$(get /metrics)"

# SIGTERM
kill -TERM "$TPID"
for _ in $(seq 50); do kill -0 "$TPID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$TPID" 2>/dev/null; then not_ok "exits on SIGTERM"; else
    wait "$TPID"
    rc=$?
    check "exits 0 on SIGTERM and removes traces.pid" test "$rc" = 0 -a ! -e "$D/traces/traces.pid"
fi
TPID=
out=$(al traces services 2>&1)
check "CLI says the trace store is not running" grep -q "not running" <<<"$out"
check "the log says it stopped" grep -q "traces stopped" "$D/logs/traces.log"
done_testing
