#!/bin/bash
# hotel_reservation: HotelReservation deploys from nothing and answers
# DeathStarBench's API through the frontend's ClusterIP: search and
# recommendation (each require) answer GeoJSON, login with a good and a bad
# password, a reservation is made, one over the hotel's 200 rooms is
# refused (and a full hotel drops out of search), bad parameters are 400
# with a JSON error, an unknown hotel 404; the spans of one search form one
# trace across frontend, search, geo, rate, profile and reservation; a
# stopped store (mongodb-geo scaled to 0) makes geo log real errors and the
# frontend answer 5xx, and everything recovers when the store returns.
source "$(dirname "$0")/lib.sh"

NS=test-hotel-reservation
lab_up
# ---- an OTLP sink, and a copy of the app that sends its spans there --------
app_with_otlp_sink hotel-reservation $((20000 + NET * 10))

t0=$(date +%s%N)
out=$(AIOPSLAB_APPS_DIR="$APPS" timeout 100 "$AIOPSLAB" --lab "$LAB" deploy hotel-reservation 2>&1)
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ $rc = 0 ] && ok "deploy hotel-reservation (${ms} ms)" || bail_out "deploy hotel-reservation (exit $rc)" "$out"
diag "deploy to Ready: $ms ms"
n=$(k get deploy -n $NS -o json | jq '[.items[] | select(.status.readyReplicas == 1)] | length')
[ "$n" = 17 ] && ok "17 Deployments ready (8 services, 6 PostgreSQL, 3 memcached)" ||
    not_ok "17 Deployments ready (got $n)" "$(k get deploy -n $NS 2>&1)"

restarts=$(k get pods -n $NS -o json | jq -r '.items[] | select(.status.containerStatuses[0].restartCount > 0) | .metadata.name')
[ -z "$restarts" ] && ok "no container restarted while the app came up" || not_ok "no container restarted while the app came up" "$restarts"

FE="http://$(cluster_ip $NS frontend):5000"
# curl with the status on the last line.
req() { # METHOD PATH [CURL ARGS...]
    local m=$1 p=$2
    shift 2
    curl -s --max-time 10 -X "$m" -w '\n%{http_code}' "$@" "$FE$p"
}
status_of() { tail -n 1 <<<"$1"; }
body_of() { sed '$d' <<<"$1"; }
expect() { # NAME RESPONSE STATUS JQ-FILTER
    local st body
    st=$(status_of "$2")
    body=$(body_of "$2")
    if [ "$st" = "$3" ] && jq -e "$4" >/dev/null 2>&1 <<<"$body"; then ok "$1"; else not_ok "$1" "status $st (want $3)" "$body"; fi
}

# ---- search ------------------------------------------------------------------------
r=$(req GET "/hotels?inDate=2015-04-09&outDate=2015-04-11&lat=38.0235&lon=-122.095")
expect "search: GeoJSON FeatureCollection of nearby hotels" "$r" 200 '
    .type == "FeatureCollection" and (.features | length) >= 1 and (.features | length) <= 5 and
    all(.features[]; .type == "Feature" and (.id | test("^[0-9]+$")) and (.properties.name | length) > 0 and
        (.properties.phone_number | length) > 0 and .geometry.type == "Point" and
        (.geometry.coordinates[0] + 122.095 | fabs) < 0.2 and (.geometry.coordinates[1] - 38.0235 | fabs) < 0.2)'
r=$(req GET "/hotels?inDate=2015-04-09&outDate=2015-04-11&lat=10.0&lon=10.0")
expect "search far from every hotel: an empty FeatureCollection" "$r" 200 '.type == "FeatureCollection" and .features == []'

# ---- recommendations -------------------------------------------------------------------
for want in dis rate price; do
    r=$(req GET "/recommendations?require=$want&lat=38.0235&lon=-122.095")
    expect "recommendations require=$want: hotels as GeoJSON" "$r" 200 \
        '.type == "FeatureCollection" and (.features | length) >= 1 and all(.features[]; .type == "Feature")'
    eval "rec_$want=\$(body_of \"\$r\" | jq -c '[.features[].id]')"
