#!/bin/bash
# social_network: SocialNetwork deploys from nothing (stores and seed
# graph included) and answers DeathStarBench's API through nginx-thrift's
# ClusterIP: registering and following (by name and by id) work; a post
# with a mention and a url appears, its url shortened (stably), in the
# author's user timeline and in the home timeline of every follower (seed
# graph and new users) and of the mentioned user; bad input is a 4xx with a
# JSON error, unknown users 404; the spans of one compose form one trace
# across all twelve services on its path; a store scaled to 0 makes the
# services behind it log real errors and answer 5xx, and they recover by
# themselves when it returns (a new, empty PostgreSQL pod included).
source "$(dirname "$0")/lib.sh"

NS=test-social-network
lab_up
# ---- an OTLP sink, and a copy of the app that sends its spans there --------
app_with_otlp_sink social-network $((20001 + NET * 10))

t0=$(date +%s%N)
out=$(AIOPSLAB_APPS_DIR="$APPS" timeout 100 "$AIOPSLAB" --lab "$LAB" deploy social-network 2>&1)
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ $rc = 0 ] && ok "deploy social-network (${ms} ms)" || bail_out "deploy social-network (exit $rc)" "$out"
diag "deploy to Ready from nothing: $ms ms"
n=$(k get deploy -n $NS -o json | jq '[.items[] | select(.status.readyReplicas == 1)] | length')
[ "$n" = 23 ] && ok "23 Deployments ready (12 services, 5 PostgreSQL, 3 Redis, 3 memcached)" ||
    not_ok "23 Deployments ready (got $n)" "$(k get deploy -n $NS 2>&1)"
svcs=$(k get svc -n $NS -o json | jq -r '.items[] | "\(.metadata.name):\(.spec.ports[0].port)"' | sort | tr '\n' ' ')
case "$svcs" in
*"compose-post-service:9090"*"home-timeline-redis:6379"*"nginx-thrift:8080"*"user-mongodb:5432"*)
    ok "DeathStarBench's Service names and ports" ;;
*) not_ok "DeathStarBench's Service names and ports" "$svcs" ;;
esac

FE="http://$(cluster_ip $NS nginx-thrift):8080/wrk2-api"
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
expect_text() { # NAME RESPONSE STATUS TEXT
    if [ "$(status_of "$2")" = "$3" ] && [ "$(body_of "$2")" = "$4" ]; then ok "$1"; else not_ok "$1" "want $3 $4" "$2"; fi
}
pods_left() { k get pods -n $NS -l "app=$1" -o json 2>/dev/null | jq '.items | length'; } # terminating ones too
home() { req GET "/home-timeline/read?user_id=$1&start=${2:-0}&stop=${3:-10}"; }
utl() { req GET "/user-timeline/read?user_id=$1&start=${2:-0}&stop=${3:-10}"; }
compose() { # USERNAME USER_ID TEXT [CURL ARGS...]
    local u=$1 id=$2 text=$3
    shift 3
    req POST /post/compose --data-urlencode "username=$u" -d "user_id=$id" --data-urlencode "text=$text" -d post_type=0 "$@"
}

# ---- seed data ---------------------------------------------------------------------
r=$(home 962)
expect "seed user 962 exists (empty home timeline, 200)" "$r" 200 'type == "array" and length == 0'
r=$(req POST /user/login -d username=username_17 -d password=password_17)
expect_text "seed user username_17 logs in with password_17" "$r" 200 "Login successfully!"
SG="http://$(cluster_ip $NS social-graph-service):9090"
followers() { curl -s --max-time 5 -X POST -d "{\"user_id\": $1}" "$SG/GetFollowers" | jq -r '.followers[]' | sort -n; }
deg=$(for u in 1 2 3 4 5 6 7 8 9 10; do followers $u | grep -c .; done | sort -n | tr '\n' ' ')
if [ "$(followers 1 | grep -c .)" -ge 5 ] && ! grep -qw 0 <<<"$deg"; then
    ok "seed graph: users 1..10 have followers ($deg)"
