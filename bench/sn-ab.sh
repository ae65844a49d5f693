#!/bin/bash
# Two SocialNetwork labs side by side, A and B, and home-timeline reads
# (newest 10, wrk -t2 -c32) alternating between them, ROUNDS times each in
# the order ABBA...: comparing two builds or two settings within the same
# minutes, as this machine's speed changes by the hour. Per run: req/s, p99,
# the machine's busy time per read with its idle share, and the mesh's cpu
# per read.
# Usage: A_BUILD=build B_BUILD=build-x A_ENV="" B_ENV="AIOPSLAB_MESH_SPIN_US=0" bench/sn-ab.sh   (ROUNDS=5 DUR=20s)
cd "$(dirname "$0")/.." || exit 1
ROUNDS=${ROUNDS:-5}
DUR=${DUR:-20s}
A_BUILD=${A_BUILD:-build} B_BUILD=${B_BUILD:-build}
W=apps/social-network/wrk
for c in wrk jq; do command -v $c >/dev/null || { echo "bench/sn-ab.sh: $c is missing (scripts/install-deps.sh)"; exit 1; }; done
for b in "$A_BUILD" "$B_BUILD"; do [ -x "$b/aiopslab" ] || { echo "bench/sn-ab.sh: build $b/aiopslab first"; exit 1; }; done
export AIOPSLAB_HOME=$(mktemp -d /tmp/aiopslab-sn-ab.XXXXXX)
chmod 711 "$AIOPSLAB_HOME" # the PostgreSQL pods run as nobody
cleanup() {
    timeout 30 "$A_BUILD/aiopslab" --lab ab-a cluster down --purge >/dev/null 2>&1
    timeout 30 "$B_BUILD/aiopslab" --lab ab-b cluster down --purge >/dev/null 2>&1
    rm -rf "$AIOPSLAB_HOME"
}
trap cleanup EXIT
declare -A IP
for s in A B; do
    bin=$(eval echo "\$${s}_BUILD")/aiopslab lab=ab-${s,,}
    env $(eval echo "\$${s}_ENV") "$bin" --lab "$lab" cluster up >/dev/null &&
        out=$("$bin" --lab "$lab" deploy social-network 2>&1) || { echo "bench/sn-ab.sh: lab $s: $out"; exit 1; }
    IP[$s]=$("$bin" --lab "$lab" kubectl get svc nginx-thrift -n test-social-network -o jsonpath='{.spec.clusterIP}')
    SN_SEED=1 wrk -t2 -c16 -d15s -s "$W/compose-post.lua" "http://${IP[$s]}:8080" >/dev/null 2>&1
done
echo "# A: $A_BUILD ${A_ENV:-(default)}   B: $B_BUILD ${B_ENV:-(default)}   $ROUNDS rounds, wrk -t2 -c32 -d$DUR, newest 10"
machine() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }
mesh_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$(cat "$AIOPSLAB_HOME/labs/ab-${1,,}/mesh/mesh.pid")/stat"; }
one() { # A|B
    local m0 m1 c0 c1 o
    c0=$(mesh_ticks "$1") m0=$(machine)
    o=$(SN_MAX_START=0 wrk -t2 -c32 -d"$DUR" --latency -s "$W/read-home-timeline.lua" "http://${IP[$1]}:8080" 2>&1)
    m1=$(machine) c1=$(mesh_ticks "$1")
    awk -v l="$1" -v m0="$m0" -v m1="$m1" -v mc=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
        -v n="$(awk '/requests in/ { print $1 }' <<<"$o")" -v rps="$(awk '/^Requests\/sec/ { print $2 }' <<<"$o")" \
        -v p99="$(awk '$1 == "99%" { print $2 }' <<<"$o")" \
        'BEGIN { split(m0, a, " "); split(m1, z, " "); b = z[1] - a[1]; i = z[2] - a[2]
                 printf "%s %8.1f req/s  p99 %-8s  machine %4.0f us/read, %4.1f%% idle  mesh %3.0f us/read\n",
                        l, rps, p99, b / hz * 1e6 / n, 100 * i / (b + i), mc / hz * 1e6 / n }'
}
for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then one A; one B; else one B; one A; fi
done
