#!/bin/bash
# faults_middleware: the middleware layer's faults on a live SocialNetwork
# under light read load. For each type: inject (verified), the symptom
# where an SRE would look (the services' answers and logs, the store's
# log, psql as the DBA, redis-cli-style INFO, kubectl), recover, the app
# answers again and the store is exactly as before (settings, roles,
# indexes); `aiopslab fault digest` before and after proves the data
# intact: identical where only reads ran, no row lost where the test's
# own writes ran during the fault. Also: bad targets are refused.
source "$(dirname "$0")/lib.sh"

NS=test-social-network
# Restarts of a store's container (db-max-connections, store-kill) wait
# the kubelet's back-off; a short one keeps the script short.
export AIOPSLAB_BACKOFF_BASE_MS=1000
lab_up
out=$(timeout 120 "$AIOPSLAB" --lab "$LAB" deploy social-network 2>&1) || bail_out "deploy social-network" "$out"
ok "social-network deployed"

FE="http://$(cluster_ip $NS nginx-thrift):8080/wrk2-api"
req() { # METHOD PATH [CURL ARGS...]: the body, then the status on the last line
    local m=$1 p=$2
    shift 2
    curl -s --max-time 10 -X "$m" -w '\n%{http_code}' "$@" "$FE$p"
}
code_of() { tail -n 1 <<<"$1"; }
compose() { req POST /post/compose --data-urlencode "username=username_$1" -d "user_id=$1" --data-urlencode "text=$2" -d post_type=0; }
login() { req POST /user/login -d "username=username_$1" -d "password=password_$1"; }
logs_of() { k logs -n $NS "deploy/$1" --tail 300 2>&1; }
ADMIN_PW=$(k get secret social-network-db -n $NS -o jsonpath='{.data.admin-password}' | base64 -d)
psql_as_admin() { # STORE DB SQL
    PGPASSWORD=$ADMIN_PW PGCONNECT_TIMEOUT=3 timeout 10 psql -X -h "$(cluster_ip $NS "$1")" -U postgres -d "$2" -Atc "$3" 2>&1
}
restarts_of() { k get pods -n $NS -l "app=$1" -o jsonpath='{.items[0].status.containerStatuses[0].restartCount}'; }
inject() { # TYPE TARGET [--param K=V ...]: prints the output; the id in $ID
    local out
    out=$(al fault inject "$1" -n $NS --target "$2" "${@:3}" 2>&1)
    ID=$(sed -n 's/^fault \([0-9]*\) injected.*/\1/p' <<<"$out")
    if [ -n "$ID" ] && grep -q 'symptom seen after' <<<"$out"; then ok "inject $1 on $2: $out"; else
        not_ok "inject $1 on $2" "$out"
        return 1
    fi
}
recover() { # NAME
    local out t0 ms
    t0=$(date +%s%N)
    out=$(al fault recover "$ID" 2>&1)
    ms=$((($(date +%s%N) - t0) / 1000000))
    [ "$out" = "fault $ID recovered" ] && ok "recover $1 (${ms} ms)" || not_ok "recover $1" "$out"
}
digest() { al fault digest -n $NS; }
same_digest() { # NAME BEFORE: the data is exactly as before
    local now
    now=$(digest)
    [ -n "$2" ] && [ "$now" = "$2" ] && ok "$1: data digest identical" ||
        not_ok "$1: data digest identical" "$(diff <(echo "$2") <(echo "$now") | head -20)"
}
kept_digest() { # NAME BEFORE: no row lost (tables may only have grown; unchanged counts, unchanged md5s)
    local now bad
    now=$(digest)
    bad=$(jq -n --argjson a "$2" --argjson b "$now" '[$a.stores | paths(type == "object" and has("rows")) as $p
        | ($a.stores | getpath($p)) as $x | ($b.stores | getpath($p)) as $y
        | select($y == null or $y.rows < $x.rows or ($y.rows == $x.rows and $y.md5 != $x.md5)) | $p | join("/")]
        | join(" ")' 2>&1)
    [ -n "$now" ] && [ "$bad" = '""' ] && ok "$1: no row lost (data digest)" || not_ok "$1: no row lost" "$bad"
}

