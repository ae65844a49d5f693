#!/bin/bash
# e2e: conmon (`aiopslab __conmon --dir RUNDIR`) as the daemon uses it:
# spec.json in, state.json and CRI logs out; exit codes and reasons,
# exec failures, long lines, rotation, SIGTERM grace, memory and cpu limits
# (cgroup v1 when available, and the poll fallback), detachment.
cd "$(dirname "$0")/../.." || exit 1
BIN=${BUILD:-build}/aiopslab
[ -x "$BIN" ] || { echo "not ok 1 - $BIN not built"; exit 1; }
BIN=$(realpath "$BIN")
T=$(mktemp -d /tmp/aiopslab-conmon-e2e.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rmdir /sys/fs/cgroup/{memory,cpu,cpuacct}/aiopslab/e2e-$$-* 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { # name, condition-command...
    local name=$1; shift
    if "$@"; then ok "$name"; else nok "$name" "failed: $*"; fi
}
PY=$(PATH=/usr/bin:/bin command -v python3)
ENV='["PATH=/usr/local/bin:/usr/bin:/bin","HOSTNAME=e2e"]'
# spec NAME JSON-FIELDS (merged over defaults) -> creates $T/NAME/spec.json
spec() {
    mkdir -p "$T/$1"
    jq -n --argjson env "$ENV" --arg cg "e2e-$$-$1" "{env: \$env, cwd: \"/tmp\", cgroupName: \$cg, gracePeriodSeconds: 5} + ($2)" >"$T/$1/spec.json"
}
# run NAME: conmon in the foreground, bounded
run() { timeout 30 "$BIN" __conmon --dir "$T/$1" </dev/null >/dev/null 2>&1; }
# start NAME: conmon in the background; sets CM
start() { "$BIN" __conmon --dir "$T/$1" </dev/null >/dev/null 2>&1 & CM=$!; PIDS+=("$CM"); }
st() { jq -r ".$2" "$T/$1/state.json" 2>/dev/null; }
wait_phase() { # NAME PHASE [tenths]
    local i
    for ((i = 0; i < ${3:-100}; i++)); do
        [ "$(st "$1" phase)" = "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
CRI_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z (stdout|stderr) [FP] '

# 1-4: a completed run: state, CRI lines on both streams, trailing partial
spec ok '{argv: ["sh", "-c", "echo hello out; echo hello err >&2; printf no-newline"]}'
run ok
check "completed: phase exited, reason Completed, exit code 0" \
    test "$(st ok phase) $(st ok reason) $(st ok exitCode) $(st ok oomKilled)" = "exited Completed 0 false"
check "log lines are CRI format" bash -c "[ \$(grep -cE '$CRI_RE' '$T/ok/current.log') -eq 3 ] && [ \$(wc -l <'$T/ok/current.log') -eq 3 ]"
check "stdout and stderr lines tagged by stream" bash -c "grep -qE ' stdout F hello out\$' '$T/ok/current.log' && grep -qE ' stderr F hello err\$' '$T/ok/current.log'"
check "missing final newline gives a P record" grep -qE ' stdout P no-newline$' "$T/ok/current.log"

# 5: non-zero exit
spec err '{argv: ["sh", "-c", "exit 3"]}'
run err
check "exit 3: reason Error, exit code 3" test "$(st err phase) $(st err reason) $(st err exitCode)" = "exited Error 3"

# 6-9: exec failures, argv[0] resolved through the spec's PATH
spec nf '{argv: ["no-such-program-xyz"]}'
run nf
check "not in PATH: failed, 127, kubectl's message" test "$(st nf phase) $(st nf reason) $(st nf exitCode)|$(st nf message)" = \
    'failed ContainerCannotRun 127|exec: "no-such-program-xyz": executable file not found in $PATH'
spec nfp '{argv: ["ls"], env: ["PATH=/nonexistent"]}'
run nfp
check "PATH comes from the spec env, not conmon's" test "$(st nfp exitCode)|$(st nfp message)" = '127|exec: "ls": executable file not found in $PATH'
printf 'echo hi\n' >"$T/noexec.sh"; chmod 644 "$T/noexec.sh"
spec perm "{argv: [\"$T/noexec.sh\"]}"
run perm
check "not executable: failed, 126, permission denied" test "$(st perm phase) $(st perm exitCode)|$(st perm message)" = \
    "failed 126|exec: \"$T/noexec.sh\": permission denied"
spec cwd '{argv: ["true"], cwd: "/nonexistent-dir"}'
run cwd
check "bad cwd: failed with a clear message" bash -c "[ '$(st cwd phase)' = failed ] && grep -q 'chdir to cwd (\\\\\"/nonexistent-dir\\\\\")' '$T/cwd/state.json'"

# 10: cwd and env reach the container
spec envcwd '{argv: ["sh", "-c", "echo $HOSTNAME $(pwd)"]}'
run envcwd
check "env and cwd from the spec" grep -qE ' stdout F e2e /tmp$' "$T/envcwd/current.log"

# 11: lines over 16 KiB are split P, P, F
spec long "{argv: [\"$PY\", \"-c\", \"print('x' * 40000)\"]}"
run long
check "40000-byte line: P 16384, P 16384, F 7232" test "$(awk '{print $3, length($4)}' "$T/long/current.log" | tr '\n' ' ')" = "P 16384 P 16384 F 7232 "

# 12-13: rotation keeps logMaxFiles files
spec rot '{argv: ["sh", "-c", "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done"], logMaxBytes: 2000, logMaxFiles: 3}'
run rot
check "rotation: current.log, .1, .2 and no .3" bash -c "[ -f '$T/rot/current.log' ] && [ -f '$T/rot/current.log.1' ] && [ -f '$T/rot/current.log.2' ] && [ ! -e '$T/rot/current.log.3' ]"
check "rotated files bounded, newest line last in current.log" bash -c \
    "[ \$(stat -c %s '$T/rot/current.log.1') -le 2000 ] && tail -n1 '$T/rot/current.log' | grep -q ' line-299\$' && tail -n1 '$T/rot/current.log.1' | grep -qv ' line-299\$'"

# 14-15: running state, then SIGTERM: graceful stop gives 143
spec term '{argv: ["sleep", "30"]}'
start term
wait_phase term running
check "running: pid, pidStart, conmonPid, startedAt, limits" bash -c \
    "[ '$(st term pid)' -gt 0 ] && [ '$(st term pidStart)' -gt 0 ] && [ '$(st term conmonPid)' = '$CM' ] && [ -n '$(st term startedAt)' ] && [ -n '$(st term limits)' ] && kill -0 '$(st term pid)'"
kill -TERM "$CM"
wait_phase term exited 30
check "SIGTERM: exited Error 143" test "$(st term reason) $(st term exitCode) $(st term signal)" = "Error 143 15"

# 16: a container ignoring SIGTERM is killed after the grace period: 137
spec grace '{argv: ["sh", "-c", "trap \"\" TERM; echo ready; while :; do sleep 0.05; done"], gracePeriodSeconds: 1}'
start grace
wait_phase grace running
sleep 0.2
t0=$(date +%s%N)
kill -TERM "$CM"
wait_phase grace exited 50
t1=$(date +%s%N)
el=$(((t1 - t0) / 1000000))
check "SIGTERM ignored: SIGKILL after grace (137, ${el} ms)" bash -c "[ '$(st grace exitCode)' = 137 ] && [ $el -ge 900 ] && [ $el -lt 4000 ]"

# 17-18: detached: survives its parent; the container dies with conmon
spec det '{argv: ["sleep", "30"]}'
(setsid "$BIN" __conmon --dir "$T/det" </dev/null >/dev/null 2>&1 &)
wait_phase det running
cm=$(st det conmonPid); PIDS+=("$cm")
cpid=$(st det pid)
check "conmon outlives the shell that started it" bash -c "kill -0 $cm && [ \"\$(awk '{print \$4}' /proc/$cm/stat)\" != $$ ] && kill -0 $cpid"
kill -KILL "$cm"
for _ in $(seq 50); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
gone() { [ -n "$1" ] && { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status"; }; }
check "container killed when conmon dies (PDEATHSIG)" gone "$cpid"

# 19-22: memory limit: OOMKilled with cgroup-v1 and with poll
HOG='["'$PY'", "-c", "x = bytearray(200*1024*1024)\nimport time\ntime.sleep(5)"]'
if [ -w /sys/fs/cgroup/memory ] && [ -e /sys/fs/cgroup/memory/tasks ]; then
    spec oomv1 "{argv: $HOG, memoryLimitBytes: 67108864, limits: \"cgroup-v1\"}"
    run oomv1
    check "cgroup-v1: 200 MiB over 64 MiB is OOMKilled 137" test "$(st oomv1 limits) $(st oomv1 reason) $(st oomv1 exitCode) $(st oomv1 oomKilled)" = "cgroup-v1 OOMKilled 137 true"
    check "cgroup-v1: cgroup removed after exit" bash -c "[ ! -e /sys/fs/cgroup/memory/aiopslab/e2e-$$-oomv1 ] && [ ! -e /sys/fs/cgroup/cpu/aiopslab/e2e-$$-oomv1 ]"
else
    ok "# SKIP no writable cgroup v1 memory hierarchy"; ok "# SKIP no cgroup v1"
fi
spec oompoll "{argv: $HOG, memoryLimitBytes: 67108864, limits: \"poll\"}"
run oompoll
check "poll: 200 MiB over 64 MiB is OOMKilled 137" test "$(st oompoll limits) $(st oompoll reason) $(st oompoll exitCode) $(st oompoll oomKilled)" = "poll OOMKilled 137 true"
spec small "{argv: [\"$PY\", \"-c\", \"x = bytearray(8*1024*1024)\"], memoryLimitBytes: 67108864, limits: \"poll\"}"
run small
check "poll: under the limit completes" test "$(st small reason) $(st small exitCode)" = "Completed 0"

# 23-24: cpu limit 200m: ~0.2 cpu-seconds per second (generous bounds)
cpu_case() { # NAME LIMITS
    spec "$1" "{argv: [\"sh\", \"-c\", \"while :; do :; done\"], cpuLimitMillis: 200, limits: \"$2\", gracePeriodSeconds: 1}"
    start "$1"
    wait_phase "$1" running
    local pid; pid=$(st "$1" pid)
    sleep 0.3
    local a b; a=$(awk '{print $14 + $15}' /proc/"$pid"/stat); sleep 2; b=$(awk '{print $14 + $15}' /proc/"$pid"/stat)
    local tck; tck=$(getconf CLK_TCK)
    local milli=$(((b - a) * 1000 / tck / 2))
    kill -TERM "$CM"; wait_phase "$1" exited 30
    check "cpu limit 200m with $2: ${milli}m used" bash -c "[ $milli -ge 100 ] && [ $milli -le 350 ]"
}
if [ -w /sys/fs/cgroup/cpu ] && [ -e /sys/fs/cgroup/cpu/tasks ]; then cpu_case cpuv1 cgroup-v1; else ok "# SKIP no cgroup v1 cpu"; fi
cpu_case cpupoll poll