done
# The nearest hotel to a hotel's own coordinates is that hotel.
lonlat=$(body_of "$(req GET "/hotels?inDate=2015-04-09&outDate=2015-04-10&lat=38.0235&lon=-122.095")" |
    jq -r '.features[0] | "\(.id) \(.geometry.coordinates[1]) \(.geometry.coordinates[0])"')
read -r hid hlat hlon <<<"$lonlat"
r=$(req GET "/recommendations?require=dis&lat=$hlat&lon=$hlon")
expect "recommendations require=dis at hotel $hid's coordinates: hotel $hid" "$r" 200 "[.features[].id] == [\"$hid\"]"
[ "$rec_rate" != "$rec_price" ] && ok "require=rate and require=price recommend different hotels" ||
    not_ok "require=rate and require=price recommend different hotels" "rate: $rec_rate" "price: $rec_price"
r=$(req GET "/recommendations?require=cheap&lat=38.0235&lon=-122.095")
expect "recommendations require=cheap: 400 JSON error" "$r" 400 '.error == "Please specify require params"'

# ---- login ---------------------------------------------------------------------------
r=$(req POST "/user?username=Cornell_42&password=42424242424242424242")
expect "login Cornell_42 with the right password" "$r" 200 '.message == "Login successfully!"'
r=$(req POST "/user?username=Cornell_500&password=$(printf '500%.0s' {1..10})")
expect "login Cornell_500 (the last user)" "$r" 200 '.message == "Login successfully!"'
r=$(req POST "/user?username=Cornell_42&password=4242424242424242424")
expect "login with a wrong password: 401 and DSB's message" "$r" 401 '.message | startswith("Failed. Please check your username and password.")'
r=$(req POST "/user?username=Cornell_501&password=501501501501501501501501501501")
expect "login as an unknown user: 401" "$r" 401 '.message | startswith("Failed.")'
r=$(req POST "/user?username=Cornell_1")
expect "login without a password: 400 JSON error" "$r" 400 '.error == "Please specify username and password"'

# ---- reservation -----------------------------------------------------------------------
resv() { # HOTEL IN OUT NUMBER [USER PASSWORD]
    local u=${5:-Cornell_7} p=${6:-7777777777}
    req POST "/reservation?inDate=$2&outDate=$3&lat=38.0235&lon=-122.095&hotelId=$1&customerName=$u&username=$u&password=$p&number=$4"
}
r=$(resv 5 2015-04-10 2015-04-12 1)
expect "reservation: Reserve successfully!" "$r" 200 '.message == "Reserve successfully!"'
r=$(resv 5 2015-04-10 2015-04-12 1 Cornell_7 wrong)
expect "reservation with a wrong password: 401, nothing booked" "$r" 401 '.message | startswith("Failed.")'
# Hotel hid (nearest the centre): fill the night of 2015-04-20 to its 200 rooms.
r=$(resv "$hid" 2015-04-19 2015-04-21 150)
expect "reserve 150 of hotel $hid's 200 rooms" "$r" 200 '.message == "Reserve successfully!"'
r=$(resv "$hid" 2015-04-20 2015-04-22 51)
expect "51 more rooms for a night with 50 left: refused (409, DSB's message)" "$r" 409 '.message == "Failed. Already reserved. "'
r=$(resv "$hid" 2015-04-21 2015-04-22 51)
expect "51 rooms on a night outside that stay: booked" "$r" 200 '.message == "Reserve successfully!"'
r=$(resv "$hid" 2015-04-20 2015-04-21 50)
expect "the last 50 rooms of the night: booked" "$r" 200 '.message == "Reserve successfully!"'
r=$(resv "$hid" 2015-04-20 2015-04-21 1)
expect "one room more on the full night: refused" "$r" 409 '.message == "Failed. Already reserved. "'
r=$(req GET "/hotels?inDate=2015-04-20&outDate=2015-04-21&lat=$hlat&lon=$hlon")
expect "search for the full night leaves hotel $hid out" "$r" 200 "[.features[].id] | index(\"$hid\") == null"
r=$(req GET "/hotels?inDate=2015-04-22&outDate=2015-04-23&lat=$hlat&lon=$hlon")
expect "search for another night still finds hotel $hid" "$r" 200 "[.features[].id] | index(\"$hid\") != null"
# Concurrent bookings never exceed the capacity: 30 parallel requests of 10
# rooms for one night of an empty hotel, room for 20 of them.
pids=()
for i in $(seq 30); do
    resv 9 2015-04-15 2015-04-16 10 >"$AIOPSLAB_HOME/par.$i" &
    pids+=($!)