# Light read load all along: home and user timelines, logins.
(while :; do
    u=$((RANDOM % 900 + 1))
    curl -s -o /dev/null --max-time 5 "$FE/home-timeline/read?user_id=$u&start=0&stop=10"
    curl -s -o /dev/null --max-time 5 "$FE/user-timeline/read?user_id=$u&start=0&stop=10"
    curl -s -o /dev/null --max-time 5 -X POST -d "username=username_$u" -d "password=password_$u" "$FE/user/login"
    sleep 0.2
done) >/dev/null 2>&1 &

[ "$(code_of "$(compose 1 "warm up http://example.com/w")")" = 200 ] && ok "compose works before the faults" ||
    not_ok "compose works before the faults"
D0=$(digest)
jq -e '.stores["post-storage-mongodb"].post["public.posts"].rows >= 1 and
       .stores["social-graph-mongodb"].social_graph["public.follows"].rows == 37624' >/dev/null <<<"$D0" &&
    ok "fault digest: every PostgreSQL store, database and table, with rows and md5" ||
    not_ok "fault digest" "$(head -c 600 <<<"$D0")"

# ---- bad targets --------------------------------------------------------------------------------
out=$(al fault inject db-revoke-privileges -n $NS --target home-timeline-redis 2>&1)
[ $? != 0 ] && grep -q '"home-timeline-redis" is not a postgres store (it runs redis-server)' <<<"$out" &&
    ok "a PostgreSQL fault on a Redis store is refused" || not_ok "postgres fault on redis refused" "$out"
out=$(al fault inject cache-flush -n $NS --target user-mongodb 2>&1)
[ $? != 0 ] && grep -q 'is not a cache' <<<"$out" && ok "cache-flush on PostgreSQL is refused" ||
    not_ok "cache-flush on postgres refused" "$out"
out=$(al fault inject db-max-connections -n $NS --target user-mongodb --param connections=0 2>&1)
[ $? != 0 ] && grep -q 'out of range \[1, 50\]' <<<"$out" && ok "connections=0 is refused" || not_ok "range" "$out"
[ "$(al fault status)" = "No active faults." ] && ok "nothing injected" || not_ok "nothing injected" "$(al fault status)"

# ---- db-revoke-privileges: writes to posts are denied ---------------------------------------------
acl0=$(psql_as_admin post-storage-mongodb post "SELECT relacl FROM pg_class WHERE relname = 'posts'")
if inject db-revoke-privileges post-storage-mongodb; then
    st=$(code_of "$(compose 2 "denied")")
    [ "$st" != 200 ] && wait_for "logs_of post-storage-service | grep -qF 'pq: permission denied for table posts'" 5 &&
        ok "compose answers $st, post-storage-service logs \"pq: permission denied for table posts\"" ||
        not_ok "revoke symptom" "status $st" "$(logs_of post-storage-service | tail -3)"
    recover db-revoke-privileges
fi
wait_for '[ "$(code_of "$(compose 2 "allowed again")")" = 200 ]' 10 && ok "compose works again" || not_ok "compose after revoke"
priv=$(psql_as_admin post-storage-mongodb post "SELECT has_table_privilege('social', 'posts', 'SELECT,INSERT,UPDATE,DELETE')")
[ "$priv" = t ] && ok "the role has its privileges back (relacl was '$acl0')" || not_ok "privileges back" "$priv"
kept_digest db-revoke-privileges "$D0"

# ---- db-password-change: new connections fail, pooled ones work ------------------------------------
D1=$(digest)
if inject db-password-change user-mongodb; then
    # The pool still works; once the server ends its sessions the services must reconnect, and cannot.
    psql_as_admin user-mongodb user "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'social'" >/dev/null
    wait_for '[ "$(code_of "$(req POST /user/register -d first_name=a -d last_name=b -d username=pw_$RANDOM -d password=x -d user_id=$((7000 + RANDOM % 1000)))")" != 200 ]' 10 &&
        wait_for "logs_of user-service | grep -qF 'pq: password authentication failed for user'" 5 &&
        ok "after a reconnect, user-service fails: \"pq: password authentication failed for user ...\"" ||
        not_ok "password symptom" "$(logs_of user-service | tail -3)"
    recover db-password-change