else
    not_ok "seed graph: users 1..10 have followers" "$deg"
fi
# The seed graph in social-graph-mongodb: socfb-Reed98's size, loaded as two
# follows per friendship, heavy-tailed, and the same in every lab (the
# fingerprint of the sorted edge list is fixed by the generator's seed).
SGDB=$(cluster_ip $NS social-graph-mongodb)
PGPW=$(k get secret social-network-db -n $NS -o jsonpath='{.data.password}' | base64 -d)
graph=$(PGPASSWORD=$PGPW timeout 10 psql -h "$SGDB" -U social -d social_graph -Atc "SELECT count(*), count(DISTINCT follower),
    md5(string_agg(follower || '>' || followee, ',' ORDER BY follower, followee)),
    (SELECT max(c) FROM (SELECT count(*) c FROM follows GROUP BY followee) d) FROM follows" 2>&1)
[ "$graph" = "37624|962|eb0d7811863adbe03caeb918ace41ef9|336" ] &&
    ok "seed graph: 962 users, 18,812 friendships as 37,624 follows, max degree 336, deterministic" ||
    not_ok "seed graph: 962 users, 18,812 friendships as 37,624 follows, max degree 336, deterministic" "$graph"
# Seeding is idempotent: a restarted service finds its tables full and loads nothing.
k delete pods -n $NS -l app=social-graph-service >/dev/null
if wait_for '[ "$(pods_left social-graph-service)" = 1 ] && all_ready $NS' 30; then
    n=$(PGPASSWORD=$PGPW timeout 10 psql -h "$SGDB" -U social -d social_graph -Atc "SELECT count(*) FROM follows" 2>&1)
    [ "$n" = 37624 ] && ok "a restarted social-graph-service does not load the seed twice" ||
        not_ok "a restarted social-graph-service does not load the seed twice" "$n follows"
else
    not_ok "social-graph-service comes back after its pod is deleted" "$(k get pods -n $NS 2>&1 | grep social-graph)"
fi

# ---- register and follow ---------------------------------------------------------------
r=$(req POST /user/register -d first_name=Ada -d last_name=Lovelace -d username=ada -d password=pw-ada -d user_id=5001)
expect_text "register ada (5001)" "$r" 200 "Success!"
r=$(req POST /user/register -d first_name=Bob -d last_name=B -d username=bob -d password=pw-bob -d user_id=5002)
expect_text "register bob (5002)" "$r" 200 "Success!"
r=$(req POST /user/register -d first_name=Cy -d last_name=C -d username=cy -d password=pw-cy -d user_id=5003)
expect_text "register cy (5003)" "$r" 200 "Success!"
r=$(req POST /user/register -d first_name=Ada -d last_name=L -d username=ada -d password=x -d user_id=5009)
expect "registering a taken username: 409 JSON error" "$r" 409 '.error == "User ada already existed"'
r=$(req POST /user/follow -d user_name=bob -d followee_name=ada)
expect_text "bob follows ada (by name)" "$r" 200 "Success!"
r=$(req POST /user/follow -d user_id=5003 -d followee_id=5001)
expect_text "cy follows ada (by id)" "$r" 200 "Success!"
[ "$(followers 5001 | tr '\n' ' ')" = "5002 5003 " ] && ok "ada's followers are bob and cy" ||
    not_ok "ada's followers are bob and cy" "$(followers 5001)"
r=$(req POST /user/login -d username=ada -d password=pw-ada)
expect_text "ada logs in" "$r" 200 "Login successfully!"

# ---- compose: timelines, mentions, short urls ------------------------------------------------
r=$(compose ada 5001 "hello @username_7 look at http://example.com/a/b?c=1 now" -d 'media_ids=["42"]' -d 'media_types=["png"]')
expect_text "ada composes a post with a mention, a url and a picture" "$r" 200 "Successfully upload post"
post_ok='length == 1 and (.[0] | .creator == {"user_id":"5001","username":"ada"}
    and (.post_id | test("^[0-9]+$")) and .post_type == 0 and (.timestamp | type == "number")
    and .user_mentions == [{"user_id":"7","username":"username_7"}]
    and .media == [{"media_id":"42","media_type":"png"}]
    and (.urls | length == 1) and .urls[0].expanded_url == "http://example.com/a/b?c=1"
    and (.urls[0].shortened_url | test("^http://short-url.com/[0-9A-Za-z]{10}$"))
    and .text == "hello @username_7 look at \(.urls[0].shortened_url) now")'
