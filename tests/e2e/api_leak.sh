#!/bin/bash
# api_leak: the daemon's API never keeps a connection for good, whatever its
# clients do — many requests in a row, clients that never read their reply,
# clients killed mid-reply, half-sent requests, more clients than the daemon
# takes at once, a namespace deleted under load — and it answers throughout.
# (The leak this guards against: a closed connection's pipe was never
# closed, so every request kept a descriptor and a slot, and after 256 the
# daemon answered nobody.) The daemon's bounds are shortened to see them act.
source "$(dirname "$0")/lib.sh"
export AIOPSLAB_API_REQUEST_MS=1500 AIOPSLAB_API_REPLY_MS=1500
lab_up

sock="$LABDIR/daemon.sock"
dpid=$(cat "$LABDIR/daemon.pid")

# Connections the daemon holds on daemon.sock: its accepted sockets carry
# the socket's path in /proc/net/unix (state 03 = connected).
held() { awk -v p="${1:-$sock}" '$NF == p && $6 == "03"' /proc/net/unix | wc -l; }
released() { wait_for "[ \$(held) -eq 0 ] && [ \$(held $LABDIR/agent.sock) -eq 0 ]" "${1:-10}"; }

# Holders (clients that keep connections open) run as coprocesses; their
# first line is the Python client's pid, which ends them.
holder_pid=
holder_line() { read -r -t 20 line <&"${HOLDER[0]}" || line=; }
holder_start() { # MODE COUNT
    coproc HOLDER { client "$@"; }
    holder_line
    holder_pid=${line#pid=}
}
holder_stop() {
    [ -n "$holder_pid" ] && kill "$holder_pid" 2>/dev/null
    wait "${HOLDER_PID:-}" 2>/dev/null
    holder_pid=
}

# client MODE COUNT: a Python client doing MODE COUNT times (see below);
# prints what it saw as "key=value" lines.
client() {
    timeout 60 python3 - "${csock:-$sock}" "$@" <<'PY'
import json, os, socket, sys, threading, time
path, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])

def conn():
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)  # blocking: waits for room in the daemon's listen backlog
    s.settimeout(5)
    return s

def call(req, timeout=5):
    s = conn()
    s.settimeout(timeout)
    s.sendall(json.dumps(req).encode() + b"\n")
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return json.loads(data) if data else None

def answered(req):
    try:
        r = call(req)
        return r is not None and "error" not in r
    except Exception:
        return False

status = {"op": "status"}
big = {"op": "get", "kind": "ConfigMap", "namespace": "default", "name": "big"}

if mode == "sequential":  # one request after another; stop at the first unanswered
    n = 0
    while n < count and answered(status):
        n += 1
    print("answered=%d" % n)
elif mode == "big":  # a ConfigMap whose reply is larger than the socket buffers
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big", "namespace": "default"},
           "data": {"blob": "x" * 900000}}
    r = call({"op": "apply", "objects": [obj]})
    print("applied=%s" % (r is not None and "results" in r))
elif mode in ("noread", "halfsent", "idle"):  # hold COUNT connections until killed
    print("pid=%d" % os.getpid(), flush=True)
    socks = []
    for _ in range(count):
        s = conn()
        if mode == "noread":
            s.sendall(json.dumps(big).encode() + b"\n")
        elif mode == "halfsent":
            s.sendall(b'{"op":"get","kind":')
        socks.append(s)
    print("holding=%d" % len(socks), flush=True)
    if mode == "halfsent":  # the daemon hangs up on each (EOF), no reply
        eof = 0
        for s in socks:
            try:
                eof += s.recv(1) == b""
            except socket.timeout:
                pass
        print("dropped=%d" % eof, flush=True)
    time.sleep(50)
elif mode == "killed":  # take part of the big reply, then vanish
    n = 0
    for _ in range(count):
        s = conn()
        s.sendall(json.dumps(big).encode() + b"\n")
        n += len(s.recv(1000)) > 0
        s.close()
    print("started=%d" % n)
elif mode == "hammer":  # COUNT threads of requests for a few seconds
    stop = time.time() + 4
    results = []
    def work():
        while time.time() < stop:
            results.append(answered(status) and answered({"op": "get", "kind": "Pod", "namespace": None}))
    ts = [threading.Thread(target=work) for _ in range(count)]
    for t in ts: t.start()
    for t in ts: t.join()
    print("calls=%d unanswered=%d" % (len(results), results.count(False)))