fi
PGPW=$(k get secret social-network-db -n $NS -o jsonpath='{.data.password}' | base64 -d)
out=$(PGPASSWORD=$PGPW timeout 10 psql -X -h "$(cluster_ip $NS user-mongodb)" -U social -d user -Atc "SELECT 1" 2>&1)
[ "$out" = 1 ] && ok "the Secret's password works again" || not_ok "password restored" "$out"
wait_for '[ "$(code_of "$(login 3)")" = 200 ]' 10 && ok "login works again" || not_ok "login after password change"
kept_digest db-password-change "$D1"

# ---- db-drop-user: the role is gone, the data stays ------------------------------------------------
D1=$(digest)
owner0=$(psql_as_admin url-shorten-mongodb url_shorten "SELECT tableowner FROM pg_tables WHERE tablename = 'urls'")
if inject db-drop-user url-shorten-mongodb; then
    [ "$(psql_as_admin url-shorten-mongodb url_shorten "SELECT count(*) FROM pg_roles WHERE rolname = 'social'")" = 0 ] &&
        [ "$(psql_as_admin url-shorten-mongodb url_shorten "SELECT tableowner FROM pg_tables WHERE tablename = 'urls'")" = postgres ] &&
        ok "the role is gone, its tables belong to postgres" || not_ok "role dropped"
    st=$(code_of "$(compose 4 "short me http://example.com/drop/$RANDOM")")
    [ "$st" != 200 ] && ok "a compose with a url fails ($st)" || not_ok "drop-user symptom" "$st"
    recover db-drop-user
fi
[ "$(psql_as_admin url-shorten-mongodb url_shorten "SELECT tableowner FROM pg_tables WHERE tablename = 'urls'")" = "$owner0" ] &&
    ok "the role is back and owns its tables again ($owner0)" || not_ok "ownership restored"
wait_for '[ "$(code_of "$(compose 4 "short again http://example.com/back/$RANDOM")")" = 200 ]' 10 &&
    ok "compose with a url works again" || not_ok "compose after drop-user"
kept_digest db-drop-user "$D1"

# ---- db-drop-index: the follows query loses its index ------------------------------------------------
D1=$(digest)
def0=$(psql_as_admin social-graph-mongodb social_graph "SELECT indexdef FROM pg_indexes WHERE indexname = 'follows_followee'")
# Followers read from the database (their cache emptied), so the index is in use.
(for i in $(seq 1 40); do curl -s -o /dev/null -X POST -d "{\"user_id\": $((RANDOM % 900 + 1))}" \
    "http://$(cluster_ip $NS social-graph-service):9090/GetFollowers"; sleep 0.1; done) &
if inject db-drop-index social-graph-mongodb --param index=follows_followee; then
    plan=$(psql_as_admin social-graph-mongodb social_graph "EXPLAIN SELECT follower FROM follows WHERE followee = 7")
    grep -q 'Seq Scan on follows' <<<"$plan" && ok "the followers query is a sequential scan now" || not_ok "seq scan" "$plan"
    recover db-drop-index
fi
[ -n "$def0" ] && [ "$(psql_as_admin social-graph-mongodb social_graph "SELECT indexdef FROM pg_indexes WHERE indexname = 'follows_followee'")" = "$def0" ] &&
    ok "the index is back, exactly ($def0)" || not_ok "index restored" "$def0"
same_digest db-drop-index "$D1"

# ---- db-lock: writers of posts wait --------------------------------------------------------------------
(for i in 1 2 3 4 5 6; do sleep 0.5; compose 5 "writer $i" >/dev/null; done) & # writers to block
writers=$!
if inject db-lock post-storage-mongodb --param table=posts; then
    t0=$(date +%s%N)
    st=$(code_of "$(compose 5 "blocked")")
    ms=$((($(date +%s%N) - t0) / 1000000))
    [ "$st" != 200 ] && [ "$ms" -ge 1500 ] && ok "a compose waits for the lock and fails ($st after $ms ms)" ||
        not_ok "lock symptom" "status $st after $ms ms"
    act=$(psql_as_admin post-storage-mongodb post "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'")
    [ "${act:-0}" -ge 1 ] && ok "pg_stat_activity shows the session idle in transaction" || not_ok "idle in transaction" "$act"
    recover db-lock
fi
wait $writers
wait_for '[ "$(code_of "$(compose 5 "unblocked")")" = 200 ]' 10 && ok "compose works again" || not_ok "compose after lock"
n=$(psql_as_admin post-storage-mongodb post "SELECT count(*) FROM pg_locks WHERE relation = 'posts'::regclass AND mode = 'ExclusiveLock'")
[ "$n" = 0 ] && ok "no lock left on posts" || not_ok "lock left" "$n"
kept_digest db-lock "$D0"

# ---- db-connection-exhaustion: no slot for a service's new connection ----------------------------------
D1=$(digest)
if inject db-connection-exhaustion user-timeline-mongodb; then
    # End the service's own connections so that its pool must reconnect (the
    # read load misses the cache and reads the database). Again until it
    # fails: the pool may win a freed slot before the leaking client does.
    end_pool() {
        psql_as_admin user-timeline-mongodb user_timeline \
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'user-timeline-service'" >/dev/null
        sleep 1
        logs_of user-timeline-service | grep -qE 'remaining connection slots are reserved|too many clients'
    }
    if wait_for end_pool 30; then
        ok "user-timeline-service logs \"$(logs_of user-timeline-service | grep -oE 'remaining connection slots are reserved[^"]*|sorry, too many clients already' | tail -n 1)\""
    else
        not_ok "exhaustion symptom" "$(logs_of user-timeline-service | tail -3)"
    fi
    recover db-connection-exhaustion