r=$(utl 5001)
expect "the post is in ada's user timeline, its url shortened in the text" "$r" 200 "$post_ok"
short=$(body_of "$r" | jq -r '.[0].urls[0].shortened_url')
for u in 5002 5003; do
    r=$(home $u)
    expect "the post is in follower $u's home timeline" "$r" 200 "$post_ok"
done
r=$(home 7)
expect "the post is in the mentioned user_7's home timeline" "$r" 200 "any(.[]; .creator.username == \"ada\" and (.text | contains(\"$short\")))"
r=$(home 5001)
expect "not in the author's own home timeline" "$r" 200 'length == 0'
r=$(compose ada 5001 "again http://example.com/a/b?c=1")
r=$(utl 5001 0 1)
expect "the same url gets the same short form" "$r" 200 ".[0].urls[0].shortened_url == \"$short\" and .[0].text == \"again $short\""
r=$(utl 5001 0 10)
expect "user timeline newest first, windowed" "$r" 200 'length == 2 and (.[0].text | startswith("again")) and .[0].timestamp >= .[1].timestamp'

# A seed user's post reaches every one of their followers.
tag="fanout-$$"
r=$(compose username_1 1 "$tag from one")
expect_text "username_1 composes" "$r" 200 "Successfully upload post"
missing=""
for f in $(followers 1); do
    home "$f" 0 5 | sed '$d' | jq -e --arg t "$tag" 'any(.[]; .text == "\($t) from one")' >/dev/null || missing="$missing $f"
done
nf=$(followers 1 | grep -c .)
[ -z "$missing" ] && [ "$nf" -gt 0 ] && ok "username_1's post is in all $nf followers' home timelines" ||
    not_ok "username_1's post is in every follower's home timeline" "missing in:$missing"
r=$(req POST /user/unfollow -d user_name=cy -d followee_name=ada)
expect_text "cy unfollows ada" "$r" 200 "Success!"
compose ada 5001 "after cy left" >/dev/null
r=$(home 5003 0 1)
expect "an unfollower no longer gets new posts" "$r" 200 '.[0].text != "after cy left"'
r=$(home 5002 0 1)
expect "a follower still does" "$r" 200 '.[0].text == "after cy left"'

