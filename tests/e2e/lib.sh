# lib.sh: helpers for the end-to-end scripts (source it, don't run it).
#
# Every script gets a lab of its own, so scripts can run side by side and
# never touch a user's labs:
#   LAB            t-<script>-<pid>             (the --lab name)
#   AIOPSLAB_HOME  a fresh mktemp -d            (exported: all lab data)
#   NET            30..249 from a hash of the script's name (127.NET.0.0/16; E2E_NET overrides;
#                  lab_up takes another when a running lab holds it)
#   LABDIR         $AIOPSLAB_HOME/labs/$LAB
# lab_down runs on exit whatever happens: `cluster down`, then any process
# still tied to this AIOPSLAB_HOME (by command line, environment or working
# directory) is killed, then the directory goes.
#
# TAP: ok NAME | not_ok NAME [DETAILS...] | check NAME CMD... |
#      skip NAME REASON | done_testing (prints the plan, returns the status).
# Lab: lab_up, lab_down, al ARGS (aiopslab --lab LAB), k ARGS (kubectl),
#      wait_for CMD TIMEOUT, and readers for pods, IPs and run dirs.

set -u
E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$E2E_ROOT/$BUILD" ;; esac
AIOPSLAB="$BUILD/aiopslab"
E2E_NAME=$(basename "${0%.sh}")
LAB="t-$(printf '%s' "$E2E_NAME" | tr -c 'a-z0-9\n' '-' | cut -c1-16)-$$"
LAB=${LAB:0:32}
# 30..249 from a hash of the script's name (E2E_NET overrides): scripts run side by side.
NET=${E2E_NET:-$((30 + $(printf '%s' "$E2E_NAME" | cksum | cut -d' ' -f1) % 220))}
AIOPSLAB_HOME=$(mktemp -d "${TMPDIR:-/tmp}/aiopslab-e2e.XXXXXX")
chmod 711 "$AIOPSLAB_HOME" # pods that run as another user (runAsUser) reach their folders
export AIOPSLAB_HOME
unset AIOPSLAB_LAB
LABDIR="$AIOPSLAB_HOME/labs/$LAB"
E2E_COUNT=0
E2E_FAILED=0
E2E_LAB_STARTED=0
trap 'rm -rf "$AIOPSLAB_HOME"' EXIT # lab_up replaces it with lab_down

# ---- TAP -----------------------------------------------------------------

ok() {
    E2E_COUNT=$((E2E_COUNT + 1))
    echo "ok $E2E_COUNT - $1"
}

not_ok() { # NAME [DETAILS...]: details are printed as "# " lines
    local name=$1
    shift
    E2E_COUNT=$((E2E_COUNT + 1))
    E2E_FAILED=$((E2E_FAILED + 1))
    echo "not ok $E2E_COUNT - $name"
    local d
    for d in "$@"; do printf '%s\n' "$d" | head -n 40 | sed 's/^/#   /'; done
}

check() { # NAME CMD...: ok when CMD succeeds; its output goes with a failure
    local name=$1
    shift
    local out
    if out=$("$@" 2>&1); then
        ok "$name"
    else
        not_ok "$name" "command: $*" "$out"
    fi
}

skip() { # NAME REASON
    E2E_COUNT=$((E2E_COUNT + 1))
    echo "ok $E2E_COUNT - $1 # SKIP $2"
}

diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

done_testing() {
    echo "1..$E2E_COUNT"
    if [ "$E2E_FAILED" -gt 0 ] && [ "$E2E_LAB_STARTED" = 1 ]; then lab_dump; fi
    [ "$E2E_FAILED" -eq 0 ]
}

# Give up on the rest of the script (the lab could not come up, ...).
bail_out() {
    not_ok "$1" "${@:2}"
    done_testing
    exit 1
}

# ---- the lab -------------------------------------------------------------

al() { "$AIOPSLAB" --lab "$LAB" "$@"; }
k() { "$AIOPSLAB" --lab "$LAB" kubectl "$@"; }

# Poll until CMD (a shell string, run with eval) succeeds; TIMEOUT seconds
# (default 30, fractions allowed). 0 when it did, 1 on timeout.
wait_for() {
    local cmd=$1 limit=${2:-30}
    local deadline=$(($(date +%s%N) + ${limit%.*} * 1000000000))
    while :; do
        if eval "$cmd" >/dev/null 2>&1; then return 0; fi
        [ "$(date +%s%N)" -ge "$deadline" ] && return 1
        sleep 0.2
    done
}