fi
n=$(psql_as_admin user-timeline-mongodb user_timeline "SELECT count(*) FROM pg_stat_activity WHERE usename = 'social' AND application_name = 'psql'")
[ "$n" = 0 ] && ok "the leaked connections are closed" || not_ok "connections left" "$n"
wait_for '[ "$(code_of "$(req GET "/user-timeline/read?user_id=1&start=0&stop=5")")" = 200 ]' 20 &&
    ok "user timelines answer again" || not_ok "user timeline after exhaustion"
same_digest db-connection-exhaustion "$D1"

# ---- db-max-connections: a restart with a lower limit ---------------------------------------------------
D1=$(digest)
r0=$(restarts_of user-mongodb)
set0=$(psql_as_admin user-mongodb user "SELECT current_setting('max_connections') || '/' || current_setting('superuser_reserved_connections')")
if inject db-max-connections user-mongodb --param connections=2; then
    [ "$(restarts_of user-mongodb)" = $((r0 + 1)) ] && ok "the store restarted once in its pod" || not_ok "restart" "$(restarts_of user-mongodb)"
    wait_for "k logs -n $NS deploy/user-mongodb --tail 200 | grep -qE 'remaining connection slots are reserved|too many clients'" 10 &&
        ok "the store's log shows connections refused for want of slots" ||
        not_ok "max-connections symptom" "$(k logs -n $NS deploy/user-mongodb --tail 5)"
    recover db-max-connections
fi
wait_for "[ \"\$(psql_as_admin user-mongodb user \"SELECT current_setting('max_connections') || '/' || current_setting('superuser_reserved_connections')\")\" = '$set0' ]" 30 &&
    ok "the limits are as before ($set0)" || not_ok "limits restored" "$set0"
wait_for '[ "$(code_of "$(login 6)")" = 200 ]' 20 && ok "login works again" || not_ok "login after max-connections"
same_digest db-max-connections "$D1"

# ---- redis-maxmemory-noeviction: user timelines refuse writes ---------------------------------------------
D1=$(digest)
RIP=$(cluster_ip $NS user-timeline-redis)
rcfg() { redis-cli -h "$RIP" -p 6379 CONFIG GET "$1" 2>/dev/null | tail -n 1; }
mm0=$(rcfg maxmemory)
pol0=$(rcfg maxmemory-policy)
if inject redis-maxmemory-noeviction user-timeline-redis; then
    [ "$(rcfg maxmemory-policy)" = noeviction ] && ok "maxmemory-policy noeviction, maxmemory $(rcfg maxmemory) (was $mm0)" ||
        not_ok "redis config" "$(rcfg maxmemory-policy)"
    r=$(compose 1 "oom")
    [ "$(code_of "$r")" = 500 ] && grep -qF "OOM command not allowed when used memory > 'maxmemory'" <<<"$r" &&
        wait_for "logs_of user-timeline-service | grep -qF 'OOM command not allowed when used memory'" 5 &&
        ok "compose answers 500, user-timeline-service logs \"OOM command not allowed when used memory > 'maxmemory'\"" ||
        not_ok "OOM symptom" "$r" "$(logs_of user-timeline-service | tail -2)"
    recover redis-maxmemory-noeviction
