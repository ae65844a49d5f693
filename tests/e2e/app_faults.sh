#!/bin/bash
# app_faults: the live SocialNetwork suffers application- and store-level
# faults through the mechanisms a real incident uses, and shows them the way
# a real service would.
#   - PostgreSQL roles as in production: the app's role `social` is an
#     ordinary LOGIN role owning its database and tables; the superuser
#     postgres (password from the Secret's admin-password) can REVOKE, change
#     the app's password, drop an index; the services log PostgreSQL's own
#     words ("pq: permission denied for table posts", "pq: password
#     authentication failed for user \"social\"") and recover by themselves
#     once the store is fixed.
#   - Feature flags (flagd's flags.json in the ConfigMap
#     social-network-feature-flags), taken up by the running services within
#     ~1 s of a change: Failure (500s and an error log line), HighCpu
#     (slower requests), MemoryLeak (RSS grows), SlowPath and CacheFailure
#     (post-storage reads one query per post, straight from the database);
#     an unknown flag is ignored with a warning.
#   - Releases (APP_VERSION on a Deployment, a new revision; `kubectl
#     rollout undo` is the fix): 1.1.0-rc1 fails the requests that hit a
#     bug ("runtime error: index out of range [4] with length 4"),
#     1.1.0-rc2 answers 200 with wrong data, 1.1.0-rc3 takes a slower path
#     (N+1 calls or queries, no cache).
#   - HotelReservation: the same flags (hotel-reservation-feature-flags)
#     and releases; a retry policy from hotel-config (5 retries on 5xx, no
#     back-off) turns a failing geo into ~36 geo requests per search.
source "$(dirname "$0")/lib.sh"

NS=test-social-network
lab_up
out=$(timeout 60 "$AIOPSLAB" --lab "$LAB" deploy social-network 2>&1) || bail_out "deploy social-network" "$out"
ok "deploy social-network"

FE="http://$(cluster_ip $NS nginx-thrift):8080/wrk2-api"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }
compose() { # USER_ID TEXT: the HTTP status of a compose by username_USER_ID
    code -X POST "$FE/post/compose" -d "username=username_$1" -d "user_id=$1" --data-urlencode "text=$2" -d post_type=0
}
pod_ip() { k get pods -n $NS -l "app=$1" -o json | jq -r '[.items[] | select(.metadata.deletionTimestamp == null)][0].status.podIP'; }
ADMIN_PW=$(k get secret social-network-db -n $NS -o jsonpath='{.data.admin-password}' | base64 -d)
APP_PW=$(k get secret social-network-db -n $NS -o jsonpath='{.data.password}' | base64 -d)
POSTDB=$(pod_ip post-storage-mongodb)
# SQL as the superuser postgres on a store pod's IP, as the fault library connects.
admin_sql() { # IP DB SQL
    PGPASSWORD=$ADMIN_PW timeout 10 psql -X -h "$1" -U postgres -d "$2" -Atc "$3" 2>&1
}
app_sql() { PGPASSWORD=$APP_PW timeout 10 psql -X -h "$1" -U social -d "$2" -Atc "$3" 2>&1; }
logs_of() { k logs -n $NS "deploy/$1" --tail 200 2>&1; }

# ---- 1. roles like a production setup ----------------------------------------------
r=$(admin_sql "$POSTDB" post "SELECT rolsuper, rolcanlogin FROM pg_roles WHERE rolname = 'social';
    SELECT tableowner FROM pg_tables WHERE tablename = 'posts'; SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'post'")
[ "$r" = "$(printf 'f|t\nsocial\nsocial')" ] &&
    ok "postgres (admin-password) sees social as an ordinary LOGIN role owning db post and table posts" ||
    not_ok "social is an ordinary LOGIN role owning db post and table posts" "$r"
r=$(app_sql "$POSTDB" post "ALTER ROLE social SUPERUSER")
case "$r" in *"permission denied"*|*"must be superuser"*) ok "social cannot make itself superuser" ;;
*) not_ok "social cannot make itself superuser" "$r" ;; esac
r=$(admin_sql "$POSTDB" post "SELECT indexname FROM pg_indexes WHERE tablename = 'posts'")
[ "$r" = posts_pkey ] && ok "the posts table's index is named (posts_pkey)" || not_ok "posts index named" "$r"