done
wait "${pids[@]}"
cat "$AIOPSLAB_HOME"/par.* >"$AIOPSLAB_HOME/par.out"
okc=$(grep -c 'Reserve successfully' "$AIOPSLAB_HOME/par.out")
full=$(grep -c 'Already reserved' "$AIOPSLAB_HOME/par.out")
[ "$okc" = 20 ] && [ "$full" = 10 ] && ok "30 parallel bookings of 10 rooms: exactly 20 succeed" ||
    not_ok "30 parallel bookings of 10 rooms: exactly 20 succeed (got $okc ok, $full full)" "$(head -c 600 "$AIOPSLAB_HOME/par.out")"

# ---- bad input ------------------------------------------------------------------------
r=$(req GET "/hotels?lat=38&lon=-122")
expect "search without dates: 400 JSON error" "$r" 400 '.error == "Please specify inDate/outDate params"'
r=$(req GET "/hotels?inDate=2015-4-9&outDate=2015-04-11&lat=38&lon=-122")
expect "search with a malformed date: 400" "$r" 400 '.error | test("YYYY-MM-DD")'
r=$(req GET "/hotels?inDate=2015-04-12&outDate=2015-04-11&lat=38&lon=-122")
expect "search with outDate before inDate: 400" "$r" 400 '.error | test("inDate/outDate")'
r=$(req GET "/hotels?inDate=2015-04-09&outDate=2015-04-11&lat=abc&lon=-122")
expect "search with lat=abc: 400" "$r" 400 '.error == "Please specify location params"'
r=$(req GET "/hotels?inDate=2015-04-09&outDate=2015-04-11&lat=95&lon=-122")
expect "search with lat=95: 400" "$r" 400 '.error == "Please specify location params"'
r=$(resv abc 2015-04-10 2015-04-11 1)
expect "reservation with hotelId=abc: 400" "$r" 400 '.error | test("hotelId")'
r=$(resv 5 2015-04-10 2015-04-11 0)
expect "reservation of 0 rooms: 400" "$r" 400 '.error | test("number")'
r=$(resv 5 2015-04-10 2015-04-11 201)
expect "reservation of 201 rooms: 400" "$r" 400 '.error | test("number")'
r=$(req POST "/reservation?inDate=2015-04-10&outDate=2015-04-11&hotelId=5&username=Cornell_7&password=7777777777")
expect "reservation without customerName: 400" "$r" 400 '.error == "Please specify customerName params"'
r=$(resv 999 2015-04-10 2015-04-11 1)
expect "reservation at unknown hotel 999: 404 JSON error" "$r" 404 '.error | test("hotel 999 not found")'
big=$(head -c 20000 /dev/zero | tr '\0' a)
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST "$FE/user?username=$big&password=x")
case "$code" in 4*) ok "a 20 kB username is refused ($code)" ;; *) not_ok "a 20 kB username is refused" "status $code" ;; esac
r=$(req GET "/hotels?inDate=2015-04-09&outDate=2015-04-11&lat=38.0235&lon=-122.095")
[ "$(status_of "$r")" = 200 ] && ok "the frontend still answers after bad input" || not_ok "the frontend still answers after bad input" "$r"

# ---- one trace across the call graph ------------------------------------------------------
tid=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
r=$(req GET "/hotels?inDate=2015-04-10&outDate=2015-04-12&lat=38.0235&lon=-122.095" \
    -H "traceparent: 00-$tid-00f067aa0ba902b7-01")