fi
[ "$(rcfg maxmemory)" = "$mm0" ] && [ "$(rcfg maxmemory-policy)" = "$pol0" ] &&
    ok "maxmemory $mm0 and policy $pol0 restored" || not_ok "redis config restored" "$(rcfg maxmemory) $(rcfg maxmemory-policy)"
wait_for '[ "$(code_of "$(compose 1 "room again")")" = 200 ]' 10 && ok "compose works again" || not_ok "compose after OOM"
kept_digest redis-maxmemory-noeviction "$D1"

# ---- cache-flush: a Redis and a memcached ---------------------------------------------------------------
D1=$(digest)
SRIP=$(cluster_ip $NS social-graph-redis)
SGS="http://$(cluster_ip $NS social-graph-service):9090/GetFollowers"
for i in $(seq 1 30); do curl -s -o /dev/null -X POST -d "{\"user_id\": $i}" "$SGS"; done
keys0=$(redis-cli -h "$SRIP" DBSIZE)
if inject cache-flush social-graph-redis; then
    [ "$(redis-cli -h "$SRIP" DBSIZE)" -lt "$keys0" ] && ok "social-graph-redis lost its $keys0 keys" || not_ok "flushed" "$(redis-cli -h "$SRIP" DBSIZE)"
    recover cache-flush
fi
r=$(curl -s -X POST -d '{"user_id": 1}' "$SGS" | jq '.followers | length')
[ "${r:-0}" -gt 0 ] && ok "followers are read from the database again ($r for user 1)" || not_ok "followers after flush" "$r"
ut1() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$FE/user-timeline/read?user_id=1&start=0&stop=10"; }
(for i in $(seq 1 25); do ut1 >/dev/null; sleep 0.2; done) &
readers=$!
if inject cache-flush post-storage-memcached; then
    [ "$(ut1)" = 200 ] && ok "user timelines answer on an empty cache" || not_ok "user timeline after flush"
    recover cache-flush
fi
wait $readers
same_digest cache-flush "$D1"

# ---- memcached-down --------------------------------------------------------------------------------------
if inject memcached-down post-storage-memcached; then
    [ -z "$(endpoint_addrs $NS post-storage-memcached)" ] && ok "post-storage-memcached has no endpoints" || not_ok "endpoints"
    st=$(ut1)
    wait_for "logs_of post-storage-service | grep -q 'memcached get of .* connection refused'" 10 &&
        ok "user timelines answer $st from the database; post-storage-service logs memcached's connection refused" ||
        not_ok "memcached down symptom" "$(logs_of post-storage-service | tail -3)"
    recover memcached-down
fi
wait_for "[ -n \"\$(endpoint_addrs $NS post-storage-memcached)\" ]" 20 && ok "post-storage-memcached is back" ||
    not_ok "memcached back"

# ---- store-kill: PostgreSQL's crash recovery, a Redis restarted -------------------------------------------
D1=$(digest)
r0=$(restarts_of post-storage-mongodb)
if inject store-kill post-storage-mongodb; then
    [ "$(k get pods -n $NS -l app=post-storage-mongodb -o jsonpath='{.items[0].status.containerStatuses[0].lastState.terminated.exitCode}')" = 137 ] &&
        ok "the store's container ended with 137 (SIGKILL) and restarts" || not_ok "exit 137" "$(k get pods -n $NS -l app=post-storage-mongodb -o yaml | grep -A5 lastState)"
    wait_for "k logs -n $NS deploy/post-storage-mongodb --tail 100 | grep -qE 'database system was interrupted|not properly shut down|automatic recovery'" 15 &&
        ok "PostgreSQL ran crash recovery" || not_ok "crash recovery" "$(k logs -n $NS deploy/post-storage-mongodb --tail 10)"
    recover store-kill