[ "$(compose 1 'before the fault')" = 200 ] && ok "compose works" || not_ok "compose works"
admin_sql "$POSTDB" post "REVOKE ALL ON posts FROM social" >/dev/null
st=$(compose 1 'while revoked')
if [ "$st" = 500 ] && wait_for "logs_of post-storage-service | grep -F 'pq: permission denied for table posts'" 5; then
    ok "REVOKE: compose answers 500, post-storage-service logs \"pq: permission denied for table posts\""
else
    not_ok "REVOKE: compose 500 and the permission error logged" "status $st" "$(logs_of post-storage-service | tail -5)"
fi
admin_sql "$POSTDB" post "GRANT ALL ON posts TO social" >/dev/null
[ "$(compose 1 'after GRANT')" = 200 ] && ok "GRANT back: compose works again without a restart" ||
    not_ok "GRANT back: compose works again without a restart"

admin_sql "$POSTDB" post "ALTER ROLE social PASSWORD 'changed-by-the-fault';
    SELECT count(pg_terminate_backend(pid)) >= 0 FROM pg_stat_activity WHERE usename = 'social'" >/dev/null
st=$(compose 1 'with a changed password')
if [ "$st" = 500 ] &&
    wait_for "logs_of post-storage-service | grep -F 'pq: password authentication failed for user \\\"social\\\"'" 5; then
    ok "changed password: compose 500, \"pq: password authentication failed for user \\\"social\\\"\" logged"
else
    not_ok "changed password: compose 500 and the auth error logged" "status $st" "$(logs_of post-storage-service | tail -5)"
fi
admin_sql "$POSTDB" post "ALTER ROLE social PASSWORD '$APP_PW'" >/dev/null
[ "$(compose 1 'password restored')" = 200 ] && ok "password restored: the pool reconnects by itself" ||
    not_ok "password restored: the pool reconnects by itself"

# ---- 3. feature flags ------------------------------------------------------------------
# flags.json with the given flags on (NAME=VALUE ...), every other flag gone.
set_flags() {
    local obj='{}' kv
    for kv in "$@"; do
        obj=$(jq -c --arg n "${kv%%=*}" --argjson v "${kv#*=}" \
            '. + {($n): {state: "ENABLED", variants: {on: $v, off: 0}, defaultVariant: "on"}}' <<<"$obj")
    done
    k get configmap social-network-feature-flags -n $NS -o json |
        jq --arg f "$(jq -n --argjson o "$obj" '{flags: $o}')" '.data["flags.json"] = $f | del(.metadata.resourceVersion)' |
        k apply -f - >/dev/null
}
set_flags composePostServiceFailure=100
if wait_for '[ "$(compose 2 flagged)" = 500 ]' 5 &&
    logs_of compose-post-service | grep -q 'compose_post failed: internal error'; then
    ok "composePostServiceFailure=100: composes fail with 500 and an error log line"
else
    not_ok "composePostServiceFailure=100: composes fail with 500 and an error log line" "$(logs_of compose-post-service | tail -3)"
fi
set_flags composePostServiceFailure=50
sleep 1.5 # the ConfigMap reaches the pod, the kit looks again within a second
n500=0
for i in $(seq 1 40); do [ "$(compose 2 "half $i")" = 500 ] && n500=$((n500 + 1)); done
[ "$n500" -ge 8 ] && [ "$n500" -le 32 ] && ok "composePostServiceFailure=50: $n500 of 40 fail" ||
    not_ok "composePostServiceFailure=50: about half fail" "$n500 of 40"
set_flags
wait_for '[ "$(compose 2 recovered)" = 200 ]' 5 && ok "flags off: composes work again" || not_ok "flags off: composes work again"