# ---- bad input ------------------------------------------------------------------------
r=$(req POST /post/compose -d username=ada -d user_id=5001)
expect "compose without text: 400 Incomplete arguments" "$r" 400 '.error == "Incomplete arguments"'
r=$(req GET "/home-timeline/read?user_id=1&start=0")
expect "home timeline without stop: 400 Incomplete arguments" "$r" 400 '.error == "Incomplete arguments"'
r=$(req GET "/user-timeline/read?user_id=abc&start=0&stop=10")
expect "user_id=abc: 400 JSON error" "$r" 400 '.error | test("number")'
r=$(home 1 10 5)
expect "stop before start: 400 JSON error" "$r" 400 '.error | test("start")'
r=$(compose ada 5001 "x" -d 'media_ids=["1"' -d 'media_types=["png"]')
expect "malformed media_ids JSON: 400" "$r" 400 '.error | test("media")'
r=$(compose ada 5001 "x" -d 'media_ids=["1","2"]' -d 'media_types=["png"]')
expect "media_ids and media_types of different lengths: 400" "$r" 400 '.error | test("lengths")'
r=$(req POST /user/register -d first_name=A -d last_name=B -d "username=bad name" -d password=p -d user_id=5010)
expect "a username with a space: 400" "$r" 400 '.error | test("username")'
r=$(home 99999)
expect "home timeline of an unknown user: 404 JSON error" "$r" 404 '.error | test("99999 not found")'
r=$(utl 99999)
expect "user timeline of an unknown user: 404" "$r" 404 '.error | test("not found")'
r=$(compose username_99999 99999 "hi")
expect "compose as an unknown user: 404" "$r" 404 '.error | test("not found")'
r=$(compose username_2 3 "hi")
expect "compose with a username not matching user_id: 400" "$r" 400 '.error | test("does not match")'
r=$(req POST /user/follow -d user_name=ada -d followee_name=nobody)
expect "follow an unknown user: 404" "$r" 404 '.error == "User nobody not found"'
r=$(req POST /user/follow -d user_id=5001 -d followee_id=99999)
expect "follow an unknown user id: 404" "$r" 404 '.error | test("not found")'
r=$(req POST /user/login -d username=ada -d password=wrong)
expect "login with a wrong password: 401" "$r" 401 '.error | test("Incorrect")'
big=$(head -c 2000000 /dev/zero | tr '\0' a)
code=$(printf 'username=ada&user_id=5001&post_type=0&text=%s' "$big" |
    curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST --data-binary @- "$FE/post/compose")
case "$code" in 4*) ok "a 2 MB body is refused ($code)" ;; *) not_ok "a 2 MB body is refused" "status $code" ;; esac
r=$(compose ada 5001 "$(head -c 5000 /dev/zero | tr '\0' b)")
expect "a 5000-byte text: 400" "$r" 400 '.error | test("longer")'
r=$(home 1)
[ "$(status_of "$r")" = 200 ] && ok "nginx-thrift still answers after bad input" || not_ok "nginx-thrift still answers after bad input" "$r"

# ---- one trace across the call graph ------------------------------------------------------
tid=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
r=$(compose ada 5001 "traced @username_3 http://trace.example/x" -H "traceparent: 00-$tid-00f067aa0ba902b7-01")
[ "$(status_of "$r")" = 200 ] || not_ok "traced compose answers" "$r"
want='["compose-post-service","home-timeline-service","media-service","nginx-thrift","post-storage-service","social-graph-service","text-service","unique-id-service","url-shorten-service","user-mention-service","user-service","user-timeline-service"]'
services() {
    jq -sc --arg t "$tid" '[.[] | .resourceSpans[]? | (.resource.attributes // [] | map(select(.key == "service.name"))[0].value.stringValue) as $s
        | .scopeSpans[]?.spans[]? | select(.traceId == $t) | $s] | unique' "$SPANS" 2>/dev/null
}
if wait_for '[ "$(services)" = "$want" ]' 15; then
    ok "the spans of one compose form one trace across all 12 services"
else
    not_ok "the spans of one compose form one trace across all 12 services" "want $want" "seen $(services)" \
        "sink: $(tail -n 5 "$AIOPSLAB_HOME/sink.log")"