PY
}

al cluster status >/dev/null || bail_out "cluster status" "$(al cluster status 2>&1)"
out=$(client sequential 600)
[ "$out" = "answered=600" ] && ok "600 requests in a row are all answered" ||
    not_ok "600 requests in a row are all answered" "$out" "held: $(held)" "fds: $(ls /proc/"$dpid"/fd | wc -l)"
released 5 && ok "the daemon holds no connection after them" || not_ok "the daemon holds no connection after them" "held: $(held)"

[ "$(client big 1)" = "applied=True" ] || bail_out "a large ConfigMap is applied"

# Clients that never read a reply larger than the socket buffers.
holder_start noread 40
holder_line
[ "$line" = "holding=40" ] || not_ok "40 clients that never read connect" "$line"
released 10 && ok "clients that never read their reply are dropped" ||
    not_ok "clients that never read their reply are dropped" "held: $(held)"
holder_stop

# Clients killed in the middle of their reply.
out=$(client killed 40)
[ "$out" = "started=40" ] || not_ok "40 clients get the start of a reply" "$out"
released 5 && ok "clients gone mid-reply leave nothing behind" ||
    not_ok "clients gone mid-reply leave nothing behind" "held: $(held)"

# Clients that send half a request and wait.
holder_start halfsent 40
holder_line
line2=$line
holder_line
[ "$line2 $line" = "holding=40 dropped=40" ] && ok "half-sent requests are dropped (the client sees EOF)" ||
    not_ok "half-sent requests are dropped (the client sees EOF)" "$line2 $line"
released 5 && ok "and the daemon holds none of them" || not_ok "and the daemon holds none of them" "held: $(held)"
holder_stop

# More clients at once than the daemon takes (256): the next one is told so.
holder_start idle 300
holder_line
[ "$line" = "holding=300" ] || not_ok "300 idle clients connect" "$line"
t0=$(date +%s)
out=$(timeout 20 "$AIOPSLAB" --lab "$LAB" kubectl get ns default 2>&1)
rc=$?
[ "$rc" != 0 ] && [[ "$out" == *"busy"* ]] && [ $(($(date +%s) - t0)) -lt 5 ] &&
    ok "a client over the limit is told the daemon is busy, at once" ||
    not_ok "a client over the limit is told the daemon is busy, at once" "rc $rc after $(($(date +%s) - t0))s: $out"
released 10 && ok "idle clients are dropped" || not_ok "idle clients are dropped" "held: $(held)"
holder_stop
check "the daemon answers after them" al cluster status

# Agents (agent.sock) have a smaller share: they cannot crowd the lab out.
csock="$LABDIR/agent.sock" holder_start idle 300
holder_line
[ "$line" = "holding=300" ] || not_ok "300 idle agent clients connect" "$line"
check "with agent.sock full, daemon.sock is served" k get ns default
holder_stop
released 10 && ok "idle agent clients are dropped" || not_ok "idle agent clients are dropped" "held: $(held "$LABDIR/agent.sock")"

# A namespace with content deleted while clients hammer the API.
{
    printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: doomed}\n'
    for i in $(seq 1 30); do
        printf -- '---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%d, namespace: doomed}\ndata: {a: b}\n' "$i"
        printf -- '---\napiVersion: v1\nkind: Service\nmetadata: {name: s%d, namespace: doomed}\nspec: {ports: [{port: 8080}]}\n' "$i"
    done
} | apply_stdin >/dev/null || not_ok "namespace doomed applied"
coproc HOLDER { client hammer 6; }
sleep 0.5
k delete ns doomed >/dev/null 2>&1
read -r -t 30 line <&"${HOLDER[0]}"
wait "${HOLDER_PID:-}" 2>/dev/null
[[ "$line" == calls=* && "$line" == *" unanswered=0" ]] && ok "a namespace deleted under load: every call answered ($line)" ||
    not_ok "a namespace deleted under load: every call answered" "$line"
wait_for "! k get ns doomed" 20 && ok "the namespace is gone" || not_ok "the namespace is gone" "$(k get ns doomed 2>&1)"
released 5 && ok "the daemon holds no connection at the end" || not_ok "the daemon holds no connection at the end" "held: $(held)"
done_testing