HT="http://$(cluster_ip $NS home-timeline-service):9090/ReadHomeTimeline"
home_ms() { curl -s -o /dev/null -w '%{time_total}' --max-time 10 -d '{"user_id": 3, "start": 0, "stop": 5}' "$HT" | awk '{printf "%d", $1 * 1000}'; }
base=$(home_ms)
set_flags homeTimelineServiceHighCpu=300
wait_for '[ "$(home_ms)" -ge 300 ]' 5 && ok "homeTimelineServiceHighCpu=300: a read takes >= 300 ms (was $base ms)" ||
    not_ok "homeTimelineServiceHighCpu=300: reads take >= 300 ms" "$(home_ms) ms"

UT=$(pods_of $NS user-timeline-service)
rss() { awk '/^VmRSS/ {print $2}' "/proc/$(container_pid $NS "$UT")/status"; }
UTURL="http://$(cluster_ip $NS user-timeline-service):9090/ReadUserTimeline"
rss0=$(rss)
set_flags userTimelineServiceMemoryLeak=1048576
sleep 1.5
for i in $(seq 1 40); do curl -s -o /dev/null --max-time 5 -d '{"user_id": 1, "start": 0, "stop": 3}' "$UTURL"; done
rss1=$(rss)
[ $((rss1 - rss0)) -ge 30000 ] && ok "userTimelineServiceMemoryLeak=1MiB: RSS grew $(((rss1 - rss0) / 1024)) MiB over 40 reads" ||
    not_ok "userTimelineServiceMemoryLeak: RSS grows" "$rss0 kB -> $rss1 kB"

# post-storage: five posts of user 1, read with the cache bypassed, batched and then one by one.
PS="http://$(cluster_ip $NS post-storage-service):9090"
ids=$(curl -s -d '{"user_id": 1, "start": 0, "stop": 5}' "$UTURL" | jq -c '[.posts[].post_id]')
selects() { curl -s "$PS/metrics" | awk '/^db_client_operations_total\{.*operation="select".*status="ok"/ {s += $NF} END {print s + 0}'; }
read5() { curl -s -o /dev/null --max-time 5 -d "{\"post_ids\": $ids}" "$PS/ReadPosts"; }
set_flags postStorageServiceCacheFailure=100
sleep 1.5
s0=$(selects); read5; s1=$(selects)
set_flags postStorageServiceCacheFailure=100 postStorageServiceSlowPath=100 cartServiceFailure=100
sleep 1.5
read5; s2=$(selects)
n=$(jq length <<<"$ids")
[ "$n" -ge 3 ] && [ $((s1 - s0)) = 1 ] && [ $((s2 - s1)) = "$n" ] &&
    ok "CacheFailure: $n posts in 1 query from the database; SlowPath: $n queries (N+1)" ||
    not_ok "CacheFailure and SlowPath on post-storage-service" "posts $ids; selects $s0 -> $s1 -> $s2"
logs_of post-storage-service | grep -q 'feature flag cartServiceFailure ignored: no service of this app is called cartService' &&
    ok "an unknown service's flag is ignored with a warning" ||
    not_ok "an unknown service's flag is ignored with a warning" "$(logs_of post-storage-service | grep flag | tail -3)"
set_flags