fi
parents=$(jq -sr --arg t "$tid" '[.[] | .resourceSpans[]?.scopeSpans[]?.spans[]? | select(.traceId == $t)] as $s
    | ($s | map(.spanId)) as $ids
    | if ($s | length) < 12 then "only \($s | length) spans"
      else [$s[] | select(.parentSpanId != "00f067aa0ba902b7" and (.parentSpanId as $p | $ids | index($p) | not))] | length end' "$SPANS" 2>/dev/null)
[ "$parents" = 0 ] && ok "every span's parent is in the trace (or the caller's span)" ||
    not_ok "every span's parent is in the trace" "orphans: $parents"

# ---- stores go away and come back -------------------------------------------------------------
store_down() { # DEPLOY: scale to 0 and wait until its process is gone
    k scale "deploy/$1" -n $NS --replicas=0 >/dev/null
    wait_for "[ -z \"\$(endpoint_addrs $NS $1)\" ] && [ \"\$(pods_left $1)\" = 0 ]" 20 ||
        diag "$1 still there: $(k get pods -n $NS -l app=$1 2>&1)"
}
logs_error() { # NAME SERVICE-DEPLOY
    local pod
    pod=$(pods_of $NS "$2" | head -n 1)
    if wait_for 'k logs -n $NS "$pod" | grep "\"level\":\"error\"" | grep -qiE "refused|connect|timeout|closed"' 10; then
        ok "$1"
        diag "$(k logs -n $NS "$pod" | grep '"level":"error"' | tail -n 1 | cut -c1-300)"
    else
        not_ok "$1" "$(k logs -n $NS "$pod" 2>&1 | tail -n 5)"
    fi
}

# home-timeline-redis (home timelines live only there, as in DSB).
store_down home-timeline-redis
r=$(home 5002)
st=$(status_of "$r")
case "$st" in 5*) ok "home-timeline-redis down: home timeline answers $st" ;;
*) not_ok "home-timeline-redis down: home timeline answers 5xx" "$r" ;; esac
expect "the 5xx names the failure (Get home-timeline failure: ...)" "$r" "$st" '.error | startswith("Get home-timeline failure: ")'
logs_error "home-timeline-service logs the real error" home-timeline-service
r=$(utl 5001)
expect "user timelines (no home-timeline-redis) still answer" "$r" 200 'length >= 1'
k scale deploy/home-timeline-redis -n $NS --replicas=1 >/dev/null
if wait_for '[ "$(status_of "$(home 5002)")" = 200 ]' 30; then
    ok "home timeline recovers by itself when home-timeline-redis returns"
else
    not_ok "home timeline recovers by itself when home-timeline-redis returns" "$(home 5002)"
fi
compose ada 5001 "after the redis outage" >/dev/null
r=$(home 5002 0 1)
expect "new posts reach home timelines again" "$r" 200 '.[0].text == "after the redis outage"'

# post-storage-mongodb: its new pod comes back empty (an emptyDir), the
# service recreates its table by itself.
store_down post-storage-mongodb
r=$(compose ada 5001 "while the database is down")
st=$(status_of "$r")
case "$st" in 5*) ok "post-storage-mongodb down: compose answers $st" ;;
*) not_ok "post-storage-mongodb down: compose answers 5xx" "$r" ;; esac
expect "the 5xx names the failure (Compose post failure: ...)" "$r" "$st" '.error | startswith("Compose post failure: ")'
logs_error "post-storage-service logs the real error" post-storage-service
k scale deploy/post-storage-mongodb -n $NS --replicas=1 >/dev/null
if wait_for '[ "$(status_of "$(compose ada 5001 "database is back")")" = 200 ]' 45; then
    ok "compose recovers by itself when post-storage-mongodb returns"
else
    not_ok "compose recovers by itself when post-storage-mongodb returns" "$(compose ada 5001 "database is back")" \
        "$(k logs -n $NS deploy/post-storage-service 2>&1 | tail -n 5)"
fi
r=$(utl 5001 0 1)
expect "the new post reads back" "$r" 200 '.[0].text == "database is back"'
ps=$(pods_of $NS post-storage-service | head -n 1)
[ "$(restart_count $NS "$ps")" = 0 ] && ok "post-storage-service rode out the outage without a restart" ||
    not_ok "post-storage-service rode out the outage without a restart" "restarts: $(restart_count $NS "$ps")"

# ---- undeploy ------------------------------------------------------------------------------
check "undeploy social-network" timeout 60 "$AIOPSLAB" --lab "$LAB" undeploy social-network
left=$(find "$LABDIR/pods" -maxdepth 1 -mindepth 1 2>/dev/null | wc -l)
[ "$left" = 0 ] && ok "undeploy removes the pods' folders (store volumes)" || not_ok "undeploy removes the pods' folders" "$left left"
done_testing
