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

done_testing