# ---- 4. releases ----------------------------------------------------------------------
# The version every pod behind Service SVC:PORT runs (service_build_info),
# once three reads in a row agree.
version_is() { # NS SVC PORT VERSION
    local i url="http://$(cluster_ip "$1" "$2"):$3/metrics"
    for i in 1 2 3; do
        curl -s --max-time 3 "$url" | grep -q "^service_build_info{service=\"[^\"]*\",version=\"$4\"} 1" || return 1
    done
}
set_version() { # NS VERSION PORT DEPLOY...: a new revision with APP_VERSION, serving
    local ns=$1 v=$2 port=$3 d
    shift 3
    for d in "$@"; do k set env "deploy/$d" -n "$ns" "APP_VERSION=$v" >/dev/null || return 1; done
    for d in "$@"; do wait_for "version_is $ns $d $port $v" 40 || return 1; done
}
undo() { # NS PORT DEPLOY...: kubectl rollout undo, until 1.0.0 serves again
    local ns=$1 port=$2 d
    shift 2
    for d in "$@"; do k rollout undo "deploy/$d" -n "$ns" >/dev/null || return 1; done
    for d in "$@"; do wait_for "version_is $ns $d $port 1.0.0" 40 || return 1; done
}
BODY=$(mktemp)
compose_full() { # USER TEXT MEDIA_COUNT: status (the body in $BODY)
    local ids=() types=() i
    for i in $(seq 1 "$3"); do ids+=("\"10$i\""); types+=('"png"'); done
    curl -s -o "$BODY" -w '%{http_code}' --max-time 10 -X POST "$FE/post/compose" -d "username=username_$1" \
        -d "user_id=$1" --data-urlencode "text=$2" --data-urlencode "media_ids=[$(IFS=,; echo "${ids[*]}")]" \
        --data-urlencode "media_types=[$(IFS=,; echo "${types[*]}")]" -d post_type=0
}
logs_of compose-post-service | grep -q '"msg":"starting compose-post-service version 1.0.0"' &&
    ok "the services log their version at start (compose-post-service version 1.0.0)" ||
    not_ok "starting compose-post-service version 1.0.0 logged" "$(logs_of compose-post-service | head -3)"

SNV="compose-post-service user-service post-storage-service home-timeline-service"
if set_version $NS 1.1.0-rc1 9090 $SNV; then
    ok "1.1.0-rc1 rolled out to $SNV"
    st1=$(compose_full 1 plain 0)
    st2=$(compose_full 1 'four media' 4); b2=$(cat "$BODY")
    st3=$(compose_full 4 'user 4' 0); b3=$(cat "$BODY")
    st4=$(compose_full 1 'five urls http://a.example/1 http://b.example/2 http://c.example/3 http://d.example/4 http://e.example/5' 0); b4=$(cat "$BODY")
    st5=$(compose_full 1 'hi @username_2 @username_3 @username_5 @username_6 @username_7' 0); b5=$(cat "$BODY")
    [ "$st1" = 200 ] && ok "rc1: a plain post by user 1 still works" || not_ok "rc1: a plain post works" "$st1 $(cat "$BODY")"
    case "$st2 $b2" in "500 "*"runtime error: index out of range [4] with length 4"*)
        ok "compose-post-service rc1: a post with 4 media fails: $b2" ;;
    *) not_ok "compose-post-service rc1: a post with 4 media fails" "$st2 $b2" ;; esac
    case "$st3 $b3" in "500 "*"ComposeCreatorWithUserId failed: runtime error: index out of range [4] with length 4"*)
        ok "user-service rc1: user 4 (id % 5 == 4) cannot compose" ;;
    *) not_ok "user-service rc1: user 4 cannot compose" "$st3 $b3" ;; esac
    case "$st4 $b4" in "500 "*"StorePost failed: runtime error: index out of range [4] with length 4"*)
        ok "post-storage-service rc1: a post with 5 urls is not stored" ;;
    *) not_ok "post-storage-service rc1: a post with 5 urls fails" "$st4 $b4" ;; esac
    case "$st5 $b5" in "500 "*"WriteHomeTimeline failed: runtime error: index out of range ["*) 
        ok "home-timeline-service rc1: a post mentioning 5 users fails in the fan-out" ;;
    *) not_ok "home-timeline-service rc1: 5 mentions fail" "$st5 $b5" ;; esac
    # deploy/NAME reads one pod: the old one while it is still terminating after the rollout.
    wait_for "logs_of post-storage-service | grep -q '\"level\":\"error\".*panic recovered in store_post: runtime error: index out of range \\[4\\] with length 4'" 10 &&
        ok "post-storage-service logs the recovered panic at error level" ||
        not_ok "post-storage-service logs the panic" "$(logs_of post-storage-service | tail -3)"
    undo $NS 9090 $SNV && ok "rollout undo: 1.0.0 serves again" || not_ok "rollout undo to 1.0.0"
    [ "$(compose_full 4 'user 4 again' 4)" = 200 ] && ok "after the undo, user 4 composes with 4 media" ||
        not_ok "after the undo, composes work" "$(cat "$BODY")"