lab_up() {
    [ -x "$AIOPSLAB" ] || bail_out "aiopslab is built" "missing $AIOPSLAB (make BUILD=...)"
    trap lab_down EXIT
    trap 'exit 130' INT TERM
    E2E_LAB_STARTED=1
    local out try
    # When another running lab holds NET (a script running beside this one,
    # another run of the suite, a user's lab), `cluster up --net` refuses it:
    # hop to another one (37 is prime to the 220 nets: every net in turn).
    for try in 1 2 3 4 5 6 7 8; do
        if out=$(timeout 30 "$AIOPSLAB" --lab "$LAB" cluster up --net "$NET" 2>&1); then
            E2E_UP_OUTPUT=$out
            return 0
        fi
        case "$out" in *"is in use"*) ;; *) break ;; esac
        diag "lab_up: $out"
        NET=$((30 + (NET - 30 + 37) % 220))
    done
    bail_out "cluster up" "$out"
}

# The pids of processes tied to this lab: command line or environment
# mentioning AIOPSLAB_HOME, or a working directory inside it; never this
# shell or its own children.
lab_pids() {
    local me=$BASHPID p
    {
        find /proc/[0-9]*/cwd -maxdepth 0 -printf '%h %l\n' 2>/dev/null |
            while read -r d cwd; do
                case "$cwd" in "$AIOPSLAB_HOME" | "$AIOPSLAB_HOME"/*) echo "${d#/proc/}" ;; esac
            done
        grep -lzF -- "$AIOPSLAB_HOME" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3
        grep -lzxF -- "AIOPSLAB_HOME=$AIOPSLAB_HOME" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3
    } | sort -un | while read -r p; do
        e2e_is_mine "$p" "$me" || echo "$p"
    done
}

# Whether PID is this shell, the given subshell, or a descendant of either
# (the find and grep of lab_pids, command substitutions): walks up the ppids.
e2e_is_mine() { # PID SUBSHELL
    local p=$1 depth stat
    for depth in 1 2 3 4 5 6; do
        [ "$p" = "$$" ] || [ "$p" = "$2" ] && return 0
        [ "$p" -le 1 ] 2>/dev/null && return 1
        read -r stat 2>/dev/null <"/proc/$p/stat" || return 0 # gone: nothing to kill
        stat=${stat##*) }
        stat=${stat#* }
        p=${stat%% *}
    done
    return 1
}

lab_down() {
    local rc=$?
    trap - EXIT
    local j
    for j in $(jobs -p); do kill -9 "$j" 2>/dev/null; done
    if [ "$E2E_LAB_STARTED" = 1 ]; then
        timeout 20 "$AIOPSLAB" --lab "$LAB" cluster down >/dev/null 2>&1
        local stray
        stray=$(lab_pids)
        if [ -n "$stray" ]; then
            # A process left behind after `cluster down` is a defect of its own.
            echo "# lab_down: killing stray processes of $LAB: $(echo $stray)"
            local p
            for p in $stray; do
                echo "#   $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-150)"
            done
            kill -9 $stray 2>/dev/null
        fi
    fi
    [ -n "${E2E_KEEP:-}" ] && echo "# kept $AIOPSLAB_HOME" || rm -rf "$AIOPSLAB_HOME"
    exit $rc
}

# What the lab looks like, as TAP comments, for failures.
lab_dump() {
    echo "# ---- lab $LAB (net $NET, $LABDIR) ----"
    k get pods -A -o wide 2>&1 | head -40 | sed 's/^/# /'
    k get svc,endpoints -A 2>&1 | head -30 | sed 's/^/# /'
    local f
    for f in "$LABDIR"/*.log "$LABDIR"/logs/*.log; do
        [ -f "$f" ] || continue
        echo "# ---- tail of $f ----"
        tail -n 15 "$f" | sed 's/^/# /'
    done
}

# ---- readers -------------------------------------------------------------

# Deploy the example app from apps/example/manifests; 0 when all ready.
deploy_example() { timeout 60 "$AIOPSLAB" --lab "$LAB" deploy example; }
# The same through plain kubectl (apply -f DIR), waiting for readiness:
# for scripts that test something else than `aiopslab deploy`.
apply_example() {
    k apply -f "$E2E_ROOT/apps/example/manifests" || return 1
    wait_for "all_ready example" 30
}

# Apply a manifest given on stdin.
apply_stdin() { k apply -f -; }

# Names of the pods of NS with label app=APP (one a line, sorted); only
# pods not being deleted.
pods_of() { # NS APP
    k get pods -n "$1" -l "app=$2" -o json 2>/dev/null |
        jq -r '.items[] | select(.metadata.deletionTimestamp == null) | .metadata.name' | sort
}

pod_json() { k get pod -n "$1" "$2" -o json; } # NS POD

pod_ready() { # NS POD
    pod_json "$1" "$2" 2>/dev/null |
        jq -e '.status.conditions[]? | select(.type == "Ready") | .status == "True"' >/dev/null
}

# All pods of NS Running and Ready (and at least one).
all_ready() { # NS
    k get pods -n "$1" -o json 2>/dev/null | jq -e '
        [.items[] | select(.metadata.deletionTimestamp == null)] as $p
        | ($p | length) > 0 and
          ([$p[] | select(.status.phase == "Running" and
              ([.status.conditions[]? | select(.type == "Ready" and .status == "True")] | length) == 1)]
           | length) == ($p | length)' >/dev/null
}

restart_count() { # NS POD [CONTAINER-INDEX]
    pod_json "$1" "$2" 2>/dev/null | jq -r ".status.containerStatuses[${3:-0}].restartCount // -1"
}

cluster_ip() { # NS SVC
    k get svc -n "$1" "$2" -o json 2>/dev/null | jq -r '.spec.clusterIP // empty'
}

# The ready endpoint addresses of a Service ("ip:port" one a line, sorted).
endpoint_addrs() { # NS SVC
    k get endpoints -n "$1" "$2" -o json 2>/dev/null |
        jq -r '.subsets[]? | .ports[0].port as $port | .addresses[]? | "\(.ip):\($port)"' | sort
}

# The run dir of a pod's container: the newest restart, or the one given.
run_dir() { # NS POD [CONTAINER] [RESTART]
    local uid c r
    uid=$(pod_json "$1" "$2" 2>/dev/null | jq -r '.metadata.uid // empty')
    [ -n "$uid" ] || return 1
    c=${3:-$(pod_json "$1" "$2" | jq -r '.spec.containers[0].name')}
    r=${4:-$(ls "$LABDIR/pods/$uid/containers/$c" 2>/dev/null | sort -n | tail -n 1)}
    [ -n "$r" ] || return 1
    echo "$LABDIR/pods/$uid/containers/$c/$r"
}

# The pid of a pod's container process (from the run's state.json), if running.
container_pid() { # NS POD [CONTAINER]
    local d
    d=$(run_dir "$1" "$2" "${3:-}") || return 1
    jq -er 'select(.phase == "running" or .phase == null) | .pid' "$d/state.json" 2>/dev/null
}

# HTTP GET through a ClusterIP: the body on stdout; fails on no answer.
# An OTLP sink on 127.NET.0.3:PORT (spans appended to $SPANS) and a copy of
# apps/APP in $APPS whose ConfigMap (the first `data:` of 01-config.yaml)
# sends spans there; deploy it with AIOPSLAB_APPS_DIR="$APPS".
app_with_otlp_sink() { # APP PORT
    local cfg="$AIOPSLAB_HOME/apps/$1/manifests/01-config.yaml"
    SPANS="$AIOPSLAB_HOME/spans.jsonl"
    APPS="$AIOPSLAB_HOME/apps"
    python3 "$E2E_ROOT/tests/e2e/otlp_sink.py" "$2" "$SPANS" "127.$NET.0.3" >"$AIOPSLAB_HOME/sink.log" 2>&1 &
    mkdir -p "$APPS"
    cp -r "$E2E_ROOT/apps/$1" "$APPS/"
    sed -i "0,/^data:$/s||data:\n  OTEL_EXPORTER_OTLP_ENDPOINT: \"http://127.$NET.0.3:$2\"|" "$cfg"
    grep -q "127.$NET.0.3:$2" "$cfg" || bail_out "point the app's ConfigMap at the OTLP sink" "$(head -20 "$cfg")"
}

http_get() { curl -s --max-time 5 "$@"; }
http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