fi
wait_for '[ "$(code_of "$(compose 9 "after the crash")")" = 200 ]' 20 && ok "compose works after the crash" || not_ok "compose after kill"
kept_digest store-kill "$D1"
if inject store-kill home-timeline-redis; then recover store-kill; fi

# ---- HotelReservation: its stores are started by a shell script (sh -c "aiopslab-postgres ...") ------------
HR=test-hotel-reservation
out=$(timeout 120 "$AIOPSLAB" --lab "$LAB" deploy hotel-reservation 2>&1) || bail_out "deploy hotel-reservation" "$out"
HFE="http://$(cluster_ip $HR frontend):5000"
hlogin() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST "$HFE/user?username=Cornell_42&password=$(printf '42%.0s' {1..10})"; }
hotels() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$HFE/hotels?inDate=2015-04-09&outDate=2015-04-11&lat=38.0235&lon=-122.095"; }
wait_for '[ "$(hlogin)" = 200 ] && [ "$(hotels)" = 200 ]' 30 && ok "hotel-reservation serves logins and searches" ||
    not_ok "hotel-reservation serves" "$(hlogin) $(hotels)"
H0=$(al fault digest -n $HR)
jq -e '.stores["mongodb-user"]["user-db"]["public.users"].rows > 0' >/dev/null <<<"$H0" &&
    ok "fault digest of hotel-reservation's stores" || not_ok "hotel digest" "$(head -c 400 <<<"$H0")"
if ID=$(al fault inject db-revoke-privileges -n $HR --target mongodb-user 2>&1 | sed -n 's/^fault \([0-9]*\) injected.*symptom seen.*/\1/p') && [ -n "$ID" ]; then
    ok "inject db-revoke-privileges on hotel's mongodb-user"
    st=$(hlogin)
    [ "$st" != 200 ] && wait_for "k logs -n $HR deploy/user --tail 50 | grep -qF 'permission denied for table users'" 5 &&
        ok "hotel login answers $st, user logs \"permission denied for table users\"" || not_ok "hotel revoke symptom" "$st"
    recover "db-revoke-privileges (hotel)"
else
    not_ok "inject db-revoke-privileges on hotel's mongodb-user"
fi
wait_for '[ "$(hlogin)" = 200 ]' 10 && ok "hotel logins work again" || not_ok "hotel login after revoke"
if ID=$(al fault inject memcached-down -n $HR --target memcached-rate 2>&1 | sed -n 's/^fault \([0-9]*\) injected.*symptom seen.*/\1/p') && [ -n "$ID" ]; then
    st=$(hotels)
    wait_for "k logs -n $HR deploy/rate --tail 50 | grep -q 'connection refused'" 10 &&
        ok "memcached-rate down: searches answer $st, rate logs connection refused" || not_ok "hotel memcached-down" "$st"
    recover "memcached-down (hotel)"
else
    not_ok "inject memcached-down on memcached-rate"
fi
if ID=$(al fault inject store-kill -n $HR --target mongodb-reservation 2>&1 | sed -n 's/^fault \([0-9]*\) injected.*symptom seen.*/\1/p') && [ -n "$ID" ]; then
    ok "store-kill on hotel's mongodb-reservation (the postmaster under the shell)"
    recover "store-kill (hotel)"
else
    not_ok "inject store-kill on mongodb-reservation"
fi
wait_for '[ "$(hotels)" = 200 ]' 20 && ok "hotel searches work" || not_ok "hotel searches after the faults"
wait_for '[ "$(k get pods -n $HR -l app=mongodb-reservation -o jsonpath={.items[0].status.containerStatuses[0].ready})" = true ]' 20
H1=$(al fault digest -n $HR)
[ -n "$H1" ] && [ "$H1" = "$H0" ] && ok "hotel-reservation: data digest identical" ||
    not_ok "hotel digest identical" "$(diff <(echo "$H0") <(echo "$H1") | head -10)"

out=$(al fault status)
[ "$out" = "No active faults." ] && ok "no fault left behind" || not_ok "faults left" "$out"
done_testing