else
    not_ok "1.1.0-rc1 rolled out" "$(k get pods -n $NS 2>&1 | tail -5)"
fi

# Wrong results: user 9's timelines, newest first.
UTL() { curl -s --max-time 10 -d "{\"user_id\": $1, \"start\": ${2:-0}, \"stop\": ${3:-3}}" "$UTURL" | jq -c '[.posts[].text]'; }
HTL() { curl -s --max-time 10 -d "{\"user_id\": $1, \"start\": ${2:-0}, \"stop\": ${3:-3}}" "$HT" | jq -c '[.posts[].text]'; }
for i in 1 2 3; do compose_full 9 "w$i @username_11" 0 >/dev/null; done
before=$(HTL 11)
if [ "$before" = '["w3 @username_11","w2 @username_11","w1 @username_11"]' ] &&
    set_version $NS 1.1.0-rc2 9090 home-timeline-service; then
    after=$(HTL 11)
    [ "$after" = '["w2 @username_11","w1 @username_11"]' ] || [ "$(jq -r '.[0]' <<<"$after")" = "w2 @username_11" ] &&
        ok "home-timeline-service rc2: 200, but the newest post is missing ($after)" ||
        not_ok "home-timeline-service rc2 drops the newest post" "before $before after $after"
    undo $NS 9090 home-timeline-service
    set_version $NS 1.1.0-rc2 9090 post-storage-service
    after=$(HTL 11)
    [ "$after" = '["w1 @username_11","w2 @username_11","w3 @username_11"]' ] &&
        ok "post-storage-service rc2: 200, but the timeline comes back oldest first" ||
        not_ok "post-storage-service rc2 reverses the timeline" "$after"
    undo $NS 9090 post-storage-service
    set_version $NS 1.1.0-rc2 9090 compose-post-service
    st=$(compose_full 9 "w4 @username_11" 0)
    after=$(UTL 9 0 20)
    [ "$st" = 200 ] && [ "$(jq -r '.[0]' <<<"$after")" = "w3 @username_11" ] && [ "$(jq -r '.[-1]' <<<"$after")" = "w4 @username_11" ] &&
        ok "compose-post-service rc2: the new post is accepted (200) but sinks to the bottom of the timeline" ||
        not_ok "compose-post-service rc2: the new post sinks" "status $st, $after"
    undo $NS 9090 compose-post-service
else
    not_ok "wrong-results releases" "timeline before: $before"
fi

# Slow: N+1 calls and queries, no cache.
op_count() { # SVC OPERATION|- SYSTEM-OPERATION: a counter from the service's /metrics
    curl -s "http://$(cluster_ip $NS "$1"):9090/metrics" | awk -v want="$2" '
        $0 ~ "^" want { s += $NF } END { print s + 0 }'
}
rp='http_server_requests_total\\{service="post-storage-service",operation="read_post"'
sel='db_client_operations_total\\{service="post-storage-service",system="postgresql",operation="select",status="ok"'
mcg='db_client_operations_total\\{service="user-service",system="memcached"'
if set_version $NS 1.1.0-rc3 9090 home-timeline-service post-storage-service user-service; then
    r0=$(op_count post-storage-service "$rp"); s0=$(op_count post-storage-service "$sel"); m0=$(op_count user-service "$mcg")
    HTL 11 0 4 >/dev/null
    r1=$(op_count post-storage-service "$rp"); s1=$(op_count post-storage-service "$sel")
    compose_full 9 "slow" 0 >/dev/null
    m1=$(op_count user-service "$mcg")
    [ $((r1 - r0)) = 4 ] && ok "home-timeline-service rc3: 4 posts, 4 ReadPost calls" ||
        not_ok "home-timeline-service rc3: one ReadPost per post" "$r0 -> $r1"
    [ $((s1 - s0)) = 4 ] && ok "post-storage-service rc3: 4 posts, 4 queries (no cache)" ||
        not_ok "post-storage-service rc3: a query per post" "$s0 -> $s1"
    [ "$m1" = "$m0" ] && ok "user-service rc3: a compose makes no memcached operation" ||
        not_ok "user-service rc3: no cache" "$m0 -> $m1"
    undo $NS 9090 home-timeline-service post-storage-service user-service