[ "$(status_of "$r")" = 200 ] || not_ok "traced search answers" "$r"
want='["frontend","geo","profile","rate","reservation","search"]'
services() {
    jq -sc --arg t "$tid" '[.[] | .resourceSpans[]? | (.resource.attributes // [] | map(select(.key == "service.name"))[0].value.stringValue) as $s
        | .scopeSpans[]?.spans[]? | select(.traceId == $t) | $s] | unique' "$SPANS" 2>/dev/null
}
if wait_for '[ "$(services)" = "$want" ]' 15; then
    ok "the spans of one search form one trace: frontend, search, geo, rate, reservation, profile"
else
    not_ok "the spans of one search form one trace" "services seen: $(services)" "sink: $(tail -n 5 "$AIOPSLAB_HOME/sink.log")"
fi
parents=$(jq -sr --arg t "$tid" '[.[] | .resourceSpans[]?.scopeSpans[]?.spans[]? | select(.traceId == $t)] as $s
    | ($s | map(.spanId)) as $ids
    | if ($s | length) < 6 then "only \($s | length) spans"
      else [$s[] | select(.parentSpanId != "00f067aa0ba902b7" and (.parentSpanId as $p | $ids | index($p) | not))] | length end' "$SPANS" 2>/dev/null)
[ "$parents" = 0 ] && ok "every span's parent is in the trace (or the caller's span)" ||
    not_ok "every span's parent is in the trace" "orphans: $parents"

# ---- a store goes away and comes back -------------------------------------------------------
k scale deploy/mongodb-geo -n $NS --replicas=0 >/dev/null
# Gone, not just terminating: sessions opened before last until postgres exits.
wait_for '[ -z "$(endpoint_addrs $NS mongodb-geo)" ] && [ -z "$(k get pods -n $NS -l app=mongodb-geo -o name 2>/dev/null)" ]' 30 ||
    diag "mongodb-geo still there: $(k get pods -n $NS -l app=mongodb-geo 2>&1)"
r=$(req GET "/hotels?inDate=2015-04-09&outDate=2015-04-11&lat=38.0235&lon=-122.095")
st=$(status_of "$r")
case "$st" in 5*) ok "mongodb-geo down: search answers $st" ;; *) not_ok "mongodb-geo down: search answers 5xx" "status $st" "$r" ;; esac
body_of "$r" | jq -e '.error | length > 0' >/dev/null && ok "the 5xx carries the cause as JSON" ||
    not_ok "the 5xx carries the cause as JSON" "$r"
geo=$(pods_of $NS geo | head -n 1)
if wait_for 'k logs -n $NS "$geo" | grep "\"level\":\"error\"" | grep -qiE "refused|connect|timeout"' 10; then
    ok "geo logs the real error"
    diag "$(k logs -n $NS "$geo" | grep '"level":"error"' | tail -n 1)"
else
    not_ok "geo logs the real error" "$(k logs -n $NS "$geo" 2>&1 | tail -n 5)"
fi
r=$(req GET "/recommendations?require=dis&lat=38.0235&lon=-122.095")
[ "$(status_of "$r")" = 200 ] && ok "recommendations (no geo) still answer" || not_ok "recommendations (no geo) still answer" "$r"
k scale deploy/mongodb-geo -n $NS --replicas=1 >/dev/null
if wait_for '[ "$(status_of "$(req GET "/hotels?inDate=2015-04-09&outDate=2015-04-11&lat=38.0235&lon=-122.095")")" = 200 ]' 45; then
    ok "search recovers by itself when mongodb-geo returns"
else
    not_ok "search recovers by itself when mongodb-geo returns" "$(req GET "/hotels?inDate=2015-04-09&outDate=2015-04-11&lat=38.0235&lon=-122.095")" "$(k logs -n $NS "$geo" 2>&1 | tail -n 5)"
fi
r=$(req GET "/hotels?inDate=2015-04-09&outDate=2015-04-11&lat=38.0235&lon=-122.095")
expect "after recovery search finds hotels again" "$r" 200 '(.features | length) >= 1'
[ "$(restart_count $NS "$geo")" = 0 ] && ok "geo rode out the outage without a restart" ||
    not_ok "geo rode out the outage without a restart" "restarts: $(restart_count $NS "$geo")"

done_testing