else
    not_ok "1.1.0-rc3 rolled out"
fi

# ---- 5. HotelReservation: flags, releases, a retry storm --------------------------------
HNS=test-hotel-reservation
out=$(timeout 90 "$AIOPSLAB" --lab "$LAB" deploy hotel-reservation 2>&1) || bail_out "deploy hotel-reservation" "$out"
ok "deploy hotel-reservation"
HFE="http://$(cluster_ip $HNS frontend):5000"
hotels() { # IN OUT LAT LON: status, the body in $BODY
    curl -s -o "$BODY" -w '%{http_code}' --max-time 15 "$HFE/hotels?inDate=2015-04-$1&outDate=2015-04-$2&lat=$3&lon=$4"
}
hmetric() { # SVC PORT REGEX: the sum of the matching series of SVC's /metrics
    curl -s "http://$(cluster_ip $HNS "$1"):$2/metrics" | awk -v want="$3" '$0 ~ "^" want { s += $NF } END { print s + 0 }'
}
set_hflags() {
    local obj='{}' kv
    for kv in "$@"; do
        obj=$(jq -c --arg n "${kv%%=*}" --argjson v "${kv#*=}" \
            '. + {($n): {state: "ENABLED", variants: {on: $v, off: 0}, defaultVariant: "on"}}' <<<"$obj")
    done
    k get configmap hotel-reservation-feature-flags -n $HNS -o json |
        jq --arg f "$(jq -n --argjson o "$obj" '{flags: $o}')" '.data["flags.json"] = $f | del(.metadata.resourceVersion)' |
        k apply -f - >/dev/null
}
[ "$(hotels 09 11 38.0235 -122.095)" = 200 ] && [ "$(jq '.features | length' "$BODY")" = 5 ] &&
    ok "hotel search: 5 hotels" || not_ok "hotel search: 5 hotels" "$(cat "$BODY")"
psel='db_client_operations_total\\{service="profile",system="postgresql",operation="select",status="ok"'
pmc='db_client_operations_total\\{service="profile",system="memcached"'
set_hflags profileCacheFailure=100 hotelServiceFailure=100
sleep 1.5
s0=$(hmetric profile 8081 "$psel"); m0=$(hmetric profile 8081 "$pmc")
hotels 09 11 38.0235 -122.095 >/dev/null
s1=$(hmetric profile 8081 "$psel"); m1=$(hmetric profile 8081 "$pmc")
set_hflags profileCacheFailure=100 profileSlowPath=100
sleep 1.5
hotels 09 11 38.0235 -122.095 >/dev/null
s2=$(hmetric profile 8081 "$psel")
[ $((s1 - s0)) = 1 ] && [ "$m1" = "$m0" ] && [ $((s2 - s1)) = 5 ] &&
    ok "profileCacheFailure: 5 profiles in 1 query, memcached untouched; profileSlowPath: 5 queries" ||
    not_ok "profileCacheFailure and profileSlowPath" "selects $s0 -> $s1 -> $s2, memcached $m0 -> $m1"
k logs -n $HNS deploy/profile --tail 100 2>&1 | grep -q 'feature flag hotelServiceFailure ignored: no service of this app is called hotelService' &&
    ok "HotelReservation: a flag of an unknown service is ignored with a warning" ||
    not_ok "HotelReservation: unknown flag warned" "$(k logs -n $HNS deploy/profile --tail 5 2>&1)"
set_hflags frontendFailure=100
wait_for '[ "$(hotels 09 11 38.0235 -122.095)" = 500 ]' 5 && ok "frontendFailure=100: searches fail with 500" ||
    not_ok "frontendFailure=100: searches fail" "$(cat "$BODY")"
set_hflags
wait_for '[ "$(hotels 09 11 38.0235 -122.095)" = 200 ]' 5 || not_ok "HotelReservation flags off: searches work"

if set_version $HNS 1.1.0-rc1 5000 frontend && set_version $HNS 1.1.0-rc1 8082 search &&
    set_version $HNS 1.1.0-rc1 8081 profile; then
    st=$(hotels 09 11 38.0235 -122.095); [ "$st" = 200 ] && ok "rc1: a 2-night search at the centre works" ||
        not_ok "rc1: a 2-night search at the centre works" "$st $(cat "$BODY")"
    st=$(hotels 09 17 38.0235 -122.095)
    case "$st $(cat "$BODY")" in "500 "*"runtime error: index out of range [7] with length 7"*)
        ok "frontend rc1: an 8-night stay fails (index out of range [7] with length 7)" ;;
    *) not_ok "frontend rc1: an 8-night stay fails" "$st $(cat "$BODY")" ;; esac
    st=$(hotels 09 11 38.2000 -122.095)
    case "$st $(cat "$BODY")" in "500 "*"runtime error: index out of range [4] with length 4"*)
        ok "search rc1: a search in the north of the area fails (index out of range [4] with length 4)" ;;
    *) not_ok "search rc1: a northern search fails" "$st $(cat "$BODY")" ;; esac
    st=$(hotels 09 11 38.0235 -121.9400)
    case "$st $(cat "$BODY")" in "500 "*"runtime error: index out of range [7] with length 7"*)
        ok "profile rc1: a search with Orinda's hotels fails" ;;
    *) not_ok "profile rc1: a search near Orinda fails" "$st $(cat "$BODY")" ;; esac
    undo $HNS 5000 frontend && undo $HNS 8082 search && undo $HNS 8081 profile &&
        [ "$(hotels 09 17 38.2000 -121.94)" = 200 ] && ok "rollout undo: HotelReservation searches work again" ||
        not_ok "rollout undo: HotelReservation searches work again" "$(cat "$BODY")"
else
    not_ok "HotelReservation 1.1.0-rc1 rolled out"
fi

# Wrong results: at (38.1999, -122.1999) every hotel found is within 10 km; not with rc2.
far() { # the largest distance (km) from (38.1999, -122.1999) of the hotels in $BODY, coordinates either way round
    jq -r '.features[].geometry.coordinates | if .[0] > 0 then [.[0], .[1]] else [.[1], .[0]] end | @tsv' "$BODY" |
        awk 'function rad(x) { return x * 3.14159265358979 / 180 }
            { dlat = rad($1 - 38.1999); dlon = rad($2 + 122.1999)
              a = sin(dlat / 2) ^ 2 + cos(rad(38.1999)) * cos(rad($1)) * sin(dlon / 2) ^ 2
              d = 12742 * atan2(sqrt(a), sqrt(1 - a)); if (d > m) m = d } END { printf "%d", m }'
}
hotels 09 11 38.1999 -122.1999 >/dev/null; d0=$(far)
if [ "$d0" -le 10 ] && set_version $HNS 1.1.0-rc2 5000 frontend && set_version $HNS 1.1.0-rc2 8082 search; then
    st=$(hotels 09 11 38.1999 -122.1999); d1=$(far)
    lat0=$(jq '.features[0].geometry.coordinates[0]' "$BODY")
    [ "$st" = 200 ] && awk -v x="$lat0" 'BEGIN { exit !(x > 37 && x < 39) }' &&
        ok "frontend rc2: 200, but GeoJSON coordinates come as [lat, lon] ($lat0 first)" ||
        not_ok "frontend rc2: coordinates swapped" "$st $(head -c 300 "$BODY")"
    [ "$d1" -gt 10 ] && ok "search rc2: hotels up to $d1 km away from the point asked (was $d0 km)" ||
        not_ok "search rc2: hotels outside the area" "$d0 -> $d1 km"
    undo $HNS 5000 frontend; undo $HNS 8082 search
else
    not_ok "HotelReservation 1.1.0-rc2" "farthest hotel $d0 km"
fi

prq='http_server_requests_total\\{service="profile",operation="GetProfiles"'
rrq='http_server_requests_total\\{service="rate",operation="GetRates"'
if set_version $HNS 1.1.0-rc3 5000 frontend && set_version $HNS 1.1.0-rc3 8082 search &&
    set_version $HNS 1.1.0-rc3 8081 profile; then
    p0=$(hmetric profile 8081 "$prq"); r0=$(hmetric rate 8084 "$rrq"); s0=$(hmetric profile 8081 "$psel")
    hotels 09 11 38.0235 -122.095 >/dev/null
    p1=$(hmetric profile 8081 "$prq"); r1=$(hmetric rate 8084 "$rrq"); s1=$(hmetric profile 8081 "$psel")
    [ $((p1 - p0)) = 5 ] && [ $((r1 - r0)) = 5 ] && [ $((s1 - s0)) = 5 ] &&
        ok "rc3: one search makes 5 profile calls (frontend), 5 rate calls (search), 5 queries (profile, no cache)" ||
        not_ok "rc3: N+1 calls and queries" "profile calls $p0 -> $p1, rate calls $r0 -> $r1, selects $s0 -> $s1"
    undo $HNS 5000 frontend; undo $HNS 8082 search; undo $HNS 8081 profile
else
    not_ok "HotelReservation 1.1.0-rc3 rolled out"
fi

# A retry storm: geo fails for a moment; with the default policy each search
# reaches geo once, with 5 retries on 5xx at search and at frontend 36 times.
geo_rq='http_server_requests_total\\{service="geo",operation="Nearby"'
storm() { # -> the geo requests of 3 searches while geoFailure=100
    local g0 g1
    set_hflags geoFailure=100
    sleep 1.5
    g0=$(hmetric geo 8083 "$geo_rq")
    for i in 1 2 3; do hotels 09 11 38.0235 -122.095 >/dev/null; done
    g1=$(hmetric geo 8083 "$geo_rq")
    set_hflags
    echo $((g1 - g0))
}
n_default=$(storm)
k get configmap hotel-config -n $HNS -o json |
    jq '.data.KIT_CALL_RETRIES = "5" | .data.KIT_RETRY_ON = "timeout,5xx" | .data.KIT_RETRY_BACKOFF_MS = "0" | del(.metadata.resourceVersion)' |
    k apply -f - >/dev/null
k rollout restart deploy/frontend -n $HNS >/dev/null
k rollout restart deploy/search -n $HNS >/dev/null
wait_for "k logs -n $HNS deploy/search --tail 50 | grep -q '5 retries on timeout,5xx, back-off 0 ms'" 40 &&
    wait_for "k logs -n $HNS deploy/frontend --tail 50 | grep -q '5 retries on timeout,5xx, back-off 0 ms'" 40 &&
    wait_for '[ "$(hotels 09 11 38.0235 -122.095)" = 200 ]' 20
n_storm=$(storm)
[ "$n_default" = 3 ] && [ "$n_storm" = 108 ] &&
    ok "retry storm: 3 failing searches reach geo 3 times with the defaults, $n_storm times with 5 retries on 5xx" ||
    not_ok "retry storm amplifies the load on geo" "default $n_default, aggressive $n_storm (want 3 and 108)"
r=$(hmetric search 8082 'http_client_retries_total\\{service="search",downstream="geo",reason="5xx"')
[ "$r" -ge 15 ] && ok "search counts its retries (http_client_retries_total{reason=5xx} = $r)" ||
    not_ok "search counts its retries" "$r"
rm -f "$BODY"

done_testing
